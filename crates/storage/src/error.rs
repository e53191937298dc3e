//! What every storage operation returns: its error and its row. Apart from
//! the engine interface so that migrations, grants and the queue records,
//! which the interface names, can use them without naming the interface.

use indexmap::IndexMap;
use serde_json::Value as Json;
use stackwright_stack::Diagnostics;

/// One row: column name -> value, in the table's column order.
pub type Row = IndexMap<String, Json>;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database did not answer (connection refused, timed out, locked).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The transaction lost a deadlock or a serialization conflict with a
    /// concurrent one; running it again succeeds.
    #[error("transaction conflict: {0}")]
    Contention(String),
    /// A row with the same key (or unique index value) exists.
    #[error("a row with this key already exists")]
    Conflict,
    #[error("invalid page cursor")]
    BadCursor,
    /// The row is there, and the route's `where` does not hold for it.
    #[error("the row does not meet the route's condition")]
    ConditionFailed,
    /// A value is larger than the database can store (a MySQL TEXT, a
    /// DynamoDB item or key): the request's to change, not a fault.
    #[error("value too large for the database: {0}")]
    TooLarge(String),
    /// The stack asks for changes that would lose data.
    #[error("{}", describe_destructive(.0))]
    Destructive(Vec<String>),
    /// A schema change that cannot be applied as asked.
    #[error("cannot migrate: {0}")]
    Migration(String),
    #[error("invalid seed data:\n{0}")]
    Seed(Diagnostics),
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(String),
    /// The engine cannot do this (yet); the message says what instead.
    #[error("{0}")]
    Unsupported(String),
    /// Anything else; the message is for logs, not for API clients.
    #[error("database error: {0}")]
    Internal(String),
}

fn describe_destructive(changes: &[String]) -> String {
    let mut s = String::from("refusing destructive schema changes (they would lose data):");
    for c in changes {
        s.push_str("\n  - ");
        s.push_str(c);
    }
    s.push_str("\nre-run with --allow-destructive to apply them");
    s
}

pub type Result<T, E = StorageError> = std::result::Result<T, E>;
