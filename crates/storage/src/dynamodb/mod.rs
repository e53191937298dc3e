//! DynamoDB through the AWS SDK for Rust.
//!
//! Each stack table is a DynamoDB table keyed by the stack key (a partition
//! key); each secondary index is a GSI (first column partition key, second
//! sort key). Increments are atomic `ADD` updates; generated integer keys
//! come from an atomic counter. Stackwright's own records (migrations, seed
//! claims, counters, the migration lock) live in one table, `PREFIX_stackwright`.
//!
//! Lists page natively, reading only what a page holds (see `list`).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use serde_json::Value as Json;
use stackwright_stack::{CompareOp, Comparison, Operand, Table};

use crate::engine::*;
use crate::migrate::SchemaSnapshot;

mod list;
mod queue;
mod schema;

pub use list::ReadTotals;
mod values;

use values::*;

/// Where a DynamoDB stack lives: region, optional endpoint (emulators), table prefix.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DynamoUrl {
    pub region: Option<String>,
    pub endpoint: Option<String>,
    pub prefix: String,
}

impl DynamoUrl {
    /// `dynamodb://[REGION][?endpoint=URL][&prefix=P]`.
    pub fn parse(s: &str) -> std::result::Result<Self, String> {
        let rest = s
            .strip_prefix("dynamodb://")
            .ok_or("expected dynamodb://REGION")?;
        let (region, query) = rest.split_once('?').unwrap_or((rest, ""));
        let region = region.trim_end_matches('/');
        let mut url = DynamoUrl {
            region: (!region.is_empty()).then(|| region.to_string()),
            endpoint: None,
            prefix: String::new(),
        };
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query)
            .map_err(|_| "invalid query string in dynamodb:// URL")?;
        for (k, v) in pairs {
            match k.as_str() {
                "endpoint" => url.endpoint = Some(v),
                "prefix"
                    if v.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)) =>
                {
                    url.prefix = v
                }
                "prefix" => return Err("prefix may hold letters, digits, `_`, `-` and `.`".into()),
                other => {
                    return Err(format!(
                        "unknown dynamodb:// URL option `{other}`; expected endpoint or prefix"
                    ))
                }
            }
        }
        Ok(url)
    }

    fn is_loopback(&self) -> bool {
        self.endpoint.as_deref().is_some_and(|e| {
            let host = e.split("://").nth(1).unwrap_or(e);
            host.starts_with("127.") || host.starts_with("localhost") || host.starts_with("[::1]")
        })
    }
}

pub struct DynamoEngine {
    client: Client,
    prefix: String,
    reads: list::Reads,
}

const META_KEY: &str = "id";
/// How long a migrator waits for another one, and how long a lock lives if its holder dies.
const LOCK_WAIT: Duration = Duration::from_secs(120);
const LOCK_LEASE_SECS: i64 = 300;

impl DynamoEngine {
    pub async fn connect(url: &DynamoUrl) -> Result<Self> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_timeout(Duration::from_secs(15))
                    .build(),
            );
        if let Some(region) = &url.region {
            loader = loader.region(aws_config::Region::new(region.clone()));
        }
        if let Some(endpoint) = &url.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let mut config = loader.load().await;
        if config.region().is_none() {
            return Err(StorageError::UnsupportedUrl(
                "no AWS region: give one in the URL (dynamodb://eu-west-1) or set AWS_REGION"
                    .into(),
            ));
        }
        // Local emulators accept any credentials; without real ones, use placeholders there.
        let has_credentials = match config.credentials_provider() {
            Some(p) => aws_credential_types::provider::ProvideCredentials::provide_credentials(&p)
                .await
                .is_ok(),
            None => false,
        };
        if !has_credentials {
            if !url.is_loopback() {
                return Err(StorageError::Unavailable(
                    "no AWS credentials found (environment, profile, SSO or instance role)".into(),
                ));
            }
            config = config
                .into_builder()
                .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
                    aws_credential_types::Credentials::new(
                        "local",
                        "local",
                        None,
                        None,
                        "stackwright-local",
                    ),
                ))
                .build();
        }
        Ok(DynamoEngine {
            client: Client::new(&config),
            prefix: url.prefix.clone(),
            reads: list::Reads::default(),
        })
    }

    /// What this engine's lists have read from DynamoDB so far.
    pub fn list_reads(&self) -> ReadTotals {
        self.reads.totals()
    }

    fn table_name(&self, table: &str) -> String {
        format!("{}{table}", self.prefix)
    }

    fn meta_table(&self) -> String {
        format!("{}_stackwright", self.prefix)
    }

    fn key_of(table: &Table, key: &Json) -> Result<Item> {
        Ok(Item::from([(
            table.key.clone(),
            to_av(table.key_column().ty, key)?,
        )]))
    }

    /// The next value of a table's generated integer key (atomic counter).
    async fn next_id(&self, table: &str) -> Result<i64> {
        let out = self
            .client
            .update_item()
            .table_name(self.meta_table())
            .key(META_KEY, s(format!("counter#{table}")))
            .update_expression("ADD #n :one")
            .expression_attribute_names("#n", "n")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(err)?;
        out.attributes()
            .and_then(|a| a.get("n"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StorageError::Internal("counter returned no value".into()))
    }

    /// A complete item for a new row: generated key filled in.
    async fn new_item(&self, table: &Table, row: &Row) -> Result<Item> {
        let mut item = to_item(table, row)?;
        let key = table.key_column();
        if key.generated && !row.contains_key(&table.key) {
            let value = if key.ty.is_integer() {
                n(self.next_id(&table.name).await?)
            } else {
                s(uuid::Uuid::new_v4().to_string())
            };
            item.insert(table.key.clone(), value);
        }
        Ok(item)
    }

    /// Put an item only when its key is free; false when taken.
    async fn put_new(&self, table: &Table, item: Item) -> Result<bool> {
        let put = self
            .client
            .put_item()
            .table_name(self.table_name(&table.name))
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", &table.key)
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) => match classify(e) {
                Failure::Condition => Ok(false),
                other => Err(fail(other)),
            },
        }
    }
}

/// ` AND ...` for a route's `where` in a condition expression. A missing
/// attribute or a NULL never compares true, as in SQL.
fn guard(
    table: &Table,
    condition: &[Comparison],
    names: &mut HashMap<String, String>,
    values: &mut HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) -> Result<String> {
    let mut out = String::new();
    let present = |name: &str| {
        format!(" AND attribute_exists({name}) AND NOT attribute_type({name}, :wnull)")
    };
    for (i, c) in condition.iter().enumerate() {
        let column = format!("#w{i}");
        names.insert(column.clone(), c.column.clone());
        out.push_str(&present(&column));
        let right = match &c.value {
            Operand::Column(other) => {
                let name = format!("#wo{i}");
                names.insert(name.clone(), other.clone());
                out.push_str(&present(&name));
                name
            }
            Operand::Value(Json::Array(list)) if c.op == CompareOp::In => {
                let mut names = Vec::new();
                for (j, v) in list.iter().enumerate() {
                    let name = format!(":w{i}_{j}");
                    values.insert(name.clone(), to_av(table.columns[&c.column].ty, v)?);
                    names.push(name);
                }
                format!("({})", names.join(", "))
            }
            Operand::Value(v) => {
                let name = format!(":w{i}");
                values.insert(name.clone(), to_av(table.columns[&c.column].ty, v)?);
                name
            }
            Operand::User(_) | Operand::Input(_) => {
                return Err(StorageError::Internal(
                    "a request value reaches the database unresolved".into(),
                ))
            }
        };
        out.push_str(&format!(" AND {column} {} {right}", c.op.symbol()));
    }
    if !condition.is_empty() {
        values.insert(":wnull".into(), s("NULL".to_string()));
    }
    Ok(out)
}

/// Whether `row` meets `condition` (for a write that changes nothing).
fn holds(row: &Row, condition: &[Comparison]) -> bool {
    use stackwright_stack::CompareOp::*;
    condition.iter().all(|c| {
        let left = &row[&c.column];
        if let (CompareOp::In, Operand::Value(Json::Array(list))) = (c.op, &c.value) {
            return list.contains(left);
        }
        let right = match &c.value {
            Operand::Column(other) => &row[other],
            Operand::Value(v) => v,
            Operand::User(_) | Operand::Input(_) => return false,
        };
        let ordering = match (left, right) {
            (Json::Number(a), Json::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
            (Json::String(a), Json::String(b)) => Some(a.as_bytes().cmp(b.as_bytes())),
            (Json::Bool(a), Json::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        };
        ordering.is_some_and(|o| match c.op {
            Eq => o.is_eq(),
            Ne => o.is_ne(),
            Lt => o.is_lt(),
            Le => o.is_le(),
            Gt => o.is_gt(),
            Ge => o.is_ge(),
            In => false,
        })
    })
}

/// A GSI's name in DynamoDB: the table's, then the stack file's.
fn index_name(table: &Table, index: &str) -> String {
    format!("{}__{index}", table.name)
}

#[async_trait]
impl Engine for DynamoEngine {
    /// DynamoDB has no count but reading every item: `check` refuses `count`.
    fn counts(&self) -> bool {
        false
    }

    fn kind(&self) -> EngineKind {
        EngineKind::Dynamodb
    }

    async fn ping(&self) -> Result<()> {
        self.client
            .list_tables()
            .limit(1)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    async fn migrate(
        &self,
        target: &SchemaSnapshot,
        allow_destructive: bool,
    ) -> Result<MigrationOutcome> {
        self.ensure_meta().await?;
        let owner = uuid::Uuid::new_v4().to_string();
        self.lock(&target.stack, &owner).await?;
        let result = self.apply(target, allow_destructive).await;
        self.unlock(&target.stack, &owner).await;
        result
    }

    async fn seed(&self, table: &Table, rows: Vec<SeedRow>) -> Result<SeedOutcome> {
        let mut outcome = SeedOutcome {
            table: table.name.clone(),
            ..Default::default()
        };
        for seed in rows {
            let claim_id = format!("seed#{}#{}", table.name, seed.identity);
            if self.meta_get(&claim_id).await?.is_some() {
                outcome.already_applied += 1;
                continue;
            }
            let item = self.new_item(table, &seed.row).await?;
            let claim = Put::builder()
                .table_name(self.meta_table())
                .item(META_KEY, s(&claim_id))
                .condition_expression("attribute_not_exists(#id)")
                .expression_attribute_names("#id", META_KEY)
                .build()
                .map_err(build_err)?;
            let insert = Put::builder()
                .table_name(self.table_name(&table.name))
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", &table.key)
                .build()
                .map_err(build_err)?;
            // Claim and row together, or neither.
            let written = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(claim.clone()).build())
                .transact_items(TransactWriteItem::builder().put(insert).build())
                .send()
                .await;
            match written {
                Ok(_) => outcome.inserted += 1,
                Err(_) if self.meta_get(&claim_id).await?.is_some() => outcome.already_applied += 1,
                Err(e) => {
                    // The claim is free, so the row's key was taken: a user's row wins.
                    let free = self
                        .client
                        .put_item()
                        .table_name(self.meta_table())
                        .item(META_KEY, s(&claim_id))
                        .condition_expression("attribute_not_exists(#id)")
                        .expression_attribute_names("#id", META_KEY)
                        .send()
                        .await;
                    if let Err(claim_err) = free {
                        match classify(claim_err) {
                            Failure::Condition => {}
                            _ => return Err(err(e)),
                        }
                    }
                    outcome.already_applied += 1;
                }
            }
        }
        Ok(outcome)
    }

    async fn get(&self, table: &Table, key: &Json) -> Result<Option<Row>> {
        let out = self
            .client
            .get_item()
            .table_name(self.table_name(&table.name))
            .set_key(Some(Self::key_of(table, key)?))
            .consistent_read(true)
            .send()
            .await
            .map_err(err)?;
        Ok(out.item().map(|i| read(table, i)))
    }

    async fn list(&self, table: &Table, query: &ListQuery<'_>) -> Result<Page> {
        self.list_page(table, query).await
    }

    async fn insert(&self, table: &Table, row: Row) -> Result<Row> {
        // A generated integer key that a seed row already used is skipped.
        for _ in 0..100 {
            let item = self.new_item(table, &row).await?;
            let key = item.get(&table.key).cloned();
            if self.put_new(table, item).await? {
                let key =
                    key.ok_or_else(|| StorageError::Internal("insert without a key".into()))?;
                let key = from_av(table.key_column(), Some(&key));
                return self
                    .get(table, &key)
                    .await?
                    .ok_or_else(|| StorageError::Internal("inserted item not found".into()));
            }
            let key_is_generated_here =
                table.key_column().generated && !row.contains_key(&table.key);
            if !key_is_generated_here {
                return Err(StorageError::Conflict);
            }
        }
        Err(StorageError::Internal(
            "no free generated key after 100 tries".into(),
        ))
    }

    async fn update_where(
        &self,
        table: &Table,
        key: &Json,
        changes: &[Assignment],
        condition: &[Comparison],
    ) -> Result<Option<Row>> {
        if changes.is_empty() {
            return match self.get(table, key).await? {
                Some(row) if !holds(&row, condition) => Err(StorageError::ConditionFailed),
                row => Ok(row),
            };
        }
        let mut names = HashMap::from([("#k".to_string(), table.key.clone())]);
        let mut values = HashMap::new();
        let guard = guard(table, condition, &mut names, &mut values)?;
        let mut sets = Vec::new();
        let mut removes = Vec::new();
        let mut adds = Vec::new();
        for (i, change) in changes.iter().enumerate() {
            match change {
                Assignment::Set(column, v) => {
                    names.insert(format!("#c{i}"), column.clone());
                    let indexed = table.indexes.values().any(|x| x.columns.contains(column));
                    if v.is_null() && indexed {
                        removes.push(format!("#c{i}"));
                    } else {
                        values.insert(format!(":v{i}"), to_av(table.columns[column].ty, v)?);
                        sets.push(format!("#c{i} = :v{i}"));
                    }
                }
                Assignment::Increment(column, by) => {
                    // ADD is atomic, and starts from 0 for an item without the attribute.
                    names.insert(format!("#c{i}"), column.clone());
                    values.insert(format!(":v{i}"), n(by));
                    adds.push(format!("#c{i} :v{i}"));
                }
            }
        }
        let mut expression = Vec::new();
        if !sets.is_empty() {
            expression.push(format!("SET {}", sets.join(", ")));
        }
        if !removes.is_empty() {
            expression.push(format!("REMOVE {}", removes.join(", ")));
        }
        if !adds.is_empty() {
            expression.push(format!("ADD {}", adds.join(", ")));
        }
        let out = self
            .client
            .update_item()
            .table_name(self.table_name(&table.name))
            .set_key(Some(Self::key_of(table, key)?))
            .update_expression(expression.join(" "))
            .condition_expression(format!("attribute_exists(#k){guard}"))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(o) => Ok(o.attributes().map(|a| read(table, a))),
            Err(e) => match classify(e) {
                Failure::Condition if !condition.is_empty() => {
                    missing_or_failed(self, table, key).await
                }
                Failure::Condition => Ok(None),
                other => Err(fail(other)),
            },
        }
    }

    async fn delete_where(
        &self,
        table: &Table,
        key: &Json,
        condition: &[Comparison],
    ) -> Result<bool> {
        let mut names = HashMap::from([("#k".to_string(), table.key.clone())]);
        let mut values = HashMap::new();
        let guard = guard(table, condition, &mut names, &mut values)?;
        let out = self
            .client
            .delete_item()
            .table_name(self.table_name(&table.name))
            .set_key(Some(Self::key_of(table, key)?))
            .condition_expression(format!("attribute_exists(#k){guard}"))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) => match classify(e) {
                Failure::Condition if !condition.is_empty() => {
                    missing_or_failed(self, table, key).await.map(|_| false)
                }
                Failure::Condition => Ok(false),
                other => Err(fail(other)),
            },
        }
    }

    fn queue(&self) -> Option<&dyn Queue> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let u = DynamoUrl::parse("dynamodb://eu-west-1?endpoint=http://127.0.0.1:5000&prefix=t1_")
            .unwrap();
        assert_eq!(u.region.as_deref(), Some("eu-west-1"));
        assert_eq!(u.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(u.prefix, "t1_");
        assert!(u.is_loopback());
        assert!(DynamoUrl::parse("dynamodb://eu-west-1?bogus=1").is_err());
        assert!(DynamoUrl::parse("dynamodb://x?prefix=a;b").is_err());
        assert!(!DynamoUrl::parse("dynamodb://us-east-1")
            .unwrap()
            .is_loopback());
    }
}
