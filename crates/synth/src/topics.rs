//! Topics in the app layer: per topic an SNS topic, per subscription an
//! SQS queue subscribed to it (the subscription and the queue policy are in
//! the template: never a manual step) with a dead-letter queue after
//! `max_attempts` receives. All encrypted with the stack's key.

use serde_json::{json, Value as Json};
use stackwright_stack::env;
use stackwright_stack::Stack;

use crate::cfn::{att, r, tls_only, Template};
use crate::Settings;

/// How long a received message stays hidden while it is applied. On Lambda
/// it must exceed the subscriber's timeout (AWS advises six times).
pub const LAMBDA_VISIBILITY_SECONDS: u32 = 6 * SUBSCRIBER_TIMEOUT_SECONDS;
const VISIBILITY_SECONDS: u32 = 60;
pub const SUBSCRIBER_TIMEOUT_SECONDS: u32 = 60;

pub use crate::cfn::logical;

/// What the runtime needs to use the topics: the environment and rights
/// to publish, those to consume, and the queues (logical ids) a Lambda
/// subscriber reads. Publishing and consuming are apart so that on Lambda
/// the API function only publishes and the subscriber only consumes.
pub struct Wiring {
    /// None when every topic is `internal`: the runtime publishes nothing.
    pub publish: Option<((String, Json), Json)>,
    /// None when no topic has a subscription.
    pub consume: Option<((String, Json), Json)>,
    pub queues: Vec<String>,
}

/// `a=<value>,b=<value>` built with Fn::Join from references (the form
/// the runtime reads: see `stackwright_server::cloud_topics`).
fn pairs(pairs: Vec<(String, Json)>) -> Json {
    let mut parts: Vec<Json> = Vec::new();
    for (i, (k, v)) in pairs.into_iter().enumerate() {
        let sep = if i == 0 { "" } else { "," };
        parts.push(json!(format!("{sep}{k}=")));
        parts.push(v);
    }
    json!({ "Fn::Join": ["", parts] })
}

pub fn add(
    t: &mut Template,
    stack: &Stack,
    s: &Settings,
    prefix: &str,
    key: Json,
) -> Option<Wiring> {
    if stack.topics.is_empty() {
        return None;
    }
    let visibility = if !s.compute.polls_queues() {
        LAMBDA_VISIBILITY_SECONDS
    } else {
        VISIBILITY_SECONDS
    };
    let mut topic_arns = Vec::new();
    for name in stack.topics.keys() {
        let id = format!("{}Topic", logical(name));
        t.add(
            &id,
            "AWS::SNS::Topic",
            json!({ "TopicName": format!("{prefix}-{name}"), "KmsMasterKeyId": key.clone() }),
        );
        t.output(
            &crate::outputs::topic_arn(&id),
            &format!("Publish `{name}` messages here"),
            r(&id),
            None,
        );
        if stack.topics[name].auth != stackwright_stack::Auth::Internal {
            topic_arns.push((name.clone(), r(&id)));
        }
    }
    let mut queue_urls = Vec::new();
    let mut queues = Vec::new();
    for sub in &stack.subscriptions {
        let base = crate::outputs::subscription_id(&sub.name);
        let (queue, dead, topic) = (
            format!("{base}Queue"),
            format!("{base}DeadLetters"),
            format!("{}Topic", logical(&sub.topic)),
        );
        t.add(
            &dead,
            "AWS::SQS::Queue",
            json!({
                "KmsMasterKeyId": key.clone(),
                // The longest SQS keeps a message: time to look and re-drive.
                "MessageRetentionPeriod": 1_209_600
            }),
        );
        t.add(
            &queue,
            "AWS::SQS::Queue",
            json!({
                "KmsMasterKeyId": key.clone(),
                "VisibilityTimeout": visibility,
                "MessageRetentionPeriod": 345_600,
                "RedrivePolicy": { "deadLetterTargetArn": att(&dead, "Arn"), "maxReceiveCount": sub.max_attempts }
            }),
        );
        t.add(
            &format!("{base}QueuePolicy"),
            "AWS::SQS::QueuePolicy",
            json!({
                "Queues": [r(&queue)],
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Sid": "TopicSends",
                            "Effect": "Allow",
                            "Principal": { "Service": "sns.amazonaws.com" },
                            "Action": "sqs:SendMessage",
                            "Resource": att(&queue, "Arn"),
                            "Condition": { "ArnEquals": { "aws:SourceArn": r(&topic) } }
                        },
                        tls_only("sqs:*", att(&queue, "Arn"))
                    ]
                }
            }),
        );
        t.add(
            &format!("{base}Subscription"),
            "AWS::SNS::Subscription",
            json!({ "TopicArn": r(&topic), "Protocol": "sqs", "Endpoint": att(&queue, "Arn") }),
        );
        t.output(
            &crate::outputs::dead_letter_queue_url(&base),
            &format!(
                "Messages of `{}` that failed {} times",
                sub.name, sub.max_attempts
            ),
            r(&dead),
            None,
        );
        t.output(
            &crate::outputs::subscription_queue_url(&base),
            &format!("Messages of `{}` waiting to be applied", sub.name),
            r(&queue),
            None,
        );
        queue_urls.push((sub.name.clone(), r(&queue)));
        queues.push(queue);
    }
    let topic_refs: Vec<Json> = topic_arns.iter().map(|(_, v)| v.clone()).collect();
    let queue_arns: Vec<Json> = queues.iter().map(|q| att(q, "Arn")).collect();
    let consume = (!queues.is_empty()).then(|| {
        (
            (
                env::SUBSCRIPTION_QUEUES.to_string(),
                pairs(queue_urls),
            ),
            json!({
                "Effect": "Allow",
                "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"],
                "Resource": queue_arns
            }),
        )
    });
    let publish = (!topic_arns.is_empty()).then(|| {
        (
            (env::TOPIC_ARNS.to_string(), pairs(topic_arns)),
            json!({ "Effect": "Allow", "Action": ["sns:Publish"], "Resource": topic_refs }),
        )
    });
    Some(Wiring {
        publish,
        consume,
        queues,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logical_ids() {
        assert_eq!(logical("customers-clientes"), "CustomersClientes");
        assert_eq!(logical("new_orders"), "NewOrders");
    }
}
