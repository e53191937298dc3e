//! Images layered over a base pulled from its registry: a service's
//! folder over `python:3.12-slim`, without a container engine. The base's
//! layers are copied as they are (same blobs, same digests), the service's
//! folder is one more layer, and the config is the base's with the
//! service's command, folder and port.

use std::collections::BTreeSet;

use bytes::Bytes;
use oci_client::client::{linux_amd64_resolver, ClientConfig, ClientProtocol};
use oci_client::manifest::{
    IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE, IMAGE_LAYER_GZIP_MEDIA_TYPE, IMAGE_LAYER_MEDIA_TYPE,
};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::{json, Value as Json};

use crate::{finish, layer, Entry, Image, ImageError, Layer, Protocol};

/// A pulled base image: its layers (compressed, as the registry holds
/// them) and its config file.
#[derive(Debug, Clone)]
pub struct Base {
    /// `registry/repository[:tag][@digest]` as written.
    pub reference: String,
    /// The manifest digest pulled: the base a rebuild uses is the same
    /// only while its registry keeps the tag where it was.
    pub digest: String,
    layers: Vec<Layer>,
    config: Json,
}

/// Pull `reference` (linux/amd64 from a multi-platform index), anonymously:
/// public bases (Docker Hub, ECR Public) need no account. A registry on
/// this machine is reached over plain HTTP, any other over HTTPS.
pub async fn pull(reference: &str) -> Result<Base, ImageError> {
    let parsed: Reference = reference.parse().map_err(|e| ImageError::Registry {
        operation: "reading the reference",
        registry: String::new(),
        repository: reference.to_string(),
        message: format!("{e}"),
    })?;
    let fail = |operation: &'static str, message: String| ImageError::Registry {
        operation,
        registry: parsed.resolve_registry().to_string(),
        repository: parsed.repository().to_string(),
        message,
    };
    let protocol = if crate::is_loopback(parsed.registry()) {
        Protocol::Http
    } else {
        Protocol::Https
    };
    let client = Client::try_from(ClientConfig {
        protocol: match protocol {
            Protocol::Https => ClientProtocol::Https,
            Protocol::Http => ClientProtocol::Http,
        },
        platform_resolver: Some(Box::new(linux_amd64_resolver)),
        ..ClientConfig::default()
    })
    .map_err(|e| fail("connecting to", e.to_string()))?;
    let (manifest, digest, config) = client
        .pull_manifest_and_config(&parsed, &RegistryAuth::Anonymous)
        .await
        .map_err(|e| fail("pulling the manifest from", e.to_string()))?;
    let config: Json = serde_json::from_str(&config)
        .map_err(|e| fail("reading the config from", e.to_string()))?;
    let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .filter_map(|d| d.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if diff_ids.len() != manifest.layers.len() {
        return Err(fail(
            "reading the config from",
            format!(
                "{} layers but {} diff ids",
                manifest.layers.len(),
                diff_ids.len()
            ),
        ));
    }
    let mut layers = Vec::with_capacity(manifest.layers.len());
    for (descriptor, diff_id) in manifest.layers.iter().zip(diff_ids) {
        let mut data = Vec::with_capacity(usize::try_from(descriptor.size).unwrap_or(0));
        client
            .pull_blob(&parsed, descriptor, &mut data)
            .await
            .map_err(|e| {
                fail(
                    "pulling a layer from",
                    format!("{}: {e}", descriptor.digest),
                )
            })?;
        if crate::sha256(&data) != descriptor.digest {
            return Err(fail(
                "pulling a layer from",
                format!("{}: the bytes do not match the digest", descriptor.digest),
            ));
        }
        layers.push(Layer {
            data: Bytes::from(data),
            digest: descriptor.digest.clone(),
            diff_id,
            media_type: oci_media_type(&descriptor.media_type)
                .map_err(|m| fail("pulling from", m))?,
        });
    }
    Ok(Base {
        reference: reference.to_string(),
        digest,
        layers,
        config,
    })
}

/// Docker's layer types as their OCI equal (the same bytes); other
/// compressions keep theirs; foreign layers are refused.
fn oci_media_type(media_type: &str) -> Result<String, String> {
    match media_type {
        IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE => Ok(IMAGE_LAYER_GZIP_MEDIA_TYPE.to_string()),
        "application/vnd.docker.image.rootfs.diff.tar" => Ok(IMAGE_LAYER_MEDIA_TYPE.to_string()),
        t if t.starts_with("application/vnd.oci.image.layer.v1.tar")
            && !t.contains("nondistributable") =>
        {
            Ok(t.to_string())
        }
        t => Err(format!(
            "the base has a layer of type {t}, which cannot be copied"
        )),
    }
}

/// How a service runs in its image.
#[derive(Debug, Clone)]
pub struct Run {
    pub cmd: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub port: u16,
    pub labels: Vec<(String, String)>,
}

impl Base {
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }
}

/// `base` plus one layer per `layers`, run as `run` says. The base's
/// environment (its PATH, its language's variables) is kept; its
/// entrypoint is cleared so `cmd` is the whole command; its history is
/// dropped, as it would no longer match the layers.
pub fn assemble_over(base: &Base, layers: Vec<Vec<Entry>>, run: &Run) -> Result<Image, ImageError> {
    let ours = layers
        .into_iter()
        .map(layer::build)
        .collect::<Result<Vec<_>, _>>()?;
    let mut config = base.config.clone();
    let Some(file) = config.as_object_mut() else {
        return Err(ImageError::Config(
            "the base's config is not an object".into(),
        ));
    };
    file.remove("history");
    file.insert("created".into(), json!(crate::CREATED));
    let run_config = file.entry("config").or_insert_with(|| json!({}));
    run_config["Entrypoint"] = Json::Null;
    run_config["Cmd"] = json!(run.cmd);
    run_config["WorkingDir"] = json!(run.working_dir);
    run_config["User"] = json!(run.user);
    let mut ports: BTreeSet<String> = run_config["ExposedPorts"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    ports.insert(format!("{}/tcp", run.port));
    run_config["ExposedPorts"] = Json::Object(ports.into_iter().map(|p| (p, json!({}))).collect());
    let labels = run_config
        .get_mut("Labels")
        .filter(|l| l.is_object())
        .map(Json::take)
        .unwrap_or_else(|| json!({}));
    let mut labels = labels;
    for (k, v) in &run.labels {
        labels[k] = json!(v);
    }
    run_config["Labels"] = labels;
    let mut diff_ids: Vec<Json> = base.layers.iter().map(|l| json!(l.diff_id)).collect();
    diff_ids.extend(ours.iter().map(|l| json!(l.diff_id)));
    file.insert(
        "rootfs".into(),
        json!({ "type": "layers", "diff_ids": diff_ids }),
    );
    let bytes = serde_json::to_vec(&config).map_err(|e| ImageError::Config(e.to_string()))?;
    let mut all = base.layers.clone();
    all.extend(ours);
    finish(all, bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_layers_are_oci_layers_and_foreign_ones_are_refused() {
        assert_eq!(
            oci_media_type(IMAGE_DOCKER_LAYER_GZIP_MEDIA_TYPE).unwrap(),
            IMAGE_LAYER_GZIP_MEDIA_TYPE
        );
        let zstd = "application/vnd.oci.image.layer.v1.tar+zstd";
        assert_eq!(oci_media_type(zstd).unwrap(), zstd);
        let foreign = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
        assert!(oci_media_type(foreign)
            .unwrap_err()
            .contains("cannot be copied"));
        let nondistributable = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
        assert!(oci_media_type(nondistributable).is_err());
    }
}
