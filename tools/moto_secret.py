"""A service's secret as CloudFormation would make it where moto ignores
it (AWS::SecretsManager::Secret in templates): created empty; read back
and deleted by the services tests.

Usage: python moto_secret.py ENDPOINT REGION create|get|delete NAME
       python moto_secret.py ENDPOINT REGION put|create-json NAME VALUE
(create-json prints the new secret's ARN)
"""

import sys

import boto3


def main():
    endpoint, region, action, name = sys.argv[1:5]
    kw = dict(endpoint_url=endpoint, region_name=region,
              aws_access_key_id="test", aws_secret_access_key="test")
    sm = boto3.client("secretsmanager", **kw)
    if action == "create":
        sm.create_secret(Name=name, Description="created empty, as the template does")
    elif action == "put":
        sm.put_secret_value(SecretId=name, SecretString=sys.argv[5])
    elif action == "create-json":
        print(sm.create_secret(Name=name, SecretString=sys.argv[5])["ARN"])
    elif action == "get":
        print(sm.get_secret_value(SecretId=name)["SecretString"])
    elif action == "delete":
        sm.delete_secret(SecretId=name, ForceDeleteWithoutRecovery=True)
    else:
        sys.exit(f"unknown action {action}")


main()
