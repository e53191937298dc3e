//! Every diagnostic the validator gives, table-driven: each case is a small
//! stack (a valid base and one mistake after it) and every problem `parse`
//! then reports, with its line, column, message and hint.
//!
//! Messages no stack file can bring about:
//! - "unknown server setting `KEY`" (`ServerSettings::set`): `[server]`
//!   only passes the keys `ServerSettings::KEYS` names.

mod aws;
mod list;
mod ops;
mod route;
mod services;
mod settings;
mod table;
mod topics;

use std::path::Path;

use super::{parse, parse_with};

/// A problem as `parse` reports it: line, column, message, hint.
type Diag = (usize, usize, String, Option<String>);
/// A problem as a case expects it; the line counts from the case's text
/// (0: a line of the base).
type Want = (usize, usize, &'static str, Option<&'static str>);
/// The text written after a base stack, and every problem it brings.
type Case = (&'static str, &'static [Want]);

/// A stack with only its name.
const NAME: &str = "name = \"s\"\n";

/// A stack with one table: a generated key, a required string, an indexed
/// integer with a default.
const TABLE: &str = r#"name = "s"

[tables.t]
key = "id"
columns.id = { type = "integer", generated = true }
columns.name = { type = "string", max_length = 50 }
columns.count = { type = "integer", default = 0 }
indexes.by_count = { columns = ["count"] }
"#;

/// A route on table `t`, its method, path and op left to the case.
const ON_T: &str = "\n[[routes]]\ntable = \"t\"\n";

/// A route `GET /t/{id}` getting a row of table `t`.
const GET: &str = r#"
[[routes]]
method = "GET"
path = "/t/{id}"
op = "get"
table = "t"
"#;

/// Every problem `parse` finds in `source`, read from a folder that holds
/// `site/index.html`, `bare/` (a folder without index.html) and `seed.csv`.
/// The folder's path reads `DIR`.
fn diag(source: &str) -> Vec<Diag> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let root = dir.path();
    std::fs::create_dir(root.join("site")).expect("site folder");
    std::fs::write(root.join("site/index.html"), "<p>hello</p>").expect("index.html");
    std::fs::create_dir(root.join("bare")).expect("bare folder");
    std::fs::write(root.join("seed.csv"), "name\nx\n").expect("seed.csv");
    let shown = root.display().to_string();
    let found = match parse(&root.join("s.toml"), source) {
        Ok(_) => return Vec::new(),
        Err(found) => found,
    };
    found
        .0
        .into_iter()
        .map(|d| {
            let hint = d.hint.map(|h| h.replace(&shown, "DIR"));
            (d.line, d.column, d.message.replace(&shown, "DIR"), hint)
        })
        .collect()
}

/// Each case's text after `base`: what `parse` reports must be exactly
/// what the case expects. Every case that differs is named in the panic.
fn check(base: &str, cases: &[Case]) {
    let offset = base.lines().count();
    let mut failed = Vec::new();
    for (i, (text, want)) in cases.iter().enumerate() {
        let text = text.strip_prefix('\n').unwrap_or(text);
        let found: Vec<Diag> = diag(&format!("{base}{text}"))
            .into_iter()
            .map(|(line, column, message, hint)| {
                (line.saturating_sub(offset), column, message, hint)
            })
            .collect();
        let expected: Vec<Diag> = want
            .iter()
            .map(|(line, column, message, hint)| {
                (
                    *line,
                    *column,
                    message.to_string(),
                    hint.map(str::to_string),
                )
            })
            .collect();
        if found != expected {
            failed.push(format!(
                "case {i}:\n{text}\n  expected {expected:?}\n  found    {found:?}"
            ));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[test]
fn stack_level_problems() {
    check(
        "",
        &[
            ("name = \"s\"\n", &[]),
            ("name = \"1s\"\n", &[(1, 8, "invalid stack name `1s`", Some("use 1-40 letters, digits and dashes, starting with a letter (it names cloud stacks)"))]),
            ("name = \"s\"\n[database]\nengine = \"postgress\"\n", &[(3, 10, "unknown database engine `postgress`", Some("did you mean `postgres`?"))]),
            ("name = \"s\"\n[database]\nengine = \"oracle\"\n", &[(3, 10, "unknown database engine `oracle`", Some("expected one of `postgres`, `aurora-postgres`, `aurora-mysql`, `mysql`, `dynamodb`, `redshift`"))]),
        ],
    );
}

#[test]
fn paths_the_runtime_keeps_and_the_user_pool() {
    let health = "\n[[routes]]\nmethod = \"GET\"\nop = \"health\"\n";
    check(
        &format!("{NAME}{health}"),
        &[
            ("path = \"/docs\"\n", &[(1, 8, "`/docs` is where the API describes itself; choose another path", None)]),
            ("path = \"/openapi.json\"\n", &[(1, 8, "`/openapi.json` is where the API describes itself; choose another path", None)]),
            ("path = \"/topics/x\"\n", &[(1, 8, "paths under /topics/ are where topics are published; choose another path", None)]),
            ("path = \"/me\"\nauth = \"user\"\n", &[(2, 8, "`auth = \"user\"` needs a user pool: add a [users] section", Some("[users] alone is enough: password_min_length = 8 and the rest have defaults"))]),
        ],
    );
    check(
        NAME,
        &[(
            "[topics.m]\nfields.a = { type = \"integer\" }\nauth = \"user\"\n",
            &[(
                3,
                8,
                "`auth = \"user\"` needs a user pool: add a [users] section",
                Some("[users] alone is enough: password_min_length = 8 and the rest have defaults"),
            )],
        )],
    );
}

#[test]
fn a_value_reported_for_its_type_is_not_reported_again() {
    // The blank standing in for `port` (0) is out of range: not news.
    check(
        NAME,
        &[(
            "[aws]\nport = \"80\"\n",
            &[(2, 8, "expected an integer, found the string \"80\"", None)],
        )],
    );
}

#[test]
fn places_are_named_relative_to_the_current_folder() {
    let found = parse(
        Path::new("s.toml"),
        "name = \"s\"\n[site]\ndir = \"no-such-site-folder\"\n",
    )
    .expect_err("no such folder");
    let hint = found.0[0].hint.as_deref();
    assert_eq!(hint, Some("the path is relative to the current folder"));
}

#[test]
fn a_deployed_stack_does_not_look_for_its_site_folder() {
    let source = "name = \"s\"\n[site]\ndir = \"no-such-site-folder\"\n";
    assert!(parse_with(Path::new("s.toml"), source, None, false).is_ok());
}
