//! `op = "list"` (filters, a named filter, order, page sizes), and the
//! field lists routes share: `fields`, `input`, and API names in maps.

use std::collections::HashSet;
use std::ops::Range;

use indexmap::IndexMap;

use super::route::{RouteHead, RouteTable};
use super::{ApiFields, Validator, LIST_PARAMS};
use crate::diagnostic::suggest;
use crate::model::{
    CloudEngine, ColumnType, Field, Filter, ListOperation, NamedFilter, Operation, Order,
    RangeFilter, RangeOp, Stamp, Table,
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

/// The query parameters a list reads so far, and those it keeps for itself.
struct Params {
    seen: HashSet<String>,
    reserved: Vec<&'static str>,
}

impl Validator<'_> {
    /// `op = "list"`: rows filtered by query parameters on indexed columns,
    /// in a stable order, a page at a time.
    pub(super) fn list(&mut self, head: &RouteHead, data: &RouteTable) -> Operation {
        self.unused_params(head, Some("use `filters` for query parameters"));
        let (r, table, api) = (head.raw, data.table, &data.api);
        let count = r.count.as_ref().is_some_and(|b| *b.get_ref());
        let mut reserved = LIST_PARAMS.to_vec();
        reserved.extend(r.sort.is_some().then_some("sort"));
        reserved.extend(count.then_some("count"));
        let mut params = Params {
            seen: HashSet::new(),
            reserved,
        };
        let filters = self.filters(r, table, api, &mut params);
        let named_filter = r
            .named_filter
            .as_ref()
            .map(|nf| self.named_filter(nf, table, api, &mut params));
        let ranges = self.ranges(r, table, api, &mut params);
        let order_by = self.order_by(r, data);
        let sorts = self.sorts(r, data);
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
            ranges: ranges.iter().map(|(x, _)| x.clone()).collect(),
            order_by,
            sorts: sorts.iter().map(|(x, _)| x.clone()).collect(),
            count,
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
        if let Some(written) = &r.order_by {
            self.order_index(written.span(), table, &list, &list.order_by);
        }
        for (sort, span) in &sorts {
            self.order_index(span.clone(), table, &list, &sort.order_by);
        }
        if self.engine != CloudEngine::Dynamodb {
            self.range_indexes(table, &list, &ranges);
        } else {
            self.dynamodb_ranges(table, &list, &ranges);
            if let Some(c) = r.count.as_ref().filter(|c| *c.get_ref()) {
                self.error(
                    c.span(),
                    "DynamoDB cannot count a list's rows without reading every item it holds",
                )
                .hint = Some("leave out count".into());
            }
        }
        Operation::List(list)
    }

    /// A query parameter the list reads: not one the list keeps for
    /// itself, and not read twice.
    fn query_param(&mut self, params: &mut Params, name: &str, span: Range<usize>) {
        if params.reserved.contains(&name) {
            self.error(
                span,
                format!(
                    "query parameter `{name}` is reserved for lists ({})",
                    params.reserved.join(", ")
                ),
            );
        } else if !params.seen.insert(name.to_string()) {
            self.error(span, format!("query parameter `{name}` is used twice"));
        }
    }

    /// `ranges`: the fields a request may bound (`?due.gte=V`), each on an
    /// indexed column whose values have an order; `prefix` on text only.
    fn ranges(
        &mut self,
        r: &RawRoute,
        table: &Table,
        api: &ApiFields,
        params: &mut Params,
    ) -> Vec<(RangeFilter, Range<usize>)> {
        let mut out: Vec<(RangeFilter, Range<usize>)> = Vec::new();
        for f in r.ranges.iter().flat_map(|l| l.get_ref()) {
            let field = f.get_ref();
            let Some(col) = self.api_column(field, f.span(), api, table) else {
                continue;
            };
            if out.iter().any(|(x, _)| &x.field == field) {
                self.error(f.span(), format!("range `{field}` is declared twice"));
                continue;
            }
            let ty = table.columns[col].ty;
            if matches!(ty, ColumnType::Boolean | ColumnType::Json) {
                self.error(
                    f.span(),
                    format!("range `{field}`: a {ty} column has no order to bound"),
                );
                continue;
            }
            let text = matches!(ty, ColumnType::String { .. } | ColumnType::Text);
            let range = RangeFilter {
                field: field.clone(),
                column: col.to_string(),
                ops: RangeOp::ALL
                    .into_iter()
                    .filter(|op| text || *op != RangeOp::Prefix)
                    .collect(),
            };
            for op in &range.ops {
                self.query_param(params, &range.param(*op), f.span());
            }
            out.push((range, f.span()));
        }
        out
    }

    /// A range reads rows from an index: one that begins with its column,
    /// or, where a filter is required, one per filter that leads with it.
    fn range_indexes(
        &mut self,
        table: &Table,
        list: &ListOperation,
        ranges: &[(RangeFilter, Range<usize>)],
    ) {
        for (range, span) in ranges {
            let col = range.column.as_str();
            let after_filter = |f: &str| {
                f == table.key
                    || table.indexes.values().any(|x| {
                        x.columns.first().is_some_and(|c| c == f)
                            && x.columns.get(1).is_some_and(|c| c == col)
                    })
            };
            let served = table.is_indexed(col)
                || list.require_filter && list.filter_columns().all(after_filter);
            if !served {
                self.error(
                    span.clone(),
                    format!(
                        "range `{}` is on column `{col}`, which has no index",
                        range.field
                    ),
                )
                .hint = Some(index_hint(table, col));
            }
        }
    }

    /// DynamoDB bounds only an index's sort key, in a Query: a range needs
    /// a required filter, and every order of the list by its field.
    fn dynamodb_ranges(
        &mut self,
        table: &Table,
        list: &ListOperation,
        ranges: &[(RangeFilter, Range<usize>)],
    ) {
        for (range, span) in ranges {
            let field = &range.field;
            if !list.require_filter {
                self.error(span.clone(), format!("DynamoDB bounds `{field}` only in a Query on an index sorted by it: a list without a filter is a Scan"))
                    .hint = Some("add require_filter = true".into());
                continue;
            }
            let by_it = |order: &[Order]| {
                let sorted = table.sort_columns(order);
                sorted.len() == 1 && sorted[0].column == range.column
            };
            if !list.orders().all(by_it) {
                self.error(span.clone(), format!("DynamoDB bounds `{field}` only in a Query on an index sorted by it: every order of this list must be by `{field}`"))
                    .hint = Some(format!("order_by = [\"{field}\"] (or \"-{field}\"), and the same in sort"));
            }
        }
    }

    /// `filters`: each a field on an indexed column, read from the query
    /// parameter of its name.
    fn filters(
        &mut self,
        r: &RawRoute,
        table: &Table,
        api: &ApiFields,
        params: &mut Params,
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
        params: &mut Params,
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
        let written_by_runtime = |f: &Field| {
            (f.column == table.key && table.key_column().generated)
                || table.columns[&f.column].stamp == Some(Stamp::Updated)
        };
        let Some(list) = &r.input else {
            return api
                .fields
                .iter()
                .filter(|f| !written_by_runtime(f))
                .cloned()
                .collect();
        };
        let fields = self.field_list(list, api, &table.name);
        for f in fields
            .iter()
            .filter(|f| f.column != table.key && written_by_runtime(f))
        {
            let written = list.get_ref().iter().find(|w| w.get_ref() == &f.api);
            let span = written.expect("fields come from the list").span();
            self.error(
                span,
                format!(
                    "input `{}`: the runtime writes it on every write (`updated = \"now\"`)",
                    f.api
                ),
            );
        }
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
