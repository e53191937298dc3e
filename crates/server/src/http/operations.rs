//! The declarative operations: get, list, create, update, delete, health.

use axum::body::Body;
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Map, Value as Json};
use stackwright_stack::{
    values, Auth, Change, CompareOp, Comparison, Field, KeySource, Operand, Operation, Route,
    Stamp, Table, UserClaim,
};
use stackwright_storage::{Assignment, Row};

use super::decode::{body_value, clip, parse_query, read_object, refuse_body, text_value};
use super::respond::{respond, respond_one, respond_row};
use super::ApiContext;
use crate::error::ApiError;
use crate::users::tokens::Claims;

pub struct Request {
    pub params: axum::extract::RawPathParams,
    pub uri: axum::http::Uri,
    pub headers: HeaderMap,
    pub body: Body,
}

pub async fn handle(ctx: &ApiContext, route: &Route, req: Request) -> Result<Response, ApiError> {
    let user = if route.auth == Auth::User {
        match &ctx.users {
            Some(users) => Some(users.user(&req.headers).await?),
            None => return Err(crate::users::no_pool()),
        }
    } else {
        None
    };
    let max_body = ctx.stack.server.max_body_bytes;
    match &route.operation {
        Operation::Health => match ctx.engine.ping().await {
            Ok(()) => Ok(respond(route, None)),
            Err(e) => Err(ApiError::Unavailable(e.to_string())),
        },
        Operation::Get { table, key } => {
            let table = ctx.stack.table(table);
            let query = parse_query(req.uri.query(), &allowed_key_params(key))?;
            let key = key_value(table, route, key, &req.params, &query)?;
            match ctx.engine.get_page(table, &key).await? {
                Some(row) => Ok(respond_one(route, &row)),
                None => Err(not_found(table, route, &key)),
            }
        }
        Operation::List(list) => super::list::list(ctx, route, list, req.uri.query()).await,
        Operation::Create { table, input } => {
            let table = ctx.stack.table(table);
            parse_query(req.uri.query(), &[])?;
            let body = read_object(req.headers, req.body, max_body).await?;
            let row = new_row(table, input, body)?;
            let row = ctx.engine.insert(table, row).await?;
            Ok(respond_row(route, &row))
        }
        Operation::Update {
            table,
            key,
            changes,
            input,
            condition,
        } => {
            let table = ctx.stack.table(table);
            let query = parse_query(req.uri.query(), &allowed_key_params(key))?;
            let key_value = key_value(table, route, key, &req.params, &query)?;
            // The body: the input fields, and the amounts increments take.
            let amount_fields: Vec<&str> =
                changes.iter().filter_map(Change::amount_field).collect();
            let mut amounts = Map::new();
            let mut assignments = Vec::new();
            if input.is_empty() && amount_fields.is_empty() {
                refuse_body(&req.headers, req.body, max_body).await?;
            } else {
                let mut body = read_object(req.headers, req.body, max_body).await?;
                for field in &amount_fields {
                    amounts.insert(field.to_string(), Json::from(amount(&mut body, field)?));
                }
                if !input.is_empty() {
                    let changes = body_changes(table, input, body)?;
                    if changes.is_empty() && amount_fields.is_empty() {
                        return Err(ApiError::BadRequest(
                            "the request body sets no field".into(),
                        ));
                    }
                    assignments.extend(changes);
                } else {
                    reject_unknown(&body, input)?;
                }
            }
            for c in changes {
                assignments.push(match c {
                    Change::Set { column, value } => Assignment::Set(column.clone(), value.clone()),
                    Change::Increment { column, by } => Assignment::Increment(column.clone(), *by),
                    Change::IncrementBy {
                        column,
                        field,
                        negate,
                    } => {
                        let n = amounts[field.as_str()]
                            .as_i64()
                            .expect("an amount is an integer");
                        Assignment::Increment(column.clone(), if *negate { -n } else { n })
                    }
                    Change::SetUser { column, claim } => {
                        Assignment::Set(column.clone(), user_claim(user.as_ref(), *claim)?)
                    }
                });
            }
            stamp_update(table, &mut assignments);
            let mut condition = resolve(condition, user.as_ref(), &amounts)?;
            condition.extend(within_allowed(table, &assignments));
            let updated = ctx
                .engine
                .update_where(table, &key_value, &assignments, &condition)
                .await?;
            match updated {
                Some(row) => Ok(respond_row(route, &row)),
                None => Err(not_found(table, route, &key_value)),
            }
        }
        Operation::Delete {
            table,
            key,
            condition,
        } => {
            let table = ctx.stack.table(table);
            let query = parse_query(req.uri.query(), &allowed_key_params(key))?;
            let key_value = key_value(table, route, key, &req.params, &query)?;
            let condition = resolve(condition, user.as_ref(), &Map::new())?;
            if ctx
                .engine
                .delete_where(table, &key_value, &condition)
                .await?
            {
                Ok(respond(route, None))
            } else {
                Err(not_found(table, route, &key_value))
            }
        }
    }
}

/// A route's condition with the signed-in user's claims and the request's
/// amounts put in.
fn resolve(
    condition: &[Comparison],
    user: Option<&Claims>,
    amounts: &Map<String, Json>,
) -> Result<Vec<Comparison>, ApiError> {
    condition
        .iter()
        .map(|c| {
            let value = match &c.value {
                Operand::User(claim) => Operand::Value(user_claim(user, *claim)?),
                Operand::Input(field) => Operand::Value(amounts[field.as_str()].clone()),
                other => other.clone(),
            };
            Ok(Comparison { value, ..c.clone() })
        })
        .collect()
}

/// For each increment of a column with `allowed` values: the values it
/// may start from, so that it ends on an allowed one (a condition every
/// engine checks in the write; DynamoDB cannot compute `col + n` in one).
fn within_allowed(table: &Table, assignments: &[Assignment]) -> Vec<Comparison> {
    assignments
        .iter()
        .filter_map(|a| match a {
            Assignment::Increment(column, by) => {
                let allowed = table.columns[column].allowed.as_ref()?;
                let starts = allowed
                    .iter()
                    .filter_map(|v| v.as_i64()?.checked_sub(*by))
                    .map(Json::from)
                    .collect();
                Some(Comparison {
                    column: column.clone(),
                    op: CompareOp::In,
                    value: Operand::Value(Json::Array(starts)),
                })
            }
            Assignment::Set(..) => None,
        })
        .collect()
}

/// An increment's amount from the body: a positive integer (a negative
/// one would turn a sale into a restock).
fn amount(body: &mut Map<String, Json>, field: &str) -> Result<i64, ApiError> {
    match body.remove(field) {
        Some(v) => match v.as_i64() {
            Some(n) if n >= 1 => Ok(n),
            _ => Err(ApiError::BadRequest(format!(
                "field `{field}`: must be a positive integer"
            ))),
        },
        None => Err(ApiError::BadRequest(format!("field `{field}` is required"))),
    }
}

/// A claim of the signed-in user to write. An e-mail address is written only
/// once verified: an unverified one may belong to someone else.
fn user_claim(user: Option<&Claims>, claim: UserClaim) -> Result<Json, ApiError> {
    let value = user
        .and_then(|u| u.0.get(claim.name()))
        .filter(|v| v.is_string())
        .ok_or_else(|| {
            ApiError::Unauthorized(format!(
                "the token carries no `{}`: send the ID token",
                claim.name()
            ))
        })?;
    if claim == UserClaim::Email {
        let verified = user.and_then(|u| u.0.get("email_verified"));
        // Cognito writes it as a boolean; some issuers as the string "true".
        if !matches!(verified, Some(Json::Bool(true))) && verified != Some(&Json::from("true")) {
            return Err(ApiError::Forbidden(
                "the signed-in user's e-mail address is not verified".into(),
            ));
        }
    }
    Ok(value.clone())
}

fn allowed_key_params(key: &KeySource) -> Vec<&str> {
    match key {
        KeySource::Query(name) => vec![name.as_str()],
        KeySource::Path(_) => vec![],
    }
}

fn key_value(
    table: &Table,
    route: &Route,
    key: &KeySource,
    params: &axum::extract::RawPathParams,
    query: &[(String, String)],
) -> Result<Json, ApiError> {
    let column = table.key_column();
    match key {
        KeySource::Path(name) => {
            let raw = params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    ApiError::Internal(format!("{}: path parameter {name} missing", route.label()))
                })?;
            text_value(column, raw, format_args!("path parameter `{name}`"))
        }
        KeySource::Query(name) => match query.iter().find(|(n, _)| n == name) {
            Some((_, raw)) => text_value(column, raw, format_args!("query parameter `{name}`")),
            None => Err(ApiError::BadRequest(format!(
                "query parameter `{name}` is required"
            ))),
        },
    }
}

fn not_found(table: &Table, route: &Route, key: &Json) -> ApiError {
    let _ = route;
    let shown = match key {
        Json::String(s) => clip(s),
        other => other.to_string(),
    };
    ApiError::NotFound(format!("no {} with key `{shown}`", table.name))
}

/// A new row from a create request: only `input` fields, defaults filled,
/// every value checked against its column.
fn new_row(table: &Table, input: &[Field], mut body: Map<String, Json>) -> Result<Row, ApiError> {
    reject_unknown(&body, input)?;
    let mut row = Row::new();
    let time = std::cell::OnceCell::new();
    for (name, column) in &table.columns {
        let field = input.iter().find(|f| &f.column == name);
        let value = match field.and_then(|f| body.remove(&f.api)) {
            Some(v) => body_value(column, v, &field.expect("found").api)?,
            None if column.generated => continue,
            None => match values::absent_value(column, &time) {
                Some(d) => d,
                None if column.nullable => Json::Null,
                None => {
                    let api = field.map_or(name.as_str(), |f| f.api.as_str());
                    return Err(ApiError::BadRequest(format!("missing field `{api}`")));
                }
            },
        };
        row.insert(name.clone(), value);
    }
    Ok(row)
}

/// Every `updated = "now"` column takes the time of the write, unless the
/// route sets it itself.
fn stamp_update(table: &Table, assignments: &mut Vec<Assignment>) {
    let time = std::cell::OnceCell::new();
    for c in table.columns.values() {
        let set = |a: &Assignment| matches!(a, Assignment::Set(n, _) if *n == c.name);
        if c.stamp == Some(Stamp::Updated) && !assignments.iter().any(set) {
            let now = time.get_or_init(values::now).clone();
            assignments.push(Assignment::Set(c.name.clone(), now));
        }
    }
}

fn body_changes(
    table: &Table,
    input: &[Field],
    body: Map<String, Json>,
) -> Result<Vec<Assignment>, ApiError> {
    reject_unknown(&body, input)?;
    let mut out = Vec::new();
    for (api, value) in body {
        let field = input.iter().find(|f| f.api == api).expect("checked above");
        let value = body_value(&table.columns[&field.column], value, &api)?;
        out.push(Assignment::Set(field.column.clone(), value));
    }
    Ok(out)
}

fn reject_unknown(body: &Map<String, Json>, input: &[Field]) -> Result<(), ApiError> {
    if let Some(unknown) = body.keys().find(|k| !input.iter().any(|f| &f.api == *k)) {
        let names: Vec<&str> = input.iter().map(|f| f.api.as_str()).collect();
        return Err(ApiError::BadRequest(format!(
            "unknown field `{}`; accepted: {}",
            clip(unknown),
            names.join(", ")
        )));
    }
    Ok(())
}
