//! SQL text for the server engines (PostgreSQL, MySQL/MariaDB, Redshift):
//! values and row statements here, the schema in `schema`.
//!
//! Statements are built only from validated stack-file identifiers, always
//! quoted; every value travels separately as a typed [`Param`]. The engines
//! bind the params with their driver.

pub mod redshift;
mod schema;

pub use schema::{migration_statements, MigrationSql};

use serde_json::Value as Json;
use stackwright_stack::decimal::Decimal;
use stackwright_stack::{values, ColumnType, Comparison, Table};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::engine::{ListQuery, Result, StorageError};
use crate::paging;
use crate::shape::Shape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
    /// Redshift: PostgreSQL's syntax for rows, without `RETURNING`, `ON
    /// CONFLICT`, row locks or enforced keys (see `redshift`).
    Redshift,
}

/// A value to bind, typed by its column.
#[derive(Debug, Clone)]
pub enum Param {
    Null(ColumnType),
    Bool(bool),
    Int(i64),
    Float(f64),
    Text(String),
    Json(Json),
    Timestamp(OffsetDateTime),
    Decimal(Decimal),
    Date(time::Date),
    Uuid(uuid::Uuid),
}

/// JSON (already checked against the column) -> a parameter.
pub fn param(ty: ColumnType, v: &Json) -> Result<Param> {
    let bad = || StorageError::Internal(format!("value {v} does not fit a {ty} column"));
    Ok(match (ty, v) {
        (_, Json::Null) => Param::Null(ty),
        (ColumnType::Integer | ColumnType::BigInt, v) => Param::Int(v.as_i64().ok_or_else(bad)?),
        (ColumnType::Float, v) => Param::Float(v.as_f64().ok_or_else(bad)?),
        (ColumnType::Boolean, Json::Bool(b)) => Param::Bool(*b),
        (ColumnType::Timestamp, Json::String(s)) => {
            let t = OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?;
            Param::Timestamp(t.to_offset(time::UtcOffset::UTC))
        }
        (ColumnType::String { .. } | ColumnType::Text, Json::String(s)) => Param::Text(s.clone()),
        (ColumnType::Json, v) => Param::Json(v.clone()),
        (ColumnType::Decimal { precision, scale }, v) => {
            Param::Decimal(values::decimal_of(v, precision, scale).map_err(|_| bad())?)
        }
        (ColumnType::Date, Json::String(s)) => Param::Date(values::date_of(s).ok_or_else(bad)?),
        (ColumnType::Uuid, Json::String(s)) => {
            Param::Uuid(uuid::Uuid::try_parse(s).map_err(|_| bad())?)
        }
        _ => return Err(bad()),
    })
}

/// A decimal as the API shows it: its text at the column's scale.
pub fn decimal_json(ty: ColumnType, units: i64, scale: u32) -> Result<Json> {
    let ColumnType::Decimal { scale: want, .. } = ty else {
        return Err(StorageError::Internal(format!(
            "a decimal read for a {ty} column"
        )));
    };
    let held = u8::try_from(scale)
        .ok()
        .and_then(|scale| Decimal { units, scale }.rescale(want));
    held.map(|d| Json::String(d.to_string())).ok_or_else(|| {
        StorageError::Internal(format!(
            "a decimal of scale {scale} does not fit a {ty} column"
        ))
    })
}

/// A date as the API shows it: `YYYY-MM-DD`.
pub fn date_json(d: time::Date) -> Json {
    Json::String(format!(
        "{:04}-{:02}-{:02}",
        d.year(),
        u8::from(d.month()),
        d.day()
    ))
}

/// A timestamp as the API shows it: RFC 3339 in UTC.
pub fn timestamp_json(t: OffsetDateTime) -> Json {
    Json::String(
        t.to_offset(time::UtcOffset::UTC)
            .format(&Rfc3339)
            .unwrap_or_default(),
    )
}

pub struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

/// Builds one statement: text plus parameters, placeholders numbered per dialect.
struct Builder {
    dialect: Dialect,
    sql: String,
    params: Vec<Param>,
}

impl Builder {
    fn new(dialect: Dialect) -> Self {
        Builder {
            dialect,
            sql: String::new(),
            params: Vec::new(),
        }
    }
    fn push(&mut self, s: &str) -> &mut Self {
        self.sql.push_str(s);
        self
    }
    fn bind(&mut self, p: Param) -> &mut Self {
        self.params.push(p);
        match self.dialect {
            Dialect::Postgres | Dialect::Redshift => {
                self.sql.push('$');
                self.sql.push_str(&self.params.len().to_string());
            }
            Dialect::Mysql => self.sql.push('?'),
        }
        self
    }
    /// `column = p`, exactly: MySQL's collations pad with spaces, so
    /// `'a ' = 'a'` holds even in utf8mb4_bin; text is compared as bytes
    /// as well (the first comparison keeps the index in use).
    fn equals(&mut self, column: &str, p: Param) -> &mut Self {
        self.push(column).push(" = ");
        match (self.dialect, &p) {
            (Dialect::Mysql, Param::Text(_)) => {
                let again = p.clone();
                self.bind(p)
                    .push(&format!(" AND {column} = CAST("))
                    .bind(again)
                    .push(" AS BINARY)")
            }
            _ => self.bind(p),
        }
    }
    /// ` AND (the route's condition)`, when it has one.
    fn condition(&mut self, table: &Table, condition: &[Comparison]) -> Result<&mut Self> {
        if condition.is_empty() {
            return Ok(self);
        }
        let dialect = self.dialect;
        let (pieces, values) = crate::condition::sql(table, condition, |c| dialect.quote(c))?;
        self.push(" AND (");
        self.pieces(pieces, &values)?;
        Ok(self.push(")"))
    }
    /// SQL pieces, their values bound as parameters of their columns' types.
    fn pieces(
        &mut self,
        pieces: Vec<paging::Piece>,
        values: &[(ColumnType, Json)],
    ) -> Result<&mut Self> {
        for piece in pieces {
            match piece {
                paging::Piece::Text(t) => self.push(&t),
                paging::Piece::Value(i) => {
                    let (ty, v) = &values[i];
                    self.bind(param(*ty, v)?)
                }
            };
        }
        Ok(self)
    }
    fn done(self) -> Statement {
        Statement {
            sql: self.sql,
            params: self.params,
        }
    }
}

impl Dialect {
    pub fn quote(self, name: &str) -> String {
        match self {
            Dialect::Postgres | Dialect::Redshift => {
                format!("\"{}\"", name.replace('"', "\"\""))
            }
            Dialect::Mysql => format!("`{}`", name.replace('`', "``")),
        }
    }

    fn select_list(self, shape: &Shape) -> String {
        shape
            .columns
            .iter()
            .map(|(c, _)| self.quote(c))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn get(self, shape: &Shape, key: Param) -> Statement {
        let mut b = Builder::new(self);
        b.push(&format!(
            "SELECT {} FROM {} WHERE ",
            self.select_list(shape),
            self.quote(&shape.table),
        ))
        .equals(&self.quote(&shape.key), key);
        b.done()
    }

    /// A page of rows: `limit` of them (the caller asks one more than it
    /// shows), strictly after the position `after` (one value per order
    /// column, checked against the table by [`crate::paging::values_at`]).
    pub fn list(
        self,
        table: &Table,
        shape: &Shape,
        query: &ListQuery<'_>,
        limit: u32,
    ) -> Result<Statement> {
        let mut b = Builder::new(self);
        b.push(&format!(
            "SELECT {} FROM {}",
            self.select_list(shape),
            self.quote(&shape.table)
        ));
        self.list_where(&mut b, table, shape, query, true)?;
        let order_by = query.order_by;
        for (i, o) in order_by.iter().enumerate() {
            let nullable = table.columns.get(&o.column).is_none_or(|c| c.nullable);
            b.push(if i == 0 { " ORDER BY " } else { ", " })
                .push(&self.quote(&o.column))
                .push(match (self, o.descending, nullable) {
                    // NULLs sort as the smallest value on every engine
                    // (SQLite's and MySQL's rule). Said only where a NULL
                    // can be: PostgreSQL's indexes are ASC NULLS LAST, and
                    // an order they cannot give makes every page a sort.
                    (Dialect::Postgres | Dialect::Redshift, false, true) => " ASC NULLS FIRST",
                    (Dialect::Postgres | Dialect::Redshift, true, true) => " DESC NULLS LAST",
                    (_, false, _) => " ASC",
                    (_, true, _) => " DESC",
                });
        }
        // A number of ours, written in: Redshift takes no parameter in
        // LIMIT ("not implemented"), and a constant keeps one prepared
        // statement per page size elsewhere.
        b.push(&format!(" LIMIT {limit}"));
        Ok(b.done())
    }

    /// How many rows meet the query's filters and bounds.
    pub fn count(self, table: &Table, shape: &Shape, query: &ListQuery<'_>) -> Result<Statement> {
        let mut b = Builder::new(self);
        b.push(&format!(
            "SELECT COUNT(*) FROM {}",
            self.quote(&shape.table)
        ));
        self.list_where(&mut b, table, shape, query, false)?;
        Ok(b.done())
    }

    /// ` WHERE` the query's filters and bounds hold, and, with `after`, the
    /// row comes after its position.
    fn list_where(
        self,
        b: &mut Builder,
        table: &Table,
        shape: &Shape,
        query: &ListQuery<'_>,
        after: bool,
    ) -> Result<()> {
        let mut first = true;
        let mut and = |b: &mut Builder| {
            b.push(if first { " WHERE " } else { " AND " });
            first = false;
        };
        for (column, value) in &query.filters {
            and(b);
            b.equals(&self.quote(column), param(shape.ty(column)?, value)?);
        }
        if !query.ranges.is_empty() {
            let exact = self == Dialect::Mysql;
            let (pieces, values) =
                crate::range::sql(table, &query.ranges, exact, |c| self.quote(c))?;
            and(b);
            b.pieces(pieces, &values)?;
        }
        if let Some(position) = query.after.filter(|_| after) {
            let order_by = query.order_by;
            let columns = order_by.iter().map(|o| o.column.as_str());
            let at = paging::values_at(table, columns, position)?;
            let style = match self {
                Dialect::Postgres => paging::Style::RowValues,
                Dialect::Mysql | Dialect::Redshift => paging::Style::Expanded,
            };
            let mut values = Vec::new();
            for (o, v) in order_by.iter().zip(at.iter()) {
                values.push((shape.ty(&o.column)?, v.clone()));
            }
            and(b);
            let pieces = paging::after_condition(table, order_by, &at, style, |c| self.quote(c));
            b.pieces(pieces, &values)?;
        }
        Ok(())
    }

    /// INSERT of the given columns. `ignore_conflict` keeps an existing row
    /// with the same key (used for seed rows). PostgreSQL returns the row.
    /// On Redshift, which enforces no key, a row whose key is taken is
    /// never inserted (0 rows affected), whatever `ignore_conflict` says.
    pub fn insert(
        self,
        shape: &Shape,
        values: Vec<(&str, Param)>,
        ignore_conflict: bool,
    ) -> Statement {
        if self == Dialect::Redshift {
            return redshift::insert_if_absent(shape, values);
        }
        let mut b = Builder::new(self);
        let names: Vec<String> = values.iter().map(|(c, _)| self.quote(c)).collect();
        b.push(&format!(
            "INSERT INTO {} ({}) VALUES (",
            self.quote(&shape.table),
            names.join(", ")
        ));
        for (i, (_, p)) in values.into_iter().enumerate() {
            if i > 0 {
                b.push(", ");
            }
            b.bind(p);
        }
        b.push(")");
        match (self, ignore_conflict) {
            (Dialect::Postgres, true) => {
                b.push(" ON CONFLICT DO NOTHING");
            }
            (Dialect::Mysql, true) => {
                // Only seed rows (already checked values) use this: IGNORE
                // reports 0 rows for an existing key, as it should.
                b.sql = b.sql.replacen("INSERT INTO", "INSERT IGNORE INTO", 1);
            }
            _ => {}
        }
        if self == Dialect::Postgres {
            b.push(&format!(" RETURNING {}", self.select_list(shape)));
        }
        b.done()
    }

    /// UPDATE ... SET where the key and `condition` hold; PostgreSQL
    /// returns the row.
    pub fn update(
        self,
        (table, shape): (&Table, &Shape),
        sets: Vec<(&str, Param)>,
        increments: &[(&str, i64)],
        key: Param,
        condition: &[Comparison],
    ) -> Result<Statement> {
        let mut b = Builder::new(self);
        b.push(&format!("UPDATE {} SET ", self.quote(&shape.table)));
        let mut first = true;
        for (column, p) in sets {
            if !first {
                b.push(", ");
            }
            first = false;
            b.push(&self.quote(column)).push(" = ").bind(p);
        }
        for (column, by) in increments {
            if !first {
                b.push(", ");
            }
            first = false;
            // One statement: concurrent increments never lose an update.
            let c = self.quote(column);
            b.push(&format!("{c} = {c} + ")).bind(Param::Int(*by));
        }
        b.push(" WHERE ").equals(&self.quote(&shape.key), key);
        b.condition(table, condition)?;
        if self == Dialect::Postgres {
            b.push(&format!(" RETURNING {}", self.select_list(shape)));
        }
        Ok(b.done())
    }

    /// The row with `key`, where `condition` holds.
    pub fn get_where(
        self,
        target: (&Table, &Shape),
        key: Param,
        condition: &[Comparison],
    ) -> Result<Statement> {
        let head = format!("SELECT {} FROM", self.select_list(target.1));
        self.keyed(&head, target, key, condition)
    }

    pub fn delete(
        self,
        target: (&Table, &Shape),
        key: Param,
        condition: &[Comparison],
    ) -> Result<Statement> {
        self.keyed("DELETE FROM", target, key, condition)
    }

    /// `HEAD table WHERE key = ? AND (condition)`.
    fn keyed(
        self,
        head: &str,
        (table, shape): (&Table, &Shape),
        key: Param,
        condition: &[Comparison],
    ) -> Result<Statement> {
        let mut b = Builder::new(self);
        b.push(&format!("{head} {} WHERE ", self.quote(&shape.table)))
            .equals(&self.quote(&shape.key), key);
        b.condition(table, condition)?;
        Ok(b.done())
    }
}

/// MySQL DATETIME text for a UTC instant.
pub fn mysql_datetime(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackwright_stack::Order;

    #[test]
    fn placeholders_follow_the_dialect() {
        let table = crate::paging::tests::table();
        let shape = Shape::of(&table);
        let order = [
            Order {
                column: "name".into(),
                descending: false,
            },
            Order {
                column: "id".into(),
                descending: false,
            },
        ];
        let position: crate::engine::Row =
            serde_json::from_value(serde_json::json!({"name": "b", "id": "k"})).unwrap();
        let query = ListQuery {
            filters: vec![("name", Json::from("x"))],
            ranges: Vec::new(),
            order_by: &order,
            limit: 5,
            after: Some(&position),
        };
        let pg = Dialect::Postgres.list(&table, &shape, &query, 6).unwrap();
        assert_eq!(
            pg.sql,
            r#"SELECT "id", "name" FROM "t" WHERE "name" = $1 AND ("name", "id") > ($2, $3) ORDER BY "name" ASC NULLS FIRST, "id" ASC LIMIT 6"#
        );
        let my = Dialect::Mysql.list(&table, &shape, &query, 6).unwrap();
        assert_eq!(
            my.sql,
            "SELECT `id`, `name` FROM `t` WHERE `name` = ? AND `name` = CAST(? AS BINARY) AND `name` >= ? AND (`name` > ? OR (`name` = ? AND (`id` > ?))) ORDER BY `name` ASC, `id` ASC LIMIT 6"
        );
        assert_eq!(my.params.len(), 6);
    }

    #[test]
    fn literals_escape_for_each_dialect() {
        let v = Json::from(r"it's a \ test");
        assert_eq!(
            Dialect::Postgres.literal(ColumnType::Text, &v),
            r"'it''s a \ test'"
        );
        assert_eq!(
            Dialect::Mysql.literal(ColumnType::Text, &v),
            r"'it''s a \\ test'"
        );
    }
}
