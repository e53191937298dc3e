//! Schema evolution, engine-agnostic: compare the schema recorded by the last
//! applied migration with the stack's tables and plan the steps between them.
//!
//! Engines apply a [`Plan`] in their own dialect, inside a transaction that
//! also records the new snapshot, so a restart resumes from a known state.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use stackwright_stack::{Column, ColumnType, Index, Stack};

use crate::error::StorageError;

/// The part of a table that lives in the database schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSchema {
    pub name: String,
    pub key: String,
    pub columns: IndexMap<String, Column>,
    pub indexes: IndexMap<String, Index>,
}

/// Every table of a stack, as recorded with each applied migration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SchemaSnapshot {
    /// Migrations are recorded per stack, so stacks can share a database.
    #[serde(default)]
    pub stack: String,
    pub tables: IndexMap<String, TableSchema>,
}

impl SchemaSnapshot {
    pub fn of(stack: &Stack) -> Self {
        SchemaSnapshot {
            stack: stack.name.clone(),
            tables: stack
                .tables
                .values()
                .map(|t| {
                    (
                        t.name.clone(),
                        TableSchema {
                            name: t.name.clone(),
                            key: t.key.clone(),
                            columns: t.columns.clone(),
                            indexes: t.indexes.clone(),
                        },
                    )
                })
                .chain(
                    // The embedded user pool's own tables.
                    stack
                        .users
                        .iter()
                        .flat_map(|_| stackwright_stack::Users::tables())
                        .map(|t| {
                            (
                                t.name.clone(),
                                TableSchema {
                                    name: t.name,
                                    key: t.key,
                                    columns: t.columns,
                                    indexes: t.indexes,
                                },
                            )
                        }),
                )
                .collect(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    CreateTable {
        table: String,
    },
    AddColumn {
        table: String,
        column: String,
    },
    CreateIndex {
        table: String,
        index: String,
    },
    /// Allowed values, max length growth, default: checked by the runtime,
    /// nothing (or nothing lossy) to change in storage.
    ChangeColumn {
        table: String,
        column: String,
        destructive: bool,
        why: String,
    },
    ChangeKey {
        table: String,
        from: String,
        to: String,
    },
    DropIndex {
        table: String,
        index: String,
    },
    DropColumn {
        table: String,
        column: String,
    },
    DropTable {
        table: String,
    },
}

impl Step {
    pub fn is_destructive(&self) -> bool {
        match self {
            Step::CreateTable { .. } | Step::AddColumn { .. } | Step::CreateIndex { .. } => false,
            Step::ChangeColumn { destructive, .. } => *destructive,
            Step::ChangeKey { .. }
            | Step::DropIndex { .. }
            | Step::DropColumn { .. }
            | Step::DropTable { .. } => true,
        }
    }

    pub fn table(&self) -> &str {
        match self {
            Step::CreateTable { table }
            | Step::AddColumn { table, .. }
            | Step::CreateIndex { table, .. }
            | Step::ChangeColumn { table, .. }
            | Step::ChangeKey { table, .. }
            | Step::DropIndex { table, .. }
            | Step::DropColumn { table, .. }
            | Step::DropTable { table } => table,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Step::CreateTable { table } => format!("create table `{table}`"),
            Step::AddColumn { table, column } => format!("add column `{table}.{column}`"),
            Step::CreateIndex { table, index } => format!("create index `{index}` on `{table}`"),
            Step::ChangeColumn {
                table, column, why, ..
            } => {
                format!("change column `{table}.{column}`: {why}")
            }
            Step::ChangeKey { table, from, to } => {
                format!("change the key of `{table}` from `{from}` to `{to}`")
            }
            Step::DropIndex { table, index } => format!("drop index `{index}` on `{table}`"),
            Step::DropColumn { table, column } => {
                format!("drop column `{table}.{column}` and its data")
            }
            Step::DropTable { table } => format!("drop table `{table}` and all its rows"),
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
    pub fn destructive(&self) -> Vec<String> {
        self.steps
            .iter()
            .filter(|s| s.is_destructive())
            .map(Step::describe)
            .collect()
    }
}

/// Steps from `current` (None: an empty database) to `target`, or an error
/// for a change that cannot be applied at all.
pub fn plan(current: Option<&SchemaSnapshot>, target: &SchemaSnapshot) -> Result<Plan, String> {
    let empty = SchemaSnapshot::default();
    let current = current.unwrap_or(&empty);
    let mut steps = Vec::new();
    for (name, want) in &target.tables {
        let Some(have) = current.tables.get(name) else {
            steps.push(Step::CreateTable {
                table: name.clone(),
            });
            continue;
        };
        if have.key != want.key {
            steps.push(Step::ChangeKey {
                table: name.clone(),
                from: have.key.clone(),
                to: want.key.clone(),
            });
        }
        for (col, want_col) in &want.columns {
            match have.columns.get(col) {
                None => {
                    if !want_col.nullable && want_col.stamp.is_some() {
                        return Err(format!(
                            "new column `{name}.{col}` is stamped with the time of each write, but existing rows have no such time; add `nullable = true`"
                        ));
                    }
                    if !want_col.nullable && want_col.default.is_none() && !want_col.generated {
                        return Err(format!(
                            "new column `{name}.{col}` is not nullable and has no default, so existing rows would have no value; add `default = ...` or `nullable = true`"
                        ));
                    }
                    steps.push(Step::AddColumn {
                        table: name.clone(),
                        column: col.clone(),
                    });
                }
                Some(have_col) if rescaled(have_col.ty, want_col.ty) => {
                    return Err(format!(
                        "column `{name}.{col}` changes its scale ({} -> {}); values would change meaning. Add a new column and copy the values instead",
                        have_col.ty, want_col.ty
                    ));
                }
                Some(have_col) if have_col != want_col => {
                    if let Some((destructive, why)) = column_change(have_col, want_col) {
                        steps.push(Step::ChangeColumn {
                            table: name.clone(),
                            column: col.clone(),
                            destructive,
                            why,
                        });
                    }
                }
                Some(_) => {}
            }
        }
        for (index, want_index) in &want.indexes {
            match have.indexes.get(index) {
                None => steps.push(Step::CreateIndex {
                    table: name.clone(),
                    index: index.clone(),
                }),
                Some(have_index) if have_index != want_index => {
                    steps.push(Step::DropIndex {
                        table: name.clone(),
                        index: index.clone(),
                    });
                    steps.push(Step::CreateIndex {
                        table: name.clone(),
                        index: index.clone(),
                    });
                }
                Some(_) => {}
            }
        }
        for index in have.indexes.keys() {
            if !want.indexes.contains_key(index) {
                steps.push(Step::DropIndex {
                    table: name.clone(),
                    index: index.clone(),
                });
            }
        }
        for col in have.columns.keys() {
            if !want.columns.contains_key(col) {
                steps.push(Step::DropColumn {
                    table: name.clone(),
                    column: col.clone(),
                });
            }
        }
    }
    for name in current.tables.keys() {
        if !target.tables.contains_key(name) {
            steps.push(Step::DropTable {
                table: name.clone(),
            });
        }
    }
    Ok(Plan { steps })
}

/// How a column definition changed: (destructive, description), or None
/// when nothing stored changes at all.
fn column_change(have: &Column, want: &Column) -> Option<(bool, String)> {
    let mut destructive = false;
    let mut why = Vec::new();
    if have.ty != want.ty {
        let widening = matches!(
            (have.ty, want.ty),
            (ColumnType::Integer, ColumnType::BigInt)
                | (ColumnType::String { .. }, ColumnType::Text)
        ) || matches!(
            (have.ty, want.ty),
            (ColumnType::String { max_length: a }, ColumnType::String { max_length: b }) if b >= a
        ) || matches!(
            (have.ty, want.ty),
            (ColumnType::Decimal { precision: a, .. }, ColumnType::Decimal { precision: b, .. }) if b >= a
        );
        destructive |= !widening;
        why.push(format!("type {} -> {}", have.ty, want.ty));
    }
    if have.nullable && !want.nullable {
        destructive = true;
        why.push("nullable -> not null".into());
    } else if !have.nullable && want.nullable {
        why.push("not null -> nullable".into());
    }
    if have.generated != want.generated {
        destructive = true;
        why.push(format!(
            "generated {} -> {}",
            have.generated, want.generated
        ));
    }
    if have.default != want.default {
        why.push("default value".into());
    }
    if have.stamp != want.stamp {
        why.push("stamped with the time of writes".into());
    }
    if have.allowed != want.allowed {
        why.push("allowed values (checked on writes)".into());
    }
    (!why.is_empty()).then(|| (destructive, why.join(", ")))
}

/// A decimal whose scale changes: SQLite holds whole units of the scale, so
/// the same stored number would mean another value.
fn rescaled(have: ColumnType, want: ColumnType) -> bool {
    matches!(
        (have, want),
        (ColumnType::Decimal { scale: a, .. }, ColumnType::Decimal { scale: b, .. }) if a != b
    )
}

/// The schema a migration recorded, as stored text.
pub fn recorded(text: Option<&str>) -> Result<Option<SchemaSnapshot>, StorageError> {
    text.map(serde_json::from_str)
        .transpose()
        .map_err(|e| StorageError::Migration(format!("recorded schema is unreadable: {e}")))
}

/// The plan from `current` to `target` as every engine applies it: None
/// when there is nothing to do; destructive steps refused unless allowed.
pub fn checked_plan(
    current: Option<&SchemaSnapshot>,
    target: &SchemaSnapshot,
    allow_destructive: bool,
) -> Result<Option<Plan>, StorageError> {
    let plan = plan(current, target).map_err(StorageError::Migration)?;
    if plan.is_empty() {
        return Ok(None);
    }
    let destructive = plan.destructive();
    if !destructive.is_empty() && !allow_destructive {
        return Err(StorageError::Destructive(destructive));
    }
    Ok(Some(plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stackwright_stack::Stamp;

    fn col(name: &str, ty: ColumnType, nullable: bool) -> Column {
        Column {
            name: name.into(),
            ty,
            nullable,
            default: None,
            allowed: None,
            generated: false,
            stamp: None,
        }
    }

    fn snap(cols: Vec<Column>) -> SchemaSnapshot {
        let mut s = SchemaSnapshot::default();
        s.tables.insert(
            "t".into(),
            TableSchema {
                name: "t".into(),
                key: "id".into(),
                columns: cols.into_iter().map(|c| (c.name.clone(), c)).collect(),
                indexes: IndexMap::new(),
            },
        );
        s
    }

    #[test]
    fn additive_changes_are_safe() {
        let a = snap(vec![col("id", ColumnType::BigInt, false)]);
        let b = snap(vec![
            col("id", ColumnType::BigInt, false),
            col("note", ColumnType::Text, true),
        ]);
        let p = plan(Some(&a), &b).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert!(p.destructive().is_empty());
    }

    #[test]
    fn drops_and_narrowing_are_destructive() {
        let a = snap(vec![
            col("id", ColumnType::BigInt, false),
            col("n", ColumnType::Text, true),
        ]);
        let b = snap(vec![col("id", ColumnType::Integer, false)]);
        let p = plan(Some(&a), &b).unwrap();
        let d = p.destructive();
        assert_eq!(d.len(), 2, "{d:?}");
        assert!(d.iter().any(|s| s.contains("drop column `t.n`")));
        assert!(d.iter().any(|s| s.contains("bigint -> integer")));
    }

    #[test]
    fn new_not_null_column_without_default_is_refused() {
        let a = snap(vec![col("id", ColumnType::BigInt, false)]);
        let b = snap(vec![
            col("id", ColumnType::BigInt, false),
            col("x", ColumnType::Text, false),
        ]);
        assert!(plan(Some(&a), &b).unwrap_err().contains("no default"));
    }

    #[test]
    fn a_stamp_added_to_existing_rows_must_be_nullable() {
        let a = snap(vec![col("id", ColumnType::BigInt, false)]);
        let stamped = |nullable| Column {
            stamp: Some(Stamp::Created),
            ..col("at", ColumnType::Timestamp, nullable)
        };
        let b = snap(vec![col("id", ColumnType::BigInt, false), stamped(false)]);
        let refused = plan(Some(&a), &b).unwrap_err();
        assert!(
            refused.contains("existing rows have no such time"),
            "{refused}"
        );
        let b = snap(vec![col("id", ColumnType::BigInt, false), stamped(true)]);
        assert!(plan(Some(&a), &b).unwrap().destructive().is_empty());
        // A new table has no rows to stamp.
        assert!(plan(
            None,
            &snap(vec![col("id", ColumnType::BigInt, false), stamped(false)])
        )
        .is_ok());
    }

    #[test]
    fn decimals_widen_but_never_rescale() {
        let dec = |precision, scale| ColumnType::Decimal { precision, scale };
        let a = snap(vec![
            col("id", ColumnType::BigInt, false),
            col("d", dec(10, 2), false),
        ]);
        let wider = snap(vec![
            col("id", ColumnType::BigInt, false),
            col("d", dec(12, 2), false),
        ]);
        let p = plan(Some(&a), &wider).unwrap();
        assert_eq!(p.steps.len(), 1);
        assert!(p.destructive().is_empty());
        let narrower = plan(Some(&wider), &a).unwrap();
        assert_eq!(narrower.destructive().len(), 1);
        let rescaled = snap(vec![
            col("id", ColumnType::BigInt, false),
            col("d", dec(12, 4), false),
        ]);
        let refused = plan(Some(&a), &rescaled).unwrap_err();
        assert!(refused.contains("changes its scale"), "{refused}");
    }
}
