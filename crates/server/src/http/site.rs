//! The stack's static site: every file of its folder, read once at start
//! with the placeholders of text files filled, served from memory. A
//! request path is only ever a key into that map, so nothing outside the
//! folder (or hidden inside it) can be reached.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use stackwright_stack::{Site, Stack};

use crate::error::ApiError;

/// The most a site may hold: it is kept in memory.
const MAX_TOTAL_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("cannot read the site folder {path}: {reason}")]
    Read {
        path: PathBuf,
        reason: std::io::Error,
    },
    #[error("the site folder holds more than {} MiB", MAX_TOTAL_BYTES / 1024 / 1024)]
    TooLarge,
}

struct File {
    body: bytes::Bytes,
    content_type: &'static str,
    etag: HeaderValue,
    html: bool,
}

/// The files, by path relative to the folder (`index.html`, `js/app.js`).
pub struct SiteFiles {
    path: String,
    spa: bool,
    files: HashMap<String, File>,
}

fn content_type(name: &str) -> (&'static str, bool) {
    let ext = name
        .rsplit_once('.')
        .map_or("", |(_, e)| e)
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => ("text/html; charset=utf-8", true),
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "json" | "map" => ("application/json", true),
        "webmanifest" => ("application/manifest+json", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "svg" => ("image/svg+xml", true),
        "xml" => ("application/xml", true),
        "png" => ("image/png", false),
        "jpg" | "jpeg" => ("image/jpeg", false),
        "gif" => ("image/gif", false),
        "webp" => ("image/webp", false),
        "ico" => ("image/x-icon", false),
        "woff2" => ("font/woff2", false),
        "woff" => ("font/woff", false),
        "wasm" => ("application/wasm", false),
        "pdf" => ("application/pdf", false),
        _ => ("application/octet-stream", false),
    }
}

/// Fill `{{NAME}}` placeholders in a text file.
pub fn fill(text: &str, values: &[(&str, String)]) -> String {
    let mut out = text.to_string();
    for (name, value) in values {
        out = out.replace(&format!("{{{{{name}}}}}"), value);
    }
    out
}

impl SiteFiles {
    pub fn load(stack: &Stack, site: &Site, values: &[(&str, String)]) -> Result<Self, SiteError> {
        let root = stack.dir.join(&site.dir);
        let mut files = HashMap::new();
        let mut total = 0;
        collect(&root, "", &mut |relative, path| {
            let read = |source| SiteError::Read {
                path: path.to_path_buf(),
                reason: source,
            };
            let data = std::fs::read(path).map_err(read)?;
            total += data.len() as u64;
            if total > MAX_TOTAL_BYTES {
                return Err(SiteError::TooLarge);
            }
            let (content_type, text) = content_type(relative);
            let body: Vec<u8> = match (text, String::from_utf8(data)) {
                (true, Ok(s)) => fill(&s, values).into_bytes(),
                (_, Ok(s)) => s.into_bytes(),
                (_, Err(e)) => e.into_bytes(),
            };
            let digest = Sha256::digest(&body);
            let etag = format!("\"{}\"", &hex(&digest)[..20]);
            files.insert(
                relative.to_string(),
                File {
                    etag: HeaderValue::from_str(&etag).expect("hex is a valid header"),
                    body: body.into(),
                    content_type,
                    html: content_type.starts_with("text/html"),
                },
            );
            Ok(())
        })?;
        Ok(SiteFiles {
            path: site.path.clone(),
            spa: site.spa,
            files,
        })
    }

    /// The URL path the site is served at.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Every file: (path in the folder, content with placeholders filled,
    /// content type, whether it is a page), sorted by path.
    pub fn files(&self) -> Vec<(&str, &[u8], &'static str, bool)> {
        let mut files: Vec<_> = self
            .files
            .iter()
            .map(|(k, f)| (k.as_str(), f.body.as_ref(), f.content_type, f.html))
            .collect();
        files.sort_by_key(|f| f.0);
        files
    }

    /// Answer a request for the site; `Err` is the JSON error to send.
    pub fn respond(&self, request: &Request) -> Result<Response, ApiError> {
        let path = request.uri().path();
        if path == self.path && self.path != "/" {
            // The folder's own address ends in `/`, so its pages' relative
            // links resolve inside it.
            let location = match request.uri().query() {
                Some(q) => format!("{path}/?{q}"),
                None => format!("{path}/"),
            };
            let mut response = StatusCode::PERMANENT_REDIRECT.into_response();
            if let Ok(v) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, v);
            }
            return Ok(response);
        }
        let rest = if self.path == "/" {
            path
        } else {
            path.strip_prefix(&self.path).unwrap_or("")
        };
        let mut key = rest.trim_start_matches('/').to_string();
        if key.is_empty() || key.ends_with('/') {
            key.push_str("index.html");
        }
        let file = self
            .files
            .get(&key)
            .or_else(|| self.files.get(&format!("{key}/index.html")))
            .or_else(|| {
                // A single-page app routes in the browser: any path without
                // a file extension is a page of it.
                let last = key.rsplit('/').next().unwrap_or("");
                (self.spa && !last.contains('.'))
                    .then(|| self.files.get("index.html"))
                    .flatten()
            })
            .ok_or_else(|| ApiError::NotFound(format!("no such page: {}", super::clip(path))))?;
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return Err(ApiError::MethodNotAllowed {
                allow: "GET, HEAD".into(),
            });
        }
        let fresh = request
            .headers()
            .get(header::IF_NONE_MATCH)
            .is_some_and(|v| v == file.etag);
        let mut response = if fresh {
            StatusCode::NOT_MODIFIED.into_response()
        } else if request.method() == Method::HEAD {
            Response::new(Body::empty())
        } else {
            Response::new(Body::from(file.body.clone()))
        };
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(file.content_type),
        );
        headers.insert(header::ETAG, file.etag.clone());
        // Pages are checked every time (their placeholders and links change
        // with a deploy); other files for an hour, revalidated by ETag.
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(if file.html {
                "no-cache"
            } else {
                "public, max-age=3600"
            }),
        );
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        if !fresh && request.method() == Method::HEAD {
            headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.body.len()));
        }
        Ok(response)
    }
}

/// Every regular file under `dir`, hidden entries left out, as
/// (`a/b.html`, its path).
fn collect(
    dir: &Path,
    prefix: &str,
    each: &mut dyn FnMut(&str, &Path) -> Result<(), SiteError>,
) -> Result<(), SiteError> {
    let read = |source| SiteError::Read {
        path: dir.to_path_buf(),
        reason: source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(read)?
        .collect::<Result<_, _>>()
        .map_err(read)?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        // The entry itself, not what a link points at: a link could lead
        // anywhere on the machine (`/etc`, a home folder), and would be
        // served by `up` and uploaded by `deploy`.
        let kind = entry.file_type().map_err(|source| SiteError::Read {
            path: path.clone(),
            reason: source,
        })?;
        let relative = format!("{prefix}{name}");
        if kind.is_symlink() {
            tracing::warn!(target: "stackwright::site", file = %path.display(), "a symbolic link in the site folder is left out: copy the file in instead");
        } else if kind.is_dir() {
            collect(&path, &format!("{relative}/"), each)?;
        } else if kind.is_file() {
            each(&relative, &path)?;
        }
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The site's handler, shared by the router.
pub type Shared = Arc<SiteFiles>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled() {
        let values = [
            ("API_URL", "https://api".to_string()),
            ("REGION", "eu-west-1".to_string()),
        ];
        assert_eq!(
            fill("a={{API_URL}} r={{REGION}} x={{OTHER}}", &values),
            "a=https://api r=eu-west-1 x={{OTHER}}"
        );
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("index.html").0, "text/html; charset=utf-8");
        assert_eq!(content_type("a/b.JS").0, "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.png"), ("image/png", false));
        assert_eq!(content_type("noext").0, "application/octet-stream");
    }
}
