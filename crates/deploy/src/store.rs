//! What deploy stores besides stacks, and what destroy must clear before
//! CloudFormation can delete the stacks holding it: objects in the artifact
//! bucket (every version), images in the repository, the database secret
//! (CloudFormation schedules its deletion, which keeps the name taken for
//! up to 30 days), and log groups AWS services create on their own.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};

use crate::package::Package;
use crate::{aws_error, DeployError};

type Result<T> = std::result::Result<T, DeployError>;

/// Upload the package unless the bucket has it already (its key is its
/// digest). Returns whether anything was uploaded.
pub async fn upload_package(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    package: &Package,
) -> Result<bool> {
    let key = package.key();
    if s3
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
        .is_ok()
    {
        return Ok(false);
    }
    s3.put_object()
        .bucket(bucket)
        .key(&key)
        .content_type("application/zip")
        .body(ByteStream::from(package.bytes.clone()))
        .send()
        .await
        .map_err(|e| aws_error(&format!("uploading s3://{bucket}/{key}"), e))?;
    Ok(true)
}

/// A site file to upload.
pub struct SiteObject<'a> {
    pub key: &'a str,
    pub body: &'a [u8],
    pub content_type: &'a str,
    pub cache_control: &'a str,
}

/// What a site upload did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct SiteUpload {
    pub uploaded: usize,
    pub unchanged: usize,
    pub removed: usize,
    /// The keys uploaded or removed: what a cache may still hold stale.
    pub changed: Vec<String>,
}

/// Make the bucket hold exactly these files: upload the new and changed
/// ones (a file's SHA-256 is kept in its metadata), remove the others.
pub async fn sync_site(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    files: &[SiteObject<'_>],
) -> Result<SiteUpload> {
    use sha2::Digest;
    let mut outcome = SiteUpload::default();
    for f in files {
        let sha = crate::package::hex(&sha2::Sha256::digest(f.body));
        let current = s3.head_object().bucket(bucket).key(f.key).send().await;
        if let Ok(head) = current {
            if head.metadata().and_then(|m| m.get("sha256")) == Some(&sha)
                && head.cache_control() == Some(f.cache_control)
            {
                outcome.unchanged += 1;
                continue;
            }
        }
        s3.put_object()
            .bucket(bucket)
            .key(f.key)
            .content_type(f.content_type)
            .cache_control(f.cache_control)
            .metadata("sha256", sha)
            .body(ByteStream::from(f.body.to_vec()))
            .send()
            .await
            .map_err(|e| aws_error(&format!("uploading s3://{bucket}/{}", f.key), e))?;
        outcome.uploaded += 1;
        outcome.changed.push(f.key.to_string());
    }
    let wanted: std::collections::HashSet<&str> = files.iter().map(|f| f.key).collect();
    let mut token: Option<String> = None;
    loop {
        let page = s3
            .list_objects_v2()
            .bucket(bucket)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing s3://{bucket}"), e))?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if !wanted.contains(key) {
                s3.delete_object()
                    .bucket(bucket)
                    .key(key)
                    .send()
                    .await
                    .map_err(|e| aws_error(&format!("removing s3://{bucket}/{key}"), e))?;
                outcome.removed += 1;
                outcome.changed.push(key.to_string());
            }
        }
        match page.next_continuation_token() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    Ok(outcome)
}

/// Delete every object version and delete marker; returns how many.
pub async fn empty_bucket(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<usize> {
    let mut deleted = 0;
    loop {
        let page = match s3.list_object_versions().bucket(bucket).send().await {
            Ok(page) => page,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.meta().code() == Some("NoSuchBucket")) =>
            {
                return Ok(deleted)
            }
            Err(e) => return Err(aws_error(&format!("listing s3://{bucket}"), e)),
        };
        let mut ids: Vec<ObjectIdentifier> = Vec::new();
        for v in page.versions() {
            ids.push(object_id(v.key(), v.version_id())?);
        }
        for m in page.delete_markers() {
            ids.push(object_id(m.key(), m.version_id())?);
        }
        if ids.is_empty() {
            return Ok(deleted);
        }
        // DeleteObjects takes at most 1,000 keys; a page holds at most 1,000.
        for chunk in ids.chunks(1000) {
            let delete = Delete::builder()
                .set_objects(Some(chunk.to_vec()))
                .quiet(true)
                .build()
                .map_err(|e| DeployError::Aws(e.to_string()))?;
            let out = s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| aws_error(&format!("emptying s3://{bucket}"), e))?;
            if let Some(err) = out.errors().first() {
                return Err(DeployError::Aws(format!(
                    "emptying s3://{bucket}: {} {}",
                    err.key().unwrap_or_default(),
                    err.message().unwrap_or_default()
                )));
            }
            deleted += chunk.len();
        }
    }
}

fn object_id(key: Option<&str>, version: Option<&str>) -> Result<ObjectIdentifier> {
    ObjectIdentifier::builder()
        .key(key.unwrap_or_default())
        .set_version_id(version.map(str::to_string))
        .build()
        .map_err(|e| DeployError::Aws(e.to_string()))
}

pub async fn bucket_exists(s3: &aws_sdk_s3::Client, bucket: &str) -> bool {
    s3.head_bucket().bucket(bucket).send().await.is_ok()
}

/// Delete every image of the repository; returns how many.
pub async fn delete_images(ecr: &aws_sdk_ecr::Client, repository: &str) -> Result<usize> {
    let mut deleted = 0;
    loop {
        let page = match ecr.list_images().repository_name(repository).send().await {
            Ok(page) => page,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_repository_not_found_exception()) =>
            {
                return Ok(deleted)
            }
            Err(e) => return Err(aws_error(&format!("listing images of {repository}"), e)),
        };
        let ids = page.image_ids().to_vec();
        if ids.is_empty() {
            return Ok(deleted);
        }
        for chunk in ids.chunks(100) {
            ecr.batch_delete_image()
                .repository_name(repository)
                .set_image_ids(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|e| aws_error(&format!("deleting images of {repository}"), e))?;
            deleted += chunk.len();
        }
    }
}

pub async fn repository_exists(ecr: &aws_sdk_ecr::Client, repository: &str) -> bool {
    ecr.describe_repositories()
        .repository_names(repository)
        .send()
        .await
        .is_ok()
}

/// Delete the secret now, not in 7-30 days: a scheduled deletion keeps its
/// name taken, and the next deploy of the same stack would fail on it.
/// Returns whether there was one.
pub async fn delete_secret(sm: &aws_sdk_secretsmanager::Client, name: &str) -> Result<bool> {
    match sm.describe_secret().secret_id(name).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            return Ok(false)
        }
        Err(e) => return Err(aws_error(&format!("reading the secret {name}"), e)),
    }
    sm.delete_secret()
        .secret_id(name)
        .force_delete_without_recovery(true)
        .send()
        .await
        .map_err(|e| aws_error(&format!("deleting the secret {name}"), e))?;
    Ok(true)
}

/// Names of the log groups starting with `prefix`.
pub async fn log_groups(
    logs: &aws_sdk_cloudwatchlogs::Client,
    prefix: &str,
) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let page = logs
            .describe_log_groups()
            .log_group_name_prefix(prefix)
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(|e| aws_error(&format!("listing log groups {prefix}*"), e))?;
        names.extend(
            page.log_groups()
                .iter()
                .filter_map(|g| g.log_group_name().map(str::to_string)),
        );
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(names);
        }
    }
}

pub async fn delete_log_group(logs: &aws_sdk_cloudwatchlogs::Client, name: &str) -> Result<()> {
    match logs.delete_log_group().log_group_name(name).send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(aws_error(&format!("deleting the log group {name}"), e)),
    }
}
