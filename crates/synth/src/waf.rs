//! `[aws] waf`: a WAFv2 web ACL in front of the distribution, with AWS's
//! managed common, known-bad-inputs and IP-reputation rule groups and a
//! rate-based rule per address (`waf_rate_limit`). Production has it
//! unless told otherwise.
//!
//! A web ACL for CloudFront must be made in us-east-1. In that region it
//! is part of the edge layer; elsewhere it is in the `global` stack
//! (`global.rs`).

use serde_json::{json, Value as Json};

use crate::cfn::{att, r, Template};
use crate::outputs::Parameter;
use crate::Settings;

/// AWS's managed rule groups, in the order they are evaluated.
const MANAGED: [&str; 3] = [
    "AWSManagedRulesAmazonIpReputationList",
    "AWSManagedRulesCommonRuleSet",
    "AWSManagedRulesKnownBadInputsRuleSet",
];

/// The distribution's `WebACLId` in the edge template `t`, when the
/// environment has a web ACL: made in `t` itself in us-east-1, else a
/// parameter deploy fills from the `global` stack.
pub fn attach(t: &mut Template, s: &Settings, prefix: &str) -> Option<Json> {
    if !s.waf {
        return None;
    }
    if s.needs_global_stack() {
        t.parameters.insert(
            Parameter::WebAclArn.name().into(),
            json!({
                "Type": "String",
                "AllowedPattern": "^arn:aws[a-z-]*:wafv2:us-east-1:[0-9]{12}:global/webacl/.+$",
                "Description": "The web ACL of the global stack (passed by stackwright deploy)"
            }),
        );
        Some(r(Parameter::WebAclArn.name()))
    } else {
        web_acl(t, s, prefix);
        Some(att("WebAcl", "Arn"))
    }
}

pub(crate) fn web_acl(t: &mut Template, s: &Settings, prefix: &str) {
    let visibility = |name: &str| {
        json!({
            "SampledRequestsEnabled": true,
            "CloudWatchMetricsEnabled": true,
            "MetricName": format!("{prefix}-{name}")
        })
    };
    let mut rules = vec![json!({
        "Name": "RatePerAddress",
        "Priority": 0,
        "Action": { "Block": {} },
        "Statement": { "RateBasedStatement": {
            "Limit": s.waf_rate_limit,
            "EvaluationWindowSec": 300,
            "AggregateKeyType": "IP"
        } },
        "VisibilityConfig": visibility("rate")
    })];
    for (i, group) in MANAGED.iter().enumerate() {
        let mut statement = json!({ "VendorName": "AWS", "Name": group });
        if *group == "AWSManagedRulesCommonRuleSet" {
            // It blocks bodies over 8 KB; the runtime has its own limit
            // (`[server] max_body_bytes`), so here it only counts.
            statement["RuleActionOverrides"] = json!([
                { "Name": "SizeRestrictions_BODY", "ActionToUse": { "Count": {} } }
            ]);
        }
        rules.push(json!({
            "Name": group,
            "Priority": i + 1,
            "OverrideAction": { "None": {} },
            "Statement": { "ManagedRuleGroupStatement": statement },
            "VisibilityConfig": visibility(group)
        }));
    }
    t.add(
        "WebAcl",
        "AWS::WAFv2::WebACL",
        json!({
            "Name": format!("{prefix}-edge"),
            "Scope": "CLOUDFRONT",
            "Description": format!("Stackwright {prefix}: in front of the distribution"),
            "DefaultAction": { "Allow": {} },
            "VisibilityConfig": visibility("edge"),
            "Rules": rules
        }),
    );
}
