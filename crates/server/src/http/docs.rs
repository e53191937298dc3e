//! `GET /docs`: the OpenAPI document as a page to read, generated here with
//! no script and no external asset, so it works offline and cannot drift
//! from `/openapi.json` (it is rendered from the same document).

use std::fmt::Write;

use serde_json::Value as Json;

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}\
h1{margin-bottom:0}section{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}\
.m{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}.get{color:#0a6}.post{color:#06c}\
.put,.patch{color:#a60}.delete{color:#c22}code,pre{font-family:ui-monospace,monospace;font-size:13px}\
pre{background:#f6f6f6;padding:.5rem;overflow:auto}table{border-collapse:collapse}td,th{padding:.15rem .6rem;\
text-align:left;border-bottom:1px solid #eee}.lock{color:#a60}";

/// The page for `document` (an OpenAPI 3.1 document).
pub fn page(document: &Json) -> String {
    let title = text(&document["info"]["title"]);
    let mut html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title}: API</title><style>{STYLE}</style></head><body>\
         <h1>{title}</h1><p>OpenAPI {} &middot; <a href=\"/openapi.json\">openapi.json</a></p>",
        text(&document["openapi"])
    );
    let paths = document["paths"].as_object().into_iter().flatten();
    for (path, operations) in paths {
        for (method, op) in operations.as_object().into_iter().flatten() {
            operation(&mut html, path, method, op);
        }
    }
    if let Some(schemas) = document["components"]["schemas"].as_object() {
        html.push_str("<h2>Schemas</h2>");
        for (name, schema) in schemas {
            let _ = write!(
                html,
                "<section id=\"schema-{0}\"><h3>{0}</h3>{1}</section>",
                escape(name),
                json_block(schema)
            );
        }
    }
    html.push_str("</body></html>");
    html
}

fn operation(html: &mut String, path: &str, method: &str, op: &Json) {
    let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
    let _ = write!(
        html,
        "<section id=\"{id}\"><h3><span class=\"m {method}\">{upper}</span><code>{path}</code>{lock}</h3>",
        id = escape(op["operationId"].as_str().unwrap_or_default()),
        method = escape(method),
        upper = escape(&method.to_uppercase()),
        path = escape(path),
        lock = if secured {
            " <span class=\"lock\" title=\"needs a signed-in user (bearer token)\">&#128274; bearer</span>"
        } else {
            ""
        }
    );
    if let Some(summary) = op["summary"].as_str() {
        let _ = write!(html, "<p>{}</p>", escape(summary));
    }
    let parameters = op["parameters"].as_array().filter(|p| !p.is_empty());
    if let Some(parameters) = parameters {
        html.push_str(
            "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Required</th></tr>",
        );
        for p in parameters {
            let _ = write!(
                html,
                "<tr><td><code>{}</code></td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                text(&p["name"]),
                text(&p["in"]),
                escape(&p["schema"].to_string()),
                if p["required"] == true { "yes" } else { "no" }
            );
        }
        html.push_str("</table>");
    }
    if let Some(body) = op["requestBody"]["content"]["application/json"]["schema"].as_object() {
        html.push_str("<h4>Request body (application/json)</h4>");
        html.push_str(&json_block(&Json::Object(body.clone())));
    }
    html.push_str("<h4>Responses</h4><table>");
    for (status, response) in op["responses"].as_object().into_iter().flatten() {
        let schema = &response["content"]["application/json"]["schema"];
        let _ = write!(
            html,
            "<tr><td><b>{}</b></td><td>{}</td><td>{}</td></tr>",
            escape(status),
            text(&response["description"]),
            if schema.is_null() {
                String::new()
            } else {
                json_block(schema)
            }
        );
    }
    html.push_str("</table></section>");
}

fn json_block(value: &Json) -> String {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
    format!("<pre>{}</pre>", escape(&pretty))
}

fn text(value: &Json) -> String {
    escape(value.as_str().unwrap_or_default())
}

/// HTML-escape: the document holds names from the stack file.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_stack_are_escaped() {
        let doc = serde_json::json!({
            "openapi": "3.1.0",
            "info": { "title": "<script>x</script>" },
            "paths": { "/a": { "get": { "operationId": "g\"", "responses": { "200": { "description": "<b>" } } } } }
        });
        let html = page(&doc);
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
        assert!(html.contains("&lt;b&gt;"));
        assert!(html.contains("id=\"g&quot;\""));
    }
}
