//! PostgreSQL (RDS, Aurora PostgreSQL, or any server).
//!
//! A request's reads and writes go through `wire` (tokio-postgres, pipelined
//! on shared connections); migrations, seeds, grants and topics through a
//! sqlx pool. Migrations run in one transaction under an advisory lock, so
//! replicas starting together apply them once and DDL is all-or-nothing.

mod tls;
mod values;
mod wire;

pub use wire::{APPLICATION_NAME, REQUEST_SESSIONS};

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value as Json;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::Row as _;
use stackwright_stack::{ColumnType, Comparison, Table};
use time::OffsetDateTime;

use crate::engine::*;
use crate::migrate::SchemaSnapshot;
use crate::queue::Message;
use crate::shape::{Shape, Shaped, Tables};
use crate::sql::{self, Dialect, Param, Statement};
use crate::url::ServerUrl;

const D: Dialect = Dialect::Postgres;

pub struct PostgresEngine {
    pool: PgPool,
    wire: wire::Clients,
    tables: Tables<TableSql>,
}

struct TableSql {
    shape: Shape,
    /// `SELECT ... WHERE key = $1`.
    get: String,
}

impl Shaped for TableSql {
    fn shape(&self) -> &Shape {
        &self.shape
    }
}

impl PostgresEngine {
    pub async fn connect(url: &ServerUrl, settings: &super::PoolSettings) -> Result<Self> {
        let pool = settings;
        let mut options = connect_options(url, "postgres")?
            .application_name(wire::APPLICATION_NAME)
            .options([(
                "statement_timeout",
                format!("{}", pool.statement_timeout.as_millis()),
            )]);
        if let Some(p) = url.password_override() {
            options = options.password(p);
        }
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            .connect_with(options)
            .await
            .map_err(map_err)?;
        let wire = wire::Clients::new(url, settings)?;
        // One request-path connection now: a refused password or TLS mode
        // fails `up`, not the first request.
        wire.conn().await?;
        Ok(PostgresEngine {
            pool,
            wire,
            tables: Tables::default(),
        })
    }

    /// `table`'s shape and point read, as made the first time.
    fn table_sql(&self, table: &Table) -> Arc<TableSql> {
        self.tables.of(table, |shape| {
            let get = D.get(&shape, Param::Null(shape.key_ty)).sql;
            TableSql { shape, get }
        })
    }

    /// The row `st` returns, if any.
    async fn fetch_optional(&self, shape: &Shape, st: Statement) -> Result<Option<Row>> {
        self.fetch_row(shape, &st.sql, &st.params).await
    }

    async fn fetch_row(&self, shape: &Shape, sql: &str, params: &[Param]) -> Result<Option<Row>> {
        let conn = self.wire.conn().await?;
        conn.row(sql, params, |r| Ok(shape.row_of(values::values(r, shape)?)))
            .await
    }
}

/// A server URL's options; in clear on loopback unless a TLS mode is named
/// (see [`super::in_clear`]; `PGSSLMODE` names one too).
pub(super) fn connect_options(url: &ServerUrl, scheme: &str) -> Result<PgConnectOptions> {
    let text = url.connect_string();
    let options = PgConnectOptions::from_str(text)
        .map_err(|_| StorageError::UnsupportedUrl(format!("invalid {scheme}:// URL")))?;
    let env_names_mode = std::env::var_os("PGSSLMODE").is_some();
    Ok(clear_on_loopback(options, text, env_names_mode))
}

fn clear_on_loopback(
    options: PgConnectOptions,
    url: &str,
    env_names_mode: bool,
) -> PgConnectOptions {
    if env_names_mode || !super::in_clear(url, options.get_host()) {
        return options;
    }
    options.ssl_mode(sqlx::postgres::PgSslMode::Disable)
}

/// How a `json` column is held: JSONB, or (Redshift) its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum JsonAs {
    Jsonb,
    Text,
}

pub(super) type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind(q: PgQuery<'_>, p: Param, json: JsonAs) -> PgQuery<'_> {
    match p {
        Param::Null(ty) => match ty {
            ColumnType::Integer | ColumnType::BigInt => q.bind(None::<i64>),
            ColumnType::Float => q.bind(None::<f64>),
            ColumnType::Boolean => q.bind(None::<bool>),
            ColumnType::Timestamp => q.bind(None::<OffsetDateTime>),
            ColumnType::Json if json == JsonAs::Jsonb => q.bind(None::<Json>),
            ColumnType::Decimal { .. } => q.bind(None::<rust_decimal::Decimal>),
            ColumnType::Date => q.bind(None::<time::Date>),
            ColumnType::Uuid if json == JsonAs::Jsonb => q.bind(None::<uuid::Uuid>),
            ColumnType::Json | ColumnType::String { .. } | ColumnType::Text | ColumnType::Uuid => {
                q.bind(None::<String>)
            }
        },
        Param::Bool(b) => q.bind(b),
        Param::Int(i) => q.bind(i),
        Param::Float(f) => q.bind(f),
        Param::Text(s) => q.bind(s),
        Param::Json(j) => match json {
            JsonAs::Jsonb => q.bind(j),
            JsonAs::Text => q.bind(j.to_string()),
        },
        Param::Timestamp(t) => q.bind(t),
        Param::Decimal(d) => q.bind(rust_decimal::Decimal::new(d.units, u32::from(d.scale))),
        Param::Date(d) => q.bind(d),
        Param::Uuid(u) => match json {
            JsonAs::Jsonb => q.bind(u),
            JsonAs::Text => q.bind(u.to_string()),
        },
    }
}

/// Every parameter bound, `json` ones held as `json` says.
pub(super) fn bind_all_as(mut q: PgQuery<'_>, params: Vec<Param>, json: JsonAs) -> PgQuery<'_> {
    for p in params {
        q = bind(q, p, json);
    }
    q
}

fn bind_all(q: PgQuery<'_>, params: Vec<Param>) -> PgQuery<'_> {
    bind_all_as(q, params, JsonAs::Jsonb)
}

/// A row of `shape`, `json` columns read as `json` says they are held.
pub(super) fn read_as(row: &PgRow, shape: &Shape, json: JsonAs) -> Result<Row> {
    Ok(shape.row_of(values_as(row, shape, json)?))
}

/// A row's values, in the order of the shape's columns.
pub(super) fn values_as(row: &PgRow, shape: &Shape, json: JsonAs) -> Result<Vec<Json>> {
    let mut out = Vec::with_capacity(shape.columns.len());
    for (i, (name, ty)) in shape.columns.iter().enumerate() {
        let v = match ty {
            ColumnType::Integer => row.try_get::<Option<i32>, _>(i).map(|v| v.map(Json::from)),
            ColumnType::BigInt => row.try_get::<Option<i64>, _>(i).map(|v| v.map(Json::from)),
            ColumnType::Float => row.try_get::<Option<f64>, _>(i).map(|v| v.map(Json::from)),
            ColumnType::Boolean => row.try_get::<Option<bool>, _>(i).map(|v| v.map(Json::Bool)),
            ColumnType::String { .. } | ColumnType::Text => row
                .try_get::<Option<String>, _>(i)
                .map(|v| v.map(Json::String)),
            ColumnType::Timestamp => row
                .try_get::<Option<OffsetDateTime>, _>(i)
                .map(|v| v.map(sql::timestamp_json)),
            ColumnType::Decimal { .. } | ColumnType::Date => {
                Ok(super::decimal_or_date(row, i, *ty, map_err)?)
            }
            ColumnType::Uuid if json == JsonAs::Jsonb => row
                .try_get::<Option<uuid::Uuid>, _>(i)
                .map(|v| v.map(|u| Json::String(u.to_string()))),
            ColumnType::Uuid => row
                .try_get::<Option<String>, _>(i)
                .map(|v| v.map(Json::String)),
            ColumnType::Json if json == JsonAs::Jsonb => row.try_get::<Option<Json>, _>(i),
            ColumnType::Json => {
                let text = row.try_get::<Option<String>, _>(i).map_err(map_err)?;
                Ok(text
                    .map(|t| serde_json::from_str(&t))
                    .transpose()
                    .map_err(|e| StorageError::Internal(format!("{name}: {e}")))?)
            }
        }
        .map_err(map_err)?;
        out.push(v.unwrap_or(Json::Null));
    }
    Ok(out)
}

pub(crate) fn map_err(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &e {
        if let Some(mapped) = db.code().and_then(|c| by_sqlstate(&c, db.message())) {
            return mapped;
        }
    }
    super::map_common(e)
}

/// The engine's error for a PostgreSQL error code (SQLSTATE), when it is
/// one the API tells apart; both drivers' errors go through here.
pub(super) fn by_sqlstate(code: &str, message: &str) -> Option<StorageError> {
    Some(match code {
        "23505" => StorageError::Conflict,
        // Class 08: connection exceptions; 57P0x: the server is shutting down.
        c if c.starts_with("08") || c.starts_with("57P") => {
            StorageError::Unavailable(message.to_string())
        }
        // Serialization failure, deadlock.
        "40001" | "40P01" => StorageError::Contention(message.to_string()),
        // A string too long for its column; a value over a limit (an index
        // entry over a btree page's third).
        "22001" | "54000" => StorageError::TooLarge(message.to_string()),
        "57014" => StorageError::Unavailable("statement timed out".into()),
        _ => return None,
    })
}

#[async_trait]
impl Engine for PostgresEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Postgres
    }

    async fn ping(&self) -> Result<()> {
        self.wire.conn().await?.ping().await
    }

    async fn migrate(
        &self,
        target: &SchemaSnapshot,
        allow_destructive: bool,
    ) -> Result<MigrationOutcome> {
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // Held until commit: concurrent migrators run one after another.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('stackwright:migrate'))")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let outcome = {
            let conn: &mut sqlx::PgConnection = &mut tx;
            super::apply_migration!(conn, target, allow_destructive).await?
        };
        tx.commit().await.map_err(map_err)?;
        Ok(outcome)
    }

    async fn applied_schema(&self, stack: &str) -> Result<Option<SchemaSnapshot>> {
        super::applied_schema!(&self.pool, stack)
    }

    async fn grant_app_user(&self, user: &crate::grants::AppUser) -> Result<()> {
        let salt = uuid::Uuid::new_v4().into_bytes();
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        // One at a time: concurrent GRANTs on one object can fail ("tuple
        // concurrently updated").
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('stackwright:grant'))")
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        for statement in crate::grants::postgres(user, salt) {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *tx)
                .await
                .map_err(super::grant_failed)?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(())
    }

    async fn seed(&self, table: &Table, rows: Vec<SeedRow>) -> Result<SeedOutcome> {
        super::seed_rows!(self.pool, table, rows).await
    }

    async fn get(&self, table: &Table, key: &Json) -> Result<Option<Row>> {
        let made = self.table_sql(table);
        let key = [made.shape.key_param(key)?];
        self.fetch_row(&made.shape, &made.get, &key).await
    }

    async fn get_page(&self, table: &Table, key: &Json) -> Result<Option<Page>> {
        let made = self.table_sql(table);
        let shape = &made.shape;
        let key = [shape.key_param(key)?];
        let conn = self.wire.conn().await?;
        let mut cells = Cells::new(shape.columns.len(), 1);
        conn.each_row(&made.get, &key, |r| values::encode(r, shape, &mut cells))
            .await?;
        Ok(match cells.rows() {
            0 => None,
            _ => Some(Page::cut(shape.names(), cells, 1, &[])?),
        })
    }

    async fn list(&self, table: &Table, query: &ListQuery<'_>) -> Result<Page> {
        let made = self.table_sql(table);
        let shape = &made.shape;
        // One more row than the page shows says whether another follows.
        let st = D.list(table, shape, query, query.limit + 1)?;
        let capacity = query.limit.saturating_add(1).min(1024) as usize;
        let conn = self.wire.conn().await?;
        let mut cells = Cells::new(shape.columns.len(), capacity);
        conn.each_row(&st.sql, &st.params, |r| {
            values::encode(r, shape, &mut cells)
        })
        .await?;
        Page::cut(shape.names(), cells, query.limit, query.order_by)
    }

    async fn count(&self, table: &Table, query: &ListQuery<'_>) -> Result<u64> {
        let st = D.count(table, &self.table_sql(table).shape, query)?;
        let conn = self.wire.conn().await?;
        let n = conn.row(&st.sql, &st.params, |r| {
            r.try_get::<_, i64>(0)
                .map_err(|e| StorageError::Internal(format!("COUNT(*): {e}")))
        });
        Ok(n.await?.unwrap_or(0).max(0) as u64)
    }

    async fn insert(&self, table: &Table, row: Row) -> Result<Row> {
        let made = self.table_sql(table);
        let shape = &made.shape;
        let st = D.insert(shape, shape.insert_values(&row)?, false);
        self.fetch_optional(shape, st)
            .await?
            .ok_or_else(|| StorageError::Internal("INSERT returned no row".into()))
    }

    async fn update_where(
        &self,
        table: &Table,
        key: &Json,
        changes: &[Assignment],
        condition: &[Comparison],
    ) -> Result<Option<Row>> {
        let made = self.table_sql(table);
        let shape = &made.shape;
        let (sets, increments) = shape.assignments(changes)?;
        let st = if sets.is_empty() && increments.is_empty() {
            D.get_where((table, shape), shape.key_param(key)?, condition)?
        } else {
            D.update(
                (table, shape),
                sets,
                &increments,
                shape.key_param(key)?,
                condition,
            )?
        };
        let row = self.fetch_optional(shape, st).await?;
        updated(self, (table, key), condition, row).await
    }

    async fn delete_where(
        &self,
        table: &Table,
        key: &Json,
        condition: &[Comparison],
    ) -> Result<bool> {
        let made = self.table_sql(table);
        let shape = &made.shape;
        let st = D.delete((table, shape), shape.key_param(key)?, condition)?;
        let done = self.wire.conn().await?.execute(&st.sql, &st.params).await?;
        deleted(self, (table, key), condition, done).await
    }

    fn queue(&self) -> Option<&dyn Queue> {
        Some(self)
    }
}

crate::sqlx_engines::queue::sqlx_queue!(PostgresEngine);

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::postgres::PgSslMode;

    /// The mode for `url`, and the mode the driver alone would choose.
    fn modes(url: &str, env_names_mode: bool) -> (PgSslMode, PgSslMode) {
        let parsed = PgConnectOptions::from_str(url).unwrap();
        let driver = parsed.get_ssl_mode();
        (
            clear_on_loopback(parsed, url, env_names_mode).get_ssl_mode(),
            driver,
        )
    }

    #[test]
    fn loopback_is_spoken_to_in_clear_unless_a_mode_is_named() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/test",
            "postgres://postgres@localhost/test",
            "postgres://postgres@[::1]:5432/test",
            "postgres://postgres@127.0.0.2/test",
        ] {
            assert!(matches!(modes(url, false).0, PgSslMode::Disable), "{url}");
            // PGSSLMODE names a mode: the driver's stands.
            let (mode, driver) = modes(url, true);
            assert_eq!(format!("{mode:?}"), format!("{driver:?}"), "{url}");
        }
        let (mode, _) = modes("postgres://postgres@127.0.0.1/test?sslmode=require", false);
        assert!(matches!(mode, PgSslMode::Require));
        for url in [
            "postgres://app@db.example.com/shop",
            "postgres://app@10.0.0.5/shop",
        ] {
            let (mode, driver) = modes(url, false);
            assert!(!matches!(mode, PgSslMode::Disable), "{url}");
            assert_eq!(format!("{mode:?}"), format!("{driver:?}"), "{url}");
        }
    }
}
