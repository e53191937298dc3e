//! What the server engines (PostgreSQL, MySQL/MariaDB) share: pool
//! settings, row shapes, paging, migration planning and error mapping.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::Value as Json;
use stackwright_stack::{ColumnType, Table};

use crate::engine::*;
use crate::migrate::{self, Plan, SchemaSnapshot};
use crate::sql::{self, Dialect, MigrationSql, Param};

pub(crate) mod queue;

/// The schema the stack's last migration recorded (None before the first,
/// or before the bookkeeping table exists), read without changing anything.
macro_rules! applied_schema {
    ($pool:expr, $stack:expr) => {{
        use sqlx::AssertSqlSafe;
        let current: std::result::Result<Option<String>, sqlx::Error> =
            sqlx::query_scalar(AssertSqlSafe(D.latest_schema()))
                .bind($stack)
                .fetch_optional($pool)
                .await;
        match current {
            Ok(text) => $crate::server::parse_snapshot(text),
            Err(e) if $crate::server::is_missing_table(&e) => Ok(None),
            Err(e) => Err(map_err(e)),
        }
    }};
}
pub(crate) use applied_schema;

/// The error of a query on a table that does not exist.
pub fn is_missing_table(e: &sqlx::Error) -> bool {
    // PostgreSQL 42P01 undefined_table; MySQL 1146 ER_NO_SUCH_TABLE.
    e.as_database_error()
        .and_then(|d| d.code())
        .is_some_and(|c| c == "42P01" || c == "1146" || c == "42S02")
}

/// The migration sequence both SQL server engines run on one connection:
/// create the bookkeeping tables, read the stack's last snapshot, plan,
/// run the statements, record the migration. Locking and transactions stay
/// with each engine. A macro rather than a generic function because sqlx's
/// executor bounds differ per driver; it expects `D` (the dialect) and
/// `map_err` in scope where it is used, and evaluates to a future.
macro_rules! apply_migration {
    ($conn:ident, $target:expr, $allow_destructive:expr) => {
        async {
            use sqlx::AssertSqlSafe;
            for ddl in D.internal_tables().iter().chain(D.queue_tables()) {
                sqlx::query(*ddl)
                    .execute(&mut *$conn)
                    .await
                    .map_err(map_err)?;
            }
            let current: Option<String> = sqlx::query_scalar(AssertSqlSafe(D.latest_schema()))
                .bind(&$target.stack)
                .fetch_optional(&mut *$conn)
                .await
                .map_err(map_err)?;
            let current = $crate::server::parse_snapshot(current)?;
            let Some((plan, statements)) =
                $crate::server::plan(D, current.as_ref(), $target, $allow_destructive)?
            else {
                return Ok($crate::engine::MigrationOutcome::default());
            };
            for st in statements {
                let result = match &st {
                    $crate::sql::MigrationSql::Ddl(ddl) => {
                        sqlx::query(AssertSqlSafe(ddl.clone()))
                            .execute(&mut *$conn)
                            .await
                    }
                    $crate::sql::MigrationSql::ForgetSeeds(table) => {
                        sqlx::query(D.forget_seeds())
                            .bind(table)
                            .execute(&mut *$conn)
                            .await
                    }
                };
                result.map_err(|e| $crate::server::migration_error(&st, e))?;
            }
            let version: i64 = sqlx::query_scalar(AssertSqlSafe(D.next_version()))
                .bind(&$target.stack)
                .fetch_one(&mut *$conn)
                .await
                .map_err(map_err)?;
            let summary: Vec<String> = plan
                .steps
                .iter()
                .map($crate::migrate::Step::describe)
                .collect();
            sqlx::query(AssertSqlSafe(D.record_migration()))
                .bind(&$target.stack)
                .bind(version)
                .bind(summary.join("\n"))
                .bind(serde_json::to_string($target).expect("schema serializes"))
                .execute(&mut *$conn)
                .await
                .map_err(map_err)?;
            Ok::<_, $crate::engine::StorageError>($crate::engine::MigrationOutcome {
                version: Some(version),
                applied: summary,
            })
        }
    };
}
pub(crate) use apply_migration;

/// Bounds on a connection pool: a request never waits forever for the database.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    pub acquire_timeout: Duration,
    /// How long one statement may run.
    pub statement_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        PoolSettings {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(3),
            statement_timeout: Duration::from_secs(15),
        }
    }
}

/// Column values to set, and columns to increment, of one update.
pub(crate) type Assignments<'a> = (Vec<(&'a str, Param)>, Vec<(&'a str, i64)>);

/// A table's columns, owned.
pub(crate) struct Shape {
    pub table: String,
    pub key: String,
    pub key_ty: ColumnType,
    pub generated_key: bool,
    pub columns: Vec<(String, ColumnType)>,
}

impl Shape {
    pub fn of(t: &Table) -> Self {
        Shape {
            table: t.name.clone(),
            key: t.key.clone(),
            key_ty: t.key_column().ty,
            generated_key: t.key_column().generated,
            columns: t.columns.values().map(|c| (c.name.clone(), c.ty)).collect(),
        }
    }

    pub fn sql(&self) -> sql::Shape<'_> {
        sql::Shape {
            table: &self.table,
            key: &self.key,
            columns: self.columns.iter().map(|(c, t)| (c.as_str(), *t)).collect(),
        }
    }

    fn ty(&self, column: &str) -> Result<ColumnType> {
        self.columns
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, t)| *t)
            .ok_or_else(|| StorageError::Internal(format!("unknown column {column}")))
    }

    pub fn key_param(&self, key: &Json) -> Result<Param> {
        sql::param(self.key_ty, key)
    }

    /// Whether the database assigns the key (auto-increment / identity).
    pub fn database_generates_key(&self, row: &Row) -> bool {
        self.generated_key && self.key_ty.is_integer() && !row.contains_key(&self.key)
    }

    /// Column values for an INSERT; a generated string key gets a UUID here.
    pub fn insert_values<'a>(&'a self, row: &'a Row) -> Result<Vec<(&'a str, Param)>> {
        let mut values = Vec::with_capacity(row.len() + 1);
        if self.generated_key && !self.key_ty.is_integer() && !row.contains_key(&self.key) {
            values.push((
                self.key.as_str(),
                Param::Text(uuid::Uuid::new_v4().to_string()),
            ));
        }
        for (name, v) in row {
            values.push((name.as_str(), sql::param(self.ty(name)?, v)?));
        }
        Ok(values)
    }

    pub fn assignments<'a>(&self, changes: &'a [Assignment]) -> Result<Assignments<'a>> {
        let mut sets = Vec::new();
        let mut increments = Vec::new();
        for c in changes {
            match c {
                Assignment::Set(column, v) => {
                    sets.push((column.as_str(), sql::param(self.ty(column)?, v)?))
                }
                Assignment::Increment(column, by) => increments.push((column.as_str(), *by)),
            }
        }
        Ok((sets, increments))
    }
}

pub fn decode_cursor(cursor: &str) -> Result<u64> {
    let bytes = URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| StorageError::BadCursor)?;
    std::str::from_utf8(&bytes)
        .ok()
        .and_then(|s| s.strip_prefix("o:"))
        .and_then(|n| n.parse().ok())
        .ok_or(StorageError::BadCursor)
}

pub fn encode_cursor(offset: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("o:{offset}"))
}

/// A page from `limit + 1` fetched rows: the extra row only says more follow.
pub fn page(mut rows: Vec<Row>, limit: u32, offset: u64) -> Page {
    let more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    Page {
        next_cursor: more.then(|| encode_cursor(offset + u64::from(limit))),
        rows,
    }
}

pub fn parse_snapshot(text: Option<String>) -> Result<Option<SchemaSnapshot>> {
    migrate::recorded(text.as_deref())
}

/// The plan and its statements, None when there is nothing to do.
pub fn plan(
    dialect: Dialect,
    current: Option<&SchemaSnapshot>,
    target: &SchemaSnapshot,
    allow_destructive: bool,
) -> Result<Option<(Plan, Vec<MigrationSql>)>> {
    let Some(plan) = migrate::checked_plan(current, target, allow_destructive)? else {
        return Ok(None);
    };
    let empty = SchemaSnapshot::default();
    let statements = sql::migration_statements(dialect, &plan, current.unwrap_or(&empty), target)?;
    Ok(Some((plan, statements)))
}

pub fn migration_error(st: &MigrationSql, e: sqlx::Error) -> StorageError {
    match (st, map_common(e)) {
        (_, StorageError::Unavailable(why)) => StorageError::Unavailable(why),
        (MigrationSql::Ddl(ddl), other) => StorageError::Migration(format!("{ddl}: {other}")),
        (MigrationSql::ForgetSeeds(_), other) => other,
    }
}

/// Errors every sqlx driver reports alike.
pub fn map_common(e: sqlx::Error) -> StorageError {
    match e {
        sqlx::Error::PoolTimedOut => {
            StorageError::Unavailable("timed out waiting for a database connection".into())
        }
        sqlx::Error::PoolClosed => StorageError::Unavailable("connection pool closed".into()),
        sqlx::Error::Io(e) => StorageError::Unavailable(format!("database connection: {e}")),
        sqlx::Error::Tls(e) => StorageError::Unavailable(format!("database TLS: {e}")),
        sqlx::Error::Protocol(e) => StorageError::Unavailable(format!("database protocol: {e}")),
        sqlx::Error::Database(db) if db.is_unique_violation() => StorageError::Conflict,
        sqlx::Error::Database(db) => StorageError::Internal(db.message().to_string()),
        other => StorageError::Internal(other.to_string()),
    }
}
