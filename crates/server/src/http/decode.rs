//! Request values -> typed values, checked against their column.
//!
//! Path and query values arrive as text and are parsed by column type; body
//! values arrive as JSON and are checked as they are. Either way the result
//! is a JSON value the engine binds as a parameter, never SQL text.

use serde_json::Value as Json;
pub use stackwright_stack::values::clip;
use stackwright_stack::values::{check_value, from_text, normalize};
use stackwright_stack::Column;

use crate::error::ApiError;

/// Parse a path or query value for `column`; `what` names it in errors.
pub fn text_value(column: &Column, raw: &str, what: &str) -> Result<Json, ApiError> {
    from_text(column, raw).map_err(|why| ApiError::BadRequest(format!("{what}: {why}")))
}

/// Check a body value for `column`.
pub fn body_value(column: &Column, value: Json, field: &str) -> Result<Json, ApiError> {
    let value = normalize(column, value);
    check_value(column, &value)
        .map_err(|why| ApiError::BadRequest(format!("field `{field}`: {why}")))?;
    Ok(value)
}
