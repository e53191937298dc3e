//! DynamoDB through the AWS SDK for Rust.
//!
//! Each stack table is a DynamoDB table keyed by the stack key (a partition
//! key); each secondary index is a GSI (first column partition key, second
//! sort key). Increments are atomic `ADD` updates; generated integer keys
//! come from an atomic counter. Stackwright's own records (migrations, seed
//! claims, counters, the migration lock) live in one table, `PREFIX_stackwright`.
//!
//! Lists read every item matching the filter (a Query on the key or a GSI,
//! or a Scan without filters) and order them in memory, so results and
//! pages agree with the SQL engines; keep listed tables modest or filtered.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    KeySchemaElement, KeyType, Projection, ProjectionType, Put, ReturnValue, ScalarAttributeType,
    TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use serde_json::Value as Json;
use stackwright_stack::{Column, ColumnType, Order, Table};
use time::format_description::well_known::Rfc3339;

use crate::engine::*;
use crate::migrate::{self, SchemaSnapshot, Step, TableSchema};
use crate::server::{decode_cursor, page};

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
}

const META_KEY: &str = "id";
/// How long a migrator waits for another one, and how long a lock lives if its holder dies.
const LOCK_WAIT: Duration = Duration::from_secs(120);
const LOCK_LEASE_SECS: i64 = 300;

enum Failure {
    /// A condition expression did not hold.
    Condition,
    NotFound(String),
    InUse,
    Other(StorageError),
}

fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> Failure {
    match e {
        SdkError::DispatchFailure(d) => Failure::Other(StorageError::Unavailable(format!(
            "cannot reach DynamoDB: {d:?}"
        ))),
        SdkError::TimeoutError(_) => {
            Failure::Other(StorageError::Unavailable("DynamoDB timed out".into()))
        }
        SdkError::ResponseError(_) => Failure::Other(StorageError::Unavailable(
            "DynamoDB answered unreadably".into(),
        )),
        SdkError::ServiceError(s) => {
            let err = s.into_err();
            let message = err.message().unwrap_or("").to_string();
            match err.code() {
                Some("ConditionalCheckFailedException") => Failure::Condition,
                Some("ResourceNotFoundException") => Failure::NotFound(message),
                Some("ResourceInUseException") => Failure::InUse,
                // An item over 400 KB or a key over its limit.
                Some("ValidationException") if message.to_ascii_lowercase().contains("size") => {
                    Failure::Other(StorageError::TooLarge(message))
                }
                Some(
                    "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "ThrottlingException"
                    | "InternalServerError"
                    | "ServiceUnavailable",
                ) => Failure::Other(StorageError::Unavailable(message)),
                code => Failure::Other(StorageError::Internal(format!(
                    "{}: {message}",
                    code.unwrap_or("DynamoDB error")
                ))),
            }
        }
        other => Failure::Other(StorageError::Internal(format!("{other:?}"))),
    }
}

fn fail(f: Failure) -> StorageError {
    match f {
        Failure::Condition => StorageError::Internal("unexpected failed condition".into()),
        Failure::NotFound(m) => {
            StorageError::Internal(format!("table not found ({m}); run `stackwright migrate`"))
        }
        Failure::InUse => StorageError::Internal("table is being changed".into()),
        Failure::Other(e) => e,
    }
}

fn err<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> StorageError {
    fail(classify(e))
}

fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StorageError {
    StorageError::Internal(format!("building a DynamoDB request: {e}"))
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn scalar_type(ty: ColumnType) -> std::result::Result<ScalarAttributeType, String> {
    match ty {
        ColumnType::Integer | ColumnType::BigInt | ColumnType::Float => Ok(ScalarAttributeType::N),
        ColumnType::String { .. } | ColumnType::Text | ColumnType::Timestamp => {
            Ok(ScalarAttributeType::S)
        }
        ColumnType::Boolean | ColumnType::Json => Err(format!(
            "a {ty} column cannot be a DynamoDB key or index key"
        )),
    }
}

/// JSON (already checked against the column) -> an attribute value.
fn to_av(ty: ColumnType, v: &Json) -> Result<AttributeValue> {
    let bad = || StorageError::Internal(format!("value {v} does not fit a {ty} column"));
    Ok(match (ty, v) {
        (_, Json::Null) => AttributeValue::Null(true),
        (ColumnType::Integer | ColumnType::BigInt, v) => n(v.as_i64().ok_or_else(bad)?),
        (ColumnType::Float, v) => n(v.as_f64().ok_or_else(bad)?),
        (ColumnType::Boolean, Json::Bool(b)) => AttributeValue::Bool(*b),
        (ColumnType::Timestamp, Json::String(t)) => {
            let t = time::OffsetDateTime::parse(t, &Rfc3339).map_err(|_| bad())?;
            s(t.to_offset(time::UtcOffset::UTC)
                .format(&Rfc3339)
                .map_err(|_| bad())?)
        }
        (ColumnType::String { .. } | ColumnType::Text, Json::String(t)) => s(t.clone()),
        (ColumnType::Json, v) => s(v.to_string()),
        _ => return Err(bad()),
    })
}

fn from_av(column: &Column, av: Option<&AttributeValue>) -> Json {
    let Some(av) = av else {
        // An attribute added by a later migration: existing items read its default.
        return column.default.clone().unwrap_or(Json::Null);
    };
    match (column.ty, av) {
        (_, AttributeValue::Null(_)) => Json::Null,
        (ColumnType::Integer | ColumnType::BigInt, AttributeValue::N(x)) => {
            x.parse::<i64>().map(Json::from).unwrap_or(Json::Null)
        }
        (ColumnType::Float, AttributeValue::N(x)) => x
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::Null, Json::Number),
        (ColumnType::Boolean, AttributeValue::Bool(b)) => Json::Bool(*b),
        (ColumnType::Json, AttributeValue::S(t)) => {
            serde_json::from_str(t).unwrap_or(Json::String(t.clone()))
        }
        (_, AttributeValue::S(t)) => Json::String(t.clone()),
        _ => Json::Null,
    }
}

type Item = HashMap<String, AttributeValue>;

fn read(table: &Table, item: &Item) -> Row {
    table
        .columns
        .values()
        .map(|c| (c.name.clone(), from_av(c, item.get(&c.name))))
        .collect()
}

/// Attributes of a row. Null index-key attributes are left out: a GSI key
/// attribute may be missing (the item is just not indexed) but not NULL.
fn to_item(table: &Table, row: &Row) -> Result<Item> {
    let mut item = Item::with_capacity(row.len());
    for (name, v) in row {
        let column = table
            .columns
            .get(name)
            .ok_or_else(|| StorageError::Internal(format!("unknown column {name}")))?;
        if v.is_null() && table.indexes.values().any(|i| i.columns.contains(name)) {
            continue;
        }
        item.insert(name.clone(), to_av(column.ty, v)?);
    }
    Ok(item)
}

/// Order rows as the SQL engines do: NULLs first, numbers numerically,
/// strings bytewise.
fn compare(a: &Json, b: &Json) -> std::cmp::Ordering {
    use std::cmp::Ordering::*;
    match (a, b) {
        (Json::Null, Json::Null) => Equal,
        (Json::Null, _) => Less,
        (_, Json::Null) => Greater,
        (Json::Number(x), Json::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .partial_cmp(&y.as_f64().unwrap_or(0.0))
            .unwrap_or(Equal),
        (Json::String(x), Json::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Json::Bool(x), Json::Bool(y)) => x.cmp(y),
        _ => a.to_string().cmp(&b.to_string()),
    }
}

fn sort(rows: &mut [Row], order_by: &[Order]) {
    rows.sort_by(|a, b| {
        for o in order_by {
            let ord = compare(&a[&o.column], &b[&o.column]);
            let ord = if o.descending { ord.reverse() } else { ord };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        std::cmp::Ordering::Equal
    });
}

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
        })
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

    /// Whether the table exists. In the cloud, CloudFormation creates the
    /// tables and the runtime's role may only describe them.
    async fn table_exists(&self, name: &str) -> Result<bool> {
        match self.client.describe_table().table_name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) => match classify(e) {
                Failure::NotFound(_) => Ok(false),
                other => Err(fail(other)),
            },
        }
    }

    /// Names of a table's global secondary indexes.
    async fn index_names(&self, table: &str) -> Result<Vec<String>> {
        let out = self
            .client
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(err)?;
        Ok(out
            .table()
            .map(|t| {
                t.global_secondary_indexes()
                    .iter()
                    .filter_map(|g| g.index_name().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default())
    }

    async fn create_table(
        &self,
        name: &str,
        key: (&str, ScalarAttributeType),
        gsis: Vec<GlobalSecondaryIndex>,
        extra_attrs: Vec<AttributeDefinition>,
    ) -> Result<()> {
        if self.table_exists(name).await? {
            return self.wait_active(name).await;
        }
        let mut req = self
            .client
            .create_table()
            .table_name(name)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(key.0)
                    .attribute_type(key.1)
                    .build()
                    .map_err(build_err)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(key.0)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(build_err)?,
            );
        for a in extra_attrs {
            req = req.attribute_definitions(a);
        }
        for g in gsis {
            req = req.global_secondary_indexes(g);
        }
        match req.send().await {
            Ok(_) => {}
            // Another migrator (or an earlier, interrupted run) created it.
            Err(e) => match classify(e) {
                Failure::InUse => {}
                other => return Err(fail(other)),
            },
        }
        self.wait_active(name).await
    }

    async fn wait_active(&self, name: &str) -> Result<()> {
        for _ in 0..600 {
            let d = self
                .client
                .describe_table()
                .table_name(name)
                .send()
                .await
                .map_err(err)?;
            let table = d.table();
            let active = table
                .and_then(|t| t.table_status())
                .map(|s| s.as_str() == "ACTIVE")
                .unwrap_or(false);
            let gsis_active = table
                .map(|t| {
                    t.global_secondary_indexes()
                        .iter()
                        .all(|g| g.index_status().is_none_or(|s| s.as_str() == "ACTIVE"))
                })
                .unwrap_or(true);
            if active && gsis_active {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StorageError::Migration(format!(
            "table {name} did not become ACTIVE"
        )))
    }

    fn index_parts(
        t: &TableSchema,
        index: &str,
    ) -> Result<(String, Vec<KeySchemaElement>, Vec<AttributeDefinition>)> {
        let i = &t.indexes[index];
        if i.columns.len() > 2 {
            return Err(StorageError::Migration(format!(
                "index `{index}` of `{}` has {} columns; a DynamoDB index has at most two (partition and sort key)",
                t.name,
                i.columns.len()
            )));
        }
        let mut keys = Vec::new();
        let mut attrs = Vec::new();
        for (pos, c) in i.columns.iter().enumerate() {
            let ty = scalar_type(t.columns[c].ty)
                .map_err(|why| StorageError::Migration(format!("index `{index}`: {why}")))?;
            keys.push(
                KeySchemaElement::builder()
                    .attribute_name(c)
                    .key_type(if pos == 0 {
                        KeyType::Hash
                    } else {
                        KeyType::Range
                    })
                    .build()
                    .map_err(build_err)?,
            );
            attrs.push(
                AttributeDefinition::builder()
                    .attribute_name(c)
                    .attribute_type(ty)
                    .build()
                    .map_err(build_err)?,
            );
        }
        Ok((format!("{}__{index}", t.name), keys, attrs))
    }

    async fn create_stack_table(&self, t: &TableSchema) -> Result<()> {
        let key_ty = scalar_type(t.columns[&t.key].ty)
            .map_err(|why| StorageError::Migration(format!("table `{}`: {why}", t.name)))?;
        let mut gsis = Vec::new();
        let mut attrs: Vec<AttributeDefinition> = Vec::new();
        for index in t.indexes.keys() {
            let (name, keys, index_attrs) = Self::index_parts(t, index)?;
            for a in index_attrs {
                if a.attribute_name() != t.key
                    && !attrs
                        .iter()
                        .any(|x| x.attribute_name() == a.attribute_name())
                {
                    attrs.push(a);
                }
            }
            gsis.push(
                GlobalSecondaryIndex::builder()
                    .index_name(name)
                    .set_key_schema(Some(keys))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(build_err)?,
            );
        }
        self.create_table(&self.table_name(&t.name), (&t.key, key_ty), gsis, attrs)
            .await
    }

    async fn ensure_meta(&self) -> Result<()> {
        match self
            .client
            .describe_table()
            .table_name(self.meta_table())
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => match classify(e) {
                Failure::NotFound(_) => {
                    self.create_table(
                        &self.meta_table(),
                        (META_KEY, ScalarAttributeType::S),
                        vec![],
                        vec![],
                    )
                    .await
                }
                other => Err(fail(other)),
            },
        }
    }

    async fn meta_get(&self, id: &str) -> Result<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(self.meta_table())
            .key(META_KEY, s(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(err)?;
        Ok(out.item().cloned())
    }

    /// Take the stack's migration lock: a conditional put that succeeds when
    /// no live lock exists; an expired lease can be taken over.
    async fn lock(&self, stack: &str, owner: &str) -> Result<()> {
        let started = std::time::Instant::now();
        loop {
            let now = time::OffsetDateTime::now_utc().unix_timestamp();
            let put = self
                .client
                .put_item()
                .table_name(self.meta_table())
                .item(META_KEY, s(format!("lock#{stack}")))
                .item("owner", s(owner))
                .item("expires", n(now + LOCK_LEASE_SECS))
                .condition_expression("attribute_not_exists(#id) OR #expires < :now")
                .expression_attribute_names("#id", META_KEY)
                .expression_attribute_names("#expires", "expires")
                .expression_attribute_values(":now", n(now))
                .send()
                .await;
            match put {
                Ok(_) => return Ok(()),
                Err(e) => match classify(e) {
                    Failure::Condition if started.elapsed() < LOCK_WAIT => {
                        tokio::time::sleep(Duration::from_millis(200)).await
                    }
                    Failure::Condition => {
                        return Err(StorageError::Unavailable(
                            "another migration holds the lock; try again when it has finished"
                                .into(),
                        ))
                    }
                    other => return Err(fail(other)),
                },
            }
        }
    }

    async fn unlock(&self, stack: &str, owner: &str) {
        let _ = self
            .client
            .delete_item()
            .table_name(self.meta_table())
            .key(META_KEY, s(format!("lock#{stack}")))
            .condition_expression("#owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .send()
            .await;
    }

    async fn apply(
        &self,
        target: &SchemaSnapshot,
        allow_destructive: bool,
    ) -> Result<MigrationOutcome> {
        let latest = self.meta_get(&format!("latest#{}", target.stack)).await?;
        let version: i64 = latest
            .as_ref()
            .and_then(|i| i.get("version"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let current = migrate::recorded(
            latest
                .as_ref()
                .and_then(|i| i.get("schema"))
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
        )?;
        let Some(plan) = migrate::checked_plan(current.as_ref(), target, allow_destructive)? else {
            return Ok(MigrationOutcome::default());
        };
        let empty = SchemaSnapshot::default();
        let current = current.as_ref().unwrap_or(&empty);
        for step in &plan.steps {
            match step {
                Step::CreateTable { table } => self.create_stack_table(&target.tables[table]).await?,
                // Attributes need no declaration; missing ones read as the default.
                Step::AddColumn { .. } | Step::DropColumn { .. } => {}
                Step::CreateIndex { table, index } => {
                    let t = &target.tables[table];
                    let (name, keys, attrs) = Self::index_parts(t, index)?;
                    if self.index_names(&self.table_name(table)).await?.contains(&name) {
                        // Already there: created by CloudFormation, or with its table in this run.
                        continue;
                    }
                    self.client
                        .update_table()
                        .table_name(self.table_name(table))
                        .set_attribute_definitions(Some(attrs))
                        .global_secondary_index_updates(
                            GlobalSecondaryIndexUpdate::builder()
                                .create(
                                    CreateGlobalSecondaryIndexAction::builder()
                                        .index_name(name)
                                        .set_key_schema(Some(keys))
                                        .projection(Projection::builder().projection_type(ProjectionType::All).build())
                                        .build()
                                        .map_err(build_err)?,
                                )
                                .build(),
                        )
                        .send()
                        .await
                        .map_err(err)?;
                    self.wait_active(&self.table_name(table)).await?;
                }
                Step::DropIndex { table, index } => {
                    if target.tables.contains_key(table) || current.tables.contains_key(table) {
                        self.client
                            .update_table()
                            .table_name(self.table_name(table))
                            .global_secondary_index_updates(
                                GlobalSecondaryIndexUpdate::builder()
                                    .delete(
                                        DeleteGlobalSecondaryIndexAction::builder()
                                            .index_name(format!("{table}__{index}"))
                                            .build()
                                            .map_err(build_err)?,
                                    )
                                    .build(),
                            )
                            .send()
                            .await
                            .map_err(err)?;
                        self.wait_active(&self.table_name(table)).await?;
                    }
                }
                Step::ChangeColumn { table, column, .. } => {
                    let have = &current.tables[table].columns[column];
                    let want = &target.tables[table].columns[column];
                    let kind = |c: &Column| scalar_type(c.ty).map(|t| t.as_str().to_string()).unwrap_or_else(|_| c.ty.to_string());
                    if kind(have) != kind(want) || have.generated != want.generated {
                        return Err(StorageError::Migration(format!(
                            "changing the type of `{table}.{column}` is not supported on DynamoDB (items keep their stored type); add a new column instead"
                        )));
                    }
                }
                Step::ChangeKey { table, .. } => {
                    return Err(StorageError::Migration(format!(
                        "changing the key of `{table}` is not supported on DynamoDB; create a new table"
                    )))
                }
                Step::DropTable { table } => {
                    match self.client.delete_table().table_name(self.table_name(table)).send().await {
                        Ok(_) => {}
                        Err(e) => match classify(e) {
                            Failure::NotFound(_) => {}
                            other => return Err(fail(other)),
                        },
                    }
                    self.forget_seeds(table).await?;
                }
            }
        }
        let summary: Vec<String> = plan.steps.iter().map(Step::describe).collect();
        let next = version + 1;
        let schema = serde_json::to_string(target).expect("schema serializes");
        self.client
            .put_item()
            .table_name(self.meta_table())
            .item(
                META_KEY,
                s(format!("migration#{}#{next:010}", target.stack)),
            )
            .item("summary", s(summary.join("\n")))
            .item("schema", s(schema.clone()))
            .item(
                "applied_at",
                s(time::OffsetDateTime::now_utc()
                    .format(&Rfc3339)
                    .unwrap_or_default()),
            )
            .send()
            .await
            .map_err(err)?;
        self.client
            .put_item()
            .table_name(self.meta_table())
            .item(META_KEY, s(format!("latest#{}", target.stack)))
            .item("version", n(next))
            .item("schema", s(schema))
            .send()
            .await
            .map_err(err)?;
        Ok(MigrationOutcome {
            version: Some(next),
            applied: summary,
        })
    }

    async fn forget_seeds(&self, table: &str) -> Result<()> {
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(self.meta_table())
                .filter_expression("begins_with(#id, :p)")
                .expression_attribute_names("#id", META_KEY)
                .expression_attribute_values(":p", s(format!("seed#{table}#")))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(err)?;
            for item in out.items() {
                if let Some(id) = item.get(META_KEY) {
                    self.client
                        .delete_item()
                        .table_name(self.meta_table())
                        .key(META_KEY, id.clone())
                        .send()
                        .await
                        .map_err(err)?;
                }
            }
            match out.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(()),
            }
        }
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

    /// Every item matching the filters: a Query on the key or a GSI when a
    /// filter allows, else a Scan; other filters apply server-side.
    async fn matching(&self, table: &Table, filters: &[(&str, Json)]) -> Result<Vec<Row>> {
        let driver = filters
            .iter()
            .position(|(c, _)| *c == table.key)
            .or_else(|| filters.iter().position(|(c, _)| table.is_indexed(c)));
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut conditions = Vec::new();
        let mut key_condition = None;
        let mut index_name = None;
        for (i, (column, value)) in filters.iter().enumerate() {
            names.insert(format!("#f{i}"), column.to_string());
            values.insert(format!(":f{i}"), to_av(table.columns[*column].ty, value)?);
            let clause = format!("#f{i} = :f{i}");
            if Some(i) == driver {
                key_condition = Some(clause);
                if *column != table.key {
                    let index = table
                        .indexes
                        .iter()
                        .find(|(_, idx)| idx.columns.first().map(String::as_str) == Some(*column))
                        .map(|(name, _)| name.clone())
                        .expect("is_indexed found it");
                    index_name = Some(format!("{}__{index}", table.name));
                }
            } else {
                conditions.push(clause);
            }
        }
        let filter = (!conditions.is_empty()).then(|| conditions.join(" AND "));
        let names = (!names.is_empty()).then_some(names);
        let values = (!values.is_empty()).then_some(values);
        let mut rows = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let (items, last) = match &key_condition {
                Some(kc) => {
                    let out = self
                        .client
                        .query()
                        .table_name(self.table_name(&table.name))
                        .set_index_name(index_name.clone())
                        .key_condition_expression(kc)
                        .set_filter_expression(filter.clone())
                        .set_expression_attribute_names(names.clone())
                        .set_expression_attribute_values(values.clone())
                        .set_consistent_read(index_name.is_none().then_some(true))
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(err)?;
                    (out.items().to_vec(), out.last_evaluated_key().cloned())
                }
                None => {
                    let out = self
                        .client
                        .scan()
                        .table_name(self.table_name(&table.name))
                        .set_filter_expression(filter.clone())
                        .set_expression_attribute_names(names.clone())
                        .set_expression_attribute_values(values.clone())
                        .consistent_read(true)
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(err)?;
                    (out.items().to_vec(), out.last_evaluated_key().cloned())
                }
            };
            rows.extend(items.iter().map(|i| read(table, i)));
            match last {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(rows),
            }
        }
    }
}

#[async_trait]
impl Engine for DynamoEngine {
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
        let offset = query.cursor.map(decode_cursor).transpose()?.unwrap_or(0);
        let mut rows = self.matching(table, &query.filters).await?;
        sort(&mut rows, query.order_by);
        let rows: Vec<Row> = rows
            .into_iter()
            .skip(offset as usize)
            .take(query.limit as usize + 1)
            .collect();
        Ok(page(rows, query.limit, offset))
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

    async fn update(
        &self,
        table: &Table,
        key: &Json,
        changes: &[Assignment],
    ) -> Result<Option<Row>> {
        if changes.is_empty() {
            return self.get(table, key).await;
        }
        let mut names = HashMap::from([("#k".to_string(), table.key.clone())]);
        let mut values = HashMap::new();
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
            .condition_expression("attribute_exists(#k)")
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values((!values.is_empty()).then_some(values))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match out {
            Ok(o) => Ok(o.attributes().map(|a| read(table, a))),
            Err(e) => match classify(e) {
                Failure::Condition => Ok(None),
                other => Err(fail(other)),
            },
        }
    }

    async fn delete(&self, table: &Table, key: &Json) -> Result<bool> {
        let out = self
            .client
            .delete_item()
            .table_name(self.table_name(&table.name))
            .set_key(Some(Self::key_of(table, key)?))
            .condition_expression("attribute_exists(#k)")
            .expression_attribute_names("#k", &table.key)
            .send()
            .await;
        match out {
            Ok(_) => Ok(true),
            Err(e) => match classify(e) {
                Failure::Condition => Ok(false),
                other => Err(fail(other)),
            },
        }
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

    #[test]
    fn orders_like_sql() {
        let mut v = [
            Json::from("b"),
            Json::Null,
            Json::from("B"),
            Json::from("a"),
        ];
        v.sort_by(compare);
        assert_eq!(
            v,
            [
                Json::Null,
                Json::from("B"),
                Json::from("a"),
                Json::from("b")
            ]
        );
    }
}
