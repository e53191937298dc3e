//! Topics on AWS: the templates give each topic an SNS topic, and each
//! subscription an SQS queue subscribed to it with a dead-letter queue
//! after `max_attempts` receives. The runtime publishes to SNS (so HTTP
//! publishing and direct SNS publishing take one path) and, on Fargate and
//! EC2, consumes the queues: long polling, batches of 10, each message
//! applied in one transaction with its applied record (so a redelivery is
//! a duplicate, not a second row) and deleted only after the commit. On
//! Lambda the queues trigger the subscriber function instead.
//!
//! Where: `STACKWRIGHT_TOPIC_ARNS` (`topic=arn,...`) and
//! `STACKWRIGHT_SUBSCRIPTION_QUEUES` (`subscription=queue URL,...`), set by
//! the templates. The AWS endpoint follows the SDK's own configuration
//! (`AWS_ENDPOINT_URL` for an emulator).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_sns::types::{MessageAttributeValue, PublishBatchRequestEntry};
use serde_json::{Map, Value as Json};
use stackwright_stack::env::{RuntimeConfig, SQS_WAIT_SECONDS, SUBSCRIPTION_QUEUES, TOPIC_ARNS};
use stackwright_stack::{Stack, Subscription};
use stackwright_storage::queue::{retry_at, Message};
use stackwright_storage::{Engine, StorageError};
use tokio::sync::Notify;

use stackwright_stack::env::MESSAGE_ID_ATTRIBUTE as ID_ATTRIBUTE;
/// SQS long polling: the longest wait SQS allows (fewest empty receives);
/// [`SQS_WAIT_SECONDS`] (0-20) shortens it, for emulators that serve one
/// request at a time.
const WAIT_SECONDS: i32 = 20;

#[derive(Clone)]
pub struct CloudTopics {
    topic_arns: BTreeMap<String, String>,
    queues: BTreeMap<String, String>,
    wait_seconds: i32,
    sns: aws_sdk_sns::Client,
    sqs: aws_sdk_sqs::Client,
}

/// `name=value,name=value` (ARNs and queue URLs hold neither `,` nor `=`;
/// unlike JSON, the form survives systemd environment files unchanged).
fn pairs(name: &str, text: Option<&str>) -> Result<Option<BTreeMap<String, String>>, String> {
    let Some(text) = text else {
        return Ok(None);
    };
    if text.trim().is_empty() {
        return Ok(None);
    }
    text.split(',')
        .map(|pair| {
            pair.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .filter(|(k, v)| !k.is_empty() && !v.is_empty())
                .ok_or_else(|| format!("{name}: `{pair}` is not NAME=VALUE"))
        })
        .collect::<Result<_, _>>()
        .map(Some)
}

impl std::fmt::Debug for CloudTopics {
    // Not derived: the SDK clients say nothing useful.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CloudTopics")
            .field("topic_arns", &self.topic_arns)
            .field("queues", &self.queues)
            .finish()
    }
}

impl CloudTopics {
    /// From the environment; None when the stack runs without AWS topics.
    pub async fn from_config(
        stack: &Stack,
        config: &RuntimeConfig,
    ) -> Result<Option<Self>, String> {
        let topic_arns = pairs(TOPIC_ARNS, config.topic_arns.as_deref())?;
        let queues = pairs(SUBSCRIPTION_QUEUES, config.subscription_queues.as_deref())?;
        if topic_arns.is_none() && queues.is_none() {
            return Ok(None);
        }
        let topic_arns = topic_arns.unwrap_or_default();
        let queues = queues.unwrap_or_default();
        // Internal topics are never published here: they need no ARN.
        if let Some(missing) = stack
            .published_topics()
            .find(|t| !topic_arns.contains_key(&t.name))
        {
            return Err(format!(
                "{TOPIC_ARNS} has no ARN for topic `{}`",
                missing.name
            ));
        }
        if let Some(unknown) = queues
            .keys()
            .find(|q| !stack.subscriptions.iter().any(|s| &s.name == *q))
        {
            return Err(format!(
                "{SUBSCRIPTION_QUEUES} names `{unknown}`, which is not a subscription of the stack"
            ));
        }
        let wait_seconds = match &config.sqs_wait_seconds {
            None => WAIT_SECONDS,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (0..=20).contains(n))
                .ok_or_else(|| format!("{SQS_WAIT_SECONDS} must be 0 to 20 seconds, not `{v}`"))?,
        };
        let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .load()
            .await;
        Ok(Some(CloudTopics {
            topic_arns,
            queues,
            wait_seconds,
            sns: aws_sdk_sns::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
        }))
    }

    /// Publish checked messages to the topic's SNS topic, 10 per request.
    pub async fn publish(&self, topic: &str, messages: &[Message]) -> Result<(), StorageError> {
        let arn = &self.topic_arns[topic];
        for chunk in messages.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    PublishBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message(Json::Object(m.body.clone()).to_string())
                        .message_attributes(
                            ID_ATTRIBUTE,
                            MessageAttributeValue::builder()
                                .data_type("String")
                                .string_value(&m.id)
                                .build()
                                .expect("data type is set"),
                        )
                        .build()
                        .expect("id and message are set")
                })
                .collect();
            let answer = self
                .sns
                .publish_batch()
                .topic_arn(arn)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    StorageError::Unavailable(format!(
                        "publishing to {arn}: {}",
                        aws_sdk_sns::error::DisplayErrorContext(e)
                    ))
                })?;
            if let Some(failed) = answer.failed().first() {
                return Err(StorageError::Unavailable(format!(
                    "publishing to {arn}: {} message(s) refused: {}",
                    answer.failed().len(),
                    failed.message().unwrap_or(failed.code())
                )));
            }
        }
        Ok(())
    }

    pub fn has_queues(&self) -> bool {
        !self.queues.is_empty()
    }

    /// The subscription whose queue is named `queue` (the last part of its
    /// URL and ARN).
    pub fn subscription_of_queue(&self, queue: &str) -> Option<&str> {
        self.queues
            .iter()
            .find(|(_, url)| url.rsplit('/').next() == Some(queue))
            .map(|(sub, _)| sub.as_str())
    }

    /// Consume every subscription's queue until `stop` is notified.
    pub async fn consume(
        self: Arc<Self>,
        engine: Arc<dyn Engine>,
        stack: Arc<Stack>,
        stop: Arc<Notify>,
    ) {
        let mut loops = Vec::new();
        for (name, url) in &self.queues {
            let Some(sub) = stack
                .subscriptions
                .iter()
                .find(|s| &s.name == name)
                .cloned()
            else {
                continue;
            };
            let (me, engine, stack, url, stop) = (
                self.clone(),
                engine.clone(),
                stack.clone(),
                url.clone(),
                stop.clone(),
            );
            loops.push(tokio::spawn(async move {
                tokio::select! {
                    _ = stop.notified() => {}
                    _ = me.consume_queue(engine, stack, sub, url) => {}
                }
            }));
        }
        for l in loops {
            let _ = l.await;
        }
    }

    async fn consume_queue(
        &self,
        engine: Arc<dyn Engine>,
        stack: Arc<Stack>,
        sub: Subscription,
        url: String,
    ) {
        loop {
            let received = self
                .sqs
                .receive_message()
                .queue_url(&url)
                .max_number_of_messages(10)
                .wait_time_seconds(self.wait_seconds)
                .message_system_attribute_names(
                    aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                )
                .send()
                .await;
            let messages = match received {
                Ok(r) => r.messages.unwrap_or_default(),
                Err(e) => {
                    tracing::warn!(target: "stackwright::topics", queue = %url, error = %aws_sdk_sqs::error::DisplayErrorContext(e), "receiving failed; retrying");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    continue;
                }
            };
            for m in messages {
                let Some(handle) = m.receipt_handle() else {
                    continue;
                };
                let body = m.body().unwrap_or_default();
                match apply_delivered(engine.as_ref(), &stack, &sub, body).await {
                    Ok(applied) => {
                        tracing::debug!(target: "stackwright::topics", subscription = %sub.name, applied, "message handled");
                        if let Err(e) = self
                            .sqs
                            .delete_message()
                            .queue_url(&url)
                            .receipt_handle(handle)
                            .send()
                            .await
                        {
                            // Applied already: the redelivery will be a duplicate.
                            tracing::warn!(target: "stackwright::topics", error = %aws_sdk_sqs::error::DisplayErrorContext(e), "deleting a handled message failed");
                        }
                    }
                    Err(why) => {
                        let receives: u32 = m
                            .attributes()
                            .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                            .and_then(|n| n.parse().ok())
                            .unwrap_or(1);
                        tracing::warn!(target: "stackwright::topics", subscription = %sub.name, receives, %why, "message failed; SQS delivers it again, then to the dead-letter queue");
                        // Backoff as locally: the message stays invisible for a while.
                        let wait = (retry_at(&sub, receives, 0) / 1000).clamp(0, 43_200) as i32;
                        let _ = self
                            .sqs
                            .change_message_visibility()
                            .queue_url(&url)
                            .receipt_handle(handle)
                            .visibility_timeout(wait)
                            .send()
                            .await;
                    }
                }
            }
        }
    }
}

/// An SQS message body holding an SNS notification: its id (the one given
/// at publish time, else SNS's MessageId) and the message.
pub fn notification(body: &str) -> Result<(String, Json), String> {
    let envelope: Map<String, Json> = serde_json::from_str(body)
        .map_err(|_| "the SQS message is not an SNS notification".to_string())?;
    let id = envelope
        .get("MessageAttributes")
        .and_then(|a| a.get(ID_ATTRIBUTE))
        .and_then(|a| a.get("Value"))
        .and_then(Json::as_str)
        .or_else(|| envelope.get("MessageId").and_then(Json::as_str))
        .ok_or("the SNS notification has no MessageId")?
        .to_string();
    let text = envelope
        .get("Message")
        .and_then(Json::as_str)
        .ok_or("the SNS notification has no Message")?;
    let message = serde_json::from_str(text).map_err(|_| "the message is not JSON".to_string())?;
    Ok((id, message))
}

/// Check and apply one delivered SQS message body. `Ok(false)`: a
/// duplicate. `Err`: leave it for SQS to deliver again (a message that can
/// never apply reaches the dead-letter queue after `max_attempts`).
pub async fn apply_delivered(
    engine: &dyn Engine,
    stack: &Stack,
    sub: &Subscription,
    body: &str,
) -> Result<bool, String> {
    let (id, value) = notification(body)?;
    let topic = &stack.topics[&sub.topic];
    let body = crate::topics::check_message(topic, value)?;
    engine
        .require_queue()
        .map_err(|e| e.to_string())?
        .apply_message(sub, stack.table(&sub.table), &Message { id, body })
        .await
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_carry_the_published_id() {
        let body = serde_json::json!({
            "Type": "Notification",
            "MessageId": "sns-1",
            "Message": "{\"n\":1}",
            "MessageAttributes": { "stackwright-id": { "Type": "String", "Value": "mine" } }
        })
        .to_string();
        assert_eq!(
            notification(&body).unwrap(),
            ("mine".to_string(), serde_json::json!({"n": 1}))
        );
        let plain =
            serde_json::json!({"Type": "Notification", "MessageId": "sns-2", "Message": "{}"})
                .to_string();
        assert_eq!(notification(&plain).unwrap().0, "sns-2");
        assert!(notification("{\"n\":1}").is_err());
        assert!(notification("nope").is_err());
    }
}
