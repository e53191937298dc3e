//! Durable topic delivery, shared by the SQL engines.
//!
//! A published message is stored once per subscription
//! (`_stackwright_messages`) before the publish is acknowledged. Delivery
//! claims a batch, and applies each message in the same transaction that
//! records it as applied (`_stackwright_applied`) and removes it from the
//! queue: a crash before the commit leaves the message queued, after it
//! leaves it applied, so every message is applied exactly once. A message
//! that fails is retried with exponential backoff and, after the
//! subscription's `max_attempts`, moved to `_stackwright_dead_letters`,
//! where `stackwright dlq` lists and re-drives it.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value as Json;
use stackwright_stack::{Subscription, Table};

use crate::error::Row;

/// The longest wait between two attempts.
const MAX_BACKOFF_MS: i64 = 15 * 60 * 1000;

/// How long an applied message's id is remembered, so that publishing it
/// again, or a queue delivering it again, is recognised as a duplicate.
/// Longer than SQS keeps a message (14 days at most), so no redelivery can
/// outlive its record; older records are forgotten, or the table would
/// grow with every message ever applied.
pub const APPLIED_RETENTION_MS: i64 = 30 * 24 * 60 * 60 * 1000;

/// A validated message (field -> value) and its id.
#[derive(Debug, Clone)]
pub struct Message {
    pub id: String,
    pub body: serde_json::Map<String, Json>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Enqueued {
    /// Messages stored for delivery (counted once, whatever the number of subscriptions).
    pub accepted: usize,
    /// Messages whose id was already queued or applied: stored nowhere again.
    pub duplicates: usize,
}

/// What one delivery pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Delivery {
    pub applied: usize,
    /// Already applied (a redelivery): removed without applying again.
    pub duplicates: usize,
    /// Failed and scheduled for another attempt.
    pub retried: usize,
    /// Failed for the last allowed time: moved to the dead letters.
    pub dead: usize,
}

impl Delivery {
    pub fn handled(&self) -> usize {
        self.applied + self.duplicates + self.retried + self.dead
    }
}

/// A message that failed every attempt.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeadLetter {
    pub subscription: String,
    pub id: String,
    pub message: Json,
    pub attempts: u32,
    pub error: String,
    /// Milliseconds since the Unix epoch.
    pub failed_at: i64,
}

pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// When the next attempt may run after `attempts` failed ones.
pub fn retry_at(sub: &Subscription, attempts: u32, now: i64) -> i64 {
    let base = i64::from(sub.backoff_seconds) * 1000;
    let factor = 1i64 << attempts.saturating_sub(1).min(20);
    now + base.saturating_mul(factor).min(MAX_BACKOFF_MS)
}

/// The row a message becomes: mapped columns, with absent fields left out
/// (the column's default or NULL applies), and stamped columns the time. A generated string key no field
/// gives is a new UUID, as a create route makes it (the database numbers a
/// generated integer key itself).
pub fn row_of(sub: &Subscription, table: &Table, body: &serde_json::Map<String, Json>) -> Row {
    let mut row = Row::with_capacity(sub.map.len() + 1);
    for (column, field) in &sub.map {
        if let Some(v) = body.get(field) {
            row.insert(column.clone(), v.clone());
        }
    }
    // Read the clock only for a table with stamps: this runs per message.
    let time = std::cell::OnceCell::new();
    for c in table.columns.values().filter(|c| c.stamp.is_some()) {
        if !row.contains_key(&c.name) {
            let now = time.get_or_init(stackwright_stack::values::now).clone();
            row.insert(c.name.clone(), now);
        }
    }
    let key = table.key_column();
    if key.generated && !key.ty.is_integer() && !row.contains_key(&table.key) {
        row.insert(
            table.key.clone(),
            Json::String(uuid::Uuid::new_v4().to_string()),
        );
    }
    row
}

/// A failure's text as stored with the message: bounded, one line.
pub fn error_text(e: &impl std::fmt::Display) -> String {
    let mut text = e.to_string().replace('\n', " ");
    if text.len() > 1000 {
        let mut end = 1000;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackwright_stack::Apply;

    fn sub(backoff_seconds: u32) -> Subscription {
        Subscription {
            name: "t-x".into(),
            topic: "t".into(),
            table: "x".into(),
            apply: Apply::Insert,
            map: vec![("a".into(), "b".into()), ("c".into(), "c".into())],
            max_attempts: 5,
            backoff_seconds,
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let s = sub(2);
        assert_eq!(retry_at(&s, 1, 0), 2_000);
        assert_eq!(retry_at(&s, 2, 0), 4_000);
        assert_eq!(retry_at(&s, 3, 0), 8_000);
        assert_eq!(retry_at(&s, 40, 0), MAX_BACKOFF_MS);
        assert_eq!(retry_at(&sub(0), 3, 7), 7);
    }

    fn table() -> Table {
        let stack = stackwright_stack::validate::parse(
            std::path::Path::new("stackwright.toml"),
            "name = \"s\"\n[tables.x]\nkey = \"k\"\n[tables.x.columns]\nk = { type = \"string\", max_length = 36, generated = true }\na = { type = \"integer\" }\n",
        )
        .expect("a stack");
        stack.tables["x"].clone()
    }

    #[test]
    fn rows_follow_the_map_and_leave_absent_fields_out() {
        let body = serde_json::json!({"b": 1, "z": 2})
            .as_object()
            .unwrap()
            .clone();
        let row = row_of(&sub(1), &table(), &body);
        assert_eq!(row["a"], 1);
        // The generated string key no field gives: a new UUID each time.
        assert_eq!(row.len(), 2);
        let key = row["k"].as_str().unwrap().to_string();
        assert!(uuid::Uuid::parse_str(&key).is_ok(), "{key}");
        assert_ne!(row_of(&sub(1), &table(), &body)["k"], row["k"]);
    }
}
