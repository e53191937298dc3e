//! Tables, indexes and migrations on DynamoDB: Stackwright's own records
//! table, the migration lock, and applying a migration plan.

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction,
    DeleteGlobalSecondaryIndexAction, GlobalSecondaryIndex, GlobalSecondaryIndexUpdate,
    KeySchemaElement, KeyType, Projection, ProjectionType, ScalarAttributeType,
};
use stackwright_stack::Column;
use time::format_description::well_known::Rfc3339;

use super::values::*;
use super::{DynamoEngine, LOCK_LEASE_SECS, LOCK_WAIT, META_KEY};
use crate::engine::*;
use crate::migrate::{self, SchemaSnapshot, Step, TableSchema};

impl DynamoEngine {
    /// Whether the table exists. In the cloud, CloudFormation creates the
    /// tables and the runtime's role may only describe them.
    pub(super) async fn table_exists(&self, name: &str) -> Result<bool> {
        match self.client.describe_table().table_name(name).send().await {
            Ok(_) => Ok(true),
            Err(e) => match classify(e) {
                Failure::NotFound(_) => Ok(false),
                other => Err(fail(other)),
            },
        }
    }

    /// Names of a table's global secondary indexes.
    pub(super) async fn index_names(&self, table: &str) -> Result<Vec<String>> {
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

    pub(super) async fn create_table(
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

    pub(super) async fn wait_active(&self, name: &str) -> Result<()> {
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

    pub(super) fn index_parts(
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

    pub(super) async fn create_stack_table(&self, t: &TableSchema) -> Result<()> {
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

    pub(super) async fn ensure_meta(&self) -> Result<()> {
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

    pub(super) async fn meta_get(&self, id: &str) -> Result<Option<Item>> {
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
    pub(super) async fn lock(&self, stack: &str, owner: &str) -> Result<()> {
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

    pub(super) async fn unlock(&self, stack: &str, owner: &str) {
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

    pub(super) async fn apply(
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

    pub(super) async fn forget_seeds(&self, table: &str) -> Result<()> {
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
}
