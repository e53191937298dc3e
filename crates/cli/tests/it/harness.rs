//! Test harness: the real server on port 0 with a fresh database per test,
//! and the real `stackwright` binary for command-line tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use reqwest::{Method, StatusCode};
use serde_json::Value as Json;
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

/// A running server and the temporary folder holding its database.
pub struct TestApp {
    pub url: String,
    pub client: reqwest::Client,
    pub stack_dir: PathBuf,
    pub db_path: PathBuf,
    pub allow_destructive: bool,
    _temp: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Json,
}

impl TestApp {
    /// Serve `stack_dir` on a new database in a temporary folder.
    pub async fn spawn(stack_dir: &Path) -> TestApp {
        let temp = TempDir::new().expect("temp dir");
        let db_path = temp.path().join("test.db");
        let mut app = Self::start_on(stack_dir, &db_path, false)
            .await
            .expect("server starts");
        app._temp = Some(temp);
        app
    }

    /// Serve `stack_dir` on an existing database file.
    pub async fn start_on(
        stack_dir: &Path,
        db_path: &Path,
        allow_destructive: bool,
    ) -> Result<TestApp, StartError> {
        let stack =
            stackwright_stack::load(stack_dir).unwrap_or_else(|e| panic!("stack is valid: {e}"));
        let settings = Settings {
            host: "127.0.0.1".into(),
            port: 0,
            database: DatabaseUrl::Sqlite {
                path: db_path.to_path_buf(),
            },
            allow_destructive,
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
            db_path: db_path.to_path_buf(),
            allow_destructive,
            _temp: None,
            stop: Some(stop),
            handle: Some(handle),
        })
    }

    /// Stop gracefully and start again on the same database (and stack folder).
    pub async fn restart(mut self) -> TestApp {
        self.stop().await;
        let mut next = Self::start_on(&self.stack_dir, &self.db_path, self.allow_destructive)
            .await
            .expect("server restarts");
        next._temp = self._temp.take();
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

    /// Keep the temporary folder alive past this app (for restarts by hand).
    pub fn take_temp(&mut self) -> Option<TempDir> {
        self._temp.take()
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

    /// Open the database directly, as a person with a SQL shell would.
    pub fn sql(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db_path).expect("open test database")
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

/// Run the real binary.
pub fn stackwright(args: &[&str]) -> Output {
    stackwright_env(args, &[])
}

pub fn stackwright_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(args)
        .envs(env.iter().copied())
        .env("NO_COLOR", "1")
        .env_remove("STACKWRIGHT_DATABASE_URL")
        .output()
        .expect("run stackwright")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
