//! What a dynamically linked binary needs around it in an empty root file
//! system: the dynamic loader, the shared libraries it resolves to on this
//! machine, CA certificates, a user to run as and a /tmp. The same set as
//! distroless/cc, taken from the host instead of downloaded.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Entry, ImageError};

/// The unprivileged user the container runs as (distroless's `nonroot`
/// numbers; the task definition's `User`).
pub const RUNTIME_UID: u32 = 65532;
pub const RUNTIME_GID: u32 = 65532;
pub const RUNTIME_USER: &str = "stackwright";

/// Debian's bundle of the Mozilla CA set; the runtime talks TLS to AWS
/// endpoints and databases, and rustls-native-certs looks here first.
const CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The entries a binary needs to run in an otherwise empty image (one layer,
/// "runtime"): its ELF interpreter at the path the binary names
/// (PT_INTERP), every shared library `ldd` resolves on this machine at the
/// path it was resolved to (with the contents of the real file behind any
/// symlink), the CA bundle, /etc/passwd and /etc/group with root and
/// `stackwright` (65532), /etc/nsswitch.conf, and an empty /tmp (1777).
///
/// The binary itself is not included: put it where it belongs, usually in a
/// layer of its own (`Entry::host_file(BOOTSTRAP_PATH, binary, 0o755)`).
/// A static binary (no interpreter) needs no libraries.
///
/// `ldd` runs the binary's loader over it (without running the program):
/// use it on binaries you trust, such as the one you are about to deploy.
pub fn runtime_files(binary: &Path) -> Result<Vec<Entry>, ImageError> {
    let failed = |reason: String| ImageError::Binary {
        binary: binary.to_path_buf(),
        reason,
    };
    let mut entries = Vec::new();
    if let Some(interpreter) = elf_interpreter(binary).map_err(failed)? {
        let mut paths = ldd(binary).map_err(failed)?;
        paths.sort();
        paths.dedup();
        // The loader is what the kernel opens by this exact path; ldd may
        // list it under another name as well, which is then one more copy.
        entries.push(Entry::host_file(
            interpreter.clone(),
            real_file(Path::new(&interpreter))?,
            0o755,
        ));
        for path in paths {
            if path == Path::new(&interpreter) {
                continue;
            }
            let image_path = path
                .to_str()
                .ok_or_else(|| failed(format!("library path {} is not UTF-8", path.display())))?
                .to_string();
            entries.push(Entry::host_file(image_path, real_file(&path)?, 0o644));
        }
    }
    std::fs::metadata(CA_BUNDLE).map_err(|e| ImageError::Read {
        path: PathBuf::from(format!("{CA_BUNDLE} (install the ca-certificates package)")),
        reason: e,
    })?;
    entries.push(Entry::host_file(CA_BUNDLE, CA_BUNDLE, 0o644));
    let (uid, gid, user) = (RUNTIME_UID, RUNTIME_GID, RUNTIME_USER);
    entries.push(Entry::bytes(
        "/etc/passwd",
        format!(
            "root:x:0:0:root:/root:/sbin/nologin\n\
             {user}:x:{uid}:{gid}:{user}:/nonexistent:/sbin/nologin\n"
        ),
        0o644,
    ));
    entries.push(Entry::bytes(
        "/etc/group",
        format!("root:x:0:\n{user}:x:{gid}:\n"),
        0o644,
    ));
    // Without it glibc asks DNS before /etc/hosts, so `localhost` and the
    // names the container runtime writes into /etc/hosts would need DNS.
    entries.push(Entry::bytes(
        "/etc/nsswitch.conf",
        "passwd: files\ngroup: files\nhosts: files dns\n",
        0o644,
    ));
    entries.push(Entry::directory("/tmp", 0o1777));
    Ok(entries)
}

/// The file behind a path, following symlinks, so the image gets the bytes
/// and not a link into a directory layout it does not have.
fn real_file(path: &Path) -> Result<PathBuf, ImageError> {
    std::fs::canonicalize(path).map_err(|source| ImageError::Read {
        path: path.to_path_buf(),
        reason: source,
    })
}

const PT_INTERP: u32 = 3;

/// The PT_INTERP path of a 64-bit little-endian ELF file, or None for a
/// static binary. Only the headers are read, not the whole binary.
fn elf_interpreter(binary: &Path) -> Result<Option<String>, String> {
    let file = File::open(binary).map_err(|e| format!("cannot open it: {e}"))?;
    let read = |offset: u64, len: usize| -> Result<Vec<u8>, String> {
        let mut buf = vec![0; len];
        file.read_exact_at(&mut buf, offset)
            .map_err(|e| format!("cannot read its ELF headers: {e}"))?;
        Ok(buf)
    };
    let header = read(0, 64).map_err(|_| "not an ELF executable".to_string())?;
    if header[..4] != *b"\x7fELF" {
        return Err("not an ELF executable".to_string());
    }
    if header[4] != 2 || header[5] != 1 {
        return Err("only 64-bit little-endian ELF binaries are supported".to_string());
    }
    let u16_at = |b: &[u8], at: usize| u16::from_le_bytes([b[at], b[at + 1]]);
    let u32_at = |b: &[u8], at: usize| {
        let mut a = [0; 4];
        a.copy_from_slice(&b[at..at + 4]);
        u32::from_le_bytes(a)
    };
    let u64_at = |b: &[u8], at: usize| {
        let mut a = [0; 8];
        a.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(a)
    };
    let phoff = u64_at(&header, 0x20);
    let phentsize = u16_at(&header, 0x36) as usize;
    let phnum = u16_at(&header, 0x38) as u64;
    if phentsize < 56 {
        return Err("malformed ELF program headers".to_string());
    }
    for i in 0..phnum {
        // Saturating: a corrupt header then fails the read, not the process.
        let at = phoff.saturating_add(i.saturating_mul(phentsize as u64));
        let ph = read(at, 56)?;
        if u32_at(&ph, 0) != PT_INTERP {
            continue;
        }
        let (offset, size) = (u64_at(&ph, 8), u64_at(&ph, 32));
        if size == 0 || size > 4096 {
            return Err("malformed ELF interpreter entry".to_string());
        }
        let raw = read(offset, size as usize)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        let path = String::from_utf8(raw[..end].to_vec())
            .map_err(|_| "its ELF interpreter path is not UTF-8".to_string())?;
        if !path.starts_with('/') {
            return Err(format!(
                "its ELF interpreter {path:?} is not an absolute path"
            ));
        }
        return Ok(Some(path));
    }
    Ok(None)
}

/// The shared libraries (the whole closure) `ldd` resolves for a binary.
fn ldd(binary: &Path) -> Result<Vec<PathBuf>, String> {
    let output = Command::new("ldd")
        .arg(binary)
        .env("LC_ALL", "C")
        .output()
        .map_err(|e| format!("cannot run ldd (part of libc-bin): {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "ldd failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    parse_ldd(&String::from_utf8_lossy(&output.stdout))
}

/// Lines are `name => /path (0xaddr)`, `/path (0xaddr)` (the loader),
/// `linux-vdso.so.1 (0xaddr)` (in the kernel, nothing to copy) or
/// `name => not found`.
fn parse_ldd(output: &str) -> Result<Vec<PathBuf>, String> {
    let mut paths = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let resolved = match line.split_once("=>") {
            Some((name, rest)) => {
                let rest = rest.trim();
                if rest.starts_with("not found") {
                    return Err(format!("ldd finds no {}", name.trim()));
                }
                rest
            }
            None => line,
        };
        let path = resolved.split(" (").next().unwrap_or("").trim();
        if path.starts_with('/') {
            paths.push(PathBuf::from(path));
        }
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ldd_output() {
        let out = "\tlinux-vdso.so.1 (0x00007ffd)\n\
                   \tlibgcc_s.so.1 => /lib/x86_64-linux-gnu/libgcc_s.so.1 (0x00007f01)\n\
                   \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f02)\n\
                   \t/lib64/ld-linux-x86-64.so.2 (0x00007f03)\n";
        assert_eq!(
            parse_ldd(out).unwrap(),
            vec![
                PathBuf::from("/lib/x86_64-linux-gnu/libgcc_s.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        let missing = parse_ldd("\tlibfoo.so.1 => not found\n").unwrap_err();
        assert!(missing.contains("libfoo.so.1"), "{missing}");
    }

    #[test]
    fn reads_the_interpreter_of_this_test_binary() {
        let me = std::env::current_exe().unwrap();
        let interp = elf_interpreter(&me).unwrap().expect("a dynamic binary");
        assert!(
            interp.starts_with('/') && interp.contains("ld-"),
            "{interp}"
        );
    }

    #[test]
    fn refuses_what_is_not_elf() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(
            &script,
            "#!/bin/sh\necho hi there, this is long enough for 64 bytes...\n",
        )
        .unwrap();
        let err = runtime_files(&script).unwrap_err().to_string();
        assert!(err.contains("not an ELF"), "{err}");
    }
}
