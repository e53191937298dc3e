use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use stackwright_image::{
    assemble, push, Auth, Entry, Image, ImageConfig, ImageError, Protocol, BOOTSTRAP_PATH,
    MANIFEST_MEDIA_TYPE,
};

use crate::{app_image, stackwright_binary, tar_files, write_stack};

const REGISTRY: &str = "/usr/bin/docker-registry";

/// A docker-registry process of this test's own, on a free loopback port,
/// storing under a temp dir; killed when dropped.
pub(crate) struct Registry {
    pub(crate) addr: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Registry {
    pub(crate) fn start() -> Registry {
        assert!(
            Path::new(REGISTRY).is_file(),
            "{REGISTRY} is missing: install Debian's registry with \
             `apt-get install docker-registry` (.ci/run does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        // The access log (on stdout) is how the tests see which blobs
        // were uploaded.
        std::fs::write(
            &config,
            format!(
                "version: 0.1\n\
                 log:\n  level: warn\n  accesslog:\n    disabled: false\n\
                 storage:\n  filesystem:\n    rootdirectory: {}\n\
                 http:\n  addr: {addr}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
        let child = Command::new(REGISTRY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {REGISTRY}: {e}"));
        let mut registry = Registry { addr, child, dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Some(status) = registry.child.try_wait().unwrap() {
                panic!("{REGISTRY} exited ({status}):\n{}", registry.log());
            }
            if v2_answers(&registry.addr) {
                return registry;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "{REGISTRY} did not answer on {} within 20 s:\n{}",
            registry.addr,
            registry.log()
        );
    }

    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("registry.log")).unwrap_or_default()
    }

    /// Completed blob uploads into a repository so far (each ends with one
    /// PUT to its upload session).
    fn blob_uploads(&self, repository: &str) -> usize {
        self.log()
            .matches(&format!("\"PUT /v2/{repository}/blobs/uploads/"))
            .count()
    }

    /// Manifest uploads into a repository so far.
    fn manifest_puts(&self, repository: &str) -> usize {
        self.log()
            .matches(&format!("\"PUT /v2/{repository}/manifests/"))
            .count()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn v2_answers(addr: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET /v2/ HTTP/1.0\r\nHost: registry\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.starts_with("HTTP/1.1 200") || response.starts_with("HTTP/1.0 200")
}

/// Pulls the manifest by digest with the registry client, checks it is the
/// one pushed, and returns the regular files of its layers (upper layers
/// win), each blob verified against its digest by the client.
async fn pull_files(
    registry: &Registry,
    repository: &str,
    image: &Image,
) -> BTreeMap<String, Vec<u8>> {
    let client = Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    });
    let reference = Reference::with_digest(
        registry.addr.clone(),
        repository.to_string(),
        image.digest().to_string(),
    );
    let (manifest, digest) = client
        .pull_manifest_raw(&reference, &RegistryAuth::Anonymous, &[MANIFEST_MEDIA_TYPE])
        .await
        .unwrap();
    assert_eq!(digest, image.digest());
    assert_eq!(&manifest, image.manifest());
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let mut files = BTreeMap::new();
    for layer in manifest["layers"].as_array().unwrap() {
        let digest = layer["digest"].as_str().unwrap();
        let mut blob = Vec::new();
        client
            .pull_blob(&reference, digest, &mut blob)
            .await
            .unwrap();
        files.extend(tar_files(&blob));
    }
    files
}

fn small_image(binary: &[u8]) -> Image {
    assemble(
        vec![
            vec![Entry::bytes("/etc/hello", "hello\n", 0o644)],
            vec![Entry::bytes(BOOTSTRAP_PATH, binary, 0o755)],
        ],
        ImageConfig {
            entrypoint: vec![BOOTSTRAP_PATH.to_string()],
            ..ImageConfig::default()
        },
    )
    .unwrap()
}

#[tokio::test]
async fn push_then_pull_back_by_digest() {
    let registry = Registry::start();
    let repository = "stackwright/app";
    let binary = b"\x7fELF not really a binary\x00\x01\x02".to_vec();
    let image = small_image(&binary);
    let tag = image.tag();

    let digest = push(
        &image,
        &registry.addr,
        repository,
        &tag,
        Auth::Anonymous,
        Protocol::Http,
    )
    .await
    .unwrap();
    assert_eq!(digest, image.digest());
    assert_eq!(
        registry.blob_uploads(repository),
        3,
        "two layers and the config"
    );
    assert_eq!(registry.manifest_puts(repository), 1);

    let files = pull_files(&registry, repository, &image).await;
    assert_eq!(files["opt/stackwright/bootstrap"], binary);
    assert_eq!(files["etc/hello"], b"hello\n");

    // Again: same digest, nothing uploaded, the tag left as it is.
    let again = push(
        &image,
        &registry.addr,
        repository,
        &tag,
        Auth::Anonymous,
        Protocol::Http,
    )
    .await
    .unwrap();
    assert_eq!(again, digest);
    assert_eq!(registry.blob_uploads(repository), 3);
    assert_eq!(registry.manifest_puts(repository), 1);

    // A changed binary: only its layer and the config are new.
    let changed = small_image(b"another binary");
    push(
        &changed,
        &registry.addr,
        repository,
        &changed.tag(),
        Auth::Anonymous,
        Protocol::Http,
    )
    .await
    .unwrap();
    assert_eq!(registry.blob_uploads(repository), 5);
    assert_eq!(registry.manifest_puts(repository), 2);
    let files = pull_files(&registry, repository, &changed).await;
    assert_eq!(files["opt/stackwright/bootstrap"], b"another binary");
}

/// The real image (runtime libraries, the ~90 MB debug binary, a stack)
/// survives the round trip bit for bit.
#[tokio::test]
async fn the_real_image_round_trips() {
    let binary = stackwright_binary();
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack");
    write_stack(&stack);
    let registry = Registry::start();
    let repository = "stackwright";

    let started = Instant::now();
    let image = app_image(&binary, &stack);
    let assembled = started.elapsed();
    let digest = push(
        &image,
        &registry.addr,
        repository,
        &image.tag(),
        Auth::Anonymous,
        Protocol::Http,
    )
    .await
    .unwrap();
    eprintln!(
        "{:.1} MB: assembled in {assembled:.1?}, pushed in {:.1?}",
        image.size() as f64 / 1e6,
        started.elapsed() - assembled
    );
    assert_eq!(digest, image.digest());

    let files = pull_files(&registry, repository, &image).await;
    assert!(
        files["opt/stackwright/bootstrap"] == std::fs::read(&binary).unwrap(),
        "the pulled binary differs from {}",
        binary.display()
    );
    assert!(files.contains_key("lib64/ld-linux-x86-64.so.2"));
    assert_eq!(
        files["opt/stackwright/stack/stackwright.toml"],
        std::fs::read(stack.join("stackwright.toml")).unwrap()
    );
}

#[tokio::test]
async fn errors_name_the_registry_and_never_the_password() {
    // A port nothing listens on.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let registry = format!("127.0.0.1:{port}");
    let image = small_image(b"x");
    let auth = || Auth::Basic {
        user: "AWS".to_string(),
        password: "s3cret-Passw0rd".to_string(),
    };
    let err = push(
        &image,
        &registry,
        "stackwright/app",
        "t",
        auth(),
        Protocol::Http,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ImageError::Registry { .. }), "{err:?}");
    let message = err.to_string();
    eprintln!("{message}");
    assert!(
        message.contains(&format!("{registry}/stackwright/app")),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    assert!(!format!("{err:?}").contains("s3cret"));

    // The same over HTTPS (which also builds the rustls client).
    let err = push(
        &image,
        &registry,
        "stackwright/app",
        "t",
        auth(),
        Protocol::Https,
    )
    .await
    .unwrap_err()
    .to_string();
    eprintln!("{err}");
    assert!(
        err.contains(&format!("{registry}/stackwright/app")),
        "{err}"
    );
    assert!(!err.contains("s3cret"), "{err}");

    // Credentials over plain HTTP go nowhere but this machine.
    let err = push(
        &image,
        "registry.example.com",
        "app",
        "t",
        auth(),
        Protocol::Http,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("plain HTTP"), "{err}");
}
