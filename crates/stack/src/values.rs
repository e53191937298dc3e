//! Checking JSON values against column definitions: the one place that says
//! what a column accepts, used for defaults in the stack file, seed rows and
//! request bodies alike.

use serde_json::Value as Json;
use time::format_description::well_known::Rfc3339;

use crate::model::{Column, ColumnType};

pub fn json_type_name(v: &Json) -> &'static str {
    match v {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Whether `v` (not null) is a value of type `ty`. The error reads as the
/// end of a sentence: "expected an integer, got a string".
pub fn check_type(ty: ColumnType, v: &Json) -> Result<(), String> {
    let expected = match ty {
        ColumnType::String { max_length } => match v.as_str() {
            Some(s) if s.chars().count() <= max_length as usize => return Ok(()),
            Some(s) => {
                return Err(format!(
                    "is {} characters long; at most {max_length} allowed",
                    s.chars().count()
                ))
            }
            None => "a string",
        },
        ColumnType::Text if v.is_string() => return Ok(()),
        ColumnType::Text => "a string",
        ColumnType::Integer => match v.as_i64() {
            Some(n) if i32::try_from(n).is_ok() => return Ok(()),
            Some(_) => return Err("is out of range for a 32-bit integer".into()),
            None => "an integer",
        },
        ColumnType::BigInt if v.is_i64() => return Ok(()),
        ColumnType::BigInt => "an integer",
        ColumnType::Float if v.is_number() => return Ok(()),
        ColumnType::Float => "a number",
        ColumnType::Boolean if v.is_boolean() => return Ok(()),
        ColumnType::Boolean => "a boolean",
        ColumnType::Timestamp => match v.as_str() {
            Some(s) if time::OffsetDateTime::parse(s, &Rfc3339).is_ok() => return Ok(()),
            Some(_) => {
                return Err("is not an RFC 3339 timestamp (e.g. 2024-05-01T12:00:00Z)".into())
            }
            None => "an RFC 3339 timestamp string",
        },
        ColumnType::Json => return Ok(()),
    };
    Err(format!("expected {expected}, got {}", json_type_name(v)))
}

/// Whether `v` may be stored in `column`: nullability, type, allowed values.
pub fn check_value(column: &Column, v: &Json) -> Result<(), String> {
    if v.is_null() {
        return if column.nullable {
            Ok(())
        } else {
            Err("must not be null".into())
        };
    }
    check_type(column.ty, v)?;
    if let Some(allowed) = &column.allowed {
        if !allowed.contains(v) {
            let list: Vec<String> = allowed.iter().map(Json::to_string).collect();
            return Err(format!("must be one of {}", list.join(", ")));
        }
    }
    Ok(())
}

pub fn toml_to_json(v: &toml::Value) -> Json {
    match v {
        toml::Value::String(s) => Json::String(s.clone()),
        toml::Value::Integer(i) => Json::from(*i),
        toml::Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        toml::Value::Boolean(b) => Json::Bool(*b),
        toml::Value::Datetime(d) => Json::String(d.to_string()),
        toml::Value::Array(a) => Json::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => Json::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn integer_range_and_types() {
        assert!(check_type(ColumnType::Integer, &json!(5)).is_ok());
        assert!(check_type(ColumnType::Integer, &json!(5_000_000_000i64)).is_err());
        assert!(check_type(ColumnType::BigInt, &json!(5_000_000_000i64)).is_ok());
        assert_eq!(
            check_type(ColumnType::Integer, &json!("5")).unwrap_err(),
            "expected an integer, got a string"
        );
        assert!(check_type(ColumnType::Float, &json!(1)).is_ok());
    }

    #[test]
    fn string_length_counts_characters() {
        let ty = ColumnType::String { max_length: 3 };
        assert!(check_type(ty, &json!("héé")).is_ok());
        assert!(check_type(ty, &json!("abcd")).is_err());
    }

    #[test]
    fn timestamps_must_be_rfc3339() {
        assert!(check_type(ColumnType::Timestamp, &json!("2024-05-01T12:00:00Z")).is_ok());
        assert!(check_type(ColumnType::Timestamp, &json!("yesterday")).is_err());
    }
}
