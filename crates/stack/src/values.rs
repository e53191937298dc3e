//! Checking JSON values against column definitions: the one place that says
//! what a column accepts, used for defaults in the stack file, seed rows and
//! request bodies alike.

use serde_json::Value as Json;
use time::format_description::well_known::Rfc3339;

use crate::decimal::Decimal;
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
            None if integral_beyond_i64(v) => {
                return Err("is out of range for a 32-bit integer".into())
            }
            None => "an integer",
        },
        ColumnType::BigInt if v.is_i64() => return Ok(()),
        ColumnType::BigInt if v.is_u64() => {
            return Err("is out of range for a 64-bit integer".into())
        }
        ColumnType::BigInt if integral_beyond_i64(v) => {
            return Err(format!(
                "is out of range for a 64-bit integer, or not exact as written ({PAST_2_53})"
            ))
        }
        ColumnType::BigInt => "an integer",
        ColumnType::Float => match v {
            Json::Number(n) if n.is_f64() => return Ok(()),
            // An integer literal is kept only if a 64-bit float holds it exactly.
            Json::Number(n) => {
                let exact = match (n.as_i64(), n.as_u64()) {
                    (Some(i), _) => (i as f64) as i128 == i128::from(i),
                    (None, Some(u)) => (u as f64) as i128 == i128::from(u),
                    _ => false,
                };
                if exact && (n.as_f64().is_some_and(f64::is_finite)) {
                    return Ok(());
                }
                return Err("is not exactly representable as a 64-bit float".into());
            }
            _ => "a number",
        },
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
        ColumnType::Decimal { precision, scale } => {
            return decimal_of(v, precision, scale).map(|_| ())
        }
        ColumnType::Date => match v.as_str() {
            Some(s) if date_of(s).is_some() => return Ok(()),
            Some(_) => return Err("is not a date (YYYY-MM-DD, years 0001 to 9999)".into()),
            None => "a date string (YYYY-MM-DD)",
        },
        ColumnType::Uuid => match v.as_str() {
            Some(s) if is_uuid(s) => return Ok(()),
            Some(_) => {
                return Err("is not a UUID (8-4-4-4-12 hexadecimal digits with hyphens)".into())
            }
            None => "a UUID string",
        },
    };
    Err(format!("expected {expected}, got {}", json_type_name(v)))
}

/// A decimal column's value: a string, or an integer (exact in JSON). A
/// JSON number with a fraction is refused: it has been a float on the way.
pub fn decimal_of(v: &Json, precision: u8, scale: u8) -> Result<Decimal, String> {
    match v {
        Json::String(s) => Decimal::parse(s, precision, scale),
        Json::Number(n) if n.is_i64() || n.is_u64() => {
            Decimal::parse(&n.to_string(), precision, scale)
        }
        // `5.0` is a whole number in JSON Schema, as for integer columns;
        // below 2^53 the float holds it exactly.
        Json::Number(n)
            if n
                .as_f64()
                .is_some_and(|f| f.fract() == 0.0 && f.abs() < EXACT_FLOAT_INTEGERS) =>
        {
            let whole = n.as_f64().expect("checked") as i64;
            Decimal::parse(&whole.to_string(), precision, scale)
        }
        Json::Number(_) => Err(
            "is a JSON number with a fraction: write a decimal as a string (\"12.30\") so that no float rounds it".into(),
        ),
        other => Err(format!(
            "expected a decimal string (\"12.30\"), got {}",
            json_type_name(other)
        )),
    }
}

/// `YYYY-MM-DD`, exactly ten characters, in years 1 to 9999 (what every
/// engine's DATE holds).
pub fn date_of(s: &str) -> Option<time::Date> {
    let b = s.as_bytes();
    let shaped = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shaped || s.starts_with("0000") {
        return None;
    }
    let number = |range: std::ops::Range<usize>| s[range].parse::<u16>().ok();
    let month = time::Month::try_from(u8::try_from(number(5..7)?).ok()?).ok()?;
    let day = u8::try_from(number(8..10)?).ok()?;
    time::Date::from_calendar_date(i32::from(number(0..4)?), month, day).ok()
}

/// A UUID's one form: lowercase 8-4-4-4-12, from either case.
pub fn canonical_uuid(s: &str) -> Option<String> {
    is_uuid(s).then(|| s.to_ascii_lowercase())
}

/// The 8-4-4-4-12 form, in either case.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}

/// The time of a write, as a stamped column holds it: RFC 3339 in UTC, to
/// the microsecond (what PostgreSQL and MySQL keep), so the value a write
/// answers is the value every engine reads back.
pub fn now() -> Json {
    let t = time::OffsetDateTime::now_utc();
    let t = t
        .replace_nanosecond(t.nanosecond() / 1000 * 1000)
        .unwrap_or(t);
    Json::String(t.format(&Rfc3339).unwrap_or_default())
}

/// The value a new row takes for a column its writer left out: the time
/// of the write (`time`, read once for the whole row, and only when a
/// column is stamped) for a stamped column, else the column's default.
pub fn absent_value(column: &Column, time: &std::cell::OnceCell<Json>) -> Option<Json> {
    match column.stamp {
        Some(_) => Some(time.get_or_init(now).clone()),
        None => column.default.clone(),
    }
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
    // PostgreSQL's text cannot store NUL: no engine takes it, so a stack
    // (its seeds, defaults, requests and messages) behaves alike on all.
    if has_nul(v) {
        return Err("must not contain the NUL character (\\u0000)".into());
    }
    if let Some(allowed) = &column.allowed {
        if !allowed.iter().any(|a| same_value(column.ty, a, v)) {
            let list: Vec<String> = allowed.iter().map(Json::to_string).collect();
            return Err(format!("must be one of {}", list.join(", ")));
        }
    }
    Ok(())
}

/// NUL in any string or object key of `v`.
fn has_nul(v: &Json) -> bool {
    match v {
        Json::String(s) => s.contains('\0'),
        Json::Array(items) => items.iter().any(has_nul),
        Json::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Beyond 2^53 a float no longer holds every integer: a number that was
/// parsed as a float there may have been rounded (`-9223372036854775809`
/// reads as -2^63), so it is never taken as an integer.
const EXACT_FLOAT_INTEGERS: f64 = 9_007_199_254_740_992.0;
const PAST_2_53: &str = "past 2^53, write an integer without a fraction or an exponent";

/// An integral number that no 64-bit integer holds exactly: an integer
/// literal past `i64` (`9223372036854775808`), or a whole float past 2^53.
fn integral_beyond_i64(v: &Json) -> bool {
    match v {
        Json::Number(n) if n.is_u64() => !n.is_i64(),
        Json::Number(n) => n
            .as_f64()
            .is_some_and(|f| f.fract() == 0.0 && f.abs() >= EXACT_FLOAT_INTEGERS),
        _ => false,
    }
}

/// `v` as `column` stores it: a JSON number with no fractional part (`5.0`)
/// is an integer in JSON Schema, so it becomes one for integer columns, when
/// the float holds it exactly. Anything else is returned as it is, for
/// `check_value` to judge (and refuse: a value is never changed to fit).
pub fn normalize(column: &Column, v: Json) -> Json {
    normalize_type(column.ty, v)
}

/// What [`normalize`] does, by type: besides integral numbers, a decimal
/// becomes its canonical text at the column's scale (`"7"` -> `"7.00"`) and
/// a UUID its lowercase form, so equal values are equal everywhere.
pub fn normalize_type(ty: ColumnType, v: Json) -> Json {
    match (ty, v.as_f64()) {
        (ColumnType::Integer | ColumnType::BigInt, Some(f))
            if !v.is_i64() && !v.is_u64() && f.fract() == 0.0 && f.abs() < EXACT_FLOAT_INTEGERS =>
        {
            Json::from(f as i64)
        }
        (ColumnType::Decimal { precision, scale }, _) => match decimal_of(&v, precision, scale) {
            Ok(d) => Json::String(d.to_string()),
            Err(_) => v,
        },
        (ColumnType::Uuid, _) => match v.as_str().and_then(canonical_uuid) {
            Some(canonical) => Json::String(canonical),
            None => v,
        },
        _ => v,
    }
}

/// Whether two values of a column are the same value: a float column's
/// numbers compare as numbers (`allowed = [1]` written in TOML is the integer
/// 1, a query's `1` is the float 1.0); anything else compares as JSON.
fn same_value(ty: ColumnType, a: &Json, b: &Json) -> bool {
    match (ty, a, b) {
        (ColumnType::Float, Json::Number(x), Json::Number(y)) => x.as_f64() == y.as_f64(),
        (ColumnType::Decimal { .. } | ColumnType::Uuid, _, _) => {
            normalize_type(ty, a.clone()) == normalize_type(ty, b.clone())
        }
        _ => a == b,
    }
}

/// Parse a path or query value (text) for `column` and check it against the
/// column: integers and floats as numbers, `true`/`1`/`false`/`0` as
/// booleans, JSON columns as JSON text, everything else as the string itself.
///
/// The error reads after a "what: " prefix, e.g. "`abc` is not an integer"
/// or "must not be null"; at most 64 characters of `raw` are echoed.
pub fn from_text(column: &Column, raw: &str) -> Result<Json, String> {
    let bad = |expected: &str| format!("`{}` is not {expected}", clip(raw));
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
        ColumnType::String { .. }
        | ColumnType::Text
        | ColumnType::Timestamp
        | ColumnType::Date
        | ColumnType::Uuid
        | ColumnType::Decimal { .. } => Json::String(raw.to_string()),
    };
    let value = normalize(column, value);
    check_value(column, &value)?;
    Ok(value)
}

/// At most 64 characters of client input, for an error message.
pub fn clip(s: &str) -> String {
    if s.chars().count() > 64 {
        format!("{}...", s.chars().take(64).collect::<String>())
    } else {
        s.to_string()
    }
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

    fn column(ty: ColumnType) -> Column {
        Column {
            name: "c".into(),
            ty,
            nullable: false,
            default: None,
            allowed: None,
            generated: false,
            stamp: None,
        }
    }

    #[test]
    fn text_values_parse_by_column_type() {
        assert_eq!(from_text(&column(ColumnType::Integer), "-7"), Ok(json!(-7)));
        assert_eq!(
            from_text(&column(ColumnType::Integer), "abc").unwrap_err(),
            "`abc` is not an integer"
        );
        assert_eq!(
            from_text(&column(ColumnType::Integer), "2147483648").unwrap_err(),
            "is out of range for a 32-bit integer"
        );
        assert_eq!(
            from_text(&column(ColumnType::Float), "NaN").unwrap_err(),
            "`NaN` is not a number"
        );
        assert_eq!(
            from_text(&column(ColumnType::Float), "1e400").unwrap_err(),
            "`1e400` is not a number"
        );
        assert_eq!(
            from_text(&column(ColumnType::Boolean), "1"),
            Ok(json!(true))
        );
        assert_eq!(
            from_text(&column(ColumnType::Boolean), "yes").unwrap_err(),
            "`yes` is not a boolean (true or false)"
        );
        assert_eq!(
            from_text(&column(ColumnType::Json), "null").unwrap_err(),
            "must not be null"
        );
        assert_eq!(
            from_text(&column(ColumnType::Json), "{").unwrap_err(),
            "`{` is not JSON"
        );
        let long = "x".repeat(100);
        assert_eq!(
            from_text(&column(ColumnType::Integer), &long).unwrap_err(),
            format!("`{}...` is not an integer", "x".repeat(64))
        );
    }

    /// Found by the injection corpus: PostgreSQL cannot store NUL, so no
    /// engine takes it, in strings or in a JSON value's keys.
    #[test]
    fn nul_is_refused_in_any_string() {
        let text = column(ColumnType::Text);
        assert!(check_value(&text, &json!("a\0b"))
            .unwrap_err()
            .contains("NUL"));
        assert!(check_value(&text, &json!("a b")).is_ok());
        let doc = column(ColumnType::Json);
        assert!(check_value(&doc, &json!({ "k\0": 1 })).is_err());
        assert!(check_value(&doc, &json!([["\0"]])).is_err());
        assert!(from_text(&text, "x\0y").is_err());
    }

    /// Found by fuzzing (request_value): serde_json's default float parser
    /// is off by one unit in the last place on some inputs, so a number in a
    /// JSON body and the same number in a query filter were different floats
    /// (and a JSON column's value did not survive a write/read round trip).
    #[test]
    fn body_and_query_numbers_are_the_same_float() {
        let raw = "922337203685544775808";
        let query = from_text(&column(ColumnType::Float), raw).unwrap();
        let body: Json = serde_json::from_str(raw).unwrap();
        assert_eq!(query.as_f64(), body.as_f64());
        let stored = from_text(&column(ColumnType::Json), raw).unwrap();
        let read_back = from_text(&column(ColumnType::Json), &stored.to_string()).unwrap();
        assert_eq!(read_back, stored);
    }

    /// Found by fuzzing (json_body): a float column with `allowed = [1, 2.0]`
    /// accepted 1 in a body but rejected `?x=1` (parsed as 1.0), and rejected
    /// 2 in a body; numbers now compare as numbers.
    #[test]
    fn float_allowed_values_compare_as_numbers() {
        let float = Column {
            allowed: Some(vec![json!(1), json!(2.0)]),
            ..column(ColumnType::Float)
        };
        assert_eq!(from_text(&float, "1"), Ok(json!(1.0)));
        assert_eq!(from_text(&float, "2"), Ok(json!(2.0)));
        assert!(check_value(&float, &json!(1)).is_ok());
        assert!(check_value(&float, &json!(2)).is_ok());
        assert!(check_value(&float, &json!(1.0)).is_ok());
        assert_eq!(
            check_value(&float, &json!(3)).unwrap_err(),
            "must be one of 1, 2.0"
        );
        // Other types still compare exactly.
        let json_col = Column {
            allowed: Some(vec![json!(1)]),
            ..column(ColumnType::Json)
        };
        assert!(check_value(&json_col, &json!(1.0)).is_err());
    }

    /// Found by schemathesis: a number past a column's range was stored as
    /// the limit (`-9223372036854775809` as `-9223372036854775808`), and
    /// `9223372036854775808` read "expected an integer, got an integer".
    /// Both sides of every limit, as serde_json reads the body's text.
    #[test]
    fn numbers_past_a_limit_are_refused_never_changed() {
        let int = column(ColumnType::Integer);
        let big = column(ColumnType::BigInt);
        let float = column(ColumnType::Float);
        let check = |c: &Column, text: &str| {
            let v: Json = serde_json::from_str(text).unwrap();
            check_value(c, &normalize(c, v.clone())).map(|()| normalize(c, v))
        };
        assert_eq!(check(&int, "2147483647"), Ok(json!(2_147_483_647)));
        assert_eq!(check(&int, "-2147483648"), Ok(json!(-2_147_483_648i64)));
        for past in [
            "2147483648",
            "-2147483649",
            "9223372036854775808",
            "-9223372036854775809",
        ] {
            assert_eq!(
                check(&int, past),
                Err("is out of range for a 32-bit integer".into()),
                "{past}"
            );
        }
        assert_eq!(check(&big, "9223372036854775807"), Ok(json!(i64::MAX)));
        assert_eq!(check(&big, "-9223372036854775808"), Ok(json!(i64::MIN)));
        assert_eq!(
            check(&big, "9223372036854775808"),
            Err("is out of range for a 64-bit integer".into())
        );
        // Read as floats: the text is gone, so the message covers both causes.
        for past in [
            "-9223372036854775809",
            "18446744073709551616",
            "1e19",
            "-9223372036854775808.0",
            "9007199254740993.0",
        ] {
            assert_eq!(
                check(&big, past),
                Err(format!(
                    "is out of range for a 64-bit integer, or not exact as written ({PAST_2_53})"
                )),
                "{past}"
            );
        }
        assert_eq!(
            check(&big, "9007199254740991.0"),
            Ok(json!(9_007_199_254_740_991i64))
        );
        assert_eq!(
            check(&float, "9007199254740992"),
            Ok(json!(9_007_199_254_740_992i64))
        );
        assert_eq!(
            check(&float, "9007199254740993"),
            Err("is not exactly representable as a 64-bit float".into())
        );
        assert_eq!(check(&float, "0.1"), Ok(json!(0.1)));
    }

    /// Found by schemathesis: JSON Schema counts `935.0` as an integer, so
    /// a body may send it for an integer column; it is stored as 935.
    #[test]
    fn integral_numbers_are_integers_for_integer_columns() {
        let int = column(ColumnType::Integer);
        assert_eq!(normalize(&int, json!(935.0)), json!(935));
        assert_eq!(normalize(&int, json!(-2.0)), json!(-2));
        assert!(check_value(&int, &normalize(&int, json!(935.0))).is_ok());
        assert_eq!(
            normalize(&int, json!(1.5)),
            json!(1.5),
            "left to check_value"
        );
        assert!(check_value(&int, &normalize(&int, json!(1.5))).is_err());
        assert_eq!(normalize(&int, json!(1e300)), json!(1e300), "out of range");
        let big = column(ColumnType::BigInt);
        assert_eq!(normalize(&big, json!(5e9)), json!(5_000_000_000i64));
        let float = column(ColumnType::Float);
        assert_eq!(normalize(&float, json!(2.0)), json!(2.0), "floats stay");
        assert_eq!(
            normalize(&big, json!(9.0e15)),
            json!(9_000_000_000_000_000i64)
        );
        assert_eq!(
            normalize(&big, json!(1e16)),
            json!(1e16),
            "past 2^53: not exact"
        );
        assert_eq!(normalize(&int, json!("7")), json!("7"), "strings stay");
    }
}
