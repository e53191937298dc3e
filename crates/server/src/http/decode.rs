//! Request bodies and values -> typed values, checked against their column.
//!
//! Every request body is read here (within its limit, as declared JSON,
//! refusing a key given twice), for the routes, topics and the local user
//! pool alike. Path and query values arrive as text and are parsed by column
//! type; body values arrive as JSON and are checked as they are. Either way
//! the result is a JSON value the engine binds as a parameter, never SQL
//! text.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap};
use serde_json::{Map, Value as Json};
pub use stackwright_stack::values::clip;
use stackwright_stack::values::{check_value, from_text, normalize};
use stackwright_stack::Column;

use crate::error::ApiError;

/// Parse a path or query value for `column`; `what` names it in errors,
/// formatted only if there is one.
pub fn text_value(
    column: &Column,
    raw: &str,
    what: impl std::fmt::Display,
) -> Result<Json, ApiError> {
    from_text(column, raw).map_err(|why| ApiError::BadRequest(format!("{what}: {why}")))
}

/// Check a body value for `column`.
pub fn body_value(column: &Column, value: Json, field: &str) -> Result<Json, ApiError> {
    let value = normalize(column, value);
    check_value(column, &value)
        .map_err(|why| ApiError::BadRequest(format!("field `{field}`: {why}")))?;
    Ok(value)
}

pub(super) async fn read_object(
    headers: HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Map<String, Json>, ApiError> {
    match read_json(headers, body, limit).await? {
        Json::Object(map) => Ok(map),
        _ => Err(ApiError::BadRequest(
            "the request body must be a JSON object".into(),
        )),
    }
}

/// For a route that reads no body: nothing (or only whitespace), else 400,
/// so that fields a client thinks it sets are never silently ignored.
pub(super) async fn refuse_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<(), ApiError> {
    let bytes = read_bytes(headers, body, limit).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        Ok(())
    } else {
        Err(ApiError::BadRequest(
            "this route reads no request body: send none".into(),
        ))
    }
}

/// The request body, within `limit` bytes (refused before reading when
/// its declared length is over).
pub(super) async fn read_bytes(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Bytes, ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // to_bytes reports an over-long body and a broken stream alike.
        if is_length_limit(&e) {
            ApiError::PayloadTooLarge(limit)
        } else {
            ApiError::BadRequest("the request body could not be read".into())
        }
    })
}

/// The request body as JSON, within `limit` bytes.
pub(super) async fn read_json(
    headers: HeaderMap,
    body: Body,
    limit: usize,
) -> Result<Json, ApiError> {
    let bytes = read_bytes(&headers, body, limit).await?;
    if bytes.is_empty() {
        return Err(ApiError::BadRequest(
            "the request body is empty; send a JSON object".into(),
        ));
    }
    require_json(&headers, &["application/json"])?;
    match parse_json(&bytes) {
        Ok(value) => Ok(value),
        Err(e) => Err(ApiError::BadRequest(format!(
            "the request body is not valid JSON: {e}"
        ))),
    }
}

/// A body must be declared as JSON (`application/json` or `*+json`, or
/// one of `also`). A browser sends `text/plain`, form or multipart bodies
/// from any site without asking the API first (no CORS preflight); a JSON
/// content type needs the preflight, which only the allowed origins pass.
/// So a page elsewhere cannot make a visitor's browser write here.
pub(super) fn require_json(headers: &HeaderMap, also: &[&str]) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let essence = declared
        .as_deref()
        .and_then(|ct| ct.split(';').next())
        .map(|ct| ct.trim().to_ascii_lowercase());
    match essence {
        Some(ct) if ct.ends_with("+json") || also.contains(&ct.as_str()) => Ok(()),
        Some(ct) => Err(ApiError::UnsupportedMediaType(format!(
            "unsupported content type `{}`: send the body as application/json",
            clip(&ct)
        ))),
        None => Err(ApiError::UnsupportedMediaType(
            "the request has a body but no Content-Type: send it as application/json".into(),
        )),
    }
}

/// JSON text as a value, refusing an object with a key twice: parsers
/// disagree on which one counts (serde_json keeps the last), so a proxy or
/// validator in front could have judged the other.
pub(super) fn parse_json(bytes: &[u8]) -> Result<Json, serde_json::Error> {
    use serde::de::{Deserializer, Error, MapAccess, SeqAccess, Visitor};

    struct Unique(Json);
    impl<'de> serde::Deserialize<'de> for Unique {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            d.deserialize_any(UniqueVisitor).map(Unique)
        }
    }
    struct UniqueVisitor;
    impl<'de> Visitor<'de> for UniqueVisitor {
        type Value = Json;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Json, E> {
            Ok(Json::Bool(v))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Json, E> {
            Ok(Json::from(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Json, E> {
            Ok(Json::from(v))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Json, E> {
            Ok(serde_json::Number::from_f64(v).map_or(Json::Null, Json::Number))
        }
        fn visit_str<E>(self, v: &str) -> Result<Json, E> {
            Ok(Json::String(v.to_string()))
        }
        fn visit_string<E>(self, v: String) -> Result<Json, E> {
            Ok(Json::String(v))
        }
        fn visit_unit<E>(self) -> Result<Json, E> {
            Ok(Json::Null)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
            let mut items = Vec::new();
            while let Some(Unique(v)) = seq.next_element()? {
                items.push(v);
            }
            Ok(Json::Array(items))
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
            let mut out = Map::new();
            while let Some(key) = map.next_key::<String>()? {
                let Unique(value) = map.next_value()?;
                if out.contains_key(&key) {
                    return Err(A::Error::custom(format!("duplicate key `{}`", clip(&key))));
                }
                out.insert(key, value);
            }
            Ok(Json::Object(out))
        }
    }
    serde_json::from_slice::<Unique>(bytes).map(|u| u.0)
}

fn is_length_limit(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        if err.to_string().contains("length limit exceeded") {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Query parameters, rejecting unknown and repeated ones.
pub(super) fn parse_query(
    query: Option<&str>,
    accepted: &[&str],
) -> Result<Vec<(String, String)>, ApiError> {
    let Some(query) = query.filter(|q| !q.is_empty()) else {
        return Ok(Vec::new());
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
        .map_err(|_| ApiError::BadRequest("the query string is not valid URL encoding".into()))?;
    for (i, (name, _)) in pairs.iter().enumerate() {
        if !accepted.contains(&name.as_str()) {
            let hint = if accepted.is_empty() {
                "this route takes no query parameters".to_string()
            } else {
                format!("accepted: {}", accepted.join(", "))
            };
            return Err(ApiError::BadRequest(format!(
                "unknown query parameter `{}`; {hint}",
                clip(name)
            )));
        }
        if pairs[..i].iter().any(|(n, _)| n == name) {
            return Err(ApiError::BadRequest(format!(
                "query parameter `{name}` is given more than once"
            )));
        }
    }
    Ok(pairs)
}
