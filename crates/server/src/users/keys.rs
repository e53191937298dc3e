//! The embedded pool's signing keys: RSA keys kept in the stack's database
//! (so every replica signs and verifies alike), each sealed with AES-256-GCM
//! under a key file of the stack (`.stackwright/user-pool.key`, mode 0600,
//! git-ignored). Anyone who can read the database (a copied `local.db`, a
//! shared PostgreSQL) still cannot sign tokens without the file.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::files;

/// The prefix of a sealed key as stored; older stores held the key's
/// PKCS#8 bytes in plain base64, which are sealed at the next start.
const SEALED: &str = "sealed-v1:";

pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED)
}

pub struct KeyFile(LessSafeKey);

impl KeyFile {
    /// Read the key file, or make it when `create` (no key is sealed yet:
    /// a new file could not open old ones).
    pub fn open(path: &Path, create: bool) -> Result<KeyFile, String> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => make_key_file(path)
                .map_err(|e| format!("cannot create the key file {}: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(format!(
                "the user pool's signing keys are sealed with {}, which is missing: restore it, \
                     or delete the rows of _stackwright_signing_keys to start with a new key \
                     (every signed-in user then signs in again)",
                path.display()
            ))
            }
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        let key = UnboundKey::new(&AES_256_GCM, &bytes)
            .map_err(|_| format!("{} is not a 32-byte key", path.display()))?;
        Ok(KeyFile(LessSafeKey::new(key)))
    }

    /// The stored form of a key's PKCS#8 bytes, bound to its key id.
    pub fn seal(&self, kid: &str, der: &[u8]) -> String {
        format!(
            "{SEALED}{}",
            STANDARD.encode(seal(&self.0, kid.as_bytes(), der.to_vec()))
        )
    }

    /// A stored key's PKCS#8 bytes, sealed or (from older stores) plain.
    pub fn open_stored(&self, kid: &str, stored: &str) -> Result<Vec<u8>, String> {
        let Some(sealed) = stored.strip_prefix(SEALED) else {
            return STANDARD
                .decode(stored)
                .map_err(|_| "a stored signing key is not base64".to_string());
        };
        let data = STANDARD
            .decode(sealed)
            .map_err(|_| "a sealed signing key is not base64".to_string())?;
        if data.len() < NONCE_LEN {
            return Err("a sealed signing key is truncated".into());
        }
        open(&self.0, kid.as_bytes(), data).ok_or_else(|| {
            "a signing key does not open with the stack's key file (was the file replaced?)"
                .to_string()
        })
    }
}

/// `data` sealed under `key` with a random nonce, bound to `aad`: the
/// nonce, then the ciphertext and its tag.
pub(crate) fn seal(key: &LessSafeKey, aad: &[u8], mut data: Vec<u8>) -> Vec<u8> {
    let nonce = random_bytes::<NONCE_LEN>();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut data,
    )
    .expect("sealing in memory works");
    let mut out = nonce.to_vec();
    out.extend(data);
    out
}

/// What [`seal`] sealed, if it opens under `key` for `aad`.
pub(crate) fn open(key: &LessSafeKey, aad: &[u8], mut data: Vec<u8>) -> Option<Vec<u8>> {
    if data.len() < NONCE_LEN {
        return None;
    }
    let nonce = Nonce::try_assume_unique_for_key(&data[..NONCE_LEN]).ok()?;
    let mut body = data.split_off(NONCE_LEN);
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut body).ok()?;
    Some(plain.to_vec())
}

/// Write a new random 32-byte key file without ever showing a half-written
/// one: written aside, then linked into place (which fails if another
/// process made it first, whose key is then used).
pub(crate) fn make_key_file(path: &Path) -> std::io::Result<Vec<u8>> {
    let key = random_bytes::<32>();
    if let Some(dir) = path.parent() {
        files::private_dir(dir)?;
    }
    let aside = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = files::private_file(&aside, false)?;
    file.write_all(&key)?;
    file.sync_all()?;
    drop(file);
    let linked = std::fs::hard_link(&aside, path);
    let _ = std::fs::remove_file(&aside);
    match linked {
        Ok(()) => Ok(key.to_vec()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path),
        Err(e) => Err(e),
    }
}

/// Bytes from the system's secure random source (keys, nonces, codes).
pub(crate) fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_key_opens_only_with_its_file_and_its_kid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".stackwright/user-pool.key");
        assert!(KeyFile::open(&path, false).is_err(), "missing, not made");
        let file = KeyFile::open(&path, true).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let stored = file.seal("kid-1", b"secret der");
        assert!(is_sealed(&stored) && !stored.contains("secret"));
        assert_eq!(file.open_stored("kid-1", &stored).unwrap(), b"secret der");
        assert!(
            file.open_stored("kid-2", &stored).is_err(),
            "bound to its kid"
        );
        let again = KeyFile::open(&path, true).unwrap();
        assert_eq!(again.open_stored("kid-1", &stored).unwrap(), b"secret der");
        std::fs::remove_file(&path).unwrap();
        let other = KeyFile::open(&path, true).unwrap();
        assert!(other.open_stored("kid-1", &stored).is_err());
        // Plain keys of older stores still open.
        assert_eq!(
            file.open_stored("k", &STANDARD.encode(b"plain")).unwrap(),
            b"plain"
        );
    }
}
