"""What a deployed environment's app layer runs, read back from moto as AWS
would hand it to the runtime: each function's environment (Lambda), each
container's command, environment and secrets (ECS), the instances' command
line and environment file (the launch template's user data, EC2), and which
queue triggers which function (Lambda event source mappings).

The seed lifecycle tests start the real binary with exactly this, pointed at
the emulated services, instead of an environment written by hand, so a
template that wires the runtime wrongly fails them.

Usage: python moto_runtime.py ENDPOINT REGION PREFIX
Prints JSON: {"functions": {LOGICAL: {"name", "environment"}},
"containers": {NAME: {"command", "environment", "secrets"}},
"instances": {"command", "environment"} (EC2 only),
"triggers": [{"function": LOGICAL, "queue": ARN, "batch_size", "report_failures"}]}
"""

import base64
import json
import re
import shlex
import sys

import boto3


def instances(ec2, template_id):
    """The runtime's command line and environment file, from the user data
    the launch template gives every instance."""
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=template_id, Versions=["$Latest"])
    script = base64.b64decode(versions["LaunchTemplateVersions"][0]["LaunchTemplateData"]["UserData"]).decode()
    env_file = re.search(r"cat > /etc/stackwright\.env <<'ENV'\n(.*?)\nENV\n", script, re.S)
    exec_start = re.search(r"\[Unit\]\nDescription=Stackwright runtime\n.*?ExecStart=(.*?)\n", script, re.S)
    if not env_file or not exec_start:
        raise SystemExit(f"the user data has no runtime unit or environment file:\n{script}")
    environment = dict(line.split("=", 1) for line in env_file.group(1).splitlines() if line)
    return {"command": shlex.split(exec_start.group(1))[1:], "environment": environment}


def main():
    endpoint, region, prefix = sys.argv[1:4]
    kw = dict(endpoint_url=endpoint, region_name=region,
              aws_access_key_id="test", aws_secret_access_key="test")
    cf = boto3.client("cloudformation", **kw)
    resources = cf.list_stack_resources(StackName=f"{prefix}-app")["StackResourceSummaries"]
    out = {"functions": {}, "containers": {}, "triggers": []}
    awslambda = boto3.client("lambda", **kw)
    logical_of = {}
    for r in resources:
        kind, logical, physical = r["ResourceType"], r["LogicalResourceId"], r["PhysicalResourceId"]
        if kind == "AWS::Lambda::Function":
            config = awslambda.get_function_configuration(FunctionName=physical)
            logical_of[config["FunctionArn"]] = logical
            out["functions"][logical] = {
                "name": config["FunctionName"],
                "environment": config.get("Environment", {}).get("Variables", {}),
            }
        elif kind == "AWS::ECS::TaskDefinition":
            definition = boto3.client("ecs", **kw).describe_task_definition(taskDefinition=physical)
            for c in definition["taskDefinition"]["containerDefinitions"]:
                out["containers"][c["name"]] = {
                    "command": c.get("command", []),
                    "environment": {e["name"]: e["value"] for e in c.get("environment", [])},
                    "secrets": {s["name"]: s["valueFrom"] for s in c.get("secrets", [])},
                }
        elif kind == "AWS::EC2::LaunchTemplate":
            out["instances"] = instances(boto3.client("ec2", **kw), physical)
    # Every mapping, matched by function ARN (moto filters FunctionName by
    # the name exactly as the template gave it).
    for m in awslambda.list_event_source_mappings()["EventSourceMappings"]:
        logical = logical_of.get(m["FunctionArn"])
        if logical:
            out["triggers"].append({
                "function": logical,
                "queue": m["EventSourceArn"],
                "batch_size": m.get("BatchSize", 10),
                "report_failures": "ReportBatchItemFailures" in m.get("FunctionResponseTypes", []),
            })
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
