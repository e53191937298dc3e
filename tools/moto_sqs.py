"""An SQS queue as SQS itself holds it, for the dead-letter tests.

Usage: python moto_sqs.py ENDPOINT REGION send QUEUE_URL BODY
       python moto_sqs.py ENDPOINT REGION count QUEUE_URL
         the messages in the queue, visible and in flight (a number)
       python moto_sqs.py ENDPOINT REGION bodies QUEUE_URL
         the bodies of the visible messages, left in place (JSON list)
"""

import json
import sys

import boto3


def main():
    endpoint, region, action, url = sys.argv[1:5]
    sqs = boto3.client("sqs", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    if action == "send":
        sqs.send_message(QueueUrl=url, MessageBody=sys.argv[5])
    elif action == "count":
        a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))
    elif action == "bodies":
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages") or []
        print(json.dumps([m["Body"] for m in got]))
    else:
        sys.exit(f"unknown action {action}")


main()
