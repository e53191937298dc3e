//! `[[routes]]`: what every route shares (method, path, op, auth, the keys
//! only some ops take, status and body, the table under its API names),
//! then one function an operation: health here, get, delete, create and
//! update in `ops`, list in `list`. Paths: their parameters, the paths the
//! runtime keeps, and routes that collide.

use std::collections::{HashMap, HashSet};
use std::ops::Range;

use indexmap::IndexMap;
use serde_json::Value as Json;

use super::{is_identifier, ApiFields, Validator};
use crate::diagnostic::suggest;
use crate::model::*;
use crate::raw::{RawRoute, RawTable, S};
use crate::values::toml_to_json;

/// Every op a route can have.
const OPS: [&str; 6] = ["get", "list", "create", "update", "delete", "health"];

/// Where a route key was written, if it was.
type SpanOf = fn(&RawRoute, &Range<usize>) -> Option<Range<usize>>;

/// The route keys that apply to some ops only, and those ops: the one
/// place that says which keys each op takes. A map's place is its first
/// entry, or the route when it is empty.
const SCOPED: [(&str, SpanOf, &[&str]); 16] = [
    ("filters", |r, _| written(r.filters.as_ref()), &["list"]),
    (
        "named_filter",
        |r, _| written(r.named_filter.as_ref()),
        &["list"],
    ),
    ("order_by", |r, _| written(r.order_by.as_ref()), &["list"]),
    ("page_size", |r, _| written(r.page_size.as_ref()), &["list"]),
    (
        "max_page_size",
        |r, _| written(r.max_page_size.as_ref()),
        &["list"],
    ),
    (
        "require_filter",
        |r, _| written(r.require_filter.as_ref()),
        &["list"],
    ),
    ("ranges", |r, _| written(r.ranges.as_ref()), &["list"]),
    ("sort", |r, _| written(r.sort.as_ref()), &["list"]),
    ("count", |r, _| written(r.count.as_ref()), &["list"]),
    (
        "key_query",
        |r, _| written(r.key_query.as_ref()),
        &["get", "update", "delete"],
    ),
    (
        "input",
        |r, _| written(r.input.as_ref()),
        &["create", "update"],
    ),
    (
        "set",
        |r, route| first_span(r.set.as_ref(), route),
        &["update"],
    ),
    (
        "increment",
        |r, route| first_span(r.increment.as_ref(), route),
        &["update"],
    ),
    (
        "where",
        |r, _| written(r.condition.as_ref()),
        &["update", "delete"],
    ),
    (
        "wrap",
        |r, _| written(r.wrap.as_ref()),
        &["get", "list", "create", "update"],
    ),
    (
        "rename",
        |r, route| first_span(r.rename.as_ref(), route),
        &["get", "list", "create", "update", "delete"],
    ),
];

/// The place of a key, if written.
fn written<T>(value: Option<&S<T>>) -> Option<Range<usize>> {
    value.map(S::span)
}

/// The place of a map's first entry, or of the route when it is empty.
fn first_span<V>(
    map: Option<&IndexMap<String, S<V>>>,
    route: &Range<usize>,
) -> Option<Range<usize>> {
    map.map(|m| m.values().next().map_or(route.clone(), |x| x.span()))
}

/// What every route has, read before its operation.
pub(super) struct RouteHead<'r> {
    pub(super) raw: &'r RawRoute,
    pub(super) span: Range<usize>,
    pub(super) op: &'r str,
    method: Method,
    pub(super) auth: Auth,
    pub(super) params: Vec<(String, Range<usize>)>,
    status: u16,
    body: Option<Json>,
    /// How many problems were known before this route.
    pub(super) errors_before: usize,
}

/// The table a route works on, its API names and the fields it answers with.
pub(super) struct RouteTable<'t> {
    pub(super) table: &'t Table,
    pub(super) api: ApiFields,
    pub(super) key_api: String,
    fields: Vec<Field>,
}

impl Validator<'_> {
    /// Every route, then the routes that collide.
    pub(super) fn routes(
        &mut self,
        raw: &[S<RawRoute>],
        tables: &IndexMap<String, Table>,
        raw_tables: &IndexMap<String, S<RawTable>>,
    ) -> Vec<Route> {
        let routes = raw
            .iter()
            .filter_map(|r| self.route(r, tables, raw_tables))
            .collect();
        self.route_conflicts(raw);
        routes
    }

    fn route(
        &mut self,
        raw: &S<RawRoute>,
        tables: &IndexMap<String, Table>,
        raw_tables: &IndexMap<String, S<RawTable>>,
    ) -> Option<Route> {
        let head = self.route_head(raw)?;
        if head.op == "health" {
            return self.health(head);
        }
        let data = self.route_table(&head, tables, raw_tables)?;
        let table = data.table.name.clone();
        let operation = match head.op {
            "get" => Operation::Get {
                table,
                key: self.key_source(&head, &data)?,
            },
            "delete" => Operation::Delete {
                table,
                key: self.key_source(&head, &data)?,
                condition: self.condition(&head, &data, &[]),
            },
            "list" => self.list(&head, &data),
            "create" => self.create(&head, &data),
            "update" => self.update(&head, &data)?,
            _ => unreachable!("route_head knows every op"),
        };
        let wrap = head.raw.wrap.as_ref().and_then(|w| {
            if w.get_ref().is_empty() {
                self.error(w.span(), "wrap needs a key name");
                None
            } else {
                Some(w.get_ref().clone())
            }
        });
        self.finish(head, operation, data.fields, wrap)
    }

    /// The route, if nothing was wrong with it.
    fn finish(
        &mut self,
        head: RouteHead,
        operation: Operation,
        fields: Vec<Field>,
        wrap: Option<String>,
    ) -> Option<Route> {
        (self.errors.len() == head.errors_before).then(|| Route {
            method: head.method,
            path: head.raw.path.get_ref().clone(),
            auth: head.auth,
            operation,
            response: Response {
                status: head.status,
                fields,
                wrap,
                body: head.body,
            },
        })
    }

    /// Method, path parameters, op, auth, the keys for other ops, status
    /// and body; `None` when the op is unknown.
    fn route_head<'r>(&mut self, raw: &'r S<RawRoute>) -> Option<RouteHead<'r>> {
        let span = raw.span();
        let r = raw.get_ref();
        let errors_before = self.errors.len();
        let method_text = r.method.get_ref().to_ascii_uppercase();
        let method = match Method::ALL.iter().find(|(n, _)| *n == method_text) {
            Some((_, m)) => *m,
            None => {
                let hint = suggest(&method_text, Method::ALL.iter().map(|(n, _)| *n));
                self.error(
                    r.method.span(),
                    format!("unknown method `{}`", r.method.get_ref()),
                )
                .hint = Some(hint);
                Method::Get
            }
        };
        let params = self.path_params(&r.path);
        let op = r.op.get_ref().as_str();
        if !OPS.contains(&op) {
            self.unknown(r.op.span(), "op", op, OPS);
            return None;
        }
        let auth = self.auth(r.auth.as_ref(), false);
        for (key, span_of, ops) in SCOPED {
            if let Some(key_span) = span_of(r, &span) {
                if !ops.contains(&op) {
                    self.error(key_span, format!("`{key}` does not apply to op = \"{op}\""))
                        .hint = Some(format!("`{key}` is for op = {}", ops.join(" | ")));
                }
            }
        }
        let status = match &r.status {
            Some(s) if (200..=299).contains(s.get_ref()) => *s.get_ref() as u16,
            Some(s) => {
                self.error(s.span(), "status must be a success code (200-299)");
                200
            }
            None => match op {
                "create" => 201,
                "delete" => 204,
                _ => 200,
            },
        };
        let body = r.body.as_ref().map(|b| toml_to_json(b.get_ref()));
        if status == 204 && (body.is_some() || r.wrap.is_some()) {
            self.error(span.clone(), "a 204 response has no body").hint =
                Some("remove `body`/`wrap`, or set status = 200".into());
        }
        Some(RouteHead {
            raw: r,
            span,
            op,
            method,
            auth,
            params,
            status,
            body,
            errors_before,
        })
    }

    /// Path parameters the op does not read.
    pub(super) fn unused_params(&mut self, head: &RouteHead, hint: Option<&str>) {
        for (name, span) in &head.params {
            let op = head.op;
            self.error(
                span.clone(),
                format!("path parameter `{{{name}}}` is not used by op = \"{op}\""),
            )
            .hint = hint.map(str::to_string);
        }
    }

    /// `op = "health"`: no table, no rows; `body` is its answer.
    fn health(&mut self, mut head: RouteHead) -> Option<Route> {
        if let Some(t) = &head.raw.table {
            self.error(t.span(), "op = \"health\" takes no table");
        }
        self.unused_params(&head, None);
        if let Some(f) = &head.raw.fields {
            self.error(
                f.span(),
                "op = \"health\" returns no rows: use `body` for its answer",
            );
        }
        head.body
            .get_or_insert_with(|| serde_json::json!({"status": "ok"}));
        self.finish(head, Operation::Health, Vec::new(), None)
    }

    /// The route's table, its API names (after `rename`) and `fields`.
    fn route_table<'t>(
        &mut self,
        head: &RouteHead,
        tables: &'t IndexMap<String, Table>,
        raw_tables: &IndexMap<String, S<RawTable>>,
    ) -> Option<RouteTable<'t>> {
        let r = head.raw;
        let Some(table_name) = &r.table else {
            let op = head.op;
            self.error(head.span.clone(), format!("op = \"{op}\" needs `table`"));
            return None;
        };
        let table = self.lookup(table_name, "table", tables, raw_tables)?;
        let api = self.api_fields(head, table);
        let key_api = api.api_of(&table.key).unwrap_or(&table.key).to_string();
        let fields = match &r.fields {
            None => api.fields.clone(),
            Some(list) => {
                let fields = self.field_list(list, &api, &table.name);
                if fields.is_empty() && !list.get_ref().is_empty() {
                    return None;
                }
                fields
            }
        };
        Some(RouteTable {
            table,
            api,
            key_api,
            fields,
        })
    }

    /// API names: every column under its own name unless renamed.
    fn api_fields(&mut self, head: &RouteHead, table: &Table) -> ApiFields {
        let mut renamed: HashMap<&str, &str> = HashMap::new();
        for (api, column) in head.raw.rename.iter().flatten() {
            if !table.columns.contains_key(column.get_ref()) {
                let hint = suggest(column.get_ref(), table.columns.keys().map(String::as_str));
                self.error(
                    column.span(),
                    format!(
                        "rename `{api}`: unknown column `{}` in table `{}`",
                        column.get_ref(),
                        table.name
                    ),
                )
                .hint = Some(hint);
            } else if !is_identifier(api) {
                self.error(column.span(), format!("invalid API field name `{api}`"));
            } else if renamed
                .insert(column.get_ref().as_str(), api.as_str())
                .is_some()
            {
                self.error(
                    column.span(),
                    format!("column `{}` is renamed twice", column.get_ref()),
                );
            }
        }
        let fields: Vec<Field> = table
            .columns
            .keys()
            .map(|c| Field {
                api: renamed.get(c.as_str()).map_or(c.clone(), |a| a.to_string()),
                column: c.clone(),
            })
            .collect();
        let mut seen = HashSet::new();
        for f in &fields {
            if !seen.insert(f.api.as_str()) {
                self.error(
                    head.span.clone(),
                    format!("two fields are named `{}`", f.api),
                )
                .hint = Some("a rename collides with a column name".into());
            }
        }
        ApiFields { fields }
    }

    /// Every route path is checked against what the runtime serves itself.
    pub(super) fn reserved_paths(&mut self, raw: &[S<RawRoute>]) {
        for raw_route in raw {
            // Every topic is published at POST /topics/NAME.
            let path = &raw_route.get_ref().path;
            if ["/openapi.json", "/docs"].contains(&path.get_ref().as_str()) {
                self.error(
                    path.span(),
                    format!(
                        "`{}` is where the API describes itself; choose another path",
                        path.get_ref()
                    ),
                );
            }
            if path.get_ref() == "/topics" || path.get_ref().starts_with("/topics/") {
                self.error(
                    path.span(),
                    "paths under /topics/ are where topics are published; choose another path",
                );
            }
        }
    }

    /// `{name}` parameters of a path template, with their spans in the file.
    fn path_params(&mut self, path: &S<String>) -> Vec<(String, Range<usize>)> {
        let text = path.get_ref();
        // +1 skips the opening quote of a basic string.
        let base = path.span().start + 1;
        let mut params = Vec::new();
        if !text.starts_with('/') {
            self.error(path.span(), "a route path must start with `/`");
            return params;
        }
        let mut offset = 0;
        for segment in text.split('/') {
            let seg_span = base + offset..base + offset + segment.len().max(1);
            offset += segment.len() + 1;
            if segment.contains(['{', '}']) {
                let inner = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
                match inner {
                    Some(name) if is_identifier(name) => {
                        if params.iter().any(|(n, _)| n == name) {
                            self.error(
                                seg_span,
                                format!("path parameter `{{{name}}}` appears twice"),
                            );
                        } else {
                            params.push((name.to_string(), seg_span));
                        }
                    }
                    _ => {
                        self.error(seg_span, format!("invalid path segment `{segment}`"))
                            .hint = Some("a parameter is a whole segment: `/items/{id}`".into());
                    }
                }
            } else if segment.contains(['*', '?', '#', ' ', ':']) {
                self.error(seg_span, format!("invalid path segment `{segment}`"));
            }
        }
        params
    }

    /// Two routes on the same method and path, or paths that differ only in
    /// parameter names (which the router cannot tell apart).
    fn route_conflicts(&mut self, raw: &[S<RawRoute>]) {
        let mut seen: HashMap<(String, String), &S<RawRoute>> = HashMap::new();
        let mut shapes: HashMap<String, &str> = HashMap::new();
        for r in raw {
            let path = r.get_ref().path.get_ref();
            let shape: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "{}" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method = r.get_ref().method.get_ref().to_ascii_uppercase();
            if let Some(first) = shapes.get(&shape) {
                if *first != path.as_str() {
                    let first = first.to_string();
                    self.error(
                        r.get_ref().path.span(),
                        format!("path `{path}` conflicts with `{first}`"),
                    )
                    .hint = Some("use the same parameter names in both paths".into());
                    continue;
                }
            } else {
                shapes.insert(shape.clone(), path);
            }
            if seen.insert((method.clone(), shape), r).is_some() {
                self.error(r.span(), format!("route {method} {path} is defined twice"));
            }
        }
    }
}
