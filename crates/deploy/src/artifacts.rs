//! What a deploy ships besides templates: the runtime package (Lambda,
//! EC2) and, where the compute kind runs an image, the runtime image. Both
//! are built before any stack is touched, so an artifact that cannot be
//! built stops the deploy with nothing changed, and a diff knows the
//! parameters a deploy would pass.

use std::path::Path;
use std::time::Instant;

use sha2::{Digest, Sha256};
use stackwright_image::Image;
use stackwright_stack::Stack;
use stackwright_synth::outputs::Parameter;
use stackwright_synth::{Layer, Settings, Template};

use crate::package::{self, Package};
use crate::ports::Ui;
use crate::{image, DeployError, Result};

pub struct Artifacts {
    pub package: Package,
    pub image: Option<Image>,
}

impl Artifacts {
    /// Package `binary` with the stack folder; build the image when the
    /// environment's compute kind runs one.
    pub async fn build(
        binary: &Path,
        stack: &Stack,
        settings: &Settings,
        ui: &impl Ui,
    ) -> Result<Artifacts> {
        let package = package::runtime_zip(binary, stack)?;
        let image = if settings.compute.needs_image() {
            Some(build_image(binary, stack, settings.port, ui).await?)
        } else {
            None
        };
        Ok(Artifacts { package, image })
    }

    /// The app layer's parameters. `DeployId` changes exactly when what
    /// runs changes (package, image, the app or data template), so the
    /// migration runs once per real deploy and an unchanged redeploy
    /// changes nothing.
    pub fn app_parameters(&self, templates: &[Template]) -> Vec<(String, String)> {
        let image_tag = self.image.as_ref().map(Image::tag);
        let mut hasher = Sha256::new();
        hasher.update(self.package.sha256.as_bytes());
        hasher.update(image_tag.as_deref().unwrap_or_default().as_bytes());
        for t in templates {
            if matches!(t.layer, Layer::Data | Layer::App) {
                hasher.update(t.render().as_bytes());
            }
        }
        let deploy_id = package::hex(&hasher.finalize())[..16].to_string();
        let mut params = vec![
            (Parameter::ArtifactKey.to_string(), self.package.key()),
            (Parameter::DeployId.to_string(), deploy_id),
        ];
        if let Some(tag) = image_tag {
            params.push((Parameter::ImageTag.to_string(), tag));
        }
        params
    }

    /// A layer's parameters: only the app layer takes any.
    pub fn parameters(&self, layer: Layer, templates: &[Template]) -> Vec<(String, String)> {
        if layer == Layer::App {
            self.app_parameters(templates)
        } else {
            Vec::new()
        }
    }
}

/// On a blocking thread: it compresses and hashes the whole binary.
async fn build_image(binary: &Path, stack: &Stack, port: u16, ui: &impl Ui) -> Result<Image> {
    let (binary, stack) = (binary.to_path_buf(), stack.clone());
    let started = Instant::now();
    ui.note("building the runtime image");
    let image = tokio::task::spawn_blocking(move || image::build(&binary, &stack, port))
        .await
        .map_err(|e| DeployError::Stopped(e.to_string()))??;
    ui.note(&format!(
        "runtime image {} ({} MB, {} layers, {:.1}s)",
        image.tag(),
        image.size() / 1_000_000,
        image.layers().len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(image)
}
