//! The command line itself: help, version, serving, signals.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{example, stackwright, stackwright_env, text, TempStack};

#[test]
fn every_command_has_help_and_there_is_a_version() {
    for args in [
        vec!["--help"],
        vec!["up", "--help"],
        vec!["check", "--help"],
        vec!["migrate", "--help"],
        vec!["synth", "--help"],
        vec!["graph", "--help"],
        vec!["deploy", "--help"],
        vec!["diff", "--help"],
        vec!["status", "--help"],
        vec!["outputs", "--help"],
        vec!["logs", "--help"],
        vec!["destroy", "--help"],
        vec!["ci", "github", "--help"],
    ] {
        let out = stackwright(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(text(&out.stdout).contains("Usage:"), "{args:?}");
    }
    let v = stackwright(&["--version"]);
    assert_eq!(
        text(&v.stdout).trim(),
        format!("stackwright {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn help_never_shows_the_database_url_from_the_environment() {
    let out = stackwright_env(
        &["up", "--help"],
        &[("STACKWRIGHT_DATABASE_URL", "sqlite:///tmp/s3cr3t-path.db")],
    );
    assert!(
        !text(&out.stdout).contains("s3cr3t"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn bad_database_urls_are_clear_errors_without_passwords() {
    let dir = example("todo");
    let out = stackwright(&[
        "migrate",
        dir.to_str().unwrap(),
        "--database-url",
        "postgres://app:hunter2@db/x",
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("postgres") && !err.contains("hunter2"),
        "{err}"
    );
    let out = stackwright(&[
        "migrate",
        dir.to_str().unwrap(),
        "--database-url",
        "ftp://u:hunter2@h",
    ]);
    assert!(!out.status.success());
    assert!(!text(&out.stderr).contains("hunter2"));
}

/// Start `stackwright up` on a copy-free temp database and return (child, base URL).
fn spawn_up(
    stack_dir: &std::path::Path,
    db: &std::path::Path,
) -> (
    std::process::Child,
    String,
    BufReader<std::process::ChildStdout>,
) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(["up", stack_dir.to_str().unwrap(), "--port", "0", "--json"])
        .args(["--database-url", &format!("sqlite://{}", db.display())])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn stackwright up");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).expect("serving line");
    let info: serde_json::Value =
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("JSON line: {line}"));
    (child, info["url"].as_str().unwrap().to_string(), stdout)
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

fn wait_exit(child: &mut std::process::Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "stackwright did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn up_serves_and_sigterm_finishes_in_flight_requests() {
    let temp = tempfile::TempDir::new().unwrap();
    let db = temp.path().join("todo.db");
    let (mut child, url, _stdout) = spawn_up(&example("todo"), &db);
    let addr = url.trim_start_matches("http://").to_string();

    // A request whose body is still arriving when the signal comes.
    let body = br#"{"title":"in flight"}"#;
    let mut conn = TcpStream::connect(&addr).unwrap();
    write!(
        conn,
        "POST /api/task/ HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .unwrap();
    conn.write_all(&body[..5]).unwrap();
    conn.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    signal(&child, "-TERM");
    std::thread::sleep(Duration::from_millis(300));
    conn.write_all(&body[5..]).unwrap();
    let mut response = String::new();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(response.contains("\"title\":\"in flight\""), "{response}");

    let status = wait_exit(&mut child);
    assert!(status.success(), "clean exit after SIGTERM: {status:?}");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert!(
        stderr.contains("path=/api/task/ status=201"),
        "structured request log: {stderr}"
    );
    // New connections are refused once it has stopped.
    assert!(TcpStream::connect(&addr).is_err());
}

#[test]
fn sigint_stops_the_server_and_data_persists_across_runs() {
    let temp = tempfile::TempDir::new().unwrap();
    let db = temp.path().join("todo.db");
    let (mut child, url, _) = spawn_up(&example("todo"), &db);
    let created = http(&url, "POST", "/api/task/", Some(r#"{"title":"kept"}"#));
    assert!(created.starts_with("HTTP/1.1 201"), "{created}");
    signal(&child, "-INT");
    assert!(wait_exit(&mut child).success());

    let (mut child, url, _) = spawn_up(&example("todo"), &db);
    let list = http(&url, "GET", "/api/task/", None);
    assert_eq!(list.matches("\"title\"").count(), 4, "{list}");
    assert_eq!(list.matches("1st Task").count(), 1, "{list}");
    assert!(list.contains("kept"), "{list}");
    signal(&child, "-TERM");
    assert!(wait_exit(&mut child).success());
}

#[test]
fn up_uses_the_embedded_default_under_the_stack_folder() {
    let stack =
        TempStack::new(&std::fs::read_to_string(example("pets").join("stackwright.toml")).unwrap());
    stack.write(
        "seed/pet.csv",
        &std::fs::read_to_string(example("pets").join("seed/pet.csv")).unwrap(),
    );
    let out = stackwright(&["migrate", stack.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(stack.path().join(".stackwright/local.db").is_file());
    assert_eq!(
        std::fs::read_to_string(stack.path().join(".stackwright/.gitignore")).unwrap(),
        "*\n"
    );
    assert!(
        text(&out.stdout).contains("seed `pet`: 9 row(s) inserted"),
        "{}",
        text(&out.stdout)
    );
}

/// A minimal HTTP/1.1 client, so these tests need no async runtime.
fn http(url: &str, method: &str, path: &str, body: Option<&str>) -> String {
    let addr = url.trim_start_matches("http://");
    let mut conn = TcpStream::connect(addr).unwrap();
    let body = body.unwrap_or("");
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    conn.read_to_string(&mut response).unwrap();
    response
}

/// A failure says why once (not the reason twice), and with --json it is
/// also JSON on stdout for whatever reads it.
#[test]
fn a_failure_says_why_once_and_as_json_when_asked() {
    let out = stackwright(&["check", "/nonexistent/stack"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    let out = stackwright(&["ci", "github", "/nonexistent/stack", "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert!(
        report["error"].as_str().unwrap().contains("cannot read"),
        "{report}"
    );
}
