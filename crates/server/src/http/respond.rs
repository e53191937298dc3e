//! Success responses: a route's fixed body, or its rows under their API
//! names, plain or wrapped.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value as Json};
use stackwright_stack::{Field, Route};
use stackwright_storage::Row;

/// A row as the route presents it: selected fields under their API names.
pub(super) fn shape(fields: &[Field], row: &Row) -> Json {
    let mut out = Map::with_capacity(fields.len());
    for f in fields {
        out.insert(
            f.api.clone(),
            row.get(&f.column).cloned().unwrap_or(Json::Null),
        );
    }
    Json::Object(out)
}

/// The success response: fixed body, wrapped or plain result, or no body.
pub(super) fn respond(route: &Route, result: Option<Json>) -> Response {
    let status = StatusCode::from_u16(route.response.status).unwrap_or(StatusCode::OK);
    if status == StatusCode::NO_CONTENT {
        return status.into_response();
    }
    let body = match (&route.response.body, &route.response.wrap, result) {
        (Some(fixed), _, _) => fixed.clone(),
        (None, Some(key), Some(result)) => {
            let mut m = Map::new();
            m.insert(key.clone(), result);
            Json::Object(m)
        }
        (None, None, Some(result)) => result,
        (None, _, None) => Json::Object(Map::new()),
    };
    (status, axum::Json(body)).into_response()
}
