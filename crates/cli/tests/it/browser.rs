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

/// Run `script` against the example served on SQLite; `after` then reads
/// the database while the server still runs.
fn run_script(example: &str, script: &str, after: impl Fn(&Path)) {
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
    if out.status.success() {
        after(&db);
    }
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
/// marks the mysfit adopted; sign out. Each profile a signed-in user
/// opened was published to the clicks topic and recorded in `clicks`.
#[test]
fn mysfits_site_signs_up_likes_and_adopts_in_chromium() {
    run_script("mysfits", "mysfits.mjs", |db| {
        let conn = rusqlite::Connection::open(db).unwrap();
        let clicks = || -> i64 {
            conn.query_row("SELECT count(*) FROM clicks", [], |r| r.get(0))
                .unwrap()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while clicks() == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        assert!(clicks() > 0, "a signed-in profile view is a click");
        let unknown: i64 = conn
            .query_row(
                "SELECT count(*) FROM clicks WHERE mysfitId NOT IN (SELECT mysfitId FROM mysfits)",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(unknown, 0, "each click names a mysfit");
    });
}

/// Add a task through the page, then delete it.
#[test]
fn todo_site_adds_and_deletes_a_task_in_chromium() {
    run_script("todo", "todo.mjs", |_| {});
}
