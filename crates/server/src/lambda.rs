//! The runtime on AWS Lambda: a custom runtime (the binary is `bootstrap`)
//! speaking the Lambda Runtime API, turning API Gateway HTTP API (payload
//! 2.0) events into requests for the same router `up` serves.
//!
//! The API function does not migrate: the migration runs once per deploy,
//! before the function is updated (see the synthesized app template).

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Method, Request, Uri};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;

use serde_json::{json, Map, Value as Json};
use stackwright_stack::Stack;
use stackwright_storage::Engine;

type HttpClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, Full<axum::body::Bytes>>;

#[derive(Debug, thiserror::Error)]
pub enum LambdaError {
    #[error("AWS_LAMBDA_RUNTIME_API is not set: not running on Lambda")]
    NotOnLambda,
    #[error("the Lambda Runtime API failed: {0}")]
    RuntimeApi(String),
}

/// What a function answers: HTTP API events with the router, SQS events
/// (a subscription's queue) by applying their messages.
#[derive(Clone)]
pub struct Handlers {
    pub router: crate::http::App,
    pub engine: Arc<dyn Engine>,
    pub stack: Arc<Stack>,
    /// Which queue belongs to which subscription.
    pub cloud: Option<Arc<crate::cloud_topics::CloudTopics>>,
}

/// Serve invocations until the Runtime API (`api`, from
/// [`stackwright_stack::env::LAMBDA_RUNTIME_API`]) goes away.
pub async fn run(handlers: Handlers, api: Option<String>) -> Result<(), LambdaError> {
    serve(api, |event| {
        let handlers = handlers.clone();
        async move {
            if event["Records"][0]["eventSource"] == "aws:sqs" {
                Ok(sqs_event(&handlers, &event).await)
            } else {
                http_event(&handlers.router, event).await
            }
        }
    })
    .await
}

/// An SQS event: each record applied on its own; the ones that failed are
/// reported (`ReportBatchItemFailures`), so SQS redelivers only those and,
/// after `max_attempts` receives, moves them to the dead-letter queue.
pub async fn sqs_event(handlers: &Handlers, event: &Json) -> Json {
    let mut failures = Vec::new();
    for record in event["Records"].as_array().into_iter().flatten() {
        let id = record["messageId"].as_str().unwrap_or_default();
        let queue = record["eventSourceARN"]
            .as_str()
            .and_then(|arn| arn.rsplit(':').next())
            .unwrap_or_default();
        let sub = handlers
            .cloud
            .as_ref()
            .and_then(|c| c.subscription_of_queue(queue))
            .and_then(|name| handlers.stack.subscriptions.iter().find(|s| s.name == name));
        let outcome = match sub {
            None => Err(format!("no subscription reads the queue `{queue}`")),
            Some(sub) => {
                let body = record["body"].as_str().unwrap_or_default();
                crate::cloud_topics::apply_delivered(
                    handlers.engine.as_ref(),
                    &handlers.stack,
                    sub,
                    body,
                )
                .await
            }
        };
        match outcome {
            Ok(applied) => tracing::debug!(message = %id, applied, "message handled"),
            Err(why) => {
                tracing::warn!(message = %id, queue = %queue, %why, "message failed");
                failures.push(json!({ "itemIdentifier": id }));
            }
        }
    }
    // No task outlives an invocation here: old applied ids are forgotten
    // after a batch, at most once an hour per running instance.
    static LAST_FORGOT: std::sync::Mutex<Option<std::time::Instant>> = std::sync::Mutex::new(None);
    let due = {
        let mut last = LAST_FORGOT.lock().expect("not poisoned");
        let due = last.is_none_or(|t| t.elapsed() >= crate::topics::FORGET_EVERY);
        if due {
            *last = Some(std::time::Instant::now());
        }
        due
    };
    if due {
        crate::topics::forget_old_applied(handlers.engine.as_ref()).await;
    }
    json!({ "batchItemFailures": failures })
}

/// Answer CloudFormation custom-resource events: `migrate` runs on Create and
/// Update; Delete succeeds without touching any data (a stack going away
/// never drops tables). The answer goes to the event's pre-signed ResponseURL.
pub async fn run_custom_resource<F, Fut>(api: Option<String>, migrate: F) -> Result<(), LambdaError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| LambdaError::RuntimeApi(format!("no TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Full<axum::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build(https);
    serve(api, |event| {
        let client = client.clone();
        let run = migrate();
        async move {
            let request_type = event["RequestType"].as_str().unwrap_or_default().to_string();
            let outcome = match request_type.as_str() {
                "Create" | "Update" => run.await,
                "Delete" => Ok("nothing to do: data outlives the stack".to_string()),
                other => Err(format!("unknown RequestType `{other}`")),
            };
            let (status, reason) = match &outcome {
                Ok(summary) => ("SUCCESS", summary.clone()),
                Err(why) => ("FAILED", why.clone()),
            };
            let answer = json!({
                "Status": status,
                "Reason": reason,
                "PhysicalResourceId": event["PhysicalResourceId"].as_str().unwrap_or("stackwright-migration"),
                "StackId": event["StackId"],
                "RequestId": event["RequestId"],
                "LogicalResourceId": event["LogicalResourceId"],
                "Data": {}
            });
            let url = event["ResponseURL"].as_str().ok_or("no ResponseURL in the event")?;
            // CloudFormation's pre-signed URL takes a PUT with an empty content type.
            let request = Request::put(url)
                .header("content-type", "")
                .body(Full::from(answer.to_string()))
                .map_err(|e| format!("invalid ResponseURL: {e}"))?;
            let response = client.request(request).await.map_err(|e| format!("answering CloudFormation: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("CloudFormation's ResponseURL answered {}", response.status()));
            }
            tracing::info!(%request_type, status, %reason, "custom resource answered");
            Ok(json!({ "Status": status }))
        }
    })
    .await
}

/// The invocation loop: next event, handle it, post the answer or the error.
async fn serve<H, Fut>(api: Option<String>, handle: H) -> Result<(), LambdaError>
where
    H: Fn(Json) -> Fut,
    Fut: std::future::Future<Output = Result<Json, String>>,
{
    let api = api.ok_or(LambdaError::NotOnLambda)?;
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let base = format!("http://{api}/2018-06-01/runtime");
    loop {
        let (id, event) = next(&client, &base).await?;
        let answer = match event {
            Ok(event) => handle(event).await,
            Err(why) => Err(why),
        };
        let (path, body) = match answer {
            Ok(response) => (format!("{base}/invocation/{id}/response"), response),
            Err(why) => {
                tracing::error!(request_id = %id, %why, "invocation failed");
                (
                    format!("{base}/invocation/{id}/error"),
                    json!({ "errorMessage": why, "errorType": "InvalidEvent" }),
                )
            }
        };
        post(&client, &path, &body).await?;
    }
}

/// The next invocation: its request id and its event (or why it is unreadable).
async fn next(
    client: &HttpClient,
    base: &str,
) -> Result<(String, Result<Json, String>), LambdaError> {
    let uri: Uri = format!("{base}/invocation/next")
        .parse()
        .map_err(|e| LambdaError::RuntimeApi(format!("{e}")))?;
    let response = client
        .get(uri)
        .await
        .map_err(|e| LambdaError::RuntimeApi(e.to_string()))?;
    let id = response
        .headers()
        .get("lambda-runtime-aws-request-id")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| LambdaError::RuntimeApi("no request id".into()))?
        .to_string();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| LambdaError::RuntimeApi(e.to_string()))?
        .to_bytes();
    let event = serde_json::from_slice(&bytes).map_err(|e| format!("the event is not JSON: {e}"));
    Ok((id, event))
}

async fn post(client: &HttpClient, url: &str, body: &Json) -> Result<(), LambdaError> {
    let request = hyper_util::client::legacy::Client::request(
        client,
        Request::post(url)
            .header("content-type", "application/json")
            .body(Full::from(body.to_string()))
            .map_err(|e| LambdaError::RuntimeApi(e.to_string()))?,
    );
    let response = request
        .await
        .map_err(|e| LambdaError::RuntimeApi(e.to_string()))?;
    if !response.status().is_success() {
        return Err(LambdaError::RuntimeApi(format!(
            "{url} answered {}",
            response.status()
        )));
    }
    Ok(())
}

/// API Gateway as a proxy: X-Forwarded-For ends with the address it saw
/// (CloudFront's, behind the edge), appended unless it already is, so the
/// runtime counts trusted hops the same way behind every kind of compute.
fn forwarded_by_gateway(headers: &mut axum::http::HeaderMap, ip: std::net::IpAddr) {
    let seen = ip.to_string();
    let current = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let value = match current {
        Some(list) if list.rsplit(',').next().map(str::trim) == Some(seen.as_str()) => return,
        Some(list) if !list.trim().is_empty() => format!("{list}, {seen}"),
        _ => seen,
    };
    if let Ok(value) = HeaderValue::from_str(&value) {
        headers.insert("x-forwarded-for", value);
    }
}

/// An API Gateway HTTP API (payload 2.0) event through the router, and the
/// response in the form API Gateway expects.
pub async fn http_event(router: &crate::http::App, event: Json) -> Result<Json, String> {
    let http = &event["requestContext"]["http"];
    let method: Method = http["method"]
        .as_str()
        .ok_or("not an HTTP API (payload 2.0) event")?
        .parse()
        .map_err(|_| "invalid method")?;
    let path = event["rawPath"].as_str().unwrap_or("/");
    let query = event["rawQueryString"].as_str().unwrap_or("");
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    let mut request = Request::builder().method(method).uri(uri);
    for (name, value) in event["headers"].as_object().into_iter().flatten() {
        if let (Ok(name), Some(Ok(value))) = (
            HeaderName::from_bytes(name.as_bytes()),
            value.as_str().map(HeaderValue::from_str),
        ) {
            request = request.header(name, value);
        }
    }
    let body = match event["body"].as_str() {
        None => Vec::new(),
        Some(text) if event["isBase64Encoded"] == true => BASE64
            .decode(text)
            .map_err(|_| "the body is not valid base64")?,
        Some(text) => text.as_bytes().to_vec(),
    };
    let mut request = request
        .body(Body::from(body))
        .map_err(|e| format!("invalid request: {e}"))?;
    // API Gateway's view of the client, as the accept loop's peer address.
    if let Some(ip) = event["requestContext"]["http"]["sourceIp"]
        .as_str()
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
    {
        forwarded_by_gateway(request.headers_mut(), ip);
        request
            .extensions_mut()
            .insert(crate::http::client::Peer(ip));
    }
    let response = router.call(request).await;
    let status = response.status().as_u16();
    let mut headers = Map::new();
    for (name, value) in response.headers() {
        if let Ok(v) = value.to_str() {
            let entry = headers
                .entry(name.as_str().to_string())
                .or_insert(json!(""));
            let joined = match entry.as_str() {
                Some("") | None => v.to_string(),
                Some(prev) => format!("{prev},{v}"),
            };
            *entry = json!(joined);
        }
    }
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the response: {e}"))?
        .to_bytes();
    let (body, encoded) = match std::str::from_utf8(&bytes) {
        Ok(text) => (text.to_string(), false),
        Err(_) => (BASE64.encode(&bytes), true),
    };
    Ok(json!({
        "statusCode": status,
        "headers": headers,
        "body": body,
        "isBase64Encoded": encoded
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_hop_is_appended_once() {
        let ip: std::net::IpAddr = "130.176.1.2".parse().unwrap();
        let list = |headers: &axum::http::HeaderMap| {
            headers["x-forwarded-for"].to_str().unwrap().to_string()
        };
        let mut headers = axum::http::HeaderMap::new();
        forwarded_by_gateway(&mut headers, ip);
        assert_eq!(list(&headers), "130.176.1.2");
        headers.insert("x-forwarded-for", HeaderValue::from_static("203.0.113.9"));
        forwarded_by_gateway(&mut headers, ip);
        assert_eq!(list(&headers), "203.0.113.9, 130.176.1.2");
        // Already appended by API Gateway: left as it is.
        forwarded_by_gateway(&mut headers, ip);
        assert_eq!(list(&headers), "203.0.113.9, 130.176.1.2");
    }
}
