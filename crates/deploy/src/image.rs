//! The runtime image of Fargate environments: the `stackwright` binary and
//! the stack folder as an OCI image, assembled without a container engine
//! (`stackwright_image`) and pushed to the environment's ECR repository.
//!
//! Three layers, least to most often changed: the binary's shared
//! libraries (with CA bundle and the runtime user), the binary, the stack
//! folder. A stack-only change uploads one small layer. The tag is derived
//! from the manifest digest, so an unchanged redeploy pushes nothing and
//! changes no stack parameter, and the repository's immutable tags hold.

use std::path::Path;

use aws_sdk_ecr::error::ProvideErrorMetadata;
use base64::Engine as _;
use stackwright_image::{
    assemble, runtime_files, Auth, Entry, Image, ImageConfig, Protocol, BOOTSTRAP_PATH, STACK_DIR,
};

use stackwright_stack::Stack;
use stackwright_synth::services::IMAGE_DIR;

use crate::package::{stack_files, PackageError};

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error(transparent)]
    Image(#[from] stackwright_image::ImageError),
    #[error("getting an ECR sign-in token: {0}")]
    Token(String),
    #[error("invalid repository URI {0:?} (expected REGISTRY/REPOSITORY)")]
    RepositoryUri(String),
    #[error("--registry {0}: only a registry on this machine (localhost, 127.0.0.1, [::1]) can replace ECR; it is reached over plain HTTP without credentials")]
    RegistryOverride(String),
}

/// The runtime image for a stack folder. CPU-heavy (every byte of the
/// binary is compressed and hashed): call it from a blocking thread.
pub fn build(binary: &Path, stack: &Stack, port: u16) -> Result<Image, ImageError> {
    let stack: Vec<Entry> = stack_files(stack)?
        .into_iter()
        .map(|f| Entry::host_file(format!("{STACK_DIR}/{}", f.relative), f.source, 0o644))
        .collect();
    let config = ImageConfig {
        entrypoint: vec![BOOTSTRAP_PATH.to_string()],
        // The task definition gives the same command; this default makes
        // the image runnable on its own too.
        cmd: ["up", STACK_DIR, "--host", "0.0.0.0"]
            .map(str::to_string)
            .to_vec(),
        env: vec![(
            "SSL_CERT_FILE".to_string(),
            "/etc/ssl/certs/ca-certificates.crt".to_string(),
        )],
        user: Some(format!(
            "{}:{}",
            stackwright_image::RUNTIME_UID,
            stackwright_image::RUNTIME_GID
        )),
        working_dir: Some(STACK_DIR.to_string()),
        exposed_ports: vec![port],
        ..ImageConfig::default()
    };
    Ok(assemble(
        vec![
            runtime_files(binary)?,
            vec![Entry::host_file(BOOTSTRAP_PATH, binary, 0o755)],
            stack,
        ],
        config,
    )?)
}

/// A service's image, as built for a deploy.
pub struct ServiceImage {
    pub service: String,
    pub image: Image,
}

/// A service's image: `base` (or nothing, for a static binary) and the
/// service's folder at [`IMAGE_DIR`], run as the runtime's unprivileged
/// user in that folder.
pub fn service(
    service: &stackwright_stack::Service,
    files: Vec<(crate::package::StackFile, u32)>,
    base: Option<&stackwright_image::Base>,
    port: u16,
) -> Result<ServiceImage, ImageError> {
    let entries: Vec<Entry> = files
        .into_iter()
        .map(|(f, mode)| {
            let inside = std::path::Path::new(&f.relative)
                .strip_prefix(&service.dir)
                .map(|p| p.to_string_lossy().replace('\\', "/"))
                .unwrap_or(f.relative.clone());
            Entry::host_file(format!("{IMAGE_DIR}/{inside}"), f.source, mode)
        })
        .collect();
    let user = format!(
        "{}:{}",
        stackwright_image::RUNTIME_UID,
        stackwright_image::RUNTIME_GID
    );
    let label = (
        "org.opencontainers.image.title".to_string(),
        service.name.clone(),
    );
    let image = match base {
        Some(base) => stackwright_image::assemble_over(
            base,
            vec![entries],
            &stackwright_image::Run {
                cmd: service.command.clone(),
                working_dir: IMAGE_DIR.to_string(),
                user,
                port,
                labels: vec![label],
            },
        )?,
        None => assemble(
            vec![entries],
            ImageConfig {
                cmd: service.command.clone(),
                user: Some(user),
                working_dir: Some(IMAGE_DIR.to_string()),
                exposed_ports: vec![port],
                labels: [label].into_iter().collect(),
                ..ImageConfig::default()
            },
        )?,
    };
    Ok(ServiceImage {
        service: service.name.clone(),
        image,
    })
}

/// Where an image goes: `registry/repository`, and how to sign in.
#[derive(Debug)]
pub struct Destination {
    pub registry: String,
    pub repository: String,
    auth: Auth,
    protocol: Protocol,
}

impl Destination {
    /// The environment's ECR repository (the artifacts layer's
    /// `RepositoryUri` output), signed in with a GetAuthorizationToken token.
    pub async fn ecr(ecr: &aws_sdk_ecr::Client, repository_uri: &str) -> Result<Self, ImageError> {
        let (registry, repository) = split_uri(repository_uri)?;
        let token = ecr.get_authorization_token().send().await.map_err(|e| {
            ImageError::Token(match e.as_service_error() {
                Some(s) => format!(
                    "{}: {}",
                    s.code().unwrap_or("Error"),
                    s.message().unwrap_or_default()
                ),
                None => aws_sdk_ecr::error::DisplayErrorContext(&e).to_string(),
            })
        })?;
        let encoded = token
            .authorization_data()
            .first()
            .and_then(|d| d.authorization_token())
            .ok_or_else(|| ImageError::Token("the answer holds no token".to_string()))?;
        // "AWS:<password>", base64: the token is HTTP Basic credentials.
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| ImageError::Token("the token is not base64 text".to_string()))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| ImageError::Token("the token is not USER:PASSWORD".to_string()))?;
        Ok(Destination {
            registry,
            repository,
            auth: Auth::Basic {
                user: user.to_string(),
                password: password.to_string(),
            },
            protocol: Protocol::Https,
        })
    }

    /// A registry on this machine standing in for ECR (with an emulator,
    /// whose repository URIs point nowhere): the repository keeps the name
    /// ECR would use, the registry is `host:port`, reached over plain HTTP.
    pub fn local(registry: &str, repository_uri: &str) -> Result<Self, ImageError> {
        if !stackwright_image::is_loopback(registry) {
            return Err(ImageError::RegistryOverride(registry.to_string()));
        }
        let (_, repository) = split_uri(repository_uri)?;
        Ok(Destination {
            registry: registry.to_string(),
            repository,
            auth: Auth::Anonymous,
            protocol: Protocol::Http,
        })
    }

    /// Pushes the image under its content tag; returns the manifest digest.
    pub async fn push(&self, image: &Image) -> Result<String, ImageError> {
        Ok(stackwright_image::push(
            image,
            &self.registry,
            &self.repository,
            &image.tag(),
            self.auth.clone(),
            self.protocol,
        )
        .await?)
    }
}

fn split_uri(uri: &str) -> Result<(String, String), ImageError> {
    match uri.split_once('/') {
        Some((registry, repository)) if !registry.is_empty() && !repository.is_empty() => {
            Ok((registry.to_string(), repository.to_string()))
        }
        _ => Err(ImageError::RepositoryUri(uri.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_uris() {
        assert_eq!(
            split_uri("1.dkr.ecr.eu-west-1.amazonaws.com/todo-dev").unwrap(),
            (
                "1.dkr.ecr.eu-west-1.amazonaws.com".to_string(),
                "todo-dev".to_string()
            )
        );
        assert!(split_uri("todo-dev").is_err());
        assert!(split_uri("/todo").is_err());
    }

    #[test]
    fn only_a_local_registry_replaces_ecr() {
        let uri = "1.dkr.ecr.eu-west-1.amazonaws.com/todo-dev";
        let local = Destination::local("127.0.0.1:5000", uri).unwrap();
        assert_eq!(local.repository, "todo-dev");
        assert_eq!(local.protocol, Protocol::Http);
        let err = Destination::local("registry.example.com:5000", uri).unwrap_err();
        assert!(err.to_string().contains("this machine"), "{err}");
    }
}
