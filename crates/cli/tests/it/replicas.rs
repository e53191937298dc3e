//! `up --replicas 2`: rolling restarts under continuous load lose no
//! request, a broken restart keeps the old replicas serving, a dead replica
//! is replaced, and SIGTERM drains everything. Load comes from wrk, an
//! independent client that counts every failed or non-2xx request.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value as Json;

use crate::harness::TempStack;

struct Supervised {
    child: Child,
    url: String,
    pid: u32,
    replicas: Vec<u32>,
    log: tempfile::NamedTempFile,
}

impl Supervised {
    fn start(stack: &TempStack) -> Supervised {
        Self::start_with(stack, &[])
    }

    fn start_with(stack: &TempStack, env: &[(&str, &str)]) -> Supervised {
        let log = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_stackwright"))
            .args(["up", stack.path().to_str().unwrap()])
            .args(["--replicas", "2", "--port", "0", "--json"])
            .env_remove("STACKWRIGHT_DATABASE_URL")
            .env("STACKWRIGHT_LOG", "info,stackwright::http=warn")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log.reopen().unwrap())
            .spawn()
            .expect("stackwright up starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let ready: Json =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("a JSON serving line: {line:?}"));
        Supervised {
            url: ready["url"].as_str().unwrap().to_string(),
            pid: ready["supervisor"].as_u64().unwrap() as u32,
            replicas: ready["replicas"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_u64().unwrap() as u32)
                .collect(),
            child,
            log,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.pid.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Wait until the log holds `needle` `times` times.
    fn wait_for_log(&self, needle: &str, times: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.log().matches(needle).count() < times {
            assert!(
                Instant::now() < deadline,
                "no `{needle}` x{times} in:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

fn wrk() -> Command {
    let wrk = ["/usr/bin/wrk", "/usr/local/bin/wrk"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("wrk is not installed: run `bash .ci/run` (apt-get install wrk)");
    Command::new(wrk)
}

/// wrk's counts: requests, socket errors, non-2xx/3xx answers.
fn wrk_counts(report: &str) -> (u64, u64, u64) {
    let requests = report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("a wrk report: {report}"));
    let socket_errors = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Socket errors:"))
        .map(|l| {
            l.split(',')
                .filter_map(|part| part.split_whitespace().last()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    let non_2xx = report
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .map(|n| n.trim().parse().unwrap())
        .unwrap_or(0);
    (requests, socket_errors, non_2xx)
}

/// The status of a GET on a fresh connection.
fn get_status(url: &str, path: &str) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(url.trim_start_matches("http://")).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn rolling_restarts_under_load_lose_no_request() {
    let stack = TempStack::copy_of("todo", |toml| toml);
    let app = Supervised::start(&stack);
    // Reads and writes, alternating, on 16 keep-alive connections.
    let script = stack.path().join("mix.lua");
    std::fs::write(
        &script,
        r#"
local n = 0
request = function()
  n = n + 1
  if n % 2 == 0 then
    return wrk.format("POST", "/api/task/", {["Content-Type"] = "application/json"}, '{"title":"load"}')
  end
  return wrk.format("GET", "/api/task/?limit=20")
end
"#,
    )
    .unwrap();
    let load = wrk()
        .args(["-t2", "-c16", "-d8s", "--timeout", "5s", "-s"])
        .arg(&script)
        .arg(format!("{}/api/task/", app.url))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Three rolling restarts while the load runs: six replicas replaced.
    for round in 1..=3 {
        std::thread::sleep(Duration::from_millis(1500));
        app.signal("-HUP");
        app.wait_for_log("rolling restart complete", round);
    }
    let report = String::from_utf8(load.wait_with_output().unwrap().stdout).unwrap();
    let log = app.log();
    let drains: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("replica replaced"))
        .collect();
    eprintln!("{report}\n{}", drains.join("\n"));
    let (requests, socket_errors, non_2xx) = wrk_counts(&report);
    assert_eq!(drains.len(), 6, "{log}");
    assert!(requests > 1000, "load ran: {report}");
    assert_eq!(socket_errors, 0, "failed requests:\n{report}\n{log}");
    assert_eq!(non_2xx, 0, "failed requests:\n{report}\n{log}");
    // Every original replica is gone; the supervisor still serves.
    for pid in &app.replicas {
        assert!(!alive(*pid), "replica {pid} was replaced");
    }
    assert_eq!(get_status(&app.url, "/api/task/?limit=1"), 200);
}

#[test]
fn a_restart_that_cannot_start_keeps_the_running_replicas() {
    let stack = TempStack::copy_of("todo", |toml| toml);
    let app = Supervised::start(&stack);
    stack.write("stackwright.toml", "name = \"todo\"\n[tables.tasks\n");
    app.signal("-HUP");
    app.wait_for_log("rolling restart stopped", 1);
    for pid in &app.replicas {
        assert!(alive(*pid), "replica {pid} keeps serving");
    }
    assert_eq!(get_status(&app.url, "/api/task/"), 200);
}

#[test]
fn a_replica_that_dies_is_replaced_and_sigterm_stops_them_all() {
    let stack = TempStack::copy_of("todo", |toml| toml);
    let mut app = Supervised::start(&stack);
    let victim = app.replicas[0];
    Command::new("kill")
        .args(["-KILL", &victim.to_string()])
        .status()
        .unwrap();
    app.wait_for_log("replica exited: starting another", 1);
    let deadline = Instant::now() + Duration::from_secs(30);
    while app.log().matches("serving url=").count() < 3 {
        assert!(Instant::now() < deadline, "{}", app.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get_status(&app.url, "/api/task/"), 200);

    app.signal("-TERM");
    let status = app.child.wait().unwrap();
    assert!(status.success(), "{status}");
    assert!(!alive(app.replicas[1]), "every replica stopped with it");
    assert!(
        std::net::TcpStream::connect(app.url.trim_start_matches("http://")).is_err(),
        "nothing listens any more"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_get_the_database_url_from_the_environment_never_the_command_line() {
    let db = crate::harness::TestDatabase::create(crate::harness::TestEngine::Postgres).await;
    // Trust authentication ignores the password: it is only there to be looked for.
    let password = "Pw-never-in-ps-7f3a";
    let url = db
        .raw_url
        .replacen("://postgres@", &format!("://postgres:{password}@"), 1);
    assert!(url.contains(password), "{url}");
    let stack = TempStack::copy_of("todo", |toml| toml);
    let app = Supervised::start_with(&stack, &[("STACKWRIGHT_DATABASE_URL", &url)]);
    assert_eq!(get_status(&app.url, "/api/task/"), 200);
    for pid in app.replicas.iter().chain([&app.pid]) {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        assert!(cmdline.contains(" up "), "{cmdline}");
        assert!(!cmdline.contains(password), "pid {pid}: {cmdline}");
    }
    assert!(!app.log().contains(password), "{}", app.log());
    assert_eq!(
        db.count("SELECT COUNT(*) FROM tasks").await,
        3,
        "served from PostgreSQL"
    );
}
