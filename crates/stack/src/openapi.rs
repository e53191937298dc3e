//! OpenAPI 3.1 for a stack: every route with its parameters, request body,
//! responses (the shaped rows, and the one error schema), and bearer
//! security for routes that need a user; topics' publish routes too.
//! Deterministic: the same stack gives the same document.

use serde_json::{json, Map, Value as Json};

use crate::model::*;

/// What any operation that reads a body may answer besides 400.
const BODY_ERRORS: [(&str, &str); 3] = [
    ("408", "The request body did not arrive in time"),
    ("413", "The request body is too large"),
    (
        "415",
        "The request body is not declared as application/json",
    ),
];

/// Whether the route writes the signed-in user's e-mail address (refused
/// while it is unverified).
fn writes_email(route: &Route) -> bool {
    match &route.operation {
        Operation::Update { changes, .. } => changes.iter().any(|c| {
            matches!(
                c,
                Change::SetUser {
                    claim: UserClaim::Email,
                    ..
                }
            )
        }),
        _ => false,
    }
}

/// What any operation may answer with 503.
const UNAVAILABLE: &str =
    "Overloaded or timed out (retry after Retry-After seconds), or the database does not answer";

/// Text without the NUL character.
const NO_NUL: &str = "^[^\\u0000]*$";

fn column_schema(c: &Column) -> Json {
    let mut s = match c.ty {
        // No NUL: no engine stores it (PostgreSQL refuses it in text), so
        // every engine refuses it with a 400.
        ColumnType::String { max_length } => {
            json!({ "type": "string", "maxLength": max_length, "pattern": NO_NUL })
        }
        ColumnType::Text => json!({ "type": "string", "pattern": NO_NUL }),
        ColumnType::Integer => {
            json!({ "type": "integer", "format": "int32", "minimum": i32::MIN, "maximum": i32::MAX })
        }
        ColumnType::BigInt => {
            json!({ "type": "integer", "format": "int64", "minimum": i64::MIN, "maximum": i64::MAX })
        }
        ColumnType::Float => json!({ "type": "number" }),
        ColumnType::Boolean => json!({ "type": "boolean" }),
        ColumnType::Timestamp => json!({ "type": "string", "format": "date-time" }),
        ColumnType::Json => json!({}),
        ColumnType::Decimal { precision, scale } => decimal_schema(precision, scale),
        ColumnType::Date => json!({ "type": "string", "format": "date" }),
        ColumnType::Uuid => json!({ "type": "string", "format": "uuid" }),
    };
    if let Some(allowed) = &c.allowed {
        s["enum"] = json!(allowed);
    }
    if c.nullable {
        match s.get_mut("type") {
            Some(Json::Array(types)) => types.push(json!("null")),
            Some(t) => *t = json!([t.clone(), "null"]),
            None => {}
        }
    }
    s
}

/// A decimal is exact text (`"12.30"`), or a whole JSON number; the pattern
/// says how many digits fit before and after the point (leading and
/// trailing zeros aside), and the bounds what a whole number may be.
fn decimal_schema(precision: u8, scale: u8) -> Json {
    let whole = match precision - scale {
        0 => "0+".to_string(),
        n => format!("0*[0-9]{{1,{n}}}"),
    };
    let fraction = match scale {
        0 => "(\\.0+)?".to_string(),
        n => format!("(\\.[0-9]{{1,{n}}}0*)?"),
    };
    let most = 10i64.pow(u32::from(precision - scale)) - 1;
    json!({
        "type": ["string", "integer"],
        "format": "decimal",
        "pattern": format!("^-?{whole}{fraction}$"),
        "minimum": -most,
        "maximum": most,
    })
}

fn error_response(description: &str) -> Json {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

/// The shape of one returned row.
fn row_schema(table: &Table, fields: &[Field]) -> Json {
    let mut properties = Map::new();
    for f in fields {
        properties.insert(f.api.clone(), column_schema(&table.columns[&f.column]));
    }
    let required: Vec<&str> = fields.iter().map(|f| f.api.as_str()).collect();
    json!({ "type": "object", "properties": properties, "required": required })
}

fn body_schema(table: &Table, input: &[Field], create: bool) -> Json {
    let mut properties = Map::new();
    let mut required = Vec::new();
    for f in input {
        let c = &table.columns[&f.column];
        properties.insert(f.api.clone(), column_schema(c));
        if create && !c.nullable && c.default.is_none() && c.stamp.is_none() && !c.generated {
            required.push(f.api.clone());
        }
    }
    json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false })
}

/// A list's query parameters: its filters and bounds, `sort` and `count`
/// where declared, then `limit`, `fields` and `cursor`.
fn list_parameters(t: &Table, list: &ListOperation, fields: &[Field]) -> Vec<Json> {
    let mut parameters = Vec::new();
    // With one filter to choose from, a required filter is that one.
    let only_filter = list.require_filter && list.filters.len() == 1 && list.named_filter.is_none();
    for f in &list.filters {
        parameters.push(json!({ "name": f.param, "in": "query", "required": only_filter, "schema": column_schema(&t.columns[&f.column]) }));
    }
    if let Some(nf) = &list.named_filter {
        parameters.push(named_filter_parameter(t, list, nf));
    }
    for range in &list.ranges {
        let column = &t.columns[&range.column];
        for op in &range.ops {
            // Any value of the column's type bounds it: not only `allowed` ones.
            let schema = column_schema(&Column {
                allowed: None,
                nullable: false,
                ..column.clone()
            });
            let description = format!("Only rows whose `{}` is {} this", range.field, op.meaning());
            parameters.push(json!({ "name": range.param(*op), "in": "query", "required": false, "description": description, "schema": schema }));
        }
    }
    if !list.sorts.is_empty() {
        let names: Vec<&str> = list.sorts.iter().map(|s| s.name.as_str()).collect();
        parameters.push(json!({ "name": "sort", "in": "query", "required": false, "description": "The order of the rows: fields, comma-separated, `-` for descending (default: the route's own order)", "schema": { "type": "string", "enum": names } }));
    }
    if list.count {
        parameters.push(json!({ "name": "count", "in": "query", "required": false, "description": "true: the number of rows that meet the filters, in X-Total-Count", "schema": { "type": "boolean" } }));
    }
    parameters.push(json!({ "name": "limit", "in": "query", "required": false, "schema": { "type": "integer", "minimum": 1, "maximum": list.max_page_size } }));
    parameters.push(fields_parameter(fields));
    parameters.push(json!({ "name": "cursor", "in": "query", "required": false, "description": "The X-Next-Cursor of the previous page, with the same filters (empty: the first page)", "schema": { "type": "string", "pattern": "^[A-Za-z0-9_-]*$" } }));
    parameters
}

/// A named filter's two parameters, which come together: one object
/// parameter whose properties are the query parameters (`style: form`,
/// `explode: true`), one branch per choice so that each value has its
/// column's type.
fn named_filter_parameter(t: &Table, list: &ListOperation, nf: &NamedFilter) -> Json {
    let branches: Vec<Json> = nf
        .choices
        .iter()
        .map(|(choice, column)| {
            json!({
                "type": "object",
                "properties": { nf.param.clone(): { "const": choice }, nf.value_param.clone(): column_schema(&t.columns[column]) },
                "required": [nf.param, nf.value_param],
                "additionalProperties": false
            })
        })
        .collect();
    let description = format!(
        "`{}` names the field to filter on, and `{}` gives its value: both or neither",
        nf.param, nf.value_param
    );
    let required = list.require_filter && list.filters.is_empty();
    json!({
        "name": nf.param, "in": "query", "required": required, "style": "form", "explode": true,
        "description": description, "schema": { "type": "object", "oneOf": branches }
    })
}

/// `?fields=a,b`: some of the route's fields, each once (a comma-separated
/// list: `style: form`, `explode: false`).
fn fields_parameter(fields: &[Field]) -> Json {
    let names: Vec<&str> = fields.iter().map(|f| f.api.as_str()).collect();
    json!({
        "name": "fields", "in": "query", "required": false, "style": "form", "explode": false,
        "description": "Only these fields of each row (default: all of them)",
        "schema": { "type": "array", "minItems": 1, "uniqueItems": true, "items": { "type": "string", "enum": names } }
    })
}

/// An update's body: its input fields, and the amounts its increments
/// take (required, positive); None when it reads no body.
fn update_body(table: &Table, input: &[Field], changes: &[Change]) -> Option<Json> {
    let amounts: Vec<&str> = changes.iter().filter_map(Change::amount_field).collect();
    if input.is_empty() && amounts.is_empty() {
        return None;
    }
    let mut schema = body_schema(table, input, false);
    if amounts.is_empty() {
        // A body that sets nothing is refused: it is almost always a mistake.
        schema["minProperties"] = json!(1);
    }
    for field in amounts {
        schema["properties"][field] = json!({ "type": "integer", "format": "int64", "minimum": 1 });
        schema["required"]
            .as_array_mut()
            .expect("a list")
            .push(json!(field));
    }
    Some(schema)
}

fn has_condition(operation: &Operation) -> bool {
    matches!(operation, Operation::Update { condition, .. } | Operation::Delete { condition, .. } if !condition.is_empty())
}

fn key_parameter(table: &Table, key: &KeySource) -> Json {
    let (name, location) = match key {
        KeySource::Path(p) => (p, "path"),
        KeySource::Query(q) => (q, "query"),
    };
    json!({ "name": name, "in": location, "required": true, "schema": column_schema(table.key_column()) })
}

fn success(route: &Route, table: Option<&Table>, many: bool) -> Json {
    let schema = match (&route.response.body, table) {
        (Some(body), _) => json!({ "const": body }),
        (None, Some(t)) => {
            let mut row = row_schema(t, &route.response.fields);
            let rows = if many {
                // A list's rows hold the fields `?fields=` asks for.
                row["required"] = json!([]);
                json!({ "type": "array", "items": row })
            } else {
                row
            };
            match &route.response.wrap {
                Some(key) => {
                    json!({ "type": "object", "properties": { key: rows }, "required": [key] })
                }
                None => rows,
            }
        }
        (None, None) => json!({ "type": "object" }),
    };
    if route.response.status == 204 {
        // The server sends no body (and so no Content-Type) with a 204.
        return json!({ "description": "Success" });
    }
    json!({
        "description": "Success",
        "content": { "application/json": { "schema": schema } }
    })
}

/// The OpenAPI document of `stack`.
pub fn document(stack: &Stack) -> Json {
    let mut paths: Map<String, Json> = Map::new();
    for route in &stack.routes {
        let table = route.operation.table().map(|t| stack.table(t));
        let mut parameters = Vec::new();
        let mut body = None;
        let mut responses = Map::new();
        let status = route.response.status.to_string();
        match &route.operation {
            Operation::Get { key, .. } | Operation::Delete { key, .. } => {
                parameters.push(key_parameter(table.expect("a table"), key));
                responses.insert(status.clone(), success(route, table, false));
                responses.insert("404".into(), error_response("No row with this key"));
            }
            Operation::Update {
                key,
                input,
                changes,
                ..
            } => {
                let t = table.expect("a table");
                parameters.push(key_parameter(t, key));
                body = update_body(t, input, changes);
                responses.insert(status.clone(), success(route, table, false));
                responses.insert("404".into(), error_response("No row with this key"));
            }
            Operation::Create { input, .. } => {
                body = Some(body_schema(table.expect("a table"), input, true));
                responses.insert(status.clone(), success(route, table, false));
                responses.insert(
                    "409".into(),
                    error_response("A row with this key already exists"),
                );
            }
            Operation::List(list) => {
                parameters.extend(list_parameters(
                    table.expect("a table"),
                    list,
                    &route.response.fields,
                ));
                let mut ok = success(route, table, true);
                ok["headers"] = json!({ "X-Next-Cursor": { "description": "Present when more rows follow: pass it as `cursor`", "schema": { "type": "string" } } });
                if list.count {
                    ok["headers"]["X-Total-Count"] = json!({ "description": "With count=true: how many rows meet the filters", "schema": { "type": "integer", "minimum": 0 } });
                }
                responses.insert(status.clone(), ok);
            }
            Operation::Health => {
                responses.insert(status.clone(), success(route, None, false));
            }
        }
        if has_condition(&route.operation) {
            let why = "The row does not meet the route's condition (`where`)";
            responses.insert("409".into(), error_response(why));
        }
        responses.insert("400".into(), error_response("The request is invalid"));
        // Any route: shed under load, timed out, or the database is down.
        responses.insert("503".into(), error_response(UNAVAILABLE));
        let mut op = json!({
            "operationId": format!("{}_{}", route.method.as_str().to_lowercase(), route.path.trim_matches('/').replace(['/', '{', '}'], "_")),
            "parameters": parameters,
            "responses": responses,
        });
        if matches!(&route.operation, Operation::List(l) if l.require_filter) {
            op["description"] =
                json!("Give one of the filters: a request without one is answered 400.");
        }
        if let Some(schema) = body {
            op["requestBody"] = json!({ "required": true, "content": { "application/json": { "schema": schema } } });
            for (status, why) in BODY_ERRORS {
                op["responses"][status] = error_response(why);
            }
        }
        if writes_email(route) {
            op["responses"]["403"] =
                error_response("The signed-in user's e-mail address is not verified");
        }
        if route.auth == Auth::User {
            op["security"] = json!([{ "bearer": [] }]);
            op["responses"]["401"] = error_response("Not signed in");
        }
        let entry = paths.entry(route.path.clone()).or_insert_with(|| json!({}));
        entry[route.method.as_str().to_lowercase()] = op;
    }
    // An internal topic has no HTTP endpoint to describe (it answers 403).
    for topic in stack.topics.values().filter(|t| t.auth != Auth::Internal) {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for (name, field) in &topic.fields {
            properties.insert(name.clone(), column_schema(field));
            if !field.nullable && field.default.is_none() {
                required.push(name.clone());
            }
        }
        let message = json!({ "type": "object", "properties": properties, "required": required, "additionalProperties": false });
        let mut op = json!({
            "operationId": format!("publish_{}", topic.name.replace('-', "_")),
            "parameters": [{ "name": "Idempotency-Key", "in": "header", "required": false, "description": "Names the message, or each message of a batch by its place: sent again, they are duplicates", "schema": { "type": "string", "minLength": 1, "maxLength": 128, "pattern": "^[!-~]+$" } }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": {
                "oneOf": [message.clone(), { "type": "array", "items": message, "minItems": 1, "maxItems": 1000 }]
            } } } },
            "responses": {
                "202": { "description": "Stored for every subscription", "content": { "application/json": { "schema": {
                    "type": "object",
                    "properties": { "ids": { "type": "array", "items": { "type": "string" } }, "accepted": { "type": "integer" }, "duplicates": { "type": "integer" } },
                    "required": ["ids", "accepted", "duplicates"]
                } } } },
                "400": error_response("An invalid message: none was stored"),
                "503": error_response(UNAVAILABLE)
            }
        });
        for (status, why) in BODY_ERRORS {
            op["responses"][status] = error_response(why);
        }
        if topic.auth == Auth::User {
            op["security"] = json!([{ "bearer": [] }]);
            op["responses"]["401"] = error_response("Not signed in");
        }
        paths.insert(format!("/topics/{}", topic.name), json!({ "post": op }));
    }
    let mut components = json!({
        "schemas": { "Error": {
            "type": "object",
            "properties": { "error": {
                "type": "object",
                "properties": { "code": { "type": "string" }, "message": { "type": "string" } },
                "required": ["code", "message"]
            } },
            "required": ["error"]
        } }
    });
    if stack.users.is_some() {
        components["securitySchemes"] =
            json!({ "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT" } });
    }
    json!({
        "openapi": "3.1.0",
        "info": { "title": stack.name, "version": "1" },
        "paths": paths,
        "components": components,
    })
}
