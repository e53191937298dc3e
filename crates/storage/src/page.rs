//! A page of a list, its rows held as their values' JSON text in one
//! buffer. A large page is what makes a list slow: a value per cell (a
//! string allocated for each text) and a vector per row cost more than the
//! database's own work, and the response writes the same text again. Here
//! an engine writes each value's JSON once, as it reads the row, and the
//! response copies it; the few callers that need values parse them back.

use std::sync::Arc;

use serde_json::Value as Json;
use stackwright_stack::{Order, Table};

use crate::error::{Result, Row, StorageError};

/// Rows of `width` values each, every value as JSON text: one buffer for
/// the text and one offset per value.
#[derive(Debug, Clone, Default)]
pub struct Cells {
    width: usize,
    text: Vec<u8>,
    /// Where each value's text ends; it starts where the one before ends.
    ends: Vec<usize>,
}

impl Cells {
    /// Room for about `rows` rows of `width` values.
    pub fn new(width: usize, rows: usize) -> Self {
        Cells {
            width: width.max(1),
            text: Vec::with_capacity(rows * width * 12),
            ends: Vec::with_capacity(rows * width),
        }
    }

    /// The next value, from a JSON value.
    pub fn push(&mut self, value: &Json) -> Result<()> {
        self.push_with(|text| serde_json::to_writer(text, value).map_err(unwritable))
    }

    /// The next value, written as JSON by `write`, which writes exactly one
    /// JSON value to the buffer it is given (or fails, leaving no value).
    pub fn push_with(&mut self, write: impl FnOnce(&mut Vec<u8>) -> Result<()>) -> Result<()> {
        let start = self.text.len();
        if let Err(e) = write(&mut self.text) {
            self.text.truncate(start);
            return Err(e);
        }
        self.ends.push(self.text.len());
        Ok(())
    }

    /// The next row, from its values in column order.
    pub fn push_row(&mut self, values: &[Json]) -> Result<()> {
        values.iter().try_for_each(|v| self.push(v))
    }

    /// The next row, from a map: its values of `columns` (null when absent).
    pub fn push_map(&mut self, columns: &[String], row: &Row) -> Result<()> {
        columns
            .iter()
            .try_for_each(|c| self.push(row.get(c).unwrap_or(&Json::Null)))
    }

    /// How many whole rows there are.
    pub fn rows(&self) -> usize {
        self.ends.len() / self.width
    }

    /// Keep the first `rows` rows.
    pub fn truncate(&mut self, rows: usize) {
        if rows < self.rows() {
            let values = rows * self.width;
            self.text.truncate(self.start(values));
            self.ends.truncate(values);
        }
    }

    fn start(&self, value: usize) -> usize {
        match value {
            0 => 0,
            i => self.ends[i - 1],
        }
    }

    /// The JSON text of `row`'s value in column `column`.
    pub fn raw(&self, row: usize, column: usize) -> Option<&[u8]> {
        // No division per value: this runs for every value a response writes.
        let i = row.checked_mul(self.width)?.checked_add(column)?;
        if column >= self.width || i >= self.ends.len() {
            return None;
        }
        Some(&self.text[self.start(i)..self.ends[i]])
    }

    /// `row`'s value in column `column`, parsed back (null when absent).
    pub fn value(&self, row: usize, column: usize) -> Result<Json> {
        match self.raw(row, column) {
            Some(text) => serde_json::from_slice(text).map_err(unwritable),
            None => Ok(Json::Null),
        }
    }

    /// How many bytes the values' text takes.
    pub fn text_len(&self) -> usize {
        self.text.len()
    }
}

fn unwritable(e: serde_json::Error) -> StorageError {
    StorageError::Internal(format!("a listed value as JSON: {e}"))
}

/// A page of a list: rows of values in the order of `columns` (the
/// table's), not maps, so a large page is read and written without a map,
/// or even a value, per row.
#[derive(Debug, Clone)]
pub struct Page {
    pub columns: Arc<[String]>,
    pub rows: Cells,
    /// Present when more rows follow: the position the next page starts
    /// after (column -> value), for the caller to hand back sealed.
    pub next: Option<Row>,
}

impl Page {
    /// A page with no rows.
    pub fn empty(columns: Arc<[String]>) -> Self {
        let rows = Cells::new(columns.len(), 0);
        Page {
            columns,
            rows,
            next: None,
        }
    }

    /// A page of the one row `row`, its values in the table's column order.
    pub fn of_row(table: &Table, row: &Row) -> Result<Self> {
        let columns: Arc<[String]> = table.columns.keys().cloned().collect();
        let mut rows = Cells::new(columns.len(), 1);
        rows.push_map(&columns, row)?;
        Ok(Page {
            columns,
            rows,
            next: None,
        })
    }

    /// A page from `limit + 1` fetched rows (values in the order of
    /// `columns`): the extra row only says more follow, and the next page
    /// starts after the last row kept, at its values of the order's columns.
    pub fn cut(
        columns: Arc<[String]>,
        mut rows: Cells,
        limit: u32,
        order_by: &[Order],
    ) -> Result<Self> {
        let kept = limit as usize;
        let more = rows.rows() > kept;
        rows.truncate(kept);
        let next = match more && kept > 0 {
            true => {
                let mut at = Row::new();
                for o in order_by {
                    let value = match columns.iter().position(|c| *c == o.column) {
                        Some(i) => rows.value(kept - 1, i)?,
                        None => Json::Null,
                    };
                    at.insert(o.column.clone(), value);
                }
                Some(at)
            }
            false => None,
        };
        Ok(Page {
            columns,
            rows,
            next,
        })
    }

    /// How many rows the page holds.
    pub fn len(&self) -> usize {
        self.rows.rows()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Where `column` is in each row.
    pub fn column(&self, column: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == column)
    }

    /// The rows as maps, for callers that read a few.
    pub fn into_rows(self) -> Result<Vec<Row>> {
        (0..self.len())
            .map(|r| {
                let values = (0..self.columns.len()).map(|c| self.rows.value(r, c));
                self.columns
                    .iter()
                    .cloned()
                    .zip(values)
                    .map(|(c, v)| Ok((c, v?)))
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(columns: &[&str]) -> Vec<Order> {
        columns
            .iter()
            .map(|c| Order {
                column: c.to_string(),
                descending: false,
            })
            .collect()
    }

    fn cells(rows: &[Json]) -> Cells {
        let mut cells = Cells::new(2, rows.len());
        for r in rows {
            cells.push_row(r.as_array().unwrap()).unwrap();
        }
        cells
    }

    #[test]
    fn values_come_back_as_they_went_in() {
        let rows = [
            json!([1, "a\"b\u{e9}"]),
            json!([null, 0.1]),
            json!([-9223372036854775808i64, {"k": [true]}]),
        ];
        let cells = cells(&rows);
        assert_eq!(cells.rows(), 3);
        for (r, row) in rows.iter().enumerate() {
            for c in 0..2 {
                assert_eq!(cells.value(r, c).unwrap(), row[c], "row {r} column {c}");
            }
        }
        assert_eq!(cells.raw(0, 1), Some(r#""a\"bé""#.as_bytes()));
        assert_eq!(cells.raw(3, 0), None);
        assert_eq!(cells.raw(0, 2), None);
    }

    #[test]
    fn a_failed_write_leaves_no_value() {
        let mut cells = Cells::new(1, 1);
        cells.push(&json!(1)).unwrap();
        let failed = cells.push_with(|text| {
            text.extend_from_slice(b"partial");
            Err(StorageError::Internal("no".into()))
        });
        assert!(failed.is_err());
        cells.push(&json!(2)).unwrap();
        assert_eq!(cells.raw(1, 0), Some(&b"2"[..]));
        assert_eq!(cells.text_len(), 2);
    }

    #[test]
    fn a_cut_page_ends_at_the_last_row_kept() {
        let columns: Arc<[String]> = vec!["id".to_string(), "due".to_string()].into();
        let rows = [json!([1, 0.5]), json!([2, 1.25]), json!([3, 2.0])];
        let page = Page::cut(columns.clone(), cells(&rows), 2, &order(&["due", "id"])).unwrap();
        assert_eq!(page.len(), 2);
        assert_eq!(page.rows.text_len(), "10.521.25".len());
        let next = page.next.clone().unwrap();
        assert_eq!(
            serde_json::to_value(&next).unwrap(),
            json!({"due": 1.25, "id": 2})
        );
        let kept = page.into_rows().unwrap();
        assert_eq!(kept[1]["id"], json!(2));
        let all = Page::cut(columns, cells(&rows), 3, &order(&["id"])).unwrap();
        assert!(all.next.is_none() && all.len() == 3);
    }
}
