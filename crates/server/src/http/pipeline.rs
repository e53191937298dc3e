//! What every request passes through before its route: its log line, the
//! CloudFront origin check (where the runtime is reachable by anyone), CORS
//! and the limits, in that order. One axum layer calling each in turn
//! rather than a layer each: every `from_fn` layer boxes the request's
//! future and clones the inner service for every request, and moving those
//! futures showed in the profile of a point read (bench/http).

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{cors, limits, origin};

#[derive(Clone)]
pub struct Pipeline(Arc<Parts>);

struct Parts {
    limits: limits::Limits,
    cors: cors::Origins,
    /// Only where anyone may call the runtime: elsewhere no request pays for it.
    origin: Option<origin::OriginSecret>,
}

impl Pipeline {
    pub fn new(
        limits: limits::Limits,
        cors: cors::Origins,
        origin: Option<origin::OriginSecret>,
    ) -> Self {
        Pipeline(Arc::new(Parts {
            limits,
            cors,
            origin,
        }))
    }
}

pub async fn layer(State(pipeline): State<Pipeline>, request: Request, next: Next) -> Response {
    if !tracing::enabled!(target: "stackwright::http", tracing::Level::INFO) {
        return pass(&pipeline.0, request, next).await;
    }
    // One structured log line per request. The query string is left out:
    // it may carry values that do not belong in logs.
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = pass(&pipeline.0, request, next).await;
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

async fn pass(parts: &Parts, request: Request, next: Next) -> Response {
    let request = match &parts.origin {
        Some(secret) => match origin::check(secret, request) {
            Ok(request) => request,
            Err(refusal) => return refusal.into_response(),
        },
        None => request,
    };
    cors::around(&parts.cors, request, |request| {
        limits::around(&parts.limits, request, |request| next.run(request))
    })
    .await
}
