//! Conditional writes (`where` on update and delete routes) on every
//! engine: the condition and the write are one atomic step, a failed
//! condition is 409 and a missing row 404, an amount from the request is
//! bounded by the condition, and `$user.sub` in a condition keeps each user
//! to their own rows.

use reqwest::Method;
use serde_json::{json, Value as Json};

use crate::harness::{on_every_engine, signed_in_token_as, TempStack, TestApp, TestEngine};

/// A library (borrow only while copies remain), a shelter (adopt once) and
/// notes that only their owner may change.
const STACK: &str = r#"
name = "conditions"

[users]

[tables.book]
key = "id"
[tables.book.columns]
id = { type = "string", max_length = 20 }
copies = { type = "integer" }
borrowed = { type = "integer", default = 0 }

[tables.pet]
key = "name"
[tables.pet.columns]
name = { type = "string", max_length = 20 }
adopted = { type = "boolean", default = false }

[tables.product]
key = "sku"
[tables.product.columns]
sku = { type = "string", max_length = 20 }
stock = { type = "integer" }

[tables.rating]
key = "id"
[tables.rating.columns]
id = { type = "string", max_length = 20 }
stars = { type = "integer", default = 1, allowed = [1, 2, 3] }

[tables.note]
key = "id"
[tables.note.columns]
id = { type = "bigint", generated = true }
owner = { type = "string", max_length = 64, default = "" }
text = { type = "text", default = "" }

[[routes]]
method = "POST"
path = "/books"
op = "create"
table = "book"

[[routes]]
method = "POST"
path = "/books/{id}/borrow"
op = "update"
table = "book"
increment = { borrowed = 1 }
where = "borrowed < copies"

[[routes]]
method = "POST"
path = "/books/{id}/return"
op = "update"
table = "book"
increment = { borrowed = -1 }
where = "borrowed > 0"

[[routes]]
method = "GET"
path = "/books/{id}"
op = "get"
table = "book"

[[routes]]
method = "POST"
path = "/pets"
op = "create"
table = "pet"

[[routes]]
method = "POST"
path = "/pets/{name}/adopt"
op = "update"
table = "pet"
set = { adopted = true }
where = "adopted = false"

[[routes]]
method = "DELETE"
path = "/pets/{name}"
op = "delete"
table = "pet"
where = "adopted = false"

[[routes]]
method = "POST"
path = "/products"
op = "create"
table = "product"

[[routes]]
method = "POST"
path = "/products/{sku}/buy"
op = "update"
table = "product"
increment = { stock = "-$input.quantity" }
where = "stock >= $input.quantity"

[[routes]]
method = "POST"
path = "/ratings"
op = "create"
table = "rating"

[[routes]]
method = "POST"
path = "/ratings/{id}/up"
op = "update"
table = "rating"
increment = { stars = 1 }

[[routes]]
method = "POST"
path = "/notes"
op = "create"
table = "note"
input = ["text"]

[[routes]]
method = "POST"
path = "/notes/{id}/claim"
op = "update"
table = "note"
auth = "user"
set = { owner = "$user.sub" }
where = "owner = ''"

[[routes]]
method = "PATCH"
path = "/notes/{id}"
op = "update"
table = "note"
auth = "user"
input = ["text"]
where = "owner = $user.sub and text != 'sealed'"

[[routes]]
method = "DELETE"
path = "/notes/{id}"
op = "delete"
table = "note"
auth = "user"
where = "owner = $user.sub"
"#;

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    body: Option<Json>,
    token: Option<&str>,
) -> (u16, Json) {
    let mut req = app.client.request(method, format!("{}{path}", app.url));
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_string());
    }
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let text = r.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Json::Null))
}

/// `n` POSTs of `body` to `path` at once: their statuses.
async fn at_once(app: &TestApp, n: usize, path: &str, body: &'static str) -> Vec<u16> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let request = app.client.post(format!("{}{path}", app.url));
            let request = match body {
                "" => request,
                body => request
                    .header("content-type", "application/json")
                    .body(body),
            };
            tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses
}

async fn a_hundred_borrowers_get_the_three_copies(engine: TestEngine) {
    let stack = TempStack::new(STACK);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let created = app.post("/books", r#"{"id":"dune","copies":3}"#).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let statuses = at_once(&app, 100, "/books/dune/borrow", "").await;
    let ok = statuses.iter().filter(|s| **s == 200).count();
    let conflicts = statuses.iter().filter(|s| **s == 409).count();
    assert_eq!((ok, conflicts), (3, 97), "{statuses:?}");
    assert_eq!(app.get("/books/dune").await.body["borrowed"], 3);

    let refused = app.post("/books/dune/borrow", "").await;
    refused.assert_error(409, "conflict");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("where"),
        "{}",
        refused.body
    );
    app.post("/books/nope/borrow", "")
        .await
        .assert_error(404, "not_found");
    for _ in 0..3 {
        assert_eq!(app.post("/books/dune/return", "").await.status, 200);
    }
    app.post("/books/dune/return", "")
        .await
        .assert_error(409, "conflict");
    assert_eq!(app.get("/books/dune").await.body["borrowed"], 0);
    // A route that reads no body says so instead of ignoring one.
    app.post("/books/dune/borrow", r#"{"borrowed": -50}"#)
        .await
        .assert_error(400, "bad_request");
    assert_eq!(app.get("/books/dune").await.body["borrowed"], 0);
}

/// An increment ends on one of the column's `allowed` values, or not at all.
async fn increments_stay_within_allowed_values(engine: TestEngine) {
    let stack = TempStack::new(STACK);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    assert_eq!(app.post("/ratings", r#"{"id":"r"}"#).await.status, 201);
    for stars in [2, 3] {
        let up = app.post("/ratings/r/up", "").await;
        assert_eq!(
            (up.status.as_u16(), &up.body["stars"]),
            (200, &json!(stars)),
            "{}",
            up.body
        );
    }
    let refused = app.post("/ratings/r/up", "").await;
    refused.assert_error(409, "conflict");
    assert!(
        refused.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("allowed"),
        "{}",
        refused.body
    );
    app.post("/ratings/none/up", "")
        .await
        .assert_error(404, "not_found");
}

async fn a_pet_is_adopted_once_and_an_adopted_pet_stays(engine: TestEngine) {
    let stack = TempStack::new(STACK);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    for name in ["rex", "tom"] {
        assert_eq!(
            app.post("/pets", &json!({"name": name}).to_string())
                .await
                .status,
            201
        );
    }
    let adopted = app.post("/pets/rex/adopt", "").await;
    assert_eq!(
        (adopted.status.as_u16(), &adopted.body["adopted"]),
        (200, &json!(true))
    );
    app.post("/pets/rex/adopt", "")
        .await
        .assert_error(409, "conflict");
    app.request(Method::DELETE, "/pets/rex", None)
        .await
        .assert_error(409, "conflict");
    assert_eq!(
        app.request(Method::DELETE, "/pets/tom", None).await.status,
        204
    );
    app.request(Method::DELETE, "/pets/tom", None)
        .await
        .assert_error(404, "not_found");
    app.post("/pets/tom/adopt", "")
        .await
        .assert_error(404, "not_found");
}

async fn a_note_is_changed_only_by_its_owner(engine: TestEngine) {
    let stack = TempStack::new(STACK);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let alice = signed_in_token_as(&app.client, &app.url, stack.path(), "alice@example.com").await;
    let bob = signed_in_token_as(&app.client, &app.url, stack.path(), "bob@example.com").await;
    let note = app.post("/notes", r#"{"text":"mine"}"#).await;
    let path = format!("/notes/{}", note.body["id"]);
    let claim = format!("{path}/claim");

    let (status, claimed) = send(&app, Method::POST, &claim, None, Some(&alice)).await;
    assert_eq!(status, 200, "{claimed}");
    assert!(claimed["owner"].as_str().is_some_and(|o| !o.is_empty()));
    // Bob can neither take it over, change it nor delete it.
    assert_eq!(
        send(&app, Method::POST, &claim, None, Some(&bob)).await.0,
        409
    );
    let edit = Some(json!({"text": "bob's now"}));
    assert_eq!(
        send(&app, Method::PATCH, &path, edit.clone(), Some(&bob))
            .await
            .0,
        409
    );
    assert_eq!(
        send(&app, Method::DELETE, &path, None, Some(&bob)).await.0,
        409
    );
    assert_eq!(
        send(&app, Method::PATCH, &path, edit.clone(), None).await.0,
        401
    );
    // Alice can, until she seals it.
    let (status, body) = send(&app, Method::PATCH, &path, edit, Some(&alice)).await;
    assert_eq!(
        (status, &body["text"]),
        (200, &json!("bob's now")),
        "{body}"
    );
    let seal = Some(json!({"text": "sealed"}));
    assert_eq!(
        send(&app, Method::PATCH, &path, seal.clone(), Some(&alice))
            .await
            .0,
        200
    );
    assert_eq!(
        send(&app, Method::PATCH, &path, seal, Some(&alice)).await.0,
        409
    );
    assert_eq!(
        send(&app, Method::DELETE, &path, None, Some(&alice))
            .await
            .0,
        204
    );
    assert_eq!(
        send(&app, Method::DELETE, &path, None, Some(&alice))
            .await
            .0,
        404
    );
}

async fn concurrent_buyers_never_oversell(engine: TestEngine) {
    let stack = TempStack::new(STACK);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    assert_eq!(
        app.post("/products", r#"{"sku":"mug","stock":10}"#)
            .await
            .status,
        201
    );
    let statuses = at_once(&app, 20, "/products/mug/buy", r#"{"quantity":3}"#).await;
    let sold = statuses.iter().filter(|s| **s == 200).count();
    assert_eq!((sold, statuses.len() - sold), (3, 17), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| [200, 409].contains(s)),
        "{statuses:?}"
    );
    let buy = |body: &'static str| app.post("/products/mug/buy", body);
    buy(r#"{"quantity":2}"#).await.assert_error(409, "conflict");
    for bad in [
        r#"{"quantity":0}"#,
        r#"{"quantity":-5}"#,
        r#"{"quantity":1.5}"#,
        r#"{"quantity":"1"}"#,
        "{}",
        r#"{"quantity":1,"stock":99}"#,
    ] {
        buy(bad).await.assert_error(400, "bad_request");
    }
    let last = buy(r#"{"quantity":1}"#).await;
    assert_eq!(
        (last.status.as_u16(), &last.body["stock"]),
        (200, &json!(0)),
        "{}",
        last.body
    );
    app.post("/products/cup/buy", r#"{"quantity":1}"#)
        .await
        .assert_error(404, "not_found");
}

on_every_engine!(
    concurrent_buyers_never_oversell,
    increments_stay_within_allowed_values,
    a_hundred_borrowers_get_the_three_copies,
    a_pet_is_adopted_once_and_an_adopted_pet_stays,
    a_note_is_changed_only_by_its_owner,
);
