//! Deploying against moto (AWS offline) and a local registry standing in
//! for ECR: the helpers the lifecycle tests share.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;

use crate::harness::{stackwright, stackwright_env, text, TempStack};

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub(crate) struct Moto {
    pub(crate) endpoint: String,
    pub(crate) region: &'static str,
}

impl Moto {
    pub(crate) async fn start(region: &'static str) -> Moto {
        Moto {
            endpoint: crate::harness::ensure_moto().await,
            region,
        }
    }

    /// Run a lifecycle command against moto; returns (success, stdout, stderr).
    pub(crate) fn run(&self, args: &[&str]) -> (bool, String, String) {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--endpoint-url", &self.endpoint, "--region", self.region]);
        let out = stackwright_env(
            &all,
            &[
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
            ],
        );
        (out.status.success(), text(&out.stdout), text(&out.stderr))
    }

    pub(crate) fn json(&self, args: &[&str]) -> Json {
        let mut all = args.to_vec();
        all.push("--json");
        let (ok, stdout, stderr) = self.run(&all);
        assert!(ok, "{args:?} failed:\n{stderr}");
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{args:?}: {e}: {stdout}"))
    }

    pub(crate) fn python(&self, script: &str, args: &[&str]) -> String {
        let python = root().join(".tools/moto/bin/python");
        assert!(python.exists(), "moto is not installed: run `bash .ci/run`");
        let out = Command::new(python)
            .arg(root().join("tools").join(script))
            .args([self.endpoint.as_str(), self.region])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "{script}: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// What the services hold for the environment `prefix`.
    pub(crate) fn inventory(&self, prefix: &str, vpc: &str) -> Json {
        serde_json::from_str(&self.python("moto_inventory.py", &[prefix, &format!("vpc={vpc}")]))
            .unwrap()
    }

    /// Every role of the environment carries the region's permissions
    /// boundary (read back from IAM), and the boundary exists and denies IAM.
    pub(crate) fn assert_roles_bounded(&self, prefix: &str, vpc: &str) {
        let boundary = format!("stackwright-boundary-{}", self.region);
        let inv: Json = serde_json::from_str(&self.python(
            "moto_inventory.py",
            &[
                prefix,
                &format!("vpc={vpc}"),
                &format!("boundary={boundary}"),
            ],
        ))
        .unwrap();
        let roles = inv["roles"].as_array().unwrap();
        assert!(!roles.is_empty(), "{inv}");
        let suffix = format!("boundary=arn:aws:iam::123456789012:policy/{boundary}");
        for role in roles {
            assert!(role.as_str().unwrap().ends_with(&suffix), "{role}");
        }
        assert_eq!(
            inv["boundary_policy"],
            stackwright_synth::iam::boundary_document(),
            "{inv}"
        );
    }
}

pub(crate) fn unique(base: &str) -> String {
    format!("{base}{}", &uuid::Uuid::new_v4().simple().to_string()[..6])
}

/// The regular files under `dir` (not links), as sorted relative paths.
pub(crate) fn regular_files(dir: &std::path::Path, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = format!("{prefix}{}", entry.file_name().to_string_lossy());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            out.extend(regular_files(&entry.path(), &format!("{name}/")));
        } else if kind.is_file() {
            out.push(name);
        }
    }
    out.sort();
    out
}

/// A copy of an example under a name of its own, so runs never share stacks.
pub(crate) fn copy(example: &str, name: &str, extra: &str) -> TempStack {
    TempStack::copy_of(example, |toml| {
        let renamed = toml.replacen(
            &format!("name = \"{example}\""),
            &format!("name = \"{name}\""),
            1,
        );
        assert_ne!(renamed, toml, "the example names itself `{example}`");
        format!("{renamed}\n{extra}")
    })
}

pub(crate) fn results(report: &Json) -> Vec<(String, String)> {
    report["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["layer"].as_str().unwrap().to_string(),
                s["result"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// `destroy`, then every service asked: nothing of the environment is left.
/// moto cannot delete some network resources itself (tools/moto_gaps.py
/// removes them first, as CloudFormation would); the rest is destroy's job.
pub(crate) fn destroy_and_find_nothing_left(
    moto: &Moto,
    dir: &str,
    env: &str,
    prefix: &str,
    vpc: &str,
) {
    let synth = tempfile::TempDir::new().unwrap();
    let out = synth.path().to_str().unwrap();
    let written = stackwright(&["synth", dir, "--env", env, "--out", out]);
    assert!(written.status.success(), "{}", text(&written.stderr));
    let network = synth.path().join(env).join("network.json");
    moto.python(
        "moto_gaps.py",
        &[&format!("{prefix}-network"), network.to_str().unwrap()],
    );
    let gone = moto.json(&["destroy", dir, "--env", env, "--yes"]);
    assert_eq!(gone["ok"], true, "{gone}");
    assert_eq!(gone["left"], serde_json::json!([]), "{gone}");
    let inv = moto.inventory(prefix, vpc);
    for (kind, list) in inv.as_object().unwrap() {
        assert_eq!(
            list,
            &serde_json::json!([]),
            "{kind} left after destroy: {inv}"
        );
    }
}

/// A layer's changes in a `diff --json` report, as text to search.
pub(crate) fn layer_changes(diff: &Json, layer: &str) -> String {
    diff["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["layer"] == layer)
        .unwrap_or_else(|| panic!("no {layer} layer in {diff}"))["changes"]
        .to_string()
}

pub(crate) fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

pub(crate) fn listed(inv: &Json, kind: &str) -> usize {
    inv[kind].as_array().map_or(0, Vec::len)
}

/// Debian's docker-registry (a real OCI registry) on a free loopback port,
/// storing under a temp dir; stands in for ECR, whose repository URIs moto
/// invents. Killed when dropped.
pub(crate) struct Registry {
    pub(crate) addr: String,
    child: std::process::Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub(crate) const BINARY: &'static str = "/usr/bin/docker-registry";

    pub(crate) fn start() -> Registry {
        assert!(
            Path::new(Self::BINARY).is_file(),
            "{} is missing: `apt-get install docker-registry` (.ci/run does)",
            Self::BINARY
        );
        let dir = tempfile::TempDir::new().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
                dir.path().join("storage").display()
            ),
        )
        .unwrap();
        let child = Command::new(Self::BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let registry = Registry {
            addr,
            child,
            _dir: dir,
        };
        for _ in 0..100 {
            if std::net::TcpStream::connect(&registry.addr).is_ok() {
                return registry;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("docker-registry did not listen on {}", registry.addr);
    }

    pub(crate) async fn get(&self, path: &str, accept: &str) -> Vec<u8> {
        let response = reqwest::Client::new()
            .get(format!("http://{}/v2/{path}", self.addr))
            .header("Accept", accept)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.bytes().await.unwrap().to_vec()
    }

    pub(crate) async fn tags(&self, repository: &str) -> Vec<String> {
        let list: Json = serde_json::from_slice(
            &self
                .get(&format!("{repository}/tags/list"), "application/json")
                .await,
        )
        .unwrap();
        let mut tags: Vec<String> = list["tags"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap().to_string())
            .collect();
        tags.sort();
        tags
    }

    /// Pulls the image by manifest digest, checks every digest, and returns
    /// its regular files by path (upper layers win).
    pub(crate) async fn pull(
        &self,
        repository: &str,
        digest: &str,
    ) -> std::collections::BTreeMap<String, Vec<u8>> {
        use sha2::Digest;
        let sha = |b: &[u8]| format!("sha256:{:x}", sha2::Sha256::digest(b));
        let manifest = self
            .get(
                &format!("{repository}/manifests/{digest}"),
                "application/vnd.oci.image.manifest.v1+json",
            )
            .await;
        assert_eq!(sha(&manifest), digest, "the manifest is the one pushed");
        let manifest: Json = serde_json::from_slice(&manifest).unwrap();
        let mut files = std::collections::BTreeMap::new();
        for layer in manifest["layers"].as_array().unwrap() {
            let want = layer["digest"].as_str().unwrap();
            let blob = self.get(&format!("{repository}/blobs/{want}"), "*/*").await;
            assert_eq!(sha(&blob), want);
            let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&blob[..]));
            for entry in archive.entries().unwrap() {
                let mut entry = entry.unwrap();
                if entry.header().entry_type() == tar::EntryType::Regular {
                    let path = entry.path().unwrap().to_string_lossy().into_owned();
                    let mut data = Vec::new();
                    std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
                    files.insert(path, data);
                }
            }
        }
        files
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
