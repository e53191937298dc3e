//! The one shape of bucket a stack makes (artifacts, site).

use serde_json::{json, Value as Json};

/// A bucket only the stack writes and reads: all public access blocked,
/// ACLs off, versioned, encrypted with the stack's key (bucket keys save
/// KMS calls), old versions expire (they are only needed for a rollback).
pub(crate) fn private(key: Json) -> Json {
    json!({
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
