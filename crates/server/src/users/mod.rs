//! Sign-in: who may call a route marked `auth = "user"`.
//!
//! Locally the stack's own user pool ([`pool`]) issues and verifies tokens
//! and answers the Cognito protocol at `/auth/`; on AWS the runtime
//! verifies Cognito's tokens against the pool's JWKS ([`tokens`]), set by
//! the templates through `STACKWRIGHT_USER_POOL_ID`,
//! `STACKWRIGHT_USER_POOL_CLIENT_ID` (and, for emulators,
//! `STACKWRIGHT_USER_POOL_ISSUER` and `STACKWRIGHT_USER_POOL_JWKS_URL`).

mod attempts;
mod files {
    pub use stackwright_storage::local::{private_dir, private_file};
}
mod hashing;
pub mod keys;
pub mod pool;
pub mod tokens;

use std::sync::Arc;

use axum::http::{header, HeaderMap};

use stackwright_stack::env::{UserPoolEnv, USER_POOL_ID};

use crate::error::ApiError;
use tokens::{Claims, Expected, RemoteKeys, TokenError};

pub enum UserAuth {
    Local(Arc<pool::Pool>),
    Cognito {
        expected: Expected,
        keys: RemoteKeys,
    },
}

impl UserAuth {
    /// The Cognito pool the templates name.
    pub fn cognito(pool: &UserPoolEnv) -> Result<Self, String> {
        let (issuer, jwks) = cognito_urls(pool)?;
        Ok(UserAuth::Cognito {
            expected: Expected {
                issuer,
                client_id: pool.client_id.clone(),
            },
            keys: RemoteKeys::new(jwks),
        })
    }

    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        match self {
            UserAuth::Local(pool) => pool.verify(token).await,
            UserAuth::Cognito { expected, keys } => {
                // The key is looked up first, so an unknown one is fetched.
                let kid = kid_of(token).ok_or(TokenError::Malformed)?;
                let key = keys.key(&kid).await?;
                tokens::verify(
                    token,
                    expected,
                    |k| (k == kid).then(|| key.clone()).flatten(),
                    tokens::now_seconds(),
                )
            }
        }
    }

    /// The signed-in user of a request, or the 401 to answer.
    pub async fn user(&self, headers: &HeaderMap) -> Result<Claims, ApiError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthorized(
                    "this route needs a signed-in user: send Authorization: Bearer <ID token>"
                        .into(),
                )
            })?;
        self.verify(token).await.map_err(|e| match e {
            TokenError::Keys(detail) => ApiError::Unavailable(detail),
            other => ApiError::Unauthorized(format!("not signed in: {other}")),
        })
    }
}

fn kid_of(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    json.get("kid")?.as_str().map(str::to_string)
}

/// A route that needs a user, when the stack has no way to sign in.
/// A Cognito pool's token issuer and key set URL: as the environment
/// names them, else Cognito's own for the pool (`REGION_ID`).
pub fn cognito_urls(pool: &UserPoolEnv) -> Result<(String, String), String> {
    let region = pool
        .pool_id
        .split_once('_')
        .map(|(r, _)| r)
        .ok_or_else(|| format!("{USER_POOL_ID} `{}` is not REGION_ID", pool.pool_id))?;
    let issuer = pool.issuer.clone().unwrap_or_else(|| {
        format!(
            "https://cognito-idp.{region}.amazonaws.com/{}",
            pool.pool_id
        )
    });
    let jwks = pool
        .jwks_url
        .clone()
        .unwrap_or_else(|| format!("{issuer}/.well-known/jwks.json"));
    Ok((issuer, jwks))
}

pub fn no_pool() -> ApiError {
    ApiError::Unauthorized("this route needs a signed-in user".into())
}

pub type Shared = Arc<UserAuth>;
