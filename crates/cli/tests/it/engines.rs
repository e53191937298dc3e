//! Engine behaviour beyond the contract: concurrency, outages, credentials,
//! concurrent migrators.

use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::{
    example, on_every_engine, stackwright_env, text, TcpProxy, TempStack, TestApp, TestDatabase,
    TestEngine,
};

/// 200 concurrent likes on one mysfit end at exactly +200.
async fn two_hundred_concurrent_likes_count_exactly(engine: TestEngine) {
    // The example's like route needs sign-in; this copy lets anyone like.
    let stack = TempStack::copy_of("mysfits", |t| t.replace("auth = \"user\"\n", ""));
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let list = app.get("/mysfits?filter=GoodEvil&value=Evil").await;
    let id = list.body["mysfits"][0]["mysfitId"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tasks = Vec::new();
    for _ in 0..200 {
        let client = app.client.clone();
        let url = format!("{}/mysfits/{id}/like", app.url);
        tasks.push(tokio::spawn(async move {
            client.post(url).send().await.unwrap().status().as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    assert_eq!(app.get(&format!("/mysfits/{id}")).await.body["likes"], 200);
}

/// 100 concurrent creates yield 100 distinct ids.
async fn hundred_concurrent_creates_get_distinct_ids(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("todo")).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let client = app.client.clone();
        let url = format!("{}/api/task/", app.url);
        tasks.push(tokio::spawn(async move {
            let r = client
                .post(url)
                .header("content-type", "application/json")
                .body(format!(r#"{{"title":"task {i}"}}"#))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
            r.json::<serde_json::Value>().await.unwrap()["id"]
                .as_i64()
                .unwrap()
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.unwrap());
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 100);
    assert!(ids.iter().all(|id| *id > 3), "seed ids are not reused");
    assert_eq!(
        app.get("/api/task/").await.body.as_array().unwrap().len(),
        103
    );
}

/// Several `stackwright migrate` processes at once: one migration, seeds once.
async fn concurrent_migrators_apply_once(engine: TestEngine) {
    let db = TestDatabase::create(engine).await;
    let dir = example("todo");
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = db.raw_url.clone();
            let dir = dir.clone();
            std::thread::spawn(move || {
                Command::new(env!("CARGO_BIN_EXE_stackwright"))
                    .args(["migrate", dir.to_str().unwrap(), "--database-url", &url])
                    .env("NO_COLOR", "1")
                    .output()
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert_eq!(db.migration_count("todo").await, 1);
    assert_eq!(db.count_rows("tasks").await, 3);
    assert_eq!(db.seed_claims("tasks").await, 3);
}

on_every_engine!(
    two_hundred_concurrent_likes_count_exactly,
    hundred_concurrent_creates_get_distinct_ids,
    concurrent_migrators_apply_once,
);

/// Cut the connection to the database: 503s; restore it: 200s, no restart.
async fn outage_answers_503_and_recovers(engine: TestEngine) {
    let db = TestDatabase::create(engine).await;
    let proxy = TcpProxy::start(engine.server_port()).await;
    let app = TestApp::start(&example("todo"), &db.url_via_port(proxy.port), false)
        .await
        .expect("starts through the proxy");
    assert_eq!(app.get("/api/task/").await.status, 200);

    proxy.cut();
    app.get("/api/task/").await.assert_error(503, "unavailable");
    app.get("/healthcheck/")
        .await
        .assert_error(503, "unavailable");
    app.post("/api/task/", r#"{"title":"during the outage"}"#)
        .await
        .assert_error(503, "unavailable");

    proxy.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/healthcheck/").await.status != 200 {
        assert!(Instant::now() < deadline, "health did not recover");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let list = app.get("/api/task/").await;
    assert_eq!(list.status, 200);
    assert_eq!(
        list.body.as_array().unwrap().len(),
        3,
        "nothing written during the outage"
    );
    assert_eq!(
        app.post("/api/task/", r#"{"title":"after"}"#).await.status,
        201
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outage_answers_503_and_recovers() {
    outage_answers_503_and_recovers(TestEngine::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_outage_answers_503_and_recovers() {
    outage_answers_503_and_recovers(TestEngine::Mariadb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_outage_answers_503_and_recovers() {
    outage_answers_503_and_recovers(TestEngine::Dynamodb).await;
}

const SECRET: &str = "Sw0rdf1sh-never-logged";

/// The password reaches the server but never the logs, errors or help.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passwords_come_from_url_env_or_file_and_are_never_printed() {
    let engine = TestEngine::Mariadb;
    let db = TestDatabase::create(engine).await;
    let user = format!("u{}", &db.name[3..]);
    engine
        .admin(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{SECRET}'"
        ))
        .await;
    engine
        .admin(&format!("GRANT ALL ON {}.* TO '{user}'@'%'", db.name))
        .await;
    let port = engine.server_port();
    let dir = example("todo");
    let dir = dir.to_str().unwrap();
    let trace = [("STACKWRIGHT_LOG", "trace")];
    let mut printed = String::new();

    // 1. In the URL.
    let in_url = format!("mysql://{user}:{SECRET}@127.0.0.1:{port}/{}", db.name);
    let out = stackwright_env(&["migrate", dir, "--database-url", &in_url], &trace);
    assert!(out.status.success(), "{}", text(&out.stderr));
    printed += &(text(&out.stdout) + &text(&out.stderr));

    // 2. From the environment: the URL carries no password.
    let bare = format!("mysql://{user}@127.0.0.1:{port}/{}", db.name);
    let env = [
        ("STACKWRIGHT_LOG", "trace"),
        ("STACKWRIGHT_DATABASE_PASSWORD", SECRET),
    ];
    let out = stackwright_env(&["migrate", dir, "--database-url", &bare], &env);
    assert!(out.status.success(), "{}", text(&out.stderr));
    printed += &(text(&out.stdout) + &text(&out.stderr));

    // 3. From a file; and a wrong password fails, so the password really is used.
    let temp = tempfile::TempDir::new().unwrap();
    let file = temp.path().join("db-password");
    std::fs::write(&file, format!("{SECRET}\n")).unwrap();
    let out = stackwright_env(
        &[
            "migrate",
            dir,
            "--database-url",
            &bare,
            "--database-password-file",
            file.to_str().unwrap(),
        ],
        &trace,
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    printed += &(text(&out.stdout) + &text(&out.stderr));
    let wrong = format!("mysql://{user}:not-{SECRET}@127.0.0.1:{port}/{}", db.name);
    let out = stackwright_env(&["migrate", dir, "--database-url", &wrong], &trace);
    assert!(!out.status.success());
    printed += &text(&out.stderr);

    // Errors that echo the URL, and help with the URL in the environment.
    let unreachable = format!("mysql://{user}:{SECRET}@127.0.0.1:1/{}", db.name);
    let out = stackwright_env(&["migrate", dir, "--database-url", &unreachable], &trace);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("mysql://{user}:***@127.0.0.1:1")),
        "{err}"
    );
    printed += &err;
    let out = stackwright_env(
        &["up", "--help"],
        &[("STACKWRIGHT_DATABASE_URL", in_url.as_str())],
    );
    printed += &text(&out.stdout);

    assert!(
        printed.contains("seed `tasks`"),
        "the runs printed their reports"
    );
    assert!(
        !printed.contains(SECRET),
        "the password was printed:\n{printed}"
    );
    engine.admin(&format!("DROP USER '{user}'@'%'")).await;
}

/// `up` on PostgreSQL serves the contract and keeps data across restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn up_on_postgres_keeps_data_across_restarts() {
    let db = TestDatabase::create(TestEngine::Postgres).await;
    let dir = example("todo");
    for round in 0..2 {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stackwright"))
            .args([
                "up",
                dir.to_str().unwrap(),
                "--port",
                "0",
                "--json",
                "--database-url",
                &db.raw_url,
            ])
            .env("NO_COLOR", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().unwrap()),
            &mut line,
        )
        .unwrap();
        let info: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert!(info["database"]
            .as_str()
            .unwrap()
            .starts_with("postgres://"));
        let base = info["url"].as_str().unwrap();
        let client = reqwest::Client::new();
        if round == 0 {
            let r = client
                .post(format!("{base}/api/task/"))
                .header("content-type", "application/json")
                .body(r#"{"title":"kept"}"#)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
        let list: serde_json::Value = client
            .get(format!("{base}/api/task/"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let titles: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["title"].as_str().unwrap())
            .collect();
        assert_eq!(titles, ["1st Task", "2nd Task", "3rd Task", "kept"]);
        assert!(Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap()
            .success());
        assert!(child.wait().unwrap().success());
    }
}

/// In the cloud the password comes from the Secrets Manager secret the data
/// layer generates (STACKWRIGHT_DATABASE_SECRET_ARN); here moto holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_from_a_secrets_manager_secret() {
    let engine = TestEngine::Mariadb;
    let db = TestDatabase::create(engine).await;
    let user = format!("s{}", &db.name[3..]);
    let password = format!("{SECRET}-sm");
    engine
        .admin(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"
        ))
        .await;
    engine
        .admin(&format!("GRANT ALL ON {}.* TO '{user}'@'%'", db.name))
        .await;

    let endpoint = crate::harness::ensure_moto().await;
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
        .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let secret = client
        .create_secret()
        .name(format!("{}/database", db.name))
        .secret_string(format!(
            r#"{{"username":"{user}","password":"{password}"}}"#
        ))
        .send()
        .await
        .unwrap();
    let arn = secret.arn().unwrap().to_string();

    let url = format!(
        "mysql://{user}@127.0.0.1:{}/{}",
        engine.server_port(),
        db.name
    );
    let dir = example("todo");
    let aws = |secret_arn: String| {
        vec![
            ("STACKWRIGHT_LOG".to_string(), "trace".to_string()),
            ("STACKWRIGHT_DATABASE_SECRET_ARN".to_string(), secret_arn),
            ("AWS_ENDPOINT_URL".to_string(), endpoint.clone()),
            ("AWS_REGION".to_string(), "us-east-1".to_string()),
            ("AWS_ACCESS_KEY_ID".to_string(), "test".to_string()),
            ("AWS_SECRET_ACCESS_KEY".to_string(), "test".to_string()),
        ]
    };
    let run = |env: Vec<(String, String)>| {
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        stackwright_env(
            &["migrate", dir.to_str().unwrap(), "--database-url", &url],
            &env,
        )
    };
    let out = run(aws(arn.clone()));
    let printed = text(&out.stdout) + &text(&out.stderr);
    assert!(out.status.success(), "{printed}");
    assert!(
        printed.contains("seed `tasks`: 3 row(s) inserted"),
        "{printed}"
    );
    assert!(
        !printed.contains(&password),
        "the password was printed:\n{printed}"
    );

    let missing = format!("{arn}-missing");
    let bad = run(aws(missing.clone()));
    let err = text(&bad.stderr);
    assert!(!bad.status.success());
    assert!(
        err.contains("cannot read the database secret") && err.contains(&missing),
        "{err}"
    );
    engine.admin(&format!("DROP USER '{user}'@'%'")).await;
}

/// RDS enforces TLS; `sslmode=require` must really encrypt the runtime's
/// connections, as the server itself reports.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_connections_use_tls_when_required() {
    let db = TestDatabase::create(TestEngine::Postgres).await;
    let url: stackwright_storage::DatabaseUrl =
        format!("{}?sslmode=require", db.raw_url).parse().unwrap();
    let app = TestApp::start(&example("todo"), &url, false)
        .await
        .expect("starts over TLS");
    assert_eq!(app.get("/api/task/").await.status, 200);
    // Both the request path's sessions and the pool's (migrations, seeds,
    // topics).
    let (pool, requests) = (
        stackwright_storage::postgres::APPLICATION_NAME,
        stackwright_storage::postgres::REQUEST_SESSIONS,
    );
    for name in [pool, requests] {
        let sessions = |ssl: bool| {
            format!(
                "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
                 WHERE a.application_name = '{name}' AND a.datname = '{}' AND s.ssl = {ssl}",
                db.name
            )
        };
        let encrypted = db.count(&sessions(true)).await;
        let plain = db.count(&sessions(false)).await;
        assert!(
            encrypted >= 1 && plain == 0,
            "{name}: encrypted {encrypted}, plain {plain}"
        );
    }
}

/// A replica serving one request at a time (as a Lambda function does)
/// holds one request-path connection; concurrent requests share a few.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_opens_request_connections_only_under_concurrency() {
    let db = TestDatabase::create(TestEngine::Postgres).await;
    let app = TestApp::start(&example("todo"), &db.url, false)
        .await
        .expect("starts");
    for _ in 0..20 {
        assert_eq!(app.get("/api/task/").await.status, 200);
    }
    let sessions = format!(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = '{}' AND datname = '{}'",
        stackwright_storage::postgres::REQUEST_SESSIONS,
        db.name
    );
    assert_eq!(db.count(&sessions).await, 1, "one request at a time");
    let tasks: Vec<_> = (0..64)
        .map(|_| {
            let (client, url) = (app.client.clone(), format!("{}/api/task/", app.url));
            tokio::spawn(async move { client.get(url).send().await.unwrap().status().as_u16() })
        })
        .collect();
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as i64;
    let open = db.count(&sessions).await;
    assert!(
        (1..=2 * cores).contains(&open),
        "{open} request sessions for {cores} cores"
    );
}
