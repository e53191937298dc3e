//! Topic delivery on PostgreSQL and MySQL/MariaDB (see [`crate::queue`]),
//! and Redshift's applied-message records (it is fed by SQS only):
//! the statements per dialect, and the sequences both engines run. Like
//! `apply_migration`, the sequences are macros because sqlx's executor
//! bounds differ per driver; they expect `D` (the dialect), `map_err` and
//! `bind_all` in scope and evaluate to a future.
//!
//! Delivery claims its batch with `FOR UPDATE SKIP LOCKED`, so replicas
//! sharing a database each take different messages, and applies each
//! message under a savepoint, so one failing message (which aborts the
//! statement, and on PostgreSQL the transaction until rolled back to the
//! savepoint) does not undo the others.

use std::time::Duration;

use crate::engine::{Result, StorageError};
use crate::shape::Shape;
use crate::sql::{Dialect, Param};
use stackwright_stack::Apply;

/// Run a queue transaction, again when it lost a deadlock to a concurrent
/// one (publishing and delivering touch the same tables): InnoDB and
/// PostgreSQL roll the loser back whole, so running it again is safe.
pub(crate) async fn retrying<T, F, Fut>(mut transaction: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    let mut attempt = 0;
    loop {
        match transaction().await {
            Err(StorageError::Contention(why)) if attempt < 8 => {
                attempt += 1;
                tracing::debug!(target: "stackwright::topics", %why, attempt, "transaction conflict; running it again");
                tokio::time::sleep(Duration::from_millis(2 << attempt)).await;
            }
            other => return other,
        }
    }
}

impl Dialect {
    pub fn queue_tables(self) -> &'static [&'static str] {
        match self {
            Dialect::Postgres => &[
                "CREATE TABLE IF NOT EXISTS _stackwright_messages (subscription VARCHAR(200) NOT NULL, id VARCHAR(128) NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL, available_at BIGINT NOT NULL, published_at BIGINT NOT NULL, last_error TEXT, PRIMARY KEY (subscription, id))",
                "CREATE INDEX IF NOT EXISTS _stackwright_messages_due ON _stackwright_messages (subscription, available_at, published_at)",
                "CREATE TABLE IF NOT EXISTS _stackwright_applied (subscription VARCHAR(200) NOT NULL, id VARCHAR(128) NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (subscription, id))",
                "CREATE TABLE IF NOT EXISTS _stackwright_dead_letters (subscription VARCHAR(200) NOT NULL, id VARCHAR(128) NOT NULL, body TEXT NOT NULL, attempts INTEGER NOT NULL, last_error TEXT NOT NULL, published_at BIGINT NOT NULL, failed_at BIGINT NOT NULL, PRIMARY KEY (subscription, id))",
            ],
            Dialect::Mysql => &[
                "CREATE TABLE IF NOT EXISTS _stackwright_messages (subscription VARCHAR(200) NOT NULL, id VARCHAR(128) NOT NULL, body LONGTEXT NOT NULL, attempts INT NOT NULL, available_at BIGINT NOT NULL, published_at BIGINT NOT NULL, last_error TEXT, PRIMARY KEY (subscription, id), INDEX _stackwright_messages_due (subscription, available_at, published_at)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                "CREATE TABLE IF NOT EXISTS _stackwright_applied (subscription VARCHAR(200) NOT NULL, id VARCHAR(128) NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (subscription, id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                "CREATE TABLE IF NOT EXISTS _stackwright_dead_letters (subscription VARCHAR(200) NOT NULL, id VARCHAR(128) NOT NULL, body LONGTEXT NOT NULL, attempts INT NOT NULL, last_error TEXT NOT NULL, published_at BIGINT NOT NULL, failed_at BIGINT NOT NULL, PRIMARY KEY (subscription, id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            ],
            // Delivered by SQS only: the applied-message records.
            Dialect::Redshift => &[crate::sql::redshift::APPLIED_TABLE],
        }
    }

    /// Due messages of a subscription (binds subscription, now, limit),
    /// locked for this transaction; rows locked by another are skipped.
    pub fn claim(self) -> &'static str {
        match self {
            Dialect::Postgres | Dialect::Redshift => "SELECT id, body, attempts, published_at FROM _stackwright_messages WHERE subscription = $1 AND available_at <= $2 ORDER BY available_at, published_at LIMIT $3 FOR UPDATE SKIP LOCKED",
            Dialect::Mysql => "SELECT id, body, attempts, published_at FROM _stackwright_messages WHERE subscription = ? AND available_at <= ? ORDER BY available_at, published_at LIMIT ? FOR UPDATE SKIP LOCKED",
        }
    }

    /// Record a message as applied (binds subscription, id, now); 0 rows
    /// when it was applied before.
    pub fn mark_applied(self) -> &'static str {
        match self {
            Dialect::Postgres => "INSERT INTO _stackwright_applied (subscription, id, applied_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
            Dialect::Redshift => crate::sql::redshift::MARK_APPLIED,
            Dialect::Mysql => "INSERT IGNORE INTO _stackwright_applied (subscription, id, applied_at) VALUES (?, ?, ?)",
        }
    }

    /// Binds subscription, id.
    pub fn remove_message(self) -> &'static str {
        match self {
            Dialect::Postgres | Dialect::Redshift => {
                "DELETE FROM _stackwright_messages WHERE subscription = $1 AND id = $2"
            }
            Dialect::Mysql => "DELETE FROM _stackwright_messages WHERE subscription = ? AND id = ?",
        }
    }

    /// Binds attempts, available_at, error, subscription, id.
    pub fn retry_later(self) -> &'static str {
        match self {
            Dialect::Postgres | Dialect::Redshift => "UPDATE _stackwright_messages SET attempts = $1, available_at = $2, last_error = $3 WHERE subscription = $4 AND id = $5",
            Dialect::Mysql => "UPDATE _stackwright_messages SET attempts = ?, available_at = ?, last_error = ? WHERE subscription = ? AND id = ?",
        }
    }

    /// Binds subscription, id, body, attempts, error, published_at, failed_at.
    pub fn bury(self) -> &'static str {
        match self {
            Dialect::Postgres | Dialect::Redshift => "INSERT INTO _stackwright_dead_letters (subscription, id, body, attempts, last_error, published_at, failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                ON CONFLICT (subscription, id) DO UPDATE SET body = EXCLUDED.body, attempts = EXCLUDED.attempts, last_error = EXCLUDED.last_error, failed_at = EXCLUDED.failed_at",
            Dialect::Mysql => "INSERT INTO _stackwright_dead_letters (subscription, id, body, attempts, last_error, published_at, failed_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
                ON DUPLICATE KEY UPDATE body = VALUES(body), attempts = VALUES(attempts), last_error = VALUES(last_error), failed_at = VALUES(failed_at)",
        }
    }

    /// Binds subscription.
    pub fn forget_applied(self) -> &'static str {
        match self {
            Dialect::Postgres | Dialect::Redshift => {
                "DELETE FROM _stackwright_applied WHERE applied_at < $1"
            }
            Dialect::Mysql => "DELETE FROM _stackwright_applied WHERE applied_at < ?",
        }
    }

    pub fn count_queued(self) -> &'static str {
        match self {
            Dialect::Postgres | Dialect::Redshift => {
                "SELECT COUNT(*) FROM _stackwright_messages WHERE subscription = $1"
            }
            Dialect::Mysql => "SELECT COUNT(*) FROM _stackwright_messages WHERE subscription = ?",
        }
    }

    /// ` AND subscription = ..` / ` AND id IN (..)` with placeholders from `first`.
    fn which(self, sub: Option<&str>, ids: &[String], first: usize) -> (String, Vec<Param>) {
        let mut n = first;
        let mut mark = || {
            let m = match self {
                Dialect::Postgres | Dialect::Redshift => format!("${n}"),
                Dialect::Mysql => "?".to_string(),
            };
            n += 1;
            m
        };
        let mut sql = String::new();
        let mut params = Vec::new();
        if let Some(s) = sub {
            sql.push_str(&format!(" AND subscription = {}", mark()));
            params.push(Param::Text(s.into()));
        }
        if !ids.is_empty() {
            let marks: Vec<String> = ids.iter().map(|_| mark()).collect();
            sql.push_str(&format!(" AND id IN ({})", marks.join(", ")));
            params.extend(ids.iter().map(|i| Param::Text(i.clone())));
        }
        (sql, params)
    }

    pub fn list_dead(self, sub: Option<&str>) -> (String, Vec<Param>) {
        let (filter, params) = self.which(sub, &[], 1);
        (
            format!("SELECT subscription, id, body, attempts, last_error, failed_at FROM _stackwright_dead_letters WHERE 1 = 1{filter} ORDER BY failed_at, id"),
            params,
        )
    }

    /// Queue dead letters again, then (second statement) remove them.
    pub fn redrive(self, sub: Option<&str>, ids: &[String], now: i64) -> [(String, Vec<Param>); 2] {
        let (filter, mut params) = self.which(sub, ids, 2);
        let (insert, ignore) = match self {
            Dialect::Postgres | Dialect::Redshift => ("INSERT INTO", " ON CONFLICT DO NOTHING"),
            Dialect::Mysql => ("INSERT IGNORE INTO", ""),
        };
        let first = match self {
            Dialect::Postgres | Dialect::Redshift => "$1",
            Dialect::Mysql => "?",
        };
        let copy = format!(
            "{insert} _stackwright_messages (subscription, id, body, attempts, available_at, published_at) \
             SELECT subscription, id, body, 0, {first}, published_at FROM _stackwright_dead_letters WHERE 1 = 1{filter}{ignore}"
        );
        let (filter2, params2) = self.which(sub, ids, 1);
        let remove = format!("DELETE FROM _stackwright_dead_letters WHERE 1 = 1{filter2}");
        params.insert(0, Param::Int(now));
        [(copy, params), (remove, params2)]
    }

    /// The statement applying one message's row: an insert, or an upsert
    /// on the key.
    pub fn apply(
        self,
        shape: &Shape,
        values: Vec<(&str, Param)>,
        apply: Apply,
    ) -> (String, Vec<Param>) {
        self.apply_rows(shape, vec![values], apply)
    }

    /// One statement applying several rows with the same columns (the
    /// first row's): a multi-row insert, or upsert on the key.
    pub fn apply_rows(
        self,
        shape: &Shape,
        rows: Vec<Vec<(&str, Param)>>,
        apply: Apply,
    ) -> (String, Vec<Param>) {
        let columns: Vec<&str> = rows
            .first()
            .map(|r| r.iter().map(|(c, _)| *c).collect())
            .unwrap_or_default();
        let names: Vec<String> = columns.iter().map(|c| self.quote(c)).collect();
        let mut n = 0;
        let tuples: Vec<String> = rows
            .iter()
            .map(|row| {
                let marks: Vec<String> = row
                    .iter()
                    .map(|_| {
                        n += 1;
                        match self {
                            Dialect::Postgres | Dialect::Redshift => format!("${n}"),
                            Dialect::Mysql => "?".to_string(),
                        }
                    })
                    .collect();
                format!("({})", marks.join(", "))
            })
            .collect();
        let mut sql = format!(
            "INSERT INTO {} ({}) VALUES {}",
            self.quote(&shape.table),
            names.join(", "),
            tuples.join(", ")
        );
        if apply == Apply::Upsert {
            let others: Vec<&str> = columns
                .iter()
                .copied()
                .filter(|c| shape.replaced(c))
                .collect();
            match self {
                Dialect::Postgres | Dialect::Redshift => {
                    let key = self.quote(&shape.key);
                    if others.is_empty() {
                        sql.push_str(&format!(" ON CONFLICT ({key}) DO NOTHING"));
                    } else {
                        let sets: Vec<String> = others
                            .iter()
                            .map(|c| format!("{q} = EXCLUDED.{q}", q = self.quote(c)))
                            .collect();
                        sql.push_str(&format!(
                            " ON CONFLICT ({key}) DO UPDATE SET {}",
                            sets.join(", ")
                        ));
                    }
                }
                Dialect::Mysql => {
                    let sets: Vec<String> = if others.is_empty() {
                        let key = self.quote(&shape.key);
                        vec![format!("{key} = {key}")]
                    } else {
                        others
                            .iter()
                            .map(|c| format!("{q} = VALUES({q})", q = self.quote(c)))
                            .collect()
                    };
                    sql.push_str(&format!(" ON DUPLICATE KEY UPDATE {}", sets.join(", ")));
                }
            }
        }
        let params = rows
            .into_iter()
            .flat_map(|r| r.into_iter().map(|(_, p)| p))
            .collect();
        (sql, params)
    }

    /// Record a batch as applied and remove it from the queue: two
    /// statements. The first fails when any id was applied before.
    pub fn settle(self, sub: &str, ids: &[String], now: i64) -> [(String, Vec<Param>); 2] {
        let mark = |i: usize| match self {
            Dialect::Postgres | Dialect::Redshift => format!("${i}"),
            Dialect::Mysql => "?".to_string(),
        };
        let mut params = Vec::with_capacity(ids.len() * 3);
        let tuples: Vec<String> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| {
                params.push(Param::Text(sub.into()));
                params.push(Param::Text(id.clone()));
                params.push(Param::Int(now));
                format!(
                    "({}, {}, {})",
                    mark(3 * i + 1),
                    mark(3 * i + 2),
                    mark(3 * i + 3)
                )
            })
            .collect();
        let record = format!(
            "INSERT INTO _stackwright_applied (subscription, id, applied_at) VALUES {}",
            tuples.join(", ")
        );
        let (filter, remove_params) = self.which(Some(sub), ids, 1);
        let remove = format!("DELETE FROM _stackwright_messages WHERE 1 = 1{filter}");
        [(record, params), (remove, remove_params)]
    }
}

/// One delivery pass of a subscription, in one transaction.
macro_rules! deliver {
    ($pool:expr, $sub:expr, $table:expr, $limit:expr) => {
        async {
            use sqlx::{AssertSqlSafe, Row as _};
            let sub: &stackwright_stack::Subscription = $sub;
            let shape = $crate::sqlx_engines::Shape::of($table);
            let mut tx = $pool.begin().await.map_err(map_err)?;
            let now = $crate::queue::now_ms();
            let batch = sqlx::query(D.claim())
                .bind(&sub.name)
                .bind(now)
                .bind($limit as i64)
                .fetch_all(&mut *tx)
                .await
                .map_err(map_err)?;
            if batch.is_empty() {
                return Ok($crate::queue::Delivery::default());
            }
            // Fast path: the batch in a few statements (rows with the same
            // columns in one insert). Any failure undoes it and the batch
            // goes through one message at a time, below.
            sqlx::query("SAVEPOINT batch")
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let fast: Result<(), $crate::engine::StorageError> = async {
                let mut ids = Vec::with_capacity(batch.len());
                let mut rows = Vec::with_capacity(batch.len());
                for row in &batch {
                    let id: String = row.try_get(0).map_err(map_err)?;
                    let body: String = row.try_get(1).map_err(map_err)?;
                    let message: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(&body).map_err(|e| {
                            $crate::engine::StorageError::Internal(format!(
                                "stored message is not a JSON object: {e}"
                            ))
                        })?;
                    ids.push(id);
                    rows.push($crate::queue::row_of(sub, $table, &message));
                }
                let mut groups: Vec<Vec<Vec<(&str, $crate::sql::Param)>>> = Vec::new();
                for row in &rows {
                    let values = shape.insert_values(row)?;
                    let same = |g: &Vec<Vec<(&str, $crate::sql::Param)>>| {
                        g[0].len() == values.len()
                            && g[0].iter().zip(&values).all(|(a, b)| a.0 == b.0)
                            && g.len() * values.len() < 20_000
                    };
                    match groups.iter_mut().find(|g| same(g)) {
                        Some(g) => g.push(values),
                        None => groups.push(vec![values]),
                    }
                }
                for group in groups {
                    let (sql, params) = D.apply_rows(&shape, group, sub.apply);
                    bind_all(sqlx::query(AssertSqlSafe(sql)), params)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
                let [(record, record_params), (remove, remove_params)] =
                    D.settle(&sub.name, &ids, now);
                bind_all(sqlx::query(AssertSqlSafe(record)), record_params)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                let removed = bind_all(sqlx::query(AssertSqlSafe(remove)), remove_params)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                if removed as usize != ids.len() {
                    return Err($crate::engine::StorageError::Internal(format!(
                        "removed {removed} messages of a batch of {}",
                        ids.len()
                    )));
                }
                Ok(())
            }
            .await;
            match fast {
                Ok(()) => {
                    sqlx::query("RELEASE SAVEPOINT batch")
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                    tx.commit().await.map_err(map_err)?;
                    return Ok($crate::queue::Delivery {
                        applied: batch.len(),
                        ..$crate::queue::Delivery::default()
                    });
                }
                Err(e @ $crate::engine::StorageError::Unavailable(_))
                | Err(e @ $crate::engine::StorageError::Contention(_)) => return Err(e),
                Err(e) => {
                    tracing::debug!(target: "stackwright::topics", error = %e, "the batch failed as a whole; one message at a time");
                    sqlx::query("ROLLBACK TO SAVEPOINT batch")
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
            }
            let mut outcome = $crate::queue::Delivery::default();
            for row in batch {
                let id: String = row.try_get(0).map_err(map_err)?;
                let body: String = row.try_get(1).map_err(map_err)?;
                let attempts: i32 = row.try_get(2).map_err(map_err)?;
                let published_at: i64 = row.try_get(3).map_err(map_err)?;
                sqlx::query("SAVEPOINT message")
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
                let marked = sqlx::query(D.mark_applied())
                    .bind(&sub.name)
                    .bind(&id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?
                    .rows_affected();
                let applied: Result<(), $crate::engine::StorageError> = if marked == 0 {
                    Ok(())
                } else {
                    async {
                        let message: serde_json::Map<String, serde_json::Value> =
                            serde_json::from_str(&body).map_err(|e| {
                                $crate::engine::StorageError::Internal(format!(
                                    "stored message is not a JSON object: {e}"
                                ))
                            })?;
                        let row = $crate::queue::row_of(sub, $table, &message);
                        let (sql, params) =
                            D.apply(&shape, shape.insert_values(&row)?, sub.apply);
                        bind_all(sqlx::query(AssertSqlSafe(sql)), params)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        Ok(())
                    }
                    .await
                };
                match applied {
                    Ok(()) => {
                        sqlx::query(D.remove_message())
                            .bind(&sub.name)
                            .bind(&id)
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        sqlx::query("RELEASE SAVEPOINT message")
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        if marked == 0 {
                            outcome.duplicates += 1;
                        } else {
                            outcome.applied += 1;
                        }
                    }
                    // The database itself failed: the batch stops, nothing counts as an attempt.
                    Err(e @ $crate::engine::StorageError::Unavailable(_))
                    | Err(e @ $crate::engine::StorageError::Contention(_)) => return Err(e),
                    Err(e) => {
                        sqlx::query("ROLLBACK TO SAVEPOINT message")
                            .execute(&mut *tx)
                            .await
                            .map_err(map_err)?;
                        let attempts = attempts as u32 + 1;
                        let error = $crate::queue::error_text(&e);
                        if attempts >= sub.max_attempts {
                            sqlx::query(D.bury())
                                .bind(&sub.name)
                                .bind(&id)
                                .bind(&body)
                                .bind(attempts as i32)
                                .bind(&error)
                                .bind(published_at)
                                .bind(now)
                                .execute(&mut *tx)
                                .await
                                .map_err(map_err)?;
                            sqlx::query(D.remove_message())
                                .bind(&sub.name)
                                .bind(&id)
                                .execute(&mut *tx)
                                .await
                                .map_err(map_err)?;
                            outcome.dead += 1;
                        } else {
                            sqlx::query(D.retry_later())
                                .bind(attempts as i32)
                                .bind($crate::queue::retry_at(sub, attempts, now))
                                .bind(&error)
                                .bind(&sub.name)
                                .bind(&id)
                                .execute(&mut *tx)
                                .await
                                .map_err(map_err)?;
                            outcome.retried += 1;
                        }
                    }
                }
            }
            tx.commit().await.map_err(map_err)?;
            Ok::<_, $crate::engine::StorageError>(outcome)
        }
    };
}
pub(crate) use deliver;

/// One message from an outside queue, applied with its record in one transaction.
macro_rules! apply_message {
    ($pool:expr, $sub:expr, $table:expr, $message:expr) => {
        async {
            use sqlx::AssertSqlSafe;
            let sub: &stackwright_stack::Subscription = $sub;
            let message: &$crate::queue::Message = $message;
            let shape = $crate::sqlx_engines::Shape::of($table);
            let mut tx = $pool.begin().await.map_err(map_err)?;
            let marked = sqlx::query(D.mark_applied())
                .bind(&sub.name)
                .bind(&message.id)
                .bind($crate::queue::now_ms())
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            if marked > 0 {
                let row = $crate::queue::row_of(sub, $table, &message.body);
                let (sql, params) = D.apply(&shape, shape.insert_values(&row)?, sub.apply);
                bind_all(sqlx::query(AssertSqlSafe(sql)), params)
                    .execute(&mut *tx)
                    .await
                    .map_err(map_err)?;
            }
            tx.commit().await.map_err(map_err)?;
            Ok::<_, $crate::engine::StorageError>(marked > 0)
        }
    };
}
pub(crate) use apply_message;

/// Dead letters as [`crate::queue::DeadLetter`]s.
macro_rules! dead_letters {
    ($pool:expr, $sub:expr) => {
        async {
            use sqlx::{AssertSqlSafe, Row as _};
            let (sql, params) = D.list_dead($sub);
            let rows = bind_all(sqlx::query(AssertSqlSafe(sql)), params)
                .fetch_all($pool)
                .await
                .map_err(map_err)?;
            rows.iter()
                .map(|r| {
                    let body: String = r.try_get(2).map_err(map_err)?;
                    Ok($crate::queue::DeadLetter {
                        subscription: r.try_get(0).map_err(map_err)?,
                        id: r.try_get(1).map_err(map_err)?,
                        message: serde_json::from_str(&body)
                            .unwrap_or(serde_json::Value::String(body)),
                        attempts: r.try_get::<i32, _>(3).map_err(map_err)? as u32,
                        error: r.try_get(4).map_err(map_err)?,
                        failed_at: r.try_get(5).map_err(map_err)?,
                    })
                })
                .collect::<Result<Vec<_>, $crate::engine::StorageError>>()
        }
    };
}
pub(crate) use dead_letters;

macro_rules! redrive {
    ($pool:expr, $sub:expr, $ids:expr) => {
        async {
            use sqlx::AssertSqlSafe;
            let mut tx = $pool.begin().await.map_err(map_err)?;
            let [(copy, copy_params), (remove, remove_params)] =
                D.redrive($sub, $ids, $crate::queue::now_ms());
            bind_all(sqlx::query(AssertSqlSafe(copy)), copy_params)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?;
            let moved = bind_all(sqlx::query(AssertSqlSafe(remove)), remove_params)
                .execute(&mut *tx)
                .await
                .map_err(map_err)?
                .rows_affected();
            tx.commit().await.map_err(map_err)?;
            Ok::<_, $crate::engine::StorageError>(moved as usize)
        }
    };
}
pub(crate) use redrive;

/// The [`Queue`](crate::engine::Queue) of a sqlx engine: the same for
/// PostgreSQL and MySQL, written once. Expects `D`, `map_err` and
/// `bind_all` in scope and the engine's pool in `self.pool`.
macro_rules! sqlx_queue {
    ($engine:ty) => {
        #[async_trait::async_trait]
        impl $crate::engine::Queue for $engine {
            async fn enqueue(
                &self,
                subscriptions: &[&str],
                messages: &[Message],
            ) -> $crate::engine::Result<$crate::queue::Enqueued> {
                $crate::sqlx_engines::queue::retrying(|| {
                    $crate::sqlx_engines::publish::enqueue!(self.pool, subscriptions, messages)
                })
                .await
            }

            async fn deliver(
                &self,
                sub: &stackwright_stack::Subscription,
                table: &stackwright_stack::Table,
                limit: usize,
            ) -> $crate::engine::Result<$crate::queue::Delivery> {
                $crate::sqlx_engines::queue::retrying(|| {
                    $crate::sqlx_engines::queue::deliver!(self.pool, sub, table, limit)
                })
                .await
            }

            async fn apply_message(
                &self,
                sub: &stackwright_stack::Subscription,
                table: &stackwright_stack::Table,
                message: &$crate::queue::Message,
            ) -> $crate::engine::Result<bool> {
                $crate::sqlx_engines::queue::retrying(|| {
                    $crate::sqlx_engines::queue::apply_message!(self.pool, sub, table, message)
                })
                .await
            }

            async fn queued(&self, sub: &str) -> $crate::engine::Result<u64> {
                let n: i64 = sqlx::query_scalar(D.count_queued())
                    .bind(sub)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(n as u64)
            }

            async fn dead_letters(
                &self,
                sub: Option<&str>,
            ) -> $crate::engine::Result<Vec<$crate::queue::DeadLetter>> {
                $crate::sqlx_engines::queue::dead_letters!(&self.pool, sub).await
            }

            async fn redrive(
                &self,
                sub: Option<&str>,
                ids: &[String],
            ) -> $crate::engine::Result<usize> {
                $crate::sqlx_engines::queue::retrying(|| {
                    $crate::sqlx_engines::queue::redrive!(self.pool, sub, ids)
                })
                .await
            }

            async fn forget_applied(&self, before_ms: i64) -> $crate::engine::Result<u64> {
                let done = sqlx::query(D.forget_applied())
                    .bind(before_ms)
                    .execute(&self.pool)
                    .await
                    .map_err(map_err)?;
                Ok(done.rows_affected())
            }
        }
    };
}
pub(crate) use sqlx_queue;
