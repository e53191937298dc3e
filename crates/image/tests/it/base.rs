//! Images layered over a base pulled from a real registry, as Docker Hub
//! serves language images: a Docker manifest list naming one manifest per
//! platform, Docker media types, a config with an entrypoint and history.

use bytes::Bytes;
use http::HeaderValue;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use stackwright_image::{
    assemble, assemble_over, pull, push, Auth, Entry, ImageConfig, Protocol, Run,
};

use crate::registry::Registry;
use crate::tar_files;

const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";

fn sha(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

fn client() -> Client {
    Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    })
}

/// One platform's image, pushed with Docker's media types; returns the
/// manifest's descriptor for the list, and the layer's digest.
async fn push_platform(client: &Client, reference: &Reference, arch: &str) -> (Json, String) {
    let image = assemble(
        vec![vec![Entry::bytes(format!("/etc/{arch}"), arch, 0o644)]],
        ImageConfig::default(),
    )
    .unwrap();
    let layer = &image.layers()[0];
    let config = serde_json::to_vec(&json!({
        "architecture": arch,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8"],
            "Entrypoint": ["/docker-entrypoint.sh"],
            "Cmd": ["python3"]
        },
        "rootfs": { "type": "layers", "diff_ids": [layer.diff_id()] },
        "history": [{ "created_by": "ADD rootfs" }]
    }))
    .unwrap();
    client
        .push_blob(reference, layer.data().clone(), layer.digest())
        .await
        .unwrap();
    client
        .push_blob(reference, Bytes::from(config.clone()), &sha(&config))
        .await
        .unwrap();
    let manifest = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": { "mediaType": DOCKER_CONFIG, "digest": sha(&config), "size": config.len() },
        "layers": [{ "mediaType": DOCKER_LAYER, "digest": layer.digest(), "size": layer.size() }]
    }))
    .unwrap();
    let digest = sha(&manifest);
    let by_digest = Reference::with_digest(
        reference.registry().to_string(),
        reference.repository().to_string(),
        digest.clone(),
    );
    client
        .push_manifest_raw(
            &by_digest,
            Bytes::from(manifest.clone()),
            HeaderValue::from_static(DOCKER_MANIFEST),
        )
        .await
        .unwrap();
    let descriptor = json!({
        "mediaType": DOCKER_MANIFEST,
        "digest": digest,
        "size": manifest.len(),
        "platform": { "architecture": arch, "os": "linux" }
    });
    (descriptor, layer.digest().to_string())
}

#[tokio::test]
async fn a_service_is_layered_over_a_docker_hub_style_base() {
    let registry = Registry::start();
    let client = client();
    let base = Reference::with_tag(
        registry.addr.clone(),
        "library/python".into(),
        "3.12-slim".into(),
    );
    client
        .auth(
            &base,
            &RegistryAuth::Anonymous,
            oci_client::RegistryOperation::Push,
        )
        .await
        .unwrap();
    let (arm, _) = push_platform(&client, &base, "arm64").await;
    let (amd, amd_layer) = push_platform(&client, &base, "amd64").await;
    let list = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_LIST,
        "manifests": [arm, amd]
    }))
    .unwrap();
    client
        .push_manifest_raw(
            &base,
            Bytes::from(list),
            HeaderValue::from_static(DOCKER_LIST),
        )
        .await
        .unwrap();

    let pulled = pull(&format!("{}/library/python:3.12-slim", registry.addr))
        .await
        .unwrap();
    assert_eq!(pulled.layers().len(), 1, "linux/amd64 only");
    assert_eq!(pulled.layers()[0].digest(), amd_layer);
    assert_eq!(
        pulled.layers()[0].media_type(),
        "application/vnd.oci.image.layer.v1.tar+gzip",
        "Docker's gzip layer is OCI's, same bytes"
    );

    let image = assemble_over(
        &pulled,
        vec![vec![Entry::bytes(
            "/srv/service/app.py",
            "print(1)\n",
            0o644,
        )]],
        &Run {
            cmd: vec!["python3".into(), "app.py".into()],
            working_dir: "/srv/service".into(),
            user: "65532:65532".into(),
            port: 8081,
            labels: vec![("org.opencontainers.image.title".into(), "adopt".into())],
        },
    )
    .unwrap();
    push(
        &image,
        &registry.addr,
        "shop/adopt",
        &image.tag(),
        Auth::Anonymous,
        Protocol::Http,
    )
    .await
    .unwrap();
    // Read back from the registry: the base's layer unchanged, then ours.
    let pushed = Reference::with_digest(
        registry.addr.clone(),
        "shop/adopt".into(),
        image.digest().into(),
    );
    let (manifest, digest) = client
        .pull_manifest_raw(
            &pushed,
            &RegistryAuth::Anonymous,
            &[stackwright_image::MANIFEST_MEDIA_TYPE],
        )
        .await
        .unwrap();
    assert_eq!(digest, image.digest());
    let manifest: Json = serde_json::from_slice(&manifest).unwrap();
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{manifest}");
    assert_eq!(layers[0]["digest"], amd_layer.as_str());
    let mut ours = Vec::new();
    client
        .pull_blob(&pushed, layers[1]["digest"].as_str().unwrap(), &mut ours)
        .await
        .unwrap();
    assert_eq!(tar_files(&ours)["srv/service/app.py"], b"print(1)\n");
    let mut config = Vec::new();
    client
        .pull_blob(
            &pushed,
            manifest["config"]["digest"].as_str().unwrap(),
            &mut config,
        )
        .await
        .unwrap();
    let config: Json = serde_json::from_slice(&config).unwrap();
    let run = &config["config"];
    assert_eq!(run["Cmd"], json!(["python3", "app.py"]));
    assert_eq!(
        run["Entrypoint"],
        Json::Null,
        "the command is the whole command"
    );
    assert_eq!(
        run["Env"][1], "LANG=C.UTF-8",
        "the base's environment is kept"
    );
    assert_eq!(run["WorkingDir"], "/srv/service");
    assert_eq!(run["User"], "65532:65532");
    assert!(run["ExposedPorts"].get("8081/tcp").is_some(), "{run}");
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(
        config["history"],
        Json::Null,
        "no history that no longer matches"
    );
    assert_eq!(config["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    assert_eq!(config["rootfs"]["diff_ids"][1], image.layers()[1].diff_id());
}
