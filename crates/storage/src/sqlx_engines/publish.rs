//! Publishing on PostgreSQL and MySQL/MariaDB: a batch of messages is
//! stored for every subscription in one transaction, a chunk of messages
//! per statement instead of one statement per message and subscription.
//!
//! - PostgreSQL: one `INSERT ... SELECT FROM (VALUES ...)` per chunk, which
//!   skips ids applied already (`NOT EXISTS` on the applied records' key)
//!   or queued (`ON CONFLICT DO NOTHING`) and returns what it stored. Asking
//!   first would let the planner, on a queue table that grew faster than
//!   its statistics, scan every queued message of the subscription.
//! - MySQL: one select of the pairs queued or applied (by primary key),
//!   then one `INSERT IGNORE` of the rest.
//!
//! A message counts as a duplicate when its id is queued or applied for
//! every subscription, or came earlier in the batch. A publisher racing on
//! the same id is stopped by the key; one whose message was applied
//! meanwhile may queue it again, and delivery, which records each id once
//! per subscription, applies it no second time.

use std::collections::HashSet;

use crate::queue::{Enqueued, Message};
use crate::sql::{Dialect, Param};

/// Messages per statement: enough to make statements few, small enough
/// that one statement's parameters stay well inside PostgreSQL's 65,535.
/// (Chosen when sqlx 0.9.0 left Nagle on, and larger statements waited
/// 40 ms for a delayed ACK; bench/topics/RESULTS.md has today's rates.)
pub(crate) const CHUNK: usize = 100;

impl Dialect {
    fn mark(self, n: usize) -> String {
        match self {
            Dialect::Postgres | Dialect::Redshift => format!("${n}"),
            Dialect::Mysql => "?".into(),
        }
    }

    /// The (subscription, id) pairs queued or applied among `ids` distinct
    /// ids of `subscriptions`, and its parameters. Both columns are named,
    /// so both tables answer from their primary key (subscription, id)
    /// instead of a scan.
    pub fn known_ids(self, subscriptions: &[&str], ids: &[&str]) -> (String, Vec<Param>) {
        let marks = |from: usize, n: usize| -> String {
            (from..from + n)
                .map(|i| self.mark(i))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (subs, list) = (
            marks(1, subscriptions.len()),
            marks(subscriptions.len() + 1, ids.len()),
        );
        let filter = format!("subscription IN ({subs}) AND id IN ({list})");
        let sql = format!(
            "SELECT subscription, id FROM _stackwright_messages WHERE {filter} \
             UNION ALL SELECT subscription, id FROM _stackwright_applied WHERE {filter}"
        );
        let params: Vec<Param> = subscriptions
            .iter()
            .chain(ids)
            .map(|v| Param::Text((*v).into()))
            .collect();
        // PostgreSQL numbers its parameters, so the second filter reuses them.
        let params = match self {
            Dialect::Mysql => params.iter().chain(params.iter()).cloned().collect(),
            _ => params,
        };
        (sql, params)
    }

    /// `(sub, id, body)` per row as placeholders, with their parameters.
    fn message_values(self, rows: &[(&str, &str, &str)]) -> (Vec<String>, Vec<Param>) {
        let mut params = Vec::with_capacity(rows.len() * 3);
        let tuples = rows
            .iter()
            .map(|(sub, id, body)| {
                let n = params.len();
                params.extend([
                    Param::Text((*sub).into()),
                    Param::Text((*id).into()),
                    Param::Text((*body).into()),
                ]);
                format!(
                    "{}, {}, {}",
                    self.mark(n + 1),
                    self.mark(n + 2),
                    self.mark(n + 3)
                )
            })
            .collect();
        (tuples, params)
    }

    /// PostgreSQL: one insert of `rows` (subscription, id, body) published
    /// at `now`, except those applied or queued already; it returns the
    /// (subscription, id) pairs it stored.
    pub fn insert_new_messages(rows: &[(&str, &str, &str)], now: i64) -> (String, Vec<Param>) {
        let (tuples, params) = Dialect::Postgres.message_values(rows);
        // `now` is this process's clock, never a client's value.
        let sql = format!(
            "INSERT INTO _stackwright_messages (subscription, id, body, attempts, available_at, published_at) \
             SELECT v.s, v.i, v.b, 0, {now}, {now} FROM (VALUES ({})) AS v (s, i, b) \
             WHERE NOT EXISTS (SELECT 1 FROM _stackwright_applied a WHERE a.subscription = v.s AND a.id = v.i) \
             ON CONFLICT DO NOTHING RETURNING subscription, id",
            tuples.join("), (")
        );
        (sql, params)
    }

    /// MySQL: one insert of `rows` (subscription, id, body), published at
    /// `now`; a row whose key is taken meanwhile is skipped.
    pub fn insert_messages(rows: &[(&str, &str, &str)], now: i64) -> (String, Vec<Param>) {
        let (tuples, params) = Dialect::Mysql.message_values(rows);
        let values: Vec<String> = tuples
            .iter()
            .map(|t| format!("({t}, 0, {now}, {now})"))
            .collect();
        let sql = format!(
            "INSERT IGNORE INTO _stackwright_messages (subscription, id, body, attempts, available_at, published_at) \
             VALUES {}",
            values.join(", ")
        );
        (sql, params)
    }
}

/// The distinct ids of `messages`, in order.
pub(crate) fn ids(messages: &[Message]) -> Vec<&str> {
    let mut seen = HashSet::new();
    messages
        .iter()
        .map(|m| m.id.as_str())
        .filter(|id| seen.insert(*id))
        .collect()
}

/// What to insert, given the pairs `known` already: for each message in
/// order, a row per subscription it is new for; and the counts.
pub(crate) fn plan<'m>(
    subscriptions: &[&'m str],
    messages: &'m [Message],
    bodies: &'m [String],
    known: &mut HashSet<(String, String)>,
) -> (Vec<(&'m str, &'m str, &'m str)>, Enqueued) {
    let mut rows = Vec::new();
    let mut outcome = Enqueued::default();
    for (m, body) in messages.iter().zip(bodies) {
        let mut stored = subscriptions.is_empty();
        for sub in subscriptions {
            if known.insert((sub.to_string(), m.id.clone())) {
                rows.push((*sub, m.id.as_str(), body.as_str()));
                stored = true;
            }
        }
        if stored {
            outcome.accepted += 1;
        } else {
            outcome.duplicates += 1;
        }
    }
    (rows, outcome)
}

/// The counts, given the (subscription, id) pairs the insert stored.
pub(crate) fn counted(
    subscriptions: &[&str],
    messages: &[Message],
    stored: &HashSet<(String, String)>,
) -> Enqueued {
    let mut outcome = Enqueued::default();
    let mut counted = HashSet::new();
    for m in messages {
        let new = subscriptions.is_empty()
            || (counted.insert(m.id.as_str())
                && subscriptions
                    .iter()
                    .any(|s| stored.contains(&(s.to_string(), m.id.clone()))));
        if new {
            outcome.accepted += 1;
        } else {
            outcome.duplicates += 1;
        }
    }
    outcome
}

/// Store messages for subscriptions in one transaction.
macro_rules! enqueue {
    ($pool:expr, $subscriptions:expr, $messages:expr) => {
        async {
            use sqlx::{AssertSqlSafe, Row as _};
            let mut tx = $pool.begin().await.map_err(map_err)?;
            let now = $crate::queue::now_ms();
            let mut outcome = $crate::queue::Enqueued::default();
            for chunk in $messages.chunks($crate::sqlx_engines::publish::CHUNK) {
                // Each body serialized once, whatever the number of subscriptions.
                let bodies = chunk
                    .iter()
                    .map(|m| serde_json::to_string(&m.body))
                    .collect::<Result<Vec<String>, _>>()
                    .map_err(|e| $crate::engine::StorageError::Internal(e.to_string()))?;
                let mut known = std::collections::HashSet::new();
                let counted = match D {
                    $crate::sql::Dialect::Mysql => {
                        // A topic without subscriptions stores nothing: nothing to ask.
                        if !$subscriptions.is_empty() {
                            let ids = $crate::sqlx_engines::publish::ids(chunk);
                            let (sql, params) = D.known_ids($subscriptions, &ids);
                            for row in bind_all(sqlx::query(AssertSqlSafe(sql)), params)
                                .fetch_all(&mut *tx)
                                .await
                                .map_err(map_err)?
                            {
                                let sub: String = row.try_get(0).map_err(map_err)?;
                                let id: String = row.try_get(1).map_err(map_err)?;
                                known.insert((sub, id));
                            }
                        }
                        let (rows, counted) = $crate::sqlx_engines::publish::plan(
                            $subscriptions,
                            chunk,
                            &bodies,
                            &mut known,
                        );
                        if !rows.is_empty() {
                            let (sql, params) = $crate::sql::Dialect::insert_messages(&rows, now);
                            bind_all(sqlx::query(AssertSqlSafe(sql)), params)
                                .execute(&mut *tx)
                                .await
                                .map_err(map_err)?;
                        }
                        counted
                    }
                    _ => {
                        // Each (subscription, id) once; the database skips what it holds.
                        let (rows, _) = $crate::sqlx_engines::publish::plan(
                            $subscriptions,
                            chunk,
                            &bodies,
                            &mut known,
                        );
                        let mut stored = std::collections::HashSet::new();
                        if !rows.is_empty() {
                            let (sql, params) =
                                $crate::sql::Dialect::insert_new_messages(&rows, now);
                            for row in bind_all(sqlx::query(AssertSqlSafe(sql)), params)
                                .fetch_all(&mut *tx)
                                .await
                                .map_err(map_err)?
                            {
                                let sub: String = row.try_get(0).map_err(map_err)?;
                                let id: String = row.try_get(1).map_err(map_err)?;
                                stored.insert((sub, id));
                            }
                        }
                        $crate::sqlx_engines::publish::counted($subscriptions, chunk, &stored)
                    }
                };
                outcome.accepted += counted.accepted;
                outcome.duplicates += counted.duplicates;
            }
            tx.commit().await.map_err(map_err)?;
            Ok::<_, $crate::engine::StorageError>(outcome)
        }
    };
}
pub(crate) use enqueue;

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str) -> (Message, String) {
        let body = serde_json::Map::new();
        (
            Message {
                id: id.into(),
                body,
            },
            "{}".into(),
        )
    }

    #[test]
    fn a_message_is_new_for_the_subscriptions_that_lack_its_id() {
        let (batch, bodies): (Vec<Message>, Vec<String>) =
            ["a", "b", "a", "c"].iter().map(|id| message(id)).unzip();
        let mut known = HashSet::from([
            ("s1".to_string(), "b".to_string()),
            ("s2".into(), "b".into()),
        ]);
        known.insert(("s1".into(), "c".into()));
        let (rows, outcome) = plan(&["s1", "s2"], &batch, &bodies, &mut known);
        assert_eq!(
            rows,
            [("s1", "a", "{}"), ("s2", "a", "{}"), ("s2", "c", "{}")]
        );
        // b is known everywhere, the second a came earlier in the batch.
        assert_eq!((outcome.accepted, outcome.duplicates), (2, 2));
    }

    #[test]
    fn counts_follow_what_the_insert_stored() {
        let batch: Vec<Message> = ["a", "b", "a"].iter().map(|id| message(id).0).collect();
        let stored = HashSet::from([("s1".to_string(), "a".to_string())]);
        let outcome = counted(&["s1", "s2"], &batch, &stored);
        assert_eq!((outcome.accepted, outcome.duplicates), (1, 2));
        assert_eq!(counted(&[], &batch, &HashSet::new()).accepted, 3);
    }

    #[test]
    fn statements_follow_the_dialect() {
        let (sql, params) = Dialect::Mysql.known_ids(&["s"], &["a", "b"]);
        assert!(
            sql.contains("subscription IN (?) AND id IN (?, ?) UNION ALL")
                && sql.ends_with("subscription IN (?) AND id IN (?, ?)"),
            "{sql}"
        );
        assert_eq!(params.len(), 6);
        let (sql, params) = Dialect::insert_messages(&[("s", "a", "{}"), ("s", "b", "{}")], 7);
        assert!(
            sql.starts_with("INSERT IGNORE INTO") && sql.ends_with("(?, ?, ?, 0, 7, 7)"),
            "{sql}"
        );
        assert_eq!(params.len(), 6);
        let (sql, params) = Dialect::insert_new_messages(&[("s", "a", "{}"), ("s", "b", "{}")], 7);
        assert!(
            sql.contains("FROM (VALUES ($1, $2, $3), ($4, $5, $6)) AS v (s, i, b)")
                && sql.ends_with("RETURNING subscription, id"),
            "{sql}"
        );
        assert_eq!(params.len(), 6);
    }
}
