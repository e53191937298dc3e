//! The accept loop: HTTP/1.1 connections under the stack's connection
//! limits, and a drain on shutdown that loses no request.
//!
//! Connection limits live here rather than in the router because they act
//! before a request exists: a client that never finishes its headers
//! (slowloris) is cut off by hyper's header timeout, oversized headers are
//! refused while parsing, and beyond `max_connections` new connections wait
//! in the kernel's backlog instead of exhausting file descriptors.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, HeaderValue, Request};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use stackwright_stack::ServerSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, OwnedSemaphorePermit, Semaphore};

use crate::http::client::{self, Peer};
use crate::http::App;

/// How long a draining replica keeps an idle keep-alive connection open
/// when another replica shares its socket. A busy client sends its next
/// request well within this and is told `Connection: close` in the answer,
/// so it never writes into a socket being closed and reconnects to the
/// other replica; only a client idle for longer can meet that race, which
/// HTTP/1.1 clients handle by retrying on a fresh connection. A server
/// alone closes idle connections at once: nobody could answer them anyway.
pub const SHARED_IDLE_GRACE: Duration = Duration::from_secs(2);

/// Serve `app` on `listener` until `shutdown` completes, then stop
/// accepting and drain: in-flight requests finish (up to
/// `drain_timeout_seconds`), idle connections close after `idle_grace`,
/// and every connection is closed cleanly.
pub async fn serve(
    listener: TcpListener,
    app: App,
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
    // Behind a proxy every connection comes from the proxy: no cap per client.
    let per_client = (settings.trusted_proxy_hops == 0)
        .then(|| PerClient::new(settings.max_connections_per_client));
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            biased;
            () = &mut shutdown => break,
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
        };
        let (stream, peer) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors or a reset before accept: back off
                    // instead of spinning, and keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let client = match per_client.as_ref().map(|p| p.enter(peer.ip())) {
            Some(None) => {
                tokio::spawn(refuse(stream, slot));
                continue;
            }
            Some(Some(client)) => Some(client),
            None => None,
        };
        tokio::spawn(connection(
            stream,
            Peer(peer.ip()),
            app.clone(),
            http.clone(),
            idle_grace,
            drain_rx.clone(),
            (open_tx.clone(), slot, client),
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

/// What a connection holds while open: its place in the drain, its
/// connection slot and its place in its client's count.
type Held = (
    mpsc::Sender<Infallible>,
    OwnedSemaphorePermit,
    Option<ClientConnection>,
);

async fn connection(
    stream: TcpStream,
    peer: Peer,
    app: App,
    http: http1::Builder,
    idle_grace: Duration,
    mut drain: watch::Receiver<bool>,
    _held: Held,
) {
    let _ = stream.set_nodelay(true);
    // Cloned for each request: its counter is this connection's alone.
    // The drain is read from its version (a load), not borrowed (a lock
    // that every connection's requests would share).
    let served = Arc::new((app.connection(), drain.clone()));
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let served = served.clone();
        request.extensions_mut().insert(peer);
        async move {
            let (connection, draining) = &*served;
            let mut response = connection.call(request.map(axum::body::Body::new)).await;
            // Read when the answer is ready: a request that began before the
            // drain still tells its client to reconnect (to the other replica).
            // The drain is the only change the channel ever sees.
            if draining.has_changed().unwrap_or(true) {
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

/// Open connections per client address, capped: one client holding
/// thousands of slow connections would otherwise keep everyone else in
/// the backlog.
struct PerClient {
    cap: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One open connection of a client; the count drops with it.
struct ClientConnection {
    client: IpAddr,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

impl PerClient {
    fn new(cap: usize) -> Self {
        PerClient {
            cap,
            open: Arc::default(),
        }
    }

    /// A place for one more connection of `peer`, unless it has its cap.
    fn enter(&self, peer: IpAddr) -> Option<ClientConnection> {
        let client = client::key(peer);
        let mut open = self.open.lock().expect("not poisoned");
        let count = open.entry(client).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(ClientConnection {
            client,
            open: self.open.clone(),
        })
    }
}

impl Drop for ClientConnection {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("not poisoned");
        if let Some(count) = open.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.client);
            }
        }
    }
}

/// Answer a connection over its client's cap with a JSON 429 and close it.
/// What the client already sent is read and dropped first (briefly), so
/// the close does not reset the connection before the answer is read.
async fn refuse(mut stream: TcpStream, _slot: OwnedSemaphorePermit) {
    let body = r#"{"error":{"code":"too_many_connections","message":"too many open connections from your address: reuse or close some"}}"#;
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\ncontent-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<_, std::io::Error>(())
    })
    .await;
}
