//! Storage for a stack: engines behind one [`Engine`] interface, schema
//! migrations planned from the stack file, and idempotent seed data.

#![warn(clippy::too_many_lines)]

pub mod dynamodb;
pub mod engine;
mod error;
pub mod grants;
pub mod local;
pub mod migrate;
mod paging;
pub mod queue;
pub mod seed;
pub mod shape;
pub mod sql;
pub mod sqlite;
mod sqlx_engines;
mod url;

use std::sync::Arc;

pub use engine::*;
pub use sqlx_engines::{mysql, postgres, redshift, PoolSettings};
pub use url::{redact, DatabaseUrl, ServerUrl};

use serde::Serialize;
use stackwright_stack::Stack;

/// Connections per pool for the embedded SQLite engine.
const SQLITE_POOL_SIZE: usize = 8;

/// Open the engine a database URL names (connecting to a server engine).
pub async fn open(url: &DatabaseUrl) -> Result<Arc<dyn Engine>> {
    let pool = PoolSettings::default();
    Ok(match url {
        DatabaseUrl::Sqlite { path } => {
            Arc::new(sqlite::SqliteEngine::open(path, SQLITE_POOL_SIZE)?)
        }
        DatabaseUrl::Postgres(u) => Arc::new(
            postgres::PostgresEngine::connect(u, &pool)
                .await
                .map_err(|e| connect_error(url, e))?,
        ),
        DatabaseUrl::Mysql(u) => Arc::new(
            mysql::MysqlEngine::connect(u, &pool)
                .await
                .map_err(|e| connect_error(url, e))?,
        ),
        DatabaseUrl::Redshift(u) => Arc::new(
            redshift::RedshiftEngine::connect(u, &pool)
                .await
                .map_err(|e| connect_error(url, e))?,
        ),
        DatabaseUrl::Dynamodb(u) => Arc::new(
            dynamodb::DynamoEngine::connect(u)
                .await
                .map_err(|e| connect_error(url, e))?,
        ),
    })
}

/// Name the (redacted) server in a failure to connect to it.
fn connect_error(url: &DatabaseUrl, e: StorageError) -> StorageError {
    match e {
        StorageError::Unavailable(why) | StorageError::Internal(why) => {
            StorageError::Unavailable(format!("cannot connect to {url}: {why}"))
        }
        other => other,
    }
}

/// Check that the database holds the stack's schema, changing nothing:
/// what a runtime that does not migrate checks at start.
pub async fn verify_migrated(engine: &dyn Engine, stack: &Stack) -> Result<()> {
    let target = migrate::SchemaSnapshot::of(stack);
    match engine.applied_schema(&target.stack).await? {
        Some(applied) if applied == target => Ok(()),
        Some(_) => Err(StorageError::Migration(format!(
            "the database holds another schema of `{}` than this runtime serves (an older one: run the migration first, with `stackwright migrate` or the deploy's migration step; a newer one: this runtime is outdated)",
            stack.name
        ))),
        None => Err(StorageError::Migration(format!(
            "the database has not been migrated for `{}`: run the migration first (`stackwright migrate`, or the deploy's migration step)",
            stack.name
        ))),
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
