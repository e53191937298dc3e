//! The artifacts layer: where `stackwright deploy` puts what the app layer
//! runs. A private, versioned, encrypted bucket for the runtime zip (Lambda
//! and EC2 read it), the site's bucket, the access log bucket, and on
//! Fargate the ECR repository for the runtime image.
//!
//! It is a layer of its own, deployed before the app layer, because the
//! artifacts must exist before the compute that runs them is created: an ECS
//! service created in the same stack as its repository would start tasks
//! whose image cannot have been pushed yet.

use serde_json::json;
use stackwright_stack::Stack;

use crate::cfn::{att, r, tls_only, Layer, Template};
use crate::outputs::Output;
use crate::Settings;

pub fn template(stack: &Stack, s: &Settings) -> Template {
    let prefix = s.prefix(stack);
    let mut t = Template::new(
        Layer::Artifacts,
        format!("Stackwright {prefix}: artifacts (runtime package, image repository)"),
    );
    let key = Output::KeyArn.import(&prefix);
    crate::logs::add(&mut t, s, &prefix);
    // No BucketName: CloudFormation picks a globally unique one, so two
    // accounts (or a destroyed and recreated stack) never collide.
    t.add(
        "ArtifactBucket",
        "AWS::S3::Bucket",
        crate::bucket::private(key.clone(), "ArtifactBucket"),
    )["DependsOn"] = json!(crate::logs::POLICY);
    t.add(
        "ArtifactBucketPolicy",
        "AWS::S3::BucketPolicy",
        json!({
            "Bucket": r("ArtifactBucket"),
            "PolicyDocument": {
                "Version": "2012-10-17",
                "Statement": [tls_only("s3:*", crate::cfn::bucket_and_objects("ArtifactBucket"))]
            }
        }),
    );
    t.output(
        Output::ArtifactBucket.name(),
        "Bucket holding the runtime package (written by stackwright deploy)",
        r("ArtifactBucket"),
        Some(Output::ArtifactBucket.export(&prefix)),
    );
    crate::site::add(&mut t, stack, &prefix, key.clone());
    if s.compute.needs_image() {
        t.add(
            "Repository",
            "AWS::ECR::Repository",
            json!({
                "RepositoryName": prefix.to_lowercase(),
                "ImageScanningConfiguration": { "ScanOnPush": true },
                "ImageTagMutability": "IMMUTABLE",
                "EncryptionConfiguration": { "EncryptionType": "KMS", "KmsKey": key },
                "EmptyOnDelete": !s.production
            }),
        );
        t.output(
            Output::RepositoryUri.name(),
            "Where deploy pushes the runtime image",
            att("Repository", "RepositoryUri"),
            Some(Output::RepositoryUri.export(&prefix)),
        );
    }
    t
}
