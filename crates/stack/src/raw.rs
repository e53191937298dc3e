//! The stack file exactly as written: serde structures that keep source
//! spans, so validation can point at the offending text.
//!
//! `deny_unknown_fields` everywhere: a typo'd key is an error, never ignored.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

pub type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStack {
    pub name: S<String>,
    pub database: Option<S<RawDatabase>>,
    #[serde(default)]
    pub server: Option<RawServer>,
    #[serde(default)]
    pub tables: IndexMap<String, S<RawTable>>,
    #[serde(default)]
    pub routes: Vec<S<RawRoute>>,
    #[serde(default)]
    pub topics: IndexMap<String, S<RawTopic>>,
    #[serde(default)]
    pub subscriptions: Vec<S<RawSubscription>>,
    pub site: Option<S<RawSite>>,
    pub users: Option<S<RawUsers>>,
    #[serde(default)]
    pub services: IndexMap<String, S<RawService>>,
    pub aws: Option<RawAws>,
}

/// `[services.NAME]`: the team's own HTTP server, started from a folder of
/// the stack, serving path prefixes beside the routes.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub dir: S<String>,
    pub build: Option<S<Vec<S<String>>>>,
    pub command: S<Vec<S<String>>>,
    pub paths: S<Vec<S<String>>>,
    pub health: Option<S<String>>,
    #[serde(default)]
    pub env: IndexMap<String, S<String>>,
    pub secrets: Option<S<Vec<S<String>>>>,
    pub auth: Option<S<String>>,
    pub cpu: Option<S<i64>>,
    pub memory: Option<S<i64>>,
    pub min: Option<S<i64>>,
    pub max: Option<S<i64>>,
    pub base: Option<S<String>>,
    pub lambda_runtime: Option<S<String>>,
}

/// `[users]`: a user pool (sign-up by e-mail, confirmation, sign-in).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUsers {
    pub password_min_length: Option<S<i64>>,
    pub password_require: Option<S<Vec<S<String>>>>,
    pub token_minutes: Option<S<i64>>,
    pub refresh_days: Option<S<i64>>,
}

/// `[site]`: a folder of static files served at a path.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub dir: S<String>,
    pub path: Option<S<String>>,
    pub spa: Option<S<bool>>,
}

/// `[topics.NAME]`: a message schema (fields written like columns;
/// `nullable` fields may be left out) and who may publish over HTTP.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTopic {
    pub fields: IndexMap<String, S<RawColumn>>,
    pub auth: Option<S<String>>,
}

/// `[[subscriptions]]`: apply a topic's messages to a table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubscription {
    pub topic: S<String>,
    pub table: S<String>,
    pub action: Option<S<String>>,
    /// column = field; default: every column with a field of the same name.
    pub map: Option<S<IndexMap<String, S<String>>>>,
    pub max_attempts: Option<S<i64>>,
    pub backoff_seconds: Option<S<i64>>,
}

/// `[aws]`: how the stack runs on AWS; `[aws.env.NAME]` tables take the
/// same keys (except `env`) and override them for one environment.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAws {
    pub region: Option<S<String>>,
    pub compute: Option<S<String>>,
    pub database: Option<S<String>>,
    pub production: Option<S<bool>>,
    pub port: Option<S<i64>>,
    pub azs: Option<S<i64>>,
    pub cpu: Option<S<i64>>,
    pub memory: Option<S<i64>>,
    pub min: Option<S<i64>>,
    pub max: Option<S<i64>>,
    pub target_cpu: Option<S<i64>>,
    pub instance_type: Option<S<String>>,
    pub db_instance_class: Option<S<String>>,
    pub db_storage_gb: Option<S<i64>>,
    pub lambda_memory: Option<S<i64>>,
    pub multi_az: Option<S<bool>>,
    pub deletion_protection: Option<S<bool>>,
    pub log_retention_days: Option<S<i64>>,
    pub certificate_arn: Option<S<String>>,
    pub web_adapter_layer: Option<S<String>>,
    pub waf: Option<S<bool>>,
    pub waf_rate_limit: Option<S<i64>>,
    pub domain: Option<S<String>>,
    pub hosted_zone_id: Option<S<String>>,
    #[serde(default)]
    pub env: IndexMap<String, S<RawAws>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDatabase {
    pub engine: S<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawServer {
    pub max_body_bytes: Option<S<i64>>,
    pub max_header_bytes: Option<S<i64>>,
    pub request_timeout_seconds: Option<S<i64>>,
    pub body_timeout_seconds: Option<S<i64>>,
    pub max_concurrent_requests: Option<S<i64>>,
    pub max_connections: Option<S<i64>>,
    pub max_connections_per_client: Option<S<i64>>,
    pub auth_requests_per_minute: Option<S<i64>>,
    pub trusted_proxy_hops: Option<S<i64>>,
    pub header_timeout_seconds: Option<S<i64>>,
    pub drain_timeout_seconds: Option<S<i64>>,
    pub allowed_hosts: Option<S<Vec<S<String>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTable {
    pub key: S<String>,
    pub columns: IndexMap<String, S<RawColumn>>,
    #[serde(default)]
    pub indexes: IndexMap<String, S<RawIndex>>,
    pub seed: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawColumn {
    #[serde(rename = "type")]
    pub ty: S<String>,
    pub max_length: Option<S<i64>>,
    pub precision: Option<S<i64>>,
    pub scale: Option<S<i64>>,
    pub nullable: Option<S<bool>>,
    pub default: Option<S<toml::Value>>,
    pub allowed: Option<S<Vec<S<toml::Value>>>>,
    pub generated: Option<S<bool>>,
    pub updated: Option<S<toml::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawIndex {
    pub columns: S<Vec<S<String>>>,
    pub unique: Option<S<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub method: S<String>,
    pub path: S<String>,
    pub op: S<String>,
    pub table: Option<S<String>>,
    pub auth: Option<S<String>>,
    // Response shaping.
    pub fields: Option<S<Vec<S<String>>>>,
    pub rename: Option<IndexMap<String, S<String>>>,
    pub wrap: Option<S<String>>,
    pub body: Option<S<toml::Value>>,
    pub status: Option<S<i64>>,
    // Key addressing (get, update, delete).
    pub key_query: Option<S<String>>,
    // List.
    pub filters: Option<S<Vec<S<String>>>>,
    pub named_filter: Option<S<RawNamedFilter>>,
    pub order_by: Option<S<Vec<S<String>>>>,
    pub page_size: Option<S<i64>>,
    pub max_page_size: Option<S<i64>>,
    pub require_filter: Option<S<bool>>,
    pub ranges: Option<S<Vec<S<String>>>>,
    pub sort: Option<S<Vec<S<String>>>>,
    pub count: Option<S<bool>>,
    // Create and update.
    pub input: Option<S<Vec<S<String>>>>,
    pub set: Option<IndexMap<String, S<toml::Value>>>,
    pub increment: Option<IndexMap<String, S<toml::Value>>>,
    // Update and delete.
    #[serde(rename = "where")]
    pub condition: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNamedFilter {
    pub param: S<String>,
    pub value_param: S<String>,
    pub choices: IndexMap<String, S<String>>,
}
