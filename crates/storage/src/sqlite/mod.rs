//! The embedded default: a SQLite file, no server to install.
//!
//! rusqlite, with a request's statement run on the calling thread (see
//! `pool`). WAL mode lets readers proceed while one writer commits; every
//! statement is built from validated stack-file identifiers (always quoted)
//! and every request value is a bound parameter.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::{params_from_iter, Connection, ErrorCode, OptionalExtension, TransactionBehavior};
use serde_json::Value as Json;
use stackwright_stack::decimal::Decimal;
use stackwright_stack::{values, ColumnType, Comparison, Table};
use time::format_description::well_known::Rfc3339;

use crate::engine::*;
use crate::migrate::SchemaSnapshot;

mod pool;
mod queue;
mod schema;

use pool::Pool;
use schema::{apply_migration, now};

/// How long SQLite waits on a lock held by another connection or process.
pub(super) const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// The health check's shorter wait for the same locks.
const PING_BUSY_TIMEOUT: Duration = Duration::from_secs(1);

pub struct SqliteEngine {
    pool: Arc<Pool>,
    /// Each table's shape and the fixed parts of its statements, made once
    /// rather than for every request (building them took about a tenth of
    /// a point read's time in user space, in bench/http's profile).
    tables: Tables<TableSql>,
}

struct TableSql {
    shape: Shape,
    /// The quoted columns, in the order rows hold their values: what every
    /// statement selects or returns.
    columns: String,
    /// `SELECT columns FROM table`.
    select: String,
    /// The point read by key.
    get: String,
}

impl Shaped for TableSql {
    fn shape(&self) -> &Shape {
        &self.shape
    }
}

impl SqliteEngine {
    /// Open (creating if needed) the database file at `path` with up to `size` connections.
    pub fn open(path: &Path, size: usize) -> Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| {
                StorageError::Unavailable(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        // A new database is its owner's alone; SQLite gives its -wal and
        // -shm files the database file's mode.
        match crate::local::private_file(path, false) {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => {
                return Err(StorageError::Unavailable(format!(
                    "cannot create {}: {e}",
                    path.display()
                )))
            }
        }
        Ok(SqliteEngine {
            pool: Arc::new(Pool::new(path, size)?),
            tables: Tables::default(),
        })
    }

    pub fn path(&self) -> &Path {
        self.pool.path()
    }

    /// `table`'s shape and statements, as made the first time.
    fn table_sql(&self, table: &Table) -> Arc<TableSql> {
        self.tables.of(table, |shape| {
            let columns = shape
                .columns
                .iter()
                .map(|(c, _)| quote(c))
                .collect::<Vec<_>>()
                .join(", ");
            let select = format!("SELECT {columns} FROM {}", quote(&shape.table));
            let get = format!("{select} WHERE {} = ?", quote(&shape.key));
            TableSql {
                shape,
                columns,
                select,
                get,
            }
        })
    }

    /// Run `f` on a pooled connection on a blocking thread.
    async fn run<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        self.pool.run(f).await
    }
}

fn map_err(e: rusqlite::Error) -> StorageError {
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::ConstraintViolation
                if matches!(
                    f.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                ) =>
            {
                StorageError::Conflict
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                pool::note_locked();
                StorageError::Unavailable(e.to_string())
            }
            ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::DiskFull => {
                StorageError::Unavailable(e.to_string())
            }
            _ => StorageError::Internal(e.to_string()),
        },
        _ => StorageError::Internal(e.to_string()),
    }
}

/// `"name"`, with embedded quotes doubled (names are validated identifiers anyway).
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// ` WHERE` the query's filters and bounds hold and, with `after`, the
/// row comes after its position (empty when nothing is asked), and the
/// values to bind, in order.
fn list_where(
    table: &Table,
    shape: &Shape,
    query: &ListQuery<'_>,
    after: bool,
) -> Result<(String, Vec<SqlValue>)> {
    let mut values = Vec::new();
    let mut wheres = Vec::new();
    for (column, v) in &query.filters {
        wheres.push(format!("{} = ?", quote(column)));
        values.push(to_sql(shape.ty(column)?, v)?);
    }
    if !query.ranges.is_empty() {
        let (pieces, bound) = crate::range::sql(table, &query.ranges, false, quote)?;
        wheres.push(pieces_sql(pieces, &bound, &mut values)?);
    }
    if let Some(position) = query.after.filter(|_| after) {
        let order_by = query.order_by;
        let columns = order_by.iter().map(|o| o.column.as_str());
        let at = paging::values_at(table, columns, position)?;
        let mut bound = Vec::new();
        for (o, v) in order_by.iter().zip(&at) {
            bound.push((shape.ty(&o.column)?, v.clone()));
        }
        let style = paging::Style::RowValues;
        let pieces = paging::after_condition(table, order_by, &at, style, quote);
        wheres.push(pieces_sql(pieces, &bound, &mut values)?);
    }
    let wheres = if wheres.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", wheres.join(" AND "))
    };
    Ok((wheres, values))
}

/// JSON (already checked against the column) -> a SQLite value.
fn to_sql(ty: ColumnType, v: &Json) -> Result<SqlValue> {
    let bad = || StorageError::Internal(format!("value {v} does not fit a {ty} column"));
    Ok(match (ty, v) {
        (_, Json::Null) => SqlValue::Null,
        (ColumnType::Integer | ColumnType::BigInt, v) => {
            SqlValue::Integer(v.as_i64().ok_or_else(bad)?)
        }
        (ColumnType::Float, v) => SqlValue::Real(v.as_f64().ok_or_else(bad)?),
        (ColumnType::Boolean, Json::Bool(b)) => SqlValue::Integer(i64::from(*b)),
        (ColumnType::Timestamp, Json::String(s)) => {
            // Stored in UTC so text order is time order.
            let t = time::OffsetDateTime::parse(s, &Rfc3339).map_err(|_| bad())?;
            SqlValue::Text(
                t.to_offset(time::UtcOffset::UTC)
                    .format(&Rfc3339)
                    .map_err(|_| bad())?,
            )
        }
        (ColumnType::String { .. } | ColumnType::Text, Json::String(s)) => {
            SqlValue::Text(s.clone())
        }
        (ColumnType::Json, v) => SqlValue::Text(v.to_string()),
        // Whole units of the scale: SQLite has no exact decimal, and an
        // INTEGER orders and compares exactly.
        (ColumnType::Decimal { precision, scale }, v) => SqlValue::Integer(
            values::decimal_of(v, precision, scale)
                .map_err(|_| bad())?
                .units,
        ),
        (ColumnType::Date, Json::String(s)) => {
            values::date_of(s).ok_or_else(bad)?;
            SqlValue::Text(s.clone())
        }
        (ColumnType::Uuid, Json::String(s)) => {
            SqlValue::Text(values::canonical_uuid(s).ok_or_else(bad)?)
        }
        _ => return Err(bad()),
    })
}

fn from_sql(ty: ColumnType, v: ValueRef<'_>) -> Json {
    match (ty, v) {
        (_, ValueRef::Null) => Json::Null,
        (ColumnType::Boolean, ValueRef::Integer(i)) => Json::Bool(i != 0),
        (ColumnType::Decimal { scale, .. }, ValueRef::Integer(units)) => {
            Json::String(Decimal { units, scale }.to_string())
        }
        (_, ValueRef::Integer(i)) if ty == ColumnType::Float => Json::from(i as f64),
        (_, ValueRef::Integer(i)) => Json::from(i),
        (_, ValueRef::Real(f)) => serde_json::Number::from_f64(f).map_or(Json::Null, Json::Number),
        (ColumnType::Json, ValueRef::Text(t)) => serde_json::from_slice(t)
            .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(t).into())),
        (_, ValueRef::Text(t)) => Json::String(String::from_utf8_lossy(t).into_owned()),
        (_, ValueRef::Blob(_)) => Json::Null,
    }
}

/// A value's JSON text, as [`from_sql`] and then JSON would write it, but
/// with no value made on the way for the common types: a text is escaped
/// straight from SQLite's buffer (a large page is mostly that).
fn encode(ty: ColumnType, v: ValueRef<'_>, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match (ty, v) {
        (ColumnType::Boolean | ColumnType::Decimal { .. } | ColumnType::Float, _)
        | (ColumnType::Json, _)
        | (_, ValueRef::Blob(_)) => serde_json::to_writer(out, &from_sql(ty, v)),
        (_, ValueRef::Null) => serde_json::to_writer(out, &()),
        (_, ValueRef::Integer(i)) => serde_json::to_writer(out, &i),
        (_, ValueRef::Real(f)) => serde_json::to_writer(out, &f),
        (_, ValueRef::Text(t)) => serde_json::to_writer(out, &*String::from_utf8_lossy(t)),
    }
}

/// SQLite's statements and rows for a table ([`Shape`] is every engine's).
impl Shape {
    fn read(&self, row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(self.row_of(self.read_values(row)?))
    }
    /// A row's values, in the order of the columns.
    fn read_values(&self, row: &rusqlite::Row<'_>) -> rusqlite::Result<Vec<Json>> {
        let mut out = Vec::with_capacity(self.columns.len());
        for (i, (_, ty)) in self.columns.iter().enumerate() {
            out.push(from_sql(*ty, row.get_ref(i)?));
        }
        Ok(out)
    }
    /// A row's values, in the order of the columns, as JSON text.
    fn encode_values(&self, row: &rusqlite::Row<'_>, cells: &mut Cells) -> Result<()> {
        for (i, (_, ty)) in self.columns.iter().enumerate() {
            let v = row.get_ref(i).map_err(map_err)?;
            cells.push_with(|out| {
                encode(*ty, v, out)
                    .map_err(|e| StorageError::Internal(format!("a value as JSON: {e}")))
            })?;
        }
        Ok(())
    }
    /// The INSERT for `row` returning `columns`, generating a UUID key when
    /// the key is a generated string.
    fn insert_sql(
        &self,
        row: &Row,
        on_conflict_ignore: bool,
        columns: &str,
    ) -> Result<(String, Vec<SqlValue>)> {
        let mut names = Vec::new();
        let mut values = Vec::new();
        if self.generates_uuid(row) {
            names.push(quote(&self.key));
            values.push(SqlValue::Text(uuid::Uuid::new_v4().to_string()));
        }
        for (name, v) in row {
            names.push(quote(name));
            values.push(to_sql(self.ty(name)?, v)?);
        }
        let marks = vec!["?"; names.len()].join(", ");
        let sql = format!(
            "INSERT INTO {} ({}) VALUES ({}){} RETURNING {}",
            quote(&self.table),
            names.join(", "),
            marks,
            if on_conflict_ignore {
                " ON CONFLICT DO NOTHING"
            } else {
                ""
            },
            columns
        );
        Ok((sql, values))
    }
}

use crate::paging;
use crate::shape::{Shape, Shaped, Tables};

/// ` AND (condition)` for a route's `where`, its constants added to `values`.
fn where_sql(
    table: &Table,
    condition: &[Comparison],
    values: &mut Vec<SqlValue>,
) -> Result<String> {
    if condition.is_empty() {
        return Ok(String::new());
    }
    let (pieces, constants) = crate::condition::sql(table, condition, quote)?;
    Ok(format!(
        " AND ({})",
        pieces_sql(pieces, &constants, values)?
    ))
}

/// SQL pieces as text with `?` placeholders, their values appended to
/// `values` in order.
fn pieces_sql(
    pieces: Vec<paging::Piece>,
    constants: &[crate::condition::Constant],
    values: &mut Vec<SqlValue>,
) -> Result<String> {
    let mut out = String::new();
    for piece in pieces {
        match piece {
            paging::Piece::Text(t) => out.push_str(&t),
            paging::Piece::Value(i) => {
                out.push('?');
                let (ty, v) = &constants[i];
                values.push(to_sql(*ty, v)?);
            }
        }
    }
    Ok(out)
}

#[async_trait]
impl Engine for SqliteEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Sqlite
    }

    async fn ping(&self) -> Result<()> {
        self.run(|c| {
            // Healthy means the file reads and the write lock can be had: a
            // writer stuck elsewhere (or a broken file) shows here. The wait
            // is shorter than a request's so a health check answers in time.
            c.busy_timeout(PING_BUSY_TIMEOUT).map_err(map_err)?;
            let result = c
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .and_then(|tx| tx.query_row("SELECT count(*) FROM sqlite_schema", [], |_| Ok(())))
                .map_err(map_err);
            c.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
            result
        })
        .await
    }

    async fn migrate(
        &self,
        target: &SchemaSnapshot,
        allow_destructive: bool,
    ) -> Result<MigrationOutcome> {
        let target = target.clone();
        self.run(move |c| apply_migration(c, &target, allow_destructive))
            .await
    }

    async fn seed(&self, table: &Table, rows: Vec<SeedRow>) -> Result<SeedOutcome> {
        let made = self.table_sql(table);
        self.run(move |conn| {
            let shape = &made.shape;
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(map_err)?;
            let mut outcome = SeedOutcome {
                table: shape.table.clone(),
                ..Default::default()
            };
            for seed in rows {
                let done = tx
                    .prepare_cached("SELECT 1 FROM _stackwright_seed_rows WHERE table_name = ? AND identity = ?")
                    .and_then(|mut s| s.exists([&shape.table, &seed.identity]))
                    .map_err(map_err)?;
                if done {
                    outcome.already_applied += 1;
                    continue;
                }
                // A row a user created with the same key wins over the seed.
                let (sql, values) = shape.insert_sql(&seed.row, true, &made.columns)?;
                let inserted = tx
                    .prepare_cached(&sql)
                    .and_then(|mut s| s.query(params_from_iter(values))?.next().map(|r| r.is_some()))
                    .map_err(map_err)?;
                outcome.inserted += usize::from(inserted);
                tx.execute(
                    "INSERT INTO _stackwright_seed_rows (table_name, identity, applied_at) VALUES (?, ?, ?)",
                    rusqlite::params![shape.table, seed.identity, now()],
                )
                .map_err(map_err)?;
            }
            tx.commit().map_err(map_err)?;
            Ok(outcome)
        })
        .await
    }

    async fn get(&self, table: &Table, key: &Json) -> Result<Option<Row>> {
        let made = self.table_sql(table);
        let key = to_sql(made.shape.key_ty, key)?;
        self.pool
            .read(move |c| {
                let mut stmt = c.prepare_cached(&made.get).map_err(map_err)?;
                stmt.query_row([&key], |r| made.shape.read(r))
                    .optional()
                    .map_err(map_err)
            })
            .await
    }

    async fn get_page(&self, table: &Table, key: &Json) -> Result<Option<Page>> {
        let made = self.table_sql(table);
        let key = to_sql(made.shape.key_ty, key)?;
        self.pool
            .read(move |c| {
                let mut stmt = c.prepare_cached(&made.get).map_err(map_err)?;
                let mut rows = stmt.query([&key]).map_err(map_err)?;
                let Some(r) = rows.next().map_err(map_err)? else {
                    return Ok(None);
                };
                let mut cells = Cells::new(made.shape.columns.len(), 1);
                made.shape.encode_values(r, &mut cells)?;
                Ok(Some(Page::cut(made.shape.names(), cells, 1, &[])?))
            })
            .await
    }

    async fn list(&self, table: &Table, query: &ListQuery<'_>) -> Result<Page> {
        let made = self.table_sql(table);
        let (wheres, values) = list_where(table, &made.shape, query, true)?;
        let order_by = query.order_by.to_vec();
        let mut sql = String::with_capacity(made.select.len() + wheres.len() + 64);
        sql.push_str(&made.select);
        sql.push_str(&wheres);
        for (i, o) in order_by.iter().enumerate() {
            sql.push_str(if i == 0 { " ORDER BY " } else { ", " });
            sql.push_str(&quote(&o.column));
            sql.push_str(if o.descending { " DESC" } else { " ASC" });
        }
        // One extra row tells whether another page follows; the number is
        // written in, so each page size has one cached statement.
        let limit = query.limit;
        sql.push_str(" LIMIT ");
        sql.push_str(&(limit + 1).to_string());
        self.pool
            .read(move |c| {
                let shape = &made.shape;
                let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
                let mut rows = stmt.query(params_from_iter(&values)).map_err(map_err)?;
                let hint = limit.saturating_add(1).min(1024) as usize;
                let mut cells = Cells::new(shape.columns.len(), hint);
                while let Some(r) = rows.next().map_err(map_err)? {
                    shape.encode_values(r, &mut cells)?;
                }
                Page::cut(shape.names(), cells, limit, &order_by)
            })
            .await
    }

    async fn count(&self, table: &Table, query: &ListQuery<'_>) -> Result<u64> {
        let made = self.table_sql(table);
        let (wheres, values) = list_where(table, &made.shape, query, false)?;
        let sql = format!("SELECT COUNT(*) FROM {}{wheres}", quote(&made.shape.table));
        self.pool
            .read(move |c| {
                let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
                let n: i64 = stmt
                    .query_row(params_from_iter(&values), |r| r.get(0))
                    .map_err(map_err)?;
                Ok(n.max(0) as u64)
            })
            .await
    }

    async fn insert(&self, table: &Table, row: Row) -> Result<Row> {
        let made = self.table_sql(table);
        let (sql, values) = made.shape.insert_sql(&row, false, &made.columns)?;
        self.pool
            .write(move |c| {
                let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
                stmt.query_row(params_from_iter(&values), |r| made.shape.read(r))
                    .map_err(map_err)
            })
            .await
    }

    async fn update_where(
        &self,
        table: &Table,
        key: &Json,
        changes: &[Assignment],
        condition: &[Comparison],
    ) -> Result<Option<Row>> {
        let made = self.table_sql(table);
        let shape = &made.shape;
        let mut sets = Vec::new();
        let mut values = Vec::new();
        for change in changes {
            match change {
                Assignment::Set(column, v) => {
                    sets.push(format!("{} = ?", quote(column)));
                    values.push(to_sql(shape.ty(column)?, v)?);
                }
                Assignment::Increment(column, by) => {
                    // One statement: concurrent increments never lose an update.
                    sets.push(format!("{c} = {c} + ?", c = quote(column)));
                    values.push(SqlValue::Integer(*by));
                }
            }
        }
        values.push(to_sql(shape.key_ty, key)?);
        let guard = where_sql(table, condition, &mut values)?;
        let sql = if sets.is_empty() {
            format!("{}{guard}", made.get)
        } else {
            format!(
                "UPDATE {} SET {} WHERE {} = ?{guard} RETURNING {}",
                quote(&shape.table),
                sets.join(", "),
                quote(&shape.key),
                made.columns
            )
        };
        let row = self
            .pool
            .write(move |c| {
                let mut stmt = c.prepare_cached(&sql).map_err(map_err)?;
                stmt.query_row(params_from_iter(&values), |r| made.shape.read(r))
                    .optional()
                    .map_err(map_err)
            })
            .await?;
        updated(self, (table, key), condition, row).await
    }

    async fn delete_where(
        &self,
        table: &Table,
        key: &Json,
        condition: &[Comparison],
    ) -> Result<bool> {
        let shape = &self.table_sql(table).shape;
        let mut values = vec![to_sql(shape.key_ty, key)?];
        let guard = where_sql(table, condition, &mut values)?;
        let sql = format!(
            "DELETE FROM {} WHERE {} = ?{guard}",
            quote(&shape.table),
            quote(&shape.key)
        );
        let n = self
            .pool
            .write(move |c| {
                c.prepare_cached(&sql)
                    .map_err(map_err)?
                    .execute(params_from_iter(&values))
                    .map_err(map_err)
            })
            .await?;
        deleted(self, (table, key), condition, n as u64).await
    }

    fn queue(&self) -> Option<&dyn Queue> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::schema::literal;
    use super::*;

    #[test]
    fn literals_escape_quotes() {
        let ty = ColumnType::Text;
        assert_eq!(literal(ty, &Json::String("it's".into())), "'it''s'");
        assert_eq!(literal(ColumnType::Boolean, &Json::Bool(true)), "1");
    }

    /// A listed value's text, written without a value made on the way, is
    /// what the value itself would be written as, for every type and every
    /// kind of value SQLite may hand back.
    #[test]
    fn encoded_values_are_the_values_written() {
        let texts: [&[u8]; 5] = [
            b"plain",
            b"q\"uote\\ \n\t\x01",
            "\u{e9}\u{1f600}".as_bytes(),
            b"\xff\xfe",
            br#"{"a":[1,2.5]}"#,
        ];
        let mut values = vec![ValueRef::Null, ValueRef::Blob(b"x")];
        values.extend([0, 1, -1, i64::MIN, i64::MAX, 12345].map(ValueRef::Integer));
        values.extend([0.1, -2.5, 1e300, f64::NAN, f64::INFINITY].map(ValueRef::Real));
        values.extend(texts.map(ValueRef::Text));
        for ty in ColumnType::ONE_OF_EACH {
            for v in &values {
                let mut encoded = Vec::new();
                encode(ty, *v, &mut encoded).unwrap();
                let written = serde_json::to_vec(&from_sql(ty, *v)).unwrap();
                assert_eq!(
                    String::from_utf8_lossy(&encoded),
                    String::from_utf8_lossy(&written),
                    "{ty:?} {v:?}"
                );
            }
        }
    }
}
