//! Per-request limits: header size, a concurrency cap that sheds load, and
//! a deadline. Connection-level limits (slow clients, open connections) are
//! in `crate::serve`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use stackwright_stack::ServerSettings;
use tokio::sync::Semaphore;

use crate::error::ApiError;

#[derive(Clone)]
pub struct Limits {
    /// One permit per request in progress.
    in_progress: Arc<Semaphore>,
    timeout: Duration,
    max_header_bytes: usize,
}

impl Limits {
    pub fn new(settings: &ServerSettings) -> Limits {
        Limits {
            in_progress: Arc::new(Semaphore::new(settings.max_concurrent_requests)),
            timeout: Duration::from_secs(settings.request_timeout_seconds),
            max_header_bytes: settings.max_header_bytes,
        }
    }
}

pub async fn layer(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    if header_bytes(&request) > limits.max_header_bytes {
        return ApiError::HeadersTooLarge(limits.max_header_bytes).into_response();
    }
    // Shed at once rather than queue: a queue only adds latency to requests
    // that will time out anyway, and Retry-After tells clients when to come back.
    // No log line of its own: the request log records each 503, and a
    // second line per shed request would add work exactly when overloaded.
    let Ok(_permit) = limits.in_progress.clone().try_acquire_owned() else {
        return ApiError::Overloaded.into_response();
    };
    match tokio::time::timeout(limits.timeout, next.run(request)).await {
        Ok(response) => response,
        // Dropping the handler rolls back its transaction, if any.
        Err(_) => ApiError::Timeout(limits.timeout.as_secs()).into_response(),
    }
}

/// Bytes of the request target and headers as sent (`name: value\r\n`).
fn header_bytes(request: &Request) -> usize {
    let target = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum::<usize>()
        + target
}
