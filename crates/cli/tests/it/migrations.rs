//! Schema evolution: additive changes migrate in place; destructive ones
//! need --allow-destructive; every migration is recorded.

use serde_json::json;
use stackwright_server::StartError;
use stackwright_storage::StorageError;

use crate::harness::{stackwright, text, TempStack, TestApp};

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

fn migrations(app: &TestApp) -> Vec<String> {
    let conn = app.sql();
    let mut stmt = conn
        .prepare("SELECT summary FROM _stackwright_migrations ORDER BY version")
        .unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn added_column_index_and_table_keep_rows() {
    let stack = TempStack::new(V1);
    let app = TestApp::spawn(stack.path()).await;
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
    let recorded = migrations(&app);
    assert_eq!(recorded.len(), 2, "{recorded:?}");
    assert!(
        recorded[1].contains("add column `notes.pinned`"),
        "{recorded:?}"
    );
    assert!(
        recorded[1].contains("create index `by_tag`"),
        "{recorded:?}"
    );
    assert!(
        recorded[1].contains("create table `authors`"),
        "{recorded:?}"
    );
    let index: i64 = app
        .sql()
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = 'notes__by_tag'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(index, 1);
    // Starting again with no change records nothing new.
    let app = app.restart().await;
    assert_eq!(migrations(&app).len(), 2);
}

#[tokio::test]
async fn destructive_changes_are_refused_unless_allowed() {
    let stack = TempStack::new(V2);
    let mut app = TestApp::spawn(stack.path()).await;
    assert_eq!(
        app.post("/notes", r#"{"body":"keep me","tag":"t"}"#)
            .await
            .status,
        201
    );
    let temp = app.take_temp();
    app.stop().await;

    // Drop `tag` (and the index and table that used it), change `body`'s type.
    let v3 = V1.replace(
        r#"body = { type = "text" }"#,
        r#"body = { type = "integer", default = 0 }"#,
    );
    stack.write("stackwright.toml", &v3);
    let refused = TestApp::start_on(stack.path(), &app.db_path, false).await;
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
    let mut again = TestApp::start_on(stack.path(), &app.db_path, false)
        .await
        .unwrap();
    assert_eq!(again.get("/notes").await.body[0]["tag"], "t");
    assert_eq!(migrations(&again).len(), 1);
    again.stop().await;

    // Explicitly allowed (drops only this time): applied, remaining data kept.
    let drop_only = V1;
    stack.write("stackwright.toml", drop_only);
    let mut allowed = TestApp::start_on(stack.path(), &app.db_path, true)
        .await
        .unwrap();
    assert_eq!(
        allowed.get("/notes").await.body,
        json!([{"id": 1, "body": "keep me"}])
    );
    assert_eq!(migrations(&allowed).len(), 2);
    allowed.stop().await;
    drop(temp);
}

#[tokio::test]
async fn new_required_column_without_default_is_refused() {
    let stack = TempStack::new(V1);
    let mut app = TestApp::spawn(stack.path()).await;
    let temp = app.take_temp();
    app.stop().await;
    stack.write(
        "stackwright.toml",
        &V1.replace(
            r#"body = { type = "text" }"#,
            "body = { type = \"text\" }\nrequired = { type = \"text\" }",
        ),
    );
    let err = TestApp::start_on(stack.path(), &app.db_path, true)
        .await
        .err()
        .expect("refused");
    let message = err.to_string();
    assert!(
        message.contains("`notes.required`") && message.contains("default"),
        "{message}"
    );
    drop(temp);
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
