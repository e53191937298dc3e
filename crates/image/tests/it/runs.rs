use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use stackwright_image::{Image, BOOTSTRAP_PATH};

use crate::{app_image, stackwright_binary, write_stack};

/// Unpacks the layers, lowest first, as a container runtime would.
fn extract(image: &Image, root: &Path) {
    for layer in image.layers() {
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(layer.data().as_ref()));
        archive.set_preserve_permissions(true);
        archive.unpack(root).unwrap();
    }
}

/// The image's files alone run the real binary: the library set, the loader
/// path and the permissions are complete. Runs as the image's user, 65532,
/// as Fargate does.
#[test]
fn the_real_binary_runs_from_the_image_alone() {
    let binary = stackwright_binary();
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack");
    write_stack(&stack);
    let image = app_image(&binary, &stack);
    eprintln!(
        "image {}: {} layers, {:.1} MB compressed",
        image.digest(),
        image.layers().len(),
        image.size() as f64 / 1e6
    );

    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    // The root directory itself is not in any layer; the user must be able
    // to traverse it.
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).unwrap();
    extract(&image, &root);

    let tmp = std::fs::metadata(root.join("tmp")).unwrap();
    assert_eq!(tmp.permissions().mode() & 0o7777, 0o1777);

    let output = Command::new("chroot")
        .arg("--userspec=65532:65532")
        .arg(&root)
        .arg(BOOTSTRAP_PATH)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run chroot (coreutils): {e}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "chroot failed ({}); this test needs root. stderr: {stderr}",
        output.status
    );
    // The workspace version, which the binary shares with this crate.
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("stackwright {}", env!("CARGO_PKG_VERSION"))
    );
}
