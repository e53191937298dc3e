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
use zip::write::SimpleFileOptions;

#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
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

/// The files of a stack folder that belong in a package: everything but
/// local state (`.stackwright/`) and hidden entries (`.git`, `.env`...),
/// which are never part of what runs in the cloud. Sorted by path.
pub fn stack_files(dir: &Path) -> Result<Vec<StackFile>, PackageError> {
    let mut files = Vec::new();
    collect(dir, "", &mut files)?;
    files.sort_by(|a, b| a.relative.cmp(&b.relative));
    Ok(files)
}

fn collect(dir: &Path, prefix: &str, out: &mut Vec<StackFile>) -> Result<(), PackageError> {
    let read = |source| PackageError::Read {
        path: dir.to_path_buf(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let entry = entry.map_err(read)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let relative = format!("{prefix}{name}");
        // Follows symlinks: a linked seed file is packaged as its content.
        let meta = std::fs::metadata(&path).map_err(|source| PackageError::Read {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            collect(&path, &format!("{relative}/"), out)?;
        } else if meta.is_file() {
            out.push(StackFile {
                relative,
                source: path,
            });
        }
    }
    Ok(())
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
/// `stack/...` (the stack folder).
pub fn runtime_zip(binary: &Path, stack_dir: &Path) -> Result<Package, PackageError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| PackageError::Read {
            path: path.to_path_buf(),
            source,
        })
    };
    let mut entries = vec![("bootstrap".to_string(), read(binary)?, 0o755)];
    for f in stack_files(stack_dir)? {
        entries.push((format!("stack/{}", f.relative), read(&f.source)?, 0o644));
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

    fn stack(dir: &Path) {
        std::fs::create_dir_all(dir.join("seed")).unwrap();
        std::fs::create_dir_all(dir.join(".stackwright")).unwrap();
        std::fs::write(dir.join("stackwright.toml"), "name = \"t\"\n").unwrap();
        std::fs::write(dir.join("seed/a.csv"), "id\n1\n").unwrap();
        std::fs::write(dir.join(".stackwright/local.db"), "state").unwrap();
        std::fs::write(dir.join(".env"), "SECRET=1").unwrap();
    }

    #[test]
    fn packages_are_deterministic_and_leave_local_state_out() {
        let temp = tempfile::TempDir::new().unwrap();
        let dir = temp.path().join("stack");
        stack(&dir);
        let binary = temp.path().join("bin");
        std::fs::write(&binary, b"\x7fELF binary").unwrap();

        let a = runtime_zip(&binary, &dir).unwrap();
        let b = runtime_zip(&binary, &dir).unwrap();
        assert_eq!(a.bytes, b.bytes);
        assert_eq!(a.key(), b.key());

        let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&a.bytes)).unwrap();
        let names: Vec<String> = archive
            .file_names()
            .map(|n| n.unwrap().into_owned())
            .collect();
        assert_eq!(
            names,
            ["bootstrap", "stack/seed/a.csv", "stack/stackwright.toml"]
        );
        assert_eq!(
            archive.by_name("bootstrap").unwrap().unix_mode().unwrap() & 0o777,
            0o755
        );

        std::fs::write(dir.join("seed/a.csv"), "id\n2\n").unwrap();
        let c = runtime_zip(&binary, &dir).unwrap();
        assert_ne!(a.key(), c.key(), "a changed stack gets a new key");
    }
}
