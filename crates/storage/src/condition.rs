//! A route's `where` as SQL: `col OP ?` or `col OP other_col`, joined by
//! AND, to add to the UPDATE or DELETE that writes the row, so the check and
//! the write are one statement. A comparison with a NULL is unknown in SQL,
//! so it never holds (DynamoDB is told the same in `dynamodb`).

use serde_json::Value as Json;
use stackwright_stack::{ColumnType, CompareOp, Comparison, Operand, Table};

use crate::engine::{Result, StorageError};
use crate::paging::Piece;

/// A constant to bind, with its column's type.
pub type Constant = (ColumnType, Json);

/// The condition's SQL and the constants it binds (each with its column's
/// type), in the order of their [`Piece::Value`] indexes.
pub fn sql(
    table: &Table,
    condition: &[Comparison],
    quote: impl Fn(&str) -> String,
) -> Result<(Vec<Piece>, Vec<Constant>)> {
    let mut pieces = Vec::new();
    let mut values = Vec::new();
    for (i, c) in condition.iter().enumerate() {
        let ty = table
            .columns
            .get(&c.column)
            .map(|c| c.ty)
            .ok_or_else(|| StorageError::Internal(format!("unknown column {}", c.column)))?;
        let and = if i == 0 { "" } else { " AND " };
        pieces.push(Piece::Text(format!(
            "{and}{} {} ",
            quote(&c.column),
            c.op.symbol()
        )));
        match &c.value {
            Operand::Value(Json::Array(list)) if c.op == CompareOp::In => {
                pieces.push(Piece::Text("(".into()));
                for (j, v) in list.iter().enumerate() {
                    if j > 0 {
                        pieces.push(Piece::Text(", ".into()));
                    }
                    pieces.push(Piece::Value(values.len()));
                    values.push((ty, v.clone()));
                }
                pieces.push(Piece::Text(")".into()));
            }
            Operand::Column(other) => pieces.push(Piece::Text(quote(other))),
            Operand::Value(v) => {
                pieces.push(Piece::Value(values.len()));
                values.push((ty, v.clone()));
            }
            Operand::User(_) | Operand::Input(_) => {
                return Err(StorageError::Internal(
                    "a request value reaches the database unresolved".into(),
                ))
            }
        }
    }
    Ok((pieces, values))
}
