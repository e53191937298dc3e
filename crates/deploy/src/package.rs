//! The runtime package: the `stackwright` binary as Lambda's `bootstrap`
//! and the stack folder beside it, as a zip. Lambda runs it directly; EC2
//! instances unpack it to /opt/stackwright.
//!
//! The zip is deterministic (sorted entries, a fixed timestamp, fixed
//! permissions), so the same binary and stack give the same bytes and the
//! same key: a redeploy with nothing changed uploads nothing and changes no
//! stack parameter.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use stackwright_stack::{Service, Stack};
use zip::write::SimpleFileOptions;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot read {path}: {reason}")]
    Read {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("cannot build the runtime package: {0}")]
    Zip(#[from] zip::result::ZipError),
}

/// A file to package: its path inside the package and where it is now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackFile {
    pub relative: String,
    pub source: PathBuf,
}

/// The files of a stack that belong in a package: what the runtime reads,
/// the stack file and the seed files, and nothing else of the folder (no
/// site: it goes to its bucket; no local state, `.env` or notes that
/// happen to sit beside them). Sorted by path.
pub fn stack_files(stack: &Stack) -> Result<Vec<StackFile>, PackageError> {
    let mut relative: Vec<String> = vec![stackwright_stack::STACK_FILE.to_string()];
    for table in stack.tables.values() {
        if let Some(seed) = &table.seed {
            // Checked to stay inside the folder when the stack was loaded.
            relative.push(seed.path.to_string_lossy().replace('\\', "/"));
        }
    }
    relative.sort();
    relative.dedup();
    relative
        .into_iter()
        .map(|relative| {
            let source = stack.dir.join(&relative);
            // A seed may be a link the author made; its content is packaged.
            let meta = std::fs::metadata(&source).map_err(|e| PackageError::Read {
                path: source.clone(),
                reason: e,
            })?;
            if !meta.is_file() {
                return Err(PackageError::Read {
                    path: source,
                    reason: std::io::Error::other("not a file"),
                });
            }
            Ok(StackFile { relative, source })
        })
        .collect()
}

/// Folders a service's files are never taken from: version control, local
/// state, and bytecode caches the interpreter rebuilds.
const SKIPPED: [&str; 3] = [".git", ".stackwright", "__pycache__"];

/// Every file of a service's folder (after its `build`), with its mode:
/// executable or not. Links to files are packaged as their content; links
/// to folders are not followed. Sorted by path.
pub fn service_files(
    stack: &Stack,
    service: &Service,
) -> Result<Vec<(StackFile, u32)>, PackageError> {
    let mut files = Vec::new();
    let mut pending = vec![service.dir.clone()];
    while let Some(relative_dir) = pending.pop() {
        let dir = stack.dir.join(&relative_dir);
        let entries = std::fs::read_dir(&dir).map_err(|e| PackageError::Read {
            path: dir.clone(),
            reason: e,
        })?;
        for entry in entries {
            let entry = entry.map_err(|e| PackageError::Read {
                path: dir.clone(),
                reason: e,
            })?;
            let name = entry.file_name();
            if SKIPPED.iter().any(|s| name == *s) {
                continue;
            }
            let relative = relative_dir.join(&name);
            let kind = entry.file_type().map_err(|e| PackageError::Read {
                path: entry.path(),
                reason: e,
            })?;
            if kind.is_dir() {
                pending.push(relative);
                continue;
            }
            // A link is followed to a file; a dangling one or one to a folder is left out.
            let Ok(meta) = std::fs::metadata(entry.path()) else {
                continue;
            };
            if !meta.is_file() {
                continue;
            }
            use std::os::unix::fs::PermissionsExt as _;
            let mode = if meta.permissions().mode() & 0o111 != 0 {
                0o755
            } else {
                0o644
            };
            files.push((
                StackFile {
                    relative: relative.to_string_lossy().replace('\\', "/"),
                    source: entry.path(),
                },
                mode,
            ));
        }
    }
    files.sort_by(|a, b| a.0.relative.cmp(&b.0.relative));
    Ok(files)
}

/// The start script of a service's function on Lambda (its handler, run by
/// the Web Adapter): the service in the background, the runtime in front.
fn lambda_start_script() -> String {
    // Paths from the script's own folder: /var/task on Lambda. The service
    // is started again a second after it exits (the sandbox lives on while
    // the runtime does); the runtime answers 503 for it meanwhile.
    format!(
        "#!/bin/sh\n\
         # Stackwright: a service and the runtime in front of it, on 127.0.0.1.\n\
         here=$(dirname \"$0\")\n\
         while :; do \"$here/bootstrap\" exec-service \"$here/stack\" \"${service}\"; sleep 1; done &\n\
         exec \"$here/bootstrap\" up \"$here/stack\" --host 127.0.0.1\n",
        service = stackwright_stack::env::SERVICE_NAME
    )
}

/// A built package and the key it is stored under.
pub struct Package {
    pub bytes: Vec<u8>,
    /// Hex SHA-256 of the bytes.
    pub sha256: String,
}

impl Package {
    /// `runtime/<first 16 hex of the digest>.zip`: content-addressed, so a
    /// changed package always gets a new key and Lambda a new code version.
    pub fn key(&self) -> String {
        format!("runtime/{}.zip", &self.sha256[..16])
    }
}

/// The zip Lambda and EC2 run: `bootstrap` (the binary, mode 755) and
/// `stack/...` (the stack file and its seeds). With `services`, also their
/// folders and the start script of their Lambda functions.
pub fn runtime_zip(binary: &Path, stack: &Stack, services: bool) -> Result<Package, PackageError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| PackageError::Read {
            path: path.to_path_buf(),
            reason: source,
        })
    };
    let mut entries = vec![("bootstrap".to_string(), read(binary)?, 0o755)];
    for f in stack_files(stack)? {
        entries.push((format!("stack/{}", f.relative), read(&f.source)?, 0o644));
    }
    if services && !stack.services.is_empty() {
        for service in stack.services.values() {
            for (f, mode) in service_files(stack, service)? {
                entries.push((format!("stack/{}", f.relative), read(&f.source)?, mode));
            }
        }
        entries.push((
            stackwright_synth::services::LAMBDA_START_SCRIPT.to_string(),
            lambda_start_script().into_bytes(),
            0o755,
        ));
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|a, b| a.0 == b.0);
    }
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    // 1980-01-01, the earliest time a zip can hold: no build time leaks in.
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(6))
        .last_modified_time(zip::DateTime::default());
    for (name, bytes, mode) in entries {
        zip.start_file(name, options.unix_permissions(mode))?;
        zip.write_all(&bytes).map_err(zip::result::ZipError::Io)?;
    }
    let bytes = zip.finish()?.into_inner();
    let sha256 = hex(&Sha256::digest(&bytes));
    Ok(Package { bytes, sha256 })
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(dir: &Path) -> Stack {
        std::fs::create_dir_all(dir.join("seed")).unwrap();
        std::fs::create_dir_all(dir.join(".stackwright")).unwrap();
        std::fs::create_dir_all(dir.join("site")).unwrap();
        std::fs::write(
            dir.join("stackwright.toml"),
            "name = \"t\"\n[tables.a]\nkey = \"id\"\nseed = \"seed/a.csv\"\n[tables.a.columns]\nid = { type = \"integer\" }\n",
        )
        .unwrap();
        std::fs::write(dir.join("seed/a.csv"), "id\n1\n").unwrap();
        std::fs::write(dir.join("seed/notes.txt"), "not a seed").unwrap();
        std::fs::write(dir.join("site/index.html"), "<p>site</p>").unwrap();
        std::fs::write(dir.join(".stackwright/local.db"), "state").unwrap();
        std::fs::write(dir.join(".env"), "SECRET=1").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", dir.join("hostname")).unwrap();
        stackwright_stack::load(dir).unwrap()
    }

    #[test]
    fn packages_are_deterministic_and_hold_only_the_stack_file_and_seeds() {
        let temp = tempfile::TempDir::new().unwrap();
        let dir = temp.path().join("stack");
        let loaded = stack(&dir);
        let binary = temp.path().join("bin");
        std::fs::write(&binary, b"\x7fELF binary").unwrap();

        let a = runtime_zip(&binary, &loaded, true).unwrap();
        let b = runtime_zip(&binary, &loaded, true).unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.key(), b.key());

        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&a.bytes)).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        // No local state, .env, site, stray file or link.
        assert_eq!(
            names,
            ["bootstrap", "stack/seed/a.csv", "stack/stackwright.toml"]
        );
        assert_eq!(
            archive.by_name("bootstrap").unwrap().unix_mode().unwrap() & 0o777,
            0o755
        );

        std::fs::write(dir.join("seed/a.csv"), "id\n2\n").unwrap();
        let c = runtime_zip(&binary, &loaded, true).unwrap();
        assert_ne!(a.key(), c.key(), "a changed stack gets a new key");
    }
}
