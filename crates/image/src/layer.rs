//! One layer: a deterministic tar of entries, gzip'd, with both digests.

use std::collections::BTreeMap;
use std::io::{self, Write};

use bytes::Bytes;
use flate2::{Compression, GzBuilder};
use sha2::{Digest, Sha256};

use crate::{hex_digest, sha256, Contents, Entry, ImageError, Layer};

/// Fixed, so the same tar always compresses to the same bytes (the level
/// changes the output); 6 is gzip's default balance of size and speed.
const GZIP_LEVEL: u32 = 6;

pub(crate) fn build(entries: Vec<Entry>) -> Result<Layer, ImageError> {
    let entries = plan(entries)?;
    // The uncompressed tar is hashed on its way into the compressor (its
    // digest is the config's diff_id) and never held in memory whole.
    let gzip = GzBuilder::new().write(Vec::new(), Compression::new(GZIP_LEVEL));
    let mut tar = tar::Builder::new(HashingWriter {
        inner: gzip,
        hasher: Sha256::new(),
    });
    for (name, entry) in &entries {
        append(&mut tar, name, entry)?;
    }
    let hashing = tar.into_inner().map_err(ImageError::Layer)?;
    let diff_id = hex_digest(&hashing.hasher.finalize());
    let data = hashing.inner.finish().map_err(ImageError::Layer)?;
    Ok(Layer {
        digest: sha256(&data),
        diff_id,
        data: Bytes::from(data),
        media_type: crate::LAYER_MEDIA_TYPE.to_string(),
    })
}

/// The layer's entries by tar name (the path without its leading `/`), with
/// the missing parent directories added. A BTreeMap sorts by name, which
/// puts every directory before its contents (a prefix sorts first) and makes
/// the order independent of the caller's.
fn plan(entries: Vec<Entry>) -> Result<BTreeMap<String, Entry>, ImageError> {
    let mut by_name = BTreeMap::new();
    for entry in entries {
        let name = tar_name(&entry.path)?;
        if let Contents::Symlink(target) = &entry.contents {
            if target.is_empty() || target.contains('\0') {
                return Err(ImageError::Path {
                    path: entry.path.clone(),
                    reason: "a symlink needs a target without NUL bytes",
                });
            }
        }
        if let Some(previous) = by_name.insert(name, entry) {
            return Err(ImageError::Duplicate {
                path: previous.path,
            });
        }
    }
    let mut missing = Vec::new();
    for name in by_name.keys() {
        let mut current = name.as_str();
        while let Some((parent, _)) = current.rsplit_once('/') {
            match by_name.get(parent) {
                Some(Entry {
                    contents: Contents::Directory,
                    ..
                }) => {}
                Some(other) => {
                    return Err(ImageError::NotADirectory {
                        path: other.path.clone(),
                    })
                }
                None => missing.push(parent.to_string()),
            }
            current = parent;
        }
    }
    for name in missing {
        let path = format!("/{name}");
        by_name
            .entry(name)
            .or_insert_with(|| Entry::directory(path, 0o755));
    }
    Ok(by_name)
}

/// `/etc/passwd` -> `etc/passwd`, refusing anything an extractor could read
/// two ways or that could escape the root.
fn tar_name(path: &str) -> Result<String, ImageError> {
    let invalid = |reason| ImageError::Path {
        path: path.to_string(),
        reason,
    };
    let rest = path
        .strip_prefix('/')
        .ok_or_else(|| invalid("it must be absolute"))?;
    if rest.is_empty() {
        return Err(invalid("the root directory cannot be an entry"));
    }
    if rest.contains('\0') {
        return Err(invalid("it contains a NUL byte"));
    }
    for component in rest.split('/') {
        match component {
            "" => return Err(invalid("it has an empty component or a trailing slash")),
            "." | ".." => return Err(invalid("it has a `.` or `..` component")),
            _ => {}
        }
    }
    Ok(rest.to_string())
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    entry: &Entry,
) -> Result<(), ImageError> {
    // Everything that is not an input is fixed: owner root (numeric only,
    // no user or group names), time 0, and the GNU header's other fields
    // (atime, ctime, device numbers) left zero by `new_gnu`.
    let mut header = tar::Header::new_gnu();
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(0);
    header.set_mode(entry.mode & 0o7777);
    let written = match &entry.contents {
        Contents::Directory => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            tar.append_data(&mut header, name, io::empty())
        }
        Contents::Symlink(target) => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_mode(0o777);
            header.set_size(0);
            tar.append_link(&mut header, name, target)
        }
        Contents::Bytes(data) => regular(tar, &mut header, name, data),
        Contents::HostFile(source) => {
            // Read whole rather than streamed: the header needs the size
            // first, and a file that changed between a stat and the read
            // would corrupt the archive.
            let data = std::fs::read(source).map_err(|e| ImageError::Read {
                path: source.clone(),
                reason: e,
            })?;
            regular(tar, &mut header, name, &data)
        }
    };
    written.map_err(ImageError::Layer)
}

fn regular<W: Write>(
    tar: &mut tar::Builder<W>,
    header: &mut tar::Header,
    name: &str,
    data: &[u8],
) -> io::Result<()> {
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    tar.append_data(header, name, data)
}

/// Passes writes through and hashes what was accepted.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries_of(layer: &Layer) -> Vec<(String, tar::EntryType, u32, Vec<u8>)> {
        let gz = flate2::read::GzDecoder::new(layer.data().as_ref());
        let mut archive = tar::Archive::new(gz);
        let mut out = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let header = entry.header().clone();
            assert_eq!(header.uid().unwrap(), 0);
            assert_eq!(header.gid().unwrap(), 0);
            assert_eq!(header.mtime().unwrap(), 0);
            assert_eq!(header.username().unwrap(), Some(""));
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let mut data = Vec::new();
            entry.read_to_end(&mut data).unwrap();
            out.push((name, header.entry_type(), header.mode().unwrap(), data));
        }
        out
    }

    #[test]
    fn sorted_with_parents_and_modes() {
        let layer = build(vec![
            Entry::bytes("/opt/app/bin", "x", 0o755),
            Entry::directory("/tmp", 0o1777),
            Entry::symlink("/lib64", "lib"),
            Entry::bytes("/etc/passwd", "root", 0o644),
        ])
        .unwrap();
        let names: Vec<_> = entries_of(&layer)
            .into_iter()
            .map(|(name, kind, mode, data)| (name, kind, mode, data.len()))
            .collect();
        use tar::EntryType::*;
        assert_eq!(
            names,
            vec![
                ("etc".to_string(), Directory, 0o755, 0),
                ("etc/passwd".to_string(), Regular, 0o644, 4),
                ("lib64".to_string(), Symlink, 0o777, 0),
                ("opt".to_string(), Directory, 0o755, 0),
                ("opt/app".to_string(), Directory, 0o755, 0),
                ("opt/app/bin".to_string(), Regular, 0o755, 1),
                ("tmp".to_string(), Directory, 0o1777, 0),
            ]
        );
    }

    #[test]
    fn long_paths_survive() {
        let long = format!("/{}/file", "d".repeat(150));
        let layer = build(vec![Entry::bytes(long.clone(), "x", 0o644)]).unwrap();
        let entries = entries_of(&layer);
        assert_eq!(entries.last().unwrap().0, long[1..]);
    }

    #[test]
    fn order_of_entries_does_not_matter() {
        let a = vec![
            Entry::bytes("/a/1", "1", 0o644),
            Entry::bytes("/b", "2", 0o644),
        ];
        let mut b = a.clone();
        b.reverse();
        assert_eq!(build(a).unwrap(), build(b).unwrap());
    }

    #[test]
    fn rejects_bad_paths() {
        for path in ["relative", "/", "/a//b", "/a/", "/a/../b", "/./a"] {
            let err = build(vec![Entry::bytes(path, "", 0o644)]).unwrap_err();
            assert!(matches!(err, ImageError::Path { .. }), "{path}: {err}");
        }
    }

    #[test]
    fn rejects_duplicates_and_files_as_parents() {
        let dup = build(vec![
            Entry::bytes("/a", "", 0o644),
            Entry::directory("/a", 0o755),
        ]);
        assert!(matches!(dup, Err(ImageError::Duplicate { .. })));
        let parent = build(vec![
            Entry::bytes("/a", "", 0o644),
            Entry::bytes("/a/b", "", 0o644),
        ]);
        assert!(matches!(parent, Err(ImageError::NotADirectory { .. })));
    }
}
