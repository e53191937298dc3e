"""The invalidations of a CloudFront distribution, as CloudFront's own API
lists them: a JSON list of each one's paths.

Usage: python moto_cloudfront.py ENDPOINT REGION invalidations DISTRIBUTION_ID
"""

import json
import sys

import boto3


def main():
    endpoint, region, action, distribution = sys.argv[1:5]
    cf = boto3.client("cloudfront", endpoint_url=endpoint, region_name=region,
                      aws_access_key_id="test", aws_secret_access_key="test")
    if action != "invalidations":
        sys.exit(f"unknown action {action}")
    listed = cf.list_invalidations(DistributionId=distribution)["InvalidationList"].get("Items") or []
    paths = []
    for item in listed:
        got = cf.get_invalidation(DistributionId=distribution, Id=item["Id"])["Invalidation"]
        paths.append(sorted(got["InvalidationBatch"]["Paths"].get("Items") or []))
    print(json.dumps(paths))


main()
