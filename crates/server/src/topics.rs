//! Topics: a message is checked against its topic's schema, stored for
//! every subscription before the publish is acknowledged, and applied to
//! the subscription's table by the delivery loop (`crate::queue` in the
//! storage crate says how exactly-once holds).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value as Json};
use stackwright_stack::values::{check_value, normalize};
use stackwright_stack::{Stack, Topic};
use stackwright_storage::queue::{Delivery, Enqueued, Message};
use stackwright_storage::{Engine, StorageError};
use tokio::sync::Notify;

/// Messages applied per transaction: large enough that a transaction's
/// fixed cost (the commit's fsync) is shared by many messages.
const BATCH: usize = 1000;
/// How often the loop looks for due messages (retries come due with time;
/// publishes in this process wake it at once).
const POLL: Duration = Duration::from_millis(500);
/// The pause after the database failed.
const PAUSE_AFTER_FAILURE: Duration = Duration::from_secs(2);
/// How often applied ids past their retention are forgotten.
pub(crate) const FORGET_EVERY: Duration = Duration::from_secs(60 * 60);

/// A message checked against `topic`: an object holding only the topic's
/// fields, each of its type; absent fields take their default, and only
/// nullable ones may stay absent. The error is written for the publisher.
pub fn check_message(topic: &Topic, value: Json) -> Result<Map<String, Json>, String> {
    let Json::Object(mut body) = value else {
        return Err("a message must be a JSON object".into());
    };
    if let Some(unknown) = body.keys().find(|k| !topic.fields.contains_key(*k)) {
        let mut known: Vec<&str> = topic.fields.keys().map(String::as_str).collect();
        known.sort_unstable();
        return Err(format!(
            "unknown field `{}`; topic `{}` has {}",
            stackwright_stack::values::clip(unknown),
            topic.name,
            known.join(", ")
        ));
    }
    for (name, field) in &topic.fields {
        if let Some(v) = body.remove(name) {
            body.insert(name.clone(), normalize(field, v));
        }
        match body.get(name) {
            Some(v) => check_value(field, v).map_err(|why| format!("field `{name}`: {why}"))?,
            None => match &field.default {
                Some(d) => {
                    body.insert(name.clone(), d.clone());
                }
                None if field.nullable => {}
                None => return Err(format!("field `{name}` is missing")),
            },
        }
    }
    Ok(body)
}

/// Store checked messages of `topic` for each of its subscriptions.
pub async fn publish(
    engine: &dyn Engine,
    stack: &Stack,
    topic: &str,
    messages: &[Message],
) -> Result<Enqueued, StorageError> {
    let subscriptions: Vec<&str> = stack
        .subscriptions_of(topic)
        .map(|s| s.name.as_str())
        .collect();
    engine
        .require_queue()?
        .enqueue(&subscriptions, messages)
        .await
}

/// One pass over every subscription: applies what is due, up to one batch each.
pub async fn deliver_due(engine: &dyn Engine, stack: &Stack) -> Result<Delivery, StorageError> {
    let mut total = Delivery::default();
    if !engine.queues_locally() {
        // Its messages arrive through SQS (Redshift): nothing waits here.
        return Ok(total);
    }
    let queue = engine.require_queue()?;
    for sub in &stack.subscriptions {
        let d = queue.deliver(sub, stack.table(&sub.table), BATCH).await?;
        if d.retried + d.dead > 0 {
            tracing::warn!(
                target: "stackwright::topics",
                subscription = %sub.name,
                retried = d.retried,
                dead = d.dead,
                "messages failed"
            );
        }
        total.applied += d.applied;
        total.duplicates += d.duplicates;
        total.retried += d.retried;
        total.dead += d.dead;
    }
    Ok(total)
}

/// Deliver until `stop` is notified: at once after a publish (`wake`),
/// else every [`POLL`]. Database failures are logged and retried.
pub async fn run_delivery(
    engine: Arc<dyn Engine>,
    stack: Arc<Stack>,
    wake: Arc<Notify>,
    stop: Arc<Notify>,
) {
    if stack.subscriptions.is_empty() {
        return;
    }
    loop {
        // Stopping drops a pass in progress: its transaction then commits
        // or rolls back whole, so nothing is lost or applied twice.
        let pass = tokio::select! {
            biased;
            _ = stop.notified() => return,
            pass = deliver_due(engine.as_ref(), &stack) => pass,
        };
        let pause = match pass {
            Ok(d) if d.handled() > 0 => {
                tracing::debug!(target: "stackwright::topics", applied = d.applied, duplicates = d.duplicates, "delivered");
                continue;
            }
            Ok(_) => POLL,
            Err(e) => {
                tracing::warn!(target: "stackwright::topics", error = %e, "delivery failed; retrying");
                PAUSE_AFTER_FAILURE
            }
        };
        tokio::select! {
            _ = stop.notified() => return,
            _ = wake.notified() => {}
            _ = tokio::time::sleep(pause) => {}
        }
    }
}

/// Forget the ids of messages applied longer ago than
/// `APPLIED_RETENTION_MS`, at start and then every hour, for as long as the
/// task runs (it is aborted at shutdown: each pass is one statement).
pub async fn forget_applied(engine: Arc<dyn Engine>, stack: Arc<Stack>) {
    if stack.subscriptions.is_empty() {
        return;
    }
    loop {
        forget_old_applied(engine.as_ref()).await;
        tokio::time::sleep(FORGET_EVERY).await;
    }
}

/// One pass of [`forget_applied`].
pub(crate) async fn forget_old_applied(engine: &dyn Engine) {
    let before =
        stackwright_storage::queue::now_ms() - stackwright_storage::queue::APPLIED_RETENTION_MS;
    let Some(queue) = engine.queue() else {
        return;
    };
    match queue.forget_applied(before).await {
        Ok(0) => {}
        Ok(forgotten) => tracing::info!(
            target: "stackwright::topics",
            forgotten,
            "forgot the ids of messages applied more than 30 days ago"
        ),
        Err(e) => {
            tracing::warn!(target: "stackwright::topics", error = %e, "cannot forget old applied ids")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexmap::IndexMap;
    use serde_json::json;
    use stackwright_stack::{Auth, Column, ColumnType};

    fn topic() -> Topic {
        let column = |name: &str, ty, nullable, default| Column {
            name: name.into(),
            ty,
            nullable,
            default,
            allowed: None,
            generated: false,
            stamp: None,
        };
        let mut fields = IndexMap::new();
        fields.insert("id".into(), column("id", ColumnType::Integer, true, None));
        fields.insert(
            "name".into(),
            column("name", ColumnType::String { max_length: 5 }, false, None),
        );
        fields.insert(
            "kind".into(),
            column("kind", ColumnType::Text, false, Some(json!("x"))),
        );
        Topic {
            name: "t".into(),
            fields,
            auth: Auth::None,
        }
    }

    #[test]
    fn messages_are_checked_against_the_schema() {
        let t = topic();
        let ok = check_message(&t, json!({"name": "ab"})).unwrap();
        assert_eq!(Json::Object(ok), json!({"name": "ab", "kind": "x"}));
        for (bad, why) in [
            (json!([1]), "JSON object"),
            (json!({"name": "ab", "zz": 1}), "unknown field `zz`"),
            (json!({"name": "abcdefgh"}), "field `name`"),
            (json!({"id": "1", "name": "a"}), "field `id`"),
            (json!({}), "field `name` is missing"),
        ] {
            let err = check_message(&t, bad.clone()).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
