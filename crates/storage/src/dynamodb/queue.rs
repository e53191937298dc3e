//! Topic delivery on DynamoDB (see [`crate::queue`]), in the stack's
//! records table beside its migrations and seed claims:
//!
//! - `msg#SUB#ID`: a message waiting for subscription SUB, with its due
//!   time, attempts, last error and, while a replica applies it, a lease;
//! - `applied#SUB#ID`: the record that it was applied;
//! - `dead#SUB#ID`: a message that failed every attempt.
//!
//! A replica claims a due message with a conditional update (its lease),
//! then applies it in one `TransactWriteItems`: the applied record (only if
//! absent), the row, and the message's removal (only while the lease is
//! its own). So a message is applied exactly once, whatever crashes or
//! races. A failure counts an attempt and backs off; the last moves it to
//! the dead letters. Finding due messages scans the records table: a local
//! queue meant for development-sized backlogs (on AWS, SQS is the queue and
//! only the applied records are kept here).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem, Update};
use serde_json::Value as Json;
use stackwright_stack::{Apply, Stamp, Subscription, Table};

use super::values::*;
use super::{DynamoEngine, META_KEY};
use crate::engine::*;
use crate::queue::{self, DeadLetter, Delivery, Enqueued, Message};

/// How long a replica holds a message it is applying.
const LEASE_MS: i64 = 30_000;

fn message_key(sub: &str, id: &str) -> String {
    format!("msg#{sub}#{id}")
}

fn applied_key(sub: &str, id: &str) -> String {
    format!("applied#{sub}#{id}")
}

fn dead_key(sub: &str, id: &str) -> String {
    format!("dead#{sub}#{id}")
}

fn text(item: &Item, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

fn number(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn write_put(put: Put) -> TransactWriteItem {
    TransactWriteItem::builder().put(put).build()
}

impl DynamoEngine {
    /// Every record whose key starts with `prefix`, read consistently.
    async fn records(&self, prefix: &str) -> Result<Vec<Item>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(self.meta_table())
                .filter_expression("begins_with(#id, :p)")
                .expression_attribute_names("#id", META_KEY)
                .expression_attribute_values(":p", s(prefix))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(err)?;
            out.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }

    /// The write of a message's row: a new item (its key free), or for an
    /// upsert the given attributes set on the item, made if missing.
    async fn row_write(
        &self,
        sub: &Subscription,
        table: &Table,
        row: &Row,
    ) -> Result<TransactWriteItem> {
        let upsert_key = row.get(&table.key).filter(|_| sub.apply == Apply::Upsert);
        let Some(key) = upsert_key else {
            let put = Put::builder()
                .table_name(self.table_name(&table.name))
                .set_item(Some(self.new_item(table, row).await?))
                .condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", &table.key)
                .build()
                .map_err(build_err)?;
            return Ok(write_put(put));
        };
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        for (i, (column, v)) in row.iter().filter(|(c, _)| **c != table.key).enumerate() {
            names.insert(format!("#c{i}"), column.clone());
            let indexed = table.indexes.values().any(|x| x.columns.contains(column));
            if v.is_null() && indexed {
                // An index key attribute cannot be NULL: it is left out.
                removes.push(format!("#c{i}"));
                continue;
            }
            values.insert(format!(":v{i}"), to_av(table.columns[column].ty, v)?);
            if table.columns[column].stamp == Some(Stamp::Created) {
                sets.push(format!("#c{i} = if_not_exists(#c{i}, :v{i})"));
            } else {
                sets.push(format!("#c{i} = :v{i}"));
            }
        }
        if sets.is_empty() {
            // Only the key: make the item if missing, change nothing else.
            names.insert("#k".into(), table.key.clone());
            values.insert(":k".into(), to_av(table.key_column().ty, key)?);
            sets.push("#k = :k".into());
        }
        let mut expression = format!("SET {}", sets.join(", "));
        if !removes.is_empty() {
            expression.push_str(&format!(" REMOVE {}", removes.join(", ")));
        }
        let update = Update::builder()
            .table_name(self.table_name(&table.name))
            .set_key(Some(Self::key_of(table, key)?))
            .update_expression(expression)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(build_err)?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The applied record of `id`, written only if absent.
    fn applied_put(&self, sub: &str, id: &str) -> Result<TransactWriteItem> {
        let put = Put::builder()
            .table_name(self.meta_table())
            .item(META_KEY, s(applied_key(sub, id)))
            .item("applied_at", n(queue::now_ms()))
            .condition_expression("attribute_not_exists(#id)")
            .expression_attribute_names("#id", META_KEY)
            .build()
            .map_err(build_err)?;
        Ok(write_put(put))
    }

    /// Apply one claimed message: Ok(true) applied, Ok(false) a duplicate
    /// (removed), Err(why) it failed; None when the lease was lost.
    async fn apply_claimed(
        &self,
        sub: &Subscription,
        table: &Table,
        id: &str,
        body: &serde_json::Map<String, Json>,
        lease: i64,
    ) -> Option<std::result::Result<bool, String>> {
        let row = queue::row_of(sub, table, body);
        let writes = async {
            let remove = Delete::builder()
                .table_name(self.meta_table())
                .key(META_KEY, s(message_key(&sub.name, id)))
                .condition_expression("lease = :mine")
                .expression_attribute_values(":mine", n(lease))
                .build()
                .map_err(build_err)?;
            Ok::<_, StorageError>([
                self.applied_put(&sub.name, id)?,
                self.row_write(sub, table, &row).await?,
                TransactWriteItem::builder().delete(remove).build(),
            ])
        };
        let writes = match writes.await {
            Ok(w) => w,
            Err(e) => return Some(Err(queue::error_text(&e))),
        };
        let done = self
            .client
            .transact_write_items()
            .set_transact_items(Some(writes.to_vec()))
            .send()
            .await;
        let Err(e) = done else {
            return Some(Ok(true));
        };
        match failed_conditions(e) {
            // Applied before: a duplicate, removed.
            Ok(failed) if failed.first() == Some(&true) => {
                let _ = self
                    .client
                    .delete_item()
                    .table_name(self.meta_table())
                    .key(META_KEY, s(message_key(&sub.name, id)))
                    .send()
                    .await;
                Some(Ok(false))
            }
            // The lease is no longer ours: another replica has it.
            Ok(failed) if failed.get(2) == Some(&true) => None,
            Ok(failed) if failed.get(1) == Some(&true) => {
                Some(Err("a row with this key already exists".into()))
            }
            // Passing trouble (a conflict, throttling): not an attempt.
            Ok(_) | Err(StorageError::Contention(_) | StorageError::Unavailable(_)) => None,
            Err(e) => Some(Err(queue::error_text(&e))),
        }
    }

    /// A failed attempt: back off, or after the last one, a dead letter.
    /// Some(true) dead, Some(false) retried later, None when the lease is
    /// no longer ours (another replica has the message: it counts).
    async fn failed(
        &self,
        sub: &Subscription,
        message: &Item,
        why: &str,
        lease: i64,
    ) -> Result<Option<bool>> {
        let id = text(message, "mid");
        let attempts = number(message, "attempts") + 1;
        let now = queue::now_ms();
        let key = s(message_key(&sub.name, &id));
        if attempts >= i64::from(sub.max_attempts) {
            let dead = Put::builder()
                .table_name(self.meta_table())
                .item(META_KEY, s(dead_key(&sub.name, &id)))
                .item("sub", s(&sub.name))
                .item("mid", s(&id))
                .item("body", s(text(message, "body")))
                .item("attempts", n(attempts))
                .item("last_error", s(why))
                .item("published_at", n(number(message, "published_at")))
                .item("failed_at", n(now))
                .build()
                .map_err(build_err)?;
            let remove = Delete::builder()
                .table_name(self.meta_table())
                .key(META_KEY, key)
                .condition_expression("lease = :mine")
                .expression_attribute_values(":mine", n(lease))
                .build()
                .map_err(build_err)?;
            let done = self
                .client
                .transact_write_items()
                .transact_items(write_put(dead))
                .transact_items(TransactWriteItem::builder().delete(remove).build())
                .send()
                .await;
            return match done {
                Ok(_) => Ok(Some(true)),
                Err(e) => match failed_conditions(e) {
                    Ok(_) | Err(StorageError::Contention(_)) => Ok(None),
                    Err(e) => Err(e),
                },
            };
        }
        let retry_at = queue::retry_at(sub, u32::try_from(attempts).unwrap_or(u32::MAX), now);
        let done = self
            .client
            .update_item()
            .table_name(self.meta_table())
            .key(META_KEY, key)
            .update_expression("SET attempts = :a, available_at = :t, last_error = :e REMOVE lease")
            .condition_expression("lease = :mine")
            .expression_attribute_values(":a", n(attempts))
            .expression_attribute_values(":t", n(retry_at))
            .expression_attribute_values(":e", s(why))
            .expression_attribute_values(":mine", n(lease))
            .send()
            .await;
        match done {
            Ok(_) => Ok(Some(false)),
            Err(e) => match classify(e) {
                Failure::Condition => Ok(None),
                other => Err(fail(other)),
            },
        }
    }

    /// Take a due message for `LEASE_MS`: the lease and the message as it
    /// is now, or None when another replica has it (or it is not due).
    async fn claim(&self, key: &str) -> Result<Option<(i64, Item)>> {
        let now = queue::now_ms();
        let lease = now + LEASE_MS;
        let claimed = self
            .client
            .update_item()
            .table_name(self.meta_table())
            .key(META_KEY, s(key))
            .update_expression("SET lease = :lease")
            .condition_expression(
                "attribute_exists(#id) AND available_at <= :now AND (attribute_not_exists(lease) OR lease < :now)",
            )
            .expression_attribute_names("#id", META_KEY)
            .expression_attribute_values(":lease", n(lease))
            .expression_attribute_values(":now", n(now))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await;
        match claimed {
            Ok(out) => Ok(out.attributes().map(|item| (lease, item.clone()))),
            Err(e) => match classify(e) {
                Failure::Condition => Ok(None),
                other => Err(fail(other)),
            },
        }
    }

    fn dead_letter(item: &Item) -> DeadLetter {
        let body = text(item, "body");
        DeadLetter {
            subscription: text(item, "sub"),
            id: text(item, "mid"),
            message: serde_json::from_str(&body).unwrap_or(Json::String(body)),
            attempts: u32::try_from(number(item, "attempts")).unwrap_or(u32::MAX),
            error: text(item, "last_error"),
            failed_at: number(item, "failed_at"),
        }
    }
}

#[async_trait]
impl Queue for DynamoEngine {
    async fn enqueue(&self, subscriptions: &[&str], messages: &[Message]) -> Result<Enqueued> {
        let mut enqueued = Enqueued::default();
        let now = queue::now_ms();
        for message in messages {
            let body = serde_json::to_string(&message.body)
                .map_err(|e| StorageError::Internal(e.to_string()))?;
            let mut stored = false;
            for sub in subscriptions {
                let never_applied = ConditionCheck::builder()
                    .table_name(self.meta_table())
                    .key(META_KEY, s(applied_key(sub, &message.id)))
                    .condition_expression("attribute_not_exists(#id)")
                    .expression_attribute_names("#id", META_KEY)
                    .build()
                    .map_err(build_err)?;
                let put = Put::builder()
                    .table_name(self.meta_table())
                    .item(META_KEY, s(message_key(sub, &message.id)))
                    .item("sub", s(*sub))
                    .item("mid", s(&message.id))
                    .item("body", s(&body))
                    .item("attempts", n(0))
                    .item("available_at", n(now))
                    .item("published_at", n(now))
                    .condition_expression("attribute_not_exists(#id)")
                    .expression_attribute_names("#id", META_KEY)
                    .build()
                    .map_err(build_err)?;
                let written = self
                    .client
                    .transact_write_items()
                    .transact_items(
                        TransactWriteItem::builder()
                            .condition_check(never_applied)
                            .build(),
                    )
                    .transact_items(write_put(put))
                    .send()
                    .await;
                match written {
                    Ok(_) => stored = true,
                    Err(e) => match failed_conditions(e)? {
                        // Queued or applied already: a duplicate for this one.
                        failed if failed.contains(&true) => {}
                        _ => {
                            return Err(StorageError::Contention(
                                "publishing was cancelled: try again".into(),
                            ))
                        }
                    },
                }
            }
            if stored {
                enqueued.accepted += 1;
            } else {
                enqueued.duplicates += 1;
            }
        }
        Ok(enqueued)
    }

    async fn deliver(&self, sub: &Subscription, table: &Table, limit: usize) -> Result<Delivery> {
        let now = queue::now_ms();
        let mut due: Vec<Item> = self
            .records(&format!("msg#{}#", sub.name))
            .await?
            .into_iter()
            .filter(|m| number(m, "available_at") <= now && number(m, "lease") < now)
            .collect();
        due.sort_by_key(|m| (number(m, "available_at"), number(m, "published_at")));
        let mut delivery = Delivery::default();
        for listed in due.into_iter().take(limit) {
            let id = text(&listed, "mid");
            let Some((lease, message)) = self.claim(&message_key(&sub.name, &id)).await? else {
                continue;
            };
            let body = match serde_json::from_str::<Json>(&text(&message, "body")) {
                Ok(Json::Object(body)) => body,
                _ => serde_json::Map::new(),
            };
            match self.apply_claimed(sub, table, &id, &body, lease).await {
                Some(Ok(true)) => delivery.applied += 1,
                Some(Ok(false)) => delivery.duplicates += 1,
                Some(Err(why)) => match self.failed(sub, &message, &why, lease).await? {
                    Some(true) => delivery.dead += 1,
                    Some(false) => delivery.retried += 1,
                    None => {}
                },
                None => {}
            }
        }
        Ok(delivery)
    }

    async fn apply_message(
        &self,
        sub: &Subscription,
        table: &Table,
        message: &Message,
    ) -> Result<bool> {
        let row = queue::row_of(sub, table, &message.body);
        let done = self
            .client
            .transact_write_items()
            .transact_items(self.applied_put(&sub.name, &message.id)?)
            .transact_items(self.row_write(sub, table, &row).await?)
            .send()
            .await;
        match done {
            Ok(_) => Ok(true),
            Err(e) => match failed_conditions(e)? {
                // Applied before: a redelivery.
                failed if failed.first() == Some(&true) => Ok(false),
                // Not applied before: the row's key was taken (an insert).
                failed if failed.get(1) == Some(&true) => Err(StorageError::Conflict),
                _ => Err(StorageError::Contention(
                    "the transaction was cancelled".into(),
                )),
            },
        }
    }

    async fn queued(&self, sub: &str) -> Result<u64> {
        Ok(self.records(&format!("msg#{sub}#")).await?.len() as u64)
    }

    async fn dead_letters(&self, sub: Option<&str>) -> Result<Vec<DeadLetter>> {
        let prefix = match sub {
            Some(sub) => format!("dead#{sub}#"),
            None => "dead#".into(),
        };
        let mut dead: Vec<DeadLetter> = self
            .records(&prefix)
            .await?
            .iter()
            .map(Self::dead_letter)
            .collect();
        dead.sort_by_key(|d| (d.failed_at, d.id.clone()));
        Ok(dead)
    }

    async fn redrive(&self, sub: Option<&str>, ids: &[String]) -> Result<usize> {
        let prefix = match sub {
            Some(sub) => format!("dead#{sub}#"),
            None => "dead#".into(),
        };
        let now = queue::now_ms();
        let mut moved = 0;
        for item in self.records(&prefix).await? {
            let (sub, id) = (text(&item, "sub"), text(&item, "mid"));
            if !ids.is_empty() && !ids.contains(&id) {
                continue;
            }
            let put = Put::builder()
                .table_name(self.meta_table())
                .item(META_KEY, s(message_key(&sub, &id)))
                .item("sub", s(&sub))
                .item("mid", s(&id))
                .item("body", s(text(&item, "body")))
                .item("attempts", n(0))
                .item("available_at", n(now))
                .item("published_at", n(number(&item, "published_at")))
                .build()
                .map_err(build_err)?;
            let remove = Delete::builder()
                .table_name(self.meta_table())
                .key(META_KEY, s(dead_key(&sub, &id)))
                .condition_expression("attribute_exists(#id)")
                .expression_attribute_names("#id", META_KEY)
                .build()
                .map_err(build_err)?;
            let done = self
                .client
                .transact_write_items()
                .transact_items(write_put(put))
                .transact_items(TransactWriteItem::builder().delete(remove).build())
                .send()
                .await;
            if done.is_ok() {
                moved += 1;
            }
        }
        Ok(moved)
    }

    async fn forget_applied(&self, before_ms: i64) -> Result<u64> {
        let mut forgotten = 0;
        for item in self.records("applied#").await? {
            if number(&item, "applied_at") < before_ms {
                self.client
                    .delete_item()
                    .table_name(self.meta_table())
                    .key(META_KEY, s(text(&item, META_KEY)))
                    .send()
                    .await
                    .map_err(err)?;
                forgotten += 1;
            }
        }
        Ok(forgotten)
    }
}
