//! HTTP: the stack's routes as an axum router.
//!
//! Each `[[routes]]` entry becomes one handler bound to its operation; paths
//! with several methods share a method router whose fallback answers 405.

mod auth;
pub mod client;
pub mod cors;
pub mod cursor;
mod decode;
mod docs;
pub mod limits;
mod list;
mod operations;
pub mod origin;
mod pipeline;
mod respond;
pub mod services;
pub mod site;
mod topics;

pub use decode::clip;
pub use pipeline::App;

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{RawPathParams, Request, State};
use axum::http::Method as HttpMethod;
use axum::response::IntoResponse;
use axum::routing::{on, MethodFilter, MethodRouter};
use axum::Router;
use stackwright_stack::{Method, Route, Stack};
use stackwright_storage::Engine;

use crate::error::ApiError;

/// State shared by every handler: one reference-counted [`Context`], since
/// axum clones the state for every request.
#[derive(Clone)]
pub struct ApiContext(Arc<Context>);

impl std::ops::Deref for ApiContext {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.0
    }
}

/// What the handlers share.
pub struct Context {
    pub stack: Arc<Stack>,
    pub engine: Arc<dyn Engine>,
    /// Notified after a publish, so delivery starts at once.
    pub published: Arc<tokio::sync::Notify>,
    /// On AWS: publishing goes to the topics' SNS topics.
    pub cloud: Option<Arc<crate::cloud_topics::CloudTopics>>,
    /// The static site, when the stack has one (locally; on AWS it is in S3).
    pub site: Option<site::Shared>,
    /// Who signed in: the embedded pool locally, Cognito on AWS.
    pub users: Option<crate::users::Shared>,
    /// Origins allowed to call the API from a browser.
    pub cors_origins: cors::Origins,
    /// Requests must carry it (behind an HTTP API on Lambda).
    pub origin_secret: Option<origin::OriginSecret>,
    /// Served on a loopback address only: other host names are refused, so
    /// a web page cannot reach the local API through DNS rebinding.
    pub local: bool,
    /// Requests to the user pool per client.
    pub auth_limit: Arc<client::RateLimit>,
    /// The stack's services and their local ports (none on Lambda).
    pub services: Arc<Vec<crate::services::Target>>,
    /// The client that proxies to them.
    pub upstream: services::Upstream,
    /// Seals and opens list cursors.
    pub cursors: cursor::CursorKey,
}

/// The router serving every route of the stack, behind the pipeline.
pub fn router(ctx: Context) -> App {
    let ctx = ApiContext(Arc::new(ctx));
    let mut by_path: BTreeMap<&str, Vec<&Route>> = BTreeMap::new();
    for route in &ctx.stack.routes {
        by_path.entry(route.path.as_str()).or_default().push(route);
    }
    let mut router = Router::new();
    for (path, routes) in by_path {
        let allow = routes
            .iter()
            .map(|r| r.method.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut methods: MethodRouter<ApiContext> = MethodRouter::new();
        for route in routes {
            let route = Arc::new(route.clone());
            let filter = method_filter(route.method);
            let handler = move |State(ctx): State<ApiContext>,
                                params: Result<
                RawPathParams,
                axum::extract::rejection::RawPathParamsRejection,
            >,
                                request: Request| {
                let route = route.clone();
                async move {
                    // Borrowed as the router decoded them, not copied
                    // into strings of their own.
                    let params = match params {
                        Ok(params) => params,
                        Err(e) => {
                            return ApiError::BadRequest(format!("invalid path: {e}"))
                                .into_response()
                        }
                    };
                    // The parts moved, not copied as the header and query
                    // extractors would.
                    let (parts, body) = request.into_parts();
                    let request = operations::Request {
                        params,
                        uri: parts.uri,
                        headers: parts.headers,
                        body,
                    };
                    match operations::handle(&ctx, &route, request).await {
                        Ok(response) => response,
                        Err(e) => e.into_response(),
                    }
                }
            };
            methods = methods.merge(on(filter, handler));
        }
        methods = methods.fallback(move || {
            let allow = allow.clone();
            async move { ApiError::MethodNotAllowed { allow }.into_response() }
        });
        router = router.route(path, methods);
    }
    router = router
        .merge(topics::router(&ctx.stack))
        .merge(auth::router())
        .merge(services::router(&ctx.services));
    // The API's own description, generated from the stack, and a page to
    // read it. Rendered once: neither can change while the stack is served.
    let openapi = stackwright_stack::openapi::document(&ctx.stack);
    let page = axum::body::Bytes::from(docs::page(&openapi));
    let document = axum::body::Bytes::from(openapi.to_string());
    router = router
        .route("/openapi.json", fixed("application/json", document))
        .route("/docs", fixed("text/html; charset=utf-8", page));
    let serve_site = |State(ctx): State<ApiContext>, request: Request| async move {
        match &ctx.site {
            Some(site) => site.respond(&request).unwrap_or_else(|e| e.into_response()),
            None => ApiError::NotFound("no site".into()).into_response(),
        }
    };
    match ctx.site.as_ref().map(|s| s.path().to_string()) {
        // At the root the site answers whatever no route does.
        Some(path) if path == "/" => router = router.fallback(serve_site),
        other => {
            if let Some(path) = other {
                router = router
                    .route(&path, axum::routing::any(serve_site))
                    .route(&format!("{path}/"), axum::routing::any(serve_site))
                    .route(&format!("{path}/{{*rest}}"), axum::routing::any(serve_site));
            }
            router = router.fallback(|method: HttpMethod, uri: axum::http::Uri| async move {
                ApiError::NotFound(format!("no route for {method} {}", uri.path())).into_response()
            });
        }
    }
    App::new(
        router.with_state(ctx.clone()),
        limits::Limits::new(&ctx.stack.server, ctx.local),
        ctx.cors_origins.clone(),
        ctx.origin_secret.clone(),
    )
}

/// A GET route answering the same body every time.
fn fixed(content_type: &'static str, body: axum::body::Bytes) -> MethodRouter<ApiContext> {
    axum::routing::get(move || {
        let body = body.clone();
        async move { ([(axum::http::header::CONTENT_TYPE, content_type)], body) }
    })
}

fn method_filter(m: Method) -> MethodFilter {
    match m {
        Method::Get => MethodFilter::GET,
        Method::Post => MethodFilter::POST,
        Method::Put => MethodFilter::PUT,
        Method::Patch => MethodFilter::PATCH,
        Method::Delete => MethodFilter::DELETE,
    }
}
