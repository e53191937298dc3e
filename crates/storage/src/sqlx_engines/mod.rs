//! The engines on a database server, through sqlx: PostgreSQL,
//! MySQL/MariaDB and Redshift. What they share is here: pool settings, row values,
//! paging, migration planning, error mapping, and (in `queue`) topic
//! delivery.

use std::time::Duration;

use serde_json::Value as Json;

use crate::engine::*;
use crate::migrate::{self, Plan, SchemaSnapshot};
use crate::shape::Shape;
use crate::sql::{self, Dialect, MigrationSql, Param};

pub mod mysql;
pub mod postgres;
pub(crate) mod publish;
pub(crate) mod queue;
pub mod redshift;

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
            Ok(text) => $crate::sqlx_engines::parse_snapshot(text),
            Err(e) if $crate::sqlx_engines::is_missing_table(&e) => Ok(None),
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
            let current = $crate::sqlx_engines::parse_snapshot(current)?;
            let Some((plan, statements)) =
                $crate::sqlx_engines::plan(D, current.as_ref(), $target, $allow_destructive)?
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
                result.map_err(|e| $crate::sqlx_engines::migration_error(&st, e))?;
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

/// Insert the seed rows not applied before, in one transaction. Each is
/// claimed first: a concurrent seeder blocks on the claim until this
/// transaction ends, then finds it taken. A row a user created with the
/// same key wins over the seed. Expects `D`, `map_err` and `bind_all` in
/// scope; evaluates to a future.
macro_rules! seed_rows {
    ($pool:expr, $table:expr, $rows:expr) => {
        async {
            use sqlx::AssertSqlSafe;
            let shape = $crate::shape::Shape::of($table);
            let mut tx = $pool.begin().await.map_err(map_err)?;
            let mut outcome = $crate::engine::SeedOutcome {
                table: $table.name.clone(),
                ..Default::default()
            };
            for seed in $rows {
                let claimed = sqlx::query(D.claim_seed())
                    .bind(&$table.name)
                    .bind(&seed.identity)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected()
                    == 1;
                if !claimed {
                    outcome.already_applied += 1;
                    continue;
                }
                let st = D.insert(&shape, shape.insert_values(&seed.row)?, true);
                let done = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                outcome.inserted += usize::from(done.rows_affected() == 1);
            }
            tx.commit().await.map_err(map_err)?;
            Ok::<_, $crate::engine::StorageError>(outcome)
        }
    };
}
pub(crate) use seed_rows;

/// `Engine::list` on a sqlx engine: one page, each row's values read by
/// `$read`. Expects `D`, `map_err` and `bind_all` in scope; evaluates to a
/// future.
macro_rules! list_rows {
    ($pool:expr, $table:expr, $query:expr, $read:expr) => {
        async {
            use sqlx::AssertSqlSafe;
            let shape = $crate::shape::Shape::of($table);
            // One more row than the page shows says whether another follows.
            let st = D.list($table, &shape, $query, $query.limit + 1)?;
            // Each row is read as the driver receives it, so a large page
            // is never held twice (the driver's rows, then their values).
            let mut stream = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params).fetch(&$pool);
            let hint = $query.limit.saturating_add(1).min(1024) as usize;
            let mut cells = $crate::engine::Cells::new(shape.columns.len(), hint);
            while let Some(row) =
                std::future::poll_fn(|cx| futures_core::Stream::poll_next(stream.as_mut(), cx))
                    .await
            {
                cells.push_row(&$read(&row.map_err(map_err)?, &shape)?)?;
            }
            $crate::engine::Page::cut(shape.names(), cells, $query.limit, $query.order_by)
        }
    };
}
pub(crate) use list_rows;

/// `Engine::count` on a sqlx engine: one `SELECT COUNT(*)` with the list's
/// filters and bounds. Expects `D`, `map_err` and `bind_all` in scope;
/// evaluates to a future.
macro_rules! count_rows {
    ($pool:expr, $table:expr, $query:expr) => {
        async {
            use sqlx::{AssertSqlSafe, Row as _};
            let st = D.count($table, &$crate::shape::Shape::of($table), $query)?;
            let row = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
                .fetch_one(&$pool)
                .await
                .map_err(map_err)?;
            let n: i64 = row.try_get(0).map_err(map_err)?;
            Ok::<u64, $crate::engine::StorageError>(n.max(0) as u64)
        }
    };
}
pub(crate) use count_rows;

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

/// Whether to speak to the server of `url` (at `host`) in clear: when it is
/// on a loopback address and the URL names no TLS mode (`sslmode`,
/// `ssl-mode`). TLS there protects nothing (whoever can read loopback
/// traffic can read the server's memory) and cost about a fifth of the rate
/// of small requests on PostgreSQL (bench/http). Anywhere else the driver's
/// default stands (TLS when the server offers it), and the deployed stacks
/// name their mode.
pub(super) fn in_clear(url: &str, host: &str) -> bool {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let mode_named = query.split('&').any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(n, _)| n);
        matches!(name, "sslmode" | "ssl-mode")
    });
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    loopback && !mode_named
}

/// A `decimal` or `date` column's value: both drivers decode them to the
/// same Rust types.
pub(super) fn decimal_or_date<'r, R>(
    row: &'r R,
    i: usize,
    ty: stackwright_stack::ColumnType,
    map_err: fn(sqlx::Error) -> StorageError,
) -> Result<Option<Json>>
where
    R: sqlx::Row,
    usize: sqlx::ColumnIndex<R>,
    rust_decimal::Decimal: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    time::Date: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    if let stackwright_stack::ColumnType::Date = ty {
        let d = row.try_get::<Option<time::Date>, _>(i).map_err(map_err)?;
        return Ok(d.map(sql::date_json));
    }
    row.try_get::<Option<rust_decimal::Decimal>, _>(i)
        .map_err(map_err)?
        .map(|d| decimal_json(ty, d))
        .transpose()
}

/// A NUMERIC or DECIMAL as the API shows it, at the column's scale.
pub(super) fn decimal_json(
    ty: stackwright_stack::ColumnType,
    d: rust_decimal::Decimal,
) -> Result<Json> {
    let units = i64::try_from(d.mantissa())
        .map_err(|_| StorageError::Internal(format!("decimal {d} is past 18 digits")))?;
    sql::decimal_json(ty, units, d.scale())
}

/// Column values to set, and columns to increment, of one update.
pub(crate) type Assignments<'a> = (Vec<(&'a str, Param)>, Vec<(&'a str, i64)>);

impl Shape {
    pub fn key_param(&self, key: &Json) -> Result<Param> {
        sql::param(self.key_ty, key)
    }

    /// Column values for an INSERT; a generated string key gets a UUID here.
    pub fn insert_values<'a>(&'a self, row: &'a Row) -> Result<Vec<(&'a str, Param)>> {
        let mut values = Vec::with_capacity(row.len() + 1);
        if self.generates_uuid(row) {
            let key = Json::String(uuid::Uuid::new_v4().to_string());
            values.push((self.key.as_str(), sql::param(self.key_ty, &key)?));
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

/// A failed grant, told by the database's message alone: never the
/// statement, which holds the password (or its verifier).
pub fn grant_failed(e: sqlx::Error) -> StorageError {
    let why = match e.as_database_error() {
        Some(db) => db.message().to_string(),
        None => e.to_string(),
    };
    StorageError::Migration(format!("granting the app user: {why}"))
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

#[cfg(test)]
mod tests {
    #[test]
    fn only_loopback_without_a_named_mode_is_in_clear() {
        for (url, host) in [
            ("mysql://root@127.0.0.1:3306/test", "127.0.0.1"),
            ("mysql://root@localhost/test", "localhost"),
            ("postgres://u@[::1]/db?application_name=x", "::1"),
        ] {
            assert!(super::in_clear(url, host), "{url}");
        }
        for (url, host) in [
            ("mysql://root@127.0.0.1/test?ssl-mode=required", "127.0.0.1"),
            ("mysql://root@127.0.0.1/test?sslmode=required", "127.0.0.1"),
            (
                "postgres://u@127.0.0.1/db?x=1&sslmode=verify-full",
                "127.0.0.1",
            ),
            ("mysql://app@db.example.com/shop", "db.example.com"),
            ("postgres://app@10.0.0.5/shop", "10.0.0.5"),
            // A name that merely starts like a loopback address.
            (
                "postgres://app@127.0.0.1.example.com/shop",
                "127.0.0.1.example.com",
            ),
        ] {
            assert!(!super::in_clear(url, host), "{url}");
        }
    }
}
