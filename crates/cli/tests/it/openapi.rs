//! OpenAPI 3.1 from the stack: `stackwright openapi` and `GET
//! /openapi.json` give the same document, checked against golden files,
//! with every route, its parameters, bodies, responses and security.

use std::path::Path;

use serde_json::Value as Json;

use crate::harness::{check_golden, example, stackwright, text, TestApp};

fn document(name: &str) -> Json {
    let out = stackwright(&["openapi", example(name).to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let text = text(&out.stdout);
    let golden = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden-openapi")
        .join(format!("{name}.json"));
    check_golden(&golden, &text, "stackwright openapi");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn every_example_is_described_with_each_route() {
    for name in ["pets", "todo", "mysfits", "clients", "adoptions"] {
        let doc = document(name);
        assert_eq!(doc["openapi"], "3.1.0");
        let stack = stackwright_stack::load(&example(name)).unwrap();
        for route in &stack.routes {
            let op = &doc["paths"][&route.path][route.method.as_str().to_lowercase()];
            assert!(op.is_object(), "{name}: {} is described", route.label());
            assert!(
                op["responses"]["400"].is_object(),
                "{name}: {}",
                route.label()
            );
            let signed_in = route.auth == stackwright_stack::Auth::User;
            assert_eq!(
                op["security"].is_array(),
                signed_in,
                "{name}: {}",
                route.label()
            );
            assert_eq!(
                op["responses"]["401"].is_object(),
                signed_in,
                "{name}: {}",
                route.label()
            );
        }
    }
    let mysfits = document("mysfits");
    let list = &mysfits["paths"]["/mysfits"]["get"];
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["filter", "limit", "fields", "cursor"]);
    // The named filter's pair is one exploded object: `filter` chooses, and
    // `value` takes the chosen column's type (here its allowed values).
    let named = &list["parameters"][0];
    assert_eq!(
        (&named["style"], &named["explode"]),
        (&serde_json::json!("form"), &serde_json::json!(true))
    );
    let branches = named["schema"]["oneOf"].as_array().unwrap();
    let choices: Vec<&Json> = branches
        .iter()
        .map(|b| &b["properties"]["filter"]["const"])
        .collect();
    assert_eq!(
        choices,
        [
            &serde_json::json!("GoodEvil"),
            &serde_json::json!("LawChaos")
        ]
    );
    assert_eq!(
        branches[1]["properties"]["value"]["enum"],
        serde_json::json!(["Lawful", "Neutral", "Chaotic"])
    );
    assert_eq!(
        branches[0]["required"],
        serde_json::json!(["filter", "value"])
    );
    let clients = document("clients");
    let publish = &clients["paths"]["/topics/customers"]["post"];
    assert!(publish["responses"]["202"].is_object());
    let todo = document("todo");
    let create = &todo["paths"]["/api/task/"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(create["additionalProperties"], false);
    assert_eq!(create["required"], serde_json::json!(["title"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_stack_serves_its_document() {
    let app = TestApp::spawn(&example("todo")).await;
    let served = app.get("/openapi.json").await;
    assert_eq!(served.status, 200);
    assert_eq!(served.body, document("todo"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_shows_every_operation_of_the_document() {
    for name in ["todo", "mysfits"] {
        let app = TestApp::spawn(&example(name)).await;
        let reply = app
            .client
            .get(format!("{}/docs", app.url))
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.headers()["content-type"], "text/html; charset=utf-8");
        let page = reply.text().await.unwrap();
        let doc = document(name);
        let mut secured = 0;
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap();
                let section = page
                    .split(&format!("<section id=\"{id}\">"))
                    .nth(1)
                    .unwrap_or_else(|| panic!("{name}: no section for {id}"))
                    .split("</section>")
                    .next()
                    .unwrap();
                assert!(
                    section.contains(&format!("<code>{path}</code>")),
                    "{section}"
                );
                assert!(section.contains(&method.to_uppercase()), "{section}");
                for status in op["responses"].as_object().unwrap().keys() {
                    assert!(
                        section.contains(&format!("<b>{status}</b>")),
                        "{id}: {status}"
                    );
                }
                if op.get("security").is_some() {
                    assert!(section.contains("bearer"), "{id} shows it needs sign-in");
                    secured += 1;
                }
            }
        }
        if name == "mysfits" {
            assert!(secured > 0, "mysfits has signed-in routes");
        }
    }
}
