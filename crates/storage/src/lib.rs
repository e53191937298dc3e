//! Storage for a stack: engines behind one [`Engine`] interface, schema
//! migrations planned from the stack file, and idempotent seed data.

#![warn(clippy::too_many_lines)]

mod condition;
pub mod dynamodb;
pub mod engine;
mod error;
pub mod grants;
pub mod local;
pub mod migrate;
pub mod page;
mod paging;
pub mod queue;
mod range;
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

/// Where a stack's users are kept, which decides whether the embedded
/// pool's tables belong to its schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserTables {
    /// The embedded pool (`up`): its tables are the stack's.
    Embedded,
    /// Cognito (a deployed environment): the pool's tables are neither made
    /// nor dropped. Made on DynamoDB they would be tables outside the
    /// templates, which the migration may not create and `destroy` would
    /// leave behind; those an earlier version made stay as they are.
    Elsewhere,
}

/// The schema the database must hold for `stack`.
async fn target_schema(
    engine: &dyn Engine,
    stack: &Stack,
    users: UserTables,
) -> Result<migrate::SchemaSnapshot> {
    let mut target = migrate::SchemaSnapshot::of(stack);
    if users == UserTables::Elsewhere && stack.users.is_some() {
        // An engine that keeps no snapshot (DynamoDB: its tables are the
        // templates') has none of the pool's tables to keep.
        let applied = match engine.applied_schema(&stack.name).await {
            Ok(applied) => applied.unwrap_or_default(),
            Err(StorageError::Unsupported(_)) => migrate::SchemaSnapshot::default(),
            Err(e) => return Err(e),
        };
        let pool: Vec<String> = stackwright_stack::Users::tables()
            .into_iter()
            .map(|t| t.name)
            .collect();
        target
            .tables
            .retain(|name, _| !pool.contains(name) || applied.tables.contains_key(name));
    }
    Ok(target)
}

/// Check that the database holds the stack's schema, changing nothing:
/// what a runtime that does not migrate checks at start.
pub async fn verify_migrated(engine: &dyn Engine, stack: &Stack, users: UserTables) -> Result<()> {
    let target = target_schema(engine, stack, users).await?;
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
    prepare_for(engine, stack, allow_destructive, UserTables::Embedded).await
}

/// [`prepare`], with the users kept where `users` says.
pub async fn prepare_for(
    engine: &dyn Engine,
    stack: &Stack,
    allow_destructive: bool,
    users: UserTables,
) -> Result<PrepareReport> {
    let seeds = seed::load_all(stack).map_err(StorageError::Seed)?;
    let target = target_schema(engine, stack, users).await?;
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
