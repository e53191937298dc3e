//! The load balancer in front of Fargate tasks or EC2 instances, and what
//! the runtime behind it must know.

use serde_json::{json, Value as Json};
use stackwright_stack::Stack;

use super::health_path;
use crate::cfn::{att, r, sub, Template};
use crate::outputs::Output;
use crate::Settings;

/// The runtime's settings behind the load balancer. It keeps idle
/// connections open longer than the balancer does (60 s by default): if the
/// runtime closed first, the balancer could send a request into a closing
/// connection and answer 502. The balancer itself holds slow clients off
/// the runtime. Every request comes through CloudFront, which appends the
/// viewer's address to X-Forwarded-For, then the balancer, which appends
/// CloudFront's: the runtime's per-client limits count the viewer's.
const BEHIND_BALANCER: [(&str, &str); 2] = [
    ("header_timeout_seconds", "65"),
    // CloudFront appends the viewer's address, the balancer CloudFront's.
    ("trusted_proxy_hops", "2"),
];

/// [`BEHIND_BALANCER`] as environment variables.
pub(super) fn behind_balancer() -> impl Iterator<Item = (String, &'static str)> {
    BEHIND_BALANCER
        .into_iter()
        .map(|(key, value)| (stackwright_stack::ServerSettings::env_name(key), value))
}

/// A target group of the load balancer: traffic on the runtime's port;
/// health checks on `health` (a path, and a port when not the traffic's).
pub(super) fn target_group(
    t: &mut Template,
    id: &str,
    s: &Settings,
    prefix: &str,
    health: (&str, Option<u16>),
    target_type: &str,
) {
    let mut props = json!({
        "VpcId": Output::VpcId.import(prefix),
        "Protocol": "HTTP",
        "Port": s.port,
        "TargetType": target_type,
        "HealthCheckPath": health.0,
        "HealthCheckIntervalSeconds": 15,
        "HealthyThresholdCount": 2,
        "UnhealthyThresholdCount": 3,
        "Matcher": { "HttpCode": "200" },
        "TargetGroupAttributes": [{ "Key": "deregistration_delay.timeout_seconds", "Value": "30" }]
    });
    if let Some(port) = health.1 {
        props["HealthCheckPort"] = json!(port.to_string());
        // A service's own health check may answer any 2xx.
        props["Matcher"] = json!({ "HttpCode": "200-299" });
    }
    t.add(id, "AWS::ElasticLoadBalancingV2::TargetGroup", props);
}

pub(super) fn load_balancer(
    t: &mut Template,
    stack: &Stack,
    s: &Settings,
    prefix: &str,
    target_type: &str,
) {
    t.add(
        "LoadBalancer",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        json!({
            "Type": "application",
            "Scheme": "internet-facing",
            "Subnets": Output::PublicSubnets.import_list(prefix),
            "SecurityGroups": [Output::LoadBalancerSecurityGroup.import(prefix)],
            "LoadBalancerAttributes": [
                { "Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true" },
                { "Key": "deletion_protection.enabled", "Value": s.deletion_protection.to_string() },
                { "Key": "access_logs.s3.enabled", "Value": "true" },
                { "Key": "access_logs.s3.bucket", "Value": Output::LogBucket.import(prefix) },
                { "Key": "access_logs.s3.prefix", "Value": crate::logs::LOAD_BALANCER_PREFIX }
            ]
        }),
    );
    target_group(
        t,
        "TargetGroup",
        s,
        prefix,
        (&health_path(stack), None),
        target_type,
    );
    listener(t, s);
    t.add(
        "OriginRule",
        "AWS::ElasticLoadBalancingV2::ListenerRule",
        json!({
            "ListenerArn": r(listener_id(s)),
            // Last: the services' own rules come first.
            "Priority": LAST_PRIORITY,
            "Conditions": [from_edge(prefix)],
            "Actions": [{ "Type": "forward", "TargetGroupArn": r("TargetGroup") }]
        }),
    );
    t.output(
        Output::ServiceUrl.name(),
        "The load balancer (it answers only the distribution)",
        sub("http://${LoadBalancer.DNSName}"),
        Some(Output::ServiceUrl.export(prefix)),
    );
    t.output(
        Output::OriginDomain.name(),
        "Where the distribution sends API requests",
        att("LoadBalancer", "DNSName"),
        Some(Output::OriginDomain.export(prefix)),
    );
    if let Some(domain) = &s.domain {
        t.output(
            Output::OriginName.name(),
            "Where the distribution sends API requests: the balancer's name of its own, over HTTPS",
            json!(crate::domain::origin_name(domain)),
            Some(Output::OriginName.export(prefix)),
        );
    }
}

/// The listener CloudFront reaches: HTTPS at `origin.DOMAIN` when the
/// environment has a domain, else plain HTTP (no public CA issues a
/// certificate for the balancer's own name, and viewers only ever speak
/// HTTPS to CloudFront). From CloudFront only either way: its prefix list
/// in the group, the origin secret here; a request without the secret
/// never reaches the runtime.
pub(super) fn listener_id(s: &Settings) -> &'static str {
    if s.domain.is_some() {
        "HttpsListener"
    } else {
        "HttpListener"
    }
}

fn listener(t: &mut Template, s: &Settings) {
    let mut props = json!({
        "LoadBalancerArn": r("LoadBalancer"),
        "Protocol": "HTTP",
        "Port": s.listener_port(),
        "DefaultActions": [{
            "Type": "fixed-response",
            "FixedResponseConfig": {
                "StatusCode": "403",
                "ContentType": "application/json",
                // The runtime's own error shape.
                "MessageBody": "{\"error\":{\"code\":\"forbidden\",\"message\":\"this address serves only the stack's CloudFront distribution\"}}"
            }
        }]
    });
    if let Some(domain) = &s.domain {
        let name = crate::domain::origin_name(domain);
        let zone = crate::domain::zone(t, domain);
        crate::domain::certificate(t, crate::domain::ORIGIN_CERTIFICATE, &name, &zone);
        crate::domain::alias(
            t,
            "OriginRecord",
            &name,
            &zone,
            (
                att("LoadBalancer", "DNSName"),
                att("LoadBalancer", "CanonicalHostedZoneID"),
            ),
            &["A"],
        );
        props["Protocol"] = json!("HTTPS");
        props["Certificates"] = json!([{ "CertificateArn": r(crate::domain::ORIGIN_CERTIFICATE) }]);
        // TLS 1.3 and 1.2 only.
        props["SslPolicy"] = json!("ELBSecurityPolicy-TLS13-1-2-2021-06");
    }
    t.add(
        listener_id(s),
        "AWS::ElasticLoadBalancingV2::Listener",
        props,
    );
}

/// The highest priority number a listener rule may have (evaluated last).
const LAST_PRIORITY: u32 = 50_000;

/// A listener rule condition: the request came through the edge, carrying
/// the origin secret.
pub(super) fn from_edge(prefix: &str) -> Json {
    json!({
        "Field": "http-header",
        "HttpHeaderConfig": {
            "HttpHeaderName": stackwright_stack::ORIGIN_HEADER,
            "Values": [crate::network::origin_secret_value(prefix)]
        }
    })
}
