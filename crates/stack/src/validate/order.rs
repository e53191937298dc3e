//! A list's orders: `order_by` (the default) and the choices of `sort`,
//! each checked against the indexes that must serve it.

use std::collections::HashSet;
use std::ops::Range;

use super::route::RouteTable;
use super::{ApiFields, Validator};
use crate::model::{CloudEngine, ListOperation, Order, Sort, Table};
use crate::raw::RawRoute;

fn quoted(columns: &[&str]) -> String {
    let names: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    format!("({})", names.join(", "))
}

pub(super) fn toml_list(columns: &[&str]) -> String {
    let names: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    format!("[{}]", names.join(", "))
}

/// The fields of a `sort` choice (`"-due,title"`), each with its place:
/// inside the quotes, as stack files write field names (no escapes).
fn sort_parts(name: &str, span: &Range<usize>) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut offset = span.start + 1;
    for part in name.split(',') {
        out.push((part.to_string(), offset..offset + part.len().max(1)));
        offset += part.len() + 1;
    }
    out
}

impl Validator<'_> {
    /// `order_by` (`-field` descending), the key last unless named.
    pub(super) fn order_by(&mut self, r: &RawRoute, data: &RouteTable) -> Vec<Order> {
        let written = r.order_by.iter().flat_map(|l| l.get_ref());
        let parts: Vec<(String, Range<usize>)> =
            written.map(|o| (o.get_ref().clone(), o.span())).collect();
        self.order_of(&parts, data)
    }

    /// An order from its fields as written, the key appended to break ties.
    fn order_of(&mut self, parts: &[(String, Range<usize>)], data: &RouteTable) -> Vec<Order> {
        let (table, api): (&Table, &ApiFields) = (data.table, &data.api);
        let mut order_by: Vec<Order> = Vec::new();
        for (written, span) in parts {
            let (descending, name) = match written.strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, written.as_str()),
            };
            let Some(col) = self.api_column(name, span.clone(), api, table) else {
                continue;
            };
            if order_by.iter().any(|o| o.column == col) {
                self.error(
                    span.clone(),
                    format!("field `{name}` is in this order twice"),
                );
                continue;
            }
            order_by.push(Order {
                column: col.to_string(),
                descending,
            });
        }
        if !order_by.iter().any(|o| o.column == table.key) {
            // The key last keeps pages stable when other columns tie.
            order_by.push(Order {
                column: table.key.clone(),
                descending: false,
            });
        }
        order_by
    }

    /// `sort`: the orders a request may choose with `?sort=NAME`, where
    /// NAME is the choice as written (`"-due,title"`); the place of each.
    pub(super) fn sorts(&mut self, r: &RawRoute, data: &RouteTable) -> Vec<(Sort, Range<usize>)> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for s in r.sort.iter().flat_map(|l| l.get_ref()) {
            let name = s.get_ref();
            if !seen.insert(name.clone()) {
                self.error(s.span(), format!("sort `{name}` is declared twice"));
                continue;
            }
            let parts = sort_parts(name, &s.span());
            if parts.iter().any(|(p, _)| p.is_empty() || p == "-") {
                self.error(
                    s.span(),
                    format!("sort `{name}` needs fields separated by commas, as in \"-due,title\""),
                );
                continue;
            }
            let order_by = self.order_of(&parts, data);
            out.push((
                Sort {
                    name: name.clone(),
                    order_by,
                },
                s.span(),
            ));
        }
        if let Some(list) = r.sort.as_ref().filter(|l| l.get_ref().is_empty()) {
            self.error(list.span(), "sort needs at least one choice");
        }
        out
    }

    /// Whether an index serves an order of the list, so that a page seeks
    /// to its start instead of sorting the rows; on DynamoDB, whether a
    /// Query or a Scan can give the order at all.
    pub(super) fn order_index(
        &mut self,
        span: Range<usize>,
        table: &Table,
        list: &ListOperation,
        order: &[Order],
    ) {
        let sorted = table.sort_columns(order);
        if self.engine == CloudEngine::Dynamodb {
            return self.dynamodb_order(span, table, list, order);
        }
        // The key last, either way, only breaks ties: every index reaches it.
        let sorted = match sorted.split_last() {
            Some((last, rest)) if last.column == table.key => rest,
            _ => sorted,
        };
        if sorted.is_empty() {
            return;
        }
        let columns: Vec<&str> = sorted.iter().map(|o| o.column.as_str()).collect();
        let begins = |lead: &[&str]| {
            table.indexes.values().any(|x| {
                x.columns.len() >= lead.len() && x.columns.iter().zip(lead).all(|(a, b)| a == b)
            })
        };
        // Unfiltered, the order's own index; where a filter is required,
        // one per filter that leads with it is as good.
        let served = begins(&columns)
            || list.require_filter
                && list.filter_columns().all(|f| {
                    let lead: Vec<&str> =
                        std::iter::once(f).chain(columns.iter().copied()).collect();
                    f == table.key || begins(&lead)
                });
        if !served {
            self.error(
                span,
                format!(
                    "no index of table `{}` begins with {}: each page would sort the rows",
                    table.name,
                    quoted(&columns)
                ),
            )
            .hint = Some(format!(
                "add [tables.{}.indexes] by_{} = {{ columns = {} }}",
                table.name,
                columns.join("_"),
                toml_list(&columns)
            ));
        }
    }

    /// DynamoDB gives an order only from a GSI's sort key, in a Query on
    /// the GSI's partition key (a filter), or the table's own order in a Scan.
    fn dynamodb_order(
        &mut self,
        span: Range<usize>,
        table: &Table,
        list: &ListOperation,
        order: &[Order],
    ) {
        let sorted = table.sort_columns(order);
        let others: Vec<&Order> = order.iter().filter(|o| o.column != table.key).collect();
        if others.len() > 1 {
            self.error(
                span,
                format!(
                    "DynamoDB orders a Query by one index sort key; this order needs {} columns",
                    others.len()
                ),
            )
            .hint = Some("order by one column (the key breaks ties)".into());
            return;
        }
        if sorted.iter().any(|o| o.column == table.key) {
            let why = if others.is_empty() {
                "DynamoDB lists a table only in its own order (a Scan); it cannot list it by descending key"
            } else {
                "DynamoDB breaks ties within an index in its own order; it cannot order them by descending key"
            };
            self.error(span, why).hint = Some("leave out the key in order_by".into());
            return;
        }
        if sorted.is_empty() {
            return;
        }
        let by = &sorted[0].column;
        if !list.require_filter {
            self.error(span, format!("DynamoDB can order by `{by}` only within a filter (a Query on an index): a list without one is a Scan, in the table's own order"))
                .hint = Some("add require_filter = true, or leave out order_by".into());
            return;
        }
        if table.columns[by].nullable {
            self.error(span.clone(), format!("column `{by}` may be null: DynamoDB leaves items without it out of an index sorted by it"))
                .hint = Some(format!("give `{by}` a default, or make it required (nullable = false)"));
        }
        for column in list.filter_columns() {
            if column == table.key {
                continue;
            }
            let has = table.indexes.values().any(|x| {
                x.columns.first() == Some(&column.to_string()) && x.columns.get(1) == Some(by)
            });
            if !has {
                let pair = [column, by.as_str()];
                self.error(span.clone(), format!("DynamoDB cannot list by `{column}` in `{by}` order: no index has `{column}` as partition key and `{by}` as sort key"))
                    .hint = Some(format!(
                        "add [tables.{}.indexes] {column}_by_{by} = {{ columns = {} }}",
                        table.name,
                        toml_list(&pair)
                    ));
            }
        }
    }
}
