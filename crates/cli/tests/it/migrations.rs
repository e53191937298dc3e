//! Schema evolution: additive changes migrate in place; destructive ones
//! need --allow-destructive; every migration is recorded.

use serde_json::json;
use stackwright_server::StartError;
use stackwright_storage::StorageError;

use crate::harness::{
    on_every_engine, stackwright, text, TempStack, TestApp, TestDatabase, TestEngine,
};

const V1: &str = r#"
name = "notes"

[tables.notes]
key = "id"

[tables.notes.columns]
id = { type = "bigint", generated = true }
body = { type = "text" }

[[routes]]
method = "POST"
path = "/notes"
op = "create"
table = "notes"

[[routes]]
method = "GET"
path = "/notes"
op = "list"
table = "notes"
"#;

/// V1 plus a column with a default, a nullable column, an index and a table.
const V2: &str = r#"
name = "notes"

[tables.notes]
key = "id"

[tables.notes.columns]
id = { type = "bigint", generated = true }
body = { type = "text" }
pinned = { type = "boolean", default = false }
tag = { type = "string", max_length = 20, nullable = true }

[tables.notes.indexes]
by_tag = { columns = ["tag"] }

[tables.authors]
key = "handle"

[tables.authors.columns]
handle = { type = "string", max_length = 30 }

[[routes]]
method = "POST"
path = "/notes"
op = "create"
table = "notes"

[[routes]]
method = "GET"
path = "/notes"
op = "list"
table = "notes"
filters = ["tag"]
"#;

async fn migration_count(db: &TestDatabase) -> i64 {
    db.migration_count("notes").await
}

async fn added_column_index_and_table_keep_rows(engine: TestEngine) {
    let stack = TempStack::new(V1);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    for body in ["one", "two"] {
        assert_eq!(
            app.post("/notes", &format!(r#"{{"body":"{body}"}}"#))
                .await
                .status,
            201
        );
    }
    stack.write("stackwright.toml", V2);
    let app = app.restart().await;
    let list = app.get("/notes").await;
    assert_eq!(
        list.body,
        json!([
            {"id": 1, "body": "one", "pinned": false, "tag": null},
            {"id": 2, "body": "two", "pinned": false, "tag": null},
        ])
    );
    let created = app.post("/notes", r#"{"body":"three","tag":"x"}"#).await;
    assert_eq!(created.status, 201);
    assert_eq!(
        app.get("/notes?tag=x").await.body.as_array().unwrap().len(),
        1
    );
    assert_eq!(migration_count(app.db()).await, 2);
    let second = app.db().migration_summary("notes", 2).await;
    for step in [
        "add column `notes.pinned`",
        "create index `by_tag`",
        "create table `authors`",
    ] {
        assert!(second.contains(step), "{step} in {second}");
    }
    // Redshift has no secondary indexes: a non-unique one makes nothing
    // there (the table's sort key was chosen when it was made).
    assert_eq!(
        app.db().index_exists("notes", "by_tag").await,
        engine != TestEngine::Redshift
    );
    // Starting again with no change records nothing new.
    let app = app.restart().await;
    assert_eq!(migration_count(app.db()).await, 2);
}

async fn destructive_changes_are_refused_unless_allowed(engine: TestEngine) {
    let stack = TempStack::new(V2);
    let mut app = TestApp::spawn_on(engine, stack.path()).await;
    assert_eq!(
        app.post("/notes", r#"{"body":"keep me","tag":"t"}"#)
            .await
            .status,
        201
    );
    app.stop().await;
    let db = app.take_db();

    // Drop `tag` (and the index and table that used it), change `body`'s type.
    let v3 = V1.replace(
        r#"body = { type = "text" }"#,
        r#"body = { type = "integer", default = 0 }"#,
    );
    stack.write("stackwright.toml", &v3);
    let refused = TestApp::start(stack.path(), &db.url, false).await;
    let Err(StartError::Storage(StorageError::Destructive(changes))) = refused else {
        panic!("destructive change must be refused");
    };
    let all = changes.join("\n");
    for expected in [
        "drop column `notes.tag`",
        "drop column `notes.pinned`",
        "drop table `authors`",
        "text -> integer",
        "drop index `by_tag`",
    ] {
        assert!(all.contains(expected), "{expected} in {all}");
    }
    // Nothing changed: the old stack still starts and the row is intact.
    stack.write("stackwright.toml", V2);
    let mut again = TestApp::start(stack.path(), &db.url, false).await.unwrap();
    assert_eq!(again.get("/notes").await.body[0]["tag"], "t");
    assert_eq!(migration_count(&db).await, 1);
    again.stop().await;

    // Explicitly allowed (drops only this time): applied, remaining data kept.
    let drop_only = V1;
    stack.write("stackwright.toml", drop_only);
    let mut allowed = TestApp::start(stack.path(), &db.url, true).await.unwrap();
    assert_eq!(
        allowed.get("/notes").await.body,
        json!([{"id": 1, "body": "keep me"}])
    );
    assert_eq!(migration_count(&db).await, 2);
    assert!(!db.index_exists("notes", "by_tag").await);
    allowed.stop().await;
}

async fn new_required_column_without_default_is_refused(engine: TestEngine) {
    let stack = TempStack::new(V1);
    let mut app = TestApp::spawn_on(engine, stack.path()).await;
    app.stop().await;
    let db = app.take_db();
    stack.write(
        "stackwright.toml",
        &V1.replace(
            r#"body = { type = "text" }"#,
            "body = { type = \"text\" }\nrequired = { type = \"text\" }",
        ),
    );
    let err = TestApp::start(stack.path(), &db.url, true)
        .await
        .err()
        .expect("refused");
    let message = err.to_string();
    assert!(
        message.contains("`notes.required`") && message.contains("default"),
        "{message}"
    );
}

#[test]
fn migrate_command_reports_and_refuses_destructive_changes() {
    let stack = TempStack::new(V2);
    let db = stack.db();
    let url = format!("sqlite://{}", db.display());
    let dir = stack.path().to_str().unwrap();
    let first = stackwright(&["migrate", dir, "--database-url", &url, "--json"]);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let report: serde_json::Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_eq!(report["report"]["migration"]["version"], 1);
    let again = stackwright(&["migrate", dir, "--database-url", &url, "--json"]);
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(
        report["report"]["migration"]["version"],
        serde_json::Value::Null
    );

    stack.write("stackwright.toml", V1);
    let refused = stackwright(&["migrate", dir, "--database-url", &url]);
    assert!(!refused.status.success());
    let err = text(&refused.stderr);
    assert!(
        err.contains("drop column `notes.tag`") && err.contains("--allow-destructive"),
        "{err}"
    );
    let allowed = stackwright(&[
        "migrate",
        dir,
        "--database-url",
        &url,
        "--allow-destructive",
    ]);
    assert!(allowed.status.success(), "{}", text(&allowed.stderr));
    assert!(
        text(&allowed.stdout).contains("applied migration 2"),
        "{}",
        text(&allowed.stdout)
    );
}

on_every_engine!(
    added_column_index_and_table_keep_rows,
    destructive_changes_are_refused_unless_allowed,
    new_required_column_without_default_is_refused,
);
