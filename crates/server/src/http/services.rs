//! The stack's services behind the runtime: each path prefix of a service
//! is proxied to its local port, with the request and response bodies
//! streamed, under the same limits, deadline, load shedding and request
//! log as the routes (the router's layers wrap these handlers too).
//!
//! Authorization: a `x-stackwright-user-*` header never passes from a
//! client; with `auth = "user"` the runtime checks the token first and
//! sets those headers from the verified claims. A service that is down
//! answers 503 JSON (502 when it fails mid-answer), never a hang. The
//! client's address is appended to `X-Forwarded-For`.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::uri::{PathAndQuery, Scheme};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use stackwright_stack::{Auth, CLAIM_HEADERS, CLAIM_HEADER_PREFIX, ORIGIN_HEADER};

use super::ApiContext;
use crate::error::ApiError;
use crate::services::Target;

/// Headers of one hop, never forwarded (RFC 9110, 7.6.1).
const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

pub type Upstream = Client<HttpConnector, Body>;

pub fn client() -> Upstream {
    let mut connector = HttpConnector::new();
    // Requests go out whole; without this a response waits on the
    // service's delayed ACK whenever a request takes two writes.
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new()).build(connector)
}

/// A route for each prefix of each service (the prefix itself, and below).
pub fn router(targets: &[Target]) -> Router<ApiContext> {
    let mut router = Router::new();
    for target in targets {
        let target = Arc::new(target.clone());
        for prefix in &target.service.paths {
            let to = target.clone();
            let handler = move |State(ctx): State<ApiContext>, request: Request| {
                let to = to.clone();
                async move {
                    proxy(&ctx, &to, request)
                        .await
                        .unwrap_or_else(IntoResponse::into_response)
                }
            };
            router = router
                .route(prefix, any(handler.clone()))
                .route(&format!("{prefix}/"), any(handler.clone()))
                .route(&format!("{prefix}/{{*rest}}"), any(handler));
        }
    }
    router
}

async fn proxy(ctx: &ApiContext, to: &Target, request: Request) -> Result<Response, ApiError> {
    let (mut parts, body) = request.into_parts();
    strip(&mut parts.headers);
    if to.service.auth == Auth::User {
        let users = ctx.users.as_ref().ok_or_else(crate::users::no_pool)?;
        let claims = users.user(&parts.headers).await?;
        for (name, claim) in CLAIM_HEADERS {
            if let Some(value) = claims.0.get(claim).and_then(|v| v.as_str()) {
                if let Ok(value) = HeaderValue::from_str(value) {
                    parts.headers.insert(HeaderName::from_static(name), value);
                }
            }
        }
    }
    let path = parts
        .uri
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    parts.uri = Uri::builder()
        .scheme(Scheme::HTTP)
        .authority(to.authority.clone())
        .path_and_query(path)
        .build()
        .map_err(|e| ApiError::BadRequest(format!("invalid request target: {e}")))?;
    parts.headers.insert(
        HeaderName::from_static("x-forwarded-proto"),
        HeaderValue::from_static("http"),
    );
    forwarded_for(&mut parts.headers, &parts.extensions);
    let name = &to.service.name;
    let response = ctx
        .upstream
        .request(axum::http::Request::from_parts(parts, body))
        .await
        .map_err(|e| {
            if e.is_connect() {
                ApiError::ServiceDown(format!(
                    "service `{name}` is not answering (starting or restarting): retry shortly"
                ))
            } else {
                tracing::warn!(service = %name, error = %e, "the service failed to answer");
                ApiError::BadGateway(format!("service `{name}` failed to answer"))
            }
        })?;
    let (mut parts, body) = response.into_parts();
    for name in HOP_BY_HOP {
        parts.headers.remove(name);
    }
    Ok(Response::from_parts(parts, Body::new(body)))
}

/// Append the address the request came from to `X-Forwarded-For`, as a
/// proxy does: the service may trust the last entry (the runtime's own).
fn forwarded_for(headers: &mut HeaderMap, extensions: &axum::http::Extensions) {
    let Some(super::client::Peer(ip)) = extensions.get::<super::client::Peer>().copied() else {
        return;
    };
    // Most requests carry none: then the address alone, with no joining.
    let mut value = String::new();
    for before in headers.get_all("x-forwarded-for") {
        value.push_str(&String::from_utf8_lossy(before.as_bytes()));
        value.push_str(", ");
    }
    let _ = write!(value, "{ip}");
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert(HeaderName::from_static("x-forwarded-for"), value);
    }
}

/// Remove what a client must not send a service: hop-by-hop headers, and
/// every claim header (only the runtime sets those).
fn strip(headers: &mut HeaderMap) {
    let connection: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::try_from(n.trim()).ok())
        .collect();
    for name in connection {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    let claims: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with(CLAIM_HEADER_PREFIX))
        .cloned()
        .collect();
    for name in claims {
        headers.remove(name);
    }
    // The origin secret stays with the runtime: a service that logs its
    // headers must not write it down.
    headers.remove(ORIGIN_HEADER);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claim_origin_and_hop_by_hop_headers_are_stripped() {
        let mut headers = HeaderMap::new();
        headers.insert("x-stackwright-user-sub", HeaderValue::from_static("forged"));
        headers.insert("X-Stackwright-User-Role", HeaderValue::from_static("admin"));
        headers.insert("connection", HeaderValue::from_static("close, x-secret"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("accept", HeaderValue::from_static("*/*"));
        headers.insert("X-Stackwright-Origin", HeaderValue::from_static("secret"));
        strip(&mut headers);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, ["accept"]);
    }
}
