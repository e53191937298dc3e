//! Limits and backpressure (`[server]`): header size, a concurrency cap that
//! sheds with 503 + Retry-After, the request deadline, slow clients cut off,
//! the connection cap. Each against the real server over raw TCP where a
//! well-behaved HTTP client could not misbehave as needed.

use std::time::{Duration, Instant};

use serde_json::Value as Json;
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::{TempStack, TestApp, TestEngine};

/// The todo example with `[server]` limits appended.
fn todo_with(limits: &str) -> TempStack {
    TempStack::copy_of("todo", |toml| format!("{toml}\n[server]\n{limits}\n"))
}

fn port(app: &TestApp) -> u16 {
    app.url.rsplit(':').next().unwrap().parse().unwrap()
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(("127.0.0.1", port(app))).await.unwrap()
}

/// Read until the peer closes or `within` passes; what arrived.
async fn read_all(stream: &mut TcpStream, within: Duration) -> Result<String, String> {
    let mut buf = Vec::new();
    match tokio::time::timeout(within, stream.read_to_end(&mut buf)).await {
        Ok(Ok(_)) => Ok(String::from_utf8_lossy(&buf).into_owned()),
        // A reset also ends the connection, with whatever came before it.
        Ok(Err(_)) => Ok(String::from_utf8_lossy(&buf).into_owned()),
        Err(_) => Err(String::from_utf8_lossy(&buf).into_owned()),
    }
}

/// Status line and JSON body of a raw HTTP/1.1 response.
fn parse(raw: &str) -> (u16, String, Json) {
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP response: {raw:?}"));
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let body = serde_json::from_str(body).unwrap_or(Json::Null);
    (status, head.to_ascii_lowercase(), body)
}

/// Another session holding the tasks table (PostgreSQL): every statement on
/// it stalls until the returned session rolls back.
async fn lock_tasks(app: &TestApp) -> sqlx::PgConnection {
    let mut locker = sqlx::PgConnection::connect(&app.db().url.to_string())
        .await
        .unwrap();
    sqlx::query("BEGIN").execute(&mut locker).await.unwrap();
    sqlx::query("LOCK TABLE tasks IN ACCESS EXCLUSIVE MODE")
        .execute(&mut locker)
        .await
        .unwrap();
    locker
}

/// A POST whose body never fully arrives: the request is in progress.
async fn slow_post(app: &TestApp) -> TcpStream {
    let mut stream = connect(app).await;
    stream
        .write_all(
            b"POST /api/task/ HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"title\"",
        )
        .await
        .unwrap();
    stream
}

/// The rest of `slow_post`'s 100-byte body, giving the task a title.
fn finish_body(title: &str) -> String {
    let end = format!(":\"{title}\"}}");
    format!(
        "{}{end}",
        " ".repeat(100 - br#"{"title""#.len() - end.len())
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_headers_answer_431_json_and_the_server_keeps_serving() {
    let stack = todo_with("max_header_bytes = 4096");
    let app = TestApp::spawn(stack.path()).await;

    // Above the limit: the JSON error of every other refusal.
    let big = "x".repeat(5000);
    let reply = app
        .client
        .get(format!("{}/api/task/", app.url))
        .header("x-padding", &big)
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), 431);
    let body: Json = reply.json().await.unwrap();
    assert_eq!(body["error"]["code"], "headers_too_large", "{body}");

    // A long request target counts too.
    let long = format!("/api/task/?q={}", "a".repeat(5000));
    app.get(&long).await.assert_error(431, "headers_too_large");

    // Far above it the parser refuses before buffering, and closes.
    let mut stream = connect(&app).await;
    let huge = format!(
        "GET /api/task/ HTTP/1.1\r\nHost: localhost\r\nx-padding: {}\r\n\r\n",
        "y".repeat(64 * 1024)
    );
    let _ = stream.write_all(huge.as_bytes()).await;
    let raw = read_all(&mut stream, Duration::from_secs(5))
        .await
        .expect("the server closes the connection");
    assert!(raw.starts_with("HTTP/1.1 431"), "{raw:?}");

    // Within the limit, nothing changed.
    assert_eq!(app.get("/api/task/").await.status, 200);
}

/// Requests stalled in the database hold their slots; with both slots
/// taken the next request is shed at once, and the stalled ones then finish.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_concurrent_requests_load_is_shed_with_503_and_retry_after() {
    let stack = todo_with("max_concurrent_requests = 2");
    let app = TestApp::spawn_on(TestEngine::Postgres, stack.path()).await;
    let mut locker = lock_tasks(&app).await;
    let stalled: Vec<_> = (0..2)
        .map(|_| {
            let (client, url) = (app.client.clone(), app.url.clone());
            tokio::spawn(async move {
                client
                    .post(format!("{url}/api/task/"))
                    .header("content-type", "application/json")
                    .body(r#"{"title":"done"}"#)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    // Both are in progress once the server has them waiting on the lock.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let shed = app.get("/api/task/").await;
    shed.assert_error(503, "overloaded");
    assert_eq!(shed.headers["retry-after"], "1");

    // The requests in progress finish normally...
    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    for request in stalled {
        assert_eq!(request.await.unwrap(), 201);
    }
    // ...and their permits are back: nothing was shed or lost for good.
    let list = app.get("/api/task/").await;
    assert_eq!(list.status, 200);
    let done = list.body.as_array().unwrap();
    assert_eq!(done.iter().filter(|t| t["title"] == "done").count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_answers_503_and_changes_nothing() {
    let stack = todo_with("request_timeout_seconds = 1");
    let app = TestApp::spawn_on(TestEngine::Postgres, stack.path()).await;
    // Another session holds the table: the database stalls every statement on it.
    let mut locker = lock_tasks(&app).await;

    let started = Instant::now();
    let stalled = app.post("/api/task/", r#"{"title":"stalled"}"#).await;
    stalled.assert_error(503, "timeout");
    assert_eq!(stalled.headers["retry-after"], "1");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(10),
        "answered after {waited:?}"
    );

    sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    // The abandoned insert was rolled back, and the server still answers.
    let list = app.get("/api/task/").await;
    assert_eq!(list.status, 200);
    assert!(
        list.body
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["title"] != "stalled"),
        "{}",
        list.body
    );
    assert_eq!(
        app.post("/api/task/", r#"{"title":"later"}"#).await.status,
        201
    );
}

/// A body that does not arrive within `body_timeout_seconds` is answered
/// 408 and the connection closed; nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_its_body_too_slowly_is_cut_off_at_the_body_deadline() {
    let stack = todo_with("body_timeout_seconds = 1");
    let app = TestApp::spawn(stack.path()).await;
    let before = app.get("/api/task/").await.body;
    let started = Instant::now();
    let mut stream = slow_post(&app).await;
    let raw = read_all(&mut stream, Duration::from_secs(5))
        .await
        .expect("answered and closed at the deadline");
    let waited = started.elapsed();
    let (status, head, body) = parse(&raw);
    assert_eq!(status, 408, "{raw}");
    assert_eq!(body["error"]["code"], "body_timeout");
    assert!(head.contains("connection: close"), "{head}");
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert_eq!(app.get("/api/task/").await.body, before, "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_idle_connections_are_closed_after_header_timeout_seconds() {
    let stack = todo_with("header_timeout_seconds = 1");
    let app = TestApp::spawn(stack.path()).await;

    // Slowloris: headers one byte at a time, never finished.
    let mut slow = connect(&app).await;
    slow.write_all(b"GET /api/task/ HTTP/1.1\r\nHost: localhost\r\nX-a: ")
        .await
        .unwrap();
    let started = Instant::now();
    let dripping = async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow.write_all(b"a").await.is_err() {
                break;
            }
            let mut probe = [0u8; 64];
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(1), slow.read(&mut probe)).await
            {
                break;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(5), dripping)
        .await
        .expect("the slow client is cut off");
    let cut_after = started.elapsed();
    assert!(cut_after >= Duration::from_millis(800), "{cut_after:?}");

    // An idle connection (keep-alive with nothing sent) is closed too.
    let mut idle = connect(&app).await;
    let closed = read_all(&mut idle, Duration::from_secs(5))
        .await
        .expect("the idle connection is closed");
    assert!(
        closed.is_empty() || closed.starts_with("HTTP/1.1 408"),
        "{closed:?}"
    );

    // Prompt clients are unaffected.
    assert_eq!(app.get("/api/task/").await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_max_connections_new_connections_wait_until_one_closes() {
    let stack = todo_with("max_connections = 2");
    let app = TestApp::spawn(stack.path()).await;
    let held_a = connect(&app).await;
    let _held_b = connect(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // The third connection is queued by the kernel, not served.
    let mut third = connect(&app).await;
    third
        .write_all(b"GET /api/task/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let waiting = read_all(&mut third, Duration::from_millis(700)).await;
    assert!(
        waiting.as_ref().is_err_and(|got| got.is_empty()),
        "no answer while two connections are open: {waiting:?}"
    );

    drop(held_a);
    let raw = read_all(&mut third, Duration::from_secs(5))
        .await
        .expect("answered once a slot frees");
    assert_eq!(parse(&raw).0, 200, "{raw}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_finishes_the_request_in_progress_and_closes_the_connection() {
    let app = TestApp::spawn(&crate::harness::example("todo")).await;
    let mut app = app;
    let mut stream = slow_post(&app).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopping = tokio::spawn(async move {
        app.stop().await;
        app
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rest = finish_body("drained");
    stream.write_all(rest.as_bytes()).await.unwrap();
    let raw = read_all(&mut stream, Duration::from_secs(10))
        .await
        .expect("answered, then closed");
    let (status, head, body) = parse(&raw);
    assert_eq!(status, 201, "{raw}");
    assert_eq!(body["title"], "drained");
    assert!(head.contains("connection: close"), "{head}");
    let app = tokio::time::timeout(Duration::from_secs(10), stopping)
        .await
        .expect("the server stops once drained")
        .unwrap();
    drop(app);
}
