//! The runtime's own database user, made by the migration (`stackwright
//! migrate --app-user`, and on AWS the migration step): it serves every
//! route but cannot change the schema, and a runtime that does not migrate
//! refuses a database at another schema. On the real PostgreSQL and MariaDB.

use sqlx::{AssertSqlSafe, Connection};

use crate::harness::{stackwright_env, text, Served, TempStack, TestDatabase, TestEngine};

/// The database's URL with `user` in place of the administrator.
fn as_user(db: &TestDatabase, user: &str) -> String {
    let (scheme, rest) = db.raw_url.split_once("://").unwrap();
    let (_, host) = rest.split_once('@').unwrap();
    format!("{scheme}://{user}@{host}")
}

/// Run `sql` as `user`: Ok, or the database's refusal.
async fn as_user_run(
    engine: TestEngine,
    url: &str,
    password: &str,
    sql: &str,
) -> Result<(), String> {
    let with_password = url.replacen('@', &format!(":{password}@"), 1);
    match engine {
        TestEngine::Postgres => {
            let mut c = sqlx::PgConnection::connect(&with_password)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
        _ => {
            let mut c = sqlx::MySqlConnection::connect(&with_password)
                .await
                .map_err(|e| e.to_string())?;
            sqlx::query(AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .map(|_| ())
                .map_err(|e| e.to_string())
        }
    }
}

fn migrate(stack: &TempStack, db: &TestDatabase, user: &str, password: &str) -> (bool, String) {
    let out = stackwright_env(
        &[
            "migrate",
            stack.path().to_str().unwrap(),
            "--database-url",
            &db.raw_url,
            "--app-user",
            user,
        ],
        &[("STACKWRIGHT_APP_DATABASE_PASSWORD", password)],
    );
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

async fn the_runtime_user_changes_rows_but_not_the_schema(engine: TestEngine) {
    let db = TestDatabase::create(engine).await;
    let stack = TempStack::copy_of("todo", |toml| toml);
    let user = format!("app_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let password = "Runtime-Pass'word-1";
    let (ok, log) = migrate(&stack, &db, &user, password);
    assert!(ok, "{log}");
    assert!(
        !log.contains(password) && !log.contains("Runtime-Pass"),
        "the password is never shown: {log}"
    );
    let url = as_user(&db, &user);

    // The runtime serves as that user, without migrating.
    let runtime = |password: &str| {
        Served::start(
            stack.path(),
            &url,
            &[
                ("STACKWRIGHT_DATABASE_PASSWORD", password),
                ("STACKWRIGHT_MIGRATED_ELSEWHERE", "1"),
            ],
        )
    };
    let served = runtime(password);
    let client = reqwest::Client::new();
    let created = client
        .post(format!("{}/api/task/", served.url()))
        .header("content-type", "application/json")
        .body(r#"{"title":"as the app user"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", served.log());
    let id = created.json::<serde_json::Value>().await.unwrap()["id"].clone();
    let deleted = client
        .delete(format!("{}/api/task/{id}/", served.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    drop(served);

    // Rows, yes; the schema, no.
    assert!(
        as_user_run(engine, &url, password, "SELECT COUNT(*) FROM tasks")
            .await
            .is_ok()
    );
    for ddl in [
        "DROP TABLE tasks",
        "CREATE TABLE stolen (a INTEGER)",
        "ALTER TABLE tasks ADD COLUMN x INTEGER",
        "TRUNCATE TABLE tasks",
        "DELETE FROM _stackwright_migrations",
    ] {
        let refused = as_user_run(engine, &url, password, ddl).await;
        assert!(refused.is_err(), "{ddl} was allowed");
    }

    // A runtime that does not migrate refuses a database at another schema.
    stack.write(
        "stackwright.toml",
        &std::fs::read_to_string(stack.path().join("stackwright.toml"))
            .unwrap()
            // The column (the topic's field of that name comes later).
            .replacen(
                "title = { type = \"text\" }",
                "title = { type = \"text\" }\nnote = { type = \"text\", nullable = true }",
                1,
            ),
    );
    let mut stale = runtime(password);
    let status = stale.child.wait().unwrap();
    assert!(!status.success());
    assert!(stale.log().contains("another schema"), "{}", stale.log());

    // Migrating again rotates the password. (This machine's PostgreSQL
    // trusts local connections, so there it is read from pg_authid: a SCRAM
    // verifier, never the password, and a new one.)
    let sql = format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'");
    let before = match engine {
        TestEngine::Postgres => db.text(&sql).await,
        _ => None,
    };
    let (ok, log) = migrate(&stack, &db, &user, "Rotated-Pass-2");
    assert!(ok, "{log}");
    match before {
        Some(before) => {
            let after = db.text(&sql).await.unwrap();
            assert!(
                after.starts_with("SCRAM-SHA-256$4096:") && !after.contains("Rotated"),
                "{after}"
            );
            assert_ne!(before, after);
        }
        None => assert!(as_user_run(engine, &url, password, "SELECT 1")
            .await
            .is_err()),
    }
    let new = as_user_run(engine, &url, "Rotated-Pass-2", "SELECT note FROM tasks").await;
    assert!(new.is_ok(), "{new:?}");
    let drop_user = match engine {
        TestEngine::Postgres => format!("DROP OWNED BY \"{user}\"; DROP ROLE \"{user}\""),
        _ => format!("DROP USER '{user}'@'%'"),
    };
    for statement in drop_user.split("; ") {
        db.exec(statement).await;
    }
}

mod the_runtime_user_changes_rows_but_not_the_schema {
    use crate::harness::TestEngine;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::the_runtime_user_changes_rows_but_not_the_schema(TestEngine::Postgres).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mariadb() {
        super::the_runtime_user_changes_rows_but_not_the_schema(TestEngine::Mariadb).await
    }
}
