//! The example sites in a real browser: Debian's Chromium, headless, driven
//! by Playwright (tests/browser, `playwright-core` with the system browser)
//! against `stackwright up` serving the site, the API and the user pool.
//! Screenshots of every step go to target/browser-screenshots/.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::{text, Served, TempStack};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run_script(example: &str, script: &str) {
    let root = root();
    let browser = root.join("tests/browser");
    assert!(
        browser.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed: `npm ci --prefix tests/browser` (.ci/run does)"
    );
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "Chromium is missing: `apt-get install -y chromium` (.ci/run does)"
    );
    let stack = TempStack::copy_of(example, |toml| toml);
    let db = stack.path().join("browser.db");
    let server = Served::start(stack.path(), &format!("sqlite://{}", db.display()), &[]);
    let shots = root.join("target/browser-screenshots").join(example);
    let out = Command::new("node")
        .arg(browser.join(script))
        .env("BASE_URL", server.url())
        .env("OUTBOX", stack.path().join(".stackwright/outbox.jsonl"))
        .env("SCREENSHOTS", &shots)
        .output()
        .expect("node runs");
    let server_log = server.log();
    drop(server);
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}\nserver:\n{server_log}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let pngs = std::fs::read_dir(&shots)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "png")
        })
        .count();
    assert!(pngs >= 3, "screenshots of each step in {}", shots.display());
}

/// Browse and filter; signed out, Like asks to sign in; register, read the
/// code from the outbox, confirm, sign in; Like raises the count; Adopt
/// marks the mysfit adopted; sign out.
#[test]
fn mysfits_site_signs_up_likes_and_adopts_in_chromium() {
    run_script("mysfits", "mysfits.mjs");
}

/// Add a task through the page, then delete it.
#[test]
fn todo_site_adds_and_deletes_a_task_in_chromium() {
    run_script("todo", "todo.mjs");
}
