//! Integration tests of stackwright-image: determinism, a real run of the
//! assembled root file system under chroot, and pushes to a real registry
//! (Debian's docker-registry, started per test on a free loopback port).
//!
//! Nothing here skips: a missing tool (chroot, docker-registry, the built
//! `stackwright` binary) fails the test and says how to get it.

mod base;
mod determinism;
mod registry;
mod runs;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use stackwright_image::{
    assemble, runtime_files, Entry, Image, ImageConfig, Layer, BOOTSTRAP_PATH, STACK_DIR,
};

/// The `stackwright` binary of this build. nextest and cargo test build the
/// workspace's binaries beside the test binaries (target/<profile>/), so
/// look there first; then where the brief of this crate's CI says.
pub fn stackwright_binary() -> PathBuf {
    let mut candidates = Vec::new();
    if let Some(profile_dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(Path::to_path_buf))
    {
        candidates.push(profile_dir.join("stackwright"));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir), // join keeps an absolute dir as it is
        None => workspace.join("target"),
    };
    candidates.push(target.join("debug/stackwright"));
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the stackwright binary is not built (looked at {candidates:?}): \
                 run `cargo build -p stackwright` first (`cargo nextest run --workspace` builds it)"
            )
        })
}

/// A small stack folder: its contents do not matter to the image.
pub fn write_stack(dir: &Path) {
    std::fs::create_dir_all(dir.join("seeds")).unwrap();
    std::fs::write(dir.join("stackwright.toml"), "name = \"demo\"\n").unwrap();
    std::fs::write(dir.join("seeds/items.csv"), "id,name\n1,one\n").unwrap();
}

/// The stack folder's files under STACK_DIR, as a deployer would list them.
pub fn stack_entries(dir: &Path) -> Vec<Entry> {
    fn walk(dir: &Path, prefix: &str, out: &mut Vec<Entry>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            if path.is_dir() {
                walk(&path, &format!("{prefix}/{name}"), out);
            } else {
                out.push(Entry::host_file(format!("{prefix}/{name}"), path, 0o644));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, STACK_DIR, &mut out);
    out
}

/// The app image as the deployer builds it: runtime, binary, stack; each a
/// layer so that a stack-only change uploads only the stack layer.
pub fn app_image(binary: &Path, stack: &Path) -> Image {
    let config = ImageConfig {
        entrypoint: vec![BOOTSTRAP_PATH.to_string()],
        cmd: vec![
            "up".to_string(),
            STACK_DIR.to_string(),
            "--host".to_string(),
            "0.0.0.0".to_string(),
        ],
        env: vec![(
            "SSL_CERT_FILE".to_string(),
            "/etc/ssl/certs/ca-certificates.crt".to_string(),
        )],
        user: Some("65532:65532".to_string()),
        working_dir: Some(STACK_DIR.to_string()),
        exposed_ports: vec![8080],
        ..ImageConfig::default()
    };
    assemble(
        vec![
            runtime_files(binary).unwrap(),
            vec![Entry::host_file(BOOTSTRAP_PATH, binary, 0o755)],
            stack_entries(stack),
        ],
        config,
    )
    .unwrap()
}

/// A layer's regular files by tar name.
pub fn layer_files(layer: &Layer) -> BTreeMap<String, Vec<u8>> {
    tar_files(layer.data())
}

pub fn tar_files(gzip: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gzip));
    let mut files = BTreeMap::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        files.insert(name, data);
    }
    files
}
