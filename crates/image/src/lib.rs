//! OCI container images without a container engine.
//!
//! The AWS app layer runs the `stackwright` binary as a container on Fargate.
//! Building that image must not need a Docker daemon (CI and developer
//! machines have none) nor a base image download (the binary's own shared
//! libraries are enough, as in distroless/cc). So this crate:
//!
//! - collects what a dynamically linked binary needs to run in an otherwise
//!   empty root file system ([`runtime_files`]);
//! - assembles layers of [`Entry`]s into an OCI image manifest v1 with its
//!   config and gzip'd tar layers ([`assemble`]), byte for byte
//!   deterministic, so the same inputs give the same digest and so the same
//!   immutable tag ([`Image::tag`]): a redeploy with nothing changed pushes
//!   nothing and changes no stack parameter;
//! - pushes the image to a registry with an OCI distribution client
//!   ([`push`]), skipping blobs the registry already has.
//!
//! Assembling compresses and hashes every byte of every layer: for a large
//! binary that is seconds of CPU, so async callers should run [`assemble`]
//! on a blocking thread.

#![warn(clippy::too_many_lines)]

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use bytes::Bytes;
use serde::Serialize;
use sha2::{Digest, Sha256};

mod base;
mod layer;
mod push;
mod runtime;

pub use base::{assemble_over, pull, Base, Run};
pub use push::{is_loopback, push, Auth, Protocol};
pub use runtime::{runtime_files, RUNTIME_GID, RUNTIME_UID, RUNTIME_USER};

/// Where the `stackwright` binary goes in the runtime image (the image's
/// entrypoint; the same path as on EC2 instances and in the Lambda package).
pub const BOOTSTRAP_PATH: &str = "/opt/stackwright/bootstrap";
/// Where the stack folder goes in the runtime image.
pub const STACK_DIR: &str = "/opt/stackwright/stack";

/// Media type of the manifests [`assemble`] produces.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Media type of the image config.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.oci.image.config.v1+json";
/// Media type of the layers.
pub const LAYER_MEDIA_TYPE: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The one timestamp an image carries: the config's `created` field is
/// optional in the OCI spec but some tools show it, and any real clock
/// reading would make two builds of the same inputs differ.
const CREATED: &str = "1970-01-01T00:00:00Z";

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read {path}: {reason}")]
    Read {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("invalid path {path:?} in the image: {reason}")]
    Path { path: String, reason: &'static str },
    #[error("{path} appears more than once in one layer")]
    Duplicate { path: String },
    #[error("{path} is a parent directory of other entries in its layer but is not a directory")]
    NotADirectory { path: String },
    #[error("invalid image config: {0}")]
    Config(String),
    #[error("cannot collect the runtime files of {binary}: {reason}")]
    Binary { binary: PathBuf, reason: String },
    #[error("cannot write a layer: {0}")]
    Layer(std::io::Error),
    /// A registry operation failed. The message never contains the password.
    #[error("{operation} {registry}/{repository}: {message}")]
    Registry {
        operation: &'static str,
        registry: String,
        repository: String,
        message: String,
    },
}

/// What a path in the image holds.
#[derive(Clone, PartialEq, Eq)]
pub enum Contents {
    /// A regular file with these bytes.
    Bytes(Vec<u8>),
    /// A regular file with the contents of this host file, read (following
    /// symlinks) when the image is assembled.
    HostFile(PathBuf),
    /// A directory.
    Directory,
    /// A symbolic link to this target (absolute or relative, as in `ln -s`).
    Symlink(String),
}

impl fmt::Debug for Contents {
    // Not derived: a binary's bytes would flood any debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contents::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Contents::HostFile(p) => f.debug_tuple("HostFile").field(p).finish(),
            Contents::Directory => f.write_str("Directory"),
            Contents::Symlink(t) => f.debug_tuple("Symlink").field(t).finish(),
        }
    }
}

/// One file, directory or symlink of a layer. Every entry is owned by root
/// (uid and gid 0) with a zero modification time: ownership and times are
/// not inputs, so they cannot make two builds differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Absolute, normalised path inside the image (`/etc/passwd`): no `.`,
    /// `..`, empty components or trailing slash.
    pub path: String,
    pub contents: Contents,
    /// Permission bits, including setuid/setgid/sticky (`0o1777` for /tmp).
    /// Ignored for symlinks, which are always 0o777.
    pub mode: u32,
}

impl Entry {
    pub fn bytes(path: impl Into<String>, data: impl Into<Vec<u8>>, mode: u32) -> Self {
        Entry {
            path: path.into(),
            contents: Contents::Bytes(data.into()),
            mode,
        }
    }

    pub fn host_file(path: impl Into<String>, source: impl Into<PathBuf>, mode: u32) -> Self {
        Entry {
            path: path.into(),
            contents: Contents::HostFile(source.into()),
            mode,
        }
    }

    pub fn directory(path: impl Into<String>, mode: u32) -> Self {
        Entry {
            path: path.into(),
            contents: Contents::Directory,
            mode,
        }
    }

    pub fn symlink(path: impl Into<String>, target: impl Into<String>) -> Self {
        Entry {
            path: path.into(),
            contents: Contents::Symlink(target.into()),
            mode: 0o777,
        }
    }
}

/// How a container of the image runs: the `config` part of the OCI image
/// config, plus the platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// The executable and its fixed arguments (`["/opt/stackwright/bootstrap"]`).
    pub entrypoint: Vec<String>,
    /// Default arguments after the entrypoint, replaced by a task's command.
    pub cmd: Vec<String>,
    /// Environment variables, in this order.
    pub env: Vec<(String, String)>,
    /// `uid`, `uid:gid` or a name from the image's /etc/passwd.
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// TCP ports the container listens on (documentation for tools; the
    /// task definition's port mappings are what open them).
    pub exposed_ports: Vec<u16>,
    pub labels: BTreeMap<String, String>,
    /// OCI/Go names: `linux`, `amd64`.
    pub os: String,
    pub architecture: String,
}

impl Default for ImageConfig {
    /// Nothing to run yet, on linux/amd64 (what Fargate runs the app on).
    fn default() -> Self {
        ImageConfig {
            entrypoint: Vec::new(),
            cmd: Vec::new(),
            env: Vec::new(),
            user: None,
            working_dir: None,
            exposed_ports: Vec::new(),
            labels: BTreeMap::new(),
            os: "linux".to_string(),
            architecture: "amd64".to_string(),
        }
    }
}

/// One gzip'd tar layer of an [`Image`].
#[derive(Clone, PartialEq, Eq)]
pub struct Layer {
    data: Bytes,
    digest: String,
    diff_id: String,
    /// Ours are gzip'd tars; a base image's may be compressed otherwise.
    media_type: String,
}

impl Layer {
    /// The compressed blob as pushed.
    pub fn data(&self) -> &Bytes {
        &self.data
    }

    /// `sha256:...` of the compressed blob (its name in the registry).
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// `sha256:...` of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub fn diff_id(&self) -> &str {
        &self.diff_id
    }

    pub fn size(&self) -> u64 {
        self.data.len() as u64
    }

    pub fn media_type(&self) -> &str {
        &self.media_type
    }
}

impl fmt::Debug for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Layer")
            .field("digest", &self.digest)
            .field("diff_id", &self.diff_id)
            .field("size", &self.data.len())
            .finish()
    }
}

/// An assembled image: manifest, config and layers, ready to push.
#[derive(Clone, PartialEq, Eq)]
pub struct Image {
    manifest: Bytes,
    digest: String,
    config: Bytes,
    config_digest: String,
    layers: Vec<Layer>,
}

impl Image {
    /// The manifest digest, `sha256:<64 hex>`: what `repository@digest`
    /// pulls, and what the registry reports after a push.
    pub fn digest(&self) -> &str {
        &self.digest
    }

    /// An immutable tag derived from the digest, `sha256-<first 16 hex>`:
    /// tags cannot contain `:`, and 64 bits are plenty to tell one
    /// repository's images apart. Same inputs, same tag.
    pub fn tag(&self) -> String {
        let hex = self.digest.trim_start_matches("sha256:");
        format!("sha256-{}", &hex[..16])
    }

    /// The manifest as pushed (its sha256 is [`Image::digest`]).
    pub fn manifest(&self) -> &Bytes {
        &self.manifest
    }

    /// The image config as pushed.
    pub fn config(&self) -> &Bytes {
        &self.config
    }

    pub fn config_digest(&self) -> &str {
        &self.config_digest
    }

    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Bytes a first push uploads: config plus compressed layers.
    pub fn size(&self) -> u64 {
        self.config.len() as u64 + self.layers.iter().map(Layer::size).sum::<u64>()
    }
}

impl fmt::Debug for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Image")
            .field("digest", &self.digest)
            .field("config_digest", &self.config_digest)
            .field("layers", &self.layers)
            .finish()
    }
}

/// Assembles an image from layers (lowest first) and how to run it.
///
/// Within a layer, entries may come in any order: they are sorted by path,
/// and missing parent directories are added (mode 0755), so the tar is the
/// same whatever order the caller listed them in. Later layers override
/// earlier ones path by path, as in any OCI image; deleting a lower layer's
/// file (a whiteout) is not supported.
///
/// Deterministic: the same entries (by path, contents and mode, wherever a
/// host file's bytes come from and whatever its timestamps) and config give
/// byte-identical layers, config and manifest.
pub fn assemble(layers: Vec<Vec<Entry>>, config: ImageConfig) -> Result<Image, ImageError> {
    let layers = layers
        .into_iter()
        .map(layer::build)
        .collect::<Result<Vec<_>, _>>()?;
    let config = config_json(&config, &layers)?;
    finish(layers, config)
}

/// The image of these layers and this config file: its manifest.
pub(crate) fn finish(layers: Vec<Layer>, config: Vec<u8>) -> Result<Image, ImageError> {
    let config_digest = sha256(&config);
    let manifest = Manifest {
        schema_version: 2,
        media_type: MANIFEST_MEDIA_TYPE,
        config: Descriptor {
            media_type: CONFIG_MEDIA_TYPE,
            digest: &config_digest,
            size: config.len() as u64,
        },
        layers: layers
            .iter()
            .map(|l| Descriptor {
                media_type: &l.media_type,
                digest: &l.digest,
                size: l.size(),
            })
            .collect(),
    };
    let manifest = to_json(&manifest)?;
    Ok(Image {
        digest: sha256(&manifest),
        manifest: Bytes::from(manifest),
        config: Bytes::from(config),
        config_digest,
        layers,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Manifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    config: Descriptor<'a>,
    layers: Vec<Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    media_type: &'a str,
    digest: &'a str,
    size: u64,
}

#[derive(Serialize)]
struct ConfigFile<'a> {
    created: &'static str,
    architecture: &'a str,
    os: &'a str,
    config: RunConfig<'a>,
    rootfs: RootFs,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct RunConfig<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    exposed_ports: BTreeMap<String, Empty>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env: Vec<String>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    entrypoint: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    cmd: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    working_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: &'a BTreeMap<String, String>,
}

/// `{}`: the OCI config's sets (exposed ports) are maps to empty objects.
#[derive(Serialize)]
struct Empty {}

#[derive(Serialize)]
struct RootFs {
    #[serde(rename = "type")]
    kind: &'static str,
    diff_ids: Vec<String>,
}

fn config_json(config: &ImageConfig, layers: &[Layer]) -> Result<Vec<u8>, ImageError> {
    let mut env = Vec::with_capacity(config.env.len());
    for (key, value) in &config.env {
        if key.is_empty() || key.contains('=') || key.contains('\0') {
            return Err(ImageError::Config(format!(
                "invalid environment variable name {key:?}"
            )));
        }
        env.push(format!("{key}={value}"));
    }
    if config.os.is_empty() || config.architecture.is_empty() {
        return Err(ImageError::Config(
            "the os and architecture must be set".to_string(),
        ));
    }
    let file = ConfigFile {
        created: CREATED,
        architecture: &config.architecture,
        os: &config.os,
        config: RunConfig {
            user: config.user.as_deref(),
            exposed_ports: config
                .exposed_ports
                .iter()
                .map(|p| (format!("{p}/tcp"), Empty {}))
                .collect(),
            env,
            entrypoint: &config.entrypoint,
            cmd: &config.cmd,
            working_dir: config.working_dir.as_deref(),
            labels: &config.labels,
        },
        rootfs: RootFs {
            kind: "layers",
            diff_ids: layers.iter().map(|l| l.diff_id.clone()).collect(),
        },
    };
    to_json(&file)
}

fn to_json(value: &impl Serialize) -> Result<Vec<u8>, ImageError> {
    // Compact and in struct field order: the bytes are what is hashed.
    serde_json::to_vec(value).map_err(|e| ImageError::Config(e.to_string()))
}

pub(crate) fn sha256(data: &[u8]) -> String {
    hex_digest(&Sha256::digest(data))
}

pub(crate) fn hex_digest(hash: &[u8]) -> String {
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in hash {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Vec<Vec<Entry>> {
        vec![vec![
            Entry::bytes("/etc/hello", "hi\n", 0o644),
            Entry::directory("/tmp", 0o1777),
        ]]
    }

    #[test]
    fn manifest_names_config_and_layers_by_digest() {
        let image = assemble(small(), ImageConfig::default()).unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(image.manifest()).unwrap();
        assert_eq!(manifest["schemaVersion"], 2);
        assert_eq!(manifest["mediaType"], MANIFEST_MEDIA_TYPE);
        assert_eq!(manifest["config"]["digest"], sha256(image.config()));
        assert_eq!(
            manifest["layers"][0]["digest"],
            sha256(image.layers()[0].data())
        );
        assert_eq!(image.digest(), sha256(image.manifest()));
        assert_eq!(image.tag().len(), "sha256-".len() + 16);
        assert!(image.digest()[7..].starts_with(&image.tag()[7..]));
    }

    #[test]
    fn config_carries_how_to_run() {
        let config = ImageConfig {
            entrypoint: vec![BOOTSTRAP_PATH.to_string()],
            cmd: vec!["up".to_string()],
            env: vec![("A".to_string(), "1=2".to_string())],
            user: Some("65532:65532".to_string()),
            working_dir: Some("/".to_string()),
            exposed_ports: vec![8080],
            labels: BTreeMap::from([("k".to_string(), "v".to_string())]),
            ..ImageConfig::default()
        };
        let image = assemble(small(), config).unwrap();
        let c: serde_json::Value = serde_json::from_slice(image.config()).unwrap();
        assert_eq!(c["created"], CREATED);
        assert_eq!(c["os"], "linux");
        assert_eq!(c["architecture"], "amd64");
        assert_eq!(c["config"]["Entrypoint"][0], BOOTSTRAP_PATH);
        assert_eq!(c["config"]["Cmd"][0], "up");
        assert_eq!(c["config"]["Env"][0], "A=1=2");
        assert_eq!(c["config"]["User"], "65532:65532");
        assert_eq!(c["config"]["WorkingDir"], "/");
        assert!(c["config"]["ExposedPorts"]["8080/tcp"].is_object());
        assert_eq!(c["config"]["Labels"]["k"], "v");
        assert_eq!(c["rootfs"]["type"], "layers");
        assert_eq!(c["rootfs"]["diff_ids"][0], image.layers()[0].diff_id());
    }

    #[test]
    fn rejects_bad_env_names() {
        let config = ImageConfig {
            env: vec![("A=B".to_string(), String::new())],
            ..ImageConfig::default()
        };
        assert!(matches!(
            assemble(small(), config),
            Err(ImageError::Config(_))
        ));
    }
}
