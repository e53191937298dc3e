//! Success responses: a route's fixed body, or its rows under their API
//! names, plain or wrapped.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value as Json};
use stackwright_stack::{Field, Route};
use stackwright_storage::{Page, Row};

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

/// One row under its API names, written straight from the engine's row.
pub(super) fn respond_row(route: &Route, row: &Row) -> Response {
    let status = StatusCode::from_u16(route.response.status).unwrap_or(StatusCode::OK);
    if status == StatusCode::NO_CONTENT || route.response.body.is_some() {
        return respond(route, None);
    }
    let fields = FieldsOf {
        fields: &route.response.fields,
        row,
    };
    let mut body = Vec::with_capacity(64 + 32 * fields.fields.len());
    let written = match &route.response.wrap {
        Some(key) => serde_json::to_writer(&mut body, &Wrapped { key, rows: fields }),
        None => serde_json::to_writer(&mut body, &fields),
    };
    json_response(status, body, written)
}

/// A list's rows under their API names, written straight from the engine's
/// values: no map is made per row, nor a copy of any value.
pub(super) fn respond_rows(route: &Route, fields: &[Field], page: &Page) -> Response {
    let status = StatusCode::from_u16(route.response.status).unwrap_or(StatusCode::OK);
    if status == StatusCode::NO_CONTENT || route.response.body.is_some() {
        return respond(route, None);
    }
    let picks: Vec<(&str, Option<usize>)> = fields
        .iter()
        .map(|f| (f.api.as_str(), page.column(&f.column)))
        .collect();
    let rows = Rows {
        picks: &picks,
        rows: &page.rows,
    };
    // About what a row of a few short fields takes: one allocation for most pages.
    let mut body = Vec::with_capacity(64 + page.rows.len() * 24 * picks.len().max(1));
    let written = match &route.response.wrap {
        Some(key) => serde_json::to_writer(&mut body, &Wrapped { key, rows }),
        None => serde_json::to_writer(&mut body, &rows),
    };
    json_response(status, body, written)
}

fn json_response(status: StatusCode, body: Vec<u8>, written: serde_json::Result<()>) -> Response {
    if let Err(e) = written {
        return crate::error::ApiError::Internal(format!("writing rows: {e}")).into_response();
    }
    let content_type = HeaderValue::from_static("application/json");
    (status, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A row's chosen fields as a JSON object (a field the row lacks: null).
struct FieldsOf<'a> {
    fields: &'a [Field],
    row: &'a Row,
}

impl Serialize for FieldsOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.fields.len()))?;
        for f in self.fields {
            map.serialize_entry(&f.api, self.row.get(&f.column).unwrap_or(&Json::Null))?;
        }
        map.end()
    }
}

/// Rows as JSON objects: each pick is a field's API name and where its
/// value is in a row (none: a column the engine did not read, null).
struct Rows<'a> {
    picks: &'a [(&'a str, Option<usize>)],
    rows: &'a [Vec<Json>],
}

impl Serialize for Rows<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.rows.len()))?;
        for values in self.rows {
            seq.serialize_element(&RowOf {
                picks: self.picks,
                values,
            })?;
        }
        seq.end()
    }
}

struct RowOf<'a> {
    picks: &'a [(&'a str, Option<usize>)],
    values: &'a [Json],
}

impl Serialize for RowOf<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.picks.len()))?;
        for (name, at) in self.picks {
            let value = at.and_then(|i| self.values.get(i)).unwrap_or(&Json::Null);
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

/// `{"WRAP": rows}`.
struct Wrapped<'a, T> {
    key: &'a str,
    rows: T,
}

impl<T: Serialize> Serialize for Wrapped<'_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.key, &self.rows)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rows_are_written_under_their_api_names_in_the_route_order() {
        let picks = [("b", Some(1)), ("a", Some(0)), ("gone", None)];
        let rows = vec![vec![json!(1), json!("x\"y")], vec![json!(null), json!(2.5)]];
        let rows = Rows {
            picks: &picks,
            rows: &rows,
        };
        assert_eq!(
            serde_json::to_string(&rows).unwrap(),
            r#"[{"b":"x\"y","a":1,"gone":null},{"b":2.5,"a":null,"gone":null}]"#
        );
        let wrapped = Wrapped { key: "items", rows };
        assert_eq!(
            serde_json::to_value(&wrapped).unwrap()["items"][1]["b"],
            json!(2.5)
        );
    }
}
