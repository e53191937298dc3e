//! PostgreSQL's request path: reads and writes of single requests, on a few
//! tokio-postgres connections that every request shares.
//!
//! Why not sqlx here: sqlx runs one statement per connection at a time, so
//! each request was a round trip on a connection of its own, and the
//! server's backends woke once per statement. tokio-postgres pipelines: the
//! statements of concurrent requests go out together on one connection and
//! their results come back together. On the 2-core bench machine that took
//! a GET by key from about a third of a hand-written tokio-postgres
//! server's rate to most of it (bench/http/ANALYSIS.md). Migrations, seeds,
//! grants and topics stay on sqlx: they need transactions and locks, which
//! a shared connection cannot hold for one caller.
//!
//! Each connection keeps its own prepared statements, declared with the
//! parameter types sqlx declared ([`super::values::declared`]). A connection
//! the server or the network closed is opened again by a later request;
//! requests in flight on it answer 503.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Statement};

use super::tls::{Check, Tls};
use super::values::{declared, Arg};
use crate::engine::{Result, StorageError};
use crate::sql::Param;
use crate::url::ServerUrl;
use crate::PoolSettings;

/// Connections per core: enough that one slow statement (a 1,000-row page)
/// holds up few others, few enough that statements still share round trips.
const CONNECTIONS_PER_CORE: usize = 2;

/// Requests that share a connection before another is opened: enough to
/// pipeline, few enough that one slow statement holds up little.
const SHARE_BEFORE_OPENING: usize = 4;

/// Prepared statements a connection keeps; past this it starts over (a
/// stack has a bounded set of statements, so this is rarely reached).
const STATEMENTS: usize = 1024;

/// The name the runtime's sessions carry (`pg_stat_activity`): its pool
/// for migrations, seeds and topics.
pub const APPLICATION_NAME: &str = "stackwright";
/// The name its request-path sessions carry.
pub const REQUEST_SESSIONS: &str = "stackwright-requests";

pub(super) struct Clients {
    config: tokio_postgres::Config,
    tls: Option<Tls>,
    slots: Box<[Slot]>,
    next: AtomicUsize,
    connect_timeout: Duration,
}

#[derive(Default)]
struct Slot {
    current: Mutex<Option<Arc<Conn>>>,
    /// One reconnection per slot at a time.
    connecting: tokio::sync::Mutex<()>,
}

impl Slot {
    fn live(&self) -> Option<Arc<Conn>> {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        current.as_ref().filter(|c| !c.client.is_closed()).cloned()
    }
}

/// Prepared statements by their text, with the parameter types each was
/// prepared with.
type Prepared = HashMap<Box<str>, (Box<[Type]>, Statement)>;

/// One connection and its prepared statements.
pub(super) struct Conn {
    client: Client,
    statements: Mutex<Prepared>,
}

impl Clients {
    pub(super) fn new(url: &ServerUrl, settings: &PoolSettings) -> Result<Self> {
        let (config, tls) = config(url, settings)?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let count = (cores * CONNECTIONS_PER_CORE)
            .min(settings.max_connections as usize)
            .max(1);
        Ok(Clients {
            config,
            tls,
            slots: (0..count).map(|_| Slot::default()).collect(),
            next: AtomicUsize::new(0),
            connect_timeout: settings.acquire_timeout,
        })
    }

    /// The least-shared open connection. Another is opened (or a closed
    /// one opened again) only when every open one is shared by
    /// [`SHARE_BEFORE_OPENING`] requests, so a replica serving one request
    /// at a time (a Lambda function) holds one connection, not one per
    /// slot.
    pub(super) async fn conn(&self) -> Result<Arc<Conn>> {
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let mut least: Option<Arc<Conn>> = None;
        let mut closed = None;
        for k in 0..self.slots.len() {
            let i = (start + k) % self.slots.len();
            match self.slots[i].live() {
                Some(conn) => {
                    if least
                        .as_ref()
                        .is_none_or(|l| Arc::strong_count(&conn) < Arc::strong_count(l))
                    {
                        least = Some(conn);
                    }
                }
                None => closed = closed.or(Some(i)),
            }
        }
        // Held by its slot, by `least`, and by the requests using it.
        let sharing = |c: &Arc<Conn>| Arc::strong_count(c).saturating_sub(2);
        match (least, closed) {
            (Some(conn), Some(_)) if sharing(&conn) < SHARE_BEFORE_OPENING => Ok(conn),
            (Some(conn), None) => Ok(conn),
            (_, Some(i)) => self.open(&self.slots[i]).await,
            (None, None) => unreachable!("a slot is either open or closed"),
        }
    }

    /// `slot`'s connection, opened unless another request just did.
    async fn open(&self, slot: &Slot) -> Result<Arc<Conn>> {
        let _one = slot.connecting.lock().await;
        if let Some(conn) = slot.live() {
            return Ok(conn);
        }
        let fresh = Arc::new(self.connect().await?);
        *slot.current.lock().unwrap_or_else(PoisonError::into_inner) = Some(fresh.clone());
        Ok(fresh)
    }

    async fn connect(&self) -> Result<Conn> {
        let connecting = async {
            let client = match &self.tls {
                None => {
                    let (client, connection) = self.config.connect(NoTls).await?;
                    tokio::spawn(drive(connection));
                    client
                }
                Some(tls) => {
                    let (client, connection) = self.config.connect(tls.clone()).await?;
                    tokio::spawn(drive(connection));
                    client
                }
            };
            Ok::<_, tokio_postgres::Error>(client)
        };
        let client = tokio::time::timeout(self.connect_timeout, connecting)
            .await
            .map_err(|_| StorageError::Unavailable("timed out connecting to the database".into()))?
            .map_err(map_err)?;
        Ok(Conn {
            client,
            statements: Mutex::default(),
        })
    }
}

/// Runs a connection's I/O until it closes; its requests see the error.
async fn drive<F: std::future::Future<Output = std::result::Result<(), tokio_postgres::Error>>>(
    connection: F,
) {
    if let Err(e) = connection.await {
        tracing::debug!("database connection closed: {e}");
    }
}

impl Conn {
    /// `sql` prepared on this connection (once per text and parameter types).
    async fn prepared(&self, sql: &str, params: &[Param]) -> Result<Statement> {
        let same = |types: &[Type]| {
            types.len() == params.len() && types.iter().zip(params).all(|(t, p)| *t == declared(p))
        };
        {
            let cache = self
                .statements
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some((types, prepared)) = cache.get(sql) {
                if same(types) {
                    return Ok(prepared.clone());
                }
            }
        }
        let types: Box<[Type]> = params.iter().map(declared).collect();
        let prepared = self
            .client
            .prepare_typed(sql, &types)
            .await
            .map_err(|e| self.failed(e))?;
        let mut cache = self
            .statements
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= STATEMENTS {
            cache.clear();
        }
        cache.insert(sql.into(), (types, prepared.clone()));
        Ok(prepared)
    }

    /// Every row of `sql`, each turned into `T` as it arrives, so a large
    /// page is never held twice.
    pub(super) async fn rows<T>(
        &self,
        sql: &str,
        params: &[Param],
        mut each: impl FnMut(&tokio_postgres::Row) -> Result<T>,
        capacity: usize,
    ) -> Result<Vec<T>> {
        let mut out = Vec::with_capacity(capacity);
        self.each_row(sql, params, |row| {
            out.push(each(row)?);
            Ok(())
        })
        .await?;
        Ok(out)
    }

    /// Each row of `sql`, handed to `each` as the driver receives it.
    pub(super) async fn each_row(
        &self,
        sql: &str,
        params: &[Param],
        mut each: impl FnMut(&tokio_postgres::Row) -> Result<()>,
    ) -> Result<()> {
        let prepared = self.prepared(sql, params).await?;
        let stream = self
            .client
            .query_raw(&prepared, params.iter().map(Arg))
            .await
            .map_err(|e| self.failed(e))?;
        let mut stream = std::pin::pin!(stream);
        while let Some(row) =
            std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx)).await
        {
            each(&row.map_err(|e| self.failed(e))?)?;
        }
        Ok(())
    }

    /// The first row of `sql`, if any.
    pub(super) async fn row<T>(
        &self,
        sql: &str,
        params: &[Param],
        each: impl FnMut(&tokio_postgres::Row) -> Result<T>,
    ) -> Result<Option<T>> {
        Ok(self.rows(sql, params, each, 1).await?.into_iter().next())
    }

    /// The number of rows `sql` changed.
    pub(super) async fn execute(&self, sql: &str, params: &[Param]) -> Result<u64> {
        let prepared = self.prepared(sql, params).await?;
        self.client
            .execute_raw(&prepared, params.iter().map(Arg))
            .await
            .map_err(|e| self.failed(e))
    }

    pub(super) async fn ping(&self) -> Result<()> {
        self.client.batch_execute("SELECT 1").await.map_err(map_err)
    }

    /// A statement's error; a schema changed under the prepared statements
    /// (a migration by another process) makes them be prepared again.
    fn failed(&self, e: tokio_postgres::Error) -> StorageError {
        // 0A000: "cached plan must not change result type"; 26000: no such
        // prepared statement; 42P01/42703: a table or column gone.
        let stale = e
            .code()
            .is_some_and(|c| matches!(c.code(), "0A000" | "26000" | "42P01" | "42703"));
        if stale {
            self.statements
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clear();
        }
        map_err(e)
    }
}

/// A database error as the engine reports it; a closed or broken
/// connection is unavailable, as with sqlx.
pub(super) fn map_err(e: tokio_postgres::Error) -> StorageError {
    if let Some(db) = e.as_db_error() {
        return super::by_sqlstate(db.code().code(), db.message())
            .unwrap_or_else(|| StorageError::Internal(db.message().to_string()));
    }
    let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
    if e.is_closed() || io {
        return StorageError::Unavailable(format!("database connection: {e}"));
    }
    StorageError::Internal(e.to_string())
}

/// The connection settings sqlx reads from the URL and the environment
/// (`PGHOST`, `PGUSER`, `PGPASSWORD`, `PGSSLMODE`, ...), for tokio-postgres.
fn config(
    url: &ServerUrl,
    settings: &PoolSettings,
) -> Result<(tokio_postgres::Config, Option<Tls>)> {
    let options = super::connect_options(url, "postgres")?;
    let mut config = tokio_postgres::Config::new();
    match options.get_socket() {
        Some(dir) => config.host_path(dir),
        None => config.host(options.get_host()),
    };
    let timeout = format!(
        "-c statement_timeout={}",
        settings.statement_timeout.as_millis()
    );
    config
        .port(options.get_port())
        .user(options.get_username())
        .application_name(REQUEST_SESSIONS)
        .options(match options.get_options() {
            Some(theirs) => format!("{theirs} {timeout}"),
            None => timeout,
        })
        .connect_timeout(settings.acquire_timeout)
        .keepalives(true);
    if let Some(db) = options.get_database() {
        config.dbname(db);
    }
    if let Some(password) = password(url) {
        config.password(password);
    }
    use sqlx::postgres::PgSslMode as Mode;
    let (mode, check) = match options.get_ssl_mode() {
        Mode::Disable => (tokio_postgres::config::SslMode::Disable, None),
        Mode::Allow | Mode::Prefer => (
            tokio_postgres::config::SslMode::Prefer,
            Some(Check::Nothing),
        ),
        Mode::Require => (
            tokio_postgres::config::SslMode::Require,
            Some(Check::Nothing),
        ),
        Mode::VerifyCa => (tokio_postgres::config::SslMode::Require, Some(Check::Chain)),
        Mode::VerifyFull => (tokio_postgres::config::SslMode::Require, Some(Check::Full)),
    };
    config.ssl_mode(mode);
    let tls = check
        .map(|check| Tls::new(check, root_cert(url).as_deref()))
        .transpose()?;
    Ok((config, tls))
}

/// The password given apart, else the URL's, else `PGPASSWORD`.
fn password(url: &ServerUrl) -> Option<String> {
    if let Some(p) = url.password_override() {
        return Some(p.to_string());
    }
    // The URL without its query: tokio-postgres refuses options it does
    // not know (sqlx's `sslrootcert`, ...), and the password is before it.
    let bare = url.connect_string().split('?').next().unwrap_or_default();
    let parsed: Option<tokio_postgres::Config> = bare.parse().ok();
    parsed
        .and_then(|c| {
            c.get_password()
                .map(|p| String::from_utf8_lossy(p).into_owned())
        })
        .or_else(|| std::env::var("PGPASSWORD").ok())
}

/// The CA file the URL's `sslrootcert` (or `PGSSLROOTCERT`) names.
fn root_cert(url: &ServerUrl) -> Option<PathBuf> {
    let query = url.connect_string().split_once('?').map(|(_, q)| q)?;
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).ok()?;
    pairs
        .into_iter()
        .find(|(name, _)| name == "sslrootcert" || name == "ssl-root-cert")
        .map(|(_, path)| PathBuf::from(path))
        .or_else(|| std::env::var_os("PGSSLROOTCERT").map(PathBuf::from))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(url: crate::DatabaseUrl) -> ServerUrl {
        match url {
            crate::DatabaseUrl::Postgres(u) => u,
            _ => unreachable!(),
        }
    }

    fn url(text: &str) -> ServerUrl {
        server(text.parse().unwrap())
    }

    #[test]
    fn the_password_comes_apart_or_from_the_url_decoded() {
        let given = url("postgres://app:p%40ss@db/shop?sslmode=require&sslrootcert=/ca.pem");
        assert_eq!(password(&given).as_deref(), Some("p@ss"));
        assert_eq!(root_cert(&given), Some(PathBuf::from("/ca.pem")));
        let parsed: crate::DatabaseUrl = "postgres://app:old@db/shop".parse().unwrap();
        let apart = server(parsed.with_password("new".into()).unwrap());
        assert_eq!(password(&apart).as_deref(), Some("new"));
    }

    #[test]
    fn tls_unless_the_url_or_loopback_says_clear() {
        let settings = PoolSettings::default();
        for (text, tls) in [
            ("postgres://u@127.0.0.1/db", None),
            ("postgres://u@db.example.com/db?sslmode=disable", None),
            ("postgres://u@127.0.0.1/db?sslmode=require", Some(())),
            (
                "postgres://u@db.example.com/db?sslmode=verify-full",
                Some(()),
            ),
        ] {
            let (_, made) = config(&url(text), &settings).unwrap();
            assert_eq!(made.map(|_| ()), tls, "{text}");
        }
    }
}
