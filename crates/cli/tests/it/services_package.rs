//! What deploy ships for services on Lambda and EC2 runs: the runtime
//! package of the adoptions example, unpacked as Lambda unpacks it, started
//! by the service function's start script (the service by `exec-service`,
//! the runtime in front of it), serves the service's paths and the
//! declared routes on PostgreSQL, and starts the service again when it
//! dies. Only the Web Adapter (which turns Lambda
//! events into these HTTP requests) is not in the picture.

use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::harness::{TempStack, TestDatabase, TestEngine};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Kills the start script's process group when the test ends.
struct Group(std::process::Child);

impl Drop for Group {
    fn drop(&mut self) {
        let pid = self.0.id() as i32;
        // SAFETY: a plain kill(2) of the group this test started.
        unsafe { libc::kill(-pid, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_start_script_runs_the_service_behind_the_runtime() {
    let stack = TempStack::copy_of("adoptions", |toml| toml);
    let built = Command::new("sh")
        .arg("build.sh")
        .current_dir(stack.path().join("adopt"))
        .status()
        .unwrap();
    assert!(built.success(), "the service's build");
    let loaded = stackwright_stack::load(stack.path()).unwrap();
    let binary = std::path::Path::new(env!("CARGO_BIN_EXE_stackwright"));
    let package = stackwright_deploy::package::runtime_zip(binary, &loaded, true).unwrap();
    let task = tempfile::TempDir::new().unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(&package.bytes)).unwrap();
    archive.extract(task.path()).unwrap();
    assert!(
        task.path().join("stack/adopt/vendor/flask").is_dir(),
        "built, then packaged"
    );

    let db = TestDatabase::create(TestEngine::Postgres).await;
    let (front, service) = (free_port(), free_port());
    let log = tempfile::NamedTempFile::new().unwrap();
    let child = Command::new("sh")
        .arg(task.path().join("run-service.sh"))
        .env_clear()
        .envs([
            ("PATH", std::env::var("PATH").unwrap()),
            ("STACKWRIGHT_SERVICE", "adopt".to_string()),
            ("STACKWRIGHT_SERVICE_PORTS", format!("adopt={service}")),
            ("STACKWRIGHT_PORT", front.to_string()),
            ("STACKWRIGHT_DATABASE_URL", db.raw_url.clone()),
        ])
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(log.reopen().unwrap())
        .stderr(log.reopen().unwrap())
        .spawn()
        .unwrap();
    let pgid = child.id().to_string();
    let _group = Group(child);
    let base = format!("http://127.0.0.1:{front}");
    let client = reqwest::Client::new();
    let log_text = || std::fs::read_to_string(log.path()).unwrap_or_default();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Ready when the service answers behind the front.
    let adopted = loop {
        let answer = client
            .post(format!("{base}/adopt/Fluffy"))
            .json(&json!({ "adopter": "ann" }))
            .send()
            .await;
        if let Ok(r) = answer {
            if r.status() != 503 {
                break r;
            }
        }
        assert!(Instant::now() < deadline, "not ready:\n{}", log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(adopted.status(), 201, "{}", log_text());
    let again = client
        .post(format!("{base}/adopt/Fluffy"))
        .json(&json!({ "adopter": "bob" }))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);
    // The service dies: the start script starts it again, the runtime
    // answers 503 meanwhile, then the service answers again.
    let killed = Command::new("pkill")
        // Only this test's: other tests run the same service meanwhile.
        .args(["-KILL", "-g", &pgid, "-f", "app.py"])
        .status()
        .unwrap();
    assert!(killed.success(), "the service was running");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = client
            .get(format!("{base}/adopt/Fluffy"))
            .send()
            .await
            .unwrap();
        match r.status().as_u16() {
            // Flask has no GET for it: the service itself answered.
            405 => break,
            502 | 503 => {}
            other => panic!("{other} while the service restarts:\n{}", log_text()),
        }
        assert!(Instant::now() < deadline, "not restarted:\n{}", log_text());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = client
            .get(format!("{base}/api/adoption/Fluffy"))
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            let body: Json = r.json().await.unwrap();
            assert_eq!(body, json!({ "pet": "Fluffy", "adopter": "ann" }));
            break;
        }
        assert!(Instant::now() < deadline, "not applied:\n{}", log_text());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
