//! Success responses: a route's fixed body, or its rows under their API
//! names, plain or wrapped.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value as Json};
use stackwright_stack::{Field, Route};
use stackwright_storage::{Cells, Page, Row};

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
    let Some(status) = rows_status(route) else {
        return respond(route, None);
    };
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

/// A list's rows under their API names: each value's JSON text is copied
/// from the page as the engine wrote it, so no map, nor value, is made per
/// row, and nothing is escaped twice.
pub(super) fn respond_rows(route: &Route, fields: &[Field], page: &Page) -> Response {
    respond_page(route, fields, page, write_rows)
}

/// A get route's row, from a page of one, under its API names.
pub(super) fn respond_one(route: &Route, page: &Page) -> Response {
    respond_page(route, &route.response.fields, page, write_row)
}

type Writer =
    fn(&mut Vec<u8>, Option<&str>, &[(&str, Option<usize>)], &Cells) -> serde_json::Result<()>;

/// A page's rows as `write` lays them out, under the fields' API names.
fn respond_page(route: &Route, fields: &[Field], page: &Page, write: Writer) -> Response {
    let Some(status) = rows_status(route) else {
        return respond(route, None);
    };
    let picks = picks(fields, page);
    let names = picks.iter().map(|(name, _)| name.len() + 4).sum::<usize>();
    let mut body = Vec::with_capacity(64 + page.rows.text_len() + page.len() * (names + 2));
    let written = write(
        &mut body,
        route.response.wrap.as_deref(),
        &picks,
        &page.rows,
    );
    json_response(status, body, written)
}

/// The status a route answers its rows with; none when it does not show
/// them (no content, or a fixed body).
fn rows_status(route: &Route) -> Option<StatusCode> {
    let status = StatusCode::from_u16(route.response.status).unwrap_or(StatusCode::OK);
    let shown = status != StatusCode::NO_CONTENT && route.response.body.is_none();
    shown.then_some(status)
}

/// Each field's API name and where its value is in a page's rows.
fn picks<'f>(fields: &'f [Field], page: &Page) -> Vec<(&'f str, Option<usize>)> {
    fields
        .iter()
        .map(|f| (f.api.as_str(), page.column(&f.column)))
        .collect()
}

/// `{"NAME":VALUE,...}` of the first row, or that as `{"WRAP":...}`.
fn write_row(
    body: &mut Vec<u8>,
    wrap: Option<&str>,
    picks: &[(&str, Option<usize>)],
    rows: &Cells,
) -> serde_json::Result<()> {
    open_wrap(body, wrap)?;
    write_object(body, &names(picks)?, picks, rows, 0);
    close_wrap(body, wrap);
    Ok(())
}

/// Each name's `"NAME":`, escaped once for the page, after the `{` or `,`
/// that comes before it.
fn names(picks: &[(&str, Option<usize>)]) -> serde_json::Result<Vec<Vec<u8>>> {
    let mut names = Vec::with_capacity(picks.len());
    for (i, (name, _)) in picks.iter().enumerate() {
        let mut text = Vec::with_capacity(name.len() + 4);
        text.push(if i == 0 { b'{' } else { b',' });
        serde_json::to_writer(&mut text, name)?;
        text.push(b':');
        names.push(text);
    }
    Ok(names)
}

fn open_wrap(body: &mut Vec<u8>, wrap: Option<&str>) -> serde_json::Result<()> {
    if let Some(key) = wrap {
        body.push(b'{');
        serde_json::to_writer(&mut *body, key)?;
        body.push(b':');
    }
    Ok(())
}

fn close_wrap(body: &mut Vec<u8>, wrap: Option<&str>) {
    if wrap.is_some() {
        body.push(b'}');
    }
}

/// Row `r` as a JSON object of the picked values (a value the page lacks: null).
fn write_object(
    body: &mut Vec<u8>,
    names: &[Vec<u8>],
    picks: &[(&str, Option<usize>)],
    rows: &Cells,
    r: usize,
) {
    for ((_, at), name) in picks.iter().zip(names) {
        body.extend_from_slice(name);
        let value = at.and_then(|c| rows.raw(r, c)).unwrap_or(b"null");
        body.extend_from_slice(value);
    }
    body.extend_from_slice(if picks.is_empty() { b"{}" } else { b"}" });
}

/// `[{"NAME":VALUE,...},...]`, or that as `{"WRAP":...}`: each pick is a
/// field's API name and where its value is in a row (none: a column the
/// engine did not read, null).
fn write_rows(
    body: &mut Vec<u8>,
    wrap: Option<&str>,
    picks: &[(&str, Option<usize>)],
    rows: &Cells,
) -> serde_json::Result<()> {
    let names = names(picks)?;
    open_wrap(body, wrap)?;
    body.push(b'[');
    for r in 0..rows.rows() {
        if r > 0 {
            body.push(b',');
        }
        write_object(body, &names, picks, rows, r);
    }
    body.push(b']');
    close_wrap(body, wrap);
    Ok(())
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

    fn written(wrap: Option<&str>, picks: &[(&str, Option<usize>)], rows: &[Json]) -> String {
        let mut cells = Cells::new(2, rows.len());
        for r in rows {
            cells.push_row(r.as_array().unwrap()).unwrap();
        }
        let mut body = Vec::new();
        write_rows(&mut body, wrap, picks, &cells).unwrap();
        String::from_utf8(body).unwrap()
    }

    #[test]
    fn rows_are_written_under_their_api_names_in_the_route_order() {
        let picks = [("b", Some(1)), ("a\"q", Some(0)), ("gone", None)];
        let rows = [json!([1, "x\"y"]), json!([null, 2.5])];
        let plain = r#"[{"b":"x\"y","a\"q":1,"gone":null},{"b":2.5,"a\"q":null,"gone":null}]"#;
        assert_eq!(written(None, &picks, &rows), plain);
        assert_eq!(
            written(Some("it\"ems"), &picks, &rows),
            format!(r#"{{"it\"ems":{plain}}}"#)
        );
        assert_eq!(written(None, &picks, &[]), "[]");
        assert_eq!(written(Some("w"), &[], &rows), r#"{"w":[{},{}]}"#);
        let mut one = Cells::new(2, 1);
        one.push_row(&[json!(7), json!("z")]).unwrap();
        let mut body = Vec::new();
        write_row(&mut body, Some("pet"), &picks, &one).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"pet":{"b":"z","a\"q":7,"gone":null}}"#
        );
    }
}
