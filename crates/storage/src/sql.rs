//! SQL text for the server engines (PostgreSQL, MySQL/MariaDB).
//!
//! Statements are built only from validated stack-file identifiers, always
//! quoted; every value travels separately as a typed [`Param`]. The engines
//! bind the params with their driver.

use serde_json::Value as Json;
use stackwright_stack::{Column, ColumnType, Order};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::engine::{Result, StorageError};
use crate::migrate::TableSchema;
use crate::shape::Shape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Postgres,
    Mysql,
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
        _ => return Err(bad()),
    })
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
            Dialect::Postgres => {
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
            Dialect::Postgres => format!("\"{}\"", name.replace('"', "\"\"")),
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

    pub fn list(
        self,
        shape: &Shape,
        filters: &[(&str, Json)],
        order_by: &[Order],
        limit: u32,
        offset: u64,
    ) -> Result<Statement> {
        let mut b = Builder::new(self);
        b.push(&format!(
            "SELECT {} FROM {}",
            self.select_list(shape),
            self.quote(&shape.table)
        ));
        for (i, (column, value)) in filters.iter().enumerate() {
            b.push(if i == 0 { " WHERE " } else { " AND " })
                .equals(&self.quote(column), param(shape.ty(column)?, value)?);
        }
        for (i, o) in order_by.iter().enumerate() {
            b.push(if i == 0 { " ORDER BY " } else { ", " })
                .push(&self.quote(&o.column))
                .push(match (self, o.descending) {
                    // NULLs sort as the smallest value on every engine (SQLite's and MySQL's rule).
                    (Dialect::Postgres, false) => " ASC NULLS FIRST",
                    (Dialect::Postgres, true) => " DESC NULLS LAST",
                    (Dialect::Mysql, false) => " ASC",
                    (Dialect::Mysql, true) => " DESC",
                });
        }
        b.push(" LIMIT ")
            .bind(Param::Int(i64::from(limit)))
            .push(" OFFSET ")
            .bind(Param::Int(offset as i64));
        Ok(b.done())
    }

    /// INSERT of the given columns. `ignore_conflict` keeps an existing row
    /// with the same key (used for seed rows). PostgreSQL returns the row.
    pub fn insert(
        self,
        shape: &Shape,
        values: Vec<(&str, Param)>,
        ignore_conflict: bool,
    ) -> Statement {
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

    /// UPDATE ... SET; PostgreSQL returns the row.
    pub fn update(
        self,
        shape: &Shape,
        sets: Vec<(&str, Param)>,
        increments: &[(&str, i64)],
        key: Param,
    ) -> Statement {
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
        if self == Dialect::Postgres {
            b.push(&format!(" RETURNING {}", self.select_list(shape)));
        }
        b.done()
    }

    pub fn delete(self, shape: &Shape, key: Param) -> Statement {
        let mut b = Builder::new(self);
        b.push(&format!("DELETE FROM {} WHERE ", self.quote(&shape.table)))
            .equals(&self.quote(&shape.key), key);
        b.done()
    }

    // ---- schema -------------------------------------------------------

    pub fn column_type(self, c: &Column) -> String {
        match (self, c.ty) {
            (_, ColumnType::String { max_length }) => format!("VARCHAR({max_length})"),
            (Dialect::Postgres, ColumnType::Text) => "TEXT".into(),
            // MySQL's TEXT holds 64 KiB; a request body may carry more.
            (Dialect::Mysql, ColumnType::Text) => "LONGTEXT".into(),
            (Dialect::Postgres, ColumnType::Integer) => "INTEGER".into(),
            (Dialect::Mysql, ColumnType::Integer) => "INT".into(),
            (_, ColumnType::BigInt) => "BIGINT".into(),
            (Dialect::Postgres, ColumnType::Float) => "DOUBLE PRECISION".into(),
            (Dialect::Mysql, ColumnType::Float) => "DOUBLE".into(),
            (_, ColumnType::Boolean) => "BOOLEAN".into(),
            (Dialect::Postgres, ColumnType::Timestamp) => "TIMESTAMPTZ".into(),
            // Stored in UTC, microsecond precision.
            (Dialect::Mysql, ColumnType::Timestamp) => "DATETIME(6)".into(),
            (Dialect::Postgres, ColumnType::Json) => "JSONB".into(),
            (Dialect::Mysql, ColumnType::Json) => "JSON".into(),
        }
    }

    /// A literal for a DEFAULT clause. Values come from the stack file only.
    pub fn literal(self, ty: ColumnType, v: &Json) -> String {
        let text = |s: &str| {
            let s = s.replace('\'', "''");
            match self {
                // MySQL also treats backslash as an escape in string literals.
                Dialect::Mysql => format!("'{}'", s.replace('\\', "\\\\")),
                Dialect::Postgres => format!("'{s}'"),
            }
        };
        match param(ty, v) {
            Ok(Param::Int(i)) => i.to_string(),
            Ok(Param::Float(f)) => format!("{f:?}"),
            Ok(Param::Bool(b)) => if b { "TRUE" } else { "FALSE" }.into(),
            Ok(Param::Text(s)) => text(&s),
            Ok(Param::Json(j)) => text(&j.to_string()),
            Ok(Param::Timestamp(t)) => match self {
                Dialect::Postgres => text(&t.format(&Rfc3339).unwrap_or_default()),
                Dialect::Mysql => text(&mysql_datetime(t)),
            },
            _ => "NULL".into(),
        }
    }

    fn default_clause(self, c: &Column) -> String {
        let Some(d) = &c.default else {
            return String::new();
        };
        let lit = self.literal(c.ty, d);
        // MySQL 8 accepts defaults on TEXT/JSON only as expressions.
        if self == Dialect::Mysql && matches!(c.ty, ColumnType::Text | ColumnType::Json) {
            format!(" DEFAULT ({lit})")
        } else {
            format!(" DEFAULT {lit}")
        }
    }

    /// `name TYPE [identity] [NOT NULL] [DEFAULT]`; string columns compare
    /// bytewise on every engine, so ordering and equality agree with SQLite.
    pub fn column_decl(self, c: &Column, is_key: bool) -> String {
        let mut s = format!("{} {}", self.quote(&c.name), self.column_type(c));
        let textual = matches!(c.ty, ColumnType::String { .. } | ColumnType::Text);
        if textual && self == Dialect::Postgres {
            s.push_str(" COLLATE \"C\"");
        }
        if is_key && c.generated && c.ty.is_integer() {
            match self {
                Dialect::Postgres => s.push_str(" GENERATED BY DEFAULT AS IDENTITY"),
                Dialect::Mysql => s.push_str(" AUTO_INCREMENT"),
            }
        }
        if !c.nullable {
            s.push_str(" NOT NULL");
        }
        s.push_str(&self.default_clause(c));
        s
    }

    pub fn create_table(self, t: &TableSchema) -> Vec<String> {
        let mut cols: Vec<String> = t
            .columns
            .values()
            .map(|c| self.column_decl(c, c.name == t.key))
            .collect();
        cols.push(format!(
            "CONSTRAINT {} PRIMARY KEY ({})",
            self.quote(&format!("{}__pkey", t.name)),
            self.quote(&t.key)
        ));
        let suffix = match self {
            Dialect::Postgres => "",
            // Binary collation: case-sensitive keys and bytewise order, as elsewhere.
            Dialect::Mysql => " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
        };
        let mut sql = vec![format!(
            "CREATE TABLE {} ({}){suffix}",
            self.quote(&t.name),
            cols.join(", ")
        )];
        sql.extend(t.indexes.keys().map(|i| self.create_index(t, i)));
        sql
    }

    fn index_name(self, table: &str, index: &str) -> String {
        self.quote(&format!("{table}__{index}"))
    }

    pub fn create_index(self, t: &TableSchema, index: &str) -> String {
        let i = &t.indexes[index];
        let cols: Vec<String> = i
            .columns
            .iter()
            .map(|c| {
                let q = self.quote(c);
                // MySQL indexes TEXT and JSON only by a prefix.
                match (self, t.columns.get(c).map(|c| c.ty)) {
                    (Dialect::Mysql, Some(ColumnType::Text | ColumnType::Json)) => {
                        format!("{q}(255)")
                    }
                    _ => q,
                }
            })
            .collect();
        format!(
            "CREATE {}INDEX {} ON {} ({})",
            if i.unique { "UNIQUE " } else { "" },
            self.index_name(&t.name, index),
            self.quote(&t.name),
            cols.join(", ")
        )
    }

    pub fn drop_index(self, table: &str, index: &str) -> String {
        match self {
            Dialect::Postgres => format!("DROP INDEX IF EXISTS {}", self.index_name(table, index)),
            Dialect::Mysql => format!(
                "DROP INDEX {} ON {}",
                self.index_name(table, index),
                self.quote(table)
            ),
        }
    }

    pub fn add_column(self, table: &str, c: &Column) -> String {
        format!(
            "ALTER TABLE {} ADD COLUMN {}",
            self.quote(table),
            self.column_decl(c, false)
        )
    }

    pub fn drop_column(self, table: &str, column: &str) -> String {
        format!(
            "ALTER TABLE {} DROP COLUMN {}",
            self.quote(table),
            self.quote(column)
        )
    }

    pub fn drop_table(self, table: &str) -> String {
        format!("DROP TABLE {}", self.quote(table))
    }

    /// Statements changing a column's definition in place. NULLs in a column
    /// that becomes NOT NULL take its default first.
    pub fn alter_column(
        self,
        table: &str,
        have: &Column,
        want: &Column,
        is_key: bool,
    ) -> Vec<String> {
        let t = self.quote(table);
        let c = self.quote(&want.name);
        let mut sql = Vec::new();
        if have.nullable && !want.nullable {
            if let Some(d) = &want.default {
                sql.push(format!(
                    "UPDATE {t} SET {c} = {} WHERE {c} IS NULL",
                    self.literal(want.ty, d)
                ));
            }
        }
        match self {
            Dialect::Postgres => {
                if self.column_type(have) != self.column_type(want) {
                    sql.push(format!(
                        "ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty} USING {c}::{ty}",
                        ty = self.column_type(want)
                    ));
                }
                if have.nullable != want.nullable {
                    let verb = if want.nullable { "DROP" } else { "SET" };
                    sql.push(format!("ALTER TABLE {t} ALTER COLUMN {c} {verb} NOT NULL"));
                }
                if have.default != want.default {
                    sql.push(match &want.default {
                        Some(d) => format!(
                            "ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {}",
                            self.literal(want.ty, d)
                        ),
                        None => format!("ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT"),
                    });
                }
            }
            Dialect::Mysql => {
                sql.push(format!(
                    "ALTER TABLE {t} MODIFY COLUMN {}",
                    self.column_decl(want, is_key)
                ));
            }
        }
        sql
    }

    // ---- bookkeeping --------------------------------------------------

    pub fn internal_tables(self) -> [&'static str; 2] {
        match self {
            Dialect::Postgres => [
                "CREATE TABLE IF NOT EXISTS _stackwright_migrations (stack VARCHAR(64) NOT NULL, version BIGINT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), summary TEXT NOT NULL, schema TEXT NOT NULL, PRIMARY KEY (stack, version))",
                "CREATE TABLE IF NOT EXISTS _stackwright_seed_rows (table_name VARCHAR(64) NOT NULL, identity VARCHAR(64) NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), PRIMARY KEY (table_name, identity))",
            ],
            Dialect::Mysql => [
                "CREATE TABLE IF NOT EXISTS _stackwright_migrations (stack VARCHAR(64) NOT NULL, version BIGINT NOT NULL, applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), summary LONGTEXT NOT NULL, `schema` LONGTEXT NOT NULL, PRIMARY KEY (stack, version)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
                "CREATE TABLE IF NOT EXISTS _stackwright_seed_rows (table_name VARCHAR(64) NOT NULL, identity VARCHAR(64) NOT NULL, applied_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6), PRIMARY KEY (table_name, identity)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin",
            ],
        }
    }

    fn placeholders(self) -> [&'static str; 4] {
        match self {
            Dialect::Postgres => ["$1", "$2", "$3", "$4"],
            Dialect::Mysql => ["?", "?", "?", "?"],
        }
    }

    /// The schema recorded by the stack's last migration; binds the stack name.
    pub fn latest_schema(self) -> String {
        format!(
            "SELECT {} FROM _stackwright_migrations WHERE stack = {} ORDER BY version DESC LIMIT 1",
            self.quote("schema"),
            self.placeholders()[0]
        )
    }

    /// The stack's next migration version; binds the stack name.
    pub fn next_version(self) -> String {
        let cast = match self {
            Dialect::Postgres => "BIGINT",
            Dialect::Mysql => "SIGNED",
        };
        format!(
            "SELECT CAST(COALESCE(MAX(version), 0) + 1 AS {cast}) FROM _stackwright_migrations WHERE stack = {}",
            self.placeholders()[0]
        )
    }

    /// Binds stack, version, summary, schema.
    pub fn record_migration(self) -> String {
        let [a, b, c, d] = self.placeholders();
        format!(
            "INSERT INTO _stackwright_migrations (stack, version, summary, {}) VALUES ({a}, {b}, {c}, {d})",
            self.quote("schema")
        )
    }

    /// Record a seed row as applied unless it already is; binds table, identity.
    /// One affected row means this caller claimed it.
    pub fn claim_seed(self) -> &'static str {
        match self {
            Dialect::Postgres => {
                "INSERT INTO _stackwright_seed_rows (table_name, identity) VALUES ($1, $2) ON CONFLICT DO NOTHING"
            }
            Dialect::Mysql => {
                // Not ON DUPLICATE KEY UPDATE: with CLIENT_FOUND_ROWS it reports
                // an existing row as affected.
                "INSERT IGNORE INTO _stackwright_seed_rows (table_name, identity) VALUES (?, ?)"
            }
        }
    }

    pub fn forget_seeds(self) -> &'static str {
        match self {
            Dialect::Postgres => "DELETE FROM _stackwright_seed_rows WHERE table_name = $1",
            Dialect::Mysql => "DELETE FROM _stackwright_seed_rows WHERE table_name = ?",
        }
    }
}

/// One statement of a migration.
pub enum MigrationSql {
    Ddl(String),
    /// Forget the applied seed rows of a dropped table.
    ForgetSeeds(String),
}

/// The statements that carry out `plan` in `dialect`. Index drops come first:
/// MySQL removes an index together with its last column.
pub fn migration_statements(
    dialect: Dialect,
    plan: &crate::migrate::Plan,
    current: &crate::migrate::SchemaSnapshot,
    target: &crate::migrate::SchemaSnapshot,
) -> Result<Vec<MigrationSql>> {
    use crate::migrate::Step;
    let mut out = Vec::new();
    for step in &plan.steps {
        if let Step::DropIndex { table, index } = step {
            out.push(MigrationSql::Ddl(dialect.drop_index(table, index)));
        }
    }
    for step in &plan.steps {
        match step {
            Step::DropIndex { .. } => {}
            Step::CreateTable { table } => {
                out.extend(
                    dialect
                        .create_table(&target.tables[table])
                        .into_iter()
                        .map(MigrationSql::Ddl),
                );
            }
            Step::AddColumn { table, column } => {
                out.push(MigrationSql::Ddl(
                    dialect.add_column(table, &target.tables[table].columns[column]),
                ));
            }
            Step::CreateIndex { table, index } => {
                out.push(MigrationSql::Ddl(
                    dialect.create_index(&target.tables[table], index),
                ));
            }
            Step::ChangeColumn { table, column, .. } => {
                let have = &current.tables[table].columns[column];
                let want = &target.tables[table].columns[column];
                if have.generated != want.generated {
                    return Err(StorageError::Migration(format!(
                        "turning `generated` on or off for `{table}.{column}` is not supported on this engine; add a new column instead"
                    )));
                }
                let is_key = target.tables[table].key == *column;
                out.extend(
                    dialect
                        .alter_column(table, have, want, is_key)
                        .into_iter()
                        .map(MigrationSql::Ddl),
                );
            }
            Step::ChangeKey { table, .. } => {
                return Err(StorageError::Migration(format!(
                    "changing the key of `{table}` is not supported on this engine; create a new table and copy the rows"
                )));
            }
            Step::DropColumn { table, column } => {
                out.push(MigrationSql::Ddl(dialect.drop_column(table, column)))
            }
            Step::DropTable { table } => {
                out.push(MigrationSql::Ddl(dialect.drop_table(table)));
                out.push(MigrationSql::ForgetSeeds(table.clone()));
            }
        }
    }
    Ok(out)
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

    #[test]
    fn placeholders_follow_the_dialect() {
        let shape = Shape {
            table: "t".into(),
            key: "id".into(),
            key_ty: ColumnType::BigInt,
            generated_key: true,
            columns: vec![
                ("id".into(), ColumnType::BigInt),
                ("n".into(), ColumnType::Text),
            ],
        };
        let pg = Dialect::Postgres
            .list(&shape, &[("n", Json::from("x"))], &[], 5, 0)
            .unwrap();
        assert_eq!(
            pg.sql,
            r#"SELECT "id", "n" FROM "t" WHERE "n" = $1 LIMIT $2 OFFSET $3"#
        );
        let my = Dialect::Mysql
            .list(&shape, &[("n", Json::from("x"))], &[], 5, 0)
            .unwrap();
        assert_eq!(
            my.sql,
            "SELECT `id`, `n` FROM `t` WHERE `n` = ? AND `n` = CAST(? AS BINARY) LIMIT ? OFFSET ?"
        );
        assert_eq!(my.params.len(), 4);
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
