//! Cross-origin requests from the stack's own site: on AWS the site is on
//! CloudFront and the API on another origin. Only the listed origins are
//! allowed (never `*`: requests carry a bearer token), with the methods and
//! headers the routes use; a preflight is answered here.

use std::future::Future;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

pub type Origins = Arc<Vec<String>>;

const METHODS: &str = "GET, POST, PUT, PATCH, DELETE";
const HEADERS: &str = "authorization, content-type, idempotency-key";

/// The response to `request`: `inner`'s, with the CORS headers for an
/// allowed origin; a preflight is answered here.
pub async fn around<F, Fut>(origins: &Origins, request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
        .filter(|o| origins.iter().any(|allowed| allowed == o))
        .map(str::to_string);
    let Some(origin) = origin else {
        if let Some(refusal) = foreign_write(&request) {
            return refusal.into_response();
        }
        return inner(request).await;
    };
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        inner(request).await
    };
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&origin) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, v);
    }
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("x-next-cursor, retry-after"),
    );
    if preflight {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(METHODS),
        );
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static(HEADERS),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static("600"),
        );
    }
    response
}

/// A write a browser sends for a page of another origin: refused. Forms,
/// `text/plain` posts and body-less POSTs need no preflight, so CORS alone
/// would let any page make a visitor's browser call a write route (a local
/// `up` from any site the developer opens). Browsers name the page's origin
/// in `Origin` on such requests; clients that are not browsers send none.
fn foreign_write(request: &Request) -> Option<crate::error::ApiError> {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return None;
    }
    let origin = request.headers().get(header::ORIGIN)?;
    let origin = String::from_utf8_lossy(origin.as_bytes()).to_ascii_lowercase();
    let host = request
        .headers()
        .get(header::HOST)
        .map(|h| String::from_utf8_lossy(h.as_bytes()).to_ascii_lowercase());
    // The page's own origin (the site `up` serves beside the API) may write.
    let authority = origin.split_once("://").map(|(_, a)| a);
    if authority.is_some() && authority == host.as_deref() {
        return None;
    }
    Some(crate::error::ApiError::Forbidden(format!(
        "a write from a page of another origin (`{}`) is refused: only the stack's site may call the API from a browser",
        super::clip(&origin)
    )))
}
