//! Lists on DynamoDB, never a full read: a Query on the key or on a GSI (in
//! the index's sort-key order), or, for an unfiltered list in key order, a
//! Scan. Either way DynamoDB pages natively: `Limit` is one more than the
//! page and `ExclusiveStartKey` is the position the previous page ended at,
//! so a page reads what it holds plus one item. (Filters beyond the one the
//! Query uses are applied by DynamoDB after reading, and may read more.)
//!
//! `check` refuses orders no index can give (see the stack's validation);
//! a list that still arrives here with one is refused, not sorted in memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering as Atomic};
use std::sync::Arc;

use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use serde_json::Value as Json;
use stackwright_stack::Table;

use super::values::*;
use super::DynamoEngine;
use crate::engine::{Bound, Cells, ListQuery, Page, Result, Row, StorageError};
use crate::paging;
use crate::range::{compare, holds, prefix_end};
use stackwright_stack::{ColumnType, RangeOp};

/// What lists have read so far: items DynamoDB examined (`ScannedCount`)
/// and the read capacity it charged, in thousandths of a unit.
#[derive(Debug, Default)]
pub struct Reads {
    scanned: AtomicU64,
    capacity_milli: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadTotals {
    pub items_scanned: u64,
    pub capacity_milli_units: u64,
}

impl Reads {
    fn add(&self, scanned: i32, capacity: Option<f64>) {
        self.scanned
            .fetch_add(scanned.max(0) as u64, Atomic::Relaxed);
        let milli = (capacity.unwrap_or(0.0) * 1000.0).round().max(0.0) as u64;
        self.capacity_milli.fetch_add(milli, Atomic::Relaxed);
    }

    pub fn totals(&self) -> ReadTotals {
        ReadTotals {
            items_scanned: self.scanned.load(Atomic::Relaxed),
            capacity_milli_units: self.capacity_milli.load(Atomic::Relaxed),
        }
    }
}

/// Where a list reads: the table or one of its GSIs, and the attributes
/// that key an item there (what `ExclusiveStartKey` holds).
struct Plan {
    index: Option<String>,
    /// The filter the Query's key condition uses, by position in the filters.
    driver: Option<usize>,
    key_attributes: Vec<String>,
    /// The sort key of the index a Query reads, which bounds can narrow.
    sort_key: Option<String>,
    descending: bool,
}

impl Plan {
    fn of(table: &Table, query: &ListQuery<'_>) -> Result<Plan> {
        let order = table.sort_columns(query.order_by);
        let descending = order.first().is_some_and(|o| o.descending);
        let unservable = || {
            StorageError::Unsupported(format!(
                "DynamoDB cannot list `{}` in this order without an index for it (`stackwright check` names the index to add)",
                table.name
            ))
        };
        if let Some(i) = query.filters.iter().position(|(c, _)| *c == table.key) {
            // One item at most: any order is its order.
            return Ok(Plan {
                index: None,
                driver: Some(i),
                key_attributes: vec![table.key.clone()],
                sort_key: None,
                descending: false,
            });
        }
        let wanted_sort = order.first().map(|o| o.column.as_str());
        let candidates = query
            .filters
            .iter()
            .enumerate()
            .flat_map(|(i, (column, _))| {
                table
                    .indexes
                    .iter()
                    .filter(move |(_, x)| x.columns.first().map(String::as_str) == Some(*column))
                    .map(move |(name, x)| (i, name, x))
            });
        let mut chosen = None;
        for (i, name, index) in candidates {
            let sort = index.columns.get(1).map(String::as_str);
            if wanted_sort.is_none() || sort == wanted_sort {
                chosen = Some((i, name, index));
                break;
            }
        }
        match chosen {
            Some((i, name, index)) => {
                let mut key_attributes = vec![table.key.clone()];
                key_attributes.extend(index.columns.iter().filter(|c| **c != table.key).cloned());
                Ok(Plan {
                    index: Some(super::index_name(table, name)),
                    driver: Some(i),
                    key_attributes,
                    sort_key: index.columns.get(1).cloned(),
                    descending,
                })
            }
            None if order.is_empty() && !query.order_by.iter().any(|o| o.descending) => Ok(Plan {
                index: None,
                driver: None,
                key_attributes: vec![table.key.clone()],
                sort_key: None,
                descending: false,
            }),
            None => Err(unservable()),
        }
    }
}

impl DynamoEngine {
    /// A read's items and where the next would start, its cost counted.
    fn counted(
        &self,
        scanned: i32,
        capacity: Option<&ConsumedCapacity>,
        items: &[Item],
        last: Option<&Item>,
    ) -> (Vec<Item>, Option<Item>) {
        self.reads
            .add(scanned, capacity.and_then(|c| c.capacity_units()));
        (items.to_vec(), last.cloned())
    }

    pub(super) async fn list_page(&self, table: &Table, query: &ListQuery<'_>) -> Result<Page> {
        let plan = Plan::of(table, query)?;
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut conditions = Vec::new();
        let mut key_condition = None;
        for (i, (column, value)) in query.filters.iter().enumerate() {
            names.insert(format!("#f{i}"), column.to_string());
            values.insert(format!(":f{i}"), to_av(table.columns[*column].ty, value)?);
            let clause = format!("#f{i} = :f{i}");
            if Some(i) == plan.driver {
                key_condition = Some(clause);
            } else {
                conditions.push(clause);
            }
        }
        if let (Some(kc), Some(sort_key)) = (key_condition.as_mut(), plan.sort_key.as_deref()) {
            let ty = table.columns[sort_key].ty;
            match sort_key_condition(ty, sort_key, &query.ranges) {
                SortKey::Any => {}
                SortKey::Nothing => {
                    return Ok(Page::empty(table.columns.keys().cloned().collect()))
                }
                SortKey::Condition(clause, bound) => {
                    names.insert("#r".into(), sort_key.to_string());
                    for (i, v) in bound.iter().enumerate() {
                        values.insert(format!(":r{i}"), to_av(ty, v)?);
                    }
                    kc.push_str(" AND ");
                    kc.push_str(&clause);
                }
            }
        }
        let mut start = match query.after {
            Some(position) => {
                let columns = plan.key_attributes.iter().map(String::as_str);
                let after = paging::values_at(table, columns, position)?;
                let mut key = Item::new();
                for (column, value) in plan.key_attributes.iter().zip(&after) {
                    key.insert(column.clone(), to_av(table.columns[column].ty, value)?);
                }
                Some(key)
            }
            None => None,
        };
        let filter = (!conditions.is_empty()).then(|| conditions.join(" AND "));
        let names = (!names.is_empty()).then_some(names);
        let values = (!values.is_empty()).then_some(values);
        let wanted = query.limit as usize + 1;
        let mut rows: Vec<Row> = Vec::new();
        loop {
            let limit = (wanted - rows.len()) as i32;
            let (items, last) = match &key_condition {
                Some(kc) => {
                    let out = self
                        .client
                        .query()
                        .table_name(self.table_name(&table.name))
                        .set_index_name(plan.index.clone())
                        .key_condition_expression(kc)
                        .set_filter_expression(filter.clone())
                        .set_expression_attribute_names(names.clone())
                        .set_expression_attribute_values(values.clone())
                        .set_consistent_read(plan.index.is_none().then_some(true))
                        .scan_index_forward(!plan.descending)
                        .set_exclusive_start_key(start.take())
                        .limit(limit)
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                        .await
                        .map_err(err)?;
                    self.counted(
                        out.scanned_count(),
                        out.consumed_capacity(),
                        out.items(),
                        out.last_evaluated_key(),
                    )
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
                        .limit(limit)
                        .return_consumed_capacity(ReturnConsumedCapacity::Total)
                        .send()
                        .await
                        .map_err(err)?;
                    self.counted(
                        out.scanned_count(),
                        out.consumed_capacity(),
                        out.items(),
                        out.last_evaluated_key(),
                    )
                }
            };
            // The bounds hold exactly: a key condition may only narrow the
            // read to a range around them, and a Scan has none.
            rows.extend(
                items
                    .iter()
                    .map(|i| read(table, i))
                    .filter(|row| within(table, row, &query.ranges)),
            );
            match last {
                Some(k) if !k.is_empty() && rows.len() < wanted => start = Some(k),
                _ => break,
            }
        }
        let more = rows.len() > query.limit as usize;
        rows.truncate(query.limit as usize);
        let next = more
            .then(|| rows.last())
            .flatten()
            .map(|last| paging::position_of(last, plan.key_attributes.iter().map(String::as_str)));
        let columns: Arc<[String]> = table.columns.keys().cloned().collect();
        let mut cells = Cells::new(columns.len(), rows.len());
        for row in &rows {
            cells.push_map(&columns, row)?;
        }
        Ok(Page {
            columns,
            rows: cells,
            next,
        })
    }
}

/// What a Query's key condition says of its index's sort key, given a
/// list's bounds: DynamoDB takes one comparison there, `BETWEEN` or
/// `begins_with`, so several bounds become the range that holds them all
/// (read, then checked exactly).
enum SortKey {
    Any,
    /// No value meets every bound.
    Nothing,
    /// The clause on `#r`, and the values of `:r0`, `:r1`.
    Condition(String, Vec<Json>),
}

fn sort_key_condition(ty: ColumnType, column: &str, bounds: &[Bound<'_>]) -> SortKey {
    let on: Vec<&Bound<'_>> = bounds.iter().filter(|b| b.column == column).collect();
    let text = |b: &Bound<'_>| b.value.as_str().unwrap_or_default().to_string();
    if let [one] = on[..] {
        let op = match one.op {
            RangeOp::Gt => ">",
            RangeOp::Gte => ">=",
            RangeOp::Lt => "<",
            RangeOp::Lte => "<=",
            RangeOp::Prefix if text(one).is_empty() => return SortKey::Any,
            RangeOp::Prefix => {
                return SortKey::Condition("begins_with(#r, :r0)".into(), vec![one.value.clone()])
            }
        };
        return SortKey::Condition(format!("#r {op} :r0"), vec![one.value.clone()]);
    }
    // The highest lower end and the lowest upper end, each inclusive.
    let (mut low, mut high): (Option<Json>, Option<Json>) = (None, None);
    let tighten = |end: &mut Option<Json>, v: Json, higher: bool| {
        let replace = match end {
            None => true,
            Some(e) => compare(ty, &v, e).is_some_and(|o| o.is_gt() == higher && o.is_ne()),
        };
        if replace {
            *end = Some(v);
        }
    };
    for b in &on {
        match b.op {
            RangeOp::Gt | RangeOp::Gte => tighten(&mut low, b.value.clone(), true),
            RangeOp::Lt | RangeOp::Lte => tighten(&mut high, b.value.clone(), false),
            RangeOp::Prefix => {
                let p = text(b);
                if let Some(end) = prefix_end(&p) {
                    tighten(&mut high, Json::String(end), false);
                }
                tighten(&mut low, Json::String(p), true);
            }
        }
    }
    match (low, high) {
        (Some(l), Some(h)) if compare(ty, &l, &h).is_some_and(|o| o.is_gt()) => SortKey::Nothing,
        (Some(l), Some(h)) => SortKey::Condition("#r BETWEEN :r0 AND :r1".into(), vec![l, h]),
        (Some(l), None) => SortKey::Condition("#r >= :r0".into(), vec![l]),
        (None, Some(h)) => SortKey::Condition("#r <= :r0".into(), vec![h]),
        (None, None) => SortKey::Any,
    }
}

/// Whether a row meets every bound.
fn within(table: &Table, row: &Row, bounds: &[Bound<'_>]) -> bool {
    bounds.iter().all(|b| {
        let value = row.get(b.column).unwrap_or(&Json::Null);
        holds(table.columns[b.column].ty, b.op, value, &b.value)
    })
}
