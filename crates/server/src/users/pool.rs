//! The embedded user pool: sign-up with a confirmation code, sign-in,
//! refresh, sign-out, over the stack's own database (the tables of
//! `stackwright_stack::Users::tables`, so every engine holds them).
//! Passwords are hashed with Argon2id (a bounded number at a time, see
//! [`super::hashing`]); refresh tokens and confirmation codes are stored as
//! SHA-256 hashes; signing keys are sealed ([`super::keys`]). Errors carry
//! Cognito's error types, so one client speaks to this pool and to Cognito
//! alike. As Cognito with `PreventUserExistenceErrors`, sign-in and
//! confirming an unknown name answer as for a wrong password or code. What
//! still tells a registered name, as on Cognito: SignUp's
//! `UsernameExistsException` (that call does the same work either way and is
//! paced per client), and ConfirmSignUp's answers for an expired code or a
//! name confirmed already.

use std::path::PathBuf;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use stackwright_stack::{Stack, Table, Users};
use stackwright_storage::{Assignment, Engine, ListQuery, Row, StorageError};
use tokio::sync::RwLock;

use super::attempts::{Attempts, Locked};
use super::hashing::{Busy, Hashing};
use super::keys::{self, random_bytes, KeyFile};
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

/// Why a call did not succeed.
#[derive(Debug)]
pub enum Failure {
    /// Cognito's refusal, for the client.
    Refused(PoolError),
    /// The database failed: for logs; the client gets a 5xx.
    Storage(StorageError),
    /// Too many passwords are being hashed: 503 with Retry-After.
    Busy,
}

impl From<Busy> for Failure {
    fn from(_: Busy) -> Self {
        Failure::Busy
    }
}

fn internal(why: impl Into<String>) -> Failure {
    Failure::Storage(StorageError::Internal(why.into()))
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
    /// Seals the signing keys in the database.
    key_file: KeyFile,
    /// Failed sign-ins and confirmation codes per user (brute force).
    attempts: Attempts,
    hashing: Hashing,
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
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

/// The issuer of the embedded pool's tokens.
pub fn local_issuer(stack: &Stack) -> String {
    format!("urn:stackwright:{}:local", stack.name)
}

/// The claim of the embedded pool's tokens carrying when they were issued
/// in milliseconds (`iat` has whole seconds), so a sign-out refuses every
/// token issued before it and none issued after, even within one second.
pub const ISSUED_MS_CLAIM: &str = "stackwright:issued_ms";

/// A revocation time later than every token: the user was deleted.
const DELETED: i64 = i64::MAX;

impl Pool {
    pub async fn open(engine: Arc<dyn Engine>, stack: &Stack) -> Result<Self> {
        let settings = stack.users.clone().expect("a pool needs [users]");
        let state = stack.dir.join(stackwright_storage::local::DIR);
        let tables = Users::tables();
        let keys_table = tables
            .iter()
            .find(|t| t.name == Users::KEYS_TABLE)
            .expect("a pool table");
        let stored = stored_keys(engine.as_ref(), keys_table).await?;
        // A new key file cannot open keys sealed with the old one.
        let create = !stored.iter().any(|(_, k)| keys::is_sealed(k));
        let key_file = KeyFile::open(&state.join("user-pool.key"), create)
            .map_err(|why| PoolError::new("KeyFile", why))?;
        let pool = Pool {
            engine,
            settings,
            tables,
            outbox: state.join("outbox.jsonl"),
            expected: Expected {
                issuer: local_issuer(stack),
                client_id: LOCAL_CLIENT_ID.to_string(),
            },
            keys: RwLock::new(Vec::new()),
            key_file,
            attempts: Attempts::default(),
            hashing: Hashing::default(),
        };
        pool.load_keys().await?;
        if pool.keys.read().await.is_empty() {
            // First start: a signing key, kept so tokens outlive restarts.
            let key = tokio::task::spawn_blocking(SigningKey::generate)
                .await
                .expect("key generation ran")
                .map_err(|e| internal(e.to_string()))?;
            let mut row = Row::new();
            row.insert("kid".into(), json!(key.kid));
            row.insert(
                "private_key".into(),
                json!(pool.key_file.seal(&key.kid, &key.pkcs8())),
            );
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

    /// Every stored key, newest first (the newest signs; all verify). A key
    /// stored in the clear by an older version is sealed now.
    async fn load_keys(&self) -> Result<()> {
        let table = self.table(Users::KEYS_TABLE);
        let mut keys = Vec::new();
        for (kid, stored) in stored_keys(self.engine.as_ref(), table).await? {
            let der = self.key_file.open_stored(&kid, &stored).map_err(internal)?;
            let key = SigningKey::from_pkcs8(&kid, &der).map_err(|e| internal(e.to_string()))?;
            if !keys::is_sealed(&stored) {
                let sealed = self.key_file.seal(&kid, &der);
                self.engine
                    .update(
                        table,
                        &json!(kid),
                        &[Assignment::Set("private_key".into(), json!(sealed))],
                    )
                    .await?;
            }
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

    /// Verify a token this pool issued and not revoked since; a key another
    /// process made since this one started is read from the database.
    pub async fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let attempt = |keys: &Vec<SigningKey>| {
            tokens::verify(
                token,
                &self.expected,
                |kid| keys.iter().find(|k| k.kid == kid).map(SigningKey::public),
                tokens::now_seconds(),
            )
        };
        let mut claims = attempt(&*self.keys.read().await);
        if claims == Err(TokenError::UnknownKey) {
            self.load_keys()
                .await
                .map_err(|_| TokenError::Keys("the signing keys cannot be read".into()))?;
            claims = attempt(&*self.keys.read().await);
        }
        let claims = claims?;
        let issued = claims
            .0
            .get(ISSUED_MS_CLAIM)
            .and_then(Json::as_i64)
            .unwrap_or(0);
        let revoked = self
            .revoked_ms(claims.sub())
            .await
            .map_err(|_| TokenError::Keys("the user pool cannot be read".into()))?;
        if revoked.is_some_and(|at| issued < at) {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }

    /// When the user's tokens were last revoked, if ever.
    async fn revoked_ms(&self, sub: &str) -> Result<Option<i64>> {
        let row = self
            .engine
            .get(self.table(Users::REVOCATIONS_TABLE), &json!(sub))
            .await?;
        Ok(row.and_then(|r| r.get("revoked_ms").and_then(Json::as_i64)))
    }

    /// Refuse every token and refresh token of `sub` issued before `at_ms`:
    /// one write, however many tokens the user holds.
    async fn revoke(&self, sub: &str, at_ms: i64) -> Result<()> {
        let table = self.table(Users::REVOCATIONS_TABLE);
        let set = [Assignment::Set("revoked_ms".into(), json!(at_ms))];
        if self
            .engine
            .update(table, &json!(sub), &set)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let mut row = Row::new();
        row.insert("sub".into(), json!(sub));
        row.insert("revoked_ms".into(), json!(at_ms));
        match self.engine.insert(table, row).await {
            Ok(_) => Ok(()),
            // Another sign-out made the row meanwhile.
            Err(StorageError::Conflict) => {
                self.engine.update(table, &json!(sub), &set).await?;
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    fn client(&self, client_id: &str) -> Result<(), PoolError> {
        if client_id == LOCAL_CLIENT_ID {
            Ok(())
        } else {
            Err(PoolError::new(
                "ResourceNotFoundException",
                format!(
                    "User pool client {} does not exist.",
                    stackwright_stack::values::clip(client_id)
                ),
            ))
        }
    }

    /// The name an e-mail address is kept under. Look-alikes are one name:
    /// full-width letters, ligatures and compatibility forms are folded
    /// (NFKC) and case is ignored; invisible characters (zero-width spaces
    /// and joiners, direction marks, fillers) are refused outright.
    fn username(email: &str) -> Result<String, PoolError> {
        use unicode_normalization::UnicodeNormalization;
        let invalid =
            || PoolError::new("InvalidParameterException", "Invalid email address format.");
        if email.chars().any(invisible) {
            return Err(invalid());
        }
        // Folded first, so compatibility capitals (`𝐀`, `ℌ`) lower-case
        // too, and again after: lower-casing can undo a normal form.
        let folded: String = email.trim().nfkc().collect();
        let email: String = folded.to_lowercase().nfkc().collect();
        let valid = email.len() <= 254
            && email.split_once('@').is_some_and(|(local, domain)| {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            })
            && !email
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || invisible(c));
        if valid {
            Ok(email)
        } else {
            Err(invalid())
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
                    ranges: Vec::new(),
                    order_by: &[],
                    limit: 1,
                    after: None,
                },
            )
            .await?;
        Ok(page.into_rows()?.into_iter().next())
    }

    /// Write the confirmation "e-mail" to the outbox (its owner's alone: it
    /// holds codes).
    fn send_code(&self, email: &str, code: &str) -> std::io::Result<()> {
        use std::io::Write;
        if let Some(dir) = self.outbox.parent() {
            stackwright_storage::local::private_dir(dir)?;
        }
        let line = json!({
            "to": email,
            "subject": "Your confirmation code",
            "body": format!("Your confirmation code is {code}"),
            "code": code,
            "sent_at": tokens::now_seconds(),
        });
        let mut file = stackwright_storage::local::private_file(&self.outbox, true)?;
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
        let exists = || {
            PoolError::new(
                "UsernameExistsException",
                "An account with the given email already exists.",
            )
        };
        // Hashed before looking the name up, taken or not: the time taken
        // does not tell whether the address is registered.
        let hash = self
            .hashing
            .hash(password.to_string(), random_bytes::<16>())
            .await?;
        if self.user(&username).await?.is_some() {
            return Err(exists().into());
        }
        let sub = uuid::Uuid::new_v4().to_string();
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
            Err(StorageError::Conflict) => return Err(exists().into()),
            Err(e) => return Err(e.into()),
        }
        self.send_code(&username, &code)
            .map_err(|e| internal(format!("writing the outbox: {e}")))?;
        Ok(sub)
    }

    pub async fn confirm(&self, client_id: &str, email: &str, code: &str) -> Result<()> {
        self.client(client_id)?;
        let mismatch = || {
            PoolError::new(
                "CodeMismatchException",
                "Invalid verification code provided, please try again.",
            )
        };
        let username = Self::username(email).map_err(|_| mismatch())?;
        // Six digits can be guessed without a limit. Unknown names count
        // too, and answer as a wrong code does: nothing tells them apart.
        let attempt = self
            .attempts
            .begin(&format!("confirm:{username}"))
            .await
            .map_err(|Locked| {
                PoolError::new(
                    "LimitExceededException",
                    "Attempt limit exceeded, please try after some time.",
                )
            })?;
        let user = self.user(&username).await?.ok_or_else(mismatch)?;
        if user.get("confirmed") == Some(&json!(true)) {
            return Err(PoolError::new(
                "NotAuthorizedException",
                "User cannot be confirmed. Current status is CONFIRMED",
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
            return Err(mismatch().into());
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
        attempt.succeeded();
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

    /// Delete a user; every token it holds stops working at once.
    pub async fn delete(&self, email: &str) -> Result<bool> {
        let username = Self::username(email)?;
        if let Some(user) = self.user(&username).await? {
            self.revoke(&text(&user, "sub"), DELETED).await?;
        }
        Ok(self
            .engine
            .delete(self.table(Users::USERS_TABLE), &json!(username))
            .await?)
    }

    pub async fn list(&self) -> Result<Vec<User>> {
        let mut users = Vec::new();
        let table = self.table(Users::USERS_TABLE);
        // Pages continue after their last key.
        let order = [stackwright_stack::Order {
            column: table.key.clone(),
            descending: false,
        }];
        let mut after: Option<Row> = None;
        loop {
            let page = self
                .engine
                .list(
                    table,
                    &ListQuery {
                        filters: vec![],
                        ranges: Vec::new(),
                        order_by: &order,
                        limit: 1000,
                        after: after.as_ref(),
                    },
                )
                .await?;
            after = page.next.clone();
            users.extend(page.into_rows()?.iter().map(|r| User {
                email: text(r, "username"),
                sub: text(r, "sub"),
                confirmed: r.get("confirmed") == Some(&json!(true)),
                created_at: r.get("created_at").and_then(Json::as_i64).unwrap_or(0),
            }));
            if after.is_none() {
                break;
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
        let attempt = self
            .attempts
            .begin(&format!("sign-in:{username}"))
            .await
            .map_err(|Locked| {
                PoolError::new("NotAuthorizedException", "Password attempts exceeded")
            })?;
        let user = self.user(&username).await?;
        // Hash even for an unknown user, so the answer's timing tells nothing.
        let stored = user
            .as_ref()
            .map(|u| text(u, "password_hash"))
            .unwrap_or_else(|| DUMMY_HASH.to_string());
        let matches = match self.hashing.verify(password.to_string(), stored).await {
            Ok(matches) => matches,
            Err(Busy) => {
                attempt.withdraw();
                return Err(Failure::Busy);
            }
        };
        let Some(user) = user.filter(|_| matches) else {
            return Err(wrong().into());
        };
        attempt.succeeded();
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
        row.insert("issued_ms".into(), json!(tokens::now_millis()));
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
        let sub = text(&row, "sub");
        let issued = row.get("issued_ms").and_then(Json::as_i64).unwrap_or(0);
        let revoked = self.revoked_ms(&sub).await?.is_some_and(|at| issued < at);
        if expired || revoked || row.get("revoked") == Some(&json!(true)) {
            return Err(invalid().into());
        }
        let user = self.by_sub(&sub).await?.ok_or_else(invalid)?;
        Ok(self.issue(&user).await)
    }

    /// Sign out everywhere: every token of the access token's user issued
    /// until now is refused, ID, access and refresh alike.
    pub async fn sign_out(&self, access_token: &str) -> Result<()> {
        let claims = self
            .verify(access_token)
            .await
            .ok()
            .filter(|c| c.token_use() == "access")
            .ok_or_else(|| PoolError::new("NotAuthorizedException", "Invalid Access Token"))?;
        // The next millisecond: a token issued in this one is refused too.
        self.revoke(claims.sub(), tokens::now_millis() + 1).await
    }

    async fn issue(&self, user: &Row) -> Tokens {
        let now = tokens::now_seconds();
        let now_ms = tokens::now_millis();
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
            ISSUED_MS_CLAIM: now_ms,
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
            ISSUED_MS_CLAIM: now_ms,
        }));
        Tokens {
            id_token: id,
            access_token: access,
            refresh_token: None,
            expires_in: exp - now,
        }
    }
}

/// The stored signing keys: (kid, stored form), newest first.
async fn stored_keys(engine: &dyn Engine, table: &Table) -> Result<Vec<(String, String)>> {
    let page = engine
        .list(
            table,
            &ListQuery {
                filters: vec![],
                ranges: Vec::new(),
                order_by: &[],
                limit: 100,
                after: None,
            },
        )
        .await?;
    let mut rows = page.into_rows()?;
    rows.sort_by_key(|r| std::cmp::Reverse(r.get("created_at").and_then(Json::as_i64)));
    Ok(rows
        .iter()
        .map(|r| (text(r, "kid"), text(r, "private_key")))
        .collect())
}

/// Characters that show nothing, or change nothing visible, in a name:
/// format characters (zero-width space, joiners, direction marks, tags),
/// variation selectors and the Hangul fillers. Two names differing only
/// by them look the same, so they are refused.
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{AD}'
            | '\u{34F}'
            | '\u{600}'..='\u{605}'
            | '\u{61C}'
            | '\u{6DD}'
            | '\u{70F}'
            | '\u{890}'..='\u{891}'
            | '\u{8E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{2800}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// A valid Argon2id hash of a random password: compared against when the
/// user does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c3RhY2t3cmlnaHRkdW1teQ$5hYyC7yp0GQJKeEdLg1TJ7XlTnlbWw4y8Wdu9kcq1pM";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alike_names_are_one_name_or_refused() {
        let name = |s: &str| Pool::username(s).map_err(|e| e.kind);
        assert_eq!(name("Alice@Example.com").unwrap(), "alice@example.com");
        // Full-width letters fold to their plain forms.
        assert_eq!(name("ａｌｉｃｅ@example.com").unwrap(), "alice@example.com");
        assert_eq!(name("ﬁona@example.com").unwrap(), "fiona@example.com");
        // Compatibility capitals fold, then lower-case: one mailbox.
        assert_eq!(name("𝐀lice@example.com").unwrap(), "alice@example.com");
        for hidden in [
            "ali\u{200B}ce@example.com",
            "alice\u{200D}@example.com",
            "\u{FEFF}alice@example.com",
            "alice@exa\u{202E}mple.com",
            "alice\u{3164}@example.com",
            "alice\u{E0041}@example.com",
            "alice\u{AD}@example.com",
        ] {
            assert_eq!(name(hidden), Err("InvalidParameterException"), "{hidden:?}");
        }
    }
}
