//! Arbitrary bytes as a stack file: parse and validate must never panic, and
//! every diagnostic must point inside the input (line:column of a real
//! character, or just past the end of a line).

#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use stackwright_stack::validate::parse_for;
use stackwright_stack::values::{check_type, check_value};
use stackwright_stack::{openapi, Change, CloudEngine, Diagnostic, Operation, Stack, Table};

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else {
        return;
    };
    // The engine override comes from the length, so corpus files stay plain TOML.
    let engine = match data.len() % 7 {
        0 => None,
        i => Some(CloudEngine::ALL[i - 1].1),
    };
    let file = Path::new("stackwright.toml");
    match parse_for(file, source, engine) {
        Ok(stack) => {
            check_model(&stack);
            // What the CLI does next with a valid stack must not panic either.
            let doc = openapi::document(&stack);
            serde_json::to_string(&doc).expect("the OpenAPI document serialises");
            serde_json::to_string(&stack).expect("the stack serialises");
        }
        Err(diagnostics) => {
            assert!(!diagnostics.is_empty(), "an error without a diagnostic");
            for d in diagnostics.iter() {
                check_position(source, d);
                let _ = d.to_string();
            }
            let _ = diagnostics.to_string();
        }
    }
});

/// What the server and storage index without checking exists: every name
/// a valid stack refers to, and every default and allowed value fits its column.
fn check_model(stack: &Stack) {
    for table in stack.tables.values() {
        let key = table.key_column();
        assert!(!key.nullable, "nullable key in {}", table.name);
        for column in table.columns.values() {
            if let Some(d) = &column.default {
                check_value(column, d).expect("the default fits its column");
            }
            for v in column.allowed.iter().flatten() {
                check_type(column.ty, v).expect("allowed values fit the type");
            }
        }
        for index in table.indexes.values() {
            assert!(!index.columns.is_empty(), "empty index {}", index.name);
            for c in &index.columns {
                has(table, c);
            }
        }
    }
    for route in &stack.routes {
        let Some(name) = route.operation.table() else {
            continue;
        };
        let table = stack.table(name);
        for f in &route.response.fields {
            has(table, &f.column);
        }
        match &route.operation {
            Operation::List(list) => {
                for f in &list.filters {
                    has(table, &f.column);
                }
                for column in list.named_filter.iter().flat_map(|n| n.choices.values()) {
                    has(table, column);
                }
                for order in list.orders() {
                    for o in order {
                        has(table, &o.column);
                    }
                    // The key breaks ties in every order.
                    assert!(order.iter().any(|o| o.column == table.key));
                }
                for range in &list.ranges {
                    has(table, &range.column);
                }
                assert!((1..=list.max_page_size).contains(&list.page_size));
            }
            Operation::Create { input, .. } => {
                for f in input {
                    has(table, &f.column);
                }
            }
            Operation::Update { input, changes, .. } => {
                for f in input {
                    has(table, &f.column);
                }
                for change in changes {
                    match change {
                        Change::Set { column, value } => {
                            check_value(has(table, column), value).expect("a set value fits");
                        }
                        Change::Increment { column, .. } | Change::IncrementBy { column, .. } => {
                            assert!(
                                has(table, column).ty.is_integer(),
                                "increment of a non-integer"
                            );
                        }
                        Change::SetUser { column, .. } => {
                            has(table, column);
                        }
                    }
                }
            }
            Operation::Get { .. } | Operation::Delete { .. } | Operation::Health => {}
        }
        // A condition names columns of its table only.
        if let Operation::Update { condition, .. } | Operation::Delete { condition, .. } =
            &route.operation
        {
            for c in condition {
                has(table, &c.column);
                if let stackwright_stack::Operand::Column(other) = &c.value {
                    has(table, other);
                }
            }
        }
    }
    for sub in &stack.subscriptions {
        let topic = &stack.topics[&sub.topic];
        let table = stack.table(&sub.table);
        for (column, field) in &sub.map {
            has(table, column);
            assert!(
                topic.fields.contains_key(field),
                "no field {field} in {}",
                topic.name
            );
        }
    }
}

fn has<'t>(table: &'t Table, column: &str) -> &'t stackwright_stack::Column {
    table
        .columns
        .get(column)
        .unwrap_or_else(|| panic!("no column `{column}` in table `{}`", table.name))
}

/// The diagnostic's line and column exist in `source`, and its quoted source
/// line is that line.
fn check_position(source: &str, d: &Diagnostic) {
    let lines: Vec<&str> = source.split('\n').collect();
    assert!(
        (1..=lines.len()).contains(&d.line),
        "line {} outside 1..={}: {d}",
        d.line,
        lines.len()
    );
    let text = lines[d.line - 1].trim_end_matches('\r');
    let width = lines[d.line - 1].chars().count();
    assert!(
        (1..=width + 1).contains(&d.column),
        "column {} outside 1..={} on line {}: {d}",
        d.column,
        width + 1,
        d.line
    );
    assert_eq!(d.source_line.as_deref(), Some(text), "quoted line: {d}");
    assert!(d.width >= 1);
    assert!(
        !d.message.is_empty(),
        "empty message at {}:{}",
        d.line,
        d.column
    );
}
