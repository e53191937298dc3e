//! `[site]` on AWS, in the artifacts layer: a private bucket (never public:
//! the Mysfits write-up used a public-read bucket). The edge layer's
//! distribution reads it through origin access control, beside the API on
//! the same origin; `deploy` uploads the site with its placeholders filled.

use serde_json::{json, Value as Json};
use stackwright_stack::Stack;

use crate::cfn::{att, r, Template};
use crate::outputs::Output;

/// The page CloudFront serves at `/`.
pub const ROOT_OBJECT: &str = "index.html";

pub fn add(t: &mut Template, stack: &Stack, prefix: &str, key: Json) {
    if stack.site.is_none() {
        return;
    }
    // Its access logs may be written only once the log bucket admits them.
    t.add(
        "SiteBucket",
        "AWS::S3::Bucket",
        crate::bucket::private(key, "SiteBucket"),
    )["DependsOn"] = json!(crate::logs::POLICY);
    t.output(
        Output::SiteBucket.name(),
        "Bucket holding the site (written by stackwright deploy)",
        r("SiteBucket"),
        Some(Output::SiteBucket.export(prefix)),
    );
    t.output(
        Output::SiteBucketDomain.name(),
        "The site bucket's regional name (the edge's origin)",
        att("SiteBucket", "RegionalDomainName"),
        Some(Output::SiteBucketDomain.export(prefix)),
    );
}
