//! Redshift through sqlx's PostgreSQL driver, with the Redshift dialect
//! ([`crate::sql::redshift`]).
//!
//! Redshift enforces no key and no unique constraint, so every write that
//! needs one checks it itself (the key by inserting only where it is
//! absent, unique columns by a lookup first), in a transaction holding the
//! table's lock: Redshift's isolation level is the database's (SNAPSHOT on
//! new clusters), so the lock, not the level, keeps two writers apart. A
//! serialization failure (Redshift's 1023, PostgreSQL's 40001) runs the
//! transaction again. Two writers racing for one key or value end with one
//! row and one 409, as on the other engines. A generated integer key is one
//! more than the largest, under the same lock.
//!
//! The same engine runs on a PostgreSQL server standing in for Redshift
//! (tests): it then leaves out only the tables' distribution and sort keys.
//! Topics reach it through SQS only (apply and forget); it has no local
//! queue.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value as Json;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{AssertSqlSafe, Postgres, Transaction};
use stackwright_stack::{Comparison, Subscription, Table};
use time::OffsetDateTime;

use super::postgres::{JsonAs, PgQuery};
use super::queue::retrying;
use crate::engine::*;
use crate::migrate::SchemaSnapshot;
use crate::queue::{DeadLetter, Delivery, Enqueued, Message};
use crate::shape::Shape;
use crate::sql::{self, redshift, Dialect, MigrationSql, Param, Statement};
use crate::url::ServerUrl;

const D: Dialect = Dialect::Redshift;

pub struct RedshiftEngine {
    pool: PgPool,
    /// False on a PostgreSQL server standing in for Redshift.
    on_redshift: bool,
}

type Tx = Transaction<'static, Postgres>;

impl RedshiftEngine {
    pub async fn connect(url: &ServerUrl, pool: &super::PoolSettings) -> Result<Self> {
        let mut options = super::postgres::connect_options(url, "redshift")?;
        if let Some(p) = url.password_override() {
            options = options.password(p);
        }
        // A session setting, not a startup option: Redshift refuses those.
        let timeout = pool.statement_timeout.as_millis();
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout)
            .idle_timeout(Some(Duration::from_secs(300)))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    sqlx::query(AssertSqlSafe(format!("SET statement_timeout TO {timeout}")))
                        .execute(conn)
                        .await
                        .map(|_| ())
                })
            })
            .connect_with(options)
            .await
            .map_err(map_err)?;
        let version: String = sqlx::query_scalar(redshift::VERSION)
            .fetch_one(&pool)
            .await
            .map_err(map_err)?;
        Ok(RedshiftEngine {
            pool,
            on_redshift: version.contains("Redshift"),
        })
    }

    /// A transaction at Redshift's own isolation level, asked for
    /// explicitly (PostgreSQL's default is weaker).
    async fn serializable(&self) -> Result<Tx> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL SERIALIZABLE")
            .await
            .map_err(map_err)
    }

    /// A migration statement as this server takes it.
    fn ddl<'a>(&self, ddl: &'a str) -> &'a str {
        if self.on_redshift {
            ddl
        } else {
            redshift::portable(ddl)
        }
    }
}

fn bind_all(q: PgQuery<'_>, params: Vec<Param>) -> PgQuery<'_> {
    // JSON is kept as its text (see `sql::redshift::column_type`).
    super::postgres::bind_all_as(q, params, JsonAs::Text)
}

fn read(row: &PgRow, shape: &Shape) -> Result<Row> {
    super::postgres::read_as(row, shape, JsonAs::Text)
}

fn read_values(row: &PgRow, shape: &Shape) -> Result<Vec<Json>> {
    super::postgres::values_as(row, shape, JsonAs::Text)
}

pub(crate) fn map_err(e: sqlx::Error) -> StorageError {
    if let sqlx::Error::Database(db) = &e {
        // Redshift's serialization failure: "1023 ... Serializable
        // isolation violation", with no SQLSTATE of its own.
        if db.message().contains("Serializable isolation violation")
            || db.message().starts_with("1023")
        {
            return StorageError::Contention(db.message().to_string());
        }
        // Only a PostgreSQL server standing in enforces keys: there a
        // concurrent writer's row (or table) can surface as a unique
        // violation rather than a serialization failure. Running the
        // transaction again finds it, and answers as Redshift would.
        if db.is_unique_violation() {
            return StorageError::Contention(db.message().to_string());
        }
    }
    super::postgres::map_err(e)
}

/// Take `tables` until the transaction ends (see [`redshift::lock`]).
async fn lock(tx: &mut Tx, tables: &[&str]) -> Result<()> {
    for table in tables {
        sqlx::query(AssertSqlSafe(redshift::lock(table)))
            .execute(&mut **tx)
            .await
            .map_err(map_err)?;
    }
    Ok(())
}

/// Rows affected by one statement.
async fn run(tx: &mut Tx, st: Statement) -> Result<u64> {
    Ok(bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
        .execute(&mut **tx)
        .await
        .map_err(map_err)?
        .rows_affected())
}

async fn fetch(tx: &mut Tx, shape: &Shape, st: Statement) -> Result<Option<Row>> {
    let row = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
        .fetch_optional(&mut **tx)
        .await
        .map_err(map_err)?;
    row.map(|r| read(&r, shape)).transpose()
}

/// The row's values, with the next integer key when the database is to
/// give one (Redshift returns none it makes).
async fn values_with_key<'a>(
    tx: &mut Tx,
    shape: &'a Shape,
    row: &'a Row,
) -> Result<Vec<(&'a str, Param)>> {
    let mut values = shape.insert_values(row)?;
    if shape.database_generates_key(row) {
        let next: i64 = sqlx::query_scalar(AssertSqlSafe(redshift::next_key(shape)))
            .fetch_one(&mut **tx)
            .await
            .map_err(map_err)?;
        values.insert(0, (shape.key.as_str(), Param::Int(next)));
    }
    Ok(values)
}

/// 409 when another row (than `except`) holds the values of a unique index
/// of `table` that `row` gives in full.
async fn check_unique(
    tx: &mut Tx,
    table: &Table,
    shape: &Shape,
    row: &Row,
    except: Option<Param>,
) -> Result<()> {
    for index in table.indexes.values().filter(|i| i.unique) {
        let mut values = Vec::new();
        for column in &index.columns {
            match row.get(column) {
                // NULLs never collide, as in a unique index.
                None | Some(Json::Null) => break,
                Some(v) => values.push((column.as_str(), sql::param(shape.ty(column)?, v)?)),
            }
        }
        if values.len() < index.columns.len() {
            continue;
        }
        let st = redshift::taken(shape, values, except.clone());
        let found = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
            .fetch_optional(&mut **tx)
            .await
            .map_err(map_err)?;
        if found.is_some() {
            return Err(StorageError::Conflict);
        }
    }
    Ok(())
}

/// The key's parameter among `values`.
fn key_of(shape: &Shape, values: &[(&str, Param)]) -> Result<Param> {
    values
        .iter()
        .find(|(c, _)| *c == shape.key)
        .map(|(_, p)| p.clone())
        .ok_or_else(|| StorageError::Internal("a row without its key".into()))
}

#[async_trait]
impl Engine for RedshiftEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Redshift
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
        for ddl in D.internal_tables().iter().chain(D.queue_tables()) {
            retrying(|| async {
                sqlx::query(*ddl).execute(&self.pool).await.map_err(|e| {
                    match e.as_database_error().and_then(|d| d.code()) {
                        // A concurrent migrator made it between PostgreSQL's
                        // check and its own creation: IF NOT EXISTS holds now.
                        Some(code) if code == "42P07" || code == "42710" => {
                            StorageError::Contention(e.to_string())
                        }
                        _ => map_err(e),
                    }
                })
            })
            .await?;
        }
        retrying(|| self.migrate_once(target, allow_destructive)).await
    }

    async fn applied_schema(&self, stack: &str) -> Result<Option<SchemaSnapshot>> {
        super::applied_schema!(&self.pool, stack)
    }

    async fn seed(&self, table: &Table, rows: Vec<SeedRow>) -> Result<SeedOutcome> {
        retrying(|| self.seed_once(table, &rows)).await
    }

    async fn get(&self, table: &Table, key: &Json) -> Result<Option<Row>> {
        let shape = Shape::of(table);
        let st = D.get(&shape, shape.key_param(key)?);
        let row = bind_all(sqlx::query(AssertSqlSafe(st.sql)), st.params)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_err)?;
        row.map(|r| read(&r, &shape)).transpose()
    }

    async fn list(&self, table: &Table, query: &ListQuery<'_>) -> Result<Page> {
        super::list_rows!(self.pool, table, query, read_values).await
    }

    async fn count(&self, table: &Table, query: &ListQuery<'_>) -> Result<u64> {
        super::count_rows!(self.pool, table, query).await
    }

    async fn insert(&self, table: &Table, row: Row) -> Result<Row> {
        retrying(|| self.insert_once(table, &row)).await
    }

    async fn update_where(
        &self,
        table: &Table,
        key: &Json,
        changes: &[Assignment],
        condition: &[Comparison],
    ) -> Result<Option<Row>> {
        let row = retrying(|| self.update_once(table, key, changes, condition)).await?;
        updated(self, (table, key), condition, row).await
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

    fn queues_locally(&self) -> bool {
        false
    }
}

impl RedshiftEngine {
    async fn migrate_once(
        &self,
        target: &SchemaSnapshot,
        allow_destructive: bool,
    ) -> Result<MigrationOutcome> {
        let mut tx = self.serializable().await?;
        // Held until commit: concurrent migrators run one after another.
        sqlx::query(redshift::LOCK_MIGRATIONS)
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        let current: Option<String> = sqlx::query_scalar(AssertSqlSafe(D.latest_schema()))
            .bind(&target.stack)
            .fetch_optional(&mut *tx)
            .await
            .map_err(map_err)?;
        let current = super::parse_snapshot(current)?;
        let Some((plan, statements)) = super::plan(D, current.as_ref(), target, allow_destructive)?
        else {
            return Ok(MigrationOutcome::default());
        };
        for st in statements {
            let result = match &st {
                MigrationSql::Ddl(ddl) => {
                    sqlx::query(AssertSqlSafe(self.ddl(ddl).to_string()))
                        .execute(&mut *tx)
                        .await
                }
                MigrationSql::ForgetSeeds(table) => {
                    sqlx::query(D.forget_seeds())
                        .bind(table)
                        .execute(&mut *tx)
                        .await
                }
            };
            result.map_err(|e| match map_err(e) {
                // Run again whole, as any other serialization failure.
                StorageError::Contention(why) => StorageError::Contention(why),
                StorageError::Unavailable(why) => StorageError::Unavailable(why),
                other => match &st {
                    MigrationSql::Ddl(ddl) => StorageError::Migration(format!("{ddl}: {other}")),
                    MigrationSql::ForgetSeeds(_) => other,
                },
            })?;
        }
        let version: i64 = sqlx::query_scalar(AssertSqlSafe(D.next_version()))
            .bind(&target.stack)
            .fetch_one(&mut *tx)
            .await
            .map_err(map_err)?;
        let summary: Vec<String> = plan
            .steps
            .iter()
            .map(crate::migrate::Step::describe)
            .collect();
        sqlx::query(AssertSqlSafe(D.record_migration()))
            .bind(&target.stack)
            .bind(version)
            .bind(summary.join("\n"))
            .bind(serde_json::to_string(target).expect("schema serializes"))
            .bind(OffsetDateTime::now_utc())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?;
        tx.commit().await.map_err(map_err)?;
        Ok(MigrationOutcome {
            version: Some(version),
            applied: summary,
        })
    }

    async fn seed_once(&self, table: &Table, rows: &[SeedRow]) -> Result<SeedOutcome> {
        let shape = Shape::of(table);
        let mut tx = self.serializable().await?;
        lock(&mut tx, &[&table.name]).await?;
        let mut outcome = SeedOutcome {
            table: table.name.clone(),
            ..Default::default()
        };
        for seed in rows {
            let claimed = sqlx::query(D.claim_seed())
                .bind(&table.name)
                .bind(&seed.identity)
                .bind(OffsetDateTime::now_utc())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected()
                == 1;
            if !claimed {
                outcome.already_applied += 1;
                continue;
            }
            let values = values_with_key(&mut tx, &shape, &seed.row).await?;
            // A row a user made with the same key or unique value wins
            // over the seed.
            if check_unique(&mut tx, table, &shape, &seed.row, None)
                .await
                .is_err()
            {
                continue;
            }
            let inserted = run(&mut tx, D.insert(&shape, values, true)).await?;
            outcome.inserted += usize::from(inserted == 1);
        }
        tx.commit().await.map_err(map_err)?;
        Ok(outcome)
    }

    async fn insert_once(&self, table: &Table, row: &Row) -> Result<Row> {
        let shape = Shape::of(table);
        let mut tx = self.serializable().await?;
        lock(&mut tx, &[&table.name]).await?;
        let values = values_with_key(&mut tx, &shape, row).await?;
        let key = key_of(&shape, &values)?;
        check_unique(&mut tx, table, &shape, row, None).await?;
        if run(&mut tx, D.insert(&shape, values, false)).await? == 0 {
            return Err(StorageError::Conflict);
        }
        let made = fetch(&mut tx, &shape, D.get(&shape, key)).await?;
        tx.commit().await.map_err(map_err)?;
        made.ok_or_else(|| StorageError::Internal("the inserted row is gone".into()))
    }

    /// The update, or None when no row has the key and meets `condition`.
    async fn update_once(
        &self,
        table: &Table,
        key: &Json,
        changes: &[Assignment],
        condition: &[Comparison],
    ) -> Result<Option<Row>> {
        let shape = Shape::of(table);
        let (sets, increments) = shape.assignments(changes)?;
        let key = shape.key_param(key)?;
        let touches_unique = table.indexes.values().any(|i| {
            i.unique
                && i.columns.iter().any(|x| {
                    sets.iter().any(|(c, _)| c == x) || increments.iter().any(|(c, _)| c == x)
                })
        });
        // One UPDATE is atomic by itself (`n = n + 1` loses nothing); only a
        // check beside it needs the serializable level. Redshift runs every
        // write serializable anyway, and a failure there is run again.
        let mut tx = if touches_unique {
            let mut tx = self.serializable().await?;
            lock(&mut tx, &[&table.name]).await?;
            tx
        } else {
            self.pool.begin().await.map_err(map_err)?
        };
        let writes = !sets.is_empty() || !increments.is_empty();
        if writes {
            let st = D.update((table, &shape), sets, &increments, key.clone(), condition)?;
            if run(&mut tx, st).await? == 0 {
                return Ok(None);
            }
        }
        // After the write the condition may no longer hold (its job is done).
        let read = match writes {
            true => D.get(&shape, key.clone()),
            false => D.get_where((table, &shape), key.clone(), condition)?,
        };
        let Some(row) = fetch(&mut tx, &shape, read).await? else {
            return Ok(None);
        };
        if touches_unique {
            check_unique(&mut tx, table, &shape, &row, Some(key)).await?;
        }
        tx.commit().await.map_err(map_err)?;
        Ok(Some(row))
    }

    async fn apply_once(
        &self,
        sub: &Subscription,
        table: &Table,
        message: &Message,
    ) -> Result<bool> {
        let shape = Shape::of(table);
        let mut tx = self.serializable().await?;
        lock(&mut tx, &["_stackwright_applied", &table.name]).await?;
        let marked = sqlx::query(D.mark_applied())
            .bind(&sub.name)
            .bind(&message.id)
            .bind(crate::queue::now_ms())
            .execute(&mut *tx)
            .await
            .map_err(map_err)?
            .rows_affected()
            > 0;
        if marked {
            let row = crate::queue::row_of(sub, table, &message.body);
            let values = values_with_key(&mut tx, &shape, &row).await?;
            match sub.apply {
                stackwright_stack::Apply::Upsert => {
                    let key = key_of(&shape, &values)?;
                    check_unique(&mut tx, table, &shape, &row, Some(key)).await?;
                    for st in redshift::merge(&shape, values) {
                        run(&mut tx, st).await?;
                    }
                }
                stackwright_stack::Apply::Insert => {
                    check_unique(&mut tx, table, &shape, &row, None).await?;
                    if run(&mut tx, D.insert(&shape, values, false)).await? == 0 {
                        return Err(StorageError::Conflict);
                    }
                }
            }
        }
        tx.commit().await.map_err(map_err)?;
        Ok(marked)
    }
}

/// Why a local queue operation cannot run here.
fn sqs_only() -> StorageError {
    StorageError::Unsupported(
        "on Redshift, topic messages are delivered by SQS (a deployed environment); there is no local queue: run `up` on the embedded default, PostgreSQL or MySQL to deliver locally".into(),
    )
}

#[async_trait]
impl Queue for RedshiftEngine {
    async fn enqueue(&self, _subscriptions: &[&str], _messages: &[Message]) -> Result<Enqueued> {
        Err(sqs_only())
    }

    async fn deliver(
        &self,
        _sub: &Subscription,
        _table: &Table,
        _limit: usize,
    ) -> Result<Delivery> {
        Err(sqs_only())
    }

    async fn apply_message(
        &self,
        sub: &Subscription,
        table: &Table,
        message: &Message,
    ) -> Result<bool> {
        retrying(|| self.apply_once(sub, table, message)).await
    }

    async fn queued(&self, _sub: &str) -> Result<u64> {
        Err(sqs_only())
    }

    async fn dead_letters(&self, _sub: Option<&str>) -> Result<Vec<DeadLetter>> {
        Err(sqs_only())
    }

    async fn redrive(&self, _sub: Option<&str>, _ids: &[String]) -> Result<usize> {
        Err(sqs_only())
    }

    async fn forget_applied(&self, before_ms: i64) -> Result<u64> {
        Ok(sqlx::query(D.forget_applied())
            .bind(before_ms)
            .execute(&self.pool)
            .await
            .map_err(map_err)?
            .rows_affected())
    }
}
