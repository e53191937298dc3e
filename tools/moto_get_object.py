"""One S3 object through moto's API, as JSON: its content type, cache
control and text; or, with --keys for KEY, every key in the bucket.
Usage: python moto_get_object.py ENDPOINT REGION BUCKET KEY|--keys
"""

import json
import sys

import boto3


def main():
    endpoint, region, bucket, key = sys.argv[1:5]
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region,
                      aws_access_key_id="test", aws_secret_access_key="test")
    if key == "--keys":
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
        keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
        print(json.dumps({"keys": sorted(keys)}))
        return
    obj = s3.get_object(Bucket=bucket, Key=key)
    print(json.dumps({
        "content_type": obj.get("ContentType"),
        "cache_control": obj.get("CacheControl"),
        "text": obj["Body"].read().decode("utf-8", "replace"),
    }))


if __name__ == "__main__":
    main()
