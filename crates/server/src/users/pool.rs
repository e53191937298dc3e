//! The embedded user pool: sign-up with a confirmation code, sign-in,
//! refresh, sign-out, over the stack's own database (the tables of
//! `stackwright_stack::Users::tables`, so every engine holds them).
//! Passwords are hashed with Argon2id; refresh tokens and confirmation
//! codes are stored as SHA-256 hashes. Errors carry Cognito's error types,
//! so one client speaks to this pool and to Cognito alike.

use std::path::PathBuf;
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use stackwright_stack::{Stack, Table, Users};
use stackwright_storage::{Assignment, Engine, ListQuery, Row, StorageError};
use tokio::sync::RwLock;

use super::tokens::{self, Claims, Expected, SigningKey, TokenError};

/// How long a confirmation code is valid.
const CODE_SECONDS: i64 = 24 * 3600;

/// A refusal, as Cognito names it (`__type`) with a message for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolError {
    pub kind: &'static str,
    pub message: String,
}

impl PoolError {
    pub fn new(kind: &'static str, message: impl Into<String>) -> Self {
        PoolError {
            kind,
            message: message.into(),
        }
    }
}

/// The database failed: for logs; the client gets a 5xx.
#[derive(Debug)]
pub enum Failure {
    Refused(PoolError),
    Storage(StorageError),
}

impl From<PoolError> for Failure {
    fn from(e: PoolError) -> Self {
        Failure::Refused(e)
    }
}

impl From<StorageError> for Failure {
    fn from(e: StorageError) -> Self {
        Failure::Storage(e)
    }
}

type Result<T, E = Failure> = std::result::Result<T, E>;

/// Tokens as InitiateAuth returns them.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub id_token: String,
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in: i64,
}

/// The pool's user, as `stackwright users list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct User {
    pub email: String,
    pub sub: String,
    pub confirmed: bool,
    pub created_at: i64,
}

pub struct Pool {
    engine: Arc<dyn Engine>,
    settings: Users,
    tables: Vec<Table>,
    /// Where "sent" e-mails go: one JSON line each.
    outbox: PathBuf,
    pub expected: Expected,
    keys: RwLock<Vec<SigningKey>>,
    /// Failed sign-ins and confirmation codes per user (brute force).
    attempts: super::attempts::Attempts,
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .expect("the system's random source works");
    bytes
}

fn text(row: &Row, column: &str) -> String {
    row.get(column)
        .and_then(Json::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The client id and issuer of the embedded pool (the site's
/// `{{CLIENT_ID}}` is `local` too).
pub const LOCAL_CLIENT_ID: &str = "local";

impl Pool {
    pub async fn open(engine: Arc<dyn Engine>, stack: &Stack) -> Result<Self> {
        let settings = stack.users.clone().expect("a pool needs [users]");
        let pool = Pool {
            engine,
            settings,
            tables: Users::tables(),
            outbox: stack.dir.join(".stackwright").join("outbox.jsonl"),
            expected: Expected {
                issuer: format!("urn:stackwright:{}:local", stack.name),
                client_id: LOCAL_CLIENT_ID.to_string(),
            },
            keys: RwLock::new(Vec::new()),
            attempts: Default::default(),
        };
        pool.load_keys().await?;
        if pool.keys.read().await.is_empty() {
            // First start: a signing key, kept so tokens outlive restarts.
            let key = tokio::task::spawn_blocking(SigningKey::generate)
                .await
                .expect("key generation ran")
                .map_err(|e| Failure::Storage(StorageError::Internal(e.to_string())))?;
            let mut row = Row::new();
            row.insert("kid".into(), json!(key.kid));
            row.insert("private_key".into(), json!(STANDARD.encode(key.pkcs8())));
            row.insert("created_at".into(), json!(tokens::now_seconds()));
            pool.engine
                .insert(pool.table(Users::KEYS_TABLE), row)
                .await?;
            pool.load_keys().await?;
        }
        Ok(pool)
    }

    fn table(&self, name: &str) -> &Table {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .expect("a pool table")
    }

    /// Every stored key, newest first (the newest signs; all verify).
    async fn load_keys(&self) -> Result<()> {
        let page = self
            .engine
            .list(
                self.table(Users::KEYS_TABLE),
                &ListQuery {
                    filters: vec![],
                    order_by: &[],
                    limit: 100,
                    cursor: None,
                },
            )
            .await?;
        let mut keys = Vec::new();
        let mut rows = page.rows;
        rows.sort_by_key(|r| std::cmp::Reverse(r.get("created_at").and_then(Json::as_i64)));
        for row in rows {
            let der = STANDARD.decode(text(&row, "private_key")).map_err(|_| {
                Failure::Storage(StorageError::Internal(
                    "a stored signing key is not base64".into(),
                ))
            })?;
            let key = SigningKey::from_pkcs8(&text(&row, "kid"), &der)
                .map_err(|e| Failure::Storage(StorageError::Internal(e.to_string())))?;
            keys.push(key);
        }
        *self.keys.write().await = keys;
        Ok(())
    }

    /// The JWKS document of the pool.
    pub async fn jwks(&self) -> Json {
        let keys: Vec<Json> = self.keys.read().await.iter().map(SigningKey::jwk).collect();
        json!({ "keys": keys })
    }

    /// Verify a token this pool issued; a key another process made since
    /// this one started is read from the database.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let attempt = |keys: &Vec<SigningKey>| {
            tokens::verify(
                token,
                &self.expected,
                |kid| keys.iter().find(|k| k.kid == kid).map(SigningKey::public),
                tokens::now_seconds(),
            )
        };
        let first = attempt(&*self.keys.read().await);
        if first != Err(TokenError::UnknownKey) {
            return first;
        }
        self.load_keys()
            .await
            .map_err(|_| TokenError::Keys("the signing keys cannot be read".into()))?;
        let again = attempt(&*self.keys.read().await);
        again
    }

    fn client(&self, client_id: &str) -> Result<(), PoolError> {
        if client_id == LOCAL_CLIENT_ID {
            Ok(())
        } else {
            Err(PoolError::new(
                "ResourceNotFoundException",
                format!(
                    "User pool client {} does not exist.",
                    crate::http::clip(client_id)
                ),
            ))
        }
    }

    fn username(email: &str) -> Result<String, PoolError> {
        let email = email.trim().to_lowercase();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if valid {
            Ok(email)
        } else {
            Err(PoolError::new(
                "InvalidParameterException",
                "Invalid email address format.",
            ))
        }
    }

    async fn user(&self, username: &str) -> Result<Option<Row>> {
        Ok(self
            .engine
            .get(self.table(Users::USERS_TABLE), &json!(username))
            .await?)
    }

    async fn by_sub(&self, sub: &str) -> Result<Option<Row>> {
        let page = self
            .engine
            .list(
                self.table(Users::USERS_TABLE),
                &ListQuery {
                    filters: vec![("sub", json!(sub))],
                    order_by: &[],
                    limit: 1,
                    cursor: None,
                },
            )
            .await?;
        Ok(page.rows.into_iter().next())
    }

    /// Write the confirmation "e-mail" to the outbox.
    fn send_code(&self, email: &str, code: &str) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = self.outbox.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let line = json!({
            "to": email,
            "subject": "Your confirmation code",
            "body": format!("Your confirmation code is {code}"),
            "code": code,
            "sent_at": tokens::now_seconds(),
        });
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.outbox)?;
        writeln!(file, "{line}")?;
        tracing::info!(target: "stackwright::users", to = %email, outbox = %self.outbox.display(), "confirmation code written to the outbox");
        Ok(())
    }

    fn new_code() -> String {
        let n = u32::from_be_bytes(random_bytes::<4>()) % 1_000_000;
        format!("{n:06}")
    }

    pub async fn sign_up(&self, client_id: &str, email: &str, password: &str) -> Result<String> {
        self.client(client_id)?;
        let username = Self::username(email)?;
        self.settings
            .password
            .check(password)
            .map_err(|why| PoolError::new("InvalidPasswordException", why))?;
        if self.user(&username).await?.is_some() {
            return Err(PoolError::new(
                "UsernameExistsException",
                "An account with the given email already exists.",
            )
            .into());
        }
        let sub = uuid::Uuid::new_v4().to_string();
        let hash = hash_password(password.to_string()).await?;
        let code = Self::new_code();
        let mut row = Row::new();
        row.insert("username".into(), json!(username));
        row.insert("sub".into(), json!(sub));
        row.insert("password_hash".into(), json!(hash));
        row.insert("confirmed".into(), json!(false));
        row.insert("code_hash".into(), json!(sha256_hex(&code)));
        row.insert(
            "code_expires".into(),
            json!(tokens::now_seconds() + CODE_SECONDS),
        );
        row.insert("created_at".into(), json!(tokens::now_seconds()));
        match self
            .engine
            .insert(self.table(Users::USERS_TABLE), row)
            .await
        {
            Ok(_) => {}
            Err(StorageError::Conflict) => {
                return Err(PoolError::new(
                    "UsernameExistsException",
                    "An account with the given email already exists.",
                )
                .into())
            }
            Err(e) => return Err(e.into()),
        }
        self.send_code(&username, &code).map_err(|e| {
            Failure::Storage(StorageError::Internal(format!("writing the outbox: {e}")))
        })?;
        Ok(sub)
    }

    pub async fn confirm(&self, client_id: &str, email: &str, code: &str) -> Result<()> {
        self.client(client_id)?;
        let username = Self::username(email)?;
        let user = self.user(&username).await?.ok_or_else(|| {
            PoolError::new(
                "UserNotFoundException",
                "Username/client id combination not found.",
            )
        })?;
        if user.get("confirmed") == Some(&json!(true)) {
            return Err(PoolError::new(
                "NotAuthorizedException",
                "User cannot be confirmed. Current status is CONFIRMED",
            )
            .into());
        }
        // Six digits can be guessed without a limit.
        let attempt = format!("confirm:{username}");
        if !self.attempts.allowed(&attempt) {
            return Err(PoolError::new(
                "LimitExceededException",
                "Attempt limit exceeded, please try after some time.",
            )
            .into());
        }
        let expires = user.get("code_expires").and_then(Json::as_i64).unwrap_or(0);
        if expires <= tokens::now_seconds() {
            return Err(PoolError::new(
                "ExpiredCodeException",
                "Invalid code provided, please request a code again.",
            )
            .into());
        }
        if text(&user, "code_hash") != sha256_hex(code.trim()) {
            self.attempts.failed(&attempt);
            return Err(PoolError::new(
                "CodeMismatchException",
                "Invalid verification code provided, please try again.",
            )
            .into());
        }
        self.engine
            .update(
                self.table(Users::USERS_TABLE),
                &json!(username),
                &[
                    Assignment::Set("confirmed".into(), json!(true)),
                    Assignment::Set("code_hash".into(), Json::Null),
                    Assignment::Set("code_expires".into(), Json::Null),
                ],
            )
            .await?;
        self.attempts.succeeded(&attempt);
        Ok(())
    }

    /// Mark a user confirmed without a code (`stackwright users confirm`).
    pub async fn admin_confirm(&self, email: &str) -> Result<bool> {
        let username = Self::username(email)?;
        Ok(self
            .engine
            .update(
                self.table(Users::USERS_TABLE),
                &json!(username),
                &[
                    Assignment::Set("confirmed".into(), json!(true)),
                    Assignment::Set("code_hash".into(), Json::Null),
                    Assignment::Set("code_expires".into(), Json::Null),
                ],
            )
            .await?
            .is_some())
    }

    pub async fn delete(&self, email: &str) -> Result<bool> {
        let username = Self::username(email)?;
        if let Some(user) = self.user(&username).await? {
            self.revoke_all(&text(&user, "sub")).await?;
        }
        Ok(self
            .engine
            .delete(self.table(Users::USERS_TABLE), &json!(username))
            .await?)
    }

    pub async fn list(&self) -> Result<Vec<User>> {
        let mut users = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = self
                .engine
                .list(
                    self.table(Users::USERS_TABLE),
                    &ListQuery {
                        filters: vec![],
                        order_by: &[],
                        limit: 1000,
                        cursor: cursor.as_deref(),
                    },
                )
                .await?;
            users.extend(page.rows.iter().map(|r| User {
                email: text(r, "username"),
                sub: text(r, "sub"),
                confirmed: r.get("confirmed") == Some(&json!(true)),
                created_at: r.get("created_at").and_then(Json::as_i64).unwrap_or(0),
            }));
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        users.sort_by(|a, b| a.email.cmp(&b.email));
        Ok(users)
    }

    pub async fn sign_in(&self, client_id: &str, email: &str, password: &str) -> Result<Tokens> {
        self.client(client_id)?;
        let wrong = || PoolError::new("NotAuthorizedException", "Incorrect username or password.");
        let username = Self::username(email).map_err(|_| wrong())?;
        // Known or not, a name is locked out alike: the answer tells nothing.
        let attempt = format!("sign-in:{username}");
        if !self.attempts.allowed(&attempt) {
            return Err(
                PoolError::new("NotAuthorizedException", "Password attempts exceeded").into(),
            );
        }
        let user = self.user(&username).await?;
        // Hash even for an unknown user, so the answer's timing tells nothing.
        let stored = user
            .as_ref()
            .map(|u| text(u, "password_hash"))
            .unwrap_or_else(|| DUMMY_HASH.to_string());
        if !verify_password(password.to_string(), stored).await || user.is_none() {
            self.attempts.failed(&attempt);
            return Err(wrong().into());
        }
        self.attempts.succeeded(&attempt);
        let user = user.expect("checked");
        if user.get("confirmed") != Some(&json!(true)) {
            return Err(
                PoolError::new("UserNotConfirmedException", "User is not confirmed.").into(),
            );
        }
        let mut tokens = self.issue(&user).await;
        let refresh = URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let mut row = Row::new();
        row.insert("token_hash".into(), json!(sha256_hex(&refresh)));
        row.insert("sub".into(), json!(text(&user, "sub")));
        row.insert(
            "expires_at".into(),
            json!(tokens::now_seconds() + i64::from(self.settings.refresh_days) * 86_400),
        );
        row.insert("revoked".into(), json!(false));
        self.engine
            .insert(self.table(Users::REFRESH_TABLE), row)
            .await?;
        tokens.refresh_token = Some(refresh);
        Ok(tokens)
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str) -> Result<Tokens> {
        self.client(client_id)?;
        let invalid = || PoolError::new("NotAuthorizedException", "Invalid Refresh Token");
        let row = self
            .engine
            .get(
                self.table(Users::REFRESH_TABLE),
                &json!(sha256_hex(refresh_token)),
            )
            .await?
            .ok_or_else(invalid)?;
        let expired =
            row.get("expires_at").and_then(Json::as_i64).unwrap_or(0) <= tokens::now_seconds();
        if expired || row.get("revoked") == Some(&json!(true)) {
            return Err(invalid().into());
        }
        let user = self.by_sub(&text(&row, "sub")).await?.ok_or_else(invalid)?;
        Ok(self.issue(&user).await)
    }

    /// Sign out everywhere: every refresh token of the access token's user is revoked.
    pub async fn sign_out(&self, access_token: &str) -> Result<()> {
        let claims = self
            .verify(access_token)
            .await
            .ok()
            .filter(|c| c.token_use() == "access")
            .ok_or_else(|| PoolError::new("NotAuthorizedException", "Invalid Access Token"))?;
        self.revoke_all(claims.sub()).await
    }

    async fn revoke_all(&self, sub: &str) -> Result<()> {
        let table = self.table(Users::REFRESH_TABLE);
        let page = self
            .engine
            .list(
                table,
                &ListQuery {
                    filters: vec![("sub", json!(sub))],
                    order_by: &[],
                    limit: 10_000,
                    cursor: None,
                },
            )
            .await?;
        for row in page.rows {
            self.engine
                .update(
                    table,
                    &json!(text(&row, "token_hash")),
                    &[Assignment::Set("revoked".into(), json!(true))],
                )
                .await?;
        }
        Ok(())
    }

    async fn issue(&self, user: &Row) -> Tokens {
        let now = tokens::now_seconds();
        let exp = now + i64::from(self.settings.token_minutes) * 60;
        let (sub, email) = (text(user, "sub"), text(user, "username"));
        let keys = self.keys.read().await;
        let key = keys.first().expect("a signing key exists from the start");
        let id = key.sign(&json!({
            "sub": sub,
            "email": email,
            "email_verified": true,
            "cognito:username": sub,
            "iss": self.expected.issuer,
            "aud": self.expected.client_id,
            "token_use": "id",
            "auth_time": now,
            "iat": now,
            "exp": exp,
            "jti": uuid::Uuid::new_v4().to_string(),
        }));
        let access = key.sign(&json!({
            "sub": sub,
            "username": sub,
            "client_id": self.expected.client_id,
            "iss": self.expected.issuer,
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": now,
            "iat": now,
            "exp": exp,
            "jti": uuid::Uuid::new_v4().to_string(),
        }));
        Tokens {
            id_token: id,
            access_token: access,
            refresh_token: None,
            expires_in: exp - now,
        }
    }
}

/// A valid Argon2id hash of a random password: compared against when the
/// user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RhY2t3cmlnaHRkdW1teQ$5hYyC7yp0GQJKeEdLg1TJ7XlTnlbWw4y8Wdu9kcq1pM";

async fn hash_password(password: String) -> Result<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&random_bytes::<16>()).expect("16 bytes make a salt");
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Failure::Storage(StorageError::Internal(format!("hashing: {e}"))))
    })
    .await
    .expect("hashing ran")
}

async fn verify_password(password: String, stored: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored)
            .map(|h| {
                Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}
