//! examples/todo: the Servian TechChallengeApp API.

use reqwest::Method;
use serde_json::json;
use stackwright_storage::DatabaseUrl;

use crate::harness::{example, on_every_engine, TestApp, TestEngine};

async fn lists_the_three_seed_tasks(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    let r = app.get("/api/task/").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!([
            {"id": 1, "priority": 0, "title": "1st Task", "complete": false},
            {"id": 2, "priority": 0, "title": "2nd Task", "complete": false},
            {"id": 3, "priority": 0, "title": "3rd Task", "complete": false},
        ])
    );
}

async fn creates_and_deletes_tasks(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    let created = app
        .post(
            "/api/task/",
            r#"{"title":"Write tests","priority":2,"complete":true}"#,
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.body,
        json!({"id": 4, "priority": 2, "title": "Write tests", "complete": true})
    );
    // Defaults fill what the body leaves out.
    let minimal = app.post("/api/task/", r#"{"title":"Minimal"}"#).await;
    assert_eq!(minimal.status, 201);
    assert_eq!(
        minimal.body,
        json!({"id": 5, "priority": 0, "title": "Minimal", "complete": false})
    );
    // The column is `completed`; the API field is `complete`.
    let stored = app
        .db()
        .read_column("tasks", "id", json!(4), "completed")
        .await;
    assert!(
        matches!(stored.as_deref(), Some("true" | "1")),
        "{stored:?}"
    );

    let list = app.get("/api/task/").await;
    assert_eq!(list.body.as_array().unwrap().len(), 5);

    let del = app.delete("/api/task/4/").await;
    assert_eq!(del.status, 204);
    assert_eq!(del.body, serde_json::Value::Null, "204 has no body");
    app.delete("/api/task/4/")
        .await
        .assert_error(404, "not_found");
    app.delete("/api/task/abc/")
        .await
        .assert_error(400, "bad_request");
    app.delete("/api/task/999/")
        .await
        .assert_error(404, "not_found");
    assert_eq!(
        app.get("/api/task/").await.body.as_array().unwrap().len(),
        4
    );
}

async fn empty_list_is_an_empty_array(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    for id in 1..=3 {
        assert_eq!(app.delete(&format!("/api/task/{id}/")).await.status, 204);
    }
    let r = app.get("/api/task/").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body, json!([]));
}

async fn bad_create_bodies_are_400(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    let cases = [
        r#"{"title": "unterminated"#,
        r#"not json"#,
        r#"["title"]"#,
        r#"{}"#,
        r#"{"title": 5}"#,
        r#"{"title": null}"#,
        r#"{"title": "x", "priority": "high"}"#,
        r#"{"title": "x", "priority": 1.5}"#,
        r#"{"title": "x", "priority": 9999999999}"#,
        r#"{"title": "x", "complete": "yes"}"#,
        r#"{"title": "x", "completed": true}"#,
        r#"{"title": "x", "id": 77}"#,
    ];
    for body in cases {
        let r = app.post("/api/task/", body).await;
        assert_eq!(r.status, 400, "{body} -> {}", r.body);
        r.assert_error(400, "bad_request");
    }
    let empty = app.request(Method::POST, "/api/task/", None).await;
    empty.assert_error(400, "bad_request");
    // Nothing was created by any of them.
    assert_eq!(
        app.get("/api/task/").await.body.as_array().unwrap().len(),
        3
    );
}

async fn wrong_methods_are_405_and_health_is_200(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    let put = app.request(Method::PUT, "/api/task/", Some("{}")).await;
    put.assert_error(405, "method_not_allowed");
    assert_eq!(put.headers["allow"], "GET, POST");
    app.request(Method::PATCH, "/api/task/1/", Some("{}"))
        .await
        .assert_error(405, "method_not_allowed");
    app.request(Method::GET, "/api/task/1/", None)
        .await
        .assert_error(405, "method_not_allowed");
    let health = app.get("/healthcheck/").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, json!({"status": "ok"}));
}

#[tokio::test]
async fn sqlite_health_is_503_while_the_database_is_locked_and_recovers() {
    let app = TestApp::spawn(&example("todo")).await;
    let DatabaseUrl::Sqlite { path } = &app.database else {
        unreachable!()
    };
    assert_eq!(app.get("/healthcheck/").await.status, 200);
    // Another process holds the write lock and does not let go.
    let holder = rusqlite::Connection::open(path).unwrap();
    holder
        .execute_batch("BEGIN IMMEDIATE; UPDATE tasks SET priority = priority;")
        .unwrap();
    let down = app.get("/healthcheck/").await;
    down.assert_error(503, "unavailable");
    assert_eq!(down.headers["retry-after"], "1");
    // Released: the same server answers again, no restart.
    holder.execute_batch("COMMIT").unwrap();
    drop(holder);
    assert_eq!(app.get("/healthcheck/").await.status, 200);
    assert_eq!(app.get("/api/task/").await.status, 200);
}

on_every_engine!(
    lists_the_three_seed_tasks,
    creates_and_deletes_tasks,
    empty_list_is_an_empty_array,
    bad_create_bodies_are_400,
    wrong_methods_are_405_and_health_is_200,
);
