//! Keyset pages: a page ends at a *position*, the last row's values of the
//! columns the list is ordered by (the key always last), and the next page
//! starts strictly after it. A deep page therefore costs what the first one
//! costs: the database seeks to the position in the order's index instead of
//! counting rows up to an offset.
//!
//! Positions travel to clients sealed (see the server's cursors), so the
//! values here are ours; they are still checked against the table, whose
//! columns may have changed type between two pages.

use serde_json::Value as Json;
use stackwright_stack::{Order, Table};

use crate::engine::{Result, Row, StorageError};

/// The position a row stands at: its values of `columns`.
pub fn position_of<'c>(row: &Row, columns: impl IntoIterator<Item = &'c str>) -> Row {
    columns
        .into_iter()
        .map(|c| (c.to_string(), row.get(c).cloned().unwrap_or(Json::Null)))
        .collect()
}

/// The values of a position for each of `columns`, each fitting its column
/// now; anything else is a cursor this table can no longer follow.
pub fn values_at<'c>(
    table: &Table,
    columns: impl IntoIterator<Item = &'c str>,
    position: &Row,
) -> Result<Vec<Json>> {
    let mut out = Vec::new();
    for column in columns {
        let value = position.get(column).ok_or(StorageError::BadCursor)?;
        let fits = match table.columns.get(column) {
            Some(c) if value.is_null() => c.nullable,
            Some(c) => stackwright_stack::values::check_type(c.ty, value).is_ok(),
            None => false,
        };
        if !fits {
            return Err(StorageError::BadCursor);
        }
        out.push(value.clone());
    }
    if out.len() != position.len() {
        return Err(StorageError::BadCursor);
    }
    Ok(out)
}

/// A piece of the SQL condition "after the position": text, or the
/// position's value for the order column at an index, to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    Text(String),
    Value(usize),
}

/// How a dialect is best told "after": row values where its planner seeks an
/// index with them (PostgreSQL, SQLite); otherwise column by column, led by
/// a bound on the first column so the planner still starts at the position
/// (MariaDB walks an index from its start for row values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    RowValues,
    Expanded,
}

/// The condition that holds for the rows strictly after `after` (one value
/// per order column) in `order_by`, where NULL sorts as the smallest value
/// (first ascending, last descending: every engine's order is made so).
pub fn after_condition(
    table: &Table,
    order_by: &[Order],
    after: &[Json],
    style: Style,
    quote: impl Fn(&str) -> String,
) -> Vec<Piece> {
    let nullable = |c: &str| table.columns.get(c).is_none_or(|c| c.nullable);
    let same_direction = order_by
        .windows(2)
        .all(|w| w[0].descending == w[1].descending);
    let descending = order_by.first().is_some_and(|o| o.descending);
    let no_nulls = after.iter().all(|v| !v.is_null())
        // Descending, a NULL row comes after every value: a row comparison would drop it.
        && (!descending || order_by.iter().all(|o| !nullable(&o.column)));
    if style == Style::RowValues && same_direction && no_nulls {
        let columns: Vec<String> = order_by.iter().map(|o| quote(&o.column)).collect();
        let mut out = vec![Piece::Text(format!(
            "({}) {} (",
            columns.join(", "),
            if descending { "<" } else { ">" }
        ))];
        for i in 0..order_by.len() {
            if i > 0 {
                out.push(Piece::Text(", ".into()));
            }
            out.push(Piece::Value(i));
        }
        out.push(Piece::Text(")".into()));
        return out;
    }
    let mut out = Vec::new();
    if let (Some(first), Some(v)) = (order_by.first(), after.first()) {
        // A bound on the first column alone: a range the index can seek to.
        let c = quote(&first.column);
        match (first.descending, v.is_null()) {
            (false, false) => out.push(Piece::Text(format!("{c} >= "))),
            (true, false) if !nullable(&first.column) => out.push(Piece::Text(format!("{c} <= "))),
            _ => {}
        }
        if !out.is_empty() {
            out.push(Piece::Value(0));
            out.push(Piece::Text(" AND ".into()));
        }
    }
    out.extend(strictly_after(order_by, after, 0, &nullable, &quote));
    out
}

/// Rows after the position from order column `i` on, the earlier ones equal.
fn strictly_after(
    order_by: &[Order],
    after: &[Json],
    i: usize,
    nullable: &dyn Fn(&str) -> bool,
    quote: &dyn Fn(&str) -> String,
) -> Vec<Piece> {
    let text = |s: String| Piece::Text(s);
    let (o, v) = (&order_by[i], &after[i]);
    let c = quote(&o.column);
    let last = i + 1 == order_by.len();
    let rest = || strictly_after(order_by, after, i + 1, nullable, quote);
    // Equal here, after the position in the columns that follow.
    let tie = |out: &mut Vec<Piece>| {
        if !last {
            out.extend([
                text(format!(" OR ({c} = ")),
                Piece::Value(i),
                text(" AND ".into()),
            ]);
            out.extend(rest());
            out.push(text(")".into()));
        }
    };
    let mut out = vec![text("(".into())];
    match (o.descending, v.is_null()) {
        (false, false) => {
            out.extend([text(format!("{c} > ")), Piece::Value(i)]);
            tie(&mut out);
        }
        (false, true) => {
            out.push(text(format!("{c} IS NOT NULL")));
            if !last {
                out.push(text(format!(" OR ({c} IS NULL AND ")));
                out.extend(rest());
                out.push(text(")".into()));
            }
        }
        (true, false) => {
            out.extend([text(format!("{c} < ")), Piece::Value(i)]);
            if nullable(&o.column) {
                out.push(text(format!(" OR {c} IS NULL")));
            }
            tie(&mut out);
        }
        (true, true) => {
            if last {
                out.push(text("1 = 0".into()));
            } else {
                out.push(text(format!("{c} IS NULL AND ")));
                out.extend(rest());
            }
        }
    }
    out.push(text(")".into()));
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use stackwright_stack::{Column, ColumnType};

    /// `t`: key `id` (text), a nullable `name`.
    pub(crate) fn table() -> Table {
        let column = |name: &str, nullable| Column {
            name: name.into(),
            ty: ColumnType::Text,
            nullable,
            default: None,
            allowed: None,
            generated: false,
            stamp: None,
        };
        Table {
            name: "t".into(),
            key: "id".into(),
            columns: [("id", false), ("name", true)]
                .into_iter()
                .map(|(n, nullable)| (n.to_string(), column(n, nullable)))
                .collect(),
            indexes: Default::default(),
            seed: None,
        }
    }

    fn render(pieces: &[Piece]) -> String {
        pieces
            .iter()
            .map(|p| match p {
                Piece::Text(t) => t.clone(),
                Piece::Value(i) => format!("${i}"),
            })
            .collect()
    }

    fn order(spec: &[(&str, bool)]) -> Vec<Order> {
        spec.iter()
            .map(|(c, d)| Order {
                column: c.to_string(),
                descending: *d,
            })
            .collect()
    }

    #[test]
    fn row_values_where_the_order_allows_them() {
        let o = order(&[("name", false), ("id", false)]);
        let after = [Json::from("b"), Json::from("k")];
        let sql = render(&after_condition(
            &table(),
            &o,
            &after,
            Style::RowValues,
            |c| c.to_string(),
        ));
        assert_eq!(sql, "(name, id) > ($0, $1)");
    }

    #[test]
    fn expanded_conditions_lead_with_a_seekable_bound_and_place_nulls_first() {
        let o = order(&[("name", false), ("id", false)]);
        let after = [Json::from("b"), Json::from("k")];
        let q = |c: &str| c.to_string();
        assert_eq!(
            render(&after_condition(&table(), &o, &after, Style::Expanded, q)),
            "name >= $0 AND (name > $0 OR (name = $0 AND (id > $1)))"
        );
        let after = [Json::Null, Json::from("k")];
        assert_eq!(
            render(&after_condition(&table(), &o, &after, Style::RowValues, q)),
            "(name IS NOT NULL OR (name IS NULL AND (id > $1)))"
        );
        let o = order(&[("name", true), ("id", false)]);
        let after = [Json::from("b"), Json::from("k")];
        assert_eq!(
            render(&after_condition(&table(), &o, &after, Style::RowValues, q)),
            "(name < $0 OR name IS NULL OR (name = $0 AND (id > $1)))"
        );
        let after = [Json::Null, Json::from("k")];
        assert_eq!(
            render(&after_condition(&table(), &o, &after, Style::Expanded, q)),
            "(name IS NULL AND (id > $1))"
        );
    }

    #[test]
    fn a_position_must_fit_the_table_now() {
        let t = table();
        let position: Row =
            serde_json::from_value(serde_json::json!({"name": "b", "id": "k"})).unwrap();
        assert_eq!(values_at(&t, ["name", "id"], &position).unwrap().len(), 2);
        let wrong: Row = serde_json::from_value(serde_json::json!({"name": 3, "id": "k"})).unwrap();
        assert!(matches!(
            values_at(&t, ["name", "id"], &wrong),
            Err(StorageError::BadCursor)
        ));
        let short: Row = serde_json::from_value(serde_json::json!({"id": "k"})).unwrap();
        assert!(matches!(
            values_at(&t, ["name", "id"], &short),
            Err(StorageError::BadCursor)
        ));
        let extra: Row =
            serde_json::from_value(serde_json::json!({"name": "b", "id": "k", "x": 1})).unwrap();
        assert!(matches!(
            values_at(&t, ["name", "id"], &extra),
            Err(StorageError::BadCursor)
        ));
    }
}
