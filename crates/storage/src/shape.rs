//! A table's columns as every engine needs them for statements about its
//! rows: owned, so it crosses onto SQLite's blocking threads. Each engine
//! adds its own conversions (`sqlx_engines`, `sqlite`) in its own module.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use serde_json::Value as Json;
use stackwright_stack::{ColumnType, Stamp, Table};

use crate::engine::{Result, Row, StorageError};

/// What an engine makes once per table from its shape (statements, quoted
/// column lists), kept by [`Tables`].
pub(crate) trait Shaped {
    fn shape(&self) -> &Shape;
}

/// Each table's shape and what an engine makes from it, made on first use
/// and again when a migration in this process changed the table: a request
/// otherwise rebuilt them (a dozen allocations and a `format!` per read).
pub(crate) struct Tables<T>(RwLock<HashMap<String, Arc<T>>>);

impl<T> Default for Tables<T> {
    fn default() -> Self {
        Tables(RwLock::default())
    }
}

impl<T: Shaped> Tables<T> {
    pub(crate) fn of(&self, table: &Table, make: impl FnOnce(Shape) -> T) -> Arc<T> {
        let made = self.0.read().unwrap_or_else(PoisonError::into_inner);
        if let Some(made) = made.get(&table.name) {
            if made.shape().describes(table) {
                return made.clone();
            }
        }
        drop(made);
        let made = Arc::new(make(Shape::of(table)));
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(table.name.clone(), made.clone());
        made
    }
}

#[derive(Debug, Clone)]
pub struct Shape {
    pub table: String,
    pub key: String,
    pub key_ty: ColumnType,
    pub generated_key: bool,
    pub columns: Vec<(String, ColumnType)>,
    /// The columns' names, in the order rows hold their values: shared by
    /// every page read with this shape.
    pub(crate) names: Arc<[String]>,
    /// Columns stamped on create (`default = "now"`): an upsert that finds
    /// the row leaves them as they are.
    pub created: Vec<String>,
}

impl Shape {
    pub fn of(t: &Table) -> Self {
        Shape {
            table: t.name.clone(),
            key: t.key.clone(),
            key_ty: t.key_column().ty,
            generated_key: t.key_column().generated,
            columns: t.columns.values().map(|c| (c.name.clone(), c.ty)).collect(),
            names: t.columns.values().map(|c| c.name.clone()).collect(),
            created: t
                .columns
                .values()
                .filter(|c| c.stamp == Some(Stamp::Created))
                .map(|c| c.name.clone())
                .collect(),
        }
    }

    /// Whether this is still `t`'s shape: the same table, key and columns
    /// (a migration run by the same process may have changed them).
    pub fn describes(&self, t: &Table) -> bool {
        self.table == t.name
            && self.key == t.key
            && self.columns.len() == t.columns.len()
            && self
                .columns
                .iter()
                .zip(t.columns.values())
                .all(|((name, ty), c)| *name == c.name && *ty == c.ty)
    }

    /// The columns an upsert that finds its row sets: all but the key and
    /// the creation stamps.
    pub fn replaced(&self, column: &str) -> bool {
        column != self.key && !self.created.iter().any(|c| c == column)
    }

    /// The columns' names, in the order rows hold their values.
    pub fn names(&self) -> Arc<[String]> {
        self.names.clone()
    }

    /// A row's values (in the order of the columns) as a map.
    pub fn row_of(&self, values: Vec<Json>) -> Row {
        self.columns
            .iter()
            .map(|(c, _)| c.clone())
            .zip(values)
            .collect()
    }

    /// The type of a column the request names (checked against the stack
    /// before it gets here, so an unknown one is our fault).
    pub fn ty(&self, column: &str) -> Result<ColumnType> {
        self.columns
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, t)| *t)
            .ok_or_else(|| StorageError::Internal(format!("unknown column {column}")))
    }

    /// Whether the database assigns the key (auto-increment / identity).
    pub fn database_generates_key(&self, row: &Row) -> bool {
        self.generated_key && self.key_ty.is_integer() && !row.contains_key(&self.key)
    }

    /// Whether a key is to be generated here (a UUID for a string key).
    pub fn generates_uuid(&self, row: &Row) -> bool {
        self.generated_key && !self.key_ty.is_integer() && !row.contains_key(&self.key)
    }
}
