//! `POST /topics/{name}`: publish one message (a JSON object) or a batch (a
//! JSON array of objects). The answer, 202, comes after every message is
//! stored; a batch with one invalid message stores none. `Idempotency-Key`
//! names the request's message (or each of a batch's, by its place):
//! publishing it again is a duplicate, not a second delivery. On a topic with `auth = "user"` the key belongs to the
//! signed-in publisher (the message id is a digest of the user and the key).
//! A topic with `auth = "internal"` answers 403: its messages come from
//! `stackwright publish` and, on AWS, from SNS publishers IAM allows.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json as JsonBody, Router};
use serde_json::{json, Value as Json};
use stackwright_stack::{Auth, Stack};
use stackwright_storage::queue::{Enqueued, Message};

use super::decode::clip;
use super::decode::read_json;
use super::ApiContext;
use crate::error::ApiError;

/// Most messages one request may publish.
pub const MAX_BATCH: usize = 1000;
/// Longest accepted message id.
const MAX_ID_LENGTH: usize = 128;

pub fn router(stack: &Stack) -> Router<ApiContext> {
    let mut router = Router::new();
    for name in stack.topics.keys() {
        let name = name.clone();
        router = router.route(
            &format!("/topics/{name}"),
            post(
                move |State(ctx): State<ApiContext>, headers: HeaderMap, body: Body| {
                    let name = name.clone();
                    async move {
                        match publish(&ctx, &name, headers, body).await {
                            Ok(r) => r,
                            Err(e) => e.into_response(),
                        }
                    }
                },
            ),
        );
    }
    router
}

async fn publish(
    ctx: &ApiContext,
    topic: &str,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let topic = &ctx.stack.topics[topic];
    if topic.auth == Auth::Internal {
        return Err(ApiError::Forbidden(format!(
            "topic `{}` takes no messages over HTTP (auth = \"internal\"): publish with `stackwright publish`, or to its SNS topic on AWS",
            topic.name
        )));
    }
    let publisher = if topic.auth == Auth::User {
        match &ctx.users {
            Some(users) => Some(users.user(&headers).await?),
            None => return Err(crate::users::no_pool()),
        }
    } else {
        None
    };
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().unwrap_or_default();
            if k.is_empty() || k.len() > MAX_ID_LENGTH || !k.chars().all(|c| c.is_ascii_graphic()) {
                return Err(ApiError::BadRequest(format!(
                    "Idempotency-Key must be 1-{MAX_ID_LENGTH} visible ASCII characters"
                )));
            }
            // Each signed-in publisher has keys of its own: another user
            // sending the same key must not make this message a duplicate.
            Some(match &publisher {
                Some(claims) => scoped_id(claims.sub(), k),
                None => k.to_string(),
            })
        }
    };
    let limit = ctx.stack.server.max_body_bytes;
    let read = read_json(headers, body, limit).await?;
    // A key on a batch names the request: each message's id comes from it
    // and the message's place, so the same batch sent again is duplicates.
    let is_batch = read.is_array();
    let values = match read {
        Json::Array(items) => {
            if items.is_empty() || items.len() > MAX_BATCH {
                return Err(ApiError::BadRequest(format!(
                    "a batch holds 1 to {MAX_BATCH} messages, not {}",
                    items.len()
                )));
            }
            items
        }
        single => vec![single],
    };
    let batch = values.len() > 1;
    let mut messages = Vec::with_capacity(values.len());
    let keyed_batch = is_batch;
    for (i, value) in values.into_iter().enumerate() {
        let body = crate::topics::check_message(topic, value).map_err(|why| {
            ApiError::BadRequest(if batch {
                format!("message {i}: {why}")
            } else {
                why
            })
        })?;
        let id = match &key {
            Some(k) if keyed_batch => batch_id(k, i),
            Some(k) => k.clone(),
            None => uuid::Uuid::new_v4().to_string(),
        };
        messages.push(Message { id, body });
    }
    let outcome = match &ctx.cloud {
        Some(cloud) => {
            cloud.publish(&topic.name, &messages).await?;
            // SNS has no duplicates: the subscriptions find them when applying.
            Enqueued {
                accepted: messages.len(),
                duplicates: 0,
            }
        }
        None => {
            let outcome =
                crate::topics::publish(ctx.engine.as_ref(), &ctx.stack, &topic.name, &messages)
                    .await?;
            ctx.published.notify_one();
            outcome
        }
    };
    let ids: Vec<&str> = messages.iter().map(|m| m.id.as_str()).collect();
    tracing::debug!(target: "stackwright::topics", topic = %clip(&topic.name), count = ids.len(), "published");
    Ok((
        StatusCode::ACCEPTED,
        JsonBody(json!({
            "ids": ids,
            "accepted": outcome.accepted,
            "duplicates": outcome.duplicates,
        })),
    )
        .into_response())
}

/// The message id of a signed-in publisher's key: a digest of both, so it
/// fits the id column and no two publishers' keys meet.
/// The id of message `i` of a batch sent with Idempotency-Key `key`
/// (already scoped to its publisher where the topic has users).
fn batch_id(key: &str, i: usize) -> String {
    format!(
        "b-{}",
        crate::users::pool::sha256_hex(&format!("{key}\n{i}"))
    )
}

fn scoped_id(sub: &str, key: &str) -> String {
    format!(
        "u-{}",
        crate::users::pool::sha256_hex(&format!("{sub}\n{key}"))
    )
}
