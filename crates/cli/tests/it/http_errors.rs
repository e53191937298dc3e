//! Error answers of the runtime: always JSON, never a 500 for bad input.

use reqwest::Method;
use serde_json::json;

use crate::harness::{example, on_every_engine, TempStack, TestApp, TestEngine};

async fn unknown_paths_are_404_json(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    app.get("/nope").await.assert_error(404, "not_found");
    app.get("/api/task").await.assert_error(404, "not_found");
    app.request(Method::DELETE, "/nope", None)
        .await
        .assert_error(404, "not_found");
    // `/` is the site's page: it can only be read.
    let page = app.request(Method::DELETE, "/", None).await;
    page.assert_error(405, "method_not_allowed");
    assert_eq!(page.headers["allow"], "GET, HEAD");
}

async fn oversized_bodies_are_413(engine: TestEngine) {
    use std::io::{Read, Write};
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    // A declared length over the limit is refused before any body is read.
    let addr = app.url.trim_start_matches("http://").to_string();
    let response = tokio::task::spawn_blocking(move || {
        let mut conn = std::net::TcpStream::connect(&addr).unwrap();
        write!(
            conn,
            "POST /api/task/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            2 * 1024 * 1024
        )
        .unwrap();
        let mut response = String::new();
        conn.read_to_string(&mut response).unwrap();
        response
    })
    .await
    .unwrap();
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(
        response.contains(r#""code":"payload_too_large""#),
        "{response}"
    );

    // Without a Content-Length (chunked), the limit holds while reading. The
    // server may close before the client has sent everything, so a refused
    // write is as good as a 413; either way nothing is created.
    let big = format!(r#"{{"title":"{}"}}"#, "x".repeat(2 * 1024 * 1024));
    let sent = app
        .client
        .post(format!("{}/api/task/", app.url))
        // The server closes the connection after a 413: do not pool it.
        .header("connection", "close")
        .body(reqwest::Body::wrap_stream(futures_stream(big.into_bytes())))
        .send()
        .await;
    if let Ok(r) = sent {
        assert_eq!(r.status(), 413);
        let body: serde_json::Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "payload_too_large");
    }
    assert_eq!(
        app.get("/api/task/").await.body.as_array().unwrap().len(),
        3
    );
}

fn futures_stream(
    bytes: Vec<u8>,
) -> impl futures_core::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    struct Chunks(Vec<Vec<u8>>);
    impl futures_core::Stream for Chunks {
        type Item = Result<Vec<u8>, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            std::task::Poll::Ready(if self.0.is_empty() {
                None
            } else {
                Some(Ok(self.0.remove(0)))
            })
        }
    }
    Chunks(bytes.chunks(64 * 1024).map(<[u8]>::to_vec).collect())
}

async fn lists_paginate_with_a_bounded_limit_and_cursor(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("mysfits")).await;
    let first = app.get("/mysfits?limit=5").await;
    assert_eq!(first.status, 200);
    assert_eq!(first.body["mysfits"].as_array().unwrap().len(), 5);
    let mut seen: Vec<String> = first.body["mysfits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["mysfitId"].as_str().unwrap().to_string())
        .collect();
    let mut cursor = first.headers["x-next-cursor"].to_str().unwrap().to_string();
    loop {
        let page = app.get(&format!("/mysfits?limit=5&cursor={cursor}")).await;
        assert_eq!(page.status, 200);
        seen.extend(
            page.body["mysfits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["mysfitId"].as_str().unwrap().to_string()),
        );
        match page.headers.get("x-next-cursor") {
            Some(c) => cursor = c.to_str().unwrap().to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 12, "no row twice across pages");
    assert!(app
        .get("/mysfits")
        .await
        .headers
        .get("x-next-cursor")
        .is_none());

    app.get("/mysfits?limit=0")
        .await
        .assert_error(400, "bad_request");
    app.get("/mysfits?limit=1001")
        .await
        .assert_error(400, "bad_request");
    app.get("/mysfits?limit=ten")
        .await
        .assert_error(400, "bad_request");
    app.get("/mysfits?cursor=garbage!")
        .await
        .assert_error(400, "bad_request");
}

const COUNTERS: &str = r#"
name = "counters"

[tables.counter]
key = "name"

[tables.counter.columns]
name = { type = "string", max_length = 20 }
hits = { type = "integer", default = 0 }
label = { type = "text", nullable = true }
kind = { type = "string", max_length = 10, default = "plain", allowed = ["plain", "fancy"] }
seen_at = { type = "timestamp", nullable = true }
meta = { type = "json", nullable = true }
ratio = { type = "float", default = 0.5 }

[tables.counter.indexes]
by_label = { columns = ["label"] }

[[routes]]
method = "POST"
path = "/counters"
op = "create"
table = "counter"

[[routes]]
method = "GET"
path = "/counters/{name}"
op = "get"
table = "counter"

[[routes]]
method = "POST"
path = "/counters/{name}/hit"
op = "update"
table = "counter"
increment = { hits = 1 }

[[routes]]
method = "GET"
path = "/counters"
op = "list"
table = "counter"
fields = ["name", "label"]
order_by = ["label", "-name"]

[[routes]]
method = "PATCH"
path = "/counters/{name}"
op = "update"
table = "counter"
input = ["label", "kind", "seen_at", "meta"]
"#;

async fn creates_updates_and_increments_with_every_column_type(engine: TestEngine) {
    let stack = TempStack::new(COUNTERS);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let created = app
        .post(
            "/counters",
            r#"{"name":"a","label":"first","seen_at":"2024-05-01T14:00:00+02:00","meta":{"tags":["x"]},"ratio":2}"#,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        created.body,
        json!({"name":"a","hits":0,"label":"first","kind":"plain","seen_at":"2024-05-01T12:00:00Z","meta":{"tags":["x"]},"ratio":2.0})
    );
    app.post("/counters", r#"{"name":"a"}"#)
        .await
        .assert_error(409, "conflict");
    app.post("/counters", r#"{"name":"b","kind":"weird"}"#)
        .await
        .assert_error(400, "bad_request");
    app.post("/counters", r#"{"name":"b","seen_at":"yesterday"}"#)
        .await
        .assert_error(400, "bad_request");

    for _ in 0..3 {
        let hit = app.post("/counters/a/hit", "").await;
        assert_eq!(hit.status, 200);
    }
    assert_eq!(app.get("/counters/a").await.body["hits"], 3);
    app.post("/counters/zzz/hit", "")
        .await
        .assert_error(404, "not_found");

    let patched = app
        .request(
            Method::PATCH,
            "/counters/a",
            Some(r#"{"kind":"fancy","label":null}"#),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["kind"], "fancy");
    assert_eq!(patched.body["label"], serde_json::Value::Null);
    assert_eq!(patched.body["hits"], 3, "other fields are kept");
    app.request(Method::PATCH, "/counters/a", Some(r#"{"hits":10}"#))
        .await
        .assert_error(400, "bad_request");
    app.request(Method::PATCH, "/counters/a", Some(r#"{}"#))
        .await
        .assert_error(400, "bad_request");
    app.request(Method::PATCH, "/counters/nope", Some(r#"{"kind":"fancy"}"#))
        .await
        .assert_error(404, "not_found");
}

async fn lists_order_nulls_first_on_every_engine(engine: TestEngine) {
    let stack = TempStack::new(COUNTERS);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    for body in [
        r#"{"name":"a","label":"x"}"#,
        r#"{"name":"b"}"#,
        r#"{"name":"c","label":"X"}"#,
        r#"{"name":"d"}"#,
    ] {
        assert_eq!(app.post("/counters", body).await.status, 201);
    }
    if engine == TestEngine::Dynamodb {
        // No DynamoDB index gives this order (and none holds the NULLs):
        // `check` says so before anything runs, and the runtime refuses it.
        let refused = stackwright_stack::load_for(
            stack.path(),
            Some(stackwright_stack::CloudEngine::Dynamodb),
        )
        .unwrap_err()
        .to_string();
        assert!(
            refused.contains("it cannot order them by descending key"),
            "{refused}"
        );
        app.get("/counters")
            .await
            .assert_error(501, "not_implemented");
        return;
    }
    let list = app.get("/counters").await;
    let names: Vec<&str> = list
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    // NULL labels first (ties by name descending), then bytewise: "X" < "x".
    assert_eq!(names, ["d", "b", "c", "a"], "{}", list.body);
}

async fn concurrent_increments_are_never_lost(engine: TestEngine) {
    let stack = TempStack::new(COUNTERS);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    assert_eq!(app.post("/counters", r#"{"name":"c"}"#).await.status, 201);
    let mut tasks = Vec::new();
    for _ in 0..50 {
        let client = app.client.clone();
        let url = format!("{}/counters/c/hit", app.url);
        tasks.push(tokio::spawn(async move {
            client.post(url).send().await.unwrap().status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(app.get("/counters/c").await.body["hits"], 50);
}

on_every_engine!(
    unknown_paths_are_404_json,
    oversized_bodies_are_413,
    lists_paginate_with_a_bounded_limit_and_cursor,
    creates_updates_and_increments_with_every_column_type,
    concurrent_increments_are_never_lost,
    lists_order_nulls_first_on_every_engine,
);

/// A literal segment wins over a parameter in the same place, whatever
/// the order of the routes in the file (docs/stack-file.md, `path`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_literal_segment_wins_over_a_parameter() {
    let stack = TempStack::new(
        r#"
name = "items"

[tables.items]
key = "id"
seed = "seed/items.csv"
[tables.items.columns]
id = { type = "integer" }
name = { type = "string", max_length = 20 }

[[routes]]
method = "GET"
path = "/items/{id}"
op = "get"
table = "items"

[[routes]]
method = "GET"
path = "/items/new"
op = "health"
body = { form = "empty" }
"#,
    );
    stack.write("seed/items.csv", "id,name\n7,seven\n");
    let app = TestApp::spawn(stack.path()).await;
    let literal = app.get("/items/new").await;
    assert_eq!(literal.status, 200);
    assert_eq!(literal.body, json!({ "form": "empty" }));
    let param = app.get("/items/7").await;
    assert_eq!(param.body["name"], "seven");
}
