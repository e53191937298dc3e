"""A domain's side of a deploy, as Route 53, ACM, CloudFront and Elastic
Load Balancing hold it (moto's CloudFormation would report a resource it
ignored as made, so each is read from its own service).

Usage: python moto_domain.py ENDPOINT REGION zone NAME [ACCOUNT]
         make a public hosted zone (in ACCOUNT, else the default one); prints its id
       python moto_domain.py ENDPOINT REGION records ZONE_ID
         its records (JSON): name, type, and an alias's target and zone
       python moto_domain.py ENDPOINT REGION certificates WHERE
         the certificates in region WHERE (JSON): domain, status, ARN
       python moto_domain.py ENDPOINT REGION listeners LOAD_BALANCER_NAME_START
         the listeners of the load balancer (JSON): port, protocol,
         certificates, TLS policy
       python moto_domain.py ENDPOINT REGION viewer DISTRIBUTION_ID
         the distribution's aliases, viewer certificate and API origin (JSON)
"""

import json
import sys
import uuid

import boto3


def main():
    endpoint, region, action, what = sys.argv[1:5]
    kw = dict(endpoint_url=endpoint, region_name=region,
              aws_access_key_id="test", aws_secret_access_key="test")
    c = lambda name, **more: boto3.client(name, **dict(kw, **more))  # noqa: E731
    if action == "zone":
        r53 = c("route53")
        if len(sys.argv) > 5:
            account = sys.argv[5]
            r53.meta.events.register(
                "before-sign.route53.*",
                lambda request, **_: request.headers.__setitem__("x-moto-account-id", account))
        zone = r53.create_hosted_zone(Name=what, CallerReference=str(uuid.uuid4()))["HostedZone"]
        print(zone["Id"].split("/")[-1])
    elif action == "records":
        listed = c("route53").list_resource_record_sets(HostedZoneId=what)["ResourceRecordSets"]
        print(json.dumps(sorted(
            ({"name": r["Name"], "type": r["Type"],
              "alias": r.get("AliasTarget", {}).get("DNSName"),
              "alias_zone": r.get("AliasTarget", {}).get("HostedZoneId")} for r in listed),
            key=lambda r: (r["name"], r["type"]))))
    elif action == "certificates":
        acm = c("acm", region_name=what)
        out = []
        for summary in acm.list_certificates()["CertificateSummaryList"]:
            cert = acm.describe_certificate(CertificateArn=summary["CertificateArn"])["Certificate"]
            out.append({"domain": cert["DomainName"], "status": cert["Status"], "arn": cert["CertificateArn"]})
        print(json.dumps(sorted(out, key=lambda x: x["domain"])))
    elif action == "listeners":
        elb = c("elbv2")
        lb = next(b for b in elb.describe_load_balancers()["LoadBalancers"]
                  if b["LoadBalancerName"].lower().startswith(what.lower()))
        listeners = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
        print(json.dumps({
            "dns": lb["DNSName"],
            "listeners": sorted(({
                "port": ls["Port"], "protocol": ls["Protocol"],
                "certificates": [x["CertificateArn"] for x in ls.get("Certificates") or []],
                "ssl_policy": ls.get("SslPolicy"),
            } for ls in listeners), key=lambda x: x["port"]),
        }))
    elif action == "viewer":
        config = c("cloudfront").get_distribution(Id=what)["Distribution"]["DistributionConfig"]
        api = next(o for o in config["Origins"]["Items"] if o["Id"] == "api")
        viewer = config.get("ViewerCertificate") or {}
        print(json.dumps({
            "aliases": (config.get("Aliases") or {}).get("Items") or [],
            "certificate": viewer.get("ACMCertificateArn") or None,
            "minimum_protocol": viewer.get("MinimumProtocolVersion"),
            "api_origin": api["DomainName"],
            "api_protocol": api.get("CustomOriginConfig", {}).get("OriginProtocolPolicy"),
        }))
    else:
        sys.exit(f"unknown action {action}")


main()
