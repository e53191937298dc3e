//! Publishing on PostgreSQL and MySQL/MariaDB: a batch of messages is
//! stored for every subscription in one transaction, with two statements
//! per chunk of messages (which of their ids are queued or applied already;
//! one multi-row insert of the rest) instead of one statement per message
//! and subscription.
//!
//! A message counts as a duplicate when its id is queued or applied for
//! every subscription, or came earlier in the batch. A publisher racing on
//! the same id between the two statements is stopped by the key (the
//! insert skips it); one whose message was applied meanwhile queues it
//! again, and delivery, which records each id once per subscription,
//! applies it no second time.

use std::collections::HashSet;

use crate::queue::{Enqueued, Message};
use crate::sql::{Dialect, Param};

/// Messages per statement pair: at most 3 parameters per row per
/// subscription, far below either driver's limit.
pub(crate) const CHUNK: usize = 500;

impl Dialect {
    fn mark(self, n: usize) -> String {
        match self {
            Dialect::Postgres | Dialect::Redshift => format!("${n}"),
            Dialect::Mysql => "?".into(),
        }
    }

    /// The (subscription, id) pairs queued or applied among `ids` distinct
    /// ids, and its parameters.
    pub fn known_ids(self, ids: &[&str]) -> (String, Vec<Param>) {
        let marks: Vec<String> = (1..=ids.len()).map(|n| self.mark(n)).collect();
        let list = marks.join(", ");
        let sql = format!(
            "SELECT subscription, id FROM _stackwright_messages WHERE id IN ({list}) \
             UNION ALL SELECT subscription, id FROM _stackwright_applied WHERE id IN ({list})"
        );
        let params: Vec<Param> = ids.iter().map(|id| Param::Text((*id).into())).collect();
        // PostgreSQL numbers its parameters, so the second list reuses them.
        let params = match self {
            Dialect::Mysql => params.iter().chain(params.iter()).cloned().collect(),
            _ => params,
        };
        (sql, params)
    }

    /// One insert of `rows` (subscription, id, body), published at `now`;
    /// a row whose key is taken meanwhile is skipped.
    pub fn insert_messages(self, rows: &[(&str, &str, &str)], now: i64) -> (String, Vec<Param>) {
        let mut params = Vec::with_capacity(rows.len() * 3);
        let tuples: Vec<String> = rows
            .iter()
            .map(|(sub, id, body)| {
                let n = params.len();
                params.extend([
                    Param::Text((*sub).into()),
                    Param::Text((*id).into()),
                    Param::Text((*body).into()),
                ]);
                // `now` is this process's clock, never a client's value.
                format!(
                    "({}, {}, {}, 0, {now}, {now})",
                    self.mark(n + 1),
                    self.mark(n + 2),
                    self.mark(n + 3)
                )
            })
            .collect();
        let columns =
            "_stackwright_messages (subscription, id, body, attempts, available_at, published_at)";
        let sql = match self {
            Dialect::Mysql => format!("INSERT IGNORE INTO {columns} VALUES {}", tuples.join(", ")),
            _ => format!(
                "INSERT INTO {columns} VALUES {} ON CONFLICT DO NOTHING",
                tuples.join(", ")
            ),
        };
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
    messages: &'m [(Message, String)],
    known: &mut HashSet<(String, String)>,
) -> (Vec<(&'m str, &'m str, &'m str)>, Enqueued) {
    let mut rows = Vec::new();
    let mut outcome = Enqueued::default();
    for (m, body) in messages {
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

/// Store messages for subscriptions in one transaction.
macro_rules! enqueue {
    ($pool:expr, $subscriptions:expr, $messages:expr) => {
        async {
            use sqlx::{AssertSqlSafe, Row as _};
            let mut tx = $pool.begin().await.map_err(map_err)?;
            let now = $crate::queue::now_ms();
            let mut outcome = $crate::queue::Enqueued::default();
            for chunk in $messages.chunks($crate::sqlx_engines::publish::CHUNK) {
                let ids = $crate::sqlx_engines::publish::ids(chunk);
                let (sql, params) = D.known_ids(&ids);
                let mut known = std::collections::HashSet::new();
                for row in bind_all(sqlx::query(AssertSqlSafe(sql)), params)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(map_err)?
                {
                    let sub: String = row.try_get(0).map_err(map_err)?;
                    let id: String = row.try_get(1).map_err(map_err)?;
                    known.insert((sub, id));
                }
                let bodies: Vec<($crate::queue::Message, String)> = chunk
                    .iter()
                    .map(|m| {
                        (
                            m.clone(),
                            serde_json::Value::Object(m.body.clone()).to_string(),
                        )
                    })
                    .collect();
                let (rows, counted) =
                    $crate::sqlx_engines::publish::plan($subscriptions, &bodies, &mut known);
                if !rows.is_empty() {
                    let (sql, params) = D.insert_messages(&rows, now);
                    bind_all(sqlx::query(AssertSqlSafe(sql)), params)
                        .execute(&mut *tx)
                        .await
                        .map_err(map_err)?;
                }
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
        let batch = [message("a"), message("b"), message("a"), message("c")];
        let mut known = HashSet::from([
            ("s1".to_string(), "b".to_string()),
            ("s2".into(), "b".into()),
        ]);
        known.insert(("s1".into(), "c".into()));
        let (rows, outcome) = plan(&["s1", "s2"], &batch, &mut known);
        assert_eq!(
            rows,
            [("s1", "a", "{}"), ("s2", "a", "{}"), ("s2", "c", "{}")]
        );
        // b is known everywhere, the second a came earlier in the batch.
        assert_eq!((outcome.accepted, outcome.duplicates), (2, 2));
    }

    #[test]
    fn statements_follow_the_dialect() {
        let (sql, params) = Dialect::Postgres.known_ids(&["a", "b"]);
        assert!(
            sql.contains("IN ($1, $2) UNION ALL") && sql.ends_with("IN ($1, $2)"),
            "{sql}"
        );
        assert_eq!(params.len(), 2);
        let (sql, params) = Dialect::Mysql.known_ids(&["a", "b"]);
        assert!(sql.ends_with("IN (?, ?)"), "{sql}");
        assert_eq!(params.len(), 4);
        let (sql, params) =
            Dialect::Postgres.insert_messages(&[("s", "a", "{}"), ("s", "b", "{}")], 7);
        assert!(
            sql.contains("($4, $5, $6, 0, 7, 7) ON CONFLICT DO NOTHING"),
            "{sql}"
        );
        assert_eq!(params.len(), 6);
        let (sql, _) = Dialect::Mysql.insert_messages(&[("s", "a", "{}")], 7);
        assert!(sql.starts_with("INSERT IGNORE INTO"), "{sql}");
    }
}
