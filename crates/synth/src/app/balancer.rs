//! The load balancer in front of Fargate tasks or EC2 instances, and what
//! the runtime behind it must know.

use serde_json::json;
use stackwright_stack::Stack;

use super::health_path;
use crate::cfn::{r, sub, Template};
use crate::outputs::Output;
use crate::Settings;

/// The runtime's settings behind the load balancer. It keeps idle
/// connections open longer than the balancer does (60 s by default): if the
/// runtime closed first, the balancer could send a request into a closing
/// connection and answer 502. The balancer itself holds slow clients off
/// the runtime. Every connection comes from the balancer, which appends
/// the client's address to X-Forwarded-For: the runtime's per-client
/// limits count that address.
const BEHIND_BALANCER: [(&str, &str); 2] = [
    ("header_timeout_seconds", "65"),
    ("trusted_proxy_hops", "1"),
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
                { "Key": "deletion_protection.enabled", "Value": s.deletion_protection.to_string() }
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
    match &s.certificate_arn {
        Some(cert) => {
            t.add(
                "HttpsListener",
                "AWS::ElasticLoadBalancingV2::Listener",
                json!({
                    "LoadBalancerArn": r("LoadBalancer"),
                    "Protocol": "HTTPS",
                    "Port": 443,
                    "Certificates": [{ "CertificateArn": cert }],
                    "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                    "DefaultActions": [{ "Type": "forward", "TargetGroupArn": r("TargetGroup") }]
                }),
            );
            t.add(
                "HttpListener",
                "AWS::ElasticLoadBalancingV2::Listener",
                json!({
                    "LoadBalancerArn": r("LoadBalancer"),
                    "Protocol": "HTTP",
                    "Port": 80,
                    "DefaultActions": [{
                        "Type": "redirect",
                        "RedirectConfig": { "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301" }
                    }]
                }),
            );
            t.output(
                Output::ServiceUrl.name(),
                "URL of the service",
                sub("https://${LoadBalancer.DNSName}"),
                Some(Output::ServiceUrl.export(prefix)),
            );
        }
        None => {
            t.add(
                "HttpListener",
                "AWS::ElasticLoadBalancingV2::Listener",
                json!({
                    "LoadBalancerArn": r("LoadBalancer"),
                    "Protocol": "HTTP",
                    "Port": 80,
                    "DefaultActions": [{ "Type": "forward", "TargetGroupArn": r("TargetGroup") }]
                }),
            );
            t.output(
                Output::ServiceUrl.name(),
                "URL of the service",
                sub("http://${LoadBalancer.DNSName}"),
                Some(Output::ServiceUrl.export(prefix)),
            );
        }
    }
}
