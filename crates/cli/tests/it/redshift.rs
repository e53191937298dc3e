//! Redshift without a Redshift: no emulator runs its SQL, so every
//! statement its dialect can emit, for every example and for a stack that
//! uses every column type, index kind and operation, is collected here and
//! parsed by sqlfluff with its Redshift dialect; no section may be
//! unparsable. What PostgreSQL also accepts is executed there by the
//! `::redshift` variants of the engine tests (the Redshift dialect on the
//! machine's PostgreSQL), which assert the same results as every other
//! engine. docs/engines.md says what this proves and what it cannot.

use std::process::Command;

use serde_json::{json, Value as Json};
use stackwright_stack::{Apply, Stack};
use stackwright_storage::migrate::{self, SchemaSnapshot};
use stackwright_storage::shape::Shape;
use stackwright_storage::sql::{self, redshift, Dialect, Param};

use crate::harness::{example, text, tool, TempStack};
use crate::synth::EXAMPLES;

const D: Dialect = Dialect::Redshift;

/// Every column type, a generated key, unique and plain indexes, every
/// route operation, and both ways a subscription applies a message.
const EVERY: &str = r#"
name = "every"

[tables.item]
key = "id"

[tables.item.columns]
id = { type = "bigint", generated = true }
code = { type = "string", max_length = 12 }
title = { type = "text", nullable = true }
count = { type = "integer", default = 0 }
ratio = { type = "float", default = 0.5 }
done = { type = "boolean", default = false }
seen_at = { type = "timestamp", nullable = true }
meta = { type = "json", nullable = true }
note = { type = "string", max_length = 20, default = "it's a \\ test" }
price = { type = "decimal", precision = 12, scale = 2, default = "0.10" }
day = { type = "date", nullable = true }
ref = { type = "uuid", nullable = true }
created = { type = "timestamp", default = "now" }
changed = { type = "timestamp", updated = "now" }

[tables.item.indexes]
by_code = { columns = ["code"], unique = true }
by_count = { columns = ["count", "done"] }

[tables.tag]
key = "name"

[tables.tag.columns]
name = { type = "string", max_length = 40, generated = true }
item = { type = "bigint" }

[[routes]]
method = "GET"
path = "/items/{id}"
op = "get"
table = "item"

[[routes]]
method = "GET"
path = "/items"
op = "list"
table = "item"
filters = ["count", "code"]
order_by = ["count", "-id"]

[[routes]]
method = "POST"
path = "/items"
op = "create"
table = "item"

[[routes]]
method = "PATCH"
path = "/items/{id}"
op = "update"
table = "item"
input = ["title", "meta", "seen_at", "code", "price", "day", "ref"]

[[routes]]
method = "POST"
path = "/items/{id}/count"
op = "update"
table = "item"
increment = { count = 1 }

[[routes]]
method = "DELETE"
path = "/items/{id}"
op = "delete"
table = "item"

[topics.tags]
fields = { name = { type = "string", max_length = 40 }, item = { type = "bigint" } }

[[subscriptions]]
topic = "tags"
table = "tag"
action = "upsert"

[topics.items]
fields = { code = { type = "string", max_length = 12 }, title = { type = "text" } }

[[subscriptions]]
topic = "items"
table = "item"
action = "insert"
"#;

/// A sample value of a column's type, for statements' parameters.
fn sample(ty: stackwright_stack::ColumnType) -> Json {
    use stackwright_stack::ColumnType as T;
    match ty {
        T::Integer | T::BigInt => json!(7),
        T::Float => json!(1.5),
        T::Boolean => json!(true),
        T::Timestamp => json!("2026-12-06T10:00:00Z"),
        T::Json => json!({"a": [1, 2]}),
        T::String { .. } | T::Text => json!("x"),
        T::Decimal { .. } => json!("12.30"),
        T::Date => json!("2026-12-06"),
        T::Uuid => json!("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"),
    }
}

fn params(shape: &Shape, columns: &[&str]) -> Vec<(String, Param)> {
    columns
        .iter()
        .map(|c| {
            let ty = shape.ty(c).unwrap();
            (c.to_string(), sql::param(ty, &sample(ty)).unwrap())
        })
        .collect()
}

fn borrowed(values: &[(String, Param)]) -> Vec<(&str, Param)> {
    values
        .iter()
        .map(|(c, p)| (c.as_str(), p.clone()))
        .collect()
}

/// Every statement the Redshift engine sends for `stack`, bookkeeping
/// included, as text (parameters as `$n`).
fn catalogue(stack: &Stack) -> Vec<String> {
    let mut out: Vec<String> = D
        .internal_tables()
        .iter()
        .chain(D.queue_tables())
        .map(|s| s.to_string())
        .collect();
    out.extend(
        [
            redshift::VERSION,
            redshift::LOCK_MIGRATIONS,
            D.claim_seed(),
            D.forget_seeds(),
            D.mark_applied(),
            D.forget_applied(),
        ]
        .map(String::from),
    );
    out.extend([D.latest_schema(), D.next_version(), D.record_migration()]);
    out.extend(migration(None, &SchemaSnapshot::of(stack), false));
    for table in stack.tables.values() {
        let shape = Shape::of(table);
        let all: Vec<&str> = shape.columns.iter().map(|(c, _)| c.as_str()).collect();
        let others: Vec<&str> = all.iter().copied().filter(|c| *c != shape.key).collect();
        let key = || sql::param(shape.key_ty, &sample(shape.key_ty)).unwrap();
        let values = params(&shape, &all);
        out.push(D.get(&shape, key()).sql);
        let filters: Vec<(&str, Json)> = all
            .iter()
            .map(|c| (*c, sample(shape.ty(c).unwrap())))
            .collect();
        let orders: Vec<stackwright_stack::Order> = all
            .iter()
            .enumerate()
            .map(|(i, c)| stackwright_stack::Order {
                column: c.to_string(),
                descending: i % 2 == 1,
            })
            .collect();
        let list = |filters: Vec<(&'static str, Json)>, order_by, after| {
            let query = stackwright_storage::ListQuery {
                filters,
                ranges: Vec::new(),
                order_by,
                limit: 10,
                after,
            };
            D.list(table, &shape, &query, 11).unwrap().sql
        };
        // A page after a position of values, and after one of NULLs where
        // the columns allow them (conditions of another form).
        let position: stackwright_storage::Row = orders
            .iter()
            .map(|o| (o.column.clone(), sample(shape.ty(&o.column).unwrap())))
            .collect();
        let nulls: stackwright_storage::Row = orders
            .iter()
            .map(|o| match table.columns[&o.column].nullable {
                true => (o.column.clone(), Json::Null),
                false => (o.column.clone(), position[&o.column].clone()),
            })
            .collect();
        let filters: Vec<(&'static str, Json)> = filters
            .into_iter()
            .map(|(c, v)| (&*String::leak(c.to_string()), v))
            .collect();
        out.push(list(Vec::new(), &[], None));
        out.push(list(filters.clone(), &orders, Some(&position)));
        out.push(list(filters, &orders, Some(&nulls)));
        out.push(D.insert(&shape, borrowed(&values), false).sql);
        out.push(D.insert(&shape, borrowed(&values), true).sql);
        out.push(redshift::next_key(&shape));
        let increments: Vec<(&str, i64)> = others
            .iter()
            .copied()
            .filter(|c| shape.ty(c).unwrap().is_integer())
            .map(|c| (c, 1))
            .collect();
        let sets = params(&shape, &others);
        // A `where` with a constant of every comparable type, and a column.
        let mut condition: Vec<stackwright_stack::Comparison> = all
            .iter()
            .filter(|c| shape.ty(c).unwrap() != stackwright_stack::ColumnType::Json)
            .map(|c| stackwright_stack::Comparison {
                column: c.to_string(),
                op: stackwright_stack::CompareOp::Ne,
                value: stackwright_stack::Operand::Value(sample(shape.ty(c).unwrap())),
            })
            .collect();
        condition.push(stackwright_stack::Comparison {
            column: shape.key.clone(),
            op: stackwright_stack::CompareOp::Le,
            value: stackwright_stack::Operand::Column(shape.key.clone()),
        });
        let both = (table, &shape);
        for when in [&condition[..], &[]] {
            if !sets.is_empty() || !increments.is_empty() {
                out.push(
                    D.update(both, borrowed(&sets), &increments, key(), when)
                        .unwrap()
                        .sql,
                );
            }
            if !sets.is_empty() {
                out.push(
                    D.update(both, borrowed(&sets), &[], key(), when)
                        .unwrap()
                        .sql,
                );
            }
            if !increments.is_empty() {
                out.push(
                    D.update(both, Vec::new(), &increments, key(), when)
                        .unwrap()
                        .sql,
                );
            }
            out.push(D.delete(both, key(), when).unwrap().sql);
            out.push(D.get_where(both, key(), when).unwrap().sql);
        }
        for index in table.indexes.values().filter(|i| i.unique) {
            let columns: Vec<&str> = index.columns.iter().map(String::as_str).collect();
            let unique = params(&shape, &columns);
            out.push(redshift::taken(&shape, borrowed(&unique), None).sql);
            out.push(redshift::taken(&shape, borrowed(&unique), Some(key())).sql);
        }
        for st in redshift::merge(&shape, borrowed(&values)) {
            out.push(st.sql);
        }
        let key_only = params(&shape, &[shape.key.as_str()]);
        for st in redshift::merge(&shape, borrowed(&key_only)) {
            out.push(st.sql);
        }
    }
    out
}

/// The statements of a migration from `current` to `target`.
fn migration(
    current: Option<&SchemaSnapshot>,
    target: &SchemaSnapshot,
    destructive: bool,
) -> Vec<String> {
    let plan = migrate::checked_plan(current, target, destructive)
        .unwrap()
        .unwrap();
    let empty = SchemaSnapshot::default();
    sql::migration_statements(D, &plan, current.unwrap_or(&empty), target)
        .unwrap()
        .into_iter()
        .filter_map(|st| match st {
            sql::MigrationSql::Ddl(ddl) => Some(ddl),
            sql::MigrationSql::ForgetSeeds(_) => None,
        })
        .collect()
}

/// A later version of EVERY: a column, a unique and a plain index and a
/// table added; an index, a column and a table dropped.
fn evolved() -> Vec<String> {
    let before =
        stackwright_stack::validate::parse(std::path::Path::new("every.toml"), EVERY).unwrap();
    let after_text = EVERY
        .replace(
            "note = { type = \"string\", max_length = 20, default = \"it's a \\\\ test\" }",
            "extra = { type = \"integer\", nullable = true }",
        )
        .replace(
            "by_count = { columns = [\"count\", \"done\"] }",
            "by_title = { columns = [\"title\"], unique = true }\nby_ratio = { columns = [\"ratio\"] }",
        )
        .replace("by_code = { columns = [\"code\"], unique = true }\n", "")
        .replace("filters = [\"count\", \"code\"]", "filters = [\"ratio\", \"title\"]")
        .replace("order_by = [\"count\", \"-id\"]", "order_by = [\"ratio\", \"-id\"]")
        .replace(
            "[tables.tag]",
            "[tables.label]\nkey = \"k\"\n\n[tables.label.columns]\nk = { type = \"string\", max_length = 8 }\n\n[tables.tag]",
        );
    let after = stackwright_stack::validate::parse(std::path::Path::new("every.toml"), &after_text)
        .unwrap();
    let mut out = migration(
        Some(&SchemaSnapshot::of(&before)),
        &SchemaSnapshot::of(&after),
        true,
    );
    let without_label = SchemaSnapshot::of(&after);
    let mut dropped = without_label.clone();
    dropped.tables.shift_remove("label");
    out.extend(migration(Some(&without_label), &dropped, true));
    out
}

/// sqlfluff's parse of `statements` with its Redshift dialect: the
/// unparsable sections it reports (none when all parse).
fn unparsable(statements: &[String]) -> Vec<String> {
    let dir = TempStack::new("name = \"sqlfluff\"\n");
    // No size limit: sqlfluff skips a file over 20 kB by default, and a
    // skipped file has no problem to report. Its parse depth grows with the
    // statements of one file (its default, 600, stops at about as many
    // statements as this stack makes); a statement that does not parse is
    // still reported at any depth.
    let config = "[sqlfluff]\ndialect = redshift\ntemplater = placeholder\n\
                  large_file_skip_byte_limit = 0\nmax_parse_depth = 5000\n\n\
                  [sqlfluff:templater:placeholder]\nparam_style = dollar\n";
    std::fs::write(dir.path().join(".sqlfluff"), config).unwrap();
    let file = dir.path().join("statements.sql");
    std::fs::write(&file, statements.join(";\n") + ";\n").unwrap();
    let out = Command::new(tool("sqlfluff", "sqlfluff"))
        .current_dir(dir.path())
        .args(["parse", "statements.sql"])
        .output()
        .unwrap();
    let report = text(&out.stdout) + &text(&out.stderr);
    assert!(
        !report.to_lowercase().contains("skipping"),
        "sqlfluff parsed every statement: {report}"
    );
    // Each problem is a line "L: n | P: n | PRS | ... unparsable section: ...".
    let problems: Vec<String> = report
        .lines()
        .filter(|l| l.contains(" PRS |"))
        .map(str::to_string)
        .collect();
    assert_eq!(
        out.status.success(),
        problems.is_empty(),
        "sqlfluff's exit status agrees with its report:\n{}",
        report
            .split("==== parsing violations ====")
            .nth(1)
            .unwrap_or(&report[report.len().saturating_sub(3000)..])
    );
    problems
}

fn every_statement() -> Vec<String> {
    let mut all = Vec::new();
    for name in EXAMPLES {
        all.extend(catalogue(&stackwright_stack::load(&example(name)).unwrap()));
    }
    let every =
        stackwright_stack::validate::parse(std::path::Path::new("every.toml"), EVERY).unwrap();
    assert!(every.subscriptions.iter().any(|s| s.apply == Apply::Upsert));
    assert!(every.subscriptions.iter().any(|s| s.apply == Apply::Insert));
    all.extend(catalogue(&every));
    all.extend(evolved());
    all.sort();
    all.dedup();
    all
}

#[test]
fn sqlfluff_parses_every_statement_of_the_redshift_dialect() {
    let all = every_statement();
    // What only Redshift's dialect says, so the test cannot pass empty.
    for construct in [
        "DISTSTYLE KEY DISTKEY",
        "COMPOUND SORTKEY",
        "MERGE INTO",
        "CREATE TEMP TABLE",
        "WHERE NOT EXISTS",
        "ADD CONSTRAINT",
        "DROP CONSTRAINT",
        "ALTER TABLE \"item\" ADD COLUMN",
        "LOCK _stackwright_migrations",
        "VARCHAR(65535)",
    ] {
        assert!(
            all.iter().any(|s| s.contains(construct)),
            "{construct} among the statements"
        );
    }
    assert!(all.len() > 100, "{} statements", all.len());
    let problems = unparsable(&all);
    assert!(problems.is_empty(), "sqlfluff (redshift): {problems:#?}");
}

/// The gate fails on a statement Redshift would refuse to parse.
#[test]
fn sqlfluff_reports_a_broken_statement() {
    let mut all = every_statement();
    all.push("MERGE INTO \"item\" USING WHEN MATCHED".into());
    let problems = unparsable(&all);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0].contains("Found unparsable section"),
        "{problems:#?}"
    );
}
