//! Restarts keep data: seed rows are applied once, user changes survive.

use serde_json::{json, Value as Json};

use crate::harness::{example, on_every_engine, TempStack, TestApp, TestEngine};

fn titles(body: &Json) -> Vec<String> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect()
}

async fn created_task_survives_and_seeds_are_not_duplicated(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    assert_eq!(
        app.post("/api/task/", r#"{"title":"Mine"}"#).await.status,
        201
    );
    let app = app.restart().await;
    let app = app.restart().await;
    let list = app.get("/api/task/").await;
    assert_eq!(
        titles(&list.body),
        ["1st Task", "2nd Task", "3rd Task", "Mine"]
    );
    let seeds = app.db().seed_claims("tasks").await;
    assert_eq!(seeds, 3);
}

async fn user_changes_to_seed_rows_are_kept(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    // A user deletes one seed task and edits another.
    assert_eq!(app.delete("/api/task/2/").await.status, 204);
    app.db()
        .update_row(
            "tasks",
            "id",
            json!(1),
            &[("title", json!("Edited")), ("completed", json!(true))],
        )
        .await;
    let app = app.restart().await;
    let list = app.get("/api/task/").await;
    assert_eq!(
        titles(&list.body),
        ["Edited", "3rd Task"],
        "deleted seed row stays deleted"
    );
    assert_eq!(list.body[0]["complete"], true);
}

async fn keyed_seed_rows_are_applied_once(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("mysfits")).await;
    let cole = app.get("/mysfits?filter=LawChaos&value=Chaotic").await.body["mysfits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "Cole")
        .expect("Cole is chaotic")["mysfitId"]
        .as_str()
        .unwrap()
        .to_string();
    app.db()
        .update_row("mysfits", "mysfitId", json!(cole), &[("likes", json!(7))])
        .await;
    let app = app.restart().await;
    let list = app.get("/mysfits").await;
    assert_eq!(list.body["mysfits"].as_array().unwrap().len(), 12);
    assert_eq!(app.get(&format!("/mysfits/{cole}")).await.body["likes"], 7);
    assert_eq!(app.db().seed_claims("mysfits").await, 12);
}

async fn adding_a_column_with_a_default_does_not_reseed(engine: TestEngine) {
    // A copy of the todo example, so the test can evolve its stack file.
    let stack = TempStack::copy_of("todo", |t| t);
    let toml = std::fs::read_to_string(stack.path().join("stackwright.toml")).unwrap();
    let mut app = TestApp::spawn_on(engine, stack.path()).await;
    assert_eq!(
        app.get("/api/task/").await.body.as_array().unwrap().len(),
        3
    );
    app.stop().await;
    let db = app.take_db();

    let evolved = toml.replace(
        "completed = { type = \"boolean\", default = false }",
        "completed = { type = \"boolean\", default = false }\nnote = { type = \"text\", default = \"\" }",
    );
    let evolved = evolved.replace(
        "priority = { type = \"integer\", default = 0 }",
        "priority = { type = \"integer\", default = 1 }",
    );
    assert_ne!(evolved, toml);
    stack.write("stackwright.toml", &evolved);
    if engine == TestEngine::Redshift {
        // Redshift cannot change a column's default: refused, nothing done,
        // and the added column alone is applied.
        let refused = TestApp::start(stack.path(), &db.url, false).await;
        let why = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(
            why.contains("`tasks.priority` is not supported on Redshift"),
            "{why}"
        );
        let added_only = evolved.replace(
            "priority = { type = \"integer\", default = 1 }",
            "priority = { type = \"integer\", default = 0 }",
        );
        stack.write("stackwright.toml", &added_only);
    }
    let mut app = TestApp::start(stack.path(), &db.url, false).await.unwrap();
    let list = app.get("/api/task/").await;
    assert_eq!(titles(&list.body), ["1st Task", "2nd Task", "3rd Task"]);
    app.stop().await;
}

on_every_engine!(
    created_task_survives_and_seeds_are_not_duplicated,
    user_changes_to_seed_rows_are_kept,
    keyed_seed_rows_are_applied_once,
    adding_a_column_with_a_default_does_not_reseed,
);
