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
use stackwright_synth::outputs::{Parameter, ServiceNames};
use stackwright_synth::{Layer, Settings, Template};

use crate::package::{self, Package};
use crate::ports::Ui;
use crate::{image, DeployError, Result};

pub struct Artifacts {
    pub package: Package,
    pub image: Option<Image>,
    /// On Fargate, each service's image: its folder over its base.
    pub services: Vec<ServiceImage>,
}

pub use crate::image::ServiceImage;

impl Artifacts {
    /// Package `binary` with the stack folder; build the image when the
    /// environment's compute kind runs one.
    pub async fn build(
        binary: &Path,
        stack: &Stack,
        settings: &Settings,
        ui: &impl Ui,
    ) -> Result<Artifacts> {
        // Lambda and EC2 run the services from the package; Fargate from their images.
        let images = settings.compute.needs_image();
        let package = package::runtime_zip(binary, stack, !images)?;
        let (image, services) = if images {
            let mut services = Vec::new();
            // Services often share a base: each is pulled once.
            let mut bases = std::collections::HashMap::new();
            for (service, port) in stackwright_synth::services::ports(stack, settings) {
                let base = match &service.base {
                    Some(reference) => {
                        if !bases.contains_key(reference) {
                            ui.note(&format!("pulling the base image {reference}"));
                            let pulled = stackwright_image::pull(reference)
                                .await
                                .map_err(image::ImageError::from)?;
                            bases.insert(reference.clone(), pulled);
                        }
                        Some(bases[reference].clone())
                    }
                    None => None,
                };
                services.push(build_service_image(stack, service, base, port, ui).await?);
            }
            (
                Some(build_image(binary, stack, settings.port, ui).await?),
                services,
            )
        } else {
            (None, Vec::new())
        };
        Ok(Artifacts {
            package,
            image,
            services,
        })
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
        for service in &self.services {
            hasher.update(service.image.digest().as_bytes());
        }
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
        for service in &self.services {
            params.push((
                ServiceNames::of(&service.service).image_digest(),
                service.image.digest().to_string(),
            ));
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

/// A service's image: its base (pulled from its registry), its folder
/// (after `build`) as one more layer. Assembled on a blocking thread.
async fn build_service_image(
    stack: &Stack,
    service: &stackwright_stack::Service,
    base: Option<stackwright_image::Base>,
    port: u16,
    ui: &impl Ui,
) -> Result<ServiceImage> {
    let started = Instant::now();
    let files = package::service_files(stack, service)?;
    let service = service.clone();
    let built =
        tokio::task::spawn_blocking(move || image::service(&service, files, base.as_ref(), port))
            .await
            .map_err(|e| DeployError::Stopped(e.to_string()))??;
    ui.note(&format!(
        "service {} image {} ({} MB, {} layers, {:.1}s)",
        built.service,
        built.image.tag(),
        built.image.size() / 1_000_000,
        built.image.layers().len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(built)
}
