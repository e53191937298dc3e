use stackwright_image::Entry;

use crate::{app_image, layer_files, stack_entries, write_stack};

/// This test binary is a dynamically linked glibc executable too, so it
/// stands in for the real one (no build of the `stackwright` crate needed).
fn a_binary() -> std::path::PathBuf {
    std::env::current_exe().unwrap()
}

#[test]
fn same_files_give_the_same_digest_and_one_byte_changes_it() {
    let dir = tempfile::tempdir().unwrap();
    let stack = dir.path().join("stack");
    write_stack(&stack);

    let first = app_image(&a_binary(), &stack);
    // Rewriting the same bytes gives the files new timestamps, which must
    // not show in the image.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let toml = stack.join("stackwright.toml");
    std::fs::write(&toml, std::fs::read(&toml).unwrap()).unwrap();
    let second = app_image(&a_binary(), &stack);
    assert_eq!(first.digest(), second.digest());
    assert_eq!(first.tag(), second.tag());
    assert_eq!(
        first, second,
        "layers, config and manifest are byte-identical"
    );

    let mut changed = std::fs::read(&toml).unwrap();
    changed[0] ^= 1;
    std::fs::write(&toml, changed).unwrap();
    let third = app_image(&a_binary(), &stack);
    assert_ne!(first.digest(), third.digest());
    assert_ne!(first.tag(), third.tag());
    // Only the stack layer changed: the runtime and binary layers are the
    // same blobs, which a push of the new image does not upload again.
    assert_eq!(first.layers()[..2], third.layers()[..2]);
    assert_ne!(first.layers()[2], third.layers()[2]);
}

#[test]
fn the_order_entries_are_listed_in_does_not_matter() {
    let dir = tempfile::tempdir().unwrap();
    write_stack(dir.path());
    let entries = stack_entries(dir.path());
    let mut reversed = entries.clone();
    reversed.reverse();
    let config = stackwright_image::ImageConfig::default();
    let a = stackwright_image::assemble(vec![entries], config.clone()).unwrap();
    let b = stackwright_image::assemble(vec![reversed], config).unwrap();
    assert_eq!(a.digest(), b.digest());
}

#[test]
fn the_runtime_layer_holds_what_a_dynamic_binary_needs() {
    let files = stackwright_image::runtime_files(&a_binary()).unwrap();
    let image = stackwright_image::assemble(vec![files], Default::default()).unwrap();
    let files = layer_files(&image.layers()[0]);
    for needed in [
        "etc/ssl/certs/ca-certificates.crt",
        "etc/passwd",
        "etc/group",
        "lib64/ld-linux-x86-64.so.2",
    ] {
        assert!(
            files.contains_key(needed),
            "{needed} missing: {:?}",
            files.keys()
        );
    }
    assert!(
        files.keys().any(|f| f.ends_with("/libc.so.6")),
        "no libc: {:?}",
        files.keys()
    );
    let passwd = String::from_utf8(files["etc/passwd"].clone()).unwrap();
    assert!(passwd.contains("stackwright:x:65532:65532:"), "{passwd}");
    let group = String::from_utf8(files["etc/group"].clone()).unwrap();
    assert!(group.contains("stackwright:x:65532:"), "{group}");
    // The loader is a real file, not the host's symlink into /lib.
    let loader = &files["lib64/ld-linux-x86-64.so.2"];
    assert_eq!(&loader[..4], b"\x7fELF");
}

#[test]
fn a_host_file_that_is_missing_is_named_in_the_error() {
    let err = stackwright_image::assemble(
        vec![vec![Entry::host_file("/a", "/nonexistent/file", 0o644)]],
        Default::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("/nonexistent/file"), "{err}");
}
