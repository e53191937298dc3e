//! A stack's local state folder (`DIR/.stackwright/`): the embedded
//! database, the user pool's outbox and key file. It holds password hashes,
//! confirmation codes and signing keys, so it is made readable by its owner
//! only (folder 0700, files 0600) and is never committed (a `.gitignore`).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The folder's name inside a stack folder.
pub const DIR: &str = ".stackwright";

/// Make `dir` (and its parents) if missing; `dir` itself becomes 0700.
/// An existing state folder made by an older version is tightened too.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    if dir.file_name().is_some_and(|n| n == DIR) {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        let ignore = dir.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "*\n")?;
        }
    }
    Ok(())
}

/// Open `path` for writing, made 0600 if new; `append` keeps what it holds.
pub fn private_file(path: &Path, append: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.mode(0o600);
    if append {
        options.create(true).append(true);
    } else {
        options.create_new(true).write(true);
    }
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_state_folder_and_its_files_are_private() {
        let stack = tempfile::tempdir().unwrap();
        let dir = stack.path().join(DIR);
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dir), 0o700, "an older folder is tightened");
        assert_eq!(
            std::fs::read_to_string(dir.join(".gitignore")).unwrap(),
            "*\n"
        );
        drop(private_file(&dir.join("outbox.jsonl"), true).unwrap());
        assert_eq!(mode(&dir.join("outbox.jsonl")), 0o600);
    }
}
