//! `[services.NAME]`: the team's own HTTP server beside the declared
//! routes. The runtime starts it (locally) or the templates run it (on
//! AWS), gives it the same wiring either way, and sends it the requests
//! under its path prefixes.

use std::path::PathBuf;

use indexmap::IndexMap;
use serde::Serialize;

use super::Auth;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Service {
    pub name: String,
    /// Its folder, relative to the stack's.
    pub dir: PathBuf,
    /// Run in `dir` once before start and before packaging.
    pub build: Option<Vec<String>>,
    /// Starts the server, which listens on `$PORT`.
    pub command: Vec<String>,
    /// Path prefixes of whole segments (`/orders`, `/api/v2`), no trailing `/`.
    pub paths: Vec<String>,
    /// Answered 2xx when the service is ready.
    pub health: String,
    pub env: IndexMap<String, String>,
    /// Names only: the values come from the environment or
    /// `.stackwright/secrets.toml` locally, from Secrets Manager on AWS.
    pub secrets: Vec<String>,
    /// `user`: the runtime checks the caller's token before the request
    /// reaches the service, and passes the verified claims in headers.
    pub auth: Auth,
    pub cpu: u32,
    pub memory: u32,
    pub min: u32,
    pub max: u32,
    /// The image the service's folder is layered over on Fargate.
    pub base: Option<String>,
    /// The Lambda runtime the service's function runs on (the language it
    /// needs); the Web Adapter layer turns Lambda events into HTTP.
    pub lambda_runtime: String,
}

impl Service {
    /// Whether `path` is one this service serves.
    pub fn serves(&self, path: &str) -> bool {
        self.paths.iter().any(|p| under(path, p))
    }
}

/// `path` is `prefix` or below it, by whole segments.
pub fn under(path: &str, prefix: &str) -> bool {
    prefix == "/"
        || path == prefix
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Sizing when the stack file says nothing: the smallest Fargate task, one
/// copy, at most four.
pub const DEFAULT_CPU: u32 = 256;
pub const DEFAULT_MEMORY: u32 = 512;
pub const DEFAULT_MIN: u32 = 1;
pub const DEFAULT_MAX: u32 = 4;
pub const DEFAULT_HEALTH: &str = "/health";
/// A runtime with no language: for a compiled server.
pub const DEFAULT_LAMBDA_RUNTIME: &str = "provided.al2023";
/// Lambda runtimes a service may name, by prefix.
pub const LAMBDA_RUNTIMES: [&str; 6] = [
    "provided.al",
    "python3.",
    "nodejs",
    "java",
    "ruby",
    "dotnet",
];

/// Request headers that carry a signed-in user's verified claims to a
/// service. The runtime sets them after checking the token and removes
/// them from every incoming request, so a client cannot forge them.
pub const CLAIM_HEADERS: [(&str, &str); 2] = [
    ("x-stackwright-user-sub", "sub"),
    ("x-stackwright-user-email", "email"),
];
/// Every header whose name starts with this is the runtime's to set.
pub const CLAIM_HEADER_PREFIX: &str = "x-stackwright-user-";
/// The header CloudFront adds to every request it sends the load balancer,
/// holding the stack's generated origin secret; the balancer forwards only
/// requests that carry it. A service is never shown it.
pub const ORIGIN_HEADER: &str = "x-stackwright-origin";
