"""A CloudFront distribution as CloudFront's own API holds it.

Usage: python moto_cloudfront.py ENDPOINT REGION invalidations DISTRIBUTION_ID
         a JSON list of each invalidation's paths;
       python moto_cloudfront.py ENDPOINT REGION distribution DISTRIBUTION_ID
         its origins, the API origin's protocol and custom header names,
         the paths sent to the API, where its logs go and its web ACL (JSON);
       python moto_cloudfront.py ENDPOINT REGION web-acl NAME
         a CloudFront web ACL: its ARN, rules and rate limit (JSON).
"""

import json
import sys

import boto3


def main():
    endpoint, region, action, distribution = sys.argv[1:5]
    cf = boto3.client("cloudfront", endpoint_url=endpoint, region_name=region,
                      aws_access_key_id="test", aws_secret_access_key="test")
    if action == "invalidations":
        listed = cf.list_invalidations(DistributionId=distribution)["InvalidationList"].get("Items") or []
        paths = []
        for item in listed:
            got = cf.get_invalidation(DistributionId=distribution, Id=item["Id"])["Invalidation"]
            paths.append(sorted(got["InvalidationBatch"]["Paths"].get("Items") or []))
        print(json.dumps(paths))
    elif action == "distribution":
        config = cf.get_distribution(Id=distribution)["Distribution"]["DistributionConfig"]
        origins = config["Origins"]["Items"]
        api = next(o for o in origins if o["Id"] == "api")
        behaviours = (config.get("CacheBehaviors") or {}).get("Items") or []
        print(json.dumps({
            "origins": sorted(o["Id"] for o in origins),
            "api_protocol": api.get("CustomOriginConfig", {}).get("OriginProtocolPolicy"),
            "api_headers": sorted(h["HeaderName"].lower() for h in api.get("CustomHeaders", {}).get("Items") or []),
            "api_patterns": sorted(b["PathPattern"] for b in behaviours if b["TargetOriginId"] == "api"),
            "logging": config.get("Logging", {}).get("Bucket"),
            "web_acl": config.get("WebACLId") or None,
        }))
    elif action == "web-acl":
        waf = boto3.client("wafv2", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        summary = next(a for a in waf.list_web_acls(Scope="CLOUDFRONT")["WebACLs"] if a["Name"] == distribution)
        acl = waf.get_web_acl(Name=summary["Name"], Scope="CLOUDFRONT", Id=summary["Id"])["WebACL"]
        rules = acl.get("Rules") or []
        print(json.dumps({
            "arn": acl["ARN"],
            "rules": [r["Name"] for r in rules],
            "rate": next((r["Statement"]["RateBasedStatement"]["Limit"] for r in rules
                          if "RateBasedStatement" in r["Statement"]), None),
        }))
    else:
        sys.exit(f"unknown action {action}")


main()
