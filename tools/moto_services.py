"""The services of one stack environment as AWS's own APIs describe them,
as JSON: ECS services and their task definitions, listener rules and target
groups, security groups and their rules, Lambda functions, HTTP API routes,
the autoscaling groups' target groups and launch templates, and secrets
(whether each has a value; never the value).

The services tests check what a deploy made through these, not through the
stack's status (moto ignores some resource types and still reports
CREATE_COMPLETE).

Usage: python moto_services.py ENDPOINT REGION PREFIX vpc=VPC_ID
"""

import base64
import json
import sys

import boto3


def main():
    endpoint, region, prefix = sys.argv[1:4]
    extra = dict(a.split("=", 1) for a in sys.argv[4:])
    kw = dict(endpoint_url=endpoint, region_name=region,
              aws_access_key_id="test", aws_secret_access_key="test")
    c = lambda name: boto3.client(name, **kw)  # noqa: E731
    low = prefix.lower()
    out = {}

    ecs = c("ecs")
    services, families = [], {}
    for cluster in ecs.list_clusters()["clusterArns"]:
        if f"/{prefix}" not in cluster:
            continue
        arns = ecs.list_services(cluster=cluster)["serviceArns"]
        if not arns:
            continue
        for s in ecs.describe_services(cluster=cluster, services=arns)["services"]:
            task = ecs.describe_task_definition(taskDefinition=s["taskDefinition"])["taskDefinition"]
            net = s.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
            services.append({
                "name": s["serviceName"],
                "family": task["family"],
                "desired": s["desiredCount"],
                "load_balancers": s.get("loadBalancers", []),
                "security_groups": net.get("securityGroups", []),
            })
            families[task["family"]] = [{
                "name": d["name"],
                "image": d["image"],
                "ports": [p["containerPort"] for p in d.get("portMappings", [])],
                "environment": {e["name"]: e["value"] for e in d.get("environment", [])},
                "secrets": sorted(x["name"] for x in d.get("secrets", [])),
            } for d in task["containerDefinitions"]]
    out["ecs_services"] = sorted(services, key=lambda s: s["name"])
    out["task_definitions"] = families

    elb = c("elbv2")
    groups, rules = [], []
    for lb in elb.describe_load_balancers()["LoadBalancers"]:
        if not lb["LoadBalancerName"].lower().startswith(low[:10]):
            continue
        for tg in elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]:
            groups.append({k: tg.get(k) for k in (
                "TargetGroupArn", "Port", "TargetType", "HealthCheckPort", "HealthCheckPath")})
        for listener in elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
            for rule in elb.describe_rules(ListenerArn=listener["ListenerArn"])["Rules"]:
                if rule.get("IsDefault"):
                    continue
                values, headers = [], []
                for cond in rule["Conditions"]:
                    if cond.get("Field") == "http-header":
                        headers.append(cond["HttpHeaderConfig"]["HttpHeaderName"])
                        continue
                    values += cond.get("PathPatternConfig", {}).get("Values", []) or cond.get("Values", [])
                rules.append({
                    "priority": rule["Priority"],
                    "paths": sorted(values),
                    # The header a rule checks (never its value: a secret).
                    "headers": sorted(headers),
                    "target_groups": [a.get("TargetGroupArn") for a in rule["Actions"]],
                })
    out["target_groups"] = groups
    out["rules"] = sorted(rules, key=lambda r: r["priority"])

    ec2 = c("ec2")
    in_vpc = [{"Name": "vpc-id", "Values": [extra["vpc"]]}]
    out["security_groups"] = [{
        "id": g["GroupId"],
        "description": g["Description"],
        "ingress": sorted(
            [p.get("FromPort"), u["GroupId"]]
            for p in g["IpPermissions"] for u in p.get("UserIdGroupPairs", [])),
        "egress": sorted(
            [p.get("FromPort"), u["GroupId"]]
            for p in g["IpPermissionsEgress"] for u in p.get("UserIdGroupPairs", [])),
    } for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"] if g["GroupName"] != "default"]

    functions = []
    for f in c("lambda").list_functions()["Functions"]:
        if not f["FunctionName"].startswith(prefix):
            continue
        functions.append({
            "name": f["FunctionName"],
            "runtime": f.get("Runtime"),
            "handler": f.get("Handler"),
            "layers": [layer["Arn"] for layer in f.get("Layers", [])],
            "environment": f.get("Environment", {}).get("Variables", {}),
            "security_groups": f.get("VpcConfig", {}).get("SecurityGroupIds", []),
        })
    out["functions"] = sorted(functions, key=lambda f: f["name"])

    apigw = c("apigatewayv2")
    out["routes"] = sorted(
        r["RouteKey"]
        for a in apigw.get_apis()["Items"] if a["Name"].startswith(prefix)
        for r in apigw.get_routes(ApiId=a["ApiId"])["Items"])

    asg = c("autoscaling")
    out["autoscaling_groups"] = []
    for g in asg.describe_auto_scaling_groups()["AutoScalingGroups"]:
        if not g["AutoScalingGroupName"].startswith(prefix):
            continue
        template = g.get("LaunchTemplate", {})
        data = {}
        if template:
            versions = ec2.describe_launch_template_versions(
                LaunchTemplateId=template["LaunchTemplateId"])["LaunchTemplateVersions"]
            data = versions[-1]["LaunchTemplateData"]
        out["autoscaling_groups"].append({
            "target_groups": sorted(g.get("TargetGroupARNs", [])),
            "security_groups": data.get("SecurityGroupIds", []),
            "user_data": base64.b64decode(data.get("UserData", "")).decode(errors="replace"),
        })

    sm = c("secretsmanager")
    secrets = []
    listed = [s for page in sm.get_paginator("list_secrets").paginate() for s in page["SecretList"]]
    for s in listed:
        if not s["Name"].startswith(prefix + "/") or s["Name"].startswith(prefix + "/database"):
            continue
        stages = sm.describe_secret(SecretId=s["ARN"]).get("VersionIdsToStages", {})
        secrets.append({"name": s["Name"],
                        "has_value": any("AWSCURRENT" in v for v in stages.values())})
    out["secrets"] = sorted(secrets, key=lambda s: s["name"])

    print(json.dumps(out, indent=1, sort_keys=True, default=str))


main()
