//! SQLite's schema: Stackwright's own tables, and migrations (SQLite
//! changes a column by rebuilding its table, inside the migration's
//! transaction).

use std::collections::BTreeSet;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value as Json;
use stackwright_stack::{Column, ColumnType};
use time::format_description::well_known::Rfc3339;

use super::{map_err, queue, quote, to_sql};
use crate::engine::*;
use crate::migrate::{self, SchemaSnapshot, Step, TableSchema};

pub(super) fn index_name(table: &str, index: &str) -> String {
    quote(&format!("{table}__{index}"))
}

pub(super) fn storage_class(ty: ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer
        | ColumnType::BigInt
        | ColumnType::Boolean
        | ColumnType::Decimal { .. } => "INTEGER",
        ColumnType::Float => "REAL",
        ColumnType::String { .. }
        | ColumnType::Text
        | ColumnType::Timestamp
        | ColumnType::Json
        | ColumnType::Date
        | ColumnType::Uuid => "TEXT",
    }
}

/// A literal for a DEFAULT clause. Values come from the stack file only.
pub(super) fn literal(ty: ColumnType, v: &Json) -> String {
    match to_sql(ty, v) {
        Ok(SqlValue::Integer(i)) => i.to_string(),
        Ok(SqlValue::Real(f)) => format!("{f:?}"),
        Ok(SqlValue::Text(s)) => format!("'{}'", s.replace('\'', "''")),
        _ => "NULL".into(),
    }
}

pub(super) fn column_decl(c: &Column, is_key: bool, with_default: bool) -> String {
    let mut s = format!("{} {}", quote(&c.name), storage_class(c.ty));
    if is_key {
        s.push_str(" PRIMARY KEY");
        if c.generated && c.ty.is_integer() {
            s.push_str(" AUTOINCREMENT");
        }
    }
    if !c.nullable {
        s.push_str(" NOT NULL");
    }
    if let (true, Some(d)) = (with_default, &c.default) {
        s.push_str(" DEFAULT ");
        s.push_str(&literal(c.ty, d));
    }
    s
}

pub(super) fn create_table_sql(t: &TableSchema, name: &str) -> String {
    let cols: Vec<String> = t
        .columns
        .values()
        .map(|c| column_decl(c, c.name == t.key, true))
        .collect();
    format!("CREATE TABLE {} ({}) STRICT", quote(name), cols.join(", "))
}

pub(super) fn create_index_sql(t: &TableSchema, index: &str) -> String {
    let i = &t.indexes[index];
    let cols: Vec<String> = i.columns.iter().map(|c| quote(c)).collect();
    format!(
        "CREATE {}INDEX {} ON {} ({})",
        if i.unique { "UNIQUE " } else { "" },
        index_name(&t.name, index),
        quote(&t.name),
        cols.join(", ")
    )
}

pub(super) fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&Rfc3339)
        .unwrap_or_default()
}

pub(super) const INTERNAL_TABLES: &str = "
CREATE TABLE IF NOT EXISTS _stackwright_migrations (
    stack TEXT NOT NULL,
    version INTEGER NOT NULL,
    applied_at TEXT NOT NULL,
    summary TEXT NOT NULL,
    schema TEXT NOT NULL,
    PRIMARY KEY (stack, version)
) STRICT;
CREATE TABLE IF NOT EXISTS _stackwright_seed_rows (
    table_name TEXT NOT NULL,
    identity TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (table_name, identity)
) STRICT;
";

pub(super) fn apply_migration(
    conn: &mut Connection,
    target: &SchemaSnapshot,
    allow_destructive: bool,
) -> Result<MigrationOutcome> {
    // IMMEDIATE takes the write lock first, so concurrent migrators queue up
    // and each plans against what the previous one committed.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(map_err)?;
    tx.execute_batch(INTERNAL_TABLES).map_err(map_err)?;
    tx.execute_batch(queue::TABLES).map_err(map_err)?;
    let current: Option<String> = tx
        .query_row(
            "SELECT schema FROM _stackwright_migrations WHERE stack = ? ORDER BY version DESC LIMIT 1",
            [&target.stack],
            |r| r.get::<_, String>(0),
        )
        .optional()
        .map_err(map_err)?;
    let current = migrate::recorded(current.as_deref())?;
    let Some(plan) = migrate::checked_plan(current.as_ref(), target, allow_destructive)? else {
        return Ok(MigrationOutcome::default());
    };
    let empty = SchemaSnapshot::default();
    let current = current.as_ref().unwrap_or(&empty);

    // Changes SQLite cannot make in place are done by rebuilding the table.
    let mut rebuild = BTreeSet::new();
    for step in &plan.steps {
        match step {
            Step::ChangeKey { table, .. } | Step::DropColumn { table, .. } => {
                rebuild.insert(table.clone());
            }
            Step::ChangeColumn { table, column, .. } => {
                let have = &current.tables[table].columns[column];
                let want = &target.tables[table].columns[column];
                let key = &target.tables[table].key;
                if column_decl(have, column == key, false)
                    != column_decl(want, column == key, false)
                {
                    rebuild.insert(table.clone());
                }
            }
            _ => {}
        }
    }
    for step in &plan.steps {
        let sql = match step {
            Step::CreateTable { table } => {
                let t = &target.tables[table];
                let mut sql = vec![create_table_sql(t, table)];
                sql.extend(t.indexes.keys().map(|i| create_index_sql(t, i)));
                sql
            }
            Step::AddColumn { table, column } if !rebuild.contains(table) => {
                let t = &target.tables[table];
                vec![format!(
                    "ALTER TABLE {} ADD COLUMN {}",
                    quote(table),
                    column_decl(&t.columns[column], false, true)
                )]
            }
            Step::CreateIndex { table, index } if !rebuild.contains(table) => {
                vec![create_index_sql(&target.tables[table], index)]
            }
            Step::DropIndex { table, index } => {
                vec![format!("DROP INDEX IF EXISTS {}", index_name(table, index))]
            }
            Step::DropTable { table } => {
                tx.execute(
                    "DELETE FROM _stackwright_seed_rows WHERE table_name = ?",
                    [table],
                )
                .map_err(map_err)?;
                vec![format!("DROP TABLE {}", quote(table))]
            }
            _ => vec![],
        };
        for s in sql {
            tx.execute_batch(&s)
                .map_err(|e| StorageError::Migration(format!("{}: {e}", step.describe())))?;
        }
    }
    for table in &rebuild {
        rebuild_table(&tx, &current.tables[table], &target.tables[table])?;
    }
    let summary: Vec<String> = plan.steps.iter().map(Step::describe).collect();
    let version: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM _stackwright_migrations WHERE stack = ?",
            [&target.stack],
            |r| r.get(0),
        )
        .map_err(map_err)?;
    tx.execute(
        "INSERT INTO _stackwright_migrations (stack, version, applied_at, summary, schema) VALUES (?, ?, ?, ?, ?)",
        rusqlite::params![
            target.stack,
            version,
            now(),
            summary.join("\n"),
            serde_json::to_string(target).expect("schema serializes")
        ],
    )
    .map_err(map_err)?;
    tx.commit().map_err(map_err)?;
    Ok(MigrationOutcome {
        version: Some(version),
        applied: summary,
    })
}

/// Copy a table into a new definition: the way SQLite changes types,
/// constraints and keys. Values convert with CAST; NULLs in a column that
/// became NOT NULL take its default.
pub(super) fn rebuild_table(
    tx: &rusqlite::Transaction<'_>,
    have: &TableSchema,
    want: &TableSchema,
) -> Result<()> {
    let temp = format!("{}__stackwright_new", want.name);
    let mut into = Vec::new();
    let mut select = Vec::new();
    for (name, col) in &want.columns {
        let Some(old) = have.columns.get(name) else {
            continue;
        };
        let mut expr = quote(name);
        if storage_class(old.ty) != storage_class(col.ty) {
            expr = format!("CAST({expr} AS {})", storage_class(col.ty));
        }
        if let (false, Some(d)) = (col.nullable, &col.default) {
            expr = format!("COALESCE({expr}, {})", literal(col.ty, d));
        }
        into.push(quote(name));
        select.push(expr);
    }
    let mut sql = vec![
        create_table_sql(want, &temp),
        format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            quote(&temp),
            into.join(", "),
            select.join(", "),
            quote(&have.name)
        ),
        format!("DROP TABLE {}", quote(&have.name)),
        format!(
            "ALTER TABLE {} RENAME TO {}",
            quote(&temp),
            quote(&want.name)
        ),
    ];
    sql.extend(want.indexes.keys().map(|i| create_index_sql(want, i)));
    for s in sql {
        tx.execute_batch(&s).map_err(|e| {
            StorageError::Migration(format!("rebuilding table `{}`: {e}", want.name))
        })?;
    }
    Ok(())
}
