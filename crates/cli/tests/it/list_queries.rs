//! What a list request may ask, on every engine: bounds (`?due.gte=`,
//! `?title.prefix=`), a declared order (`?sort=`), and an exact count
//! (`?count=true`, SQL only: DynamoDB refuses to start with it). Pages
//! follow under each, and a cursor holds only for its bounds and order.

use serde_json::{json, Value as Json};

use crate::harness::{on_engines, on_every_engine, TempStack, TestApp, TestDatabase, TestEngine};
use crate::keyset::{next, walk};

/// Events in groups, listed per group by time or by title, each with its
/// bounds: on DynamoDB, Queries on GSIs with the group as partition key.
const EVENTS: &str = r#"
name = "events"

[tables.event]
key = "id"

[tables.event.columns]
id = { type = "bigint", generated = true }
grp = { type = "string", max_length = 10 }
due = { type = "timestamp" }
title = { type = "string", max_length = 12 }

[tables.event.indexes]
grp_by_due = { columns = ["grp", "due"] }
grp_by_title = { columns = ["grp", "title"] }

[[routes]]
method = "POST"
path = "/events"
op = "create"
table = "event"

[[routes]]
method = "GET"
path = "/events"
op = "list"
table = "event"
filters = ["grp"]
require_filter = true
order_by = ["due"]
ranges = ["due"]
sort = ["due", "-due"]

[[routes]]
method = "GET"
path = "/titles"
op = "list"
table = "event"
fields = ["id", "title"]
filters = ["grp"]
require_filter = true
order_by = ["title"]
ranges = ["title"]
sort = ["-title"]
"#;

/// Titles chosen for byte order: case, a trailing space, a character
/// past ASCII, and text that sorts right after the prefix `ab`.
const TITLES: [&str; 8] = ["ab", "ab ", "abc", "abé", "AB", "aa", "ac", "b"];

fn due(second: u32) -> String {
    format!("2026-01-01T00:00:{second:02}Z")
}

fn column(items: &[Json], name: &str) -> Vec<String> {
    items
        .iter()
        .map(|i| i[name].as_str().unwrap().to_string())
        .collect()
}

/// 30 events in `g`, a second apart, titled from [`TITLES`] in turn, and
/// one in `h` in the middle of them.
async fn events(engine: TestEngine) -> (TempStack, TestApp) {
    let stack = TempStack::new(EVENTS);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    for i in 0..30u32 {
        let title = TITLES[i as usize % TITLES.len()];
        let body = json!({"grp": "g", "due": due(i), "title": title});
        let r = app.post("/events", &body.to_string()).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let body = json!({"grp": "h", "due": due(15), "title": "ab"});
    assert_eq!(app.post("/events", &body.to_string()).await.status, 201);
    (stack, app)
}

async fn bounds_and_sorts_page_alike(engine: TestEngine) {
    let (_stack, app) = events(engine).await;
    let (from, to) = (&due(10), &due(20));
    let window = format!("/events?grp=g&due.gte={from}&due.lt={to}");
    let expected: Vec<String> = (10..20).map(due).collect();

    // A bound each side, a page of 3 at a time, either way.
    let items = walk(&app, &format!("{window}&limit=3")).await;
    assert_eq!(column(&items, "due"), expected);
    let items = walk(&app, &format!("{window}&limit=3&sort=-due")).await;
    let mut backwards = expected.clone();
    backwards.reverse();
    assert_eq!(column(&items, "due"), backwards);
    let items = walk(&app, &format!("{window}&limit=4&sort=due")).await;
    assert_eq!(column(&items, "due"), expected);

    // Strict and inclusive ends, alone and together.
    for (query, count) in [
        (format!("due.gt={from}"), 19),
        (format!("due.gte={from}"), 20),
        (format!("due.lte={from}"), 11),
        (format!("due.lt={from}"), 10),
        (format!("due.gt={from}&due.lte={to}"), 10),
        (
            format!("due.gt={from}&due.gte={from}&due.lt={to}&due.lte={to}"),
            9,
        ),
        (format!("due.gt={to}&due.lt={from}"), 0),
    ] {
        let items = walk(&app, &format!("/events?grp=g&limit=7&{query}")).await;
        assert_eq!(items.len(), count, "{query}: {items:?}");
        assert!(items.iter().all(|i| i["grp"] == "g"));
    }

    // A cursor holds for its bounds and its order only.
    let first = app.get(&format!("{window}&limit=3")).await;
    let cursor = next(&first).expect("more pages");
    let second = app.get(&format!("{window}&limit=3&cursor={cursor}")).await;
    assert_eq!(second.status, 200, "{}", second.body);
    for other in [
        format!("{window}&limit=3&sort=-due&cursor={cursor}"),
        format!("/events?grp=g&due.gte={from}&limit=3&cursor={cursor}"),
        format!("/events?grp=g&due.gt={from}&due.lt={to}&limit=3&cursor={cursor}"),
    ] {
        app.get(&other).await.assert_error(400, "bad_request");
    }
}

/// Prefixes and bounds on text compare bytes on every engine: no case
/// folding, no padding with spaces, no collation.
async fn text_bounds_compare_bytes(engine: TestEngine) {
    let (_stack, app) = events(engine).await;
    // The rows that meet the bounds, as a set: MariaDB orders `ab` and
    // `ab ` as equals (its collations pad with spaces), so ties come by key.
    let titles = |items: Vec<Json>| {
        let set: std::collections::BTreeSet<String> = column(&items, "title").into_iter().collect();
        set.into_iter().collect::<Vec<_>>()
    };
    for (query, expected) in [
        ("title.prefix=ab", vec!["ab", "ab ", "abc", "abé"]),
        ("title.prefix=ab%20", vec!["ab "]),
        ("title.prefix=ab%C3%A9", vec!["abé"]),
        ("title.prefix=A", vec!["AB"]),
        (
            "title.prefix=",
            vec!["AB", "aa", "ab", "ab ", "abc", "abé", "ac", "b"],
        ),
        ("title.gt=ab&title.lte=ac", vec!["ab ", "abc", "abé", "ac"]),
        ("title.gte=ab%20&title.lt=ac", vec!["ab ", "abc", "abé"]),
        ("title.prefix=ab&title.gt=ab%20", vec!["abc", "abé"]),
        ("title.prefix=zz", vec![]),
    ] {
        let items = walk(&app, &format!("/titles?grp=g&limit=5&{query}")).await;
        let rows = (0..30)
            .filter(|i| expected.contains(&TITLES[i % TITLES.len()]))
            .count();
        assert_eq!(items.len(), rows, "{query}: every row once");
        assert_eq!(titles(items), expected, "{query}");
    }
    let items = walk(&app, "/titles?grp=g&limit=5&title.gt=ab%20&sort=-title").await;
    let mut order = column(&items, "title");
    order.dedup();
    assert_eq!(order, ["b", "ac", "abé", "abc"]);
    let only: Vec<Json> = walk(&app, "/titles?grp=h&title.prefix=ab").await;
    assert_eq!(only.len(), 1);
}

/// Every bound, order or count a route does not declare, or gives
/// badly, is a 400 that names it.
async fn bad_bounds_and_orders_are_refused(engine: TestEngine) {
    let (_stack, app) = events(engine).await;
    for (path, names) in [
        ("/events?grp=g&due.gt=soon", "due.gt"),
        ("/events?grp=g&due.after=x", "due.after"),
        ("/events?grp=g&due.prefix=2026", "due.prefix"),
        ("/events?grp=g&title.prefix=a", "title.prefix"),
        (
            "/events?grp=g&due.gt=2026-01-01T00:00:00Z&due.gt=2026-01-01T00:00:00Z",
            "due.gt",
        ),
        ("/events?grp=g&sort=title", "sort"),
        ("/events?grp=g&sort=", "sort"),
        ("/titles?grp=g&sort=title", "sort"),
        ("/titles?grp=g&title.prefix=thirteen_long", "title.prefix"),
        ("/events?grp=g&count=true", "count"),
    ] {
        let r = app.get(path).await;
        r.assert_error(400, "bad_request");
        let message = r.body["error"]["message"].as_str().unwrap();
        assert!(message.contains(names), "{path}: {message}");
    }
    // Bounds do not stand in for the filter a list needs.
    app.get("/events?due.gt=2026-01-01T00:00:00Z")
        .await
        .assert_error(400, "bad_request");
}

on_every_engine!(
    bounds_and_sorts_page_alike,
    text_bounds_compare_bytes,
    bad_bounds_and_orders_are_refused,
);

/// The events stack with a counted list.
fn counted() -> String {
    format!(
        "{EVENTS}\n{}",
        r#"
[[routes]]
method = "GET"
path = "/counted"
op = "list"
table = "event"
filters = ["grp"]
ranges = ["due"]
count = true

[tables.event.indexes.by_due]
columns = ["due"]
"#
    )
}

/// `?count=true`: the rows that meet the filters and bounds, whatever the
/// page, in `X-Total-Count`; exact on every SQL engine.
async fn counts_are_exact(engine: TestEngine) {
    let stack = TempStack::new(&counted());
    let app = TestApp::spawn_on(engine, stack.path()).await;
    for i in 0..25u32 {
        let body = json!({"grp": if i < 20 { "g" } else { "h" }, "due": due(i), "title": "t"});
        assert_eq!(app.post("/events", &body.to_string()).await.status, 201);
    }
    let total = |r: &crate::harness::Reply| {
        r.headers
            .get("x-total-count")
            .map(|v| v.to_str().unwrap().parse::<u64>().unwrap())
    };
    let from = &due(5);
    for (query, expected) in [
        ("count=true".to_string(), 25),
        ("count=true&grp=g".to_string(), 20),
        (format!("count=true&grp=g&due.gte={from}&limit=2"), 15),
        (format!("count=true&due.lt={from}"), 5),
        ("count=true&grp=nobody".to_string(), 0),
    ] {
        let r = app.get(&format!("/counted?{query}")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(total(&r), Some(expected), "{query}");
    }
    // The count holds on later pages too; without asking, none is made.
    let first = app.get("/counted?grp=g&count=true&limit=5").await;
    let cursor = next(&first).unwrap();
    let second = app
        .get(&format!(
            "/counted?grp=g&count=true&limit=5&cursor={cursor}"
        ))
        .await;
    assert_eq!(total(&second), Some(20));
    for query in ["grp=g", "grp=g&count=false"] {
        assert_eq!(total(&app.get(&format!("/counted?{query}")).await), None);
    }
    app.get("/counted?count=yes")
        .await
        .assert_error(400, "bad_request");

    // The document says what the route reads and answers.
    let document = app.get("/openapi.json").await.body;
    let op = &document["paths"]["/counted"]["get"];
    let names: Vec<&str> = op["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in ["grp", "due.gt", "due.gte", "due.lt", "due.lte", "count"] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    assert!(!names.contains(&"due.prefix") && !names.contains(&"sort"));
    assert!(op["responses"]["200"]["headers"]["X-Total-Count"].is_object());
    let titles = &document["paths"]["/titles"]["get"]["parameters"];
    assert!(titles
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["name"] == "title.prefix" && p["schema"]["maxLength"] == 12));
}

on_engines!(
    [sqlite => Sqlite, postgres => Postgres, mariadb => Mariadb, redshift => Redshift]
    counts_are_exact
);

/// DynamoDB has no count but reading every item: a stack that declares one
/// does not start there (and `check` says so before, see the validation).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_refuses_a_counted_list() {
    let stack = TempStack::new(&counted());
    let db = TestDatabase::create(TestEngine::Dynamodb).await;
    let Err(refused) = TestApp::start(stack.path(), &db.url, false).await else {
        panic!("a counted list starts on DynamoDB");
    };
    let message = refused.to_string();
    assert!(
        message.contains("GET /counted") && message.contains("count"),
        "{message}"
    );
}
