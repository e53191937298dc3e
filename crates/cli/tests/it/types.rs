//! The column types real tables need, on every engine: `decimal` kept
//! exactly (no float on its path: `0.1 + 0.2` kinds of values compare and
//! order as written), `date`, `uuid` (generated, and in any case read as one
//! value), and timestamps the runtime stamps on create and on every write.

use serde_json::{json, Value as Json};

use crate::harness::{on_every_engine, TempStack, TestApp, TestEngine};

const STACK: &str = r#"name = "types"

[tables.item]
key = "id"
seed = "seed/item.json"

[tables.item.columns]
id = { type = "uuid", generated = true }
day = { type = "date" }
price = { type = "decimal", precision = 18, scale = 2 }
rate = { type = "decimal", precision = 6, scale = 4, nullable = true, default = "0.5" }
sku = { type = "uuid", nullable = true }
created = { type = "timestamp", default = "now" }
changed = { type = "timestamp", updated = "now" }

[tables.item.indexes]
day_price = { columns = ["day", "price"] }

[[routes]]
method = "POST"
path = "/items"
op = "create"
table = "item"

[[routes]]
method = "GET"
path = "/items/{id}"
op = "get"
table = "item"

[[routes]]
method = "PATCH"
path = "/items/{id}"
op = "update"
table = "item"
input = ["price", "rate"]

[[routes]]
method = "GET"
path = "/items"
op = "list"
table = "item"
filters = ["day"]
require_filter = true
order_by = ["price"]
ranges = ["price"]

[topics.prices]
fields = { id = { type = "uuid" }, day = { type = "date" }, price = { type = "decimal", precision = 18, scale = 2 } }

[[subscriptions]]
topic = "prices"
table = "item"
action = "upsert"
"#;

const DAY: &str = "2026-02-28";

pub(crate) fn stack() -> TempStack {
    let stack = TempStack::new(STACK);
    stack.write(
        "seed/item.json",
        r#"[{"id": "00000000-0000-4000-8000-0000000000AA", "day": "2026-03-01", "price": 7, "sku": null}]"#,
    );
    stack
}

fn prices(items: &[Json]) -> Vec<&str> {
    items.iter().map(|i| i["price"].as_str().unwrap()).collect()
}

async fn list(app: &TestApp, query: &str) -> Vec<Json> {
    let r = app.get(&format!("/items?day={DAY}&{query}")).await;
    assert_eq!(r.status, 200, "{query}: {}", r.body);
    r.body.as_array().unwrap().clone()
}

async fn values_are_kept_exactly(engine: TestEngine) {
    let stack = stack();
    let app = TestApp::spawn_on(engine, stack.path()).await;

    // Written as text (or a whole number), answered at the column's scale.
    let mut ids = Vec::new();
    for (written, stored) in [
        (json!("0.1"), "0.10"),
        (json!("0.2"), "0.20"),
        (json!("0.30"), "0.30"),
        (json!("9999999999999999.99"), "9999999999999999.99"),
        (json!("-0.01"), "-0.01"),
        (json!(12), "12.00"),
    ] {
        let body =
            json!({"day": DAY, "price": written, "sku": "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"});
        let r = app.post("/items", &body.to_string()).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let row = r.body.clone();
        assert_eq!(row["price"], stored);
        assert_eq!(row["rate"], "0.5000", "the default, at its scale");
        assert_eq!(row["sku"], "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d");
        assert_eq!(row["day"], DAY);
        let id = row["id"].as_str().unwrap().to_string();
        assert!(
            uuid::Uuid::try_parse(&id).is_ok() && id == id.to_lowercase(),
            "{id}"
        );
        assert_eq!(row["created"], row["changed"], "one write, one time");
        // Read back, the same text.
        let got = app.get(&format!("/items/{id}")).await;
        assert_eq!(got.status, 200, "{}", got.body);
        assert_eq!(got.body, row);
        ids.push(id);
    }
    // A UUID is one value in either case.
    let upper = app.get(&format!("/items/{}", ids[0].to_uppercase())).await;
    assert_eq!(upper.status, 200, "{}", upper.body);

    // Ordered and bounded as numbers, on the engine itself: 0.1 + 0.2 is
    // exactly the 0.3 written, never 0.30000000000000004.
    let all = list(&app, "limit=2").await;
    assert_eq!(prices(&all), ["-0.01", "0.10"]);
    let all = crate::keyset::walk(&app, &format!("/items?day={DAY}&limit=4")).await;
    assert_eq!(
        prices(&all),
        [
            "-0.01",
            "0.10",
            "0.20",
            "0.30",
            "12.00",
            "9999999999999999.99"
        ]
    );
    for (query, expected) in [
        ("price.gte=0.3&price.lte=0.30", vec!["0.30"]),
        ("price.gt=0.2", vec!["0.30", "12.00", "9999999999999999.99"]),
        ("price.lt=0.3", vec!["-0.01", "0.10", "0.20"]),
        ("price.gte=-0.01&price.lt=0", vec!["-0.01"]),
        ("price.gt=9999999999999999.98", vec!["9999999999999999.99"]),
    ] {
        assert_eq!(prices(&list(&app, query).await), expected, "{query}");
    }

    // The seed's row: its UUID lowercased, its whole number at the scale.
    let seeded = app.get("/items/00000000-0000-4000-8000-0000000000aa").await;
    assert_eq!(seeded.status, 200, "{}", seeded.body);
    assert_eq!(seeded.body["price"], "7.00");
    assert_eq!(seeded.body["day"], "2026-03-01");
}

async fn a_value_that_would_change_is_refused(engine: TestEngine) {
    let stack = stack();
    let app = TestApp::spawn_on(engine, stack.path()).await;
    for (field, value, says) in [
        ("price", json!(0.3), "write a decimal as a string"),
        (
            "price",
            json!("0.125"),
            "more than 2 digits after the point",
        ),
        (
            "price",
            json!("10000000000000000"),
            "out of range for decimal(18,2)",
        ),
        ("price", json!("1e3"), "is not a decimal"),
        ("price", json!(" 1"), "is not a decimal"),
        ("rate", json!("100"), "out of range for decimal(6,4)"),
        ("day", json!("2026-02-30"), "is not a date"),
        ("day", json!("2026-2-3"), "is not a date"),
        ("day", json!("0000-01-01"), "is not a date"),
        ("sku", json!("not-a-uuid"), "is not a UUID"),
        (
            "sku",
            json!("{0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d}"),
            "is not a UUID",
        ),
    ] {
        let mut body = json!({"day": DAY, "price": "1"});
        body[field] = value.clone();
        let r = app.post("/items", &body.to_string()).await;
        r.assert_error(400, "bad_request");
        assert!(
            r.body.to_string().contains(says),
            "{field} = {value}: {}",
            r.body
        );
    }
    // The runtime's stamps are not the client's to write.
    let body = json!({"day": DAY, "price": "1", "changed": "2020-01-01T00:00:00Z"});
    app.post("/items", &body.to_string())
        .await
        .assert_error(400, "bad_request");
    // Query values are checked alike.
    for query in ["price.gt=0.001", "price.gt=abc"] {
        let r = app.get(&format!("/items?day={DAY}&{query}")).await;
        r.assert_error(400, "bad_request");
    }
    app.get("/items?day=2026-13-01")
        .await
        .assert_error(400, "bad_request");
    app.get("/items/not-a-uuid")
        .await
        .assert_error(400, "bad_request");
    // Nothing was stored.
    assert!(list(&app, "").await.is_empty());
}

async fn stamps_follow_each_write(engine: TestEngine) {
    let stack = stack();
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let given = "2020-05-01T12:00:00Z";
    let body = json!({"day": DAY, "price": "1", "created": given});
    let r = app.post("/items", &body.to_string()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let row = r.body.clone();
    assert_eq!(row["created"], given, "`default = \"now\"` is a default");
    let id = row["id"].as_str().unwrap();
    let before = row["changed"].as_str().unwrap().to_string();
    assert!(before.as_str() > "2026", "{before}");

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = app
        .request(
            reqwest::Method::PATCH,
            &format!("/items/{id}"),
            Some(r#"{"price": "2.5"}"#),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after = r.body.clone();
    assert_eq!(after["price"], "2.50");
    assert_eq!(after["created"], given, "an update keeps the creation time");
    let changed = |v: &Json| {
        time::OffsetDateTime::parse(
            v.as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert!(
        changed(&after["changed"]) > changed(&row["changed"]),
        "{after}"
    );
    assert_eq!(app.get(&format!("/items/{id}")).await.body, after);
}

/// A message's row is stamped as a create's is; an upsert that finds its
/// row keeps the creation time and moves the update time.
async fn messages_keep_values_and_stamp_rows(engine: TestEngine) {
    // Redshift's messages come from SQS only (lifecycle.rs).
    if engine == TestEngine::Redshift {
        return;
    }
    let stack = stack();
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let id = "5e0f1a2b-3c4d-4e5f-8a6b-7c8d9e0f1a2b";
    let refused = json!({"id": id, "day": DAY, "price": 0.3});
    app.post("/topics/prices", &refused.to_string())
        .await
        .assert_error(400, "bad_request");

    let delivered = |price: &'static str| {
        let app = &app;
        async move {
            for _ in 0..100 {
                let got = app.get(&format!("/items/{id}")).await;
                if got.status == 200 && got.body["price"] == price {
                    return got.body;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("{engine:?}: no row with price {price}");
        }
    };
    let message = json!({"id": id.to_uppercase(), "day": DAY, "price": "0.3"});
    let r = app.post("/topics/prices", &message.to_string()).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let first = delivered("0.30").await;
    assert_eq!(first["created"], first["changed"], "{first}");
    assert_eq!(first["rate"], "0.5000");

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let message = json!({"id": id, "day": DAY, "price": "0.1"});
    let r = app.post("/topics/prices", &message.to_string()).await;
    assert_eq!(r.status, 202, "{}", r.body);
    let second = delivered("0.10").await;
    assert_eq!(second["created"], first["created"], "{second}");
    assert_ne!(second["changed"], first["changed"], "{second}");
}

on_every_engine!(
    values_are_kept_exactly,
    a_value_that_would_change_is_refused,
    stamps_follow_each_write,
    messages_keep_values_and_stamp_rows
);
