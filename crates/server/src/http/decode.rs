//! Request values -> typed values, checked against their column.
//!
//! Path and query values arrive as text and are parsed by column type; body
//! values arrive as JSON and are checked as they are. Either way the result
//! is a JSON value the engine binds as a parameter, never SQL text.

use serde_json::Value as Json;
use stackwright_stack::values::check_value;
use stackwright_stack::{Column, ColumnType};

use crate::error::ApiError;

/// Parse a path or query value for `column`; `what` names it in errors.
pub fn text_value(column: &Column, raw: &str, what: &str) -> Result<Json, ApiError> {
    let bad =
        |expected: &str| ApiError::BadRequest(format!("{what}: `{}` is not {expected}", clip(raw)));
    let value = match column.ty {
        ColumnType::Integer | ColumnType::BigInt => {
            let n: i64 = raw.parse().map_err(|_| bad("an integer"))?;
            Json::from(n)
        }
        ColumnType::Float => raw
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Json::Number)
            .ok_or_else(|| bad("a number"))?,
        ColumnType::Boolean => match raw {
            "true" | "1" => Json::Bool(true),
            "false" | "0" => Json::Bool(false),
            _ => return Err(bad("a boolean (true or false)")),
        },
        ColumnType::Json => serde_json::from_str(raw).map_err(|_| bad("JSON"))?,
        ColumnType::String { .. } | ColumnType::Text | ColumnType::Timestamp => {
            Json::String(raw.to_string())
        }
    };
    check_value(column, &value).map_err(|why| ApiError::BadRequest(format!("{what}: {why}")))?;
    Ok(value)
}

/// Check a body value for `column`.
pub fn body_value(column: &Column, value: Json, field: &str) -> Result<Json, ApiError> {
    check_value(column, &value)
        .map_err(|why| ApiError::BadRequest(format!("field `{field}`: {why}")))?;
    Ok(value)
}

/// Echo at most 64 characters of client input in an error message.
pub fn clip(s: &str) -> String {
    if s.chars().count() > 64 {
        format!("{}...", s.chars().take(64).collect::<String>())
    } else {
        s.to_string()
    }
}
