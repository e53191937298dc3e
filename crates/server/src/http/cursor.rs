//! List cursors: where a page ended (the engine's position, see
//! `stackwright_storage::paging`), sealed with AES-256-GCM under a key of
//! the stack and bound to the route and its filters. A client can only hand
//! back a cursor this stack issued for the same list: an edited, forged or
//! transplanted one does not open, and answers 400. So no request can make
//! the server start anywhere but at a position it gave out, and the values
//! in a position (which may include columns the route does not show) stay
//! unreadable.
//!
//! The key is derived from the stack's cursor secret: on AWS a generated
//! Secrets Manager secret every replica reads; locally a key file of the
//! stack (`.stackwright/cursor.key`, 0600, git-ignored) every replica of `up`
//! shares. Changing it only ends the cursors in flight (clients start over).

use std::path::Path;

use aws_lc_rs::aead::{LessSafeKey, UnboundKey, AES_256_GCM};
use aws_lc_rs::hkdf::{Salt, HKDF_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value as Json;
use stackwright_stack::RangeOp;
use stackwright_storage::{ListQuery, Row};

use crate::error::{ApiError, BAD_CURSOR};
use crate::users::keys::{make_key_file, open, seal};

/// The key file's name in the stack's local state directory.
pub const KEY_FILE: &str = "cursor.key";

#[derive(Clone)]
pub struct CursorKey(std::sync::Arc<LessSafeKey>);

impl std::fmt::Debug for CursorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CursorKey(..)")
    }
}

impl CursorKey {
    /// The key derived from secret material (HKDF-SHA256, for this use only).
    pub fn from_secret(secret: &[u8]) -> CursorKey {
        let prk = Salt::new(HKDF_SHA256, b"stackwright").extract(secret);
        let okm = prk
            .expand(&[b"list cursor v1"], &AES_256_GCM)
            .expect("an AES-256 key is a valid HKDF length");
        CursorKey(std::sync::Arc::new(LessSafeKey::new(UnboundKey::from(okm))))
    }

    /// The key of a local stack: its key file in `state`, made on first use.
    pub fn local(state: &Path) -> Result<CursorKey, String> {
        let path = state.join(KEY_FILE);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => make_key_file(&path)
                .map_err(|e| format!("cannot create the key file {}: {e}", path.display()))?,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(CursorKey::from_secret(&bytes))
    }

    /// The cursor for a page that ended at `position`, in the list `binding`.
    pub fn seal(&self, binding: &str, position: &Row) -> String {
        let data = serde_json::to_vec(position).expect("a row serializes");
        URL_SAFE_NO_PAD.encode(seal(&self.0, binding.as_bytes(), data))
    }

    /// The position a cursor of `binding` holds; 400 for anything else.
    pub fn open(&self, binding: &str, cursor: &str) -> Result<Row, ApiError> {
        let bad = || ApiError::BadRequest(BAD_CURSOR.into());
        let data = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
        let plain = open(&self.0, binding.as_bytes(), data).ok_or_else(bad)?;
        serde_json::from_slice(&plain).map_err(|_| bad())
    }
}

/// What a cursor is bound to: the route, and the filters of the request
/// (column and value, in the route's order).
pub fn binding(route_label: &str, query: &ListQuery<'_>, sort: &str) -> String {
    let filters: Vec<(&str, &Json)> = query.filters.iter().map(|(c, v)| (*c, v)).collect();
    let ranges: Vec<(&str, RangeOp, &Json)> = query
        .ranges
        .iter()
        .map(|b| (b.column, b.op, &b.value))
        .collect();
    format!(
        "{route_label}\n{}\n{}\n{sort}",
        serde_json::to_string(&filters).expect("filters serialize"),
        serde_json::to_string(&ranges).expect("bounds serialize"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::aead::NONCE_LEN;
    use serde_json::json;
    use stackwright_storage::Bound;

    fn position() -> Row {
        serde_json::from_value(json!({"name": "b", "id": 7})).unwrap()
    }

    /// The binding of a list of `label` with one filter (if any), one bound
    /// (if any) and an order.
    fn list_of(label: &str, kind: Option<&str>, after: Option<i64>, sort: &str) -> String {
        let query = ListQuery {
            filters: kind.map(|k| ("kind", json!(k))).into_iter().collect(),
            ranges: after
                .map(|a| Bound {
                    column: "age",
                    op: RangeOp::Gt,
                    value: json!(a),
                })
                .into_iter()
                .collect(),
            order_by: &[],
            limit: 10,
            after: None,
        };
        binding(label, &query, sort)
    }

    #[test]
    fn a_cursor_opens_only_for_its_list_and_key() {
        let key = CursorKey::from_secret(b"one");
        let list = list_of("GET /pets", Some("cat"), Some(3), "");
        let cursor = key.seal(&list, &position());
        assert_eq!(key.open(&list, &cursor).unwrap(), position());
        assert!(
            !cursor.contains("name")
                && !URL_SAFE_NO_PAD
                    .decode(&cursor)
                    .unwrap()
                    .windows(4)
                    .any(|w| w == b"name")
        );
        for other in [
            list_of("GET /pets", Some("dog"), Some(3), ""),
            list_of("GET /pets", Some("cat"), Some(4), ""),
            list_of("GET /pets", Some("cat"), None, ""),
            list_of("GET /pets", Some("cat"), Some(3), "-age"),
            list_of("GET /toys", Some("cat"), Some(3), ""),
        ] {
            assert!(key.open(&other, &cursor).is_err(), "{other}");
        }
        assert!(CursorKey::from_secret(b"two").open(&list, &cursor).is_err());
        // Any edited byte.
        let mut bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
        for i in [0, NONCE_LEN, bytes.len() - 1] {
            bytes[i] ^= 1;
            assert!(key.open(&list, &URL_SAFE_NO_PAD.encode(&bytes)).is_err());
            bytes[i] ^= 1;
        }
        for garbage in ["", "!!", "AAAA", &"A".repeat(200)] {
            assert!(key.open(&list, garbage).is_err(), "{garbage}");
        }
    }

    #[test]
    fn the_local_key_file_is_made_once_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(".stackwright");
        let list = list_of("GET /pets", None, None, "");
        let cursor = CursorKey::local(&state).unwrap().seal(&list, &position());
        let again = CursorKey::local(&state).unwrap();
        assert_eq!(again.open(&list, &cursor).unwrap(), position());
    }
}
