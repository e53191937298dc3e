//! `op = "list"`: a page of rows, filtered, bounded, sorted, counted and
//! cut to the fields asked for, as the route declares; every other query
//! parameter, or one given twice, is a 400.

use std::borrow::Cow;

use axum::http::HeaderValue;
use axum::response::Response;
use serde_json::Value as Json;
use stackwright_stack::validate::LIST_PARAMS;
use stackwright_stack::{Column, Field, ListOperation, Order, RangeFilter, RangeOp, Route, Table};
use stackwright_storage::{Bound, ListQuery};

use super::decode::{clip, parse_query, text_value};
use super::respond::respond_rows;
use super::{cursor, ApiContext};
use crate::error::ApiError;

/// The header that carries `?count=true`'s answer.
const TOTAL_COUNT: &str = "x-total-count";

/// The query parameters a request gave, by name.
struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

pub(super) async fn list(
    ctx: &ApiContext,
    route: &Route,
    list: &ListOperation,
    query: Option<&str>,
) -> Result<Response, ApiError> {
    let table = ctx.stack.table(&list.table);
    // Most lists are asked with no query string: then there is no name to
    // accept or refuse, and none is made.
    let query = query.filter(|q| !q.is_empty());
    let (bounds, params) = match query {
        Some(_) => {
            let bounds = range_params(list);
            let mut accepted = accepted(list);
            accepted.extend(bounds.iter().map(|(name, _, _)| name.as_str()));
            let params = Params(parse_query(query, &accepted)?);
            (bounds, params)
        }
        None => (Vec::new(), Params(Vec::new())),
    };
    let filters = filters(table, list, &params)?;
    let ranges = ranges(table, &bounds, &params)?;
    let (sort, order_by) = sort(list, params.get("sort"))?;
    let count = match params.get("count") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(ApiError::BadRequest(
                "query parameter `count`: must be true or false".into(),
            ))
        }
    };
    let limit = match params.get("limit") {
        None => list.page_size,
        Some(raw) => match raw.parse::<u32>() {
            Ok(n) if (1..=list.max_page_size).contains(&n) => n,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "query parameter `limit`: must be an integer from 1 to {}",
                    list.max_page_size
                )))
            }
        },
    };
    let fields = selected_fields(&route.response.fields, params.get("fields"))?;
    let mut query = ListQuery {
        filters,
        ranges,
        order_by,
        limit,
        after: None,
    };
    // A cursor continues only the list it came from: this route, these
    // filters and bounds, this order. Made only when a cursor is opened or
    // sealed: most pages are the only page.
    let binding = |query: &ListQuery<'_>| cursor::binding(&route.label(), query, sort);
    let position = match params.get("cursor").filter(|c| !c.is_empty()) {
        Some(c) => Some(ctx.cursors.open(&binding(&query), c)?),
        None => None,
    };
    query.after = position.as_ref();
    let total = match count {
        true => Some(ctx.engine.count(table, &query).await?),
        false => None,
    };
    let page = ctx.engine.list(table, &query).await?;
    let mut response = respond_rows(route, &fields, &page);
    if let Some(next) = page
        .next
        .and_then(|p| HeaderValue::from_str(&ctx.cursors.seal(&binding(&query), &p)).ok())
    {
        response.headers_mut().insert("x-next-cursor", next);
    }
    if let Some(total) = total {
        response
            .headers_mut()
            .insert(TOTAL_COUNT, HeaderValue::from(total));
    }
    Ok(response)
}

/// Every query parameter the route reads.
fn accepted(list: &ListOperation) -> Vec<&str> {
    let mut accepted: Vec<&str> = list.filters.iter().map(|f| f.param.as_str()).collect();
    if let Some(nf) = &list.named_filter {
        accepted.extend([nf.param.as_str(), nf.value_param.as_str()]);
    }
    accepted.extend(LIST_PARAMS);
    accepted.extend((!list.sorts.is_empty()).then_some("sort"));
    accepted.extend(list.count.then_some("count"));
    accepted
}

/// A bound a request may give: its parameter's name, its field and op.
type RangeParam<'l> = (String, &'l RangeFilter, RangeOp);

fn range_params(list: &ListOperation) -> Vec<RangeParam<'_>> {
    list.ranges
        .iter()
        .flat_map(|r| r.ops.iter().map(move |op| (r.param(*op), r, *op)))
        .collect()
}

/// The equality filters a request gives: `?field=V`, and the named filter.
fn filters<'l>(
    table: &Table,
    list: &'l ListOperation,
    params: &Params,
) -> Result<Vec<(&'l str, Json)>, ApiError> {
    let mut filters = Vec::new();
    for f in &list.filters {
        if let Some(raw) = params.get(&f.param) {
            let what = format_args!("query parameter `{}`", f.param);
            let value = text_value(&table.columns[&f.column], raw, what)?;
            filters.push((f.column.as_str(), value));
        }
    }
    if let Some(nf) = &list.named_filter {
        match (params.get(&nf.param), params.get(&nf.value_param)) {
            (None, None) => {}
            (Some(choice), Some(raw)) => {
                let Some(column) = nf.choices.get(choice) else {
                    let names: Vec<&str> = nf.choices.keys().map(String::as_str).collect();
                    return Err(ApiError::BadRequest(format!(
                        "unknown {} `{}`; expected one of {}",
                        nf.param,
                        clip(choice),
                        names.join(", ")
                    )));
                };
                let what = format_args!("query parameter `{}`", nf.value_param);
                let value = text_value(&table.columns[column], raw, what)?;
                filters.push((column.as_str(), value));
            }
            (Some(_), None) => {
                return Err(ApiError::BadRequest(format!(
                    "`{}` needs `{}`",
                    nf.param, nf.value_param
                )))
            }
            (None, Some(_)) => {
                return Err(ApiError::BadRequest(format!(
                    "`{}` needs `{}`",
                    nf.value_param, nf.param
                )))
            }
        }
    }
    if list.require_filter && filters.is_empty() {
        let mut names: Vec<&str> = list.filters.iter().map(|f| f.param.as_str()).collect();
        if let Some(nf) = &list.named_filter {
            names.push(&nf.param);
        }
        return Err(ApiError::BadRequest(format!(
            "this list needs a filter: give one of {}",
            names.join(", ")
        )));
    }
    Ok(filters)
}

/// The bounds a request gives: `?due.gte=V`, each value of the column's
/// type (any value of it: `allowed` lists what a row holds, not bounds).
fn ranges<'l>(
    table: &Table,
    asked: &[RangeParam<'l>],
    params: &Params,
) -> Result<Vec<Bound<'l>>, ApiError> {
    let mut bounds = Vec::new();
    for (param, range, op) in asked {
        let Some(raw) = params.get(param) else {
            continue;
        };
        let column = Column {
            allowed: None,
            nullable: false,
            ..table.columns[&range.column].clone()
        };
        let value = text_value(&column, raw, format_args!("query parameter `{param}`"))?;
        bounds.push(Bound {
            column: &range.column,
            op: *op,
            value,
        });
    }
    Ok(bounds)
}

/// `?sort=NAME`: one of the orders the route declares, or its default; the
/// name the cursor is bound to.
fn sort<'l>(
    list: &'l ListOperation,
    asked: Option<&str>,
) -> Result<(&'l str, &'l [Order]), ApiError> {
    let Some(asked) = asked else {
        return Ok(("", &list.order_by));
    };
    match list.sorts.iter().find(|s| s.name == asked) {
        Some(s) => Ok((&s.name, &s.order_by)),
        None => {
            let names: Vec<&str> = list.sorts.iter().map(|s| s.name.as_str()).collect();
            Err(ApiError::BadRequest(format!(
                "query parameter `sort`: unknown order `{}`; this list sorts by {}",
                clip(asked),
                names.join(", ")
            )))
        }
    }
}

/// `?fields=a,b`: the route's fields a client asks for (in the route's
/// order), each known and named once; all of them, borrowed, without the
/// parameter.
fn selected_fields<'f>(
    fields: &'f [Field],
    asked: Option<&str>,
) -> Result<Cow<'f, [Field]>, ApiError> {
    let Some(asked) = asked else {
        return Ok(Cow::Borrowed(fields));
    };
    let names: Vec<&str> = asked.split(',').collect();
    for (i, name) in names.iter().enumerate() {
        if !fields.iter().any(|f| f.api == *name) {
            let known: Vec<&str> = fields.iter().map(|f| f.api.as_str()).collect();
            return Err(ApiError::BadRequest(format!(
                "query parameter `fields`: unknown field `{}`; this list has {}",
                clip(name),
                known.join(", ")
            )));
        }
        if names[..i].contains(name) {
            return Err(ApiError::BadRequest(format!(
                "query parameter `fields`: `{name}` is named twice"
            )));
        }
    }
    Ok(fields
        .iter()
        .filter(|f| names.contains(&f.api.as_str()))
        .cloned()
        .collect::<Vec<_>>()
        .into())
}
