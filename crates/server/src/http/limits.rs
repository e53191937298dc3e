//! Per-request limits: the `Host` a local server answers, header size, the
//! body's own deadline, a concurrency cap that sheds load, and a deadline.
//! Connection-level limits (slow clients, open connections, connections per
//! client) are in `crate::serve`.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use axum::body::{Body, HttpBody};
use axum::extract::Request;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http_body_util::BodyExt;
use stackwright_stack::ServerSettings;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ApiError;

#[derive(Clone)]
pub struct Limits {
    /// Requests in progress, against `max_concurrent`. A counter, not a
    /// semaphore: nothing ever waits for a slot (a request beyond the cap is
    /// shed), and a semaphore's release takes its waiters' lock, which the
    /// runtime's workers contended for on every request.
    in_progress: Arc<AtomicUsize>,
    max_concurrent: usize,
    timeout: Duration,
    body_timeout: Duration,
    max_header_bytes: usize,
    max_body_bytes: usize,
    /// Bytes of bodies held in memory at once, across requests: what
    /// `max_concurrent_requests` full bodies take. Bodies are read before a
    /// request takes a slot, so without it every open connection could hold
    /// a full body.
    body_budget: Arc<Semaphore>,
    /// On a loopback address: the host names answered besides loopback ones.
    hosts: Option<Arc<Vec<String>>>,
}

impl Limits {
    /// `local`: the server listens on a loopback address only, so only
    /// loopback host names (and `allowed_hosts`) may reach it.
    pub fn new(settings: &ServerSettings, local: bool) -> Limits {
        Limits {
            in_progress: Arc::new(AtomicUsize::new(0)),
            max_concurrent: settings.max_concurrent_requests,
            timeout: Duration::from_secs(settings.request_timeout_seconds),
            body_timeout: Duration::from_secs(settings.body_timeout_seconds),
            max_header_bytes: settings.max_header_bytes,
            max_body_bytes: settings.max_body_bytes,
            body_budget: Arc::new(Semaphore::new(
                settings
                    .max_concurrent_requests
                    .saturating_mul(settings.max_body_bytes)
                    .min(Semaphore::MAX_PERMITS),
            )),
            hosts: local.then(|| Arc::new(settings.allowed_hosts.clone())),
        }
    }
}

/// `inner`'s response to `request`, within the limits.
pub async fn around<F, Fut>(limits: &Limits, request: Request, inner: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    if header_bytes(&request) > limits.max_header_bytes {
        return ApiError::HeadersTooLarge(limits.max_header_bytes).into_response();
    }
    if let Some(allowed) = &limits.hosts {
        if let Some(host) = request.headers().get(header::HOST) {
            // A name that is not text is no name we answer.
            if !host.to_str().is_ok_and(|host| host_allowed(host, allowed)) {
                let host = String::from_utf8_lossy(host.as_bytes());
                return ApiError::HostNotAllowed(super::clip(&host)).into_response();
            }
        }
    }
    // The body first, under its own deadline, and only then a slot: a
    // client that sends headers and then trickles (or never sends) its body
    // would otherwise hold a slot for the whole request deadline, and a few
    // hundred such sockets shed everyone else.
    // The body's share of the byte budget is held until the answer is ready.
    let (request, _body_bytes) = match buffered(request, limits).await {
        Ok(buffered) => buffered,
        Err(e) => return e.into_response(),
    };
    // Shed at once rather than queue: a queue only adds latency to requests
    // that will time out anyway, and Retry-After tells clients when to come back.
    // No log line of its own: the request log records each 503, and a
    // second line per shed request would add work exactly when overloaded.
    let Some(_slot) = Slot::take(&limits.in_progress, limits.max_concurrent) else {
        return ApiError::Overloaded.into_response();
    };
    within(limits.timeout, inner(request)).await
}

/// `future`'s answer, or a 504 once `timeout` has passed. The timer is
/// armed only when the first poll leaves the future waiting: a request
/// answered at once (a point read on SQLite runs on the calling thread)
/// would otherwise pay for a clock read, the runtime's handle and a timer
/// it never needs. Its deadline then counts from that first poll, which
/// ran without yielding and so could not have been cut short anyway.
async fn within(timeout: Duration, future: impl Future<Output = Response>) -> Response {
    let mut future = std::pin::pin!(future);
    let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    if let Poll::Ready(response) = first {
        return response;
    }
    match tokio::time::timeout(timeout, future).await {
        Ok(response) => response,
        // Dropping the handler rolls back its transaction, if any.
        Err(_) => ApiError::Timeout(timeout.as_secs()).into_response(),
    }
}

/// One request's place among those in progress, given back when dropped
/// (also when the request's future is dropped mid-way).
struct Slot<'a>(&'a AtomicUsize);

impl<'a> Slot<'a> {
    fn take(in_progress: &'a AtomicUsize, max: usize) -> Option<Self> {
        in_progress
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .ok()
            .map(|_| Slot(in_progress))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The request with its whole body in memory, read within the body
/// deadline, the size limit and the byte budget (each chunk takes its share
/// as it arrives, so a slow sender holds only what it sent; beyond the
/// budget the request is shed as overloaded).
async fn buffered(
    request: Request,
    limits: &Limits,
) -> Result<(Request, Option<OwnedSemaphorePermit>), ApiError> {
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return Ok((Request::from_parts(parts, body), None));
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limits.max_body_bytes as u64) {
        return Err(ApiError::PayloadTooLarge(limits.max_body_bytes));
    }
    let mut body = http_body_util::Limited::new(body, limits.max_body_bytes);
    let read = async {
        let mut bytes = BytesMut::new();
        let mut held: Option<OwnedSemaphorePermit> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    ApiError::PayloadTooLarge(limits.max_body_bytes)
                } else {
                    ApiError::BadRequest("the request body could not be read".into())
                }
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let share = u32::try_from(data.len()).map_err(|_| ApiError::Overloaded)?;
            let permit = limits
                .body_budget
                .clone()
                .try_acquire_many_owned(share)
                .map_err(|_| ApiError::Overloaded)?;
            match held.as_mut() {
                Some(h) => h.merge(permit),
                None => held = Some(permit),
            }
            bytes.extend_from_slice(&data);
        }
        Ok((bytes.freeze(), held))
    };
    match tokio::time::timeout(limits.body_timeout, read).await {
        Err(_) => Err(ApiError::BodyTimeout(limits.body_timeout.as_secs())),
        Ok(Err(e)) => Err(e),
        Ok(Ok((bytes, held))) => Ok((Request::from_parts(parts, Body::from(bytes)), held)),
    }
}

/// Whether a loopback server answers `Host: host`: loopback names and
/// addresses, and the configured names. A DNS rebinding page reaches a
/// local server under its own name, which is refused.
fn host_allowed(host: &str, allowed: &[String]) -> bool {
    // Compared without case rather than lowercased: no copy per request.
    let host = host.trim();
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                name
            } else {
                host
            }
        }),
    };
    let name = name.trim_end_matches('.');
    let bytes = name.as_bytes();
    const LOCALHOST: &[u8] = b".localhost";
    name.eq_ignore_ascii_case("localhost")
        || (bytes.len() > LOCALHOST.len()
            && bytes[bytes.len() - LOCALHOST.len()..].eq_ignore_ascii_case(LOCALHOST))
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
        || allowed.iter().any(|a| a.eq_ignore_ascii_case(name))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_run_out_at_the_cap_and_come_back_when_dropped() {
        let in_progress = AtomicUsize::new(0);
        let first = Slot::take(&in_progress, 2).expect("a free slot");
        let second = Slot::take(&in_progress, 2).expect("a free slot");
        assert!(Slot::take(&in_progress, 2).is_none(), "beyond the cap");
        drop(first);
        let third = Slot::take(&in_progress, 2).expect("given back");
        drop((second, third));
        assert_eq!(in_progress.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_waiting_answer_is_cut_at_the_deadline_and_a_ready_one_is_not() {
        use axum::http::StatusCode;
        let ready = within(Duration::ZERO, async { StatusCode::OK.into_response() }).await;
        assert_eq!(ready.status(), StatusCode::OK, "answered at its first poll");
        let late = within(Duration::from_millis(50), async {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        })
        .await;
        let timeout = ApiError::Timeout(0).into_response().status();
        assert_eq!(late.status(), timeout);
        let in_time = within(Duration::from_secs(30), async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            StatusCode::OK.into_response()
        })
        .await;
        assert_eq!(in_time.status(), StatusCode::OK);
    }

    #[test]
    fn a_local_server_answers_loopback_names_and_the_listed_ones() {
        let listed = vec!["myapp.test".to_string()];
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.:8080",
            "app.localhost:3000",
            "127.0.0.1",
            "127.0.0.1:8080",
            "127.1.2.3:80",
            "[::1]:8080",
            "[::1]",
            "myapp.test:8080",
            "MyApp.Test:8080",
            "App.LocalHost",
        ] {
            assert!(host_allowed(ok, &listed), "{ok}");
        }
        for refused in [
            "attacker.example",
            "attacker.example:8080",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:8080",
            "[2001:db8::1]:80",
            "myapp.test.evil",
            "localhost.evil",
            ".localhost",
            "",
        ] {
            assert!(!host_allowed(refused, &listed), "{refused}");
        }
    }
}
