"""A user through moto's Cognito API, as a site would make one: create a
user pool and an app client (USER_PASSWORD_AUTH), sign up, confirm with a
code, sign in. Prints JSON: pool_id, client_id, issuer, jwks_url, id_token,
access_token.

Usage: python moto_cognito.py ENDPOINT REGION EMAIL PASSWORD
"""

import json
import sys
import urllib.request

import boto3


def main():
    endpoint, region, email, password = sys.argv[1:5]
    idp = boto3.client("cognito-idp", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    pool = idp.create_user_pool(PoolName="stackwright-test", AutoVerifiedAttributes=["email"],
                                UsernameAttributes=["email"])["UserPool"]
    client = idp.create_user_pool_client(UserPoolId=pool["Id"], ClientName="site",
                                         ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                            "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]
    idp.sign_up(ClientId=client["ClientId"], Username=email, Password=password,
                UserAttributes=[{"Name": "email", "Value": email}])
    idp.confirm_sign_up(ClientId=client["ClientId"], Username=email, ConfirmationCode="123456")
    tokens = idp.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH",
                               AuthParameters={"USERNAME": email, "PASSWORD": password})["AuthenticationResult"]
    jwks_url = f"{endpoint}/{pool['Id']}/.well-known/jwks.json"
    # The key set must be there for the runtime to verify against it.
    with urllib.request.urlopen(jwks_url) as r:
        assert json.load(r)["keys"], "moto publishes the pool's keys"
    print(json.dumps({
        "pool_id": pool["Id"],
        "client_id": client["ClientId"],
        "issuer": f"https://cognito-idp.{region}.amazonaws.com/{pool['Id']}",
        "jwks_url": jwks_url,
        "id_token": tokens["IdToken"],
        "access_token": tokens["AccessToken"],
    }))


if __name__ == "__main__":
    main()
