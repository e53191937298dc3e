//! The one shape of bucket a stack makes (artifacts, site).

use serde_json::{json, Value as Json};

/// A bucket only the stack writes and reads: all public access blocked,
/// ACLs off, versioned, encrypted with the stack's key (bucket keys save
/// KMS calls), old versions expire (they are only needed for a rollback),
/// and its access is logged to the log bucket under its logical `id`.
pub(crate) fn private(key: Json, id: &str) -> Json {
    json!({
        "LoggingConfiguration": crate::logs::bucket_logging(id),
        "VersioningConfiguration": { "Status": "Enabled" },
        "BucketEncryption": {
            "ServerSideEncryptionConfiguration": [{
                "ServerSideEncryptionByDefault": { "SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key },
                "BucketKeyEnabled": true
            }]
        },
        "PublicAccessBlockConfiguration": {
            "BlockPublicAcls": true,
            "BlockPublicPolicy": true,
            "IgnorePublicAcls": true,
            "RestrictPublicBuckets": true
        },
        "OwnershipControls": { "Rules": [{ "ObjectOwnership": "BucketOwnerEnforced" }] },
        "LifecycleConfiguration": {
            "Rules": [{
                "Id": "expire-old-versions",
                "Status": "Enabled",
                "NoncurrentVersionExpiration": { "NoncurrentDays": 30 },
                "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 1 }
            }]
        }
    })
}
