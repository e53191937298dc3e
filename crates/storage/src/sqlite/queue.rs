//! Topic delivery on SQLite (see [`crate::queue`]). Every function runs on
//! one pooled connection, on a blocking thread, inside one IMMEDIATE
//! transaction: SQLite has one writer, so a batch is claimed simply by
//! holding the write lock while it is applied.

use async_trait::async_trait;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection, TransactionBehavior};
use serde_json::Value as Json;
use stackwright_stack::{Apply, Subscription, Table};

use super::{map_err, quote, to_sql, Shape, SqliteEngine};
use crate::engine::Queue;
use crate::engine::{Result, StorageError};
use crate::queue::{self, DeadLetter, Delivery, Enqueued, Message};

pub(super) const TABLES: &str = "
CREATE TABLE IF NOT EXISTS _stackwright_messages (
    subscription TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    available_at INTEGER NOT NULL,
    published_at INTEGER NOT NULL,
    last_error TEXT,
    PRIMARY KEY (subscription, id)
) STRICT;
CREATE INDEX IF NOT EXISTS _stackwright_messages_due
    ON _stackwright_messages (subscription, available_at, published_at);
CREATE TABLE IF NOT EXISTS _stackwright_applied (
    subscription TEXT NOT NULL,
    id TEXT NOT NULL,
    applied_at INTEGER NOT NULL,
    PRIMARY KEY (subscription, id)
) STRICT, WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS _stackwright_dead_letters (
    subscription TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    last_error TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    failed_at INTEGER NOT NULL,
    PRIMARY KEY (subscription, id)
) STRICT;
";

pub(super) fn enqueue(
    conn: &mut Connection,
    subscriptions: &[String],
    messages: &[Message],
) -> Result<Enqueued> {
    // A publish is acknowledged after this commit: FULL makes the commit
    // survive power loss too, not only a crash of the process.
    conn.execute_batch("PRAGMA synchronous = FULL")
        .map_err(map_err)?;
    let result = (|| {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(map_err)?;
        let now = queue::now_ms();
        let mut outcome = Enqueued::default();
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO _stackwright_messages (subscription, id, body, attempts, available_at, published_at) \
                     SELECT ?1, ?2, ?3, 0, ?4, ?4 \
                     WHERE NOT EXISTS (SELECT 1 FROM _stackwright_applied WHERE subscription = ?1 AND id = ?2) \
                     ON CONFLICT DO NOTHING",
                )
                .map_err(map_err)?;
            for m in messages {
                let body = Json::Object(m.body.clone()).to_string();
                let mut stored = subscriptions.is_empty();
                for sub in subscriptions {
                    stored |= insert
                        .execute(params![sub, m.id, body, now])
                        .map_err(map_err)?
                        > 0;
                }
                if stored {
                    outcome.accepted += 1;
                } else {
                    outcome.duplicates += 1;
                }
            }
        }
        tx.commit().map_err(map_err)?;
        Ok(outcome)
    })();
    conn.execute_batch("PRAGMA synchronous = NORMAL")
        .map_err(map_err)?;
    result
}

/// The statement applying one message's row.
fn apply_sql(
    shape: &Shape,
    apply: Apply,
    row: &crate::engine::Row,
) -> Result<(String, Vec<SqlValue>)> {
    let mut names = Vec::with_capacity(row.len());
    let mut values = Vec::with_capacity(row.len());
    for (name, v) in row {
        names.push(quote(name));
        values.push(to_sql(shape.ty(name)?, v)?);
    }
    let mut sql = format!(
        "INSERT INTO {} ({}) VALUES ({})",
        quote(&shape.table),
        names.join(", "),
        vec!["?"; names.len()].join(", ")
    );
    if apply == Apply::Upsert {
        let sets: Vec<String> = row
            .keys()
            .filter(|c| shape.replaced(c))
            .map(|c| format!("{q} = excluded.{q}", q = quote(c)))
            .collect();
        if sets.is_empty() {
            sql.push_str(&format!(" ON CONFLICT ({}) DO NOTHING", quote(&shape.key)));
        } else {
            sql.push_str(&format!(
                " ON CONFLICT ({}) DO UPDATE SET {}",
                quote(&shape.key),
                sets.join(", ")
            ));
        }
    }
    Ok((sql, values))
}

pub(super) fn deliver(
    conn: &mut Connection,
    sub: &Subscription,
    table: &Table,
    limit: usize,
) -> Result<Delivery> {
    let shape = Shape::of(table);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let now = queue::now_ms();
    let batch: Vec<(String, String, i64, i64)> = {
        let mut due = tx
            .prepare_cached(
                "SELECT id, body, attempts, published_at FROM _stackwright_messages \
                 WHERE subscription = ? AND available_at <= ? \
                 ORDER BY available_at, published_at LIMIT ?",
            )
            .map_err(map_err)?;
        let rows = due
            .query_map(params![sub.name, now, limit as i64], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })
            .map_err(map_err)?;
        rows.collect::<rusqlite::Result<_>>().map_err(map_err)?
    };
    if batch.is_empty() {
        return Ok(Delivery::default());
    }
    // Fast path: the whole batch at once, one statement per row plus three
    // for the batch. Any failure (a duplicate, a row that does not apply)
    // undoes it, and the batch goes through one message at a time.
    tx.execute_batch("SAVEPOINT batch").map_err(map_err)?;
    match apply_batch(&tx, &shape, table, sub, &batch, now, limit) {
        Ok(()) => {
            tx.execute_batch("RELEASE batch").map_err(map_err)?;
            tx.commit().map_err(map_err)?;
            return Ok(Delivery {
                applied: batch.len(),
                ..Delivery::default()
            });
        }
        Err(e @ StorageError::Unavailable(_)) => return Err(e),
        Err(e) => {
            tracing::debug!(target: "stackwright::topics", error = %e, "the batch failed as a whole; one message at a time");
            tx.execute_batch("ROLLBACK TO batch; RELEASE batch")
                .map_err(map_err)?
        }
    }
    let mut outcome = Delivery::default();
    for (id, body, attempts, published_at) in batch {
        tx.execute_batch("SAVEPOINT message").map_err(map_err)?;
        let marked = tx
            .prepare_cached(
                "INSERT INTO _stackwright_applied (subscription, id, applied_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            )
            .and_then(|mut s| s.execute(params![sub.name, id, now]))
            .map_err(map_err)?;
        let applied = if marked == 0 {
            outcome.duplicates += 1;
            Ok(())
        } else {
            apply_one(&tx, &shape, table, sub, &body)
        };
        match applied {
            Ok(()) => {
                tx.prepare_cached(
                    "DELETE FROM _stackwright_messages WHERE subscription = ? AND id = ?",
                )
                .and_then(|mut s| s.execute(params![sub.name, id]))
                .map_err(map_err)?;
                tx.execute_batch("RELEASE message").map_err(map_err)?;
                if marked > 0 {
                    outcome.applied += 1;
                }
            }
            // The database itself failed: the batch stops, nothing counts as an attempt.
            Err(e @ StorageError::Unavailable(_)) => return Err(e),
            Err(e) => {
                tx.execute_batch("ROLLBACK TO message; RELEASE message")
                    .map_err(map_err)?;
                let attempts = attempts as u32 + 1;
                let error = queue::error_text(&e);
                if attempts >= sub.max_attempts {
                    tx.execute(
                        "INSERT INTO _stackwright_dead_letters (subscription, id, body, attempts, last_error, published_at, failed_at) \
                         VALUES (?, ?, ?, ?, ?, ?, ?) \
                         ON CONFLICT (subscription, id) DO UPDATE SET body = excluded.body, attempts = excluded.attempts, \
                         last_error = excluded.last_error, failed_at = excluded.failed_at",
                        params![sub.name, id, body, attempts, error, published_at, now],
                    )
                    .map_err(map_err)?;
                    tx.execute(
                        "DELETE FROM _stackwright_messages WHERE subscription = ? AND id = ?",
                        params![sub.name, id],
                    )
                    .map_err(map_err)?;
                    outcome.dead += 1;
                } else {
                    tx.execute(
                        "UPDATE _stackwright_messages SET attempts = ?, available_at = ?, last_error = ? \
                         WHERE subscription = ? AND id = ?",
                        params![attempts, queue::retry_at(sub, attempts, now), error, sub.name, id],
                    )
                    .map_err(map_err)?;
                    outcome.retried += 1;
                }
            }
        }
    }
    tx.commit().map_err(map_err)?;
    Ok(outcome)
}

/// The due messages of the batch just selected (same statement, same
/// transaction, so the same rows).
const CLAIMED: &str =
    "SELECT rowid FROM _stackwright_messages WHERE subscription = ?1 AND available_at <= ?2 \
     ORDER BY available_at, published_at LIMIT ?3";

fn apply_batch(
    tx: &Connection,
    shape: &Shape,
    table: &Table,
    sub: &Subscription,
    batch: &[(String, String, i64, i64)],
    now: i64,
    limit: usize,
) -> Result<()> {
    for (_, body, _, _) in batch {
        apply_one(tx, shape, table, sub, body)?;
    }
    // Any id applied before makes this fail: the slow path sorts it out.
    tx.prepare_cached(&format!(
        "INSERT INTO _stackwright_applied (subscription, id, applied_at) \
         SELECT subscription, id, ?4 FROM _stackwright_messages WHERE rowid IN ({CLAIMED})"
    ))
    .and_then(|mut st| st.execute(params![sub.name, now, limit as i64, now]))
    .map_err(map_err)?;
    let removed = tx
        .prepare_cached(&format!(
            "DELETE FROM _stackwright_messages WHERE rowid IN ({CLAIMED})"
        ))
        .and_then(|mut st| st.execute(params![sub.name, now, limit as i64]))
        .map_err(map_err)?;
    if removed != batch.len() {
        return Err(StorageError::Internal(format!(
            "removed {removed} messages of a batch of {}",
            batch.len()
        )));
    }
    Ok(())
}

fn apply_one(
    conn: &Connection,
    shape: &Shape,
    table: &Table,
    sub: &Subscription,
    body: &str,
) -> Result<()> {
    let body: serde_json::Map<String, Json> = serde_json::from_str(body)
        .map_err(|e| StorageError::Internal(format!("stored message is not a JSON object: {e}")))?;
    let row = queue::row_of(sub, table, &body);
    let (sql, values) = apply_sql(shape, sub.apply, &row)?;
    conn.prepare_cached(&sql)
        .and_then(|mut s| s.execute(params_from_iter(values)))
        .map_err(map_err)?;
    Ok(())
}

pub(super) fn apply_message(
    conn: &mut Connection,
    sub: &Subscription,
    table: &Table,
    message: &Message,
) -> Result<bool> {
    let shape = Shape::of(table);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let marked = tx
        .prepare_cached(
            "INSERT INTO _stackwright_applied (subscription, id, applied_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .and_then(|mut s| s.execute(params![sub.name, message.id, queue::now_ms()]))
        .map_err(map_err)?;
    if marked > 0 {
        let row = queue::row_of(sub, table, &message.body);
        let (sql, values) = apply_sql(&shape, sub.apply, &row)?;
        tx.prepare_cached(&sql)
            .and_then(|mut s| s.execute(params_from_iter(values)))
            .map_err(map_err)?;
    }
    tx.commit().map_err(map_err)?;
    Ok(marked > 0)
}

pub(super) fn queued(conn: &mut Connection, sub: &str) -> Result<u64> {
    conn.query_row(
        "SELECT COUNT(*) FROM _stackwright_messages WHERE subscription = ?",
        [sub],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n as u64)
    .map_err(map_err)
}

pub(super) fn forget_applied(conn: &mut Connection, before_ms: i64) -> Result<u64> {
    conn.execute(
        "DELETE FROM _stackwright_applied WHERE applied_at < ?",
        [before_ms],
    )
    .map(|n| n as u64)
    .map_err(map_err)
}

/// ` AND subscription = ?` and ` AND id IN (...)` with their values.
fn which(sub: Option<&str>, ids: &[String]) -> (String, Vec<String>) {
    let mut sql = String::new();
    let mut values = Vec::new();
    if let Some(s) = sub {
        sql.push_str(" AND subscription = ?");
        values.push(s.to_string());
    }
    if !ids.is_empty() {
        sql.push_str(&format!(" AND id IN ({})", vec!["?"; ids.len()].join(", ")));
        values.extend(ids.iter().cloned());
    }
    (sql, values)
}

pub(super) fn dead_letters(conn: &mut Connection, sub: Option<&str>) -> Result<Vec<DeadLetter>> {
    let (filter, values) = which(sub, &[]);
    let mut stmt = conn
        .prepare(&format!(
            "SELECT subscription, id, body, attempts, last_error, failed_at FROM _stackwright_dead_letters \
             WHERE 1 = 1{filter} ORDER BY failed_at, id"
        ))
        .map_err(map_err)?;
    let rows = stmt
        .query_map(params_from_iter(values), |r| {
            let body: String = r.get(2)?;
            Ok(DeadLetter {
                subscription: r.get(0)?,
                id: r.get(1)?,
                message: serde_json::from_str(&body).unwrap_or(Json::String(body)),
                attempts: r.get::<_, i64>(3)? as u32,
                error: r.get(4)?,
                failed_at: r.get(5)?,
            })
        })
        .map_err(map_err)?;
    rows.collect::<rusqlite::Result<_>>().map_err(map_err)
}

pub(super) fn redrive(conn: &mut Connection, sub: Option<&str>, ids: &[String]) -> Result<usize> {
    let (filter, values) = which(sub, ids);
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    let now = queue::now_ms();
    let mut all = vec![now.to_string()];
    all.extend(values.iter().cloned());
    tx.execute(
        &format!(
            "INSERT INTO _stackwright_messages (subscription, id, body, attempts, available_at, published_at) \
             SELECT subscription, id, body, 0, CAST(? AS INTEGER), published_at FROM _stackwright_dead_letters \
             WHERE 1 = 1{filter} ON CONFLICT DO NOTHING"
        ),
        params_from_iter(all),
    )
    .map_err(map_err)?;
    let moved = tx
        .execute(
            &format!("DELETE FROM _stackwright_dead_letters WHERE 1 = 1{filter}"),
            params_from_iter(values),
        )
        .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(moved)
}

#[async_trait]
impl Queue for SqliteEngine {
    async fn enqueue(&self, subscriptions: &[&str], messages: &[Message]) -> Result<Enqueued> {
        let subscriptions: Vec<String> = subscriptions.iter().map(|s| s.to_string()).collect();
        let messages = messages.to_vec();
        self.run(move |c| enqueue(c, &subscriptions, &messages))
            .await
    }

    async fn deliver(&self, sub: &Subscription, table: &Table, limit: usize) -> Result<Delivery> {
        let (sub, table) = (sub.clone(), table.clone());
        self.run(move |c| deliver(c, &sub, &table, limit)).await
    }

    async fn apply_message(
        &self,
        sub: &Subscription,
        table: &Table,
        message: &Message,
    ) -> Result<bool> {
        let (sub, table, message) = (sub.clone(), table.clone(), message.clone());
        self.run(move |c| apply_message(c, &sub, &table, &message))
            .await
    }

    async fn queued(&self, sub: &str) -> Result<u64> {
        let sub = sub.to_string();
        self.run(move |c| queued(c, &sub)).await
    }

    async fn dead_letters(&self, sub: Option<&str>) -> Result<Vec<DeadLetter>> {
        let sub = sub.map(str::to_string);
        self.run(move |c| dead_letters(c, sub.as_deref())).await
    }

    async fn redrive(&self, sub: Option<&str>, ids: &[String]) -> Result<usize> {
        let (sub, ids) = (sub.map(str::to_string), ids.to_vec());
        self.run(move |c| redrive(c, sub.as_deref(), &ids)).await
    }

    async fn forget_applied(&self, before_ms: i64) -> Result<u64> {
        self.run(move |c| forget_applied(c, before_ms)).await
    }
}
