//! Storage for a stack: engines behind one [`Engine`] interface, schema
//! migrations planned from the stack file, and idempotent seed data.

pub mod engine;
pub mod migrate;
pub mod seed;
pub mod sqlite;
mod url;

use std::sync::Arc;

pub use engine::*;
pub use url::DatabaseUrl;

use serde::Serialize;
use stackwright_stack::Stack;

/// Connections per pool for the embedded SQLite engine.
const SQLITE_POOL_SIZE: usize = 8;

/// Open the engine a database URL names.
pub fn open(url: &DatabaseUrl) -> Result<Arc<dyn Engine>> {
    match url {
        DatabaseUrl::Sqlite { path } => Ok(Arc::new(sqlite::SqliteEngine::open(
            path,
            SQLITE_POOL_SIZE,
        )?)),
    }
}

/// What preparing a database did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrepareReport {
    pub migration: MigrationOutcome,
    pub seeds: Vec<SeedOutcome>,
}

/// Bring the database to the stack's schema and apply new seed rows.
///
/// Seed files are read and checked before anything is written, so a bad
/// seed file changes nothing.
pub async fn prepare(
    engine: &dyn Engine,
    stack: &Stack,
    allow_destructive: bool,
) -> Result<PrepareReport> {
    let seeds = seed::load_all(stack).map_err(StorageError::Seed)?;
    let target = migrate::SchemaSnapshot::of(stack);
    let migration = engine.migrate(&target, allow_destructive).await?;
    let mut report = PrepareReport {
        migration,
        seeds: Vec::new(),
    };
    for (table, rows) in seeds {
        report.seeds.push(engine.seed(table, rows).await?);
    }
    Ok(report)
}
