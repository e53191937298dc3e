//! MySQL and MariaDB (Aurora MySQL in the cloud) through sqlx.
//!
//! MySQL commits DDL implicitly, so a migration is not one transaction:
//! a named lock (GET_LOCK) serialises migrators, and the migration record is
//! written after its statements succeed.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value as Json;
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlPool, MySqlPoolOptions, MySqlRow};
use sqlx::{AssertSqlSafe, Row as _};
use stackwright_stack::{ColumnType, Comparison, Table};
use time::PrimitiveDateTime;

use crate::engine::*;
use crate::migrate::SchemaSnapshot;
use crate::queue::Message;
use crate::shape::Shape;
use crate::sql::{self, Dialect, Param};
use crate::url::ServerUrl;

const D: Dialect = Dialect::Mysql;
/// How long a migrator waits for another one to finish.
const MIGRATION_LOCK_WAIT_SECS: i64 = 120;

pub struct MysqlEngine {
    pool: MySqlPool,
}

type MyQuery<'q> = sqlx::query::Query<'q, sqlx::MySql, sqlx::mysql::MySqlArguments>;

impl MysqlEngine {
    pub async fn connect(url: &ServerUrl, pool: &super::PoolSettings) -> Result<Self> {
        let mut options = MySqlConnectOptions::from_str(url.connect_string())
            .map_err(|_| StorageError::UnsupportedUrl("invalid mysql:// URL".into()))?;
        if super::in_clear(url.connect_string(), options.get_host()) {
            options = options.ssl_mode(sqlx::mysql::MySqlSslMode::Disabled);
        }
        let mut options = options
            .charset("utf8mb4")
            .timezone(Some(String::from("+00:00")));
        if let Some(p) = url.password_override() {
            options = options.password(p);
        }
        let statement_ms = pool.statement_timeout.as_millis();
        let pool = MySqlPoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    // MariaDB names it max_statement_time (seconds), MySQL max_execution_time (ms).
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "SET SESSION max_statement_time = {}",
                        statement_ms as f64 / 1000.0
                    )))
                    .execute(&mut *conn)
                    .await;
                    sqlx::query("SET SESSION sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES,NO_ZERO_DATE')")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(map_err)?;
        Ok(MysqlEngine { pool })
    }

    async fn select_by_key(
        conn: &mut MySqlConnection,
        shape: &Shape,
        key: Param,
    ) -> Result<Option<Row>> {
        let st = D.get(shape, key);
        let row = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
            .fetch_optional(conn)
            .await
            .map_err(map_err)?;
        row.map(|r| read(&r, shape)).transpose()
    }

    async fn apply_migration(
        conn: &mut MySqlConnection,
        target: &SchemaSnapshot,
        allow_destructive: bool,
    ) -> Result<MigrationOutcome> {
        super::apply_migration!(conn, target, allow_destructive).await
    }
}

fn bind(q: MyQuery<'_>, p: Param) -> MyQuery<'_> {
    match p {
        Param::Null(_) => q.bind(None::<String>),
        Param::Bool(b) => q.bind(b),
        Param::Int(i) => q.bind(i),
        Param::Float(f) => q.bind(f),
        Param::Text(s) => q.bind(s),
        Param::Json(j) => q.bind(j.to_string()),
        Param::Timestamp(t) => q.bind(PrimitiveDateTime::new(t.date(), t.time())),
        Param::Decimal(d) => q.bind(rust_decimal::Decimal::new(d.units, u32::from(d.scale))),
        Param::Date(d) => q.bind(d),
        Param::Uuid(u) => q.bind(u.to_string()),
    }
}

fn bind_all(mut q: MyQuery<'_>, params: Vec<Param>) -> MyQuery<'_> {
    for p in params {
        q = bind(q, p);
    }
    q
}

fn read(row: &MySqlRow, shape: &Shape) -> Result<Row> {
    Ok(shape.row_of(read_values(row, shape)?))
}

/// A row's values, in the order of the shape's columns.
fn read_values(row: &MySqlRow, shape: &Shape) -> Result<Vec<Json>> {
    let mut out = Vec::with_capacity(shape.columns.len());
    for (i, (_, ty)) in shape.columns.iter().enumerate() {
        let v = match ty {
            ColumnType::Integer | ColumnType::BigInt => {
                row.try_get::<Option<i64>, _>(i).map(|v| v.map(Json::from))
            }
            ColumnType::Float => row.try_get::<Option<f64>, _>(i).map(|v| v.map(Json::from)),
            ColumnType::Boolean => row.try_get::<Option<bool>, _>(i).map(|v| v.map(Json::Bool)),
            ColumnType::String { .. } | ColumnType::Text | ColumnType::Uuid => row
                .try_get::<Option<String>, _>(i)
                .map(|v| v.map(Json::String)),
            ColumnType::Decimal { .. } | ColumnType::Date => {
                Ok(super::decimal_or_date(row, i, *ty, map_err)?)
            }
            ColumnType::Timestamp => row
                .try_get::<Option<PrimitiveDateTime>, _>(i)
                .map(|v| v.map(|t| sql::timestamp_json(t.assume_utc()))),
            // MariaDB's JSON is LONGTEXT: read the text and parse it.
            ColumnType::Json => row
                .try_get::<Option<String>, _>(i)
                .map(|v| v.map(|s| serde_json::from_str(&s).unwrap_or(Json::String(s)))),
        }
        .map_err(map_err)?;
        out.push(v.unwrap_or(Json::Null));
    }
    Ok(out)
}

pub(crate) fn map_err(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &e {
        // 1062 duplicate entry; 2006/2013 server gone / lost connection;
        // 1969 (MariaDB) and 3024 (MySQL) statement time limit.
        match db.code().as_deref() {
            Some("23000") if db.message().contains("Duplicate") => return StorageError::Conflict,
            // 1406 data too long for the column.
            Some("22001") => return StorageError::TooLarge(db.message().to_string()),
            _ => {}
        }
        let m = db.message();
        // 1213 deadlock (SQLSTATE 40001), 1205 lock wait timeout.
        if db.code().as_deref() == Some("40001")
            || m.contains("Deadlock found")
            || m.contains("Lock wait timeout")
        {
            return StorageError::Contention(m.to_string());
        }
        if m.contains("max_statement_time") || m.contains("maximum statement execution time") {
            return StorageError::Unavailable("statement timed out".into());
        }
    }
    super::map_common(e)
}

#[async_trait]
impl Engine for MysqlEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Mysql
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        Ok(())
    }

    async fn migrate(
        &self,
        target: &SchemaSnapshot,
        allow_destructive: bool,
    ) -> Result<MigrationOutcome> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        let got: Option<i64> =
            sqlx::query_scalar("SELECT GET_LOCK(CONCAT('stackwright:migrate:', DATABASE()), ?)")
                .bind(MIGRATION_LOCK_WAIT_SECS)
                .fetch_one(&mut *conn)
                .await
                .map_err(map_err)?;
        if got != Some(1) {
            return Err(StorageError::Unavailable(
                "another migration holds the lock; try again when it has finished".into(),
            ));
        }
        let result = Self::apply_migration(&mut conn, target, allow_destructive).await;
        let _ = sqlx::query("SELECT RELEASE_LOCK(CONCAT('stackwright:migrate:', DATABASE()))")
            .execute(&mut *conn)
            .await;
        result
    }

    async fn applied_schema(&self, stack: &str) -> Result<Option<SchemaSnapshot>> {
        super::applied_schema!(&self.pool, stack)
    }

    async fn grant_app_user(&self, user: &crate::grants::AppUser) -> Result<()> {
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        let database: Option<String> = sqlx::query_scalar("SELECT DATABASE()")
            .fetch_one(&mut *conn)
            .await
            .map_err(map_err)?;
        let database = database
            .ok_or_else(|| StorageError::Migration("the connection names no database".into()))?;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE()",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(map_err)?;
        for statement in crate::grants::mysql(user, &database, &tables) {
            sqlx::query(sqlx::AssertSqlSafe(statement))
                .execute(&mut *conn)
                .await
                .map_err(super::grant_failed)?;
        }
        Ok(())
    }

    async fn seed(&self, table: &Table, rows: Vec<SeedRow>) -> Result<SeedOutcome> {
        super::seed_rows!(self.pool, table, rows).await
    }

    async fn get(&self, table: &Table, key: &Json) -> Result<Option<Row>> {
        let shape = Shape::of(table);
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        Self::select_by_key(&mut conn, &shape, shape.key_param(key)?).await
    }

    async fn list(&self, table: &Table, query: &ListQuery<'_>) -> Result<Page> {
        super::list_rows!(self.pool, table, query, read_values).await
    }

    async fn count(&self, table: &Table, query: &ListQuery<'_>) -> Result<u64> {
        super::count_rows!(self.pool, table, query).await
    }

    async fn insert(&self, table: &Table, row: Row) -> Result<Row> {
        let shape = Shape::of(table);
        let values = shape.insert_values(&row)?;
        let key = values
            .iter()
            .find(|(c, _)| *c == shape.key)
            .map(|(_, p)| p.clone());
        let generated = shape.database_generates_key(&row);
        let st = D.insert(&shape, values, false);
        let mut conn = self.pool.acquire().await.map_err(map_err)?;
        let done = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
            .execute(&mut *conn)
            .await
            .map_err(map_err)?;
        let key = match (generated, key) {
            (true, _) => Param::Int(done.last_insert_id() as i64),
            (false, Some(k)) => k,
            (false, None) => return Err(StorageError::Internal("insert without a key".into())),
        };
        Self::select_by_key(&mut conn, &shape, key)
            .await?
            .ok_or_else(|| StorageError::Internal("inserted row not found".into()))
    }

    async fn update_where(
        &self,
        table: &Table,
        key: &Json,
        changes: &[Assignment],
        condition: &[Comparison],
    ) -> Result<Option<Row>> {
        let shape = Shape::of(table);
        let (sets, increments) = shape.assignments(changes)?;
        let mut tx = self.pool.begin().await.map_err(map_err)?;
        if !condition.is_empty() {
            // MySQL counts changed rows, not matched ones: the condition is
            // checked first, on the row locked until the write commits.
            let mut st = D.get_where((table, &shape), shape.key_param(key)?, condition)?;
            st.sql.push_str(" FOR UPDATE");
            let held = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
                .fetch_optional(&mut *tx)
                .await
                .map_err(map_err)?;
            if held.is_none() {
                drop(tx);
                return missing_or_failed(self, table, key).await;
            }
        }
        if !sets.is_empty() || !increments.is_empty() {
            let st = D.update(
                (table, &shape),
                sets,
                &increments,
                shape.key_param(key)?,
                &[],
            )?;
            bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
        }
        // MySQL has no UPDATE ... RETURNING; read the row in the same transaction.
        let row = Self::select_by_key(&mut tx, &shape, shape.key_param(key)?).await?;
        tx.commit().await.map_err(map_err)?;
        Ok(row)
    }

    async fn delete_where(
        &self,
        table: &Table,
        key: &Json,
        condition: &[Comparison],
    ) -> Result<bool> {
        let shape = Shape::of(table);
        let st = D.delete((table, &shape), shape.key_param(key)?, condition)?;
        let done = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
            .execute(&self.pool)
            .await
            .map_err(map_err)?;
        deleted(self, (table, key), condition, done.rows_affected()).await
    }

    fn queue(&self) -> Option<&dyn Queue> {
        Some(self)
    }
}

crate::sqlx_engines::queue::sqlx_queue!(MysqlEngine);
