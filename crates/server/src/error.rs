//! The one error type of the HTTP runtime.
//!
//! Every failure becomes `{"error":{"code","message"}}` with a 4xx or 5xx
//! status. Client mistakes carry a message written for the client; server
//! faults are logged in full and answered with a generic message, so no
//! internal detail (SQL, paths, credentials) reaches a response.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use stackwright_storage::StorageError;

/// The answer to a list cursor that does not open (or no longer fits).
pub const BAD_CURSOR: &str =
    "invalid `cursor`: pass the X-Next-Cursor value of the previous page, with the same filters";

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    /// A `Host` a local server does not answer (DNS rebinding).
    #[error("host `{0}` is not served here: open the API as localhost or 127.0.0.1, or list the name in [server] allowed_hosts")]
    HostNotAllowed(String),
    #[error("{0}")]
    NotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed { allow: String },
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("request target and headers are larger than {0} bytes")]
    HeadersTooLarge(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body did not arrive within the body deadline.
    #[error("the request body did not arrive within {0} s")]
    BodyTimeout(u64),
    /// Shed: as many requests as allowed are in progress.
    #[error("the server is busy: retry after the Retry-After delay")]
    Overloaded,
    #[error("the request took longer than {0} s")]
    Timeout(u64),
    /// The database did not answer; detail is for the log only.
    #[error("database unavailable")]
    Unavailable(String),
    /// A service of the stack is not listening (starting, restarting).
    #[error("{0}")]
    ServiceDown(String),
    /// A service of the stack failed while answering.
    #[error("{0}")]
    BadGateway(String),
    /// What this database cannot do (a local queue on Redshift); the
    /// message is ours, written for the client.
    #[error("{0}")]
    NotImplemented(String),
    /// A fault of ours; detail is for the log only.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::HostNotAllowed(_) => (StatusCode::FORBIDDEN, "host_not_allowed"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed { .. } => {
                (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
            }
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::HeadersTooLarge(_) => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers_too_large",
            ),
            ApiError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::BodyTimeout(_) => (StatusCode::REQUEST_TIMEOUT, "body_timeout"),
            ApiError::Overloaded => (StatusCode::SERVICE_UNAVAILABLE, "overloaded"),
            ApiError::Timeout(_) => (StatusCode::SERVICE_UNAVAILABLE, "timeout"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::ServiceDown(_) => (StatusCode::SERVICE_UNAVAILABLE, "service_unavailable"),
            ApiError::BadGateway(_) => (StatusCode::BAD_GATEWAY, "bad_gateway"),
            ApiError::NotImplemented(_) => (StatusCode::NOT_IMPLEMENTED, "not_implemented"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::Conflict => {
                ApiError::Conflict("a row with this key already exists".into())
            }
            StorageError::TooLarge(detail) => {
                tracing::info!(%detail, "value too large for the database");
                ApiError::BadRequest("a value is larger than the database can store".into())
            }
            StorageError::ConditionFailed => {
                ApiError::Conflict("the row does not meet this route's condition: its `where`, or an increment must end on one of the column's `allowed` values".into())
            }
            StorageError::BadCursor => ApiError::BadRequest(BAD_CURSOR.into()),
            StorageError::Unavailable(detail) | StorageError::Contention(detail) => {
                ApiError::Unavailable(detail)
            }
            StorageError::Unsupported(what) => ApiError::NotImplemented(what),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "request failed"),
            ApiError::Unavailable(detail) => tracing::warn!(%detail, "database unavailable"),
            _ => {}
        }
        let body = json!({ "error": { "code": code, "message": self.to_string() } });
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        match &self {
            ApiError::MethodNotAllowed { allow } => {
                if let Ok(v) = HeaderValue::from_str(allow) {
                    headers.insert(header::ALLOW, v);
                }
            }
            ApiError::Unauthorized(_) => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            ApiError::Unavailable(_)
            | ApiError::Overloaded
            | ApiError::Timeout(_)
            | ApiError::ServiceDown(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            // The rest of a late body may still be on its way: start afresh.
            ApiError::BodyTimeout(_) => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            _ => {}
        }
        response
    }
}

/// Whole seconds to wait, rounded up (Retry-After has no fractions).
pub fn retry_after(wait: std::time::Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}
