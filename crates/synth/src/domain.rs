//! `[aws] domain`: the environment's own name. The distribution answers
//! it with a DNS-validated ACM certificate (made in us-east-1, where
//! CloudFront reads certificates) and Route 53 alias records; behind a
//! load balancer, the balancer gets a name and certificate of its own,
//! `origin.DOMAIN`, so CloudFront reaches it over HTTPS too.
//!
//! The hosted zone is a parameter: deploy passes the zone given
//! (`hosted_zone_id`) or the one it finds by name, after checking that
//! this account holds it.

use serde_json::{json, Value as Json};

use crate::cfn::{r, Template};
use crate::outputs::Parameter;
use crate::Settings;

/// The hosted zone CloudFront's alias targets are in (AWS documents it as
/// a constant), in the `aws` partition; China's differs, and the
/// templates' ARN patterns assume `aws` as well.
pub const CLOUDFRONT_ZONE: &str = "Z2FDTNDATAQYW2";

/// The distribution's certificate: in the edge layer in us-east-1, else in
/// the global layer.
pub const VIEWER_CERTIFICATE: &str = "Certificate";

/// The load balancer's certificate, for `origin.DOMAIN` (app layer).
pub const ORIGIN_CERTIFICATE: &str = "OriginCertificate";

/// The name the load balancer is reached at by CloudFront.
pub fn origin_name(domain: &str) -> String {
    format!("origin.{domain}")
}

/// The template's `HostedZoneId` parameter, which deploy fills; its `Ref`.
pub fn zone(t: &mut Template, domain: &str) -> Json {
    t.parameters.insert(
        Parameter::HostedZoneId.name().into(),
        json!({
            "Type": "String",
            "AllowedPattern": "^[A-Z0-9]{1,32}$",
            "Description": format!("The Route 53 hosted zone holding {domain} (found or checked by stackwright deploy)")
        }),
    );
    r(Parameter::HostedZoneId.name())
}

/// A certificate for `name`, validated by a DNS record that CloudFormation
/// writes in `zone` itself: the deploy waits for ACM to issue it.
pub fn certificate(t: &mut Template, id: &str, name: &str, zone: &Json) {
    t.add(
        id,
        "AWS::CertificateManager::Certificate",
        json!({
            "DomainName": name,
            "ValidationMethod": "DNS",
            "DomainValidationOptions": [{ "DomainName": name, "HostedZoneId": zone }],
            "CertificateTransparencyLoggingPreference": "ENABLED"
        }),
    );
}

/// Alias records `id` + each type, naming `name` as `target` (a DNS name
/// and the zone AWS keeps it in).
pub fn alias(
    t: &mut Template,
    id: &str,
    name: &str,
    zone: &Json,
    target: (Json, Json),
    types: &[&str],
) {
    for record in types {
        t.add(
            &format!("{id}{record}"),
            "AWS::Route53::RecordSet",
            json!({
                "HostedZoneId": zone,
                "Name": name,
                "Type": record,
                "AliasTarget": {
                    "DNSName": target.0,
                    "HostedZoneId": target.1,
                    "EvaluateTargetHealth": false
                }
            }),
        );
    }
}

/// The distribution's `Aliases` and `ViewerCertificate` for the domain, and
/// its records, in the edge template `t`. The certificate is made in `t`
/// in us-east-1, else passed from the global stack.
pub fn viewer(t: &mut Template, s: &Settings, domain: &str, distribution: &mut Json) {
    let zone = zone(t, domain);
    let certificate = if s.needs_global_stack() {
        t.parameters.insert(
            Parameter::CertificateArn.name().into(),
            json!({
                "Type": "String",
                "AllowedPattern": "^arn:aws[a-z-]*:acm:us-east-1:[0-9]{12}:certificate/.+$",
                "Description": "The domain's certificate, of the global stack (passed by stackwright deploy)"
            }),
        );
        r(Parameter::CertificateArn.name())
    } else {
        certificate(t, VIEWER_CERTIFICATE, domain, &zone);
        r(VIEWER_CERTIFICATE)
    };
    distribution["Aliases"] = json!([domain]);
    distribution["ViewerCertificate"] = json!({
        "AcmCertificateArn": certificate,
        "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021"
    });
    alias(
        t,
        "DomainRecord",
        domain,
        &zone,
        (
            crate::cfn::att("Distribution", "DomainName"),
            json!(CLOUDFRONT_ZONE),
        ),
        &["A", "AAAA"],
    );
}
