"""CloudFormation lifecycle of synthesized templates against moto.

For each template folder given (OUT/EXAMPLE/ENV with network/data/app .json),
create the layers in order, check what was created, update each layer,
then delete in reverse order and check that everything is gone.

moto accepts some resource types in a template without creating anything
(and still reports CREATE_COMPLETE), so a green stack proves little. This
script compares ListStackResources with each template and asks the services'
own APIs. The types moto ignores are listed below, so a gap in moto is not
mistaken for a gap in Stackwright; a listed type that moto starts creating
fails the run too, so the list stays true.

A folder with a global layer (global.json: what CloudFront needs made in
us-east-1) gets it made first, in us-east-1, and its outputs passed to the
edge layer, as deploy does; it is deleted last. An environment with a domain
gets a hosted zone for it, whose id is passed as deploy passes the one it
finds; its certificates must be issued, and gone after deletion.

Usage: python cfn_lifecycle.py ENDPOINT REGION FOLDER...
Prints one line per step; exits non-zero on the first failure.
"""

import io
import json
import os
import sys
import time
import uuid
import zipfile

import boto3

# Resource types moto (5.x) leaves out of ListStackResources. (API Gateway
# v2, Aurora clusters, CloudFront distributions, functions and origin access
# controls, and Cognito user pools and clients are modelled by
# tools/moto_serial.py, which this script's moto must run.)
MOTO_IGNORES = {
    "AWS::SecretsManager::Secret",
    "AWS::SecretsManager::SecretTargetAttachment",
    "AWS::ApplicationAutoScaling::ScalableTarget",
    "AWS::ApplicationAutoScaling::ScalingPolicy",
    "AWS::CloudFormation::CustomResource",
    "AWS::SSM::Association",
    "AWS::AutoScaling::ScalingPolicy",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
}

LAYERS = ["network", "artifacts", "data", "app", "edge"]

# Types moto's CloudFormation creates but cannot delete (its EC2 models have
# no delete handler for them), so they would keep the VPC alive. Before the
# network stack is deleted, the script removes them through the EC2 API,
# in this order, and then expects the stack deletion to remove the rest.
MOTO_CANNOT_DELETE = [
    "AWS::EC2::VPCEndpoint",
    "AWS::EC2::NatGateway",
    "AWS::EC2::EIP",
    "AWS::EC2::SubnetRouteTableAssociation",
    "AWS::EC2::Route",
    "AWS::EC2::RouteTable",
    "AWS::EC2::VPCGatewayAttachment",
    "AWS::EC2::InternetGateway",
    "AWS::EC2::FlowLog",
]


def delete_what_moto_cannot(cf, ec2, name, template):
    physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                for r in cf.list_stack_resources(StackName=name)["StackResourceSummaries"]}
    resources = template["Resources"]
    vpc = physical.get("Vpc")
    for ty in MOTO_CANNOT_DELETE:
        for logical, r in resources.items():
            if r["Type"] != ty or logical not in physical:
                continue
            pid, props = physical[logical], r["Properties"]
            if ty == "AWS::EC2::VPCEndpoint":
                ec2.delete_vpc_endpoints(VpcEndpointIds=[pid])
            elif ty == "AWS::EC2::NatGateway":
                ec2.delete_nat_gateway(NatGatewayId=pid)
            elif ty == "AWS::EC2::EIP":
                for a in ec2.describe_addresses()["Addresses"]:
                    if pid in (a.get("PublicIp"), a.get("AllocationId")):
                        ec2.release_address(AllocationId=a["AllocationId"])
            elif ty == "AWS::EC2::SubnetRouteTableAssociation":
                for t in ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"]:
                    for assoc in t["Associations"]:
                        if not assoc.get("Main"):
                            ec2.disassociate_route_table(AssociationId=assoc["RouteTableAssociationId"])
            elif ty == "AWS::EC2::RouteTable":
                ec2.delete_route_table(RouteTableId=pid)
            elif ty == "AWS::EC2::VPCGatewayAttachment":
                igw = physical.get("InternetGateway")
                if igw:
                    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
            elif ty == "AWS::EC2::InternetGateway":
                ec2.delete_internet_gateway(InternetGatewayId=pid)
            elif ty == "AWS::EC2::FlowLog":
                ec2.delete_flow_logs(FlowLogIds=[pid])


def moto_ignores(resource):
    """Whether moto leaves this resource out: its type is listed above."""
    return resource["Type"] in MOTO_IGNORES


def for_moto(template):
    """The template as moto can take it: a GetAtt or Ref to a resource of a
    type moto ignores becomes a placeholder (moto fails with HTTP 500 on an
    output reading an attribute of a resource it has no model for). Only the
    copy sent to moto changes; the linted, golden template is untouched."""
    ignored = {k for k, r in template["Resources"].items() if moto_ignores(r)}

    def walk(v):
        if isinstance(v, dict):
            if "Fn::GetAtt" in v and v["Fn::GetAtt"][0] in ignored:
                return "moto-placeholder"
            if "Ref" in v and v["Ref"] in ignored:
                return "moto-placeholder"
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(template)


def empty_bucket(s3, bucket):
    """A bucket must be empty, every version of every object, to be deleted
    (stackwright destroy does the same)."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=bucket, Key=v["Key"], VersionId=v["VersionId"])


def drop_table(ddb, name):
    """Remove a table the stack retained on purpose (protected in production)."""
    ddb.update_table(TableName=name, DeletionProtectionEnabled=False)
    ddb.delete_table(TableName=name)


def drop_user_pool(idp, pool_id):
    """Remove a pool the stack retained on purpose (protected in production)."""
    idp.update_user_pool(UserPoolId=pool_id, DeletionProtection="INACTIVE")
    idp.delete_user_pool(UserPoolId=pool_id)


def domain_of(templates):
    """The environment's domain: the distribution's alias, if it has one."""
    config = templates["edge"]["Resources"]["Distribution"]["Properties"]["DistributionConfig"]
    return (config.get("Aliases") or [None])[0]


def make_global(folder, prefix, kw, values):
    """The global layer, made in us-east-1 with `values` as its parameters;
    its outputs are added to `values` (the edge layer's parameters). Returns
    its client and name, or None when the folder has none."""
    path = f"{folder}/global.json"
    if not os.path.exists(path):
        return None
    template = json.load(open(path))
    cf = boto3.client("cloudformation", **dict(kw, region_name="us-east-1"))
    name = f"{prefix}-global"
    cf.create_stack(StackName=name, TemplateBody=json.dumps(for_moto(template)),
                    Parameters=[{"ParameterKey": k, "ParameterValue": values[k]}
                                for k in template.get("Parameters", {})])
    status = wait(cf, name, "CREATE_COMPLETE")
    if status != "CREATE_COMPLETE":
        fail(f"{name}: {status}")
    for o in cf.describe_stacks(StackName=name)["Stacks"][0].get("Outputs", []):
        values[o["OutputKey"]] = o["OutputValue"]
    print(f"created {name} in us-east-1", flush=True)
    return cf, name


def certificates_of(kw, region, domain):
    """The certificates in `region` for `domain` or a name under it, with their status."""
    acm = boto3.client("acm", **dict(kw, region_name=region))
    return {(c["DomainName"], c.get("Status")) for c in acm.list_certificates()["CertificateSummaryList"]
            if c["DomainName"] == domain or c["DomainName"].endswith("." + domain)}


def fail(message):
    print(f"FAIL {message}", flush=True)
    sys.exit(1)


def wait(cf, name, goal):
    for _ in range(120):
        try:
            stack = cf.describe_stacks(StackName=name)["Stacks"][0]
        except cf.exceptions.ClientError as e:
            if goal == "DELETE_COMPLETE" and "does not exist" in str(e):
                return "DELETE_COMPLETE"
            raise
        status = stack["StackStatus"]
        if not status.endswith("IN_PROGRESS"):
            return status
        time.sleep(0.5)
    fail(f"{name}: still in progress")


def main():
    endpoint, region, folders = sys.argv[1], sys.argv[2], sys.argv[3:]
    kw = dict(endpoint_url=endpoint, region_name=region, aws_access_key_id="test", aws_secret_access_key="test")
    cf = boto3.client("cloudformation", **kw)
    s3 = boto3.client("s3", **kw)
    ec2 = boto3.client("ec2", **kw)
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    seen_ignored = set()
    ddb = boto3.client("dynamodb", **kw)
    idp = boto3.client("cognito-idp", **kw)
    cloudfront = boto3.client("cloudfront", **kw)
    r53 = boto3.client("route53", **kw)
    # Leftovers of an interrupted run go first, apps before what they import.
    for folder in folders:
        example, env = folder.rstrip("/").split("/")[-2:]
        for layer in reversed(LAYERS):
            try:
                name = f"{example}-{env}-{layer}"
                if layer == "artifacts":
                    for o in cf.describe_stacks(StackName=name)["Stacks"][0].get("Outputs", []):
                        if o["OutputKey"] == "ArtifactBucket":
                            empty_bucket(s3, o["OutputValue"])
                if layer == "network":
                    delete_what_moto_cannot(cf, ec2, name, json.load(open(f"{folder}/network.json")))
                cf.delete_stack(StackName=name)
                wait(cf, f"{example}-{env}-{layer}", "DELETE_COMPLETE")
            except Exception:
                pass
        # ...and the global layer in us-east-1 (its region is fixed).
        if os.path.exists(f"{folder}/global.json"):
            there = boto3.client("cloudformation", **dict(kw, region_name="us-east-1"))
            try:
                there.delete_stack(StackName=f"{example}-{env}-global")
                wait(there, f"{example}-{env}-global", "DELETE_COMPLETE")
            except Exception:
                pass
        # ...and tables a production stack retained.
        for t in ddb.list_tables()["TableNames"]:
            if t.startswith(f"{example}-{env}-"):
                drop_table(ddb, t)
        for pool in idp.list_user_pools(MaxResults=60)["UserPools"]:
            if pool["Name"].startswith(f"{example}-{env}"):
                drop_user_pool(idp, pool["Id"])
        for f in cloudfront.list_functions()["FunctionList"].get("Items") or []:
            if f["Name"].startswith(f"{example}-{env}-"):
                cloudfront.delete_function(Name=f["Name"], IfMatch="*")

    for folder in folders:
        example, env = folder.rstrip("/").split("/")[-2:]
        prefix = f"{example}-{env}"
        templates = {layer: json.load(open(f"{folder}/{layer}.json")) for layer in LAYERS}

        # What deploy looks up: CloudFront's prefix list in the region.
        prefix_lists = ec2.describe_managed_prefix_lists(Filters=[{
            "Name": "prefix-list-name", "Values": ["com.amazonaws.global.cloudfront.origin-facing"]}])

        # What deploy finds or checks: the domain's hosted zone.
        own_domain = domain_of(templates)
        passed = {}
        if own_domain:
            zone = r53.create_hosted_zone(Name=own_domain, CallerReference=str(uuid.uuid4()))["HostedZone"]
            passed["HostedZoneId"] = zone["Id"].split("/")[-1]
        made_global = make_global(folder, prefix, kw, passed)

        def params(layer, deploy_id):
            p = templates[layer].get("Parameters", {})
            values = {"ArtifactKey": "runtime.zip", "DeployId": deploy_id, "ImageTag": "v1",
                      "CloudFrontPrefixList": prefix_lists["PrefixLists"][0]["PrefixListId"], **passed}
            # A service's image digest (ServiceNames::image_digest).
            digest = "sha256:" + "0" * 64
            return [{"ParameterKey": k, "ParameterValue": values.get(k, digest)}
                    for k in p if k in values or k.endswith("ImageDigest")]

        for layer in LAYERS:
            name = f"{prefix}-{layer}"
            body = json.dumps(for_moto(templates[layer]))
            cf.create_stack(StackName=name, TemplateBody=body, Parameters=params(layer, "d1"),
                            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
            status = wait(cf, name, "CREATE_COMPLETE")
            if status != "CREATE_COMPLETE":
                events = cf.describe_stack_events(StackName=name)["StackEvents"][:5]
                fail(f"{name}: {status}: {[(e['LogicalResourceId'], e.get('ResourceStatusReason')) for e in events]}")
            listed = {r["LogicalResourceId"]: r["ResourceType"]
                      for r in cf.list_stack_resources(StackName=name)["StackResourceSummaries"]}
            for logical, resource in templates[layer]["Resources"].items():
                if logical in listed:
                    if listed[logical] != resource["Type"]:
                        fail(f"{name}: {logical} is {listed[logical]}, template says {resource['Type']}")
                    if moto_ignores(resource):
                        fail(f"{name}: moto now creates {resource['Type']}: remove it from MOTO_IGNORES")
                elif moto_ignores(resource):
                    seen_ignored.add(resource["Type"])
                else:
                    fail(f"{name}: {logical} ({resource['Type']}) was not created")
            print(f"created {name}: {len(listed)} of {len(templates[layer]['Resources'])} resources "
                  f"(moto ignores the rest)", flush=True)
            if layer == "artifacts":
                # What deploy uploads before the app layer: the runtime package.
                outputs = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=name)["Stacks"][0]["Outputs"]}
                bucket = outputs["ArtifactBucket"]
                s3.put_object(Bucket=bucket, Key="runtime.zip", Body=archive.getvalue())
                # moto's CloudFormation creates the bucket but drops its
                # versioning and public access block (checkov checks both in
                # the template), so only its existence is asked here.
                s3.head_bucket(Bucket=bucket)

        # The services' own view, not just the stack's.
        vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:aws:cloudformation:stack-name", "Values": [f"{prefix}-network"]}])["Vpcs"]
        if len(vpcs) != 1:
            fail(f"{prefix}: expected one VPC, found {len(vpcs)}")
        vpc = vpcs[0]["VpcId"]
        groups = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]
        for g in groups:
            for rule in g["IpPermissions"]:
                if any(r.get("CidrIp") == "0.0.0.0/0" for r in rule.get("IpRanges", [])) and rule.get("FromPort") not in (80, 443):
                    fail(f"{prefix}: {g['GroupName']} opens port {rule.get('FromPort')} to the world")
        data = templates["data"]["Resources"]
        if any(r["Type"] == "AWS::DynamoDB::Table" for r in data.values()):
            ddb = boto3.client("dynamodb", **kw)
            for r in data.values():
                if r["Type"] == "AWS::DynamoDB::Table":
                    t = ddb.describe_table(TableName=r["Properties"]["TableName"])["Table"]
                    want = len(r["Properties"].get("GlobalSecondaryIndexes", []))
                    if len(t.get("GlobalSecondaryIndexes", [])) != want:
                        fail(f"{prefix}: {t['TableName']} has the wrong GSIs")
        if any(r["Type"] == "AWS::RDS::DBInstance" and "DBClusterIdentifier" not in r["Properties"] for r in data.values()):
            rds = boto3.client("rds", **kw)
            dbs = [d for d in rds.describe_db_instances()["DBInstances"] if d.get("DBSubnetGroup", {}).get("VpcId") == vpc]
            if len(dbs) != 1 or dbs[0]["PubliclyAccessible"] or not dbs[0]["StorageEncrypted"]:
                fail(f"{prefix}: the RDS instance is missing, public or unencrypted: {dbs}")
        clusters = {k: r for k, r in data.items() if r["Type"] == "AWS::RDS::DBCluster"}
        rds = boto3.client("rds", **kw)
        data_physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                         for r in cf.list_stack_resources(StackName=f"{prefix}-data")["StackResourceSummaries"]}
        cluster_ids = [data_physical[k] for k in clusters]
        for logical, r in clusters.items():
            found = [c for c in rds.describe_db_clusters()["DBClusters"]
                     if c["DBClusterIdentifier"] == data_physical[logical]]
            members = [k for k, m in data.items() if m["Type"] == "AWS::RDS::DBInstance"
                       and m["Properties"].get("DBClusterIdentifier") == {"Ref": logical}]
            if len(found) != 1 or not found[0]["StorageEncrypted"] or len(found[0]["DBClusterMembers"]) != len(members):
                fail(f"{prefix}: the Aurora cluster is missing, unencrypted or lacks its instances: {found}")
            if found[0]["DeletionProtection"] != r["Properties"]["DeletionProtection"]:
                fail(f"{prefix}: the Aurora cluster's deletion protection is not the template's")
            instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [found[0]["DBClusterIdentifier"]]}])["DBInstances"]
            if len(instances) != len(members) or any(i["PubliclyAccessible"] for i in instances):
                fail(f"{prefix}: the cluster's instances are missing or public: {instances}")
            outputs = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=f"{prefix}-data")["Stacks"][0]["Outputs"]}
            if outputs.get("DatabaseHost") != found[0]["Endpoint"] or outputs.get("DatabasePort") != str(found[0]["Port"]):
                fail(f"{prefix}: the data outputs are not the cluster's endpoint: {outputs}")
        repository = templates["artifacts"]["Resources"].get("Repository")
        if repository:
            ecr = boto3.client("ecr", **kw)
            name = repository["Properties"]["RepositoryName"]
            found = ecr.describe_repositories(repositoryNames=[name])["repositories"]
            if found[0]["imageTagMutability"] != "IMMUTABLE":
                fail(f"{prefix}: the image repository allows tags to move")
        app = templates["app"]["Resources"]
        functions = [k for k, r in app.items() if r["Type"] == "AWS::Lambda::Function"]
        lam = boto3.client("lambda", **kw)
        names = {f["FunctionName"] for f in lam.list_functions()["Functions"]}
        physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                    for r in cf.list_stack_resources(StackName=f"{prefix}-app")["StackResourceSummaries"]}
        apigw = boto3.client("apigatewayv2", **kw)
        api_ids = [physical[k] for k, r in app.items() if r["Type"] == "AWS::ApiGatewayV2::Api"]
        for k, r in app.items():
            if r["Type"] != "AWS::ApiGatewayV2::Api":
                continue
            found = [a for a in apigw.get_apis()["Items"] if a["ApiId"] == physical[k]]
            if len(found) != 1 or found[0]["Name"] != r["Properties"]["Name"]:
                fail(f"{prefix}: the HTTP API is not in API Gateway: {found}")
            routes = apigw.get_routes(ApiId=physical[k])["Items"]
            integrations = apigw.get_integrations(ApiId=physical[k])["Items"]
            stages = apigw.get_stages(ApiId=physical[k])["Items"]
            if (len(routes), len(integrations), len(stages)) != tuple(
                    sum(1 for x in app.values() if x["Type"] == f"AWS::ApiGatewayV2::{t}") for t in ("Route", "Integration", "Stage")):
                fail(f"{prefix}: the API's routes, integrations or stages are missing")
            if routes[0]["Target"] != f"integrations/{integrations[0]['IntegrationId']}":
                fail(f"{prefix}: the route does not target the integration: {routes}")
            outputs = {o["OutputKey"]: o["OutputValue"] for o in cf.describe_stacks(StackName=f"{prefix}-app")["Stacks"][0]["Outputs"]}
            if outputs.get("ServiceUrl") != found[0]["ApiEndpoint"]:
                fail(f"{prefix}: the service URL is not the API's endpoint: {outputs}")
        for f in functions:
            if physical.get(f) not in names:
                fail(f"{prefix}: function {f} is not in Lambda")
            config = lam.get_function(FunctionName=physical[f])["Configuration"]
            if not config.get("VpcConfig", {}).get("SubnetIds"):
                fail(f"{prefix}: function {f} is outside the VPC")
        if "Service" in app:
            # moto keeps the service and its task definition, but drops the
            # service's network configuration and launch type (the template
            # tests check those).
            ecs = boto3.client("ecs", **kw)
            services = ecs.describe_services(cluster=physical["Cluster"], services=[physical["Service"]])["services"]
            if not services or services[0]["desiredCount"] != app["Service"]["Properties"]["DesiredCount"]:
                fail(f"{prefix}: the ECS service is missing or has the wrong size")
            task = ecs.describe_task_definition(taskDefinition=services[0]["taskDefinition"])["taskDefinition"]
            command = task["containerDefinitions"][0].get("command", [])
            if command[command.index("--host") + 1:][:1] != ["0.0.0.0"]:
                fail(f"{prefix}: the task does not listen on all interfaces: {command}")
        artifacts = templates["artifacts"]["Resources"]
        artifacts_physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                              for r in cf.list_stack_resources(StackName=f"{prefix}-artifacts")["StackResourceSummaries"]}
        buckets = [artifacts_physical[k] for k, r in artifacts.items() if r["Type"] == "AWS::S3::Bucket"]
        app_outputs = {o["OutputKey"]: o["OutputValue"]
                       for o in cf.describe_stacks(StackName=f"{prefix}-app")["Stacks"][0]["Outputs"]}
        edge = templates["edge"]["Resources"]
        edge_physical = {r["LogicalResourceId"]: r["PhysicalResourceId"]
                         for r in cf.list_stack_resources(StackName=f"{prefix}-edge")["StackResourceSummaries"]}
        edge_outputs = {o["OutputKey"]: o["OutputValue"]
                        for o in cf.describe_stacks(StackName=f"{prefix}-edge")["Stacks"][0]["Outputs"]}
        distribution_ids = [edge_physical["Distribution"]]
        control_ids = [edge_physical[k] for k, r in edge.items() if r["Type"] == "AWS::CloudFront::OriginAccessControl"]
        function_names = [r["Properties"]["Name"] for r in edge.values() if r["Type"] == "AWS::CloudFront::Function"]
        listed = [d for d in (cloudfront.list_distributions()["DistributionList"].get("Items") or [])
                  if d["Id"] == edge_physical["Distribution"]]
        config = cloudfront.get_distribution(Id=edge_physical["Distribution"])["Distribution"]["DistributionConfig"]
        # The list's summaries lack `Enabled` in some moto versions: the config has it.
        if len(listed) != 1 or not config["Enabled"]:
            fail(f"{prefix}: the distribution is not in CloudFront or not enabled: {listed}")
        origins = {o["Id"]: o for o in config["Origins"]["Items"]}
        # Behind a domain, the balancer's name of its own (OriginName).
        if origins["api"]["DomainName"] != app_outputs.get("OriginName", app_outputs["OriginDomain"]):
            fail(f"{prefix}: the API origin is not the app's: {origins['api']} {app_outputs}")
        if config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] != "redirect-to-https":
            fail(f"{prefix}: the distribution serves plain HTTP: {config}")
        if not config["Logging"]["Bucket"].startswith(artifacts_physical["LogBucket"]):
            fail(f"{prefix}: the distribution's logs do not go to the log bucket: {config['Logging']}")
        if edge_outputs.get("Url") != f"https://{own_domain or listed[0]['DomainName']}":
            fail(f"{prefix}: the URL is not the distribution's (or its domain's): {edge_outputs}")
        if own_domain:
            viewer = config.get("ViewerCertificate") or {}
            if (config.get("Aliases") or {}).get("Items") != [own_domain] \
                    or viewer.get("ACMCertificateArn") != passed.get("CertificateArn") \
                    or viewer.get("MinimumProtocolVersion") != "TLSv1.2_2021":
                fail(f"{prefix}: the distribution does not answer its domain with its certificate: {config}")
        if "site" in origins:
            domain = f"{artifacts_physical['SiteBucket']}.s3.{region}.amazonaws.com"
            if origins["site"]["DomainName"] != domain \
                    or origins["site"].get("OriginAccessControlId") != control_ids[0]:
                fail(f"{prefix}: the site origin is not its bucket through its access control: {origins}")
            control = cloudfront.get_origin_access_control(Id=control_ids[0])["OriginAccessControl"]
            if control["OriginAccessControlConfig"]["SigningBehavior"] != "always":
                fail(f"{prefix}: the origin access control does not always sign: {control}")
            found = [f["Name"] for f in cloudfront.list_functions()["FunctionList"].get("Items") or []]
            if not set(function_names) <= set(found):
                fail(f"{prefix}: the site's path function is not in CloudFront: {found}")
        data_outputs = {o["OutputKey"]: o["OutputValue"]
                        for o in cf.describe_stacks(StackName=f"{prefix}-data")["Stacks"][0].get("Outputs", [])}
        pools = {k: r for k, r in data.items() if r["Type"] == "AWS::Cognito::UserPool"}
        pool_ids = [data_physical[k] for k in pools]
        for k, r in pools.items():
            props = r["Properties"]
            listed = [p for p in idp.list_user_pools(MaxResults=60)["UserPools"] if p["Id"] == data_physical[k]]
            pool = idp.describe_user_pool(UserPoolId=data_physical[k])["UserPool"]
            if len(listed) != 1 or pool["Name"] != props["UserPoolName"]:
                fail(f"{prefix}: the user pool is not in Cognito: {listed}")
            if pool["Policies"]["PasswordPolicy"] != props["Policies"]["PasswordPolicy"]:
                fail(f"{prefix}: the pool's password policy is not the template's: {pool['Policies']}")
            if pool.get("UsernameAttributes") != props["UsernameAttributes"] \
                    or pool.get("AutoVerifiedAttributes") != props["AutoVerifiedAttributes"]:
                fail(f"{prefix}: the pool's sign-in or verified attributes are not the template's: {pool}")
            if pool.get("DeletionProtection", "INACTIVE") != props.get("DeletionProtection", "INACTIVE"):
                fail(f"{prefix}: the pool's deletion protection is not the template's: {pool.get('DeletionProtection')}")
            if data_outputs.get("UserPoolId") != pool["Id"]:
                fail(f"{prefix}: the UserPoolId output is not the pool's id: {data_outputs}")
            for c, cr in data.items():
                if cr["Type"] != "AWS::Cognito::UserPoolClient" or cr["Properties"]["UserPoolId"] != {"Ref": k}:
                    continue
                clients = idp.list_user_pool_clients(UserPoolId=pool["Id"], MaxResults=60)["UserPoolClients"]
                client = idp.describe_user_pool_client(UserPoolId=pool["Id"], ClientId=data_physical[c])["UserPoolClient"]
                if [x["ClientId"] for x in clients] != [client["ClientId"]] \
                        or client["ClientName"] != cr["Properties"]["ClientName"]:
                    fail(f"{prefix}: the app client is not in the pool: {clients}")
                if sorted(client.get("ExplicitAuthFlows", [])) != sorted(cr["Properties"]["ExplicitAuthFlows"]):
                    fail(f"{prefix}: the app client's auth flows are not the template's: {client}")
                if data_outputs.get("UserPoolClientId") != client["ClientId"]:
                    fail(f"{prefix}: the UserPoolClientId output is not the client's id: {data_outputs}")
        print(f"checked {prefix} through EC2, RDS, DynamoDB, Lambda, API Gateway, ECS, CloudFront and Cognito", flush=True)

        if own_domain:
            # Issued (validated in the zone); gone with their stacks below.
            issued = certificates_of(kw, "us-east-1", own_domain) | certificates_of(kw, region, own_domain)
            want = {(own_domain, "ISSUED"), (f"origin.{own_domain}", "ISSUED")}
            if issued != want:
                fail(f"{prefix}: the domain's certificates are not {want}: {issued}")
            print(f"checked {prefix}'s certificates through ACM", flush=True)
        # Update every layer in order: a new deploy id, and a stack tag everywhere.
        for layer in LAYERS:
            name = f"{prefix}-{layer}"
            try:
                cf.update_stack(StackName=name, TemplateBody=json.dumps(for_moto(templates[layer])),
                                Parameters=params(layer, "d2"), Tags=[{"Key": "deploy", "Value": "d2"}],
                                Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
            except cf.exceptions.ClientError as e:
                # moto ignores a change of tags alone when a stack has
                # parameters (the network layer's prefix list stays the same).
                if "No updates are to be performed" not in str(e) or "DeployId" in templates[layer].get("Parameters", {}):
                    raise
                print(f"unchanged {name} (moto ignores tags alone)", flush=True)
                continue
            status = wait(cf, name, "UPDATE_COMPLETE")
            if status != "UPDATE_COMPLETE":
                fail(f"{name}: update ended {status}")
            print(f"updated {name}", flush=True)

        for layer in reversed(LAYERS):
            name = f"{prefix}-{layer}"
            if layer == "network":
                delete_what_moto_cannot(cf, ec2, name, templates[layer])
            if layer == "artifacts":
                for b in buckets:
                    empty_bucket(s3, b)
            if layer == "data":
                # A protected cluster fails the stack's deletion (as in
                # CloudFormation); production's is turned off here first, as
                # an operator would.
                for c in cluster_ids:
                    rds.modify_db_cluster(DBClusterIdentifier=c, DeletionProtection=False, ApplyImmediately=True)
                # So does a protected user pool, unless the stack retains it.
                for k, r in pools.items():
                    if r["Properties"].get("DeletionProtection") == "ACTIVE" and r.get("DeletionPolicy") != "Retain":
                        idp.update_user_pool(UserPoolId=data_physical[k], DeletionProtection="INACTIVE")
            cf.delete_stack(StackName=name)
            status = wait(cf, name, "DELETE_COMPLETE")
            if status != "DELETE_COMPLETE":
                fail(f"{name}: delete ended {status}")
            print(f"deleted {name}", flush=True)
        if made_global:
            there, name = made_global
            there.delete_stack(StackName=name)
            if wait(there, name, "DELETE_COMPLETE") != "DELETE_COMPLETE":
                fail(f"{name}: delete failed")
            print(f"deleted {name}", flush=True)
        if own_domain:
            left = certificates_of(kw, "us-east-1", own_domain) | certificates_of(kw, region, own_domain)
            if left:
                fail(f"{prefix}: certificates outlived their stacks: {left}")
            zone_id = passed["HostedZoneId"]
            records = r53.list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
            aliases = [r["Name"] for r in records if "AliasTarget" in r]
            if aliases:
                fail(f"{prefix}: alias records outlived their stacks: {aliases}")
            # What CloudFormation leaves: the certificates' validation records.
            changes = [{"Action": "DELETE", "ResourceRecordSet": r} for r in records if r["Type"] == "CNAME"]
            if changes:
                r53.change_resource_record_sets(HostedZoneId=zone_id, ChangeBatch={"Changes": changes})
            r53.delete_hosted_zone(Id=zone_id)
        # Production keeps its tables (DeletionPolicy Retain): they must have
        # survived the stack; then the test removes them itself.
        for r in data.values():
            if r["Type"] == "AWS::DynamoDB::Table" and r.get("DeletionPolicy") == "Retain":
                ddb = boto3.client("dynamodb", **kw)
                table = ddb.describe_table(TableName=r["Properties"]["TableName"])["Table"]
                if not table.get("DeletionProtectionEnabled"):
                    fail(f"{prefix}: a production table is not protected from deletion")
                drop_table(ddb, table["TableName"])
        # ...and its user pool (DeletionPolicy Retain, DeletionProtection ACTIVE).
        for k, r in pools.items():
            if r.get("DeletionPolicy") == "Retain":
                pool = idp.describe_user_pool(UserPoolId=data_physical[k])["UserPool"]
                if pool.get("DeletionProtection") != "ACTIVE":
                    fail(f"{prefix}: a retained user pool is not protected from deletion")
                try:
                    idp.delete_user_pool(UserPoolId=pool["Id"])
                    fail(f"{prefix}: Cognito deleted a protected user pool")
                except idp.exceptions.InvalidParameterException:
                    pass
                drop_user_pool(idp, pool["Id"])
        left = set(buckets) & {b["Name"] for b in s3.list_buckets()["Buckets"]}
        if left:
            fail(f"{prefix}: buckets outlived their stack: {sorted(left)}")
        if ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Vpcs"]:
            fail(f"{prefix}: the VPC outlived its stack")
        if functions and any(physical.get(f) in {x["FunctionName"] for x in lam.list_functions()["Functions"]} for f in functions):
            fail(f"{prefix}: a function outlived its stack")
        if any(a["ApiId"] in api_ids for a in apigw.get_apis()["Items"]):
            fail(f"{prefix}: the HTTP API outlived its stack")
        if any(c["DBClusterIdentifier"] in cluster_ids for c in rds.describe_db_clusters()["DBClusters"]):
            fail(f"{prefix}: the Aurora cluster outlived its stack")
        if any(i.get("DBClusterIdentifier") in cluster_ids for i in rds.describe_db_instances()["DBInstances"]):
            fail(f"{prefix}: an Aurora instance outlived its stack")
        if any(d["Id"] in distribution_ids for d in cloudfront.list_distributions()["DistributionList"].get("Items") or []):
            fail(f"{prefix}: the distribution outlived its stack")
        if set(function_names) & {f["Name"] for f in cloudfront.list_functions()["FunctionList"].get("Items") or []}:
            fail(f"{prefix}: the site's path function outlived its stack")
        if any(c["Id"] in control_ids for c in
               cloudfront.list_origin_access_controls()["OriginAccessControlList"].get("Items") or []):
            fail(f"{prefix}: the origin access control outlived its stack")
        if any(p["Id"] in pool_ids for p in idp.list_user_pools(MaxResults=60)["UserPools"]):
            fail(f"{prefix}: the user pool outlived its stack")

    print(f"moto ignored: {', '.join(sorted(seen_ignored))}")
    unused = MOTO_IGNORES - seen_ignored
    if unused:
        fail(f"MOTO_IGNORES lists types no template used: {sorted(unused)}")
    print("lifecycle ok")


if __name__ == "__main__":
    main()
