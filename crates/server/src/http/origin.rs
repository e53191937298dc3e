//! The origin check: where the runtime is reachable by anyone (an HTTP API
//! on Lambda), it answers only requests that carry the origin secret
//! CloudFront adds, as the load balancer's listener does elsewhere. The
//! header is removed before anything else sees the request.

use std::sync::Arc;

use axum::extract::Request;
use stackwright_stack::ORIGIN_HEADER;

use crate::error::ApiError;

/// The secret; its `Debug` never shows it.
#[derive(Clone)]
pub struct OriginSecret(Arc<[u8]>);

impl OriginSecret {
    pub fn new(secret: &str) -> Self {
        OriginSecret(secret.as_bytes().into())
    }

    /// Whether `given` is the secret, in time that does not depend on where
    /// they differ.
    fn matches(&self, given: &[u8]) -> bool {
        given.len() == self.0.len()
            && given
                .iter()
                .zip(self.0.iter())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

impl std::fmt::Debug for OriginSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OriginSecret(…)")
    }
}

/// The request without the secret header, or the refusal when it does not
/// carry the secret.
pub fn check(secret: &OriginSecret, mut request: Request) -> Result<Request, ApiError> {
    let given = request.headers().get(ORIGIN_HEADER);
    if !given.is_some_and(|v| secret.matches(v.as_bytes())) {
        return Err(ApiError::Forbidden(
            "this address serves only the stack's CloudFront distribution".into(),
        ));
    }
    request.headers_mut().remove(ORIGIN_HEADER);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_secret_matches_and_it_is_never_printed() {
        let secret = OriginSecret::new("s3cret");
        assert!(secret.matches(b"s3cret"));
        assert!(!secret.matches(b"s3cres"));
        assert!(!secret.matches(b"s3cret "));
        assert!(!secret.matches(b""));
        assert!(!format!("{secret:?}").contains("s3cret"));
    }
}
