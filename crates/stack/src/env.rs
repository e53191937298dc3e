//! The runtime's environment: every variable the templates set (synth) or
//! a person sets (`up`, `migrate`) and the runtime reads, named once here,
//! and read once, by [`RuntimeConfig::from_env`].

use std::collections::BTreeMap;
use std::path::PathBuf;

/// The stack's folder (the package's, on AWS).
pub const STACK: &str = "STACKWRIGHT_STACK";
/// `migrate` on the Lambda function that answers the migration custom
/// resource ([`MIGRATE_MODE`]); unset when serving.
pub const MODE: &str = "STACKWRIGHT_MODE";
pub const MIGRATE_MODE: &str = "migrate";
pub const PORT: &str = "STACKWRIGHT_PORT";
/// The log filter (`debug`, `stackwright=trace`); `info` when unset.
pub const LOG: &str = "STACKWRIGHT_LOG";
/// `text` or `json` (every template sets `json`, for CloudWatch).
pub const LOG_FORMAT: &str = "STACKWRIGHT_LOG_FORMAT";

/// The database URL, without its password on AWS.
pub const DATABASE_URL: &str = "STACKWRIGHT_DATABASE_URL";
/// The password, injected by ECS or systemd from the secret.
pub const DATABASE_PASSWORD: &str = "STACKWRIGHT_DATABASE_PASSWORD";
pub const DATABASE_PASSWORD_FILE: &str = "STACKWRIGHT_DATABASE_PASSWORD_FILE";
/// Where Lambda, which cannot inject a secret, reads the password from.
pub const DATABASE_SECRET_ARN: &str = "STACKWRIGHT_DATABASE_SECRET_ARN";

/// Set (to `1`) where the site is in a bucket behind CloudFront: the
/// runtime does not serve it, and its package does not hold it.
pub const SITE_SERVED_ELSEWHERE: &str = "STACKWRIGHT_SITE_SERVED_ELSEWHERE";

/// Set (to `1`) where the schema is migrated once per deploy by the
/// migration step: the serving runtime checks the schema instead of
/// migrating (it connects as a user that may not change it).
pub const MIGRATED_ELSEWHERE: &str = "STACKWRIGHT_MIGRATED_ELSEWHERE";

/// For the migration step: the secret holding the runtime's own database
/// user (`username`, `password`), which the migration makes and grants.
pub const APP_DATABASE_SECRET_ARN: &str = "STACKWRIGHT_APP_DATABASE_SECRET_ARN";

/// For `stackwright migrate --app-user`: that user's password.
pub const APP_DATABASE_PASSWORD: &str = "STACKWRIGHT_APP_DATABASE_PASSWORD";

/// The Cognito pool that signs users in on AWS (`REGION_ID`).
pub const USER_POOL_ID: &str = "STACKWRIGHT_USER_POOL_ID";
pub const USER_POOL_CLIENT_ID: &str = "STACKWRIGHT_USER_POOL_CLIENT_ID";
/// Optional: the token issuer, when not Cognito's own (tests, emulators).
pub const USER_POOL_ISSUER: &str = "STACKWRIGHT_USER_POOL_ISSUER";
/// Optional: where the pool's keys are, when not under the issuer.
pub const USER_POOL_JWKS_URL: &str = "STACKWRIGHT_USER_POOL_JWKS_URL";

/// Comma-separated origins a browser may call the API from.
pub const CORS_ORIGINS: &str = "STACKWRIGHT_CORS_ORIGINS";
/// The origin secret CloudFront sends (behind an HTTP API on Lambda, which
/// anyone may call): requests without it are refused. Never printed.
pub const ORIGIN_SECRET: &str = "STACKWRIGHT_ORIGIN_SECRET";

/// The Secrets Manager secret (name or ARN) list cursors are sealed with,
/// read at start (Fargate, EC2); with neither this nor [`CURSOR_KEY`], the
/// stack's local key file is used.
pub const CURSOR_SECRET: &str = "STACKWRIGHT_CURSOR_SECRET";
/// That secret's value itself (Lambda: a dynamic reference CloudFormation
/// resolves, as for [`ORIGIN_SECRET`]). Never printed.
pub const CURSOR_KEY: &str = "STACKWRIGHT_CURSOR_KEY";

/// `topic=ARN,...`: the SNS topic of each topic of the stack.
pub const TOPIC_ARNS: &str = "STACKWRIGHT_TOPIC_ARNS";
/// `subscription=URL,...`: the SQS queue of each subscription this
/// runtime consumes.
pub const SUBSCRIPTION_QUEUES: &str = "STACKWRIGHT_SUBSCRIPTION_QUEUES";
/// SQS long-poll wait (0-20 s); shorter for emulators.
pub const SQS_WAIT_SECONDS: &str = "STACKWRIGHT_SQS_WAIT_SECONDS";

/// `name=port,...`: the services this runtime proxies to and someone else
/// runs (the supervisor of `up --replicas`; on AWS the service's container,
/// systemd or the function's start script); also the port
/// `stackwright exec-service` starts a service on.
pub const SERVICE_PORTS: &str = "STACKWRIGHT_SERVICE_PORTS";

/// On AWS: where the services' secrets are, as Secrets Manager names
/// `PREFIX<service>/<SECRET>` (the templates make them empty;
/// `stackwright secrets set` fills them).
pub const SECRETS_PREFIX: &str = "STACKWRIGHT_SECRETS_PREFIX";

/// The service a Lambda function runs (its start script reads it).
pub const SERVICE_NAME: &str = "STACKWRIGHT_SERVICE";

/// The Secrets Manager name of a service's secret, under the
/// [`SECRETS_PREFIX`] value `prefix`: what the templates create, the
/// runtime reads and `stackwright secrets set` writes.
pub fn service_secret_name(prefix: &str, service: &str, secret: &str) -> String {
    format!("{prefix}{service}/{secret}")
}

/// The listening socket a replica inherits from `up --replicas`.
pub const LISTEN_FD: &str = "STACKWRIGHT_LISTEN_FD";

/// `STACKWRIGHT_SERVER_<KEY>` overrides `[server] <key>`.
pub const SERVER_PREFIX: &str = "STACKWRIGHT_SERVER_";

/// What every service of the stack (`[services.NAME]`) is given: the port
/// to listen on, the stack's database (SQLAlchemy, Django, sqlx and pgx
/// read the URL; on AWS its password is apart, in the second variable),
/// and where the stack's own API is. The user pool comes as
/// [`USER_POOL_ISSUER`], [`USER_POOL_JWKS_URL`] and [`USER_POOL_CLIENT_ID`].
pub const SERVICE_PORT: &str = "PORT";
/// The address to listen on: 127.0.0.1 where only the runtime beside it
/// calls it, 0.0.0.0 where the load balancer's health checks do too.
pub const SERVICE_HOST: &str = "HOST";
pub const SERVICE_DATABASE_URL: &str = "DATABASE_URL";
pub const SERVICE_DATABASE_PASSWORD: &str = "DATABASE_PASSWORD";
pub const API_URL: &str = "STACKWRIGHT_API_URL";

/// Set by Lambda: the runtime API's `host:port`.
pub const LAMBDA_RUNTIME_API: &str = "AWS_LAMBDA_RUNTIME_API";

/// Everything the runtime reads from its environment. Values are kept as
/// given; each consumer parses its own and names the variable in errors.
#[derive(Default, Clone)]
pub struct RuntimeConfig {
    pub stack_dir: Option<PathBuf>,
    /// The migration step, not a server.
    pub migrate_mode: bool,
    pub database_url: Option<String>,
    /// Never printed: [`RuntimeConfig`]'s `Debug` leaves it out.
    pub database_password: Option<String>,
    pub database_secret_arn: Option<String>,
    pub app_database_secret_arn: Option<String>,
    pub app_database_password: Option<String>,
    pub migrated_elsewhere: bool,
    pub site_served_elsewhere: bool,
    pub user_pool: Option<UserPoolEnv>,
    pub cors_origins: Vec<String>,
    /// Never printed: [`RuntimeConfig`]'s `Debug` leaves it out.
    pub origin_secret: Option<String>,
    pub cursor_secret: Option<String>,
    /// Never printed: [`RuntimeConfig`]'s `Debug` leaves it out.
    pub cursor_key: Option<String>,
    pub topic_arns: Option<String>,
    pub subscription_queues: Option<String>,
    pub sqs_wait_seconds: Option<String>,
    pub listen_fd: Option<String>,
    pub service_ports: Option<String>,
    pub secrets_prefix: Option<String>,
    pub lambda_runtime_api: Option<String>,
    /// Every variable, for names only the stack file knows (`[server]`
    /// overrides, a service's secrets) and for what a service inherits.
    vars: BTreeMap<String, String>,
}

/// The Cognito pool the templates name.
#[derive(Debug, Clone, PartialEq)]
pub struct UserPoolEnv {
    pub pool_id: String,
    pub client_id: String,
    pub issuer: Option<String>,
    pub jwks_url: Option<String>,
}

impl RuntimeConfig {
    /// The process's environment (variables that are not UTF-8 are left out).
    pub fn from_env() -> Self {
        Self::from_vars(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// From a set of variables.
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        let var = |name: &str| vars.get(name).cloned();
        let set = |name| var(name).filter(|v| !v.is_empty());
        let flag = |name| var(name).as_deref() == Some("1");
        let user_pool = match (var(USER_POOL_ID), var(USER_POOL_CLIENT_ID)) {
            (Some(pool_id), Some(client_id)) => Some(UserPoolEnv {
                pool_id,
                client_id,
                issuer: var(USER_POOL_ISSUER),
                jwks_url: var(USER_POOL_JWKS_URL),
            }),
            _ => None,
        };
        Self {
            stack_dir: var(STACK).map(PathBuf::from),
            migrate_mode: var(MODE).as_deref() == Some(MIGRATE_MODE),
            database_url: var(DATABASE_URL),
            database_password: set(DATABASE_PASSWORD),
            database_secret_arn: set(DATABASE_SECRET_ARN),
            app_database_secret_arn: var(APP_DATABASE_SECRET_ARN),
            app_database_password: set(APP_DATABASE_PASSWORD),
            migrated_elsewhere: flag(MIGRATED_ELSEWHERE),
            site_served_elsewhere: flag(SITE_SERVED_ELSEWHERE),
            user_pool,
            cors_origins: var(CORS_ORIGINS)
                .unwrap_or_default()
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_string())
                .filter(|o| !o.is_empty())
                .collect(),
            origin_secret: var(ORIGIN_SECRET).filter(|s| !s.is_empty()),
            cursor_secret: set(CURSOR_SECRET),
            cursor_key: set(CURSOR_KEY),
            topic_arns: var(TOPIC_ARNS),
            subscription_queues: var(SUBSCRIPTION_QUEUES),
            sqs_wait_seconds: var(SQS_WAIT_SECONDS),
            listen_fd: var(LISTEN_FD),
            service_ports: var(SERVICE_PORTS),
            secrets_prefix: set(SECRETS_PREFIX),
            lambda_runtime_api: var(LAMBDA_RUNTIME_API),
            vars: BTreeMap::new(),
        }
        .with_vars(vars)
    }

    fn with_vars(mut self, vars: BTreeMap<String, String>) -> Self {
        self.vars = vars;
        self
    }

    /// Every variable.
    pub fn vars(&self) -> &BTreeMap<String, String> {
        &self.vars
    }

    /// A variable the fields above do not name.
    pub fn var(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }
}

impl std::fmt::Debug for RuntimeConfig {
    // Not derived: the passwords stay out of every log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeConfig")
            .field("stack_dir", &self.stack_dir)
            .field("migrate_mode", &self.migrate_mode)
            .field("database_url", &self.database_url)
            .field(
                "database_password",
                &self.database_password.as_ref().map(|_| "…"),
            )
            .field("user_pool", &self.user_pool)
            .field("cors_origins", &self.cors_origins)
            .finish_non_exhaustive()
    }
}

/// The SNS message attribute carrying a published message's id (an
/// `Idempotency-Key`) through SNS, which has no such notion on standard
/// topics: the subscriber records it, `dlq` shows it.
pub const MESSAGE_ID_ATTRIBUTE: &str = "stackwright-id";

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> RuntimeConfig {
        RuntimeConfig::from_vars(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn each_variable_lands_in_its_field() {
        let c = config(&[
            (STACK, "/var/task/stack"),
            (MODE, "migrate"),
            (DATABASE_URL, "postgres://app@db/app"),
            (DATABASE_PASSWORD, "s3cret"),
            (MIGRATED_ELSEWHERE, "1"),
            (SITE_SERVED_ELSEWHERE, "0"),
            (USER_POOL_ID, "eu-west-1_abc"),
            (USER_POOL_CLIENT_ID, "client"),
            (CORS_ORIGINS, " https://a.example/, ,https://b.example"),
            (TOPIC_ARNS, "orders=arn:aws:sns:eu-west-1:1:o"),
        ]);
        assert_eq!(c.stack_dir, Some(PathBuf::from("/var/task/stack")));
        assert!(c.migrate_mode && c.migrated_elsewhere && !c.site_served_elsewhere);
        assert_eq!(c.database_password.as_deref(), Some("s3cret"));
        let pool = c.user_pool.as_ref().expect("a pool");
        assert_eq!(
            (pool.pool_id.as_str(), pool.issuer.as_ref()),
            ("eu-west-1_abc", None)
        );
        assert_eq!(c.cors_origins, ["https://a.example", "https://b.example"]);
        assert_eq!(
            c.topic_arns.as_deref(),
            Some("orders=arn:aws:sns:eu-west-1:1:o")
        );
        assert!(!format!("{c:?}").contains("s3cret"), "{c:?}");
        assert_eq!(c.var(TOPIC_ARNS), c.topic_arns.as_deref());
        assert_eq!(c.var("NOT_SET"), None);
    }

    #[test]
    fn empty_passwords_and_half_a_pool_count_as_unset() {
        let c = config(&[
            (DATABASE_PASSWORD, ""),
            (DATABASE_SECRET_ARN, ""),
            (USER_POOL_ID, "eu-west-1_abc"),
            (MODE, "serve"),
        ]);
        assert_eq!(c.database_password, None);
        assert_eq!(c.database_secret_arn, None);
        assert_eq!(c.user_pool, None);
        assert!(!c.migrate_mode);
    }
}
