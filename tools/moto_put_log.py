"""Write one log event, as the service would, into a log group in moto.

Usage: python moto_put_log.py ENDPOINT REGION GROUP MESSAGE
"""

import sys
import time

import boto3


def main():
    endpoint, region, group, message = sys.argv[1:5]
    logs = boto3.client("logs", endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test")
    stream = "app/app/test"
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    logs.put_log_events(logGroupName=group, logStreamName=stream,
                        logEvents=[{"timestamp": int(time.time() * 1000), "message": message}])


if __name__ == "__main__":
    main()
