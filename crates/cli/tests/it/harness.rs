//! Test harness: the real server on port 0 with a fresh database per test
//! on each engine, and the real `stackwright` binary for command-line tests.
//!
//! PostgreSQL and MariaDB are the machine's own servers (see `.ci/run`); a
//! missing server fails the test, never skips it. Each test creates its own
//! database and drops it afterwards, so tests run in parallel and leave
//! nothing behind.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use reqwest::{Method, StatusCode};
use serde_json::Value as Json;
use sqlx::{AssertSqlSafe, Connection};
use stackwright_server::{Application, Settings, StartError};
use stackwright_storage::DatabaseUrl;
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

pub fn example(name: &str) -> PathBuf {
    examples_dir().join(name)
}

/// Generate one test per engine for each `async fn NAME(engine: TestEngine)`.
macro_rules! on_every_engine {
    ($($name:ident),* $(,)?) => {
        crate::harness::on_engines!(
            [sqlite => Sqlite, postgres => Postgres, mariadb => Mariadb, dynamodb => Dynamodb, redshift => Redshift]
            $($name),*
        );
    };
}
pub(crate) use on_every_engine;

/// As [`on_every_engine`], on the engines a service reaches by URL.
macro_rules! on_sql_engines {
    ($($name:ident),* $(,)?) => {
        crate::harness::on_engines!(
            [sqlite => Sqlite, postgres => Postgres, mariadb => Mariadb]
            $($name),*
        );
    };
}
pub(crate) use on_sql_engines;

/// A module per test function `NAME`, holding one test per engine of the
/// list (`test_name => TestEngine variant`) that runs `NAME(engine)`.
macro_rules! on_engines {
    ($engines:tt $($name:ident),*) => {
        $( crate::harness::on_engines!(@one $name $engines); )*
    };
    (@one $name:ident [$($test:ident => $engine:ident),*]) => {
        mod $name {
            use crate::harness::TestEngine;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() { super::$name(TestEngine::$engine).await }
            )*
        }
    };
}
pub(crate) use on_engines;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TestEngine {
    Sqlite,
    Postgres,
    Mariadb,
    /// moto_server on 127.0.0.1 (started on demand from `.tools/moto`).
    Dynamodb,
    /// The Redshift dialect (a `redshift://` URL) on the machine's
    /// PostgreSQL: no Redshift runs here; its own statements are checked by
    /// sqlfluff (see docs/engines.md).
    Redshift,
}

impl TestEngine {
    /// The server's TCP port, from its admin URL.
    pub fn server_port(self) -> u16 {
        let url = admin_url(self);
        let authority = url
            .split("://")
            .nth(1)
            .unwrap_or("")
            .split('/')
            .next()
            .unwrap_or("");
        authority
            .rsplit_once(':')
            .and_then(|(_, p)| p.parse().ok())
            .unwrap_or(match self {
                TestEngine::Postgres | TestEngine::Redshift => 5432,
                TestEngine::Dynamodb => 5055,
                _ => 3306,
            })
    }

    /// Run one statement as the server's administrator.
    pub async fn admin(self, sql: &str) {
        admin_exec(self, sql).await;
    }
}

fn admin_url(engine: TestEngine) -> String {
    match engine {
        TestEngine::Postgres => std::env::var("STACKWRIGHT_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into()),
        TestEngine::Redshift => {
            admin_url(TestEngine::Postgres).replacen("postgres:", "redshift:", 1)
        }
        TestEngine::Mariadb => std::env::var("STACKWRIGHT_TEST_MYSQL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into()),
        TestEngine::Dynamodb => std::env::var("STACKWRIGHT_TEST_DYNAMODB")
            .unwrap_or_else(|_| "http://127.0.0.1:5055".into()),
        TestEngine::Sqlite => unreachable!("SQLite needs no server"),
    }
}

/// A database of its own for one test, removed when dropped.
pub struct TestDatabase {
    pub engine: TestEngine,
    /// Server engines: the database's name; SQLite: the file.
    pub name: String,
    pub url: DatabaseUrl,
    /// The URL as text, for the command line (`url` displays redacted).
    pub raw_url: String,
    _temp: Option<TempDir>,
}

impl TestDatabase {
    pub async fn create(engine: TestEngine) -> TestDatabase {
        let name = format!("sw_{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
        match engine {
            TestEngine::Sqlite => {
                let temp = TempDir::new().expect("temp dir");
                let path = temp.path().join(format!("{name}.db"));
                TestDatabase {
                    engine,
                    name: path.display().to_string(),
                    raw_url: format!("sqlite://{}", path.display()),
                    url: DatabaseUrl::Sqlite { path },
                    _temp: Some(temp),
                }
            }
            TestEngine::Dynamodb => {
                let endpoint = ensure_moto().await;
                let raw_url = format!("dynamodb://us-east-1?endpoint={endpoint}&prefix={name}_");
                TestDatabase {
                    engine,
                    url: raw_url.parse().expect("url"),
                    raw_url,
                    name,
                    _temp: None,
                }
            }
            TestEngine::Postgres | TestEngine::Mariadb | TestEngine::Redshift => {
                admin_exec(engine, &format!("CREATE DATABASE {name}")).await;
                let raw_url = server_url(engine, None, &name);
                TestDatabase {
                    engine,
                    url: raw_url.parse().expect("url"),
                    raw_url,
                    name,
                    _temp: None,
                }
            }
        }
    }

    /// The same database reached through another port (a proxy).
    pub fn url_via_port(&self, port: u16) -> DatabaseUrl {
        let url = match self.engine {
            TestEngine::Dynamodb => format!(
                "dynamodb://us-east-1?endpoint=http://127.0.0.1:{port}&prefix={}_",
                self.name
            ),
            _ => server_url(self.engine, Some(port), &self.name),
        };
        url.parse().expect("url")
    }

    /// Run one statement on the database.
    pub async fn exec(&self, sql: &str) {
        match &self.url {
            DatabaseUrl::Sqlite { path } => {
                rusqlite::Connection::open(path)
                    .unwrap()
                    .execute_batch(sql)
                    .unwrap();
            }
            url => {
                let mut conn = connect(url).await;
                conn.execute(sql).await;
            }
        }
    }

    /// First column of the first row, as text (NULL: None).
    pub async fn text(&self, sql: &str) -> Option<String> {
        match &self.url {
            DatabaseUrl::Sqlite { path } => {
                let conn = rusqlite::Connection::open(path).unwrap();
                conn.query_row(sql, [], |r| {
                    let v: rusqlite::types::Value = r.get(0)?;
                    Ok(match v {
                        rusqlite::types::Value::Null => None,
                        rusqlite::types::Value::Integer(i) => Some(i.to_string()),
                        rusqlite::types::Value::Real(f) => Some(f.to_string()),
                        rusqlite::types::Value::Text(t) => Some(t),
                        rusqlite::types::Value::Blob(_) => Some("<blob>".into()),
                    })
                })
                .unwrap()
            }
            url => connect(url).await.text(sql).await,
        }
    }

    pub async fn count(&self, sql: &str) -> i64 {
        self.text(sql)
            .await
            .expect("a count")
            .parse()
            .expect("an integer")
    }
}

fn server_url(engine: TestEngine, port: Option<u16>, db: &str) -> String {
    let admin = admin_url(engine);
    let base = admin.trim_end_matches('/');
    // Replace the database path (and the port when asked).
    let (scheme_host, _) = match base.split_once("://").and_then(|(s, rest)| {
        rest.find('/')
            .map(|i| (format!("{s}://{}", &rest[..i]), &rest[i..]))
    }) {
        Some(x) => x,
        None => (base.to_string(), ""),
    };
    let scheme_host = match port {
        Some(p) => match scheme_host.rsplit_once(':') {
            Some((h, old)) if old.chars().all(|c| c.is_ascii_digit()) => format!("{h}:{p}"),
            _ => format!("{scheme_host}:{p}"),
        },
        None => scheme_host,
    };
    format!("{scheme_host}/{db}")
}

enum ServerConn {
    Pg(sqlx::PgConnection),
    My(sqlx::MySqlConnection),
}

async fn connect(url: &DatabaseUrl) -> ServerConn {
    match url {
        DatabaseUrl::Postgres(u) | DatabaseUrl::Redshift(u) => ServerConn::Pg(
            sqlx::PgConnection::connect_with(
                &sqlx::postgres::PgConnectOptions::from_str(u.connect_string()).unwrap(),
            )
            .await
            .expect("PostgreSQL at 127.0.0.1:5432 (start it: see .ci/run)"),
        ),
        DatabaseUrl::Mysql(u) => ServerConn::My(
            sqlx::MySqlConnection::connect_with(
                &sqlx::mysql::MySqlConnectOptions::from_str(u.connect_string()).unwrap(),
            )
            .await
            .expect("MariaDB at 127.0.0.1:3306 (start it: see .ci/run)"),
        ),
        DatabaseUrl::Sqlite { .. } | DatabaseUrl::Dynamodb(_) => unreachable!("not a SQL server"),
    }
}

impl ServerConn {
    async fn execute(&mut self, sql: &str) {
        let sql = AssertSqlSafe(sql.to_string());
        match self {
            ServerConn::Pg(c) => {
                sqlx::raw_sql(sql).execute(c).await.unwrap();
            }
            ServerConn::My(c) => {
                sqlx::raw_sql(sql).execute(c).await.unwrap();
            }
        }
    }

    async fn text(&mut self, sql: &str) -> Option<String> {
        match self {
            ServerConn::Pg(c) => {
                use sqlx::Row;
                let row = sqlx::query(AssertSqlSafe(sql.to_string()))
                    .fetch_one(c)
                    .await
                    .unwrap();
                let raw = row.try_get_raw(0).unwrap();
                if sqlx::ValueRef::is_null(&raw) {
                    return None;
                }
                row.try_get::<String, _>(0)
                    .or_else(|_| row.try_get::<i64, _>(0).map(|i| i.to_string()))
                    .or_else(|_| row.try_get::<i32, _>(0).map(|i| i.to_string()))
                    .or_else(|_| row.try_get::<bool, _>(0).map(|b| b.to_string()))
                    .ok()
            }
            ServerConn::My(c) => {
                use sqlx::Row;
                let row = sqlx::query(AssertSqlSafe(sql.to_string()))
                    .fetch_one(c)
                    .await
                    .unwrap();
                let raw = row.try_get_raw(0).unwrap();
                if sqlx::ValueRef::is_null(&raw) {
                    return None;
                }
                row.try_get::<String, _>(0)
                    .or_else(|_| row.try_get::<i64, _>(0).map(|i| i.to_string()))
                    .or_else(|_| row.try_get::<bool, _>(0).map(|b| b.to_string()))
                    .ok()
            }
        }
    }
}

async fn admin_exec(engine: TestEngine, sql: &str) {
    let url: DatabaseUrl = admin_url(engine).parse().unwrap();
    connect(&url).await.execute(sql).await;
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let sql = match self.engine {
            TestEngine::Sqlite => return,
            TestEngine::Dynamodb => {
                let prefix = format!("{}_", self.name);
                let _ = std::thread::spawn(move || {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(delete_dynamo_tables(&prefix));
                })
                .join();
                return;
            }
            TestEngine::Postgres | TestEngine::Redshift => {
                format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)
            }
            TestEngine::Mariadb => format!("DROP DATABASE IF EXISTS {}", self.name),
        };
        let engine = self.engine;
        // Drop runs outside async code: use a runtime of its own on a thread.
        let _ = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(admin_exec(engine, &sql));
        })
        .join();
    }
}

/// A running server on its own database.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub stack_dir: PathBuf,
    pub database: DatabaseUrl,
    pub allow_destructive: bool,
    db: Option<TestDatabase>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Json,
}

impl TestApp {
    /// Serve `stack_dir` on a new SQLite database.
    pub async fn spawn(stack_dir: &Path) -> TestApp {
        Self::spawn_on(TestEngine::Sqlite, stack_dir).await
    }

    /// Serve `stack_dir` on a new database of `engine`.
    pub async fn spawn_on(engine: TestEngine, stack_dir: &Path) -> TestApp {
        let db = TestDatabase::create(engine).await;
        let mut app = Self::start(stack_dir, &db.url, false)
            .await
            .expect("server starts");
        app.db = Some(db);
        app
    }

    /// Serve `stack_dir` on an existing database.
    pub async fn start(
        stack_dir: &Path,
        database: &DatabaseUrl,
        allow_destructive: bool,
    ) -> Result<TestApp, StartError> {
        let stack =
            stackwright_stack::load(stack_dir).unwrap_or_else(|e| panic!("stack is valid: {e}"));
        let settings = Settings {
            host: "127.0.0.1".into(),
            port: 0,
            database: database.clone(),
            allow_destructive,
            cloud_topics: None,
            cors_origins: vec!["https://site.example".to_string()],
            origin_secret: None,
            user_pool: None,
            service_vars: std::env::vars().collect(),
            service_ports: None,
            migrate: true,
            cursor_key: None,
        };
        let app = Application::build(stack, &settings).await?;
        let url = app.url();
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Ok(TestApp {
            url,
            client: reqwest::Client::new(),
            stack_dir: stack_dir.to_path_buf(),
            database: database.clone(),
            allow_destructive,
            db: None,
            stop: Some(stop),
            handle: Some(handle),
        })
    }

    /// Stop gracefully and start again on the same database (and stack folder).
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let mut next = Self::start(&self.stack_dir, &self.database, self.allow_destructive)
            .await
            .expect("server restarts");
        next.db = self.db.take();
        next
    }

    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle
                .await
                .expect("server task")
                .expect("server stops cleanly");
        }
    }

    /// The database, for direct SQL; it outlives a stopped app when taken.
    pub fn db(&self) -> &TestDatabase {
        self.db.as_ref().expect("app owns its database")
    }

    pub fn take_db(&mut self) -> TestDatabase {
        self.db.take().expect("app owns its database")
    }

    pub async fn request(&self, method: Method, path: &str, body: Option<&str>) -> Reply {
        let mut req = self.client.request(method, format!("{}{}", self.url, path));
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let resp = req.send().await.expect("request is answered");
        let status = resp.status();
        let headers = resp.headers().clone();
        let text = resp.text().await.expect("body");
        let body = if text.is_empty() {
            Json::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|_| panic!("{path}: body is JSON: {text}"))
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.request(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &str) -> Reply {
        self.request(Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Reply {
        self.request(Method::DELETE, path, None).await
    }
}

impl Reply {
    /// Assert an error answer: the status, JSON `{"error":{"code","message"}}`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.body["error"]["code"], code, "body: {}", self.body);
        assert!(
            self.body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "error has a message: {}",
            self.body
        );
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
    }
}

/// A stack folder built from text, for tests that need their own stack.
pub struct TempStack {
    pub dir: TempDir,
}

impl TempStack {
    pub fn new(stack_toml: &str) -> TempStack {
        let dir = TempDir::new().expect("temp dir");
        std::fs::write(dir.path().join("stackwright.toml"), stack_toml).expect("write stack");
        TempStack { dir }
    }

    /// A copy of an example (stack file, seed files, site), to modify;
    /// local state (`.stackwright/`) is left behind.
    pub fn copy_of(name: &str, edit: impl FnOnce(String) -> String) -> TempStack {
        fn copy_dir(from: &Path, to: &Path) {
            std::fs::create_dir_all(to).unwrap();
            for entry in std::fs::read_dir(from).unwrap() {
                let entry = entry.unwrap();
                let name = entry.file_name();
                if name.to_string_lossy().starts_with('.') {
                    continue;
                }
                if entry.path().is_dir() {
                    copy_dir(&entry.path(), &to.join(&name));
                } else {
                    std::fs::copy(entry.path(), to.join(&name)).unwrap();
                }
            }
        }
        let src = example(name);
        let toml = std::fs::read_to_string(src.join("stackwright.toml")).unwrap();
        let stack = TempStack::new(&edit(toml));
        for entry in std::fs::read_dir(&src).unwrap() {
            let entry = entry.unwrap();
            if entry.path().is_dir() && !entry.file_name().to_string_lossy().starts_with('.') {
                copy_dir(&entry.path(), &stack.path().join(entry.file_name()));
            }
        }
        stack
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, rel: &str, text: &str) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, text).expect("write");
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("test.db")
    }
}

/// A TCP proxy in front of a database server that can cut and restore every
/// connection, to simulate an outage without touching the shared server.
pub struct TcpProxy {
    pub port: u16,
    open: Arc<AtomicBool>,
    connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>>,
    accept: JoinHandle<()>,
}

impl TcpProxy {
    pub async fn start(upstream_port: u16) -> TcpProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let open = Arc::new(AtomicBool::new(true));
        let connections: Arc<Mutex<Vec<tokio::task::AbortHandle>>> = Arc::default();
        let (o, c) = (open.clone(), connections.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if !o.load(Ordering::SeqCst) {
                    // Cut: refuse by closing at once.
                    drop(client);
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut server) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                c.lock().unwrap().push(task.abort_handle());
            }
        });
        TcpProxy {
            port,
            open,
            connections,
            accept,
        }
    }

    /// Drop every open connection and refuse new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for c in self.connections.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

/// Run the real binary.
/// `stackwright up DIR` as its own process on a free port, with extra
/// environment; ready once the port accepts. Killed when dropped.
pub struct Served {
    pub port: u16,
    pub child: std::process::Child,
    log: tempfile::NamedTempFile,
}

impl Served {
    /// An empty `database_url` serves on the embedded default.
    pub fn start(dir: &Path, database_url: &str, env: &[(&str, &str)]) -> Served {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let log = tempfile::NamedTempFile::new().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_stackwright"))
            .args(["up", dir.to_str().unwrap(), "--port", &port.to_string()])
            .args(
                Some(["--database-url", database_url])
                    .filter(|_| !database_url.is_empty())
                    .into_iter()
                    .flatten(),
            )
            .env("STACKWRIGHT_LOG", "warn")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("stackwright up starts");
        let mut child = child;
        for _ in 0..100 {
            // Ready, or already gone (a start that fails).
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
                || child.try_wait().is_ok_and(|s| s.is_some())
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Served { port, child, log }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A PyPI tool installed by `.ci/run` in its own venv under `.tools/`;
/// missing, the test fails (never skips) and says how to install it.
pub fn tool(venv: &str, bin: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.tools")
        .join(venv)
        .join("bin")
        .join(bin);
    assert!(
        p.exists(),
        "{bin} is not installed at {}: run `bash .ci/run`, or `python3 -m venv .tools/{venv} && .tools/{venv}/bin/pip install {venv}`",
        p.display()
    );
    p
}

/// One Cognito-protocol call to the embedded pool at `url`/auth/:
/// (HTTP status, body).
pub async fn cognito_call(
    client: &reqwest::Client,
    url: &str,
    op: &str,
    body: Json,
) -> (u16, Json) {
    let r = client
        .post(format!("{url}/auth/"))
        .header("Content-Type", "application/x-amz-json-1.1")
        .header(
            "X-Amz-Target",
            format!("AWSCognitoIdentityProviderService.{op}"),
        )
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// Sign up, confirm (the code from the stack's local outbox) and sign in
/// through the embedded pool at `url`/auth/: the ID token.
pub async fn signed_in_token(client: &reqwest::Client, url: &str, stack_dir: &Path) -> String {
    signed_in_token_as(client, url, stack_dir, "signed-in@example.com").await
}

/// As [`signed_in_token`], for the user `email`.
pub async fn signed_in_token_as(
    client: &reqwest::Client,
    url: &str,
    stack_dir: &Path,
    email: &str,
) -> String {
    let password = "Correct-Horse-9";
    let call = |op: &'static str, body: Json| async move {
        let (status, body) = cognito_call(client, url, op, body).await;
        assert_eq!(status, 200, "{op}: {body}");
        body
    };
    call(
        "SignUp",
        serde_json::json!({"ClientId": "local", "Username": email, "Password": password}),
    )
    .await;
    let outbox = std::fs::read_to_string(stack_dir.join(".stackwright/outbox.jsonl")).unwrap();
    let code = outbox
        .lines()
        .rev()
        .map(|l| serde_json::from_str::<Json>(l).unwrap())
        .find(|m| m["to"] == email)
        .and_then(|m| m["code"].as_str().map(str::to_string))
        .expect("a code was sent");
    call(
        "ConfirmSignUp",
        serde_json::json!({"ClientId": "local", "Username": email, "ConfirmationCode": code}),
    )
    .await;
    let r = call(
        "InitiateAuth",
        serde_json::json!({"ClientId": "local", "AuthFlow": "USER_PASSWORD_AUTH", "AuthParameters": {"USERNAME": email, "PASSWORD": password}}),
    )
    .await;
    r["AuthenticationResult"]["IdToken"]
        .as_str()
        .expect("an ID token")
        .to_string()
}

pub fn stackwright(args: &[&str]) -> Output {
    stackwright_env(args, &[])
}

pub fn stackwright_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(args)
        // Clear what the caller's environment may hold, then set what the test asks for.
        .env_remove("STACKWRIGHT_DATABASE_URL")
        .env_remove("STACKWRIGHT_DATABASE_PASSWORD")
        .env_remove("STACKWRIGHT_DATABASE_PASSWORD_FILE")
        .env("NO_COLOR", "1")
        .envs(env.iter().copied())
        .output()
        .expect("run stackwright")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

// ---- DynamoDB (moto) -------------------------------------------------------

/// Make sure moto_server answers; start it from `.tools/moto` when it does not.
/// Several test processes may try at once: only one can bind the port.
pub async fn ensure_moto() -> String {
    let endpoint = admin_url(TestEngine::Dynamodb);
    let addr = endpoint.trim_start_matches("http://").to_string();
    if tokio::net::TcpStream::connect(&addr).await.is_ok() {
        return endpoint;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".tools/moto/bin/python");
    assert!(
        python.exists(),
        "moto is not installed at {}: run `bash .ci/run`, or `python3 -m venv .tools/moto && .tools/moto/bin/pip install 'moto[server]==5.2.4'`",
        python.display()
    );
    let (host, port) = addr.rsplit_once(':').expect("host:port");
    let _ = Command::new(python)
        .arg(root.join("tools/moto_serial.py"))
        .args([host, port])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    for _ in 0..150 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            return endpoint;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    panic!("moto_server did not start on {addr}");
}

pub async fn dynamo_client() -> aws_sdk_dynamodb::Client {
    let endpoint = ensure_moto().await;
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

async fn delete_dynamo_tables(prefix: &str) {
    let client = dynamo_client().await;
    let Ok(tables) = client.list_tables().send().await else {
        return;
    };
    for t in tables
        .table_names()
        .iter()
        .filter(|t| t.starts_with(prefix))
    {
        let _ = client.delete_table().table_name(t).send().await;
    }
}

fn dynamo_value(v: &Json) -> aws_sdk_dynamodb::types::AttributeValue {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match v {
        Json::Null => A::Null(true),
        Json::Bool(b) => A::Bool(*b),
        Json::Number(n) => A::N(n.to_string()),
        Json::String(s) => A::S(s.clone()),
        other => A::S(other.to_string()),
    }
}

fn dynamo_text(v: &aws_sdk_dynamodb::types::AttributeValue) -> Option<String> {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    match v {
        A::Null(_) => None,
        A::Bool(b) => Some(b.to_string()),
        A::N(n) | A::S(n) => Some(n.clone()),
        other => Some(format!("{other:?}")),
    }
}

fn quote(engine: TestEngine, name: &str) -> String {
    match engine {
        TestEngine::Mariadb => format!("`{name}`"),
        _ => format!("\"{name}\""),
    }
}

fn sql_literal(v: &Json) -> String {
    match v {
        Json::Null => "NULL".into(),
        Json::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        Json::Number(n) => n.to_string(),
        Json::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

/// Engine-neutral looks at the stored data, as a person with the
/// database's own tools would take them.
impl TestDatabase {
    fn dynamo_table(&self, table: &str) -> String {
        format!("{}_{table}", self.name)
    }

    /// How many rows (items) the table holds.
    pub async fn count_rows(&self, table: &str) -> i64 {
        match self.engine {
            TestEngine::Dynamodb => {
                let out = dynamo_client()
                    .await
                    .scan()
                    .table_name(self.dynamo_table(table))
                    .send()
                    .await
                    .unwrap();
                out.count() as i64
            }
            _ => self.count(&format!("SELECT count(*) FROM {table}")).await,
        }
    }

    /// A stored value as text (booleans as `true`/`false`); None for NULL or no row.
    pub async fn read_column(
        &self,
        table: &str,
        key_column: &str,
        key: Json,
        column: &str,
    ) -> Option<String> {
        match self.engine {
            TestEngine::Dynamodb => {
                let out = dynamo_client()
                    .await
                    .get_item()
                    .table_name(self.dynamo_table(table))
                    .key(key_column, dynamo_value(&key))
                    .consistent_read(true)
                    .send()
                    .await
                    .unwrap();
                out.item().and_then(|i| i.get(column)).and_then(dynamo_text)
            }
            _ => {
                let v = self
                    .text(&format!(
                        "SELECT {} FROM {} WHERE {} = {}",
                        quote(self.engine, column),
                        quote(self.engine, table),
                        quote(self.engine, key_column),
                        sql_literal(&key)
                    ))
                    .await;
                v
            }
        }
    }

    /// Change a row behind Stackwright's back, as a user with a SQL shell (or the AWS console) would.
    pub async fn update_row(
        &self,
        table: &str,
        key_column: &str,
        key: Json,
        sets: &[(&str, Json)],
    ) {
        match self.engine {
            TestEngine::Dynamodb => {
                let mut req = dynamo_client()
                    .await
                    .update_item()
                    .table_name(self.dynamo_table(table))
                    .key(key_column, dynamo_value(&key));
                let mut expr = Vec::new();
                for (i, (c, v)) in sets.iter().enumerate() {
                    req = req
                        .expression_attribute_names(format!("#c{i}"), *c)
                        .expression_attribute_values(format!(":v{i}"), dynamo_value(v));
                    expr.push(format!("#c{i} = :v{i}"));
                }
                req.update_expression(format!("SET {}", expr.join(", ")))
                    .send()
                    .await
                    .unwrap();
            }
            _ => {
                let assignments: Vec<String> = sets
                    .iter()
                    .map(|(c, v)| format!("{} = {}", quote(self.engine, c), sql_literal(v)))
                    .collect();
                self.exec(&format!(
                    "UPDATE {} SET {} WHERE {} = {}",
                    quote(self.engine, table),
                    assignments.join(", "),
                    quote(self.engine, key_column),
                    sql_literal(&key)
                ))
                .await;
            }
        }
    }

    async fn meta_ids(
        &self,
        prefix: &str,
    ) -> Vec<(
        String,
        std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
    )> {
        let out = dynamo_client()
            .await
            .scan()
            .table_name(format!("{}__stackwright", self.name))
            .send()
            .await
            .unwrap();
        out.items()
            .iter()
            .filter_map(|i| {
                let id = i.get("id").and_then(dynamo_text)?;
                id.starts_with(prefix).then(|| (id, i.clone()))
            })
            .collect()
    }

    /// Make the applied record of message `id` of `sub` as old as `at` (ms).
    pub async fn age_applied(&self, sub: &str, id: &str, at: i64) {
        match self.engine {
            TestEngine::Dynamodb => {
                dynamo_client()
                    .await
                    .update_item()
                    .table_name(format!("{}__stackwright", self.name))
                    .key(
                        "id",
                        aws_sdk_dynamodb::types::AttributeValue::S(format!("applied#{sub}#{id}")),
                    )
                    .update_expression("SET applied_at = :t")
                    .expression_attribute_values(
                        ":t",
                        aws_sdk_dynamodb::types::AttributeValue::N(at.to_string()),
                    )
                    .send()
                    .await
                    .unwrap();
            }
            _ => {
                self.exec(&format!(
                    "UPDATE _stackwright_applied SET applied_at = {at} WHERE subscription = '{sub}' AND id = '{id}'"
                ))
                .await
            }
        }
    }

    /// Record message `id` of `sub` as applied at `at` (ms).
    pub async fn insert_applied(&self, sub: &str, id: &str, at: i64) {
        match self.engine {
            TestEngine::Dynamodb => {
                use aws_sdk_dynamodb::types::AttributeValue as Av;
                dynamo_client()
                    .await
                    .put_item()
                    .table_name(format!("{}__stackwright", self.name))
                    .item("id", Av::S(format!("applied#{sub}#{id}")))
                    .item("applied_at", Av::N(at.to_string()))
                    .send()
                    .await
                    .unwrap();
            }
            _ => {
                self.exec(&format!(
                    "INSERT INTO _stackwright_applied (subscription, id, applied_at) VALUES ('{sub}', '{id}', {at})"
                ))
                .await
            }
        }
    }

    /// The ids of the applied-message records, sorted.
    pub async fn applied_ids(&self) -> Vec<String> {
        let joined = match self.engine {
            TestEngine::Dynamodb => {
                let mut ids: Vec<String> = self
                    .meta_ids("applied#")
                    .await
                    .into_iter()
                    .filter_map(|(key, _)| key.splitn(3, '#').nth(2).map(str::to_string))
                    .collect();
                ids.sort();
                return ids;
            }
            TestEngine::Sqlite => {
                self.text("SELECT group_concat(id, ',') FROM (SELECT id FROM _stackwright_applied ORDER BY id)")
                    .await
            }
            TestEngine::Mariadb => {
                self.text("SELECT GROUP_CONCAT(id ORDER BY id SEPARATOR ',') FROM _stackwright_applied")
                    .await
            }
            TestEngine::Postgres | TestEngine::Redshift => {
                self.text("SELECT string_agg(id, ',' ORDER BY id) FROM _stackwright_applied")
                    .await
            }
        };
        joined
            .map(|j| j.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// Seed rows recorded as applied for `table`.
    pub async fn seed_claims(&self, table: &str) -> i64 {
        match self.engine {
            TestEngine::Dynamodb => self.meta_ids(&format!("seed#{table}#")).await.len() as i64,
            _ => {
                self.count(&format!(
                    "SELECT count(*) FROM _stackwright_seed_rows WHERE table_name = '{table}'"
                ))
                .await
            }
        }
    }

    /// Migrations recorded for `stack`.
    pub async fn migration_count(&self, stack: &str) -> i64 {
        match self.engine {
            TestEngine::Dynamodb => {
                self.meta_ids(&format!("migration#{stack}#")).await.len() as i64
            }
            _ => {
                self.count(&format!(
                    "SELECT count(*) FROM _stackwright_migrations WHERE stack = '{stack}'"
                ))
                .await
            }
        }
    }

    pub async fn migration_summary(&self, stack: &str, version: i64) -> String {
        match self.engine {
            TestEngine::Dynamodb => {
                let id = format!("migration#{stack}#{version:010}");
                let items = self.meta_ids(&id).await;
                items.first().and_then(|(_, i)| i.get("summary")).and_then(dynamo_text).expect("a recorded migration")
            }
            _ => self
                .text(&format!(
                    "SELECT summary FROM _stackwright_migrations WHERE stack = '{stack}' AND version = {version}"
                ))
                .await
                .expect("a recorded migration"),
        }
    }

    /// Whether the secondary index `TABLE__INDEX` exists.
    pub async fn index_exists(&self, table: &str, index: &str) -> bool {
        let name = format!("{table}__{index}");
        let sql = match self.engine {
            TestEngine::Sqlite => format!("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = '{name}'"),
            TestEngine::Postgres => format!("SELECT count(*) FROM pg_indexes WHERE indexname = '{name}'"),
            // No indexes there: a unique one is a constraint, the others nothing.
            TestEngine::Redshift => format!("SELECT count(*) FROM pg_constraint WHERE conname = '{name}'"),
            TestEngine::Mariadb => format!(
                "SELECT count(DISTINCT index_name) FROM information_schema.statistics WHERE table_schema = DATABASE() AND index_name = '{name}'"
            ),
            TestEngine::Dynamodb => {
                let out = dynamo_client()
                    .await
                    .describe_table()
                    .table_name(self.dynamo_table(table))
                    .send()
                    .await
                    .unwrap();
                return out
                    .table()
                    .map(|t| t.global_secondary_indexes().iter().any(|g| g.index_name() == Some(name.as_str())))
                    .unwrap_or(false);
            }
        };
        self.count(&sql).await == 1
    }
}

/// Compare `text` with the golden file at `path`, or rewrite the file when
/// STACKWRIGHT_UPDATE_GOLDEN is set. `what` names what produced the text.
pub fn check_golden(path: &Path, text: &str, what: &str) {
    if std::env::var_os("STACKWRIGHT_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {}: run with STACKWRIGHT_UPDATE_GOLDEN=1 and review the diff",
            path.display()
        )
    });
    assert!(
        text == want,
        "{} differs from a fresh {what}; if the change is intended, run with STACKWRIGHT_UPDATE_GOLDEN=1 and review the diff",
        path.display()
    );
}
