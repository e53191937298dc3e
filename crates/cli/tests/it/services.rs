//! `[services.NAME]` under `stackwright up`: a real child process (a Python
//! HTTP server from the standard library) beside the declared routes, on
//! every SQL engine; its wiring; restarts after a crash; no orphan after
//! `up` is killed; and claim headers only the runtime may set.

use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::harness::{signed_in_token, Served, TempStack, TestDatabase, TestEngine};

/// Answers `/health`; elsewhere, what it was sent and what it was given.
/// On SQLite it also counts the rows of `task` through DATABASE_URL.
const SERVICE: &str = r#"
import json, os, sqlite3, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SHOWN = ["PORT", "DATABASE_URL", "STACKWRIGHT_API_URL", "STACKWRIGHT_USER_POOL_ISSUER",
         "STACKWRIGHT_USER_POOL_JWKS_URL", "STACKWRIGHT_USER_POOL_CLIENT_ID", "MODE",
         "API_KEY", "SHARED_TOKEN", "RUNTIME_ONLY"]

class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"ok": True})
        if self.path.startswith("/echo/big/"):
            size = int(self.path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            chunk = b"x" * 65536
            while size > 0:
                self.wfile.write(chunk[:size])
                size -= len(chunk)
            return
        length = int(self.headers.get("Content-Length") or 0)
        received = self.rfile.read(length) if length else b""
        body = {
            "path": self.path,
            "pid": os.getpid(),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "env": {k: os.environ.get(k) for k in SHOWN},
            "method": self.command,
            "built": open("built.txt").read() if os.path.exists("built.txt") else None,
            "received": len(received),
        }
        url = os.environ.get("DATABASE_URL", "")
        if url.startswith("sqlite:////"):
            db = sqlite3.connect(url[len("sqlite:///"):])
            body["tasks"] = db.execute("SELECT count(*) FROM task").fetchone()[0]
        self.reply(200, body)

    do_POST = do_GET

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, fmt, *args):
        sys.stderr.write("handled %s\n" % self.path)
        sys.stderr.flush()

ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"#;

const STACK: &str = r#"
name = "svc"

[users]

[tables.task]
key = "id"
columns.id = { type = "integer", generated = true }
columns.title = { type = "string", max_length = 100 }

[[routes]]
method = "POST"
path = "/tasks"
op = "create"
table = "task"

[[routes]]
method = "GET"
path = "/tasks/{id}"
op = "get"
table = "task"

[services.echo]
dir = "echo"
build = ["python3", "-c", "open('built.txt', 'w').write('by build')"]
command = ["python3", "app.py"]
paths = ["/echo", "/api/v2"]
env = { MODE = "test" }
secrets = ["API_KEY", "SHARED_TOKEN"]

[services.mine]
dir = "echo"
command = ["python3", "app.py"]
paths = ["/mine"]
auth = "user"
"#;

fn stack() -> TempStack {
    let stack = TempStack::new(STACK);
    stack.write("echo/app.py", SERVICE);
    // One secret from the file, shared by every service, one from `up`'s environment.
    stack.write(
        ".stackwright/secrets.toml",
        "SHARED_TOKEN = \"from-file\"\n",
    );
    stack
}

fn up(stack: &TempStack, db: &TestDatabase) -> Served {
    let url = match db.engine {
        TestEngine::Sqlite => String::new(),
        _ => db.raw_url.clone(),
    };
    Served::start(
        stack.path(),
        &url,
        &[
            ("API_KEY", "from-env"),
            ("RUNTIME_ONLY", "not for services"),
        ],
    )
}

async fn call(client: &reqwest::Client, url: &str) -> (u16, Json) {
    let r = client.get(url).send().await.expect("the runtime answers");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Json::Null))
}

async fn declared_routes_and_a_service_side_by_side(engine: TestEngine) {
    let stack = stack();
    let db = TestDatabase::create(engine).await;
    let served = up(&stack, &db);
    let client = reqwest::Client::new();
    let url = served.url();
    let created = client
        .post(format!("{url}/tasks"))
        .json(&serde_json::json!({"title": "first"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201, "{}", served.log());
    let (status, echo) = call(&client, &format!("{url}/echo/a/b?x=1")).await;
    assert_eq!(status, 200, "{echo} {}", served.log());
    assert_eq!(echo["path"], "/echo/a/b?x=1");
    assert_eq!(echo["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(
        echo["built"], "by build",
        "`build` ran in the service's folder first"
    );
    let env = &echo["env"];
    assert_eq!(env["STACKWRIGHT_API_URL"], url.as_str());
    assert_eq!(env["MODE"], "test");
    assert_eq!(env["API_KEY"], "from-env");
    assert_eq!(env["SHARED_TOKEN"], "from-file");
    assert_eq!(
        env["RUNTIME_ONLY"],
        Json::Null,
        "the runtime's environment stays out"
    );
    assert_eq!(env["STACKWRIGHT_USER_POOL_CLIENT_ID"], "local");
    assert_eq!(
        env["STACKWRIGHT_USER_POOL_ISSUER"],
        "urn:stackwright:svc:local"
    );
    assert_eq!(
        env["STACKWRIGHT_USER_POOL_JWKS_URL"],
        format!("{url}/auth/.well-known/jwks.json").as_str()
    );
    let database_url = env["DATABASE_URL"].as_str().expect("a database URL");
    let scheme = match engine {
        TestEngine::Sqlite => "sqlite:////",
        TestEngine::Postgres => "postgresql://",
        _ => "mysql://",
    };
    assert!(database_url.starts_with(scheme), "{database_url}");
    if engine == TestEngine::Sqlite {
        assert_eq!(echo["tasks"], 1, "the service reads the stack's database");
    } else {
        assert!(
            database_url.ends_with(&format!("/{}", db.name)),
            "{database_url}"
        );
    }
    let (status, second) = call(&client, &format!("{url}/api/v2")).await;
    assert_eq!((status, &second["path"]), (200, &Json::from("/api/v2")));
    // A prefix is whole segments: /echoes is not the service's.
    let (status, body) = call(&client, &format!("{url}/echoes")).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = call(&client, &format!("{url}/tasks/1")).await;
    assert_eq!(status, 200);
    assert!(
        served.log().contains("echo | handled /echo/a/b?x=1"),
        "{}",
        served.log()
    );
}

crate::harness::on_sql_engines!(declared_routes_and_a_service_side_by_side);

/// Every process whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // pid (comm) state ppid ...: comm may hold spaces, so after the `)`.
        let parent = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if parent == Some(pid) {
            found.push(child);
        }
    }
    found
}

fn alive(pid: u32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // A zombie is dead: only its exit status is left for its parent.
    !stat.is_empty()
        && stat
            .rsplit_once(')')
            .is_some_and(|(_, s)| !s.trim_start().starts_with('Z'))
}

fn kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_service_answers_503_until_it_is_back() {
    let stack = stack();
    let db = TestDatabase::create(TestEngine::Sqlite).await;
    let served = up(&stack, &db);
    let client = reqwest::Client::new();
    let url = format!("{}/echo", served.url());
    let (status, first) = call(&client, &url).await;
    assert_eq!(status, 200, "{}", served.log());
    let pid = first["pid"].as_u64().unwrap() as u32;
    assert!(children_of(served.child.id()).contains(&pid));
    kill9(pid);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut refused = 0;
    let back = loop {
        assert!(Instant::now() < deadline, "not back: {}", served.log());
        let (status, body) = call(&client, &url).await;
        match status {
            200 if body["pid"].as_u64() != Some(u64::from(pid)) => break body,
            200 => {} // the old child, not yet gone
            502 | 503 => {
                let code = body["error"]["code"].as_str().unwrap_or_default();
                assert!(
                    code == "service_unavailable" || code == "bad_gateway",
                    "{body}"
                );
                refused += 1;
            }
            other => panic!("{other}: {body}"),
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(refused > 0, "the restart was seen as 502/503");
    assert_ne!(back["pid"].as_u64(), Some(u64::from(pid)));
    assert!(
        served.child.id() > 0 && alive(served.child.id()),
        "up was not restarted"
    );
    assert!(served.log().contains("restarting"), "{}", served.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_service_outlives_a_killed_up() {
    let stack = stack();
    let db = TestDatabase::create(TestEngine::Sqlite).await;
    let served = up(&stack, &db);
    let client = reqwest::Client::new();
    let (status, _) = call(&client, &format!("{}/echo", served.url())).await;
    assert_eq!(status, 200, "{}", served.log());
    let services = children_of(served.child.id());
    assert_eq!(services.len(), 2, "{services:?}");
    kill9(served.child.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while services.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "a service outlived up: {services:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claim_headers_come_only_from_the_runtime() {
    let stack = stack();
    let db = TestDatabase::create(TestEngine::Sqlite).await;
    let served = up(&stack, &db);
    let client = reqwest::Client::new();
    let url = served.url();
    let forged = |path: &str| {
        client
            .get(format!("{url}{path}"))
            .header("X-Stackwright-User-Sub", "someone-else")
            .header("x-stackwright-user-email", "admin@example.com")
    };
    // Anyone may call `echo`; what a client claims never reaches it.
    let r = forged("/echo").send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", served.log());
    let body: Json = r.json().await.unwrap();
    let headers = body["headers"].as_object().unwrap();
    assert!(
        !headers.keys().any(|k| k.starts_with("x-stackwright-user-")),
        "{headers:?}"
    );
    // `mine` needs a signed-in user, and hears who it is from the runtime.
    let r = forged("/mine").send().await.unwrap();
    assert_eq!(r.status(), 401);
    let token = signed_in_token(&client, &url, stack.path()).await;
    let r = forged("/mine").bearer_auth(&token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Json = r.json().await.unwrap();
    let sub = &body["headers"]["x-stackwright-user-sub"];
    assert!(sub.is_string() && sub != "someone-else", "{body}");
    assert_eq!(
        body["headers"]["x-stackwright-user-email"],
        "signed-in@example.com"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_stops_up_with_its_name_and_never_a_value() {
    let stack = stack();
    let mut served = Served::start(stack.path(), "", &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "up did not stop: {}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let log = served.log();
    assert!(
        log.contains("service `echo` needs the secret `API_KEY`"),
        "{log}"
    );
    assert!(!log.contains("from-file"), "{log}");
}

#[test]
fn check_names_each_service_problem() {
    let stack = TempStack::new(
        "name = \"s\"\n[services.api]\ndir = \"nowhere\"\ncommand = []\npaths = [\"/docs\"]\n",
    );
    let out = crate::harness::stackwright(&["check", stack.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = crate::harness::text(&out.stderr);
    let file = stack.path().join("stackwright.toml");
    for (place, message) in [
        ("3:7", "service folder `nowhere` not found"),
        ("4:11", "`command` names no program"),
        (
            "5:10",
            "the path `/docs` overlaps `/docs`, which the runtime serves",
        ),
    ] {
        assert!(
            err.contains(&format!("{}:{place}", file.display())) && err.contains(message),
            "{place} {message}:\n{err}"
        );
    }
}

fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// `up --replicas 2`: the supervisor runs each service once, and every
/// replica proxies to it; killing the supervisor leaves no service behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_share_services_run_once_by_the_supervisor() {
    use std::io::BufRead;
    let stack = stack();
    let mut up = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args([
            "up",
            stack.path().to_str().unwrap(),
            "--replicas",
            "2",
            "--port",
            "0",
            "--json",
        ])
        .env("STACKWRIGHT_LOG", "warn")
        .env("API_KEY", "from-env")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(up.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let ready: Json = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let url = ready["url"].as_str().unwrap().to_string();
    let replicas: Vec<u64> = ready["replicas"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_u64().unwrap())
        .collect();
    assert_eq!(replicas.len(), 2);
    let services: Vec<u32> = children_of(up.id())
        .into_iter()
        .filter(|p| comm(*p).starts_with("python"))
        .collect();
    assert_eq!(
        services.len(),
        2,
        "one process per service, not per replica"
    );
    // Fresh connections, so both replicas answer some of them.
    let mut pids = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let client = reqwest::Client::new();
        let (status, body) = call(&client, &format!("{url}/echo")).await;
        assert_eq!(status, 200, "{body}");
        pids.insert(body["pid"].as_u64().unwrap());
    }
    assert_eq!(pids.len(), 1, "every replica reaches the one `echo`");
    assert!(services.contains(&(*pids.first().unwrap() as u32)));
    kill9(up.id());
    let _ = up.wait();
    let deadline = Instant::now() + Duration::from_secs(10);
    while services.iter().any(|p| alive(*p)) {
        assert!(
            Instant::now() < deadline,
            "a service outlived the supervisor"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A service that cannot start stops `up` at once (not after the start
/// timeout), with its own words on stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_that_cannot_start_stops_up_at_once() {
    let stack = TempStack::new(
        "name = \"s\"\n[services.broken]\ndir = \"svc\"\ncommand = [\"python3\", \"-c\", \"import sys; print('no config file'); sys.exit(3)\"]\npaths = [\"/b\"]\n",
    );
    stack.write("svc/.keep", "");
    let started = Instant::now();
    let mut served = Served::start(stack.path(), "", &[]);
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "up still waits: {}",
            served.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let log = served.log();
    assert!(
        log.contains("service `broken` exited 3 times before answering its health check"),
        "{log}"
    );
    assert!(log.contains("broken | no config file"), "{log}");
}

/// The peak resident memory of a process, in bytes.
fn peak_memory(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .expect("VmHWM")
        * 1024
}

/// A large answer streams through `up` (its memory stays far below the
/// answer's size), and a request body reaches the service whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_pass_through_and_large_answers_stream() {
    let stack = stack();
    let db = TestDatabase::create(TestEngine::Sqlite).await;
    let served = up(&stack, &db);
    let client = reqwest::Client::new();
    let url = served.url();
    let sent = "y".repeat(100_000);
    let r = client
        .post(format!("{url}/echo/upload"))
        .header("content-type", "text/plain")
        .body(sent.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", served.log());
    let body: Json = r.json().await.unwrap();
    assert_eq!(
        (body["method"].as_str(), body["received"].as_u64()),
        (Some("POST"), Some(100_000))
    );
    let before = peak_memory(served.child.id());
    let size: u64 = 256 * 1024 * 1024;
    let mut r = client
        .get(format!("{url}/echo/big/{size}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mut got = 0u64;
    while let Some(chunk) = r.chunk().await.unwrap() {
        got += chunk.len() as u64;
    }
    assert_eq!(got, size);
    let grew = peak_memory(served.child.id()).saturating_sub(before);
    assert!(
        grew < 32 * 1024 * 1024,
        "up held {grew} bytes of a {size}-byte answer"
    );
}

/// A `build` that fails stops `up` before any service starts, naming the
/// service and the command.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_build_stops_up_naming_the_service() {
    let stack = TempStack::new(
        "name = \"s\"\n[services.api]\ndir = \"svc\"\nbuild = [\"python3\", \"-c\", \"raise SystemExit(4)\"]\ncommand = [\"python3\", \"-m\", \"http.server\"]\npaths = [\"/a\"]\n",
    );
    stack.write("svc/.keep", "");
    let mut served = Served::start(stack.path(), "", &[]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "up still runs: {}", served.log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let log = served.log();
    assert!(
        log.contains(
            "service `api`: build `python3 -c raise SystemExit(4)` failed (exit status: 4)"
        ),
        "{log}"
    );
}
