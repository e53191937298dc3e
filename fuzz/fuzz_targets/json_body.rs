//! Request bodies: bytes -> JSON (as the server reads a body) -> every field
//! checked against every kind of column with `check_value`.
//!
//! Each value is first normalised as the server does (`values::normalize`).
//! Never panics; the answer survives a serialise/parse round trip; and a
//! scalar accepted in a body is also accepted when written as a path or
//! query value (`from_text`), and the other way round.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;
use stackwright_stack::values::{check_value, from_text, normalize};
use stackwright_stack::{Column, ColumnType};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Json>(data) else {
        return;
    };
    let columns = common::all_columns();
    let fields: Vec<&Json> = match &body {
        Json::Object(map) => map.values().collect(),
        other => vec![other],
    };
    for value in fields {
        for column in &columns {
            one(column, value);
        }
    }
});

fn one(column: &Column, value: &Json) {
    // As the server's `body_value`: normalise (5.0 -> 5 for integer columns), then check.
    let value = &normalize(column, value.clone());
    assert_eq!(
        &normalize(column, value.clone()),
        value,
        "normalize is idempotent"
    );
    let verdict = check_value(column, value);
    if let Err(why) = &verdict {
        common::check_error(column, value.to_string().len(), why);
    }
    // What a client gets back (or what is stored) reads back the same way.
    let text = serde_json::to_string(value).expect("serialises");
    let again: Json = serde_json::from_str(&text).expect("reparses");
    assert_eq!(
        check_value(column, &again).is_ok(),
        verdict.is_ok(),
        "{text} for {:?}: {verdict:?}",
        column.ty
    );
    if let (Ok(()), ColumnType::Integer, false) = (&verdict, column.ty, value.is_null()) {
        let n = value.as_i64().expect("an integer");
        assert!(i32::try_from(n).is_ok());
    }
    // Body and path/query agree on scalars (JSON columns parse text as JSON,
    // so any value qualifies there).
    let as_text = match value {
        Json::Null => return,
        Json::String(s) if column.ty != ColumnType::Json => s.clone(),
        Json::String(_) | Json::Number(_) | Json::Bool(_) => value.to_string(),
        Json::Array(_) | Json::Object(_) if column.ty == ColumnType::Json => value.to_string(),
        _ => return,
    };
    let from_query = from_text(column, &as_text);
    if verdict.is_ok() {
        if let Err(why) = &from_query {
            // Text booleans are true/false/1/0; every other scalar must agree.
            panic!(
                "{value} accepted in a body for {:?} but `{as_text}` rejected as text: {why}",
                column.ty
            );
        }
    }
}
