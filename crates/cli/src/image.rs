//! The runtime image of Fargate environments, as `deploy` and `diff` use
//! it: built once per command (on a blocking thread: it compresses and
//! hashes the whole binary), pushed after the artifacts layer has created
//! the repository and before the app layer names the image by its tag.

use std::path::{Path, PathBuf};

use anyhow::Context;
use indexmap::IndexMap;
use stackwright_deploy::image::{self, Destination};
use stackwright_deploy::Aws;
use stackwright_image::Image;
use stackwright_stack::Stack;

/// Build the image of `binary` running `stack`.
pub async fn build(binary: &Path, stack: &Stack, port: u16) -> anyhow::Result<Image> {
    let (binary, stack): (PathBuf, Stack) = (binary.into(), stack.clone());
    let started = std::time::Instant::now();
    eprintln!("building the runtime image");
    let image = tokio::task::spawn_blocking(move || image::build(&binary, &stack, port))
        .await
        .context("the image build stopped")??;
    eprintln!(
        "runtime image {} ({} MB, {} layers, {:.1}s)",
        image.tag(),
        image.size() / 1_000_000,
        image.layers().len(),
        started.elapsed().as_secs_f64()
    );
    Ok(image)
}

/// Push the image to the environment's repository (the artifacts layer's
/// `RepositoryUri` output), or to `registry` standing in for ECR.
/// Returns the manifest digest.
pub async fn publish(
    aws: &Aws,
    image: &Image,
    outputs: &IndexMap<String, String>,
    registry: Option<&str>,
) -> anyhow::Result<String> {
    let uri = outputs
        .get("RepositoryUri")
        .context("the artifacts layer has no RepositoryUri output")?;
    let destination = match registry {
        Some(registry) => Destination::local(registry, uri)?,
        None => Destination::ecr(&aws.ecr(), uri).await?,
    };
    let digest = destination.push(image).await?;
    eprintln!(
        "runtime image pushed: {}/{}:{} ({digest})",
        destination.registry,
        destination.repository,
        image.tag()
    );
    Ok(digest)
}
