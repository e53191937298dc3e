//! Integers at their limits, on every engine: a value on the inside of a
//! column's range is stored and read back exactly, one past it is refused
//! with a 400 that says so, never stored as the nearest value that fits.
//! Over HTTP, in seed files and in topic messages.

use serde_json::{json, Value as Json};

use crate::harness::{on_every_engine, stackwright, text, TempStack, TestApp, TestEngine};

const STACK: &str = r#"name = "numbers"

[tables.n]
key = "id"
seed = "seed/n.json"

[tables.n.columns]
id = { type = "integer" }
i = { type = "integer", nullable = true }
b = { type = "bigint", nullable = true }

[[routes]]
method = "POST"
path = "/n"
op = "create"
table = "n"

[[routes]]
method = "GET"
path = "/n/{id}"
op = "get"
table = "n"

[topics.values]
fields = { id = { type = "integer" }, i = { type = "integer", nullable = true }, b = { type = "bigint", nullable = true } }

[[subscriptions]]
topic = "values"
table = "n"
action = "upsert"
"#;

/// The limits, written as JSON text (serde_json's own number formatting
/// is what is being tested, so the bodies are never built from values).
const SEED: &str = r#"[
  {"id": 1, "i": 2147483647, "b": 9223372036854775807},
  {"id": 2, "i": -2147483648, "b": -9223372036854775808}
]"#;

fn numbers_stack() -> TempStack {
    let stack = TempStack::new(STACK);
    stack.write("seed/n.json", SEED);
    stack
}

async fn integers_keep_their_value_or_are_refused(engine: TestEngine) {
    let stack = numbers_stack();
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let exact = |id: i64, i: i64, b: i64| json!({"id": id, "i": i, "b": b});

    // Seeds: both ends of both ranges, read back exactly.
    let max = app.get("/n/1").await;
    assert_eq!(max.body, exact(1, i32::MAX.into(), i64::MAX), "{engine:?}");
    let min = app.get("/n/2").await;
    assert_eq!(min.body, exact(2, i32::MIN.into(), i64::MIN), "{engine:?}");

    // Over HTTP: the limits are taken, one past them refused.
    let created = app
        .post(
            "/n",
            r#"{"id": 3, "i": -2147483648, "b": 9223372036854775807}"#,
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        app.get("/n/3").await.body,
        exact(3, i32::MIN.into(), i64::MAX)
    );
    for (body, says) in [
        (r#"{"id": 4, "i": 2147483648}"#, "32-bit"),
        (r#"{"id": 4, "i": -2147483649}"#, "32-bit"),
        (r#"{"id": 4, "b": 9223372036854775808}"#, "64-bit"),
        (r#"{"id": 4, "b": -9223372036854775809}"#, "64-bit"),
        (r#"{"id": 4, "b": 1e19}"#, "64-bit"),
    ] {
        let refused = app.post("/n", body).await;
        refused.assert_error(400, "bad_request");
        let message = refused.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{body}: {message}");
    }
    app.get("/n/4").await.assert_error(404, "not_found");

    // Topics: Redshift's messages come from SQS only (lifecycle.rs).
    if engine == TestEngine::Redshift {
        return;
    }
    let refused = app
        .post("/topics/values", r#"{"id": 5, "b": -9223372036854775809}"#)
        .await;
    refused.assert_error(400, "bad_request");
    let published = app
        .post(
            "/topics/values",
            r#"{"id": 5, "i": 2147483647, "b": -9223372036854775808}"#,
        )
        .await;
    assert_eq!(published.status, 202, "{}", published.body);
    let mut got = Json::Null;
    for _ in 0..100 {
        got = app.get("/n/5").await.body;
        if got["id"] == 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(got, exact(5, i32::MAX.into(), i64::MIN), "{engine:?}");
}

on_every_engine!(integers_keep_their_value_or_are_refused);

/// A seed value one past its column's range stops `check` and `up` before
/// anything is written, naming the file.
#[test]
fn a_seed_past_a_limit_is_refused() {
    let stack = numbers_stack();
    stack.write("seed/n.json", r#"[{"id": 1, "b": -9223372036854775809}]"#);
    let out = stackwright(&["check", stack.path().to_str().unwrap()]);
    let said = text(&out.stderr) + &text(&out.stdout);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("n.json") && said.contains("64-bit integer"),
        "{said}"
    );
}
