//! `op = "list"` (filters, a named filter, order, page sizes), and the
//! field lists routes share: `fields`, `input`, and API names in maps.

use std::collections::HashSet;
use std::ops::Range;

use indexmap::IndexMap;

use super::route::{RouteHead, RouteTable};
use super::{ApiFields, Validator, LIST_PARAMS};
use crate::diagnostic::suggest;
use crate::model::{
    CloudEngine, Field, Filter, ListOperation, NamedFilter, Operation, Order, Table,
};
use crate::raw::{RawNamedFilter, RawRoute, S};

const DEFAULT_PAGE_SIZE: u32 = 100;
const DEFAULT_MAX_PAGE_SIZE: u32 = 1000;
const MAX_PAGE_SIZE_LIMIT: u32 = 10_000;

/// The index a filter on `column` of `table` needs, as the stack file says it.
fn index_hint(table: &Table, column: &str) -> String {
    format!(
        "add [tables.{}.indexes] {column} = {{ columns = [\"{column}\"] }}",
        table.name
    )
}

fn quoted(columns: &[&str]) -> String {
    let names: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    format!("({})", names.join(", "))
}

fn toml_list(columns: &[&str]) -> String {
    let names: Vec<String> = columns.iter().map(|c| format!("\"{c}\"")).collect();
    format!("[{}]", names.join(", "))
}

impl Validator<'_> {
    /// `op = "list"`: rows filtered by query parameters on indexed columns,
    /// in a stable order, a page at a time.
    pub(super) fn list(&mut self, head: &RouteHead, data: &RouteTable) -> Operation {
        self.unused_params(head, Some("use `filters` for query parameters"));
        let (r, table, api) = (head.raw, data.table, &data.api);
        let mut params = HashSet::new();
        let filters = self.filters(r, table, api, &mut params);
        let named_filter = r
            .named_filter
            .as_ref()
            .map(|nf| self.named_filter(nf, table, api, &mut params));
        let order_by = self.order_by(r, table, api);
        let max_page_size = self.page_size(r.max_page_size.as_ref(), DEFAULT_MAX_PAGE_SIZE);
        let default_size = DEFAULT_PAGE_SIZE.min(max_page_size);
        let page_size = self.page_size(r.page_size.as_ref(), default_size);
        if page_size > max_page_size {
            let span = r.page_size.as_ref().expect("only when explicit").span();
            self.error(span, "page_size is larger than max_page_size");
        }
        let list = ListOperation {
            table: table.name.clone(),
            filters,
            named_filter,
            order_by,
            page_size,
            max_page_size,
            require_filter: r.require_filter.as_ref().is_some_and(|b| *b.get_ref()),
        };
        if let Some(b) = r.require_filter.as_ref().filter(|b| *b.get_ref()) {
            if list.filter_columns().next().is_none() {
                self.error(
                    b.span(),
                    "require_filter needs `filters` or a `named_filter`",
                );
            }
        }
        self.order_index(r, table, &list);
        Operation::List(list)
    }

    /// A query parameter the list reads: not one of pagination's, and
    /// not read twice.
    fn query_param(&mut self, seen: &mut HashSet<String>, name: &str, span: Range<usize>) {
        if LIST_PARAMS.contains(&name) {
            self.error(
                span,
                format!("query parameter `{name}` is reserved for lists (limit, cursor, fields)"),
            );
        } else if !seen.insert(name.to_string()) {
            self.error(span, format!("query parameter `{name}` is used twice"));
        }
    }

    /// `filters`: each a field on an indexed column, read from the query
    /// parameter of its name.
    fn filters(
        &mut self,
        r: &RawRoute,
        table: &Table,
        api: &ApiFields,
        params: &mut HashSet<String>,
    ) -> Vec<Filter> {
        let mut filters = Vec::new();
        for f in r.filters.iter().flat_map(|l| l.get_ref()) {
            let Some(col) = self.api_column(f.get_ref(), f.span(), api, table) else {
                continue;
            };
            if !table.is_indexed(col) {
                self.error(
                    f.span(),
                    format!(
                        "filter `{}` is on column `{col}`, which has no index",
                        f.get_ref()
                    ),
                )
                .hint = Some(index_hint(table, col));
                continue;
            }
            self.query_param(params, f.get_ref(), f.span());
            filters.push(Filter {
                param: f.get_ref().clone(),
                column: col.to_string(),
            });
        }
        filters
    }

    /// `named_filter`: one parameter chooses the field, another gives its value.
    fn named_filter(
        &mut self,
        nf: &S<RawNamedFilter>,
        table: &Table,
        api: &ApiFields,
        params: &mut HashSet<String>,
    ) -> NamedFilter {
        let n = nf.get_ref();
        self.query_param(params, n.param.get_ref(), n.param.span());
        self.query_param(params, n.value_param.get_ref(), n.value_param.span());
        if n.choices.is_empty() {
            self.error(nf.span(), "named_filter needs at least one choice");
        }
        let mut choices = IndexMap::new();
        for (choice, field) in &n.choices {
            let Some(col) = self.api_column(field.get_ref(), field.span(), api, table) else {
                continue;
            };
            if !table.is_indexed(col) {
                self.error(
                    field.span(),
                    format!("choice `{choice}` filters on column `{col}`, which has no index"),
                )
                .hint = Some(index_hint(table, col));
                continue;
            }
            choices.insert(choice.clone(), col.to_string());
        }
        NamedFilter {
            param: n.param.get_ref().clone(),
            value_param: n.value_param.get_ref().clone(),
            choices,
        }
    }

    /// `order_by` (`-field` descending), the key last unless named.
    fn order_by(&mut self, r: &RawRoute, table: &Table, api: &ApiFields) -> Vec<Order> {
        let mut order_by = Vec::new();
        for o in r.order_by.iter().flat_map(|l| l.get_ref()) {
            let (descending, name) = match o.get_ref().strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, o.get_ref().as_str()),
            };
            let Some(col) = self.api_column(name, o.span(), api, table) else {
                continue;
            };
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

    /// Whether an index serves the list's order, so that a page seeks to
    /// its start instead of sorting the rows; on DynamoDB, whether a Query
    /// or a Scan can give the order at all.
    fn order_index(&mut self, r: &RawRoute, table: &Table, list: &ListOperation) {
        let Some(written) = r.order_by.as_ref() else {
            return;
        };
        let sorted = table.sort_columns(&list.order_by);
        if self.engine == CloudEngine::Dynamodb {
            return self.dynamodb_order(written.span(), table, list, sorted);
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
                written.span(),
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
        sorted: &[Order],
    ) {
        let others: Vec<&Order> = list
            .order_by
            .iter()
            .filter(|o| o.column != table.key)
            .collect();
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

    fn page_size(&mut self, written: Option<&S<i64>>, default: u32) -> u32 {
        match written {
            None => default,
            Some(n) if (1..=MAX_PAGE_SIZE_LIMIT as i64).contains(n.get_ref()) => {
                *n.get_ref() as u32
            }
            Some(n) => {
                self.error(
                    n.span(),
                    format!("page sizes must be between 1 and {MAX_PAGE_SIZE_LIMIT}"),
                );
                default
            }
        }
    }

    /// Resolve an API field name to its column, reporting unknown names.
    pub(super) fn api_column<'t>(
        &mut self,
        field: &str,
        span: Range<usize>,
        api: &ApiFields,
        table: &'t Table,
    ) -> Option<&'t str> {
        match api.column_of(field) {
            Some(col) => table.columns.get_key_value(col).map(|(k, _)| k.as_str()),
            None => {
                let hint = suggest(field, api.names());
                self.error(
                    span,
                    format!("unknown field `{field}` of table `{}`", table.name),
                )
                .hint = Some(hint);
                None
            }
        }
    }

    /// A list of API field names (`fields`, `input`), each known and named once.
    pub(super) fn field_list(
        &mut self,
        list: &S<Vec<S<String>>>,
        api: &ApiFields,
        table: &str,
    ) -> Vec<Field> {
        let mut out: Vec<Field> = Vec::new();
        for f in list.get_ref() {
            let name = f.get_ref();
            match api.column_of(name) {
                Some(col) if !out.iter().any(|o| &o.api == name) => out.push(Field {
                    api: name.clone(),
                    column: col.to_string(),
                }),
                Some(_) => {
                    self.error(f.span(), format!("field `{name}` appears twice"));
                }
                None => {
                    let hint = match api.api_of(name) {
                        Some(renamed) if renamed != name => {
                            format!("column `{name}` is renamed to `{renamed}` on this route")
                        }
                        _ => suggest(name, api.names()),
                    };
                    self.error(
                        f.span(),
                        format!("unknown field `{name}` of table `{table}`"),
                    )
                    .hint = Some(hint);
                }
            }
        }
        out
    }

    /// The fields a create or update reads from the body: `input`, or
    /// every field but a generated key.
    pub(super) fn input(
        &mut self,
        r: &RawRoute,
        table: &Table,
        api: &ApiFields,
        create: bool,
    ) -> Vec<Field> {
        let Some(list) = &r.input else {
            return api
                .fields
                .iter()
                .filter(|f| !(f.column == table.key && table.key_column().generated))
                .cloned()
                .collect();
        };
        let fields = self.field_list(list, api, &table.name);
        let key_is_input = create && !table.key_column().generated;
        let key = fields.iter().find(|f| f.column == table.key);
        if let Some(f) = key.filter(|_| !key_is_input) {
            // Where the key's name is first written (a name written twice
            // or unknown is left out of `fields`).
            let written = list.get_ref().iter().find(|w| w.get_ref() == &f.api);
            let why = if create {
                "is generated"
            } else {
                "cannot change on update"
            };
            let span = written.expect("fields come from the list").span();
            self.error(span, format!("input `{}`: the key {why}", f.api));
        }
        fields
    }
}
