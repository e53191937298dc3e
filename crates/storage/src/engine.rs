//! The interface every storage engine implements.
//!
//! Operations are key- or index-addressed so they map onto SQL dialects and
//! DynamoDB alike; values travel as JSON and each engine converts them using
//! the column types of the [`Table`].

use async_trait::async_trait;
use serde::Serialize;
use serde_json::Value as Json;
use stackwright_stack::{Comparison, Order, RangeOp, Subscription, Table};

pub use crate::error::{Result, Row, StorageError};
use crate::migrate::SchemaSnapshot;
pub use crate::page::{Cells, Page};
use crate::queue::{DeadLetter, Delivery, Enqueued, Message};

/// A list request: equality filters, bounds, order and one page.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    /// column = value, all of which must hold.
    pub filters: Vec<(&'a str, Json)>,
    /// Bounds on columns (`due > V`, `title` starting with `V`), all of
    /// which must hold; a NULL meets none of them.
    pub ranges: Vec<Bound<'a>>,
    /// The order, the key last (so no two rows tie).
    pub order_by: &'a [Order],
    pub limit: u32,
    /// Where the previous page ended: its [`Page::next`], as this engine
    /// made it (see [`crate::paging`]).
    pub after: Option<&'a Row>,
}

/// One bound of a list: `column OP value`, the value fitting the column.
#[derive(Debug, Clone)]
pub struct Bound<'a> {
    pub column: &'a str,
    pub op: RangeOp,
    pub value: Json,
}

/// A change computed for one update request, with concrete values.
#[derive(Debug, Clone)]
pub enum Assignment {
    Set(String, Json),
    Increment(String, i64),
}

/// A seed row and the identity under which its application is recorded.
#[derive(Debug, Clone)]
pub struct SeedRow {
    pub identity: String,
    pub row: Row,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrationOutcome {
    /// Version recorded for this run's changes, when there were any.
    pub version: Option<i64>,
    /// What was changed, one line a step.
    pub applied: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct SeedOutcome {
    pub table: String,
    pub inserted: usize,
    /// Rows applied by an earlier run (and never re-applied).
    pub already_applied: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    Sqlite,
    Postgres,
    Mysql,
    Redshift,
    Dynamodb,
}

#[async_trait]
pub trait Engine: Send + Sync + 'static {
    fn kind(&self) -> EngineKind;

    /// Cheap round trip proving the database answers.
    async fn ping(&self) -> Result<()>;

    /// Bring the schema to `target`, atomically and safe against concurrent
    /// migrators; refuse destructive steps unless `allow_destructive`.
    async fn migrate(
        &self,
        target: &SchemaSnapshot,
        allow_destructive: bool,
    ) -> Result<MigrationOutcome>;

    /// Insert the seed rows not applied before; never touch rows otherwise.
    async fn seed(&self, table: &Table, rows: Vec<SeedRow>) -> Result<SeedOutcome>;

    /// The schema the stack's last migration produced, None before the
    /// first. For a runtime that does not migrate (the deployed one: the
    /// migration runs once per deploy, as the administrator).
    async fn applied_schema(&self, _stack: &str) -> Result<Option<SchemaSnapshot>> {
        Err(StorageError::Unsupported(format!(
            "{:?} databases are always migrated by the runtime",
            self.kind()
        )))
    }

    /// Make (or update) `user` with read and write access to the stack's
    /// rows and nothing else; run as the administrator, after migrating.
    async fn grant_app_user(&self, _user: &crate::grants::AppUser) -> Result<()> {
        Err(StorageError::Unsupported(format!(
            "{:?} has no database users to grant",
            self.kind()
        )))
    }

    async fn get(&self, table: &Table, key: &Json) -> Result<Option<Row>>;

    /// The row with key `key` as a page of one row, to be written out as it
    /// is (a get route's answer): an engine that can writes its values'
    /// JSON straight from the driver, with no map made for the row.
    async fn get_page(&self, table: &Table, key: &Json) -> Result<Option<Page>> {
        Ok(self
            .get(table, key)
            .await?
            .map(|row| Page::of_row(table, &row))
            .transpose()?)
    }

    async fn list(&self, table: &Table, query: &ListQuery<'_>) -> Result<Page>;

    /// Whether [`Engine::count`] answers: exactly, without reading every row.
    fn counts(&self) -> bool {
        true
    }

    /// How many rows meet the query's filters and bounds (its order, page
    /// and position aside).
    async fn count(&self, _table: &Table, _query: &ListQuery<'_>) -> Result<u64> {
        Err(StorageError::Unsupported(format!(
            "{:?} cannot count a list's rows without reading every one",
            self.kind()
        )))
    }

    /// Insert a row (generated key filled in by the engine) and return it whole.
    async fn insert(&self, table: &Table, row: Row) -> Result<Row>;

    /// Apply the assignments to the row with `key`; `None` when there is no such row.
    async fn update(
        &self,
        table: &Table,
        key: &Json,
        changes: &[Assignment],
    ) -> Result<Option<Row>> {
        self.update_where(table, key, changes, &[]).await
    }

    /// As [`Engine::update`], only where every comparison of `condition`
    /// holds, in the same atomic write; [`StorageError::ConditionFailed`]
    /// when the row is there and one does not.
    async fn update_where(
        &self,
        table: &Table,
        key: &Json,
        changes: &[Assignment],
        condition: &[Comparison],
    ) -> Result<Option<Row>>;

    /// Delete the row with `key`; false when there was none.
    async fn delete(&self, table: &Table, key: &Json) -> Result<bool> {
        self.delete_where(table, key, &[]).await
    }

    /// As [`Engine::delete`], only where `condition` holds (as for
    /// [`Engine::update_where`]).
    async fn delete_where(
        &self,
        table: &Table,
        key: &Json,
        condition: &[Comparison],
    ) -> Result<bool>;

    /// The engine's store for topic messages; None for an engine without
    /// one (DynamoDB), whose stacks `check` refuses subscriptions for.
    fn queue(&self) -> Option<&dyn Queue>;

    /// Whether the queue also delivers locally (publish, deliver, dead
    /// letters); false where messages arrive only from SQS (Redshift).
    fn queues_locally(&self) -> bool {
        self.queue().is_some()
    }

    /// The queue, or why this engine has none.
    fn require_queue(&self) -> Result<&dyn Queue> {
        self.queue().ok_or_else(|| no_topics(self.kind()))
    }
}

/// Durable topic delivery in the stack's own database (see [`crate::queue`]).
#[async_trait]
pub trait Queue: Send + Sync {
    /// Store `messages` for delivery to each of `subscriptions`, durably,
    /// before returning. A message whose id is already queued or applied
    /// for a subscription is not stored again.
    async fn enqueue(&self, subscriptions: &[&str], messages: &[Message]) -> Result<Enqueued>;

    /// Apply up to `limit` due messages of `sub` to `table` (see [`crate::queue`]).
    async fn deliver(&self, sub: &Subscription, table: &Table, limit: usize) -> Result<Delivery>;

    /// Apply one message delivered by an outside queue (SQS) to `table`, in
    /// one transaction with its applied record. `Ok(false)`: applied before
    /// (a redelivery), nothing done.
    async fn apply_message(
        &self,
        sub: &Subscription,
        table: &Table,
        message: &Message,
    ) -> Result<bool>;

    /// Messages of `sub` waiting for delivery (due or backing off).
    async fn queued(&self, sub: &str) -> Result<u64>;

    /// Dead letters, of one subscription or all, oldest first.
    async fn dead_letters(&self, sub: Option<&str>) -> Result<Vec<DeadLetter>>;

    /// Queue dead letters again (all of `sub`, or those with `ids`), with
    /// their attempts reset; returns how many.
    async fn redrive(&self, sub: Option<&str>, ids: &[String]) -> Result<usize>;

    /// Forget the ids of messages applied before `before_ms` (see
    /// [`crate::queue::APPLIED_RETENTION_MS`]); returns how many.
    async fn forget_applied(&self, before_ms: i64) -> Result<u64>;
}

/// Why a conditional write touched nothing: the row is missing (`None`),
/// or it is there and the condition does not hold.
pub(crate) async fn missing_or_failed<E: Engine + ?Sized>(
    engine: &E,
    table: &Table,
    key: &Json,
) -> Result<Option<Row>> {
    match engine.get(table, key).await? {
        None => Ok(None),
        Some(_) => Err(StorageError::ConditionFailed),
    }
}

/// A conditional delete's answer from the rows it deleted.
pub(crate) async fn deleted<E: Engine + ?Sized>(
    engine: &E,
    (table, key): (&Table, &Json),
    condition: &[Comparison],
    rows: u64,
) -> Result<bool> {
    match rows {
        0 if !condition.is_empty() => missing_or_failed(engine, table, key).await.map(|_| false),
        n => Ok(n > 0),
    }
}

/// A conditional update's answer from the row it wrote, if any.
pub(crate) async fn updated<E: Engine + ?Sized>(
    engine: &E,
    (table, key): (&Table, &Json),
    condition: &[Comparison],
    row: Option<Row>,
) -> Result<Option<Row>> {
    match row {
        None if !condition.is_empty() => missing_or_failed(engine, table, key).await,
        row => Ok(row),
    }
}

fn no_topics(kind: EngineKind) -> StorageError {
    StorageError::Unsupported(format!(
        "topics and subscriptions need a SQL database; the {kind:?} engine cannot hold them yet"
    ))
}
