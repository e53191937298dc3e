//! Access logs, in the artifacts layer: one bucket per environment takes
//! the load balancer's, CloudFront's and the other buckets' access logs,
//! each under its own prefix, and forgets them after `log_retention_days`.
//! `destroy` empties it with the rest.
//!
//! It is the one bucket not encrypted with the stack's key: load balancers
//! can only write to buckets encrypted with S3's own keys (SSE-S3), and
//! CloudFront's standard logs are delivered under an ACL grant, so this
//! bucket keeps ACLs enabled (for the log deliverers only: public access is
//! blocked as everywhere).

use serde_json::{json, Value as Json};

use crate::cfn::{r, sub, tls_only, Template};
use crate::outputs::Output;
use crate::Settings;

/// Where each source's logs go in the bucket.
pub const LOAD_BALANCER_PREFIX: &str = "alb";
pub const CLOUDFRONT_PREFIX: &str = "cloudfront/";
const BUCKETS_PREFIX: &str = "s3/";

/// The log bucket's logical id (destroy empties it last).
pub const BUCKET: &str = "LogBucket";
/// The log bucket's policy: buckets that log depend on it, so S3 accepts
/// their logging configuration.
pub const POLICY: &str = "LogBucketPolicy";

/// The account Elastic Load Balancing writes access logs from, in the
/// regions that opened before August 2022; newer regions use the log
/// delivery service principal instead.
const LOAD_BALANCER_ACCOUNTS: [(&str, &str); 24] = [
    ("us-east-1", "127311923021"),
    ("us-east-2", "033677994240"),
    ("us-west-1", "027434742980"),
    ("us-west-2", "797873946194"),
    ("af-south-1", "098369216593"),
    ("ap-east-1", "754344448648"),
    ("ap-southeast-3", "589379963580"),
    ("ap-south-1", "718504428378"),
    ("ap-northeast-3", "383597477331"),
    ("ap-northeast-2", "600734575887"),
    ("ap-southeast-1", "114774131450"),
    ("ap-southeast-2", "783225319266"),
    ("ap-northeast-1", "582318560864"),
    ("ca-central-1", "985666609251"),
    ("eu-central-1", "054676820928"),
    ("eu-west-1", "156460612806"),
    ("eu-west-2", "652711504416"),
    ("eu-south-1", "635631232127"),
    ("eu-west-3", "009996457667"),
    ("eu-north-1", "897822967062"),
    ("me-south-1", "076674570225"),
    ("sa-east-1", "507241528517"),
    ("us-gov-west-1", "048591011584"),
    ("us-gov-east-1", "190560391635"),
];

/// Who writes a load balancer's access logs in `region`.
fn load_balancer_principal(region: &str) -> Json {
    match LOAD_BALANCER_ACCOUNTS.iter().find(|(r, _)| *r == region) {
        Some((_, account)) => {
            json!({ "AWS": sub(&format!("arn:${{AWS::Partition}}:iam::{account}:root")) })
        }
        None => json!({ "Service": "logdelivery.elasticloadbalancing.amazonaws.com" }),
    }
}

/// The log bucket and its policy, with its name exported.
pub(crate) fn add(t: &mut Template, s: &Settings, prefix: &str) {
    t.add(
        BUCKET,
        "AWS::S3::Bucket",
        json!({
            "VersioningConfiguration": { "Status": "Enabled" },
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [{
                    "ServerSideEncryptionByDefault": { "SSEAlgorithm": "AES256" }
                }]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": true,
                "BlockPublicPolicy": true,
                "IgnorePublicAcls": true,
                "RestrictPublicBuckets": true
            },
            "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerPreferred" }] },
            "LifecycleConfiguration": {
                "Rules": [{
                    "Id": "expire-logs",
                    "Status": "Enabled",
                    "ExpirationInDays": s.log_retention_days,
                    "NoncurrentVersionExpiration": { "NoncurrentDays": 1 },
                    "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 1 }
                }]
            }
        }),
    );
    let objects = |under: &str| sub(&format!("${{LogBucket.Arn}}/{under}*"));
    t.add(
        POLICY,
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": r(BUCKET),
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Sid": "LoadBalancerWrites",
                        "Effect": "Allow",
                        "Principal": load_balancer_principal(&s.region),
                        "Action": "s3:PutObject",
                        "Resource": sub(&format!("${{LogBucket.Arn}}/{LOAD_BALANCER_PREFIX}/AWSLogs/${{AWS::AccountId}}/*"))
                    },
                    {
                        "Sid": "BucketsWrite",
                        "Effect": "Allow",
                        "Principal": { "Service": "logging.s3.amazonaws.com" },
                        "Action": "s3:PutObject",
                        "Resource": objects(BUCKETS_PREFIX),
                        "Condition": { "StringEquals": { "aws:SourceAccount": r("AWS::AccountId") } }
                    },
                    tls_only("s3:*", crate::cfn::bucket_and_objects(BUCKET))
                ]
            }
        }),
    );
    t.output(
        Output::LogBucket.name(),
        "Bucket holding the access logs",
        r(BUCKET),
        Some(Output::LogBucket.export(prefix)),
    );
}

/// A bucket's `LoggingConfiguration`: its access logs, under its own name.
pub(crate) fn bucket_logging(bucket: &str) -> Json {
    json!({
        "DestinationBucketName": r(BUCKET),
        "LogFilePrefix": format!("{BUCKETS_PREFIX}{bucket}/")
    })
}

/// Regions whose buckets CloudFront delivers no standard logs to (the
/// opt-in regions); a distribution there logs nothing.
const NO_CLOUDFRONT_LOGS: [&str; 12] = [
    "af-south-1",
    "ap-east-1",
    "ap-south-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ca-west-1",
    "eu-central-2",
    "eu-south-1",
    "eu-south-2",
    "il-central-1",
    "me-central-1",
    "me-south-1",
];

/// Whether CloudFront can deliver standard logs to a bucket in `region`.
pub fn cloudfront_logs_reach(region: &str) -> bool {
    !NO_CLOUDFRONT_LOGS.contains(&region)
}

/// A distribution's `Logging`, into the bucket of an earlier layer.
pub(crate) fn distribution_logging(prefix: &str) -> Json {
    json!({
        "Bucket": json!({ "Fn::Sub": [
            "${Bucket}.s3.amazonaws.com",
            { "Bucket": Output::LogBucket.import(prefix) }
        ] }),
        "Prefix": CLOUDFRONT_PREFIX,
        "IncludeCookies": false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn older_regions_name_the_balancer_account_newer_ones_the_service() {
        assert_eq!(
            load_balancer_principal("eu-west-1")["AWS"]["Fn::Sub"],
            "arn:${AWS::Partition}:iam::156460612806:root"
        );
        assert_eq!(
            load_balancer_principal("eu-south-2")["Service"],
            "logdelivery.elasticloadbalancing.amazonaws.com"
        );
    }
}
