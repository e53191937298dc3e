//! The accept loop: HTTP/1.1 connections under the stack's connection
//! limits, and a drain on shutdown that loses no request.
//!
//! Connection limits live here rather than in the router because they act
//! before a request exists: a client that never finishes its headers
//! (slowloris) is cut off by hyper's header timeout, oversized headers are
//! refused while parsing, and beyond `max_connections` new connections wait
//! in the kernel's backlog instead of exhausting file descriptors.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, Request};
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use stackwright_stack::ServerSettings;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

/// How long a draining replica keeps an idle keep-alive connection open
/// when another replica shares its socket. A busy client sends its next
/// request well within this and is told `Connection: close` in the answer,
/// so it never writes into a socket being closed and reconnects to the
/// other replica; only a client idle for longer can meet that race, which
/// HTTP/1.1 clients handle by retrying on a fresh connection. A server
/// alone closes idle connections at once: nobody could answer them anyway.
pub const SHARED_IDLE_GRACE: Duration = Duration::from_secs(2);

/// Serve `router` on `listener` until `shutdown` completes, then stop
/// accepting and drain: in-flight requests finish (up to
/// `drain_timeout_seconds`), idle connections close after `idle_grace`,
/// and every connection is closed cleanly.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: &ServerSettings,
    idle_grace: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        // Also the keep-alive idle limit: hyper restarts it for every request.
        .header_read_timeout(Duration::from_secs(settings.header_timeout_seconds))
        // A hard cap, above the JSON 431 answered by the limits layer: the
        // parser refuses anything larger without buffering it.
        .max_header_size(settings.max_header_bytes * 2 + 1024)
        .max_buf_size((settings.max_header_bytes * 2 + 1024).max(8192) + 8192);
    let (drain_tx, drain_rx) = watch::channel(false);
    // Each connection holds a sender; `recv` returns None once all are gone.
    let (open_tx, mut open_rx) = mpsc::channel::<Infallible>(1);
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let stream = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of descriptors or a reset before accept: back off
                    // instead of spinning, and keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        tokio::spawn(connection(
            stream,
            router.clone(),
            http.clone(),
            idle_grace,
            drain_rx.clone(),
            open_tx.clone(),
            slot,
        ));
    }
    // New connections now go to whoever else holds the listening socket
    // (another replica), or are refused once the last holder exits.
    drop(listener);
    let _ = drain_tx.send(true);
    drop(open_tx);
    let drain = Duration::from_secs(settings.drain_timeout_seconds);
    if tokio::time::timeout(drain, open_rx.recv()).await.is_err() {
        tracing::warn!(
            seconds = settings.drain_timeout_seconds,
            "drain timed out: closing the connections still open"
        );
    }
}

async fn connection(
    stream: TcpStream,
    router: Router,
    http: http1::Builder,
    idle_grace: Duration,
    mut drain: watch::Receiver<bool>,
    _open: mpsc::Sender<Infallible>,
    _slot: OwnedSemaphorePermit,
) {
    let _ = stream.set_nodelay(true);
    let draining = drain.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let router = router.clone();
        let draining = draining.clone();
        async move {
            let Ok(mut response) = router.oneshot(request.map(axum::body::Body::new)).await;
            // Read when the answer is ready: a request that began before the
            // drain still tells its client to reconnect (to the other replica).
            if *draining.borrow() {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok::<_, Infallible>(response)
        }
    });
    let conn = http.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended");
            }
            return;
        }
        _ = drain.wait_for(|draining| *draining) => {}
    }
    tokio::select! {
        _ = conn.as_mut() => return,
        () = tokio::time::sleep(idle_grace) => {}
    }
    conn.as_mut().graceful_shutdown();
    let _ = conn.await;
}
