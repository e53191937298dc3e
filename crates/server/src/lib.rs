//! The local runtime: serves a stack's routes over HTTP from a storage engine.
//!
//! [`Application::build`] opens the database, migrates and seeds it, and binds
//! the listener (port 0 picks a free port, which is how tests start the real
//! server); [`Application::run_until_stopped`] serves until the shutdown
//! future completes, then finishes in-flight requests.

#![warn(clippy::too_many_lines)]

pub mod cloud_topics;
mod error;
mod fetch;
pub mod http;
pub mod lambda;
mod serve;
pub mod services;
pub mod topics;
pub mod users;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

pub use error::ApiError;
pub use http::ApiContext;

use stackwright_stack::env::{RuntimeConfig, UserPoolEnv};
use stackwright_stack::Stack;
use stackwright_storage::{DatabaseUrl, PrepareReport, StorageError, UserTables};
use tokio::net::TcpListener;

#[derive(Debug, Clone)]
pub struct Settings {
    pub host: String,
    pub port: u16,
    pub database: DatabaseUrl,
    /// Apply schema changes that lose data (drops, type changes).
    pub allow_destructive: bool,
    /// Topics on AWS (SNS topics, SQS queues) instead of the database's
    /// own queues: what the templates configure.
    pub cloud_topics: Option<cloud_topics::CloudTopics>,
    /// Origins allowed to call the API from a browser.
    pub cors_origins: Vec<String>,
    /// Only requests carrying it are answered (behind an HTTP API).
    pub origin_secret: Option<http::origin::OriginSecret>,
    /// The Cognito pool that signs users in (on AWS); the stack's embedded
    /// pool when None.
    pub user_pool: Option<UserPoolEnv>,
    /// The runtime's environment, which services take what they inherit
    /// and their secrets from ([`services`]).
    pub service_vars: std::collections::BTreeMap<String, String>,
    /// Where the services listen when someone else runs them (the
    /// supervisor of `up --replicas`); None: start them here.
    pub service_ports: Option<std::collections::BTreeMap<String, u16>>,
    /// Migrate and seed at start. Off where the migration runs elsewhere,
    /// as the administrator (the deployed runtime, which connects as a user
    /// that may not change the schema): then the schema is only checked.
    pub migrate: bool,
    /// The key list cursors are sealed with (on AWS, from the Secrets
    /// Manager secret the templates name); None: the stack's local key file.
    pub cursor_key: Option<http::cursor::CursorKey>,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Site(#[from] http::site::SiteError),
    #[error("the user pool: {0}")]
    Users(String),
    #[error("list cursors: {0}")]
    Cursors(String),
    #[error(transparent)]
    Services(#[from] services::ServiceError),
    #[error("cannot listen on {addr}: {reason}")]
    Bind {
        addr: String,
        reason: std::io::Error,
    },
}

/// Who may call `auth = "user"` routes: Cognito when the environment names
/// a pool (on AWS), else the stack's embedded pool.
async fn user_auth(
    engine: &Arc<dyn stackwright_storage::Engine>,
    stack: &Stack,
    cognito: Option<&UserPoolEnv>,
) -> Result<Option<users::Shared>, StartError> {
    if stack.users.is_none() {
        return Ok(None);
    }
    if let Some(pool) = cognito {
        let cognito = users::UserAuth::cognito(pool).map_err(StartError::Users)?;
        return Ok(Some(Arc::new(cognito)));
    }
    let pool = users::pool::Pool::open(engine.clone(), stack)
        .await
        .map_err(|e| match e {
            users::pool::Failure::Storage(e) => StartError::Storage(e),
            users::pool::Failure::Refused(e) => StartError::Users(e.message),
            users::pool::Failure::Busy => StartError::Users("busy".into()),
        })?;
    Ok(Some(Arc::new(users::UserAuth::Local(Arc::new(pool)))))
}

/// Build and start the stack's services, told where the runtime is.
pub async fn start_services(
    stack: &Stack,
    settings: &Settings,
    api_url: &str,
) -> Result<Option<services::Supervisor>, StartError> {
    if stack.services.is_empty() {
        return Ok(None);
    }
    services::build(stack).await?;
    let wiring = services::Wiring {
        api_url: api_url.to_string(),
        database: settings.database.clone(),
        user_pool: services::Wiring::user_pool_of(stack, api_url, settings.user_pool.as_ref()),
        vars: settings.service_vars.clone(),
        host: "127.0.0.1".to_string(),
        password_apart: false,
    };
    Ok(Some(services::Supervisor::start(stack, &wiring).await?))
}

/// The key list cursors are sealed with: the one given, else the stack's
/// local key file.
fn cursor_key(
    stack: &Stack,
    given: Option<&http::cursor::CursorKey>,
) -> Result<http::cursor::CursorKey, StartError> {
    match given {
        Some(key) => Ok(key.clone()),
        None => http::cursor::CursorKey::local(&stack.dir.join(stackwright_storage::local::DIR))
            .map_err(StartError::Cursors),
    }
}

/// The site's placeholders when `up` serves it: the API and the user pool
/// are on the same origin as the site.
pub fn local_site_values() -> Vec<(&'static str, String)> {
    vec![
        ("API_URL", String::new()),
        ("AUTH_URL", "/auth/".to_string()),
        ("REGION", "local".to_string()),
        ("USER_POOL_ID", "local".to_string()),
        ("CLIENT_ID", "local".to_string()),
    ]
}

/// The base URL clients use for a listening address.
pub fn base_url(address: SocketAddr) -> String {
    let host = match address.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        ip => ip.to_string(),
    };
    format!("http://{host}:{}", address.port())
}

pub struct Application {
    listener: TcpListener,
    app: http::App,
    address: SocketAddr,
    prepared: PrepareReport,
    engine: Arc<dyn stackwright_storage::Engine>,
    stack: Arc<Stack>,
    published: Arc<tokio::sync::Notify>,
    cloud: Option<Arc<cloud_topics::CloudTopics>>,
    /// The listening socket is shared with other replicas.
    shared: bool,
    services: Option<services::Supervisor>,
}

impl Application {
    pub async fn build(stack: Stack, settings: &Settings) -> Result<Self, StartError> {
        Self::build_on(stack, settings, None).await
    }

    /// As [`Application::build`], on a listening socket opened by someone
    /// else (a supervisor running replicas that share it), when given.
    pub async fn build_on(
        stack: Stack,
        settings: &Settings,
        inherited: Option<std::net::TcpListener>,
    ) -> Result<Self, StartError> {
        let engine = stackwright_storage::open(&settings.database).await?;
        if !stack.topics.is_empty() && engine.queue().is_none() {
            return Err(StorageError::Unsupported(format!(
                "stack `{}` has topics, which need a SQL database; run it on SQLite (the default), PostgreSQL or MySQL",
                stack.name
            ))
            .into());
        }
        let counted = stack
            .routes
            .iter()
            .find(|r| matches!(&r.operation, stackwright_stack::Operation::List(l) if l.count));
        if let Some(route) = counted.filter(|_| !engine.counts()) {
            return Err(StorageError::Unsupported(format!(
                "route `{}` declares `count`, which {:?} cannot give without reading every item; leave it out (`stackwright check` says so of a stack on DynamoDB)",
                route.label(),
                engine.kind()
            ))
            .into());
        }
        let users = if settings.user_pool.is_some() {
            UserTables::Elsewhere
        } else {
            UserTables::Embedded
        };
        let prepared = if settings.migrate {
            stackwright_storage::prepare_for(
                engine.as_ref(),
                &stack,
                settings.allow_destructive,
                users,
            )
            .await?
        } else {
            stackwright_storage::verify_migrated(engine.as_ref(), &stack, users).await?;
            PrepareReport::default()
        };
        let addr = format!("{}:{}", settings.host, settings.port);
        let shared = inherited.is_some();
        let listener = match inherited {
            Some(listener) => listener
                .set_nonblocking(true)
                .and_then(|()| TcpListener::from_std(listener)),
            None => TcpListener::bind(&addr).await,
        }
        .map_err(|source| StartError::Bind {
            addr: addr.clone(),
            reason: source,
        })?;
        let address = listener.local_addr().map_err(|source| StartError::Bind {
            addr,
            reason: source,
        })?;
        let stack = Arc::new(stack);
        let published = Arc::new(tokio::sync::Notify::new());
        let cloud = settings.cloud_topics.clone().map(Arc::new);
        let site = match &stack.site {
            Some(site) => Some(Arc::new(http::site::SiteFiles::load(
                &stack,
                site,
                &local_site_values(),
            )?)),
            None => None,
        };
        let users = user_auth(&engine, &stack, settings.user_pool.as_ref()).await?;
        let (services, targets) = match &settings.service_ports {
            Some(ports) => (None, services::attach(&stack, ports)?),
            None => {
                let started = start_services(&stack, settings, &base_url(address)).await?;
                let targets = started.as_ref().map(|s| s.targets().to_vec());
                (started, targets.unwrap_or_default())
            }
        };
        let app = http::router(http::Context {
            stack: stack.clone(),
            engine: engine.clone(),
            published: published.clone(),
            cloud: cloud.clone(),
            site,
            users,
            cors_origins: Arc::new(settings.cors_origins.clone()),
            origin_secret: settings.origin_secret.clone(),
            local: address.ip().is_loopback(),
            auth_limit: Arc::new(http::client::RateLimit::per_minute(
                stack.server.auth_requests_per_minute,
            )),
            services: Arc::new(targets),
            upstream: http::services::client(),
            cursors: cursor_key(&stack, settings.cursor_key.as_ref())?,
        });
        Ok(Application {
            listener,
            app,
            address,
            prepared,
            engine,
            stack,
            published,
            cloud,
            shared,
            services,
        })
    }

    /// What a Lambda function serves, on an already migrated database
    /// (migrations run once per deploy, not per cold start): the router for
    /// HTTP API events and the subscriptions for SQS events.
    pub async fn for_lambda(
        stack: Stack,
        database: &DatabaseUrl,
        cloud_topics: Option<cloud_topics::CloudTopics>,
        config: &RuntimeConfig,
        cursors: Option<&http::cursor::CursorKey>,
    ) -> Result<lambda::Handlers, StartError> {
        let engine = stackwright_storage::open(database).await?;
        let stack = Arc::new(stack);
        let cloud = cloud_topics.map(Arc::new);
        let router = http::router(http::Context {
            stack: stack.clone(),
            engine: engine.clone(),
            // Lambda delivers through its SQS trigger, not a loop.
            published: Arc::new(tokio::sync::Notify::new()),
            cloud: cloud.clone(),
            // On AWS the site is in S3 behind CloudFront.
            site: None,
            users: user_auth(&engine, &stack, config.user_pool.as_ref()).await?,
            cors_origins: Arc::new(config.cors_origins.clone()),
            origin_secret: config
                .origin_secret
                .as_deref()
                .map(http::origin::OriginSecret::new),
            // Behind API Gateway, which answers only its own host names.
            local: false,
            auth_limit: Arc::new(http::client::RateLimit::per_minute(
                stack.server.auth_requests_per_minute,
            )),
            // On AWS each service runs apart, behind the load balancer.
            services: Arc::new(Vec::new()),
            upstream: http::services::client(),
            cursors: cursor_key(&stack, cursors)?,
        });
        Ok(lambda::Handlers {
            router,
            engine,
            stack,
            cloud,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// The base URL clients use, e.g. `http://127.0.0.1:8080`.
    pub fn url(&self) -> String {
        base_url(self.address)
    }

    /// What migrating and seeding did at start.
    pub fn prepared(&self) -> &PrepareReport {
        &self.prepared
    }

    /// Serve, and deliver topic messages, until `shutdown` completes; then
    /// stop accepting, let in-flight requests finish, and stop delivering
    /// after the transaction in progress.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let stop = Arc::new(tokio::sync::Notify::new());
        let limits = self.stack.server.clone();
        let forgetting = tokio::spawn(topics::forget_applied(
            self.engine.clone(),
            self.stack.clone(),
        ));
        let delivery = match self.cloud {
            // On AWS the subscriptions' SQS queues hold the messages.
            Some(cloud) => tokio::spawn(cloud.consume(self.engine, self.stack, stop.clone())),
            None => tokio::spawn(topics::run_delivery(
                self.engine,
                self.stack,
                self.published,
                stop.clone(),
            )),
        };
        let idle_grace = match self.shared {
            true => serve::SHARED_IDLE_GRACE,
            false => std::time::Duration::ZERO,
        };
        serve::serve(self.listener, self.app, &limits, idle_grace, shutdown).await;
        stop.notify_one();
        forgetting.abort();
        let _ = delivery.await;
        // After the last request: a service stops with nothing in flight.
        if let Some(services) = self.services {
            services.stop().await;
        }
        Ok(())
    }
}
