//! `stackwright dlq list|redrive --env NAME`: the dead letters of a deployed
//! environment, in each subscription's SQS dead-letter queue.
//!
//! `list` looks without taking: it receives with a visibility timeout of
//! zero, so every message stays where it is (SQS counts the look as one
//! more receive). `redrive` moves each message back to its subscription's
//! queue: send, then delete from the dead-letter queue. A message sent but
//! not deleted (the command stopped between the two) is sent again by the
//! next redrive; the subscriber applies a message id once, so it is still
//! applied once. SQS keeps no error with a message: the subscriber's logs
//! (`stackwright logs`) have it.

use std::collections::HashSet;

use anyhow::{anyhow, bail};
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde::Serialize;
use serde_json::{json, Value as Json};
use stackwright_synth::outputs::{dead_letter_queue_url, subscription_id, subscription_queue_url};
use stackwright_synth::Layer;

use super::{open, Target};
use crate::output::Output;

/// The most messages one receive returns.
const BATCH: i32 = 10;

/// A dead letter as `list` shows it.
#[derive(Debug, Serialize)]
struct Letter {
    subscription: String,
    /// The published message's id (what the subscriber records), when the
    /// envelope carries it; else SQS's.
    id: String,
    /// Receives so far: the attempts that failed, and the looks.
    attempts: u64,
    message: Json,
}

/// One subscription's queues, from the app layer's outputs.
struct Queues {
    subscription: String,
    queue: String,
    dead: String,
}

async fn queues(
    target: &Target,
    subscription: Option<&str>,
    out: &Output,
) -> anyhow::Result<Option<(aws_sdk_sqs::Client, Vec<Queues>)>> {
    let Some(ctx) = open(target, out).await? else {
        return Ok(None);
    };
    crate::check_subscription(&ctx.stack, subscription)?;
    let app = ctx.stack_name(Layer::App);
    if ctx.cloud.status(&app).await?.is_none() {
        bail!(
            "{} is not deployed: run `stackwright deploy --env {}`",
            ctx.prefix,
            target.env
        );
    }
    let outputs = ctx.cloud.outputs(&app).await?;
    let mut found = Vec::new();
    for sub in &ctx.stack.subscriptions {
        if subscription.is_some_and(|s| s != sub.name) {
            continue;
        }
        let id = subscription_id(&sub.name);
        let get = |name: String| {
            outputs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
                .ok_or_else(|| {
                    anyhow!("{app} has no output {name}: deploy this version of the stack first")
                })
        };
        found.push(Queues {
            subscription: sub.name.clone(),
            queue: get(subscription_queue_url(&id))?,
            dead: get(dead_letter_queue_url(&id))?,
        });
    }
    Ok(Some((
        aws_sdk_sqs::Client::new(ctx.aws.sdk_config()),
        found,
    )))
}

/// The published id and the message of an SNS envelope (raw delivery off).
fn unwrap(body: &str) -> (Option<String>, Json) {
    let Ok(envelope) = serde_json::from_str::<Json>(body) else {
        return (None, Json::String(body.to_string()));
    };
    let id = envelope["MessageAttributes"][stackwright_stack::env::MESSAGE_ID_ATTRIBUTE]["Value"]
        .as_str()
        .map(str::to_string);
    let message = envelope["Message"]
        .as_str()
        .map(|m| serde_json::from_str(m).unwrap_or_else(|_| Json::String(m.to_string())))
        .unwrap_or(envelope);
    (id, message)
}

pub async fn list(
    target: &Target,
    subscription: Option<&str>,
    limit: usize,
    out: &Output,
) -> anyhow::Result<std::process::ExitCode> {
    let Some((sqs, all)) = queues(target, subscription, out).await? else {
        return Ok(std::process::ExitCode::FAILURE);
    };
    let mut counts = serde_json::Map::new();
    let mut letters = Vec::new();
    for q in &all {
        let attributes = sqs
            .get_queue_attributes()
            .queue_url(&q.dead)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .send()
            .await
            .map_err(|e| anyhow!("cannot read {}: {}", q.dead, DisplayErrorContext(e)))?;
        let count: u64 = attributes
            .attributes()
            .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        counts.insert(q.subscription.clone(), json!(count));
        let mut seen = HashSet::new();
        // A few looks: SQS returns a sample of the queue each time.
        for _ in 0..5 {
            if seen.len() >= limit {
                break;
            }
            let got = sqs
                .receive_message()
                .queue_url(&q.dead)
                .max_number_of_messages(BATCH)
                .visibility_timeout(0)
                .wait_time_seconds(1)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .send()
                .await
                .map_err(|e| anyhow!("cannot read {}: {}", q.dead, DisplayErrorContext(e)))?;
            let messages = got.messages();
            if messages.is_empty() {
                break;
            }
            for m in messages {
                let sqs_id = m.message_id().unwrap_or_default().to_string();
                if seen.len() >= limit || !seen.insert(sqs_id.clone()) {
                    continue;
                }
                let (id, message) = unwrap(m.body().unwrap_or_default());
                let attempts = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                letters.push(Letter {
                    subscription: q.subscription.clone(),
                    id: id.unwrap_or(sqs_id),
                    attempts,
                    message,
                });
            }
        }
    }
    if target.json {
        out.json(&json!({ "ok": true, "dead_letters_count": counts, "dead_letters": letters }));
        return Ok(std::process::ExitCode::SUCCESS);
    }
    for (sub, n) in &counts {
        out.line(&format!("{sub}: {n} dead letter(s)"));
    }
    for l in &letters {
        out.line(&format!(
            "{} {} after {} receive(s) (SQS keeps no error: see `stackwright logs`)\n  {}",
            l.subscription, l.id, l.attempts, l.message
        ));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

pub async fn redrive(
    target: &Target,
    subscription: Option<&str>,
    ids: &[String],
    out: &Output,
) -> anyhow::Result<std::process::ExitCode> {
    let Some((sqs, all)) = queues(target, subscription, out).await? else {
        return Ok(std::process::ExitCode::FAILURE);
    };
    let mut moved: Vec<String> = Vec::new();
    for q in &all {
        redrive_queue(&sqs, q, ids, &mut moved).await?;
    }
    let missing: Vec<&String> = ids.iter().filter(|i| !moved.contains(i)).collect();
    if !missing.is_empty() {
        eprintln!(
            "not found in the dead-letter queues: {}",
            missing
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let moved = moved.len();
    if target.json {
        out.json(&json!({ "ok": true, "redriven": moved, "not_found": missing }));
    } else {
        out.line(&format!(
            "{moved} message(s) back in their subscriptions' queues; the subscriber applies them"
        ));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Move `q`'s dead letters (those named by `ids`, or all) back to its
/// queue, adding each one's published id to `moved`. Messages not asked
/// for stay invisible until the scan ends, then are released together, so
/// the scan sees each once; it ends at the first receive that long-polled
/// and found nothing. A message that failed again during the scan (a copy
/// already sent) is not sent twice.
async fn redrive_queue(
    sqs: &aws_sdk_sqs::Client,
    q: &Queues,
    ids: &[String],
    moved: &mut Vec<String>,
) -> anyhow::Result<()> {
    let mut held: Vec<String> = Vec::new();
    let result = async {
        loop {
            let got = sqs
                .receive_message()
                .queue_url(&q.dead)
                .max_number_of_messages(BATCH)
                // Long enough to send and delete, or to finish the scan.
                .visibility_timeout(300)
                .wait_time_seconds(1)
                .send()
                .await
                .map_err(|e| anyhow!("cannot read {}: {}", q.dead, DisplayErrorContext(e)))?;
            if got.messages().is_empty() {
                return Ok(());
            }
            for m in got.messages() {
                let body = m.body().unwrap_or_default();
                let handle = m.receipt_handle().unwrap_or_default().to_string();
                let sqs_id = m.message_id().unwrap_or_default().to_string();
                let id = unwrap(body).0.unwrap_or(sqs_id.clone());
                let wanted = ids.is_empty() || ids.contains(&id) || ids.contains(&sqs_id);
                if !wanted || moved.contains(&id) {
                    held.push(handle);
                    continue;
                }
                sqs.send_message()
                    .queue_url(&q.queue)
                    .message_body(body)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow!("cannot send to {}: {}", q.queue, DisplayErrorContext(e))
                    })?;
                sqs.delete_message()
                    .queue_url(&q.dead)
                    .receipt_handle(&handle)
                    .send()
                    .await
                    .map_err(|e| {
                        anyhow!("cannot delete from {}: {}", q.dead, DisplayErrorContext(e))
                    })?;
                moved.push(id);
            }
        }
    }
    .await;
    // Back at once, on success or failure.
    for handle in held {
        let _ = sqs
            .change_message_visibility()
            .queue_url(&q.dead)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await;
    }
    result
}
