#![allow(dead_code)]

//! Columns for the request targets: every column type, nullable or not, with
//! or without `allowed` values, as a valid stack file could declare them.

use serde_json::{json, Value as Json};
use stackwright_stack::values::check_type;
use stackwright_stack::{Column, ColumnType};

/// Every type, with a few string length limits (1, 5, 36, 255, 65535) and
/// decimal shapes (a money-like scale, and the widest whole number).
pub fn types() -> Vec<ColumnType> {
    let mut all: Vec<ColumnType> = [1, 5, 36, 255, 65_535]
        .into_iter()
        .map(|max_length| ColumnType::String { max_length })
        .collect();
    let others = ColumnType::ONE_OF_EACH.into_iter();
    all.extend(
        others.filter(|t| !matches!(t, ColumnType::String { .. } | ColumnType::Decimal { .. })),
    );
    all.extend([
        ColumnType::Decimal {
            precision: 6,
            scale: 2,
        },
        ColumnType::Decimal {
            precision: 18,
            scale: 0,
        },
    ]);
    all
}

/// `allowed` values as the validator would keep them: TOML values (so an
/// integer stays an integer even for a float column) that pass `check_type`.
pub fn allowed_for(ty: ColumnType) -> Vec<Json> {
    let candidates = [
        json!("a"),
        json!("open"),
        json!("é"),
        json!("2024-05-01T12:00:00Z"),
        json!("2024-05-01"),
        json!("12.50"),
        json!("123e4567-e89b-12d3-a456-426614174000"),
        json!(0),
        json!(1),
        json!(-3),
        json!(2_147_483_647),
        json!(5_000_000_000i64),
        json!(0.5),
        json!(2.0),
        json!(-1e300),
        json!(true),
        json!(false),
        json!({"a": 1}),
        json!([1, "x"]),
    ];
    candidates
        .into_iter()
        .filter(|v| check_type(ty, v).is_ok())
        .collect()
}

/// The column picked by `selector`: type from the low bits, then
/// nullable and allowed flags.
pub fn column(selector: u8) -> Column {
    let types = types();
    let ty = types[(selector & 0x0f) as usize % types.len()];
    let nullable = selector & 0x10 != 0;
    let allowed = (selector & 0x20 != 0).then(|| allowed_for(ty));
    Column {
        name: "c".into(),
        ty,
        nullable,
        default: None,
        allowed,
        generated: false,
        stamp: None,
    }
}

/// Every column `column` can pick.
pub fn all_columns() -> Vec<Column> {
    let mut out = Vec::new();
    for ty in types() {
        for nullable in [false, true] {
            for allowed in [false, true] {
                out.push(Column {
                    name: "c".into(),
                    ty,
                    nullable,
                    default: None,
                    allowed: allowed.then(|| allowed_for(ty)),
                    generated: false,
                    stamp: None,
                });
            }
        }
    }
    out
}

/// An error echoes at most 64 characters of client input: its length must
/// not grow with the input.
pub fn check_error(column: &Column, raw_len: usize, why: &str) {
    assert!(!why.is_empty(), "empty error for {:?}", column.ty);
    let allowed_len: usize = column
        .allowed
        .iter()
        .flatten()
        .map(|v| v.to_string().len() + 2)
        .sum();
    assert!(
        why.len() <= 64 * 4 + 3 + 120 + allowed_len,
        "error of {} bytes for input of {raw_len} bytes: {why}",
        why.len()
    );
}
