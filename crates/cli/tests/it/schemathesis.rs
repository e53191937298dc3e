//! Schemathesis (PyPI, `.tools/schemathesis`) against every example's
//! running stack on SQLite and PostgreSQL: generated requests, valid and
//! invalid, checked against the stack's own OpenAPI document. Every check
//! runs (no server errors, documented statuses, content types, headers and
//! response schemas, invalid data refused, valid data accepted, 405s with
//! `Allow`, auth enforced); the budget is fixed (`MAX_EXAMPLES` cases per
//! operation and phase, one seed), so a run is repeatable.
//!
//! Stacks with users get a signed-in user's token, so the routes that need
//! one are exercised beyond 401.

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value as Json;
use stackwright_stack::{KeySource, Operation, Stack};

use crate::harness::{signed_in_token, text, tool, Served, TempStack, TestDatabase, TestEngine};

/// Generated cases per operation, in each generating phase.
const MAX_EXAMPLES: &str = "50";
const SEED: &str = "20261123";

/// Schemathesis' configuration for the stack and its `document`.
///
/// Keys: the key parameter of each get, update and delete route takes a key
/// of the table's seed rows half of the time (a dictionary), so those routes
/// answer 200 and their rows are checked too, not only their 404s.
///
/// Valid data must be accepted (`positive_data_acceptance`) with no
/// per-operation allowance. One parameter gets its test data here, as keys
/// do: a list's `cursor` opens only when this stack sealed it for the same
/// route and filters, so the document cannot describe the valid values, and
/// every generated cursor takes the one valid for any request (empty: the
/// first page). Sealed cursors, forged and edited ones are the list tests'.
fn config(stack: &Stack, document: &Json) -> String {
    let mut dictionaries = String::new();
    let mut operations: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
    for route in &stack.routes {
        let (table, key) = match &route.operation {
            Operation::Get { table, key }
            | Operation::Delete { table, key, .. }
            | Operation::Update { table, key, .. } => (stack.table(table), key),
            _ => continue,
        };
        let Some(rows) = stackwright_storage::seed::load(&stack.dir, table).unwrap() else {
            continue;
        };
        let keys: Vec<&Json> = rows
            .iter()
            .filter_map(|r| r.row.get(&table.key))
            .filter(|k| k.is_string() || k.is_i64())
            .collect();
        if keys.is_empty() {
            continue;
        }
        let name = format!("keys_{}", table.name);
        if !dictionaries.contains(&format!("[dictionaries.{name}]")) {
            dictionaries.push_str(&format!(
                "[dictionaries.{name}]\nvalues = {}\n\n",
                Json::from(keys.into_iter().cloned().collect::<Vec<_>>())
            ));
        }
        let parameter = match key {
            KeySource::Path(p) => format!("path.{p}"),
            KeySource::Query(q) => format!("query.{q}"),
        };
        operations
            .entry((route.path.clone(), route.method.as_str().to_string()))
            .or_default()
            .push(format!(
                "parameters = {{ {} = {{ dictionary = \"{name}\", probability = 0.5 }} }}",
                Json::from(parameter)
            ));
    }
    let lists = document["paths"]
        .as_object()
        .expect("paths")
        .values()
        .any(|item| {
            item.as_object().expect("an item").values().any(|op| {
                op["parameters"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| p["name"] == "cursor"))
            })
        });
    let mut out = dictionaries;
    if lists {
        out.push_str("[dictionaries.first_page]\nvalues = [\"\"]\n\n");
        out.push_str("[parameters]\n\"query.cursor\" = { dictionary = \"first_page\" }\n\n");
    }
    for ((path, method), lines) in operations {
        out.push_str(&format!(
            "[[operations]]\ninclude-path = {}\ninclude-method = {}\n{}\n\n",
            Json::from(path),
            Json::from(method),
            lines.join("\n")
        ));
    }
    out
}

async fn fuzz(example: &str, engine: TestEngine) {
    fuzz_stack(example, TempStack::copy_of(example, |t| t), engine).await;
}

/// The column types no example has (`decimal`, `date`, `uuid`, stamped
/// timestamps), in `types.rs`'s stack.
mod types {
    use crate::harness::TestEngine;
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::fuzz_stack("types", crate::types::stack(), TestEngine::Sqlite).await
    }
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::fuzz_stack("types", crate::types::stack(), TestEngine::Postgres).await
    }
}

async fn fuzz_stack(example: &str, stack: TempStack, engine: TestEngine) {
    let st = tool("schemathesis", "st");
    let db = TestDatabase::create(engine).await;
    let server = Served::start(stack.path(), &db.raw_url, &[]);
    let url = server.url();
    let client = reqwest::Client::new();
    let document: Json = client
        .get(format!("{url}/openapi.json"))
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e}; server:\n{}", server.log()))
        .json()
        .await
        .unwrap();

    let loaded = stackwright_stack::load(stack.path()).unwrap();
    let mut headers = Vec::new();
    if loaded.users.is_some() {
        let token = signed_in_token(&client, &url, stack.path()).await;
        headers.push("-H".to_string());
        headers.push(format!("Authorization: Bearer {token}"));
    }

    let work = tempfile::TempDir::new().unwrap();
    let config_path = work.path().join("schemathesis.toml");
    let config = config(&loaded, &document);
    std::fs::write(&config_path, &config).unwrap();
    let started = std::time::Instant::now();
    let out = Command::new(&st)
        // Reports and Hypothesis' files stay in the temporary folder.
        .current_dir(work.path())
        .env("NO_COLOR", "1")
        .arg("--config-file")
        .arg(&config_path)
        .args(["run", &format!("{url}/openapi.json")])
        .args(["--checks", "all", "--mode", "all"])
        .args(["--max-examples", MAX_EXAMPLES, "--seed", SEED])
        .args(["--generation-database", "none"])
        .args(["--workers", "1", "--request-timeout", "10"])
        .args(["--report", "junit", "--report-dir"])
        .arg(work.path().join("report"))
        .arg("--no-color")
        .args(&headers)
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let log = server.log();
    drop(server);
    assert!(
        out.status.success(),
        "schemathesis found problems in {example} on {engine:?} ({elapsed:?}):\n{}\n{}\nconfiguration:\n{config}\nserver:\n{log}",
        text(&out.stdout),
        text(&out.stderr),
    );
    let report = text(&out.stdout);
    assert!(
        !report.contains("Authentication failed"),
        "routes that need a user were only answered 401:\n{report}"
    );
    assert!(
        !report.contains("Missing test data"),
        "routes with a key were only answered 404:\n{report}\nconfiguration:\n{config}"
    );
    eprintln!("{example} on {engine:?}: {elapsed:?}");
}

macro_rules! every_example {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                use crate::harness::TestEngine;
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() { super::fuzz(stringify!($name), TestEngine::Sqlite).await }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() { super::fuzz(stringify!($name), TestEngine::Postgres).await }
            }
        )*
    };
}

every_example!(todo, pets, clients, mysfits, adoptions);
