//! The runtime as a Lambda custom runtime: the real binary, started the way
//! Lambda starts `bootstrap` (no arguments), against a fake Runtime API that
//! speaks the real protocol.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value as Json};

use crate::harness::{example, stackwright, text};

#[derive(Default)]
struct RuntimeApi {
    events: Vec<(String, Json)>,
    results: Vec<(String, String, Json)>,
}

type Shared = Arc<Mutex<RuntimeApi>>;

async fn next(State(api): State<Shared>) -> (HeaderMap, String) {
    loop {
        let popped = {
            let mut api = api.lock().unwrap();
            (!api.events.is_empty()).then(|| api.events.remove(0))
        };
        if let Some((id, event)) = popped {
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert(
                "lambda-runtime-deadline-ms",
                "9999999999999".parse().unwrap(),
            );
            return (headers, event.to_string());
        }
        // No more work: hold the long poll, as Lambda does between invocations.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn result(
    State(api): State<Shared>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> &'static str {
    api.lock()
        .unwrap()
        .results
        .push((id, kind, serde_json::from_str(&body).unwrap()));
    "{}"
}

fn http_event(method: &str, path: &str, query: &str, body: Option<&str>, base64: bool) -> Json {
    let body = body.map(|b| {
        if base64 {
            base64::engine::general_purpose::STANDARD.encode(b)
        } else {
            b.to_string()
        }
    });
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": { "content-type": "application/json", "host": "example.execute-api.us-east-1.amazonaws.com" },
        "requestContext": { "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1" } },
        "body": body,
        "isBase64Encoded": base64
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_http_api_events_through_the_runtime_api() {
    let temp = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}", temp.path().join("lambda.db").display());
    // The migration runs before the function, once per deploy.
    let migrated = stackwright(&[
        "migrate",
        example("todo").to_str().unwrap(),
        "--database-url",
        &url,
    ]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));

    let api: Shared = Arc::default();
    api.lock().unwrap().events = vec![
        (
            "r1".into(),
            http_event("GET", "/api/task/", "", None, false),
        ),
        (
            "r2".into(),
            http_event(
                "POST",
                "/api/task/",
                "",
                Some(r#"{"title":"from lambda"}"#),
                true,
            ),
        ),
        (
            "r3".into(),
            http_event("GET", "/api/task/", "limit=1", None, false),
        ),
        (
            "r4".into(),
            http_event("DELETE", "/api/task/99/", "", None, false),
        ),
        ("r5".into(), json!({ "not": "an http event" })),
        (
            "r6".into(),
            http_event("PUT", "/api/task/", "", Some("{}"), false),
        ),
    ];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(result))
        .with_state(api.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut child = Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("STACKWRIGHT_STACK", example("todo"))
        .env("STACKWRIGHT_DATABASE_URL", &url)
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.lock().unwrap().results.len() < 6 {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!(
                "the function answered {} of 6 invocations:\n{err}",
                api.lock().unwrap().results.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();

    let results = std::mem::take(&mut api.lock().unwrap().results);
    let by_id = |id: &str| {
        results
            .iter()
            .find(|(i, _, _)| i == id)
            .unwrap_or_else(|| panic!("{id} answered"))
    };
    let body = |r: &Json| serde_json::from_str::<Json>(r["body"].as_str().unwrap()).unwrap();

    let (_, kind, r1) = by_id("r1");
    assert_eq!(
        (kind.as_str(), r1["statusCode"].as_u64()),
        ("response", Some(200))
    );
    assert_eq!(body(r1).as_array().unwrap().len(), 3);
    assert_eq!(r1["headers"]["content-type"], "application/json");

    let (_, _, r2) = by_id("r2");
    assert_eq!(r2["statusCode"], 201, "{r2}");
    assert_eq!(body(r2)["title"], "from lambda", "a base64 body is decoded");

    let (_, _, r3) = by_id("r3");
    assert_eq!(
        body(r3).as_array().unwrap().len(),
        1,
        "the query string reaches the route"
    );
    assert!(r3["headers"]["x-next-cursor"].is_string());

    let (_, _, r4) = by_id("r4");
    assert_eq!(r4["statusCode"], 404);
    assert_eq!(body(r4)["error"]["code"], "not_found");

    let (_, kind, r5) = by_id("r5");
    assert_eq!(
        kind, "error",
        "an event that is not HTTP is an invocation error: {r5}"
    );
    assert!(r5["errorMessage"]
        .as_str()
        .unwrap()
        .contains("not an HTTP API"));

    let (_, _, r6) = by_id("r6");
    assert_eq!(r6["statusCode"], 405);
    assert_eq!(r6["headers"]["allow"], "GET, POST");
}
