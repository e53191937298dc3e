"""Everything of one stack environment that moto's services hold, as JSON.

`stackwright destroy` must leave nothing behind, and a green stack status
proves little against moto (it ignores some resource types), so the
lifecycle tests ask each service's own API instead: buckets, VPCs, subnets,
security groups, databases, tables, functions, clusters, repositories, log
groups, secrets, queues, topics and their subscriptions, HTTP APIs and user pools whose name (or
CloudFormation stack tag) starts with the environment's prefix (`todo-dev`),
and CloudFront distributions (global) whose comment starts with it or whose
origin is one of its buckets.

Outside us-east-1, the environment's global stack there is listed too. With
`domain=NAME`: ACM certificates (in the region and in us-east-1) for NAME
or a name under it, and alias records under it in every hosted zone.

Usage: python moto_inventory.py ENDPOINT REGION PREFIX [vpc=VPC_ID] [domain=NAME]
(moto does not tag the VPCs of stacks made from change sets, so the VPC to
look for is named by its id, from the deploy's outputs.)
"""

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
    inv = {}

    stacks = c("cloudformation").describe_stacks()["Stacks"]
    inv["stacks"] = sorted(s["StackName"] for s in stacks
                           if s["StackName"].startswith(prefix) and s["StackStatus"] != "DELETE_COMPLETE")
    if region != "us-east-1":
        there = boto3.client("cloudformation", **dict(kw, region_name="us-east-1"))
        inv["stacks"] += sorted(s["StackName"] for s in there.describe_stacks()["Stacks"]
                                if s["StackName"].startswith(prefix) and s["StackStatus"] != "DELETE_COMPLETE")
    inv["buckets"] = sorted(b["Name"] for b in c("s3").list_buckets()["Buckets"] if b["Name"].startswith(low))

    ec2 = c("ec2")
    vpc = extra.get("vpc")
    in_vpc = [{"Name": "vpc-id", "Values": [vpc or "none"]}]
    inv["vpcs"] = sorted(v["VpcId"] for v in ec2.describe_vpcs(Filters=in_vpc)["Vpcs"])
    inv["subnets"] = sorted(s["SubnetId"] for s in ec2.describe_subnets(Filters=in_vpc)["Subnets"])
    inv["security_groups"] = sorted(g["GroupId"] for g in ec2.describe_security_groups(Filters=in_vpc)["SecurityGroups"]
                                    if g["GroupName"] != "default")

    rds = c("rds")
    inv["db_instances"] = sorted(d["DBInstanceIdentifier"] for d in rds.describe_db_instances()["DBInstances"]
                                 if d["DBInstanceIdentifier"].startswith(low))
    inv["db_clusters"] = sorted(d["DBClusterIdentifier"] for d in rds.describe_db_clusters()["DBClusters"]
                                if d["DBClusterIdentifier"].startswith(low))
    inv["redshift_clusters"] = sorted(d["ClusterIdentifier"] for d in c("redshift").describe_clusters()["Clusters"]
                                      if d["ClusterIdentifier"].startswith(low))
    inv["tables"] = sorted(t for t in c("dynamodb").list_tables()["TableNames"] if t.startswith(prefix))
    inv["functions"] = sorted(f["FunctionName"] for f in c("lambda").list_functions()["Functions"]
                              if f["FunctionName"].startswith(prefix))
    inv["ecs_clusters"] = sorted(a for a in c("ecs").list_clusters()["clusterArns"] if f"/{prefix}" in a)
    inv["repositories"] = sorted(r["repositoryName"] for r in c("ecr").describe_repositories()["repositories"]
                                 if r["repositoryName"].startswith(low))
    inv["log_groups"] = sorted(g["logGroupName"] for g in c("logs").describe_log_groups()["logGroups"]
                               if prefix in g["logGroupName"])
    secrets = c("secretsmanager").get_paginator("list_secrets").paginate()
    inv["secrets"] = sorted(s["Name"] for page in secrets for s in page["SecretList"]
                            if s["Name"].startswith(prefix))
    inv["queues"] = sorted(q for q in c("sqs").list_queues().get("QueueUrls", []) if f"/{prefix}" in q)
    inv["topics"] = sorted(t["TopicArn"] for t in c("sns").list_topics()["Topics"] if f":{prefix}" in t["TopicArn"])
    # Each as "TOPIC -> ENDPOINT": what a publish reaches.
    inv["subscriptions"] = sorted(
        "{} -> {}".format(s["TopicArn"].rsplit(":", 1)[1], s["Endpoint"].rsplit(":", 1)[1])
        for s in c("sns").list_subscriptions()["Subscriptions"] if f":{prefix}" in s["TopicArn"])
    inv["apis"] = sorted(a["Name"] for a in c("apigatewayv2").get_apis()["Items"] if a["Name"].startswith(prefix))
    # A distribution has no name: the templates' comment is "<prefix>: ...",
    # and its origin is the site bucket (named after the prefix).
    inv["distributions"] = sorted(
        d["Id"] for d in c("cloudfront").list_distributions()["DistributionList"].get("Items") or []
        if d.get("Comment", "").startswith(prefix)
        or any(o["DomainName"].startswith(low) for o in d["Origins"].get("Items") or []))
    inv["cloudfront_functions"] = sorted(
        f["Name"] for f in c("cloudfront").list_functions()["FunctionList"].get("Items") or []
        if f["Name"].startswith(prefix))
    inv["web_acls"] = sorted(
        a["Name"] for a in c("wafv2").list_web_acls(Scope="CLOUDFRONT")["WebACLs"] if a["Name"].startswith(prefix))
    inv["user_pools"] = sorted(p["Id"] for p in c("cognito-idp").list_user_pools(MaxResults=60)["UserPools"]
                               if p["Name"].startswith(prefix))
    inv["load_balancers"] = sorted(lb["LoadBalancerName"] for lb in c("elbv2").describe_load_balancers()["LoadBalancers"]
                                   if lb["LoadBalancerName"].lower().startswith(low[:10]))
    inv["autoscaling_groups"] = sorted(g["AutoScalingGroupName"] for g in c("autoscaling").describe_auto_scaling_groups()["AutoScalingGroups"]
                                       if g["AutoScalingGroupName"].startswith(prefix))
    if "domain" in extra:
        domain = extra["domain"]
        under = lambda name: name.rstrip(".") == domain or name.rstrip(".").endswith("." + domain)  # noqa: E731
        inv["certificates"] = sorted(
            f"{where} {cert['DomainName']}"
            for where in sorted({region, "us-east-1"})
            for cert in boto3.client("acm", **dict(kw, region_name=where)).list_certificates()["CertificateSummaryList"]
            if under(cert["DomainName"]))
        r53 = c("route53")
        inv["alias_records"] = sorted(
            f"{r['Name']} {r['Type']}"
            for zone in r53.list_hosted_zones()["HostedZones"]
            for r in r53.list_resource_record_sets(HostedZoneId=zone["Id"])["ResourceRecordSets"]
            if "AliasTarget" in r and under(r["Name"]))
    # Each role with the permissions boundary IAM holds for it.
    iam = c("iam")
    inv["roles"] = sorted(
        "{} boundary={}".format(
            r["RoleName"],
            iam.get_role(RoleName=r["RoleName"])["Role"]
            .get("PermissionsBoundary", {}).get("PermissionsBoundaryArn", "none"))
        for r in iam.list_roles()["Roles"] if r["RoleName"].startswith(prefix))
    if "boundary" in extra:
        # The region's bootstrap policy, which outlives every stack.
        arn = "arn:aws:iam::123456789012:policy/" + extra["boundary"]
        doc = iam.get_policy_version(PolicyArn=arn, VersionId=iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"])
        inv["boundary_policy"] = doc["PolicyVersion"]["Document"]
    print(json.dumps(inv, indent=1))


if __name__ == "__main__":
    main()
