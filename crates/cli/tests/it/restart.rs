//! Restarts keep data: seed rows are applied once, user changes survive.

use serde_json::Value as Json;

use crate::harness::{example, TestApp};

fn titles(body: &Json) -> Vec<String> {
    body.as_array()
        .unwrap()
        .iter()
        .map(|t| t["title"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn created_task_survives_and_seeds_are_not_duplicated() {
    let app = TestApp::spawn(&example("todo")).await;
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
    let seeds: i64 = app
        .sql()
        .query_row(
            "SELECT count(*) FROM _stackwright_seed_rows WHERE table_name = 'tasks'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(seeds, 3);
}

#[tokio::test]
async fn user_changes_to_seed_rows_are_kept() {
    let app = TestApp::spawn(&example("todo")).await;
    // A user deletes one seed task and edits another.
    assert_eq!(app.delete("/api/task/2/").await.status, 204);
    app.sql()
        .execute(
            "UPDATE tasks SET title = 'Edited', completed = 1 WHERE id = 1",
            [],
        )
        .unwrap();
    let app = app.restart().await;
    let list = app.get("/api/task/").await;
    assert_eq!(
        titles(&list.body),
        ["Edited", "3rd Task"],
        "deleted seed row stays deleted"
    );
    assert_eq!(list.body[0]["complete"], true);
}

#[tokio::test]
async fn keyed_seed_rows_are_applied_once() {
    let app = TestApp::spawn(&example("mysfits")).await;
    app.sql()
        .execute("UPDATE mysfits SET likes = 7 WHERE name = 'Cole'", [])
        .unwrap();
    let app = app.restart().await;
    let list = app.get("/mysfits").await;
    assert_eq!(list.body["mysfits"].as_array().unwrap().len(), 12);
    let likes: i64 = app
        .sql()
        .query_row("SELECT likes FROM mysfits WHERE name = 'Cole'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(likes, 7);
}

#[tokio::test]
async fn adding_a_column_with_a_default_does_not_reseed() {
    // A copy of the todo example, so the test can evolve its stack file.
    let toml = std::fs::read_to_string(example("todo").join("stackwright.toml")).unwrap();
    let stack = crate::harness::TempStack::new(&toml);
    stack.write(
        "seed/tasks.json",
        &std::fs::read_to_string(example("todo").join("seed/tasks.json")).unwrap(),
    );
    let mut app = TestApp::start_on(stack.path(), &stack.db(), false)
        .await
        .unwrap();
    assert_eq!(
        app.get("/api/task/").await.body.as_array().unwrap().len(),
        3
    );
    app.stop().await;

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
    let mut app = TestApp::start_on(stack.path(), &stack.db(), false)
        .await
        .unwrap();
    let list = app.get("/api/task/").await;
    assert_eq!(titles(&list.body), ["1st Task", "2nd Task", "3rd Task"]);
    app.stop().await;
}
