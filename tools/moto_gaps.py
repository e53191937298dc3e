"""Delete what moto's CloudFormation cannot delete from a network stack.

moto (5.2) has no CloudFormation delete for route tables, routes, subnet
associations, internet gateways and their attachments, VPC endpoints, NAT
gateways, elastic IPs and flow logs, so its DeleteStack of a network layer
fails on the VPC (DependencyViolation) where CloudFormation succeeds. Tests
of `stackwright destroy` against moto run this first, through the EC2 API,
and then expect destroy to remove everything else and report nothing left.

Usage: python moto_gaps.py ENDPOINT REGION STACK TEMPLATE.json
"""

import json
import sys

import boto3

from cfn_lifecycle import delete_what_moto_cannot


def main():
    endpoint, region, stack, template = sys.argv[1:5]
    kw = dict(endpoint_url=endpoint, region_name=region,
              aws_access_key_id="test", aws_secret_access_key="test")
    cf = boto3.client("cloudformation", **kw)
    ec2 = boto3.client("ec2", **kw)
    delete_what_moto_cannot(cf, ec2, stack, json.load(open(template)))
    print(f"removed what moto cannot delete from {stack}")


if __name__ == "__main__":
    main()
