//! `[site]` on AWS, in the artifacts layer: a private bucket (never public:
//! the Mysfits write-up used a public-read bucket) read only by a CloudFront
//! distribution through origin access control, HTTPS only. `deploy` uploads
//! the site with its placeholders filled from the stack's outputs; the
//! runtime allows the distribution's origin (CORS).

use serde_json::{json, Value as Json};
use stackwright_stack::Stack;

use crate::cfn::{att, r, sub, Template};
use crate::outputs::Output;
use crate::Settings;

/// CloudFront's managed policies: CachingOptimized (honours the origin's
/// Cache-Control: pages are uploaded `no-cache`) and SecurityHeadersPolicy.
const CACHE_POLICY: &str = "658327ea-f89d-4fab-a63d-7e88639e58f6";
const SECURITY_HEADERS: &str = "67f7725c-6f97-4210-82d7-5512b31e9d03";

/// The page CloudFront serves at `/`.
pub const ROOT_OBJECT: &str = "index.html";

pub fn add(t: &mut Template, stack: &Stack, s: &Settings, prefix: &str, key: Json) {
    let Some(site) = &stack.site else {
        return;
    };
    t.add("SiteBucket", "AWS::S3::Bucket", crate::bucket::private(key));
    t.add(
        "SiteOriginAccess",
        "AWS::CloudFront::OriginAccessControl",
        json!({ "OriginAccessControlConfig": {
            "Name": format!("{prefix}-site"),
            "OriginAccessControlOriginType": "s3",
            "SigningBehavior": "always",
            "SigningProtocol": "sigv4"
        } }),
    );
    let mut distribution = json!({
        "Enabled": true,
        "Comment": format!("{prefix} site"),
        "DefaultRootObject": ROOT_OBJECT,
        "HttpVersion": "http2and3",
        "PriceClass": "PriceClass_100",
        "IPV6Enabled": true,
        "Origins": [{
            "Id": "site",
            "DomainName": att("SiteBucket", "RegionalDomainName"),
            "OriginAccessControlId": att("SiteOriginAccess", "Id"),
            "S3OriginConfig": { "OriginAccessIdentity": "" }
        }],
        "DefaultCacheBehavior": {
            "TargetOriginId": "site",
            "ViewerProtocolPolicy": "redirect-to-https",
            "AllowedMethods": ["GET", "HEAD"],
            "Compress": true,
            "CachePolicyId": CACHE_POLICY,
            "ResponseHeadersPolicyId": SECURITY_HEADERS
        }
    });
    if site.spa {
        // Browser routes are pages of the app: S3 answers 403 for them.
        distribution["CustomErrorResponses"] = json!([
            { "ErrorCode": 403, "ResponseCode": 200, "ResponsePagePath": "/index.html" },
            { "ErrorCode": 404, "ResponseCode": 200, "ResponsePagePath": "/index.html" }
        ]);
    }
    t.add(
        "SiteDistribution",
        "AWS::CloudFront::Distribution",
        json!({ "DistributionConfig": distribution }),
    );
    t.add(
        "SiteBucketPolicy",
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": r("SiteBucket"),
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "DistributionReads",
                        "Effect": "Allow",
                        "Principal": { "Service": "cloudfront.amazonaws.com" },
                        "Action": "s3:GetObject",
                        "Resource": sub("${SiteBucket.Arn}/*"),
                        "Condition": { "StringEquals": { "AWS:SourceArn": sub("arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${SiteDistribution}") } }
                    },
                    {
                        "Sid": "TlsOnly",
                        "Effect": "Deny",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [att("SiteBucket", "Arn"), sub("${SiteBucket.Arn}/*")],
                        "Condition": { "Bool": { "aws:SecureTransport": "false" } }
                    }
                ]
            }
        }),
    );
    t.output(
        Output::SiteBucket.name(),
        "Bucket holding the site (written by stackwright deploy)",
        r("SiteBucket"),
        Some(Output::SiteBucket.export(prefix)),
    );
    t.output(
        Output::SiteDistributionId.name(),
        "The site's distribution (stackwright deploy invalidates what changed)",
        r("SiteDistribution"),
        None,
    );
    t.output(
        Output::SiteUrl.name(),
        "URL of the site",
        sub("https://${SiteDistribution.DomainName}"),
        Some(Output::SiteUrl.export(prefix)),
    );
    let _ = s;
}
