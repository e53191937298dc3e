//! Path and query values: text parsed by column type (`values::from_text`,
//! what the server's `text_value` calls), then checked against the column.
//!
//! Input layout: byte 0 picks the column (bits 0-3 type, bit 4 nullable,
//! bit 5 with `allowed` values, bit 6 the rest is a whole query string, as
//! the server decodes it); the rest is the raw value. Bytes that are not
//! UTF-8 are decoded lossily, as a percent-decoder would.
//!
//! Never panics; an accepted value passes `check_value` again, has the
//! column's JSON shape, and its canonical text is accepted as the same value.

#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use serde_json::Value as Json;
use stackwright_stack::decimal::Decimal;
use stackwright_stack::values::{check_value, from_text};
use stackwright_stack::{Column, ColumnType};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let column = common::column(selector);
    if selector & 0x40 != 0 {
        let Ok(pairs) = serde_urlencoded::from_bytes::<Vec<(String, String)>>(rest) else {
            return;
        };
        for (_, raw) in &pairs {
            one(&column, raw);
        }
    } else {
        one(&column, &String::from_utf8_lossy(rest));
    }
});

fn one(column: &Column, raw: &str) {
    let value = match from_text(column, raw) {
        Ok(v) => v,
        Err(why) => {
            common::check_error(column, raw.len(), &why);
            return;
        }
    };
    if let Err(why) = check_value(column, &value) {
        panic!("from_text accepted `{raw}` as {value} but check_value says: {why}");
    }
    if value.is_null() {
        assert!(column.nullable, "null accepted for a non-nullable column");
        assert_eq!(column.ty, ColumnType::Json, "only JSON text can be null");
        return;
    }
    match column.ty {
        ColumnType::Integer => {
            let n = value.as_i64().expect("an integer is an i64");
            assert!(i32::try_from(n).is_ok(), "{n} accepted as a 32-bit integer");
        }
        ColumnType::BigInt => assert!(value.is_i64(), "bigint {value} is not an i64"),
        ColumnType::Float => {
            let f = value.as_f64().expect("a float is a number");
            assert!(f.is_finite(), "{f} accepted as a float");
            // The same number sent in a JSON body is the same float, or an
            // equality filter would miss rows created through the API.
            if let Ok(Json::Number(n)) = serde_json::from_str::<Json>(raw) {
                assert_eq!(n.as_f64(), Some(f), "`{raw}`: body {n} but query {f}");
            }
        }
        ColumnType::Boolean => {
            assert!(value.is_boolean());
            assert!(
                ["true", "false", "1", "0"].contains(&raw),
                "boolean `{raw}`"
            );
        }
        ColumnType::String { .. } | ColumnType::Text | ColumnType::Timestamp => {
            assert_eq!(
                value,
                Json::String(raw.to_string()),
                "text is kept as written"
            );
        }
        ColumnType::Json => {
            let direct: Json = serde_json::from_str(raw).expect("accepted, so JSON");
            assert_eq!(value, direct);
        }
        ColumnType::Date => assert_eq!(value, Json::String(raw.to_string())),
        ColumnType::Uuid => assert_eq!(value, Json::String(raw.to_ascii_lowercase())),
        // Exact: the canonical text is the same number as the text sent,
        // at the column's scale (never rounded).
        ColumnType::Decimal { precision, scale } => {
            let text = value.as_str().expect("a decimal is text");
            let sent = Decimal::parse(raw, precision, scale).expect("accepted, so a decimal");
            assert_eq!(text, sent.to_string(), "`{raw}` kept as {text}");
        }
    }
    // The value's canonical text means the same value.
    let canonical = match &value {
        Json::String(s) if column.ty != ColumnType::Json => s.clone(),
        other => other.to_string(),
    };
    match from_text(column, &canonical) {
        Ok(again) => assert_eq!(
            again, value,
            "`{raw}` -> {value} -> `{canonical}` -> {again}"
        ),
        Err(why) => panic!("`{raw}` accepted as {value}, but its text `{canonical}` is not: {why}"),
    }
}
