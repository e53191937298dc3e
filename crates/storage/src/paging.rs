//! Offset pages for engines that page by position (SQL): the cursor is an
//! opaque token holding the offset, and a page is `limit + 1` fetched rows
//! (the extra one only says more follow).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::engine::{Page, Result, Row, StorageError};

pub fn decode_cursor(cursor: &str) -> Result<u64> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StorageError::BadCursor)?;
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.strip_prefix("o:"))
        .and_then(|n| n.parse().ok())
        .ok_or(StorageError::BadCursor)
}

pub fn encode_cursor(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// A page from `limit + 1` fetched rows: the extra row only says more follow.
pub fn page(mut rows: Vec<Row>, limit: u32, offset: u64) -> Page {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Page {
        next_cursor: more.then(|| encode_cursor(offset + u64::from(limit))),
        rows,
    }
}
