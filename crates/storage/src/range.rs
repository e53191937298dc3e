//! A list's bounds (`?due.gte=V`, `?title.prefix=V`) as SQL, the same on
//! every SQL engine; DynamoDB's key conditions are in `dynamodb/list.rs`.
//!
//! Text is compared as bytes everywhere (PostgreSQL's columns are
//! `COLLATE "C"`, MySQL's `utf8mb4_bin`, SQLite's `BINARY`, DynamoDB's
//! strings), so "starts with P" is the range from P up to the least text
//! after every text starting with P: one range an index seeks, where `LIKE`
//! would read case and patterns differently on each engine.

use serde_json::Value as Json;
use stackwright_stack::{ColumnType, RangeOp, Table};

use crate::condition::Constant;
use crate::engine::{Bound, Result, StorageError};
use crate::paging::Piece;

/// The least text after every text that starts with `prefix`, in byte
/// (code point) order; `None` when no text is (an empty prefix, or one of
/// only U+10FFFF).
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        // The next scalar value: surrogates are not characters.
        let next = match last as u32 + 1 {
            0xD800 => Some('\u{E000}'),
            n => char::from_u32(n),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// The bounds as SQL pieces joined by `AND`, and the values they bind (by
/// index), each with its column's type. `exact_text` adds a byte-exact
/// comparison to each bound on text, for MySQL, whose collations pad with
/// spaces (`'ab ' = 'ab'`).
pub fn sql(
    table: &Table,
    bounds: &[Bound<'_>],
    exact_text: bool,
    quote: impl Fn(&str) -> String,
) -> Result<(Vec<Piece>, Vec<Constant>)> {
    let mut pieces = Vec::new();
    let mut values: Vec<Constant> = Vec::new();
    for bound in bounds {
        let ty = table
            .columns
            .get(bound.column)
            .map(|c| c.ty)
            .ok_or_else(|| StorageError::Internal(format!("no column {}", bound.column)))?;
        let c = quote(bound.column);
        let mut value = |v: Json| {
            values.push((ty, v));
            Piece::Value(values.len() - 1)
        };
        if !pieces.is_empty() {
            pieces.push(Piece::Text(" AND ".into()));
        }
        let op = match bound.op {
            RangeOp::Gt => ">",
            RangeOp::Gte => ">=",
            RangeOp::Lt => "<",
            RangeOp::Lte => "<=",
            RangeOp::Prefix => {
                let prefix = bound.value.as_str().ok_or_else(|| {
                    StorageError::Internal(format!("prefix {} is not text", bound.value))
                })?;
                pieces.extend([Piece::Text(format!("{c} >= ")), value(prefix.into())]);
                if let Some(end) = prefix_end(prefix) {
                    pieces.extend([Piece::Text(format!(" AND {c} < ")), value(end.into())]);
                }
                if exact_text && !prefix.is_empty() {
                    let n = prefix.chars().count();
                    pieces.extend([
                        Piece::Text(format!(" AND LEFT({c}, {n}) = CAST(")),
                        value(prefix.into()),
                        Piece::Text(" AS BINARY)".into()),
                    ]);
                }
                continue;
            }
        };
        if exact_text && matches!(ty, ColumnType::String { .. } | ColumnType::Text) {
            // The collation's comparison, never strict, keeps the index in
            // use; the bytes decide.
            let loose = if matches!(bound.op, RangeOp::Gt | RangeOp::Gte) {
                ">="
            } else {
                "<="
            };
            pieces.extend([
                Piece::Text(format!("{c} {loose} ")),
                value(bound.value.clone()),
                Piece::Text(format!(" AND {c} {op} CAST(")),
                value(bound.value.clone()),
                Piece::Text(" AS BINARY)".into()),
            ]);
            continue;
        }
        pieces.extend([
            Piece::Text(format!("{c} {op} ")),
            value(bound.value.clone()),
        ]);
    }
    Ok((pieces, values))
}

/// Whether `value` meets the bound, compared as the engines compare:
/// numbers by value, text by bytes, timestamps by instant; NULL meets none.
pub fn holds(ty: ColumnType, op: RangeOp, value: &Json, bound: &Json) -> bool {
    if value.is_null() {
        return false;
    }
    if op == RangeOp::Prefix {
        return matches!((value, bound), (Json::String(v), Json::String(p)) if v.starts_with(p.as_str()));
    }
    let Some(order) = compare(ty, value, bound) else {
        return false;
    };
    match op {
        RangeOp::Gt => order.is_gt(),
        RangeOp::Gte => order.is_ge(),
        RangeOp::Lt => order.is_lt(),
        RangeOp::Lte => order.is_le(),
        RangeOp::Prefix => unreachable!("handled above"),
    }
}

/// Two values of a column in the engines' order.
pub fn compare(ty: ColumnType, a: &Json, b: &Json) -> Option<std::cmp::Ordering> {
    use time::format_description::well_known::Rfc3339;
    match ty {
        ColumnType::Integer | ColumnType::BigInt => Some(a.as_i64()?.cmp(&b.as_i64()?)),
        ColumnType::Float => a.as_f64()?.partial_cmp(&b.as_f64()?),
        ColumnType::Timestamp => {
            let t = |v: &Json| time::OffsetDateTime::parse(v.as_str()?, &Rfc3339).ok();
            Some(t(a)?.cmp(&t(b)?))
        }
        ColumnType::Decimal { precision, scale } => {
            let d = |v: &Json| stackwright_stack::values::decimal_of(v, precision, scale).ok();
            Some(d(a)?.cmp(&d(b)?))
        }
        _ => Some(a.as_str()?.as_bytes().cmp(b.as_str()?.as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_prefix_ends_where_no_text_starts_with_it() {
        assert_eq!(prefix_end("ab").as_deref(), Some("ac"));
        assert_eq!(prefix_end("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_end("\u{D7FF}").as_deref(), Some("\u{E000}"));
        assert_eq!(prefix_end("\u{10FFFF}"), None);
        assert_eq!(prefix_end(""), None);
        for text in ["ab", "ab\u{10FFFF}\u{10FFFF}", "abzzz", "ab\u{0}"] {
            assert!(text >= "ab" && text < prefix_end("ab").unwrap().as_str());
        }
        for text in ["ac", "b", "aa\u{10FFFF}", "a"] {
            assert!(!(text >= "ab" && text < prefix_end("ab").unwrap().as_str()));
        }
    }

    #[test]
    fn bounds_become_one_condition_each() {
        let table = crate::paging::tests::table();
        let bounds = [
            Bound {
                column: "name",
                op: RangeOp::Prefix,
                value: json!("ab"),
            },
            Bound {
                column: "id",
                op: RangeOp::Gt,
                value: json!("k"),
            },
        ];
        let render = |exact| {
            let (pieces, values) = sql(&table, &bounds, exact, |c| format!("`{c}`")).unwrap();
            let text: String = pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.clone(),
                    Piece::Value(i) => format!("[{}]", values[*i].1),
                })
                .collect();
            text
        };
        assert_eq!(
            render(false),
            r#"`name` >= ["ab"] AND `name` < ["ac"] AND `id` > ["k"]"#
        );
        assert_eq!(
            render(true),
            r#"`name` >= ["ab"] AND `name` < ["ac"] AND LEFT(`name`, 2) = CAST(["ab"] AS BINARY) AND `id` >= ["k"] AND `id` > CAST(["k"] AS BINARY)"#
        );
    }

    #[test]
    fn values_compare_as_the_engines_compare() {
        let ts = ColumnType::Timestamp;
        assert!(holds(
            ts,
            RangeOp::Gt,
            &json!("2026-01-01T00:00:00.5Z"),
            &json!("2026-01-01T00:00:00Z")
        ));
        assert!(holds(
            ColumnType::BigInt,
            RangeOp::Lte,
            &json!(-3),
            &json!(-3)
        ));
        assert!(!holds(
            ColumnType::Text,
            RangeOp::Lt,
            &json!("b"),
            &json!("B")
        ));
        assert!(!holds(
            ColumnType::Text,
            RangeOp::Gte,
            &Json::Null,
            &json!("")
        ));
        assert!(holds(
            ColumnType::Text,
            RangeOp::Prefix,
            &json!("über"),
            &json!("üb")
        ));
    }
}
