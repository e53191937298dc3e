//! The site's CloudFront cache after a deploy: the paths of the files that
//! changed are invalidated, once per deploy, so nobody is served a stale
//! page or script for the minutes a cached copy would otherwise live.

use std::time::Duration;

use crate::{aws_error, Result};

/// An invalidation deploy asked for, and where it got to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Invalidation {
    pub id: String,
    pub paths: Vec<String>,
    /// CloudFront's status: `Completed`, or `InProgress` when waiting ran out.
    pub status: String,
}

/// More changed files than this are invalidated as `/*`: CloudFront counts
/// a wildcard as one path.
const MOST_PATHS: usize = 20;

/// The viewer paths that serve `changed` (bucket keys): each key's path,
/// and `/` as well for the root page `root`. Sorted; empty when nothing
/// changed.
pub fn paths(changed: &[String], root: &str) -> Vec<String> {
    let mut paths: Vec<String> = changed.iter().map(|k| format!("/{k}")).collect();
    if changed.iter().any(|k| k == root) {
        paths.push("/".to_string());
    }
    if paths.len() > MOST_PATHS {
        return vec!["/*".to_string()];
    }
    paths.sort();
    paths.dedup();
    paths
}

/// Invalidate `paths` of `distribution` and wait up to `wait` for it to
/// complete, asking every `poll`.
pub async fn invalidate(
    cf: &aws_sdk_cloudfront::Client,
    distribution: &str,
    paths: &[String],
    (wait, poll): (Duration, Duration),
) -> Result<Invalidation> {
    use aws_sdk_cloudfront::types::{InvalidationBatch, Paths};
    let doing = format!("invalidating the site's cache ({distribution})");
    let batch = InvalidationBatch::builder()
        .paths(
            Paths::builder()
                .quantity(paths.len() as i32)
                .set_items(Some(paths.to_vec()))
                .build()
                .map_err(|e| crate::DeployError::Aws(format!("{doing}: {e}")))?,
        )
        // Unique per request: the same paths again are a new invalidation.
        .caller_reference(format!(
            "stackwright-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ))
        .build()
        .map_err(|e| crate::DeployError::Aws(format!("{doing}: {e}")))?;
    let made = cf
        .create_invalidation()
        .distribution_id(distribution)
        .invalidation_batch(batch)
        .send()
        .await
        .map_err(|e| aws_error(&doing, e))?;
    let invalidation = made.invalidation();
    let id = invalidation.map(|i| i.id().to_string()).unwrap_or_default();
    let mut status = invalidation
        .map(|i| i.status().to_string())
        .unwrap_or_default();
    let deadline = tokio::time::Instant::now() + wait;
    while status != "Completed" && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(poll).await;
        status = cf
            .get_invalidation()
            .distribution_id(distribution)
            .id(&id)
            .send()
            .await
            .map_err(|e| aws_error(&doing, e))?
            .invalidation()
            .map(|i| i.status().to_string())
            .unwrap_or_default();
    }
    Ok(Invalidation {
        id,
        paths: paths.to_vec(),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_changed_file_is_its_path_and_the_root_page_is_also_slash() {
        assert_eq!(paths(&keys(&["app.js"]), "index.html"), ["/app.js"]);
        assert_eq!(
            paths(&keys(&["index.html", "style.css"]), "index.html"),
            ["/", "/index.html", "/style.css"]
        );
        assert!(paths(&[], "index.html").is_empty());
        let many: Vec<String> = (0..30).map(|i| format!("f{i}.js")).collect();
        assert_eq!(paths(&many, "index.html"), ["/*"]);
    }
}
