//! What every request passes through before its route: its log line, the
//! CloudFront origin check (where the runtime is reachable by anyone), CORS
//! and the limits, in that order, around the whole router. Called directly
//! rather than as axum layers: a `from_fn` layer boxes the request's future
//! and clones the route's boxed service for every request, and moving those
//! futures showed in the profile of a point read (bench/http). Here the
//! pipeline's future is part of the connection's own, unboxed.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::Router;
use tower::Service;

use super::{cors, limits, origin};

/// The stack's router behind the pipeline. The accept loop serves each
/// connection through its own [`Connection`]; the Lambda adapter calls
/// [`App::call`].
#[derive(Clone)]
pub struct App {
    router: Router,
    pipeline: Arc<Parts>,
}

/// What serves one connection's requests, one at a time. It holds its own
/// handle on the router, so a request touches no reference count that the
/// other connections' threads share: cloning the router for each request,
/// as a tower service is called, made both runtime workers write to the
/// same counters on every request.
pub struct Connection {
    router: Mutex<Router>,
    pipeline: Arc<Parts>,
}

struct Parts {
    limits: limits::Limits,
    cors: cors::Origins,
    /// Only where anyone may call the runtime: elsewhere no request pays for it.
    origin: Option<origin::OriginSecret>,
}

impl App {
    pub fn new(
        router: Router,
        limits: limits::Limits,
        cors: cors::Origins,
        origin: Option<origin::OriginSecret>,
    ) -> Self {
        let pipeline = Arc::new(Parts {
            limits,
            cors,
            origin,
        });
        App { router, pipeline }
    }

    /// What serves one connection.
    pub fn connection(&self) -> Connection {
        Connection {
            router: Mutex::new(self.router.clone()),
            pipeline: self.pipeline.clone(),
        }
    }

    /// The answer to one request, served on a connection of its own.
    pub async fn call(&self, request: Request) -> Response {
        self.connection().call(request).await
    }
}

impl Connection {
    /// The answer to `request`, from its route after the pipeline.
    pub async fn call(&self, request: Request) -> Response {
        if !tracing::enabled!(target: "stackwright::http", tracing::Level::INFO) {
            return self.pass(request).await;
        }
        // One structured log line per request. The query string is left out:
        // it may carry values that do not belong in logs.
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let response = self.pass(request).await;
        tracing::info!(
            target: "stackwright::http",
            %method,
            %path,
            status = response.status().as_u16(),
            latency_us = started.elapsed().as_micros() as u64,
            "request"
        );
        response
    }

    async fn pass(&self, request: Request) -> Response {
        let parts = &self.pipeline;
        let request = match &parts.origin {
            Some(secret) => match origin::check(secret, request) {
                Ok(request) => request,
                Err(refusal) => return refusal.into_response(),
            },
            None => request,
        };
        cors::around(&parts.cors, request, |request| {
            limits::around(&parts.limits, request, |request| async move {
                // The guard is gone before the route runs: the router is
                // always ready, and its future owns what it needs.
                let routed = self.router.lock().expect("not poisoned").call(request);
                let Ok(response) = routed.await;
                response
            })
        })
        .await
    }
}
