//! Reading the stack file into its raw form, reporting every problem of
//! shape at once: unknown keys, values of the wrong type, missing keys.
//!
//! serde stops at the first problem. So the file is parsed once into a
//! spanned TOML tree; each time deserializing it fails, the problem is
//! reported and the entry it points at is taken out of the tree (an
//! unknown key, a wrong value, or the table that lacks a key), and the
//! rest is deserialized again. What remains is validated as usual, so a
//! draft with nine mistakes is told all nine in one run.

use std::ops::Range;
use std::path::Path;

use serde::Deserialize;
use toml::de::{DeArray, DeTable, DeValue};
use toml::Spanned;

use crate::diagnostic::{suggest, Diagnostic, Diagnostics};
use crate::raw::RawStack;

/// Most problems of shape reported: past that, fix these first.
const MAX_PROBLEMS: usize = 100;

/// The raw stack and the problems of shape found on the way; None when
/// not even what remains can be read (a syntax error, or the top level).
pub fn raw_stack(file: &Path, source: &str) -> (Option<RawStack>, Diagnostics) {
    let mut problems = Diagnostics::default();
    let (mut doc, syntax) = DeTable::parse_recoverable(source);
    if !syntax.is_empty() {
        for e in syntax {
            let span = e.span().unwrap_or(0..0);
            problems.push(Diagnostic::at(file, source, span, e.message().trim()));
        }
        return (None, problems);
    }
    let mut reported: Vec<Range<usize>> = Vec::new();
    for _ in 0..MAX_PROBLEMS {
        match RawStack::deserialize(toml::de::Deserializer::from(doc.clone())) {
            Ok(raw) => return (Some(raw), problems),
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let message = e.message().trim().to_string();
                // A key taken out (misspelled, say) is not also reported
                // missing from its table, and a table that stood in for a
                // value of the wrong type is not missing its keys either.
                let follows = message.starts_with("missing field")
                    && reported.iter().any(|r| {
                        (span.start <= r.start && r.end <= span.end)
                            || (r.start <= span.start && span.end <= r.end)
                    });
                if !follows {
                    let (text, hint) = in_stack_file_words(&message);
                    problems.push(
                        Diagnostic::at(file, source, span.clone(), text).with_optional_hint(hint),
                    );
                }
                reported.push(span.clone());
                // A value of the wrong type is replaced by one of the right
                // type (so its table still reads, and its other problems are
                // found); anything else is taken out.
                let stand_in = placeholder(&message);
                if span == doc.span() || !mend(doc.get_mut(), &span, &stand_in) {
                    return (None, problems);
                }
            }
        }
    }
    (None, problems)
}

/// A value of the type serde expected, standing in for a wrong one.
fn placeholder(message: &str) -> Option<DeValue<'static>> {
    let expected = message
        .strip_prefix("invalid type: ")?
        .split_once(", expected ")?
        .1;
    let literal = match type_words(expected).as_str() {
        "a string" => "\"\"",
        "an integer" => "0",
        "a number" => "0.0",
        "true or false" => "false",
        "an array" => "[]",
        "a table" => "{}",
        _ => return None,
    };
    DeValue::parse(literal).ok().map(Spanned::into_inner)
}

/// Mend the tree where `span` points: an entry with that key is taken out;
/// a value there is replaced by `stand_in` (or taken out without one).
/// Searched through the whole tree: a table made by a `[header]` does not
/// span the keys under it. False when nothing is there.
fn mend(table: &mut DeTable, span: &Range<usize>, stand_in: &Option<DeValue<'static>>) -> bool {
    let key_hit = table
        .iter()
        .find(|(k, _)| k.span() == *span)
        .map(|(k, _)| k.get_ref().to_string());
    if let Some(key) = key_hit {
        table.remove(key.as_str());
        return true;
    }
    let value_hit = table
        .iter()
        .find(|(_, v)| v.span() == *span)
        .map(|(k, _)| k.get_ref().to_string());
    if let Some(key) = value_hit {
        match stand_in {
            Some(v) => *table.get_mut(key.as_str()).expect("found").get_mut() = v.clone(),
            None => {
                table.remove(key.as_str());
            }
        }
        return true;
    }
    table
        .iter_mut()
        .any(|(_, v)| mend_value(v.get_mut(), span, stand_in))
}

fn mend_value(
    value: &mut DeValue,
    span: &Range<usize>,
    stand_in: &Option<DeValue<'static>>,
) -> bool {
    match value {
        DeValue::Table(t) => mend(t, span, stand_in),
        DeValue::Array(items) => mend_array(items, span, stand_in),
        _ => false,
    }
}

fn mend_array(
    items: &mut DeArray,
    span: &Range<usize>,
    stand_in: &Option<DeValue<'static>>,
) -> bool {
    if let Some(i) = items.iter().position(|v| v.span() == *span) {
        if let Some(v) = stand_in {
            *items.as_mut()[i].get_mut() = v.clone();
            return true;
        }
        // Taken out: rebuilt without it (an array cannot shrink).
        let mut rest = DeArray::new();
        for (j, item) in items.iter().enumerate() {
            if j != i {
                rest.push(Spanned::new(item.span(), item.get_ref().clone()));
            }
        }
        *items = rest;
        return true;
    }
    items
        .as_mut()
        .iter_mut()
        .any(|v| mend_value(v.get_mut(), span, stand_in))
}

/// serde's message in the stack file's words (TOML types, not Rust ones),
/// with a hint only where one is right.
fn in_stack_file_words(message: &str) -> (String, Option<String>) {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        let (word, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
        let hint = (!expected.is_empty()).then(|| suggest(word, expected.iter().copied()));
        return (format!("unknown key `{word}`"), hint);
    }
    if let Some(rest) = message.strip_prefix("missing field `") {
        let word = rest.split('`').next().unwrap_or(rest);
        return (format!("missing key `{word}`"), None);
    }
    if let Some(rest) = message.strip_prefix("invalid type: ") {
        if let Some((found, expected)) = rest.split_once(", expected ") {
            return (
                format!(
                    "expected {}, found {}",
                    type_words(expected),
                    found_words(found)
                ),
                None,
            );
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        let (word, rest) = rest.split_once('`').unwrap_or((rest, ""));
        let expected: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
        let hint = (!expected.is_empty()).then(|| suggest(word, expected.iter().copied()));
        return (format!("unknown value `{word}`"), hint);
    }
    (message.to_string(), None)
}

/// serde's name of an expected type, as the stack file says it.
fn type_words(expected: &str) -> String {
    let e = expected.trim();
    let integer = [
        "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "usize", "isize",
    ];
    if integer.contains(&e) {
        "an integer".into()
    } else if e == "f64" || e == "f32" {
        "a number".into()
    } else if e == "a boolean" || e == "bool" {
        "true or false".into()
    } else if e == "a string" || e.starts_with("a string") {
        "a string".into()
    } else if e == "a sequence" {
        "an array".into()
    } else if e == "a map" || e.starts_with("struct ") {
        "a table".into()
    } else {
        e.to_string()
    }
}

/// serde's description of a found value, as the stack file says it.
fn found_words(found: &str) -> String {
    let f = found.trim();
    if let Some(v) = f.strip_prefix("string ") {
        format!("the string {v}")
    } else if let Some(v) = f.strip_prefix("integer `") {
        format!("the integer {}", v.trim_end_matches('`'))
    } else if let Some(v) = f.strip_prefix("floating point `") {
        format!("the number {}", v.trim_end_matches('`'))
    } else if let Some(v) = f.strip_prefix("boolean `") {
        v.trim_end_matches('`').to_string()
    } else if f == "sequence" {
        "an array".into()
    } else if f == "map" {
        "a table".into()
    } else {
        f.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(source: &str) -> Vec<String> {
        let (_, found) = raw_stack(Path::new("s.toml"), source);
        found.0.iter().map(|d| d.to_string()).collect()
    }

    #[test]
    fn every_problem_of_shape_is_reported_at_once() {
        let source = r#"name = "x"
colour = "red"

[tables.t]
key = 1
sed = "s.csv"

[tables.t.columns]
id = { type = "integer", nullable = "yes" }

[[routes]]
method = "GET"
path = "/t/{id}"
op = "get"
table = "t"
match = "x"
"#;
        let found = problems(source);
        let want = [
            "s.toml:2:1: error: unknown key `colour`",
            "s.toml:5:7: error: expected a string, found the integer 1",
            "s.toml:6:1: error: unknown key `sed`",
            "s.toml:9:37: error: expected true or false, found the string \"yes\"",
            "s.toml:16:1: error: unknown key `match`",
        ];
        for w in want {
            assert!(
                found.iter().any(|f| f.starts_with(w)),
                "{w}\n in:\n{}",
                found.join("\n")
            );
        }
        assert_eq!(found.len(), want.len(), "{}", found.join("\n"));
        // A close name gets a suggestion; `match` is close to nothing.
        assert!(found.iter().any(|f| f.contains("did you mean `seed`?")));
        let for_match = found.iter().find(|f| f.contains("`match`")).unwrap();
        assert!(!for_match.contains("did you mean"), "{for_match}");
    }

    #[test]
    fn a_key_taken_out_is_not_also_reported_missing() {
        let source =
            "name = \"x\"\n[tables.t]\nkey = \"id\"\n[tables.t.columns]\nid = { type = 5 }\n";
        let found = problems(source);
        assert_eq!(found.len(), 1, "{}", found.join("\n"));
        assert!(
            found[0].contains("expected a string, found the integer 5"),
            "{}",
            found[0]
        );
    }

    #[test]
    fn syntax_errors_stop_the_reading() {
        let (raw, found) = raw_stack(Path::new("s.toml"), "name = \"x\nkey = [\n");
        assert!(raw.is_none());
        assert!(!found.0.is_empty());
    }
}
