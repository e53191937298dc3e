//! The validated stack: what the runtime and the cloud synthesizer consume.
//!
//! Nothing here carries source spans; every reference (table, column, index)
//! has already been resolved and checked by [`crate::validate`].

use std::fmt;
use std::path::PathBuf;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

mod aws;
mod condition;
mod list;
mod service;

pub use aws::*;
pub use condition::*;
pub use list::*;
pub use service::*;

#[derive(Debug, Clone, Serialize)]
pub struct Stack {
    pub name: String,
    /// Folder holding the stack file; seed paths are relative to it.
    pub dir: PathBuf,
    pub database: Database,
    pub tables: IndexMap<String, Table>,
    pub routes: Vec<Route>,
    pub topics: IndexMap<String, Topic>,
    pub subscriptions: Vec<Subscription>,
    pub site: Option<Site>,
    pub users: Option<Users>,
    pub services: IndexMap<String, Service>,
    pub server: ServerSettings,
    pub aws: Aws,
}

impl Stack {
    pub fn table(&self, name: &str) -> &Table {
        &self.tables[name]
    }

    /// The topics the runtime publishes (over HTTP): all but the
    /// `internal` ones, which only `stackwright publish` and SNS publishers
    /// feed.
    pub fn published_topics(&self) -> impl Iterator<Item = &Topic> {
        self.topics.values().filter(|t| t.auth != Auth::Internal)
    }

    /// The subscriptions of `topic`, in stack-file order.
    pub fn subscriptions_of<'s>(
        &'s self,
        topic: &'s str,
    ) -> impl Iterator<Item = &'s Subscription> {
        self.subscriptions.iter().filter(move |s| s.topic == topic)
    }
}

/// `[users]`: the stack's user pool. Locally an embedded pool in the
/// stack's database; on AWS a Cognito user pool.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Users {
    pub password: PasswordPolicy,
    /// Lifetime of ID and access tokens.
    pub token_minutes: u32,
    /// Lifetime of refresh tokens.
    pub refresh_days: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PasswordPolicy {
    pub min_length: u32,
    pub lower: bool,
    pub upper: bool,
    pub digit: bool,
    pub symbol: bool,
}

impl PasswordPolicy {
    /// Why `password` does not meet the policy, in the words Cognito uses.
    pub fn check(&self, password: &str) -> Result<(), String> {
        let mut missing = Vec::new();
        if password.chars().count() < self.min_length as usize {
            missing.push(format!("at least {} characters", self.min_length));
        }
        if self.lower && !password.chars().any(|c| c.is_lowercase()) {
            missing.push("a lower-case letter".to_string());
        }
        if self.upper && !password.chars().any(|c| c.is_uppercase()) {
            missing.push("an upper-case letter".to_string());
        }
        if self.digit && !password.chars().any(|c| c.is_ascii_digit()) {
            missing.push("a digit".to_string());
        }
        if self.symbol && !password.chars().any(|c| c.is_ascii_punctuation()) {
            missing.push("a symbol".to_string());
        }
        if password.len() > 256 {
            missing.push("at most 256 bytes".to_string());
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "Password does not conform to policy: it needs {}",
                missing.join(", ")
            ))
        }
    }
}

impl Users {
    pub const USERS_TABLE: &'static str = "_stackwright_users";
    pub const REFRESH_TABLE: &'static str = "_stackwright_refresh_tokens";
    pub const KEYS_TABLE: &'static str = "_stackwright_signing_keys";
    /// Per user: tokens issued before this time (ms) are refused (sign-out
    /// everywhere, deletion).
    pub const REVOCATIONS_TABLE: &'static str = "_stackwright_revocations";

    /// The tables the embedded pool keeps in the stack's database (created
    /// by the migration like the stack's own, on every engine).
    pub fn tables() -> Vec<Table> {
        fn column(name: &str, ty: ColumnType, nullable: bool, default: Option<Json>) -> Column {
            Column {
                name: name.into(),
                ty,
                nullable,
                default,
                allowed: None,
                generated: false,
                stamp: None,
            }
        }
        fn table(name: &str, key: &str, columns: Vec<Column>, by_sub: bool) -> Table {
            let mut indexes = IndexMap::new();
            if by_sub {
                indexes.insert(
                    "sub".to_string(),
                    Index {
                        name: "sub".into(),
                        columns: vec!["sub".into()],
                        unique: false,
                    },
                );
            }
            Table {
                name: name.into(),
                key: key.into(),
                columns: columns.into_iter().map(|c| (c.name.clone(), c)).collect(),
                indexes,
                seed: None,
            }
        }
        let s = |n| ColumnType::String { max_length: n };
        vec![
            table(
                Self::USERS_TABLE,
                "username",
                vec![
                    column("username", s(254), false, None),
                    column("sub", s(36), false, None),
                    column("password_hash", s(200), false, None),
                    column(
                        "confirmed",
                        ColumnType::Boolean,
                        false,
                        Some(Json::Bool(false)),
                    ),
                    column("code_hash", s(64), true, None),
                    column("code_expires", ColumnType::BigInt, true, None),
                    column("created_at", ColumnType::BigInt, false, None),
                ],
                true,
            ),
            table(
                Self::REFRESH_TABLE,
                "token_hash",
                vec![
                    column("token_hash", s(64), false, None),
                    column("sub", s(36), false, None),
                    column("expires_at", ColumnType::BigInt, false, None),
                    column(
                        "revoked",
                        ColumnType::Boolean,
                        false,
                        Some(Json::Bool(false)),
                    ),
                    // Null in stores made before revocation times.
                    column("issued_ms", ColumnType::BigInt, true, None),
                ],
                true,
            ),
            table(
                Self::REVOCATIONS_TABLE,
                "sub",
                vec![
                    column("sub", s(36), false, None),
                    column("revoked_ms", ColumnType::BigInt, false, None),
                ],
                false,
            ),
            table(
                Self::KEYS_TABLE,
                "kid",
                vec![
                    column("kid", s(64), false, None),
                    column("private_key", ColumnType::Text, false, None),
                    column("created_at", ColumnType::BigInt, false, None),
                ],
                false,
            ),
        ]
    }
}

/// A static site: the files of a folder, served at a path, with
/// placeholders (`{{API_URL}}`, `{{AUTH_URL}}`, `{{REGION}}`,
/// `{{USER_POOL_ID}}`, `{{CLIENT_ID}}`) filled in text files.
#[derive(Debug, Clone, Serialize)]
pub struct Site {
    /// Relative to the stack folder.
    pub dir: PathBuf,
    /// URL path the folder is served at: `/` or `/app` (no trailing slash).
    pub path: String,
    /// Unknown paths under `path` answer `index.html` (single-page apps).
    pub spa: bool,
}

impl Site {
    pub const PLACEHOLDERS: [&'static str; 5] =
        ["API_URL", "AUTH_URL", "REGION", "USER_POOL_ID", "CLIENT_ID"];
}

/// A topic: messages are JSON objects with these fields, published over
/// HTTP (`POST /topics/NAME`), by `stackwright publish`, or on AWS to the
/// topic's SNS topic.
#[derive(Debug, Clone, Serialize)]
pub struct Topic {
    pub name: String,
    /// Field name -> its type, written like a column; `nullable` fields may
    /// be absent. No other field is accepted.
    pub fields: IndexMap<String, Column>,
    /// Who may publish over HTTP.
    pub auth: Auth,
}

/// What a subscription does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Apply {
    /// Insert a row; a row with the same key makes the message fail.
    Insert,
    /// Insert the row, or replace the mapped columns of the row with its key.
    Upsert,
}

/// Delivers every message of a topic to a table, at least once, applied
/// exactly once; after `max_attempts` failed attempts a message moves to
/// the dead-letter store.
#[derive(Debug, Clone, Serialize)]
pub struct Subscription {
    /// `TOPIC-TABLE`: names its queue, dead-letter queue and records.
    pub name: String,
    pub topic: String,
    pub table: String,
    pub apply: Apply,
    /// (column, message field), in the table's column order.
    pub map: Vec<(String, String)>,
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles with every attempt.
    pub backoff_seconds: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct Database {
    /// The engine the stack runs on in the cloud. Locally the default is SQLite.
    pub engine: CloudEngine,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CloudEngine {
    Postgres,
    AuroraPostgres,
    AuroraMysql,
    Mysql,
    Dynamodb,
    Redshift,
}

impl CloudEngine {
    pub const ALL: [(&'static str, CloudEngine); 6] = [
        ("postgres", CloudEngine::Postgres),
        ("aurora-postgres", CloudEngine::AuroraPostgres),
        ("aurora-mysql", CloudEngine::AuroraMysql),
        ("mysql", CloudEngine::Mysql),
        ("dynamodb", CloudEngine::Dynamodb),
        ("redshift", CloudEngine::Redshift),
    ];
}

#[derive(Debug, Clone, Serialize)]
pub struct ServerSettings {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted request target plus headers, in bytes.
    pub max_header_bytes: usize,
    /// Longest a request may take once its body is in, before it is
    /// answered 503.
    pub request_timeout_seconds: u64,
    /// Time a client has to send a request's body. Bodies are read before a
    /// request takes one of the `max_concurrent_requests` slots, so slow
    /// senders cannot hold the slots.
    pub body_timeout_seconds: u64,
    /// Requests handled at once; more are shed with 503 and Retry-After.
    pub max_concurrent_requests: usize,
    /// Open connections; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Open connections from one client address; more are answered 429
    /// and closed. Not applied behind a proxy (`trusted_proxy_hops` > 0),
    /// where every connection comes from the proxy.
    pub max_connections_per_client: usize,
    /// Requests to the user pool (`/auth/`) per client address and minute,
    /// with a burst of as many; more are answered 429.
    pub auth_requests_per_minute: usize,
    /// Proxies in front of the runtime that append the client's address to
    /// `X-Forwarded-For` (a load balancer: 1). 0 trusts no such header.
    pub trusted_proxy_hops: usize,
    /// Time a client has to send a request's headers, and the longest an
    /// idle keep-alive connection stays open (slow clients are cut off).
    pub header_timeout_seconds: u64,
    /// On shutdown, how long in-flight requests may take to finish.
    pub drain_timeout_seconds: u64,
    /// Host names answered besides the loopback ones when the server
    /// listens on a loopback address (DNS rebinding defence).
    pub allowed_hosts: Vec<String>,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            max_body_bytes: 1024 * 1024,
            max_header_bytes: 16 * 1024,
            request_timeout_seconds: 30,
            body_timeout_seconds: 10,
            max_concurrent_requests: 512,
            max_connections: 4096,
            max_connections_per_client: 256,
            auth_requests_per_minute: 60,
            trusted_proxy_hops: 0,
            header_timeout_seconds: 10,
            drain_timeout_seconds: 30,
            allowed_hosts: Vec::new(),
        }
    }
}

impl ServerSettings {
    /// Every numeric `[server]` key with its allowed range: what the stack
    /// file and the `STACKWRIGHT_SERVER_<KEY>` environment overrides accept.
    pub const KEYS: [(&'static str, std::ops::RangeInclusive<i64>); 11] = [
        ("max_body_bytes", 1024..=1024 * 1024 * 1024),
        ("max_header_bytes", 1024..=1024 * 1024),
        ("request_timeout_seconds", 1..=3600),
        ("body_timeout_seconds", 1..=3600),
        ("max_concurrent_requests", 1..=1_000_000),
        ("max_connections", 1..=1_000_000),
        ("max_connections_per_client", 1..=1_000_000),
        ("auth_requests_per_minute", 1..=1_000_000),
        ("trusted_proxy_hops", 0..=10),
        ("header_timeout_seconds", 1..=3600),
        ("drain_timeout_seconds", 0..=3600),
    ];

    /// Set `key` to `value`; an error names the allowed range.
    pub fn set(&mut self, key: &str, value: i64) -> Result<(), String> {
        let (key, range) = Self::KEYS
            .iter()
            .find(|(k, _)| *k == key)
            .ok_or_else(|| format!("unknown server setting `{key}`"))?;
        if !range.contains(&value) {
            return Err(format!(
                "{key} must be between {} and {}",
                range.start(),
                range.end()
            ));
        }
        // In range, so non-negative and small enough for either type.
        let (n, secs) = (value as usize, value as u64);
        match *key {
            "max_body_bytes" => self.max_body_bytes = n,
            "max_header_bytes" => self.max_header_bytes = n,
            "request_timeout_seconds" => self.request_timeout_seconds = secs,
            "body_timeout_seconds" => self.body_timeout_seconds = secs,
            "max_concurrent_requests" => self.max_concurrent_requests = n,
            "max_connections" => self.max_connections = n,
            "max_connections_per_client" => self.max_connections_per_client = n,
            "auth_requests_per_minute" => self.auth_requests_per_minute = n,
            "trusted_proxy_hops" => self.trusted_proxy_hops = n,
            "header_timeout_seconds" => self.header_timeout_seconds = secs,
            _ => self.drain_timeout_seconds = secs,
        }
        Ok(())
    }

    /// The environment variable that overrides `key`:
    /// `STACKWRIGHT_SERVER_<KEY>` (what the templates set for the runtime).
    pub fn env_name(key: &str) -> String {
        debug_assert!(Self::KEYS.iter().any(|(k, _)| *k == key), "{key}");
        format!("{}{}", crate::env::SERVER_PREFIX, key.to_ascii_uppercase())
    }

    /// Apply `STACKWRIGHT_SERVER_<KEY>` overrides (e.g. the deployed
    /// runtime's keep-alive set longer than its load balancer's).
    pub fn apply_env(&mut self, var: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        for (key, _) in Self::KEYS {
            let name = Self::env_name(key);
            if let Some(text) = var(&name) {
                let value = text
                    .trim()
                    .parse()
                    .map_err(|_| format!("{name}: `{text}` is not an integer"))?;
                self.set(key, value)
                    .map_err(|why| format!("{name}: {why}"))?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Table {
    pub name: String,
    /// Name of the key column (always present in `columns`).
    pub key: String,
    pub columns: IndexMap<String, Column>,
    pub indexes: IndexMap<String, Index>,
    pub seed: Option<SeedSource>,
}

impl Table {
    pub fn key_column(&self) -> &Column {
        &self.columns[&self.key]
    }
    /// A list's order without its trailing ascending key (which only breaks
    /// ties): the order an index must give.
    pub fn sort_columns<'o>(&self, order_by: &'o [Order]) -> &'o [Order] {
        match order_by.split_last() {
            Some((last, rest)) if last.column == self.key && !last.descending => rest,
            _ => order_by,
        }
    }
    /// True when `column` can be looked up without a full scan: the key or
    /// the first column of a secondary index.
    pub fn is_indexed(&self, column: &str) -> bool {
        column == self.key
            || self
                .indexes
                .values()
                .any(|i| i.columns.first().map(String::as_str) == Some(column))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(rename = "type")]
    pub ty: ColumnType,
    pub nullable: bool,
    /// Value used when a create request or seed row leaves the column out.
    pub default: Option<Json>,
    /// When set, the only values the column accepts.
    pub allowed: Option<Vec<Json>>,
    /// The database generates the value (auto-increment for integers, a UUID
    /// for strings). Only the key column can be generated.
    pub generated: bool,
    /// A timestamp the runtime writes itself (`default = "now"` or
    /// `updated = "now"`). Left out of snapshots when unset, so schemas
    /// recorded before it read the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp: Option<Stamp>,
}

/// When the runtime writes a timestamp column with the time of the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stamp {
    /// `default = "now"`: on create, when the request leaves it out.
    Created,
    /// `updated = "now"`: on every write; no request sets it.
    Updated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ColumnType {
    String {
        max_length: u32,
    },
    Text,
    Integer,
    BigInt,
    Float,
    Boolean,
    Timestamp,
    Json,
    /// Exact: `precision` digits in all, `scale` of them after the point
    /// (see `crate::decimal`).
    Decimal {
        precision: u8,
        scale: u8,
    },
    /// A calendar day, `YYYY-MM-DD`.
    Date,
    /// Held as its lowercase hyphenated text on every engine (a native
    /// UUID on PostgreSQL, which orders the same).
    Uuid,
}

impl ColumnType {
    pub const NAMES: [&'static str; 11] = [
        "string",
        "text",
        "integer",
        "bigint",
        "float",
        "boolean",
        "timestamp",
        "json",
        "decimal",
        "date",
        "uuid",
    ];

    /// One of each type, in the order of [`Self::NAMES`], for tests that
    /// go through every type.
    pub const ONE_OF_EACH: [ColumnType; 11] = [
        ColumnType::String { max_length: 8 },
        ColumnType::Text,
        ColumnType::Integer,
        ColumnType::BigInt,
        ColumnType::Float,
        ColumnType::Boolean,
        ColumnType::Timestamp,
        ColumnType::Json,
        ColumnType::Decimal {
            precision: 10,
            scale: 2,
        },
        ColumnType::Date,
        ColumnType::Uuid,
    ];

    pub fn is_integer(self) -> bool {
        matches!(self, ColumnType::Integer | ColumnType::BigInt)
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::String { max_length } => write!(f, "string({max_length})"),
            ColumnType::Text => f.write_str("text"),
            ColumnType::Integer => f.write_str("integer"),
            ColumnType::BigInt => f.write_str("bigint"),
            ColumnType::Float => f.write_str("float"),
            ColumnType::Boolean => f.write_str("boolean"),
            ColumnType::Timestamp => f.write_str("timestamp"),
            ColumnType::Json => f.write_str("json"),
            ColumnType::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ColumnType::Date => f.write_str("date"),
            ColumnType::Uuid => f.write_str("uuid"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SeedSource {
    /// As written in the stack file, relative to the stack folder.
    pub path: PathBuf,
    pub format: SeedFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SeedFormat {
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Patch,
    Delete,
}

impl Method {
    pub const ALL: [(&'static str, Method); 5] = [
        ("GET", Method::Get),
        ("POST", Method::Post),
        ("PUT", Method::Put),
        ("PATCH", Method::Patch),
        ("DELETE", Method::Delete),
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Auth {
    /// Anyone may call the route.
    None,
    /// Only a signed-in user may call the route.
    User,
    /// Topics only: nobody publishes over HTTP. Messages come from
    /// `stackwright publish` locally and, on AWS, from SNS publishers the
    /// account's IAM allows (another system of the team's).
    Internal,
}

#[derive(Debug, Clone, Serialize)]
pub struct Route {
    pub method: Method,
    /// Path template, e.g. `/api/pet/{name}`.
    pub path: String,
    pub auth: Auth,
    pub operation: Operation,
    pub response: Response,
}

impl Route {
    pub fn label(&self) -> String {
        format!("{} {}", self.method.as_str(), self.path)
    }
}

/// How an API field maps onto a table column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// Name in requests and responses.
    pub api: String,
    /// Column in the table.
    pub column: String,
}

/// How a route shapes its successful answer.
#[derive(Debug, Clone, Serialize)]
pub struct Response {
    /// The success status code.
    pub status: u16,
    /// Fields of each returned row, in order (API name and column).
    pub fields: Vec<Field>,
    /// Wrap the result in an object under this key: `{"mysfits": [...]}`.
    pub wrap: Option<String>,
    /// A fixed body returned instead of the row(s): `{"Update":"Success"}`.
    pub body: Option<Json>,
}

/// Where a route finds the key of the row it works on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "from", content = "name", rename_all = "lowercase")]
pub enum KeySource {
    /// A path parameter, e.g. `{name}` in `/api/pet/{name}`.
    Path(String),
    /// A query parameter, e.g. `client_id` in `/getClient?client_id=1`.
    Query(String),
}

impl KeySource {
    pub fn param(&self) -> &str {
        match self {
            KeySource::Path(p) | KeySource::Query(p) => p,
        }
    }
}

/// The declarative operation a route performs. Each maps onto a single
/// key-addressed or index-addressed call, so it fits SQL and DynamoDB alike.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Operation {
    Get {
        table: String,
        key: KeySource,
    },
    List(ListOperation),
    Create {
        table: String,
        /// Fields a request body may set.
        input: Vec<Field>,
    },
    Update {
        table: String,
        key: KeySource,
        changes: Vec<Change>,
        /// Fields a request body may set (empty: a body is refused).
        input: Vec<Field>,
        /// `where`: all must hold, or the answer is 409.
        condition: Vec<Comparison>,
    },
    Delete {
        table: String,
        key: KeySource,
        /// `where`: all must hold, or the answer is 409.
        condition: Vec<Comparison>,
    },
    /// Answers 200 when the database answers, 503 when it does not.
    Health,
}

impl Operation {
    pub fn table(&self) -> Option<&str> {
        match self {
            Operation::Get { table, .. }
            | Operation::Create { table, .. }
            | Operation::Update { table, .. }
            | Operation::Delete { table, .. } => Some(table),
            Operation::List(l) => Some(&l.table),
            Operation::Health => None,
        }
    }
}

impl Change {
    /// The body field an increment takes its amount from, if it does.
    pub fn amount_field(&self) -> Option<&str> {
        match self {
            Change::IncrementBy { field, .. } => Some(field),
            _ => None,
        }
    }
}

/// A change an update route applies, besides fields from the request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Change {
    /// Set the column to a fixed value.
    Set { column: String, value: Json },
    /// Atomically add to a numeric column.
    Increment { column: String, by: i64 },
    /// Atomically add (or, `negate`, subtract) the positive integer the
    /// request body gives in `field` (`"-$input.quantity"`).
    IncrementBy {
        column: String,
        field: String,
        negate: bool,
    },
    /// Set the column to a claim of the signed-in user (`"$user.sub"`,
    /// `"$user.email"`): who liked, who adopted.
    SetUser { column: String, claim: UserClaim },
}

/// A claim of the signed-in user a route can write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum UserClaim {
    /// The user's stable id (Cognito's `sub`).
    Sub,
    Email,
}

impl UserClaim {
    pub fn name(self) -> &'static str {
        match self {
            UserClaim::Sub => "sub",
            UserClaim::Email => "email",
        }
    }
}
