//! `stackwright check`: every problem names file:line:column with a hint,
//! exits non-zero, and changes nothing.

use crate::harness::{example, stackwright, text, TempStack};

#[test]
fn every_example_passes() {
    for name in ["pets", "todo", "mysfits", "clients", "adoptions"] {
        let out = stackwright(&["check", example(name).to_str().unwrap()]);
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with(&format!("ok: stack `{name}`")));
    }
}

/// Run check on a stack text; return (success, stderr) and prove nothing was written.
fn check(stack_toml: &str) -> (bool, String) {
    let stack = TempStack::new(stack_toml);
    let before = std::fs::read_dir(stack.path()).unwrap().count();
    let out = stackwright(&["check", stack.path().to_str().unwrap()]);
    assert_eq!(
        std::fs::read_dir(stack.path()).unwrap().count(),
        before,
        "check wrote nothing"
    );
    (out.status.success(), text(&out.stderr))
}

const GOOD: &str = r#"name = "pets"

[tables.pet]
key = "name"

[tables.pet.columns]
name = { type = "string", max_length = 20 }
owner = { type = "string", max_length = 20 }

[[routes]]
method = "GET"
path = "/api/pet/{name}"
op = "get"
table = "pet"
fields = ["name", "owner"]
"#;

#[track_caller]
fn assert_points_at(stderr: &str, line: usize, column: usize, words: &[&str]) {
    let place = format!("stackwright.toml:{line}:{column}: error:");
    assert!(stderr.contains(&place), "expected `{place}` in:\n{stderr}");
    for w in words {
        assert!(stderr.contains(w), "expected `{w}` in:\n{stderr}");
    }
}

#[test]
fn the_good_stack_passes() {
    let (ok, err) = check(GOOD);
    assert!(ok, "{err}");
}

#[test]
fn typo_in_a_key_names_line_column_and_suggestion() {
    let (ok, err) = check(&GOOD.replace("[tables.pet.columns]", "[tables.pet.colums]"));
    assert!(!ok);
    assert_points_at(
        &err,
        6,
        13,
        &["unknown key `colums`", "did you mean `columns`?"],
    );
    let (ok, err) = check(&GOOD.replace("name = \"pets\"", "nmae = \"pets\""));
    assert!(!ok);
    assert_points_at(&err, 1, 1, &["unknown key `nmae`", "did you mean `name`?"]);
    let (ok, err) = check(&GOOD.replace("op = \"get\"", "op = \"get\"\ntabel = \"pet\""));
    assert!(!ok);
    assert_points_at(
        &err,
        14,
        1,
        &["unknown key `tabel`", "did you mean `table`?"],
    );
}

#[test]
fn route_naming_an_unknown_column_is_pointed_at() {
    let (ok, err) = check(&GOOD.replace(
        r#"fields = ["name", "owner"]"#,
        r#"fields = ["name", "ownr"]"#,
    ));
    assert!(!ok);
    assert_points_at(
        &err,
        15,
        19,
        &["unknown field `ownr`", "did you mean `owner`?"],
    );
    // The caret underlines the value.
    assert!(err.contains("^^^^^^"), "{err}");
    assert!(err.contains("nothing was changed"), "{err}");
}

#[test]
fn semantic_errors_are_all_reported_with_places() {
    let broken = r#"name = "bad stack!"

[database]
engine = "postgress"

[tables.t]
key = "idd"
seed = "missing.csv"

[tables.t.columns]
id = { type = "bigint" }
label = { type = "string" }
kind = { type = "strng", max_length = 3 }
note = { type = "text", default = 5 }

[[routes]]
method = "GET"
path = "/t"
op = "list"
table = "t"
filters = ["note"]

[[routes]]
method = "FETCH"
path = "/x"
op = "get"
table = "nope"
"#;
    let (ok, err) = check(broken);
    assert!(!ok);
    assert_points_at(&err, 1, 8, &["invalid stack name"]);
    assert_points_at(
        &err,
        4,
        10,
        &[
            "unknown database engine `postgress`",
            "did you mean `postgres`?",
        ],
    );
    assert_points_at(
        &err,
        7,
        7,
        &["key `idd` is not a column", "did you mean `id`?"],
    );
    assert_points_at(&err, 8, 8, &["seed file `missing.csv` not found"]);
    assert_points_at(&err, 12, 18, &["needs max_length"]);
    assert_points_at(
        &err,
        13,
        17,
        &["unknown column type `strng`", "did you mean `string`?"],
    );
    assert_points_at(
        &err,
        14,
        35,
        &["default for `note`: expected a string, got an integer"],
    );
    assert_points_at(&err, 24, 10, &["unknown method `FETCH`"]);
    assert_points_at(&err, 27, 9, &["unknown table `nope`"]);
}

#[test]
fn filters_need_an_index() {
    let stack = GOOD.to_string()
        + r#"
[[routes]]
method = "GET"
path = "/api/pets"
op = "list"
table = "pet"
filters = ["owner"]
"#;
    let (ok, err) = check(&stack);
    assert!(!ok);
    assert_points_at(
        &err,
        22,
        12,
        &[
            "filter `owner` is on column `owner`, which has no index",
            "indexes",
        ],
    );
    let indexed = stack.replacen(
        "[[routes]]",
        "[tables.pet.indexes]\nby_owner = { columns = [\"owner\"] }\n\n[[routes]]",
        1,
    );
    let (ok, err) = check(&indexed);
    assert!(ok, "{err}");
}

#[test]
fn toml_syntax_errors_name_the_place() {
    let (ok, err) = check("name = \"x\"\n[tables.t\n");
    assert!(!ok);
    assert!(err.contains("stackwright.toml:2:"), "{err}");
}

#[test]
fn bad_seed_rows_name_the_seed_file_line() {
    let stack =
        TempStack::new(&GOOD.replace("key = \"name\"", "key = \"name\"\nseed = \"pets.csv\""));
    stack.write(
        "pets.csv",
        "name,owner\nFluffy,Harold\nClaws,ThisOwnerNameIsFarTooLong\n",
    );
    let out = stackwright(&["check", stack.path().to_str().unwrap()]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("pets.csv:3:7: error: column `owner`: is 25 characters long"),
        "{err}"
    );

    // NUL cannot be stored on PostgreSQL: refused in seeds as in requests.
    stack.write("pets.csv", "name,owner\nFluffy,Har\0old\n");
    let out = stackwright(&["check", stack.path().to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(
        err.contains("pets.csv:2:8: error: column `owner`: must not contain the NUL character"),
        "{err}"
    );

    stack.write("pets.csv", "name,ownr\nFluffy,Harold\n");
    let out = stackwright(&["check", stack.path().to_str().unwrap()]);
    let err = text(&out.stderr);
    assert!(
        err.contains("pets.csv:1:6: error: unknown column `ownr`"),
        "{err}"
    );
}

#[test]
fn json_output_lists_problems() {
    let stack = TempStack::new(&GOOD.replace("op = \"get\"", "op = \"gets\""));
    let out = stackwright(&["check", stack.path().to_str().unwrap(), "--json"]);
    assert!(!out.status.success());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["errors"][0]["line"], 13);
    assert_eq!(report["errors"][0]["column"], 6);
    assert_eq!(report["errors"][0]["hint"], "did you mean `get`?");
}

#[test]
fn up_and_migrate_refuse_a_broken_stack_without_touching_anything() {
    let stack = TempStack::new(&GOOD.replace("[tables.pet.columns]", "[tables.pet.colums]"));
    let dir = stack.path().to_str().unwrap();
    for args in [vec!["up", dir, "--port", "0"], vec!["migrate", dir]] {
        let out = stackwright(&args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            text(&out.stderr).contains("stackwright.toml:6:13"),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            !stack.path().join(".stackwright").exists(),
            "{args:?} created local state"
        );
    }
}

#[test]
fn create_routes_must_accept_every_required_field() {
    let stack = GOOD.to_string()
        + r#"
[[routes]]
method = "POST"
path = "/api/pets"
op = "create"
table = "pet"
input = ["name"]
"#;
    let (ok, err) = check(&stack);
    assert!(!ok);
    assert_points_at(
        &err,
        22,
        9,
        &["`input` leaves out `owner`, which is required"],
    );
}

#[test]
fn keys_that_do_not_apply_to_the_op_are_errors() {
    let stack = GOOD.to_string()
        + r#"
[[routes]]
method = "GET"
path = "/health"
op = "health"
rename = { x = "nope" }

[[routes]]
method = "GET"
path = "/api/pets"
op = "list"
table = "pet"
set = {}
"#;
    let (ok, err) = check(&stack);
    assert!(!ok);
    assert_points_at(
        &err,
        21,
        16,
        &["`rename` does not apply to op = \"health\""],
    );
    assert!(
        err.contains("`set` does not apply to op = \"list\""),
        "{err}"
    );
}

#[test]
fn dynamodb_rules_apply_for_that_engine() {
    let stack = r#"name = "items"

[database]
engine = "dynamodb"

[tables.item]
key = "id"

[tables.item.columns]
id = { type = "string", max_length = 36 }
a = { type = "string", max_length = 10 }
b = { type = "string", max_length = 10 }
c = { type = "string", max_length = 10 }
flag = { type = "boolean" }

[tables.item.indexes]
wide = { columns = ["a", "b", "c"] }
by_flag = { columns = ["flag"] }
only = { columns = ["a"], unique = true }
"#;
    let (ok, err) = check(stack);
    assert!(!ok);
    assert_points_at(
        &err,
        17,
        20,
        &["index `wide` has 3 columns; on DynamoDB an index has at most two"],
    );
    assert_points_at(
        &err,
        18,
        24,
        &["index key must be a string or number; `flag` is boolean"],
    );
    assert_points_at(&err, 19, 36, &["DynamoDB cannot enforce a unique index"]);

    // The same tables are fine for PostgreSQL...
    let (ok, err) = check(&stack.replace("engine = \"dynamodb\"", "engine = \"postgres\""));
    assert!(ok, "{err}");
    // ...and `--engine` checks a stack against another engine's rules.
    let pg = TempStack::new(&stack.replace("engine = \"dynamodb\"", "engine = \"postgres\""));
    let out = stackwright(&["check", pg.path().to_str().unwrap(), "--engine", "dynamodb"]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("at most two"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn topic_and_subscription_errors_are_pointed_at() {
    let stack = r#"name = "pets"

[tables.pet]
key = "name"

[tables.pet.columns]
name = { type = "string", max_length = 20 }
owner = { type = "string", max_length = 20 }
age = { type = "integer" }

[topics.Pets]
fields = { name = { type = "string", max_length = 20 } }

[topics.adopted]
fields = { name = { type = "string", max_length = 40 }, owner = { type = "string", max_length = 10, nullable = true } }

[[subscriptions]]
topic = "adopt"
table = "pet"

[[subscriptions]]
topic = "adopted"
table = "pet"
action = "upsert"
map = { name = "name", owner = "owner" }
max_attempts = 0

[[subscriptions]]
topic = "adopted"
table = "pets"

[[subscriptions]]
topic = "adopted"
table = "pet"
action = "merge"
map = { owner = "ownr" }

[[routes]]
method = "GET"
path = "/topics/x"
op = "health"
"#;
    let (ok, err) = check(stack);
    assert!(!ok);
    assert_points_at(&err, 11, 1, &["invalid topic name `Pets`"]);
    assert_points_at(
        &err,
        18,
        9,
        &["unknown topic `adopt`", "did you mean `adopted`?"],
    );
    assert_points_at(
        &err,
        25,
        7,
        &[
            "field `name` (string(40)) does not fit column `name` (string(20))",
            "field `owner` may be absent, but column `owner` needs a value",
            "column `age` of table `pet` needs a value",
        ],
    );
    assert_points_at(&err, 26, 16, &["max_attempts must be between 1 and 1000"]);
    assert_points_at(
        &err,
        30,
        9,
        &["unknown table `pets`", "did you mean `pet`?"],
    );
    assert_points_at(&err, 35, 10, &["unknown action `merge`"]);
    assert_points_at(&err, 36, 17, &["`ownr` is not a field of topic `adopted`"]);
    assert_points_at(&err, 40, 8, &["paths under /topics/"]);
}

#[test]
fn server_limits_out_of_range_and_reserved_paths_are_pointed_at() {
    let stack = format!(
        "{}\n[server]\nrequest_timeout_seconds = 0\nmax_header_bytes = 512\ndrain_timeout_seconds = 0\ntrusted_proxy_hops = 11\nallowed_hosts = [\"ok.test\", \"Bad Host:80\"]\n",
        GOOD.replace("/api/pet/{name}", "/docs")
    );
    let (ok, err) = check(&stack);
    assert!(!ok);
    assert_points_at(&err, 12, 8, &["`/docs` is where the API describes itself"]);
    assert_points_at(
        &err,
        18,
        27,
        &["request_timeout_seconds must be between 1 and 3600"],
    );
    assert_points_at(
        &err,
        19,
        20,
        &["max_header_bytes must be between 1024 and 1048576"],
    );
    // Zero is allowed for the drain: stop at once.
    assert!(!err.contains("drain_timeout_seconds"), "{err}");
    assert_points_at(
        &err,
        21,
        22,
        &["trusted_proxy_hops must be between 0 and 10"],
    );
    assert_points_at(&err, 22, 29, &["`Bad Host:80` is not a host name"]);
}

#[test]
fn server_limits_can_be_overridden_from_the_environment_and_bad_overrides_refused() {
    let stack = TempStack::copy_of("todo", |t| t);
    let out = crate::harness::stackwright_env(
        &["up", stack.path().to_str().unwrap(), "--port", "0"],
        &[("STACKWRIGHT_SERVER_HEADER_TIMEOUT_SECONDS", "0")],
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("STACKWRIGHT_SERVER_HEADER_TIMEOUT_SECONDS: header_timeout_seconds must be between 1 and 3600"),
        "{err}"
    );
    assert!(
        !stack.path().join(".stackwright").exists(),
        "nothing touched"
    );
}

/// A first draft with nine mistakes, of shape and of meaning, in several
/// sections: every one is reported in one run, in the stack file's words,
/// with a hint only where one is right.
#[test]
fn a_draft_with_nine_mistakes_gets_nine_answers_in_one_run() {
    let draft = r#"name = "shop"
colour = "blue"

[tables.orders]
key = "id"
sed = "seed/orders.csv"

[tables.orders.columns]
id = { type = "integer" }
total = { type = "integr" }
paid = { type = "boolean", nullable = "yes" }

[[routes]]
method = "GET"
path = "/orders/{id}"
op = "get"
table = "orders"
match = "x"

[[routes]]
method = "PSOT"
path = "/orders"
op = "create"
table = "order"

[server]
max_body_bytes = "big"
request_timeout_seconds = 0
"#;
    let (ok, err) = check(draft);
    assert!(!ok);
    let expected: [(usize, usize, &str); 9] = [
        (2, 1, "unknown key `colour`"),
        (6, 1, "unknown key `sed`"),
        (10, 18, "unknown column type `integr`"),
        (11, 39, "expected true or false, found the string \"yes\""),
        (18, 1, "unknown key `match`"),
        (21, 10, "unknown method `PSOT`"),
        (24, 9, "unknown table `order`"),
        (27, 18, "expected an integer, found the string \"big\""),
        (28, 27, "request_timeout_seconds must be between 1 and 3600"),
    ];
    for (line, column, words) in expected {
        assert_points_at(&err, line, column, &[words]);
    }
    assert!(err.contains("did you mean `seed`?"), "{err}");
    assert!(err.contains("did you mean `orders`?"), "{err}");
    let for_match = err
        .split("\n\n")
        .find(|block| block.contains("`match`"))
        .unwrap();
    assert!(
        !for_match.contains("did you mean"),
        "no hint that misleads: {for_match}"
    );
    assert!(
        !err.contains("i64") && !err.contains("u32"),
        "the stack file's words: {err}"
    );
    let count = err.matches(": error: ").count();
    assert_eq!(count, 9, "{err}");
    assert!(err.contains("9 problems found"), "{err}");
}
