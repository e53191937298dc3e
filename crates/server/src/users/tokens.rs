//! RS256 JSON Web Tokens: signing (the embedded pool) and verification
//! (of the embedded pool's tokens, or of Cognito's through its JWKS URL).
//!
//! Verification accepts only what it expects, and says why it refused:
//! algorithm exactly RS256 (never `none`, never HMAC), a key id found in the
//! key set (fetched again when unknown: keys rotate), a valid signature, the
//! issuer, the audience (ID token `aud`, access token `client_id`), the
//! token use, and an expiry in the future.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Map, Value as Json};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token's algorithm `{0}` is not RS256")]
    Algorithm(String),
    #[error("the token was signed with an unknown key")]
    UnknownKey,
    #[error("the token's signature is invalid")]
    Signature,
    #[error("the token was issued by someone else")]
    Issuer,
    #[error("the token is for another client")]
    Audience,
    #[error("the token is not an ID or access token")]
    Use,
    #[error("the token has expired")]
    Expired,
    #[error("the token was revoked (signed out, or the user was deleted): sign in again")]
    Revoked,
    #[error("the signing keys cannot be read: {0}")]
    Keys(String),
}

pub fn now_seconds() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// A private RSA key (2048 bits) with its key id.
pub struct SigningKey {
    pub kid: String,
    pair: KeyPair,
}

impl SigningKey {
    pub fn generate() -> Result<Self, TokenError> {
        let pair = KeyPair::generate(KeySize::Rsa2048)
            .map_err(|_| TokenError::Keys("cannot generate an RSA key".into()))?;
        let kid = uuid::Uuid::new_v4().simple().to_string();
        Ok(SigningKey { kid, pair })
    }

    pub fn from_pkcs8(kid: &str, der: &[u8]) -> Result<Self, TokenError> {
        let pair =
            KeyPair::from_pkcs8(der).map_err(|e| TokenError::Keys(format!("key {kid}: {e}")))?;
        Ok(SigningKey {
            kid: kid.to_string(),
            pair,
        })
    }

    pub fn pkcs8(&self) -> Vec<u8> {
        self.pair
            .as_der()
            .map(|d| d.as_ref().to_vec())
            .unwrap_or_default()
    }

    /// The public half, as verification takes it.
    pub fn public(&self) -> PublicKeyComponents<Vec<u8>> {
        let public = self.pair.public_key();
        PublicKeyComponents {
            n: public.modulus().big_endian_without_leading_zero().to_vec(),
            e: public.exponent().big_endian_without_leading_zero().to_vec(),
        }
    }

    /// The public half as a JWK (what the JWKS endpoint publishes).
    pub fn jwk(&self) -> Json {
        let public = self.public();
        json!({
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": B64.encode(public.n),
            "e": B64.encode(public.e),
        })
    }

    pub fn sign(&self, claims: &Json) -> String {
        let header = json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        let signing_input = format!(
            "{}.{}",
            B64.encode(header.to_string()),
            B64.encode(claims.to_string())
        );
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .expect("an RSA-2048 key signs");
        format!("{signing_input}.{}", B64.encode(signature))
    }
}

/// Public keys by key id, from a JWKS document.
pub fn keys_of(jwks: &Json) -> KeySet {
    let mut keys = HashMap::new();
    for k in jwks["keys"].as_array().into_iter().flatten() {
        if k["kty"] != "RSA" {
            continue;
        }
        let (Some(kid), Some(n), Some(e)) = (k["kid"].as_str(), k["n"].as_str(), k["e"].as_str())
        else {
            continue;
        };
        if let (Ok(n), Ok(e)) = (B64.decode(n), B64.decode(e)) {
            keys.insert(kid.to_string(), PublicKeyComponents { n, e });
        }
    }
    keys
}

/// What a verified token says.
#[derive(Debug, Clone, PartialEq)]
pub struct Claims(pub Map<String, Json>);

impl Claims {
    pub fn sub(&self) -> &str {
        self.0.get("sub").and_then(Json::as_str).unwrap_or_default()
    }
    pub fn token_use(&self) -> &str {
        self.0
            .get("token_use")
            .and_then(Json::as_str)
            .unwrap_or_default()
    }
}

/// Where verification expects tokens to come from.
#[derive(Debug, Clone)]
pub struct Expected {
    pub issuer: String,
    pub client_id: String,
}

/// Check a token's form, algorithm and signature against `keys`, then its
/// claims. `keys` returning None for a key id means "unknown".
pub fn verify(
    token: &str,
    expected: &Expected,
    key: impl Fn(&str) -> Option<PublicKeyComponents<Vec<u8>>>,
    now: i64,
) -> Result<Claims, TokenError> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let decode_json = |part: &str| -> Result<Map<String, Json>, TokenError> {
        let bytes = B64.decode(part).map_err(|_| TokenError::Malformed)?;
        match serde_json::from_slice(&bytes) {
            Ok(Json::Object(map)) => Ok(map),
            _ => Err(TokenError::Malformed),
        }
    };
    let header = decode_json(h)?;
    let alg = header.get("alg").and_then(Json::as_str).unwrap_or_default();
    if alg != "RS256" {
        return Err(TokenError::Algorithm(alg.chars().take(16).collect()));
    }
    let kid = header
        .get("kid")
        .and_then(Json::as_str)
        .ok_or(TokenError::UnknownKey)?;
    let public = key(kid).ok_or(TokenError::UnknownKey)?;
    let signature = B64.decode(s).map_err(|_| TokenError::Malformed)?;
    public
        .verify(
            &RSA_PKCS1_2048_8192_SHA256,
            format!("{h}.{p}").as_bytes(),
            &signature,
        )
        .map_err(|_| TokenError::Signature)?;
    let claims = decode_json(p)?;
    if claims.get("iss").and_then(Json::as_str) != Some(expected.issuer.as_str()) {
        return Err(TokenError::Issuer);
    }
    let audience = match claims.get("token_use").and_then(Json::as_str) {
        Some("id") => claims.get("aud"),
        Some("access") => claims.get("client_id"),
        _ => return Err(TokenError::Use),
    };
    if audience.and_then(Json::as_str) != Some(expected.client_id.as_str()) {
        return Err(TokenError::Audience);
    }
    match claims.get("exp").and_then(Json::as_i64) {
        Some(exp) if exp > now => {}
        _ => return Err(TokenError::Expired),
    }
    Ok(Claims(claims))
}

/// Keys fetched from a JWKS URL (Cognito's, or an emulator's), fetched
/// again when a token names a key not seen yet (keys rotate), at most once
/// a minute.
pub struct RemoteKeys {
    url: String,
    refetch_after: Duration,
    /// The keys, and when they were fetched.
    state: std::sync::Mutex<(KeySet, Option<Instant>)>,
}

type KeySet = HashMap<String, PublicKeyComponents<Vec<u8>>>;

const REFETCH_AFTER: Duration = Duration::from_secs(60);

impl RemoteKeys {
    pub fn new(url: String) -> Self {
        RemoteKeys {
            url,
            refetch_after: REFETCH_AFTER,
            state: std::sync::Mutex::new((HashMap::new(), None)),
        }
    }

    /// How long after a fetch an unknown key id does not fetch again (a
    /// flood of made-up key ids must not become a flood of fetches).
    pub fn refetch_after(mut self, wait: Duration) -> Self {
        self.refetch_after = wait;
        self
    }

    pub fn cached(&self, kid: &str) -> Option<PublicKeyComponents<Vec<u8>>> {
        self.state.lock().expect("keys lock").0.get(kid).cloned()
    }

    /// Fetch the key set again unless that was done less than a minute ago.
    pub async fn refresh(&self) -> Result<(), TokenError> {
        {
            let state = self.state.lock().expect("keys lock");
            if state.1.is_some_and(|t| t.elapsed() < self.refetch_after) {
                return Ok(());
            }
        }
        let jwks = crate::fetch::get_json(&self.url)
            .await
            .map_err(|e| TokenError::Keys(format!("{}: {e}", self.url)))?;
        let mut state = self.state.lock().expect("keys lock");
        *state = (keys_of(&jwks), Some(Instant::now()));
        Ok(())
    }

    pub async fn key(&self, kid: &str) -> Result<Option<PublicKeyComponents<Vec<u8>>>, TokenError> {
        if let Some(k) = self.cached(kid) {
            return Ok(Some(k));
        }
        self.refresh().await?;
        Ok(self.cached(kid))
    }
}
