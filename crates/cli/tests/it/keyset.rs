//! Keyset pages on every engine: a page continues after the last row of the
//! previous one, so rows inserted meanwhile never make a row skipped or
//! repeated; cursors are sealed and bound to their list; on DynamoDB a page
//! reads what it holds plus one item, however deep.

use std::collections::HashSet;

use serde_json::{json, Value as Json};

use crate::harness::{on_every_engine, TempStack, TestApp, TestEngine};

/// Items in groups, listed per group by rank (an index serves it on every
/// engine: on DynamoDB a GSI with the group as partition key and the rank
/// as sort key), and a second list of every item in key order.
const ITEMS: &str = r#"
name = "keyset"

[tables.item]
key = "id"

[tables.item.columns]
id = { type = "bigint", generated = true }
grp = { type = "string", max_length = 10 }
rank = { type = "integer" }
secret = { type = "string", max_length = 20, default = "hidden" }

[tables.item.indexes]
grp_by_rank = { columns = ["grp", "rank"] }

[[routes]]
method = "POST"
path = "/items"
op = "create"
table = "item"

[[routes]]
method = "GET"
path = "/items"
op = "list"
table = "item"
fields = ["id", "grp", "rank"]
filters = ["grp"]
require_filter = true
order_by = ["rank"]

[[routes]]
method = "GET"
path = "/all"
op = "list"
table = "item"
fields = ["id", "grp", "rank"]
"#;

fn ids(page: &Json) -> Vec<i64> {
    page.as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect()
}

pub(crate) fn next(reply: &crate::harness::Reply) -> Option<String> {
    reply
        .headers
        .get("x-next-cursor")
        .map(|c| c.to_str().unwrap().to_string())
}

/// Every item of a list, a page at a time from `first` on.
pub(crate) async fn walk(app: &TestApp, first: &str) -> Vec<Json> {
    let mut items = Vec::new();
    let mut path = first.to_string();
    loop {
        let page = app.get(&path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        items.extend(page.body.as_array().unwrap().iter().cloned());
        match next(&page) {
            Some(c) => path = format!("{first}&cursor={c}"),
            None => return items,
        }
    }
}

async fn create(app: &TestApp, grp: &str, rank: i64) -> i64 {
    let r = app
        .post("/items", &json!({"grp": grp, "rank": rank}).to_string())
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_i64().unwrap()
}

async fn pages_under_concurrent_inserts_skip_and_repeat_nothing(engine: TestEngine) {
    let stack = TempStack::new(ITEMS);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let mut before = HashSet::new();
    for i in 0..40 {
        // Ranks tie in fours: the key orders the ties.
        before.insert(create(&app, "g", i / 4 * 10).await);
    }
    create(&app, "other", 5).await;

    // While the pages are read, rows arrive everywhere in the order:
    // before the reader's position, after it, and tying with it.
    let writer = {
        let (url, client) = (app.url.clone(), app.client.clone());
        tokio::spawn(async move {
            for i in 0..40 {
                let body = json!({"grp": "g", "rank": (i * 7) % 100});
                let r = client
                    .post(format!("{url}/items"))
                    .body(body.to_string())
                    .header("content-type", "application/json")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        })
    };
    let mut seen: Vec<(i64, i64)> = Vec::new();
    for item in walk(&app, "/items?grp=g&limit=3").await {
        assert_eq!(item["grp"], "g");
        seen.push((item["rank"].as_i64().unwrap(), item["id"].as_i64().unwrap()));
    }
    writer.await.unwrap();
    let unique: HashSet<i64> = seen.iter().map(|(_, id)| *id).collect();
    assert_eq!(unique.len(), seen.len(), "no row twice: {seen:?}");
    assert!(
        before.is_subset(&unique),
        "every row there from the start is seen once: {seen:?}"
    );
    let ranks: Vec<i64> = seen.iter().map(|(rank, _)| *rank).collect();
    assert!(
        ranks.windows(2).all(|w| w[0] <= w[1]),
        "in rank order: {ranks:?}"
    );
    if engine != TestEngine::Dynamodb {
        // SQL breaks ties by the key; DynamoDB by the index's own order.
        assert!(
            seen.windows(2).all(|w| w[0] < w[1]),
            "in (rank, id) order: {seen:?}"
        );
    }

    // The whole table, unfiltered (a Scan on DynamoDB).
    let mut all = ids(&Json::Array(walk(&app, "/all?limit=7").await));
    let count = all.len();
    all.sort();
    all.dedup();
    assert_eq!((count, all.len()), (81, 81));
}

async fn forged_edited_and_transplanted_cursors_are_refused(engine: TestEngine) {
    let stack = TempStack::new(ITEMS);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    for rank in 0..5 {
        create(&app, "g", rank).await;
        create(&app, "h", rank).await;
    }
    let first = app.get("/items?grp=g&limit=2").await;
    let cursor = next(&first).expect("more pages");
    // The position holds a column the route does not show: sealed, unreadable.
    assert!(!cursor.contains("rank") && !cursor.contains("secret"));
    let second = app
        .get(&format!("/items?grp=g&limit=2&cursor={cursor}"))
        .await;
    assert_eq!(second.status, 200, "{}", second.body);
    assert!(ids(&second.body)
        .iter()
        .all(|id| !ids(&first.body).contains(id)));

    // The same cursor for other filters, another route, edited or made up.
    let mut edited: Vec<char> = cursor.chars().collect();
    let middle = edited.len() / 2;
    edited[middle] = if edited[middle] == 'A' { 'B' } else { 'A' };
    let edited: String = edited.into_iter().collect();
    for path in [
        format!("/items?grp=h&limit=2&cursor={cursor}"),
        format!("/all?limit=2&cursor={cursor}"),
        format!("/items?grp=g&limit=2&cursor={edited}"),
        format!("/items?grp=g&cursor={}", &cursor[..cursor.len() - 4]),
        "/items?grp=g&cursor=bzox".to_string(),
        "/items?grp=g&cursor=garbage!".to_string(),
    ] {
        let r = app.get(&path).await;
        r.assert_error(400, "bad_request");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("cursor"),
            "{}",
            r.body
        );
    }
    // An empty cursor is the first page; a list that needs a filter says so.
    let again = app.get("/items?grp=g&limit=2&cursor=").await;
    assert_eq!(
        (again.status.as_u16(), ids(&again.body)),
        (200, ids(&first.body))
    );
    let r = app.get("/items").await;
    r.assert_error(400, "bad_request");
    assert!(
        r.body["error"]["message"].as_str().unwrap().contains("grp"),
        "{}",
        r.body
    );
}

/// `?fields=`: some of the route's fields, in the route's order; an unknown
/// field, one the route does not show, or one named twice is a 400.
async fn lists_return_the_fields_asked_for(engine: TestEngine) {
    let stack = TempStack::new(ITEMS);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    create(&app, "g", 1).await;
    let page = app.get("/items?grp=g&fields=rank,id").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let row = page.body[0].as_object().unwrap();
    assert_eq!(row.keys().collect::<Vec<_>>(), ["id", "rank"]);
    assert_eq!(
        app.get("/items?grp=g").await.body[0]
            .as_object()
            .unwrap()
            .len(),
        3
    );
    for bad in ["secret", "nope", "id,id", "", "id,"] {
        let r = app.get(&format!("/items?grp=g&fields={bad}")).await;
        r.assert_error(400, "bad_request");
        assert!(
            r.body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("fields"),
            "{}",
            r.body
        );
    }
    app.get("/items?grp=g&fields=id&fields=rank")
        .await
        .assert_error(400, "bad_request");
}

on_every_engine!(
    lists_return_the_fields_asked_for,
    pages_under_concurrent_inserts_skip_and_repeat_nothing,
    forged_edited_and_transplanted_cursors_are_refused,
);

/// Lists of a 10,000-item table on DynamoDB (moto): each page, first or
/// deep, a Scan or a Query on the GSI, reads what it holds plus one item
/// (`ScannedCount`) in one request (`ConsumedCapacity`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dynamodb_page_reads_what_it_holds_plus_one() {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    use stackwright_storage::dynamodb::DynamoEngine;
    use stackwright_storage::{DatabaseUrl, Engine, ListQuery, Row};

    let db = crate::harness::TestDatabase::create(TestEngine::Dynamodb).await;
    let DatabaseUrl::Dynamodb(url) = &db.url else {
        panic!("a DynamoDB URL")
    };
    let dir = TempStack::new(ITEMS);
    let stack = stackwright_stack::load(dir.path()).unwrap();
    let engine = DynamoEngine::connect(url).await.unwrap();
    stackwright_storage::prepare(&engine, &stack, false)
        .await
        .unwrap();

    // 10,000 items straight into the table, 25 a request.
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(url.endpoint.clone().unwrap())
        .credentials_provider(aws_credential_types::Credentials::new(
            "t", "t", None, None, "t",
        ))
        .load()
        .await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let table_name = format!("{}item", url.prefix);
    for batch in (0..10_000i64).collect::<Vec<_>>().chunks(25) {
        let writes = batch.iter().map(|i| {
            let item = [
                ("id", AttributeValue::N(i.to_string())),
                (
                    "grp",
                    AttributeValue::S(if i % 2 == 0 { "g" } else { "h" }.into()),
                ),
                ("rank", AttributeValue::N((i % 1000).to_string())),
                ("secret", AttributeValue::S("hidden".into())),
            ]
            .map(|(k, v)| (k.to_string(), v));
            let put = PutRequest::builder()
                .set_item(Some(item.into()))
                .build()
                .unwrap();
            WriteRequest::builder().put_request(put).build()
        });
        client
            .batch_write_item()
            .request_items(&table_name, writes.collect())
            .send()
            .await
            .unwrap();
    }

    let table = &stack.tables["item"];
    let list_route = |path: &str| {
        stack
            .routes
            .iter()
            .find_map(|r| match &r.operation {
                stackwright_stack::Operation::List(l) if r.path == path => Some(l.clone()),
                _ => None,
            })
            .unwrap()
    };
    let (by_rank, all) = (list_route("/items"), list_route("/all"));
    let position = |pairs: Json| -> Row { serde_json::from_value(pairs).unwrap() };
    // What is listed: filters, order, and where the page starts.
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, Json)>,
        &'a [stackwright_stack::Order],
        Option<Row>,
    );
    let cases: [Case; 4] = [
        ("first page of a Scan", vec![], &all.order_by, None),
        (
            "deep page of a Scan",
            vec![],
            &all.order_by,
            Some(position(json!({"id": 9_000}))),
        ),
        (
            "first page of a Query",
            vec![("grp", json!("g"))],
            &by_rank.order_by,
            None,
        ),
        (
            "deep page of a Query",
            vec![("grp", json!("g"))],
            &by_rank.order_by,
            Some(position(json!({"id": 9_980, "grp": "g", "rank": 980}))),
        ),
    ];
    for (what, filters, order_by, after) in cases {
        let before = engine.list_reads();
        let page = engine
            .list(
                table,
                &ListQuery {
                    filters,
                    ranges: Vec::new(),
                    order_by,
                    limit: 100,
                    after: after.as_ref(),
                },
            )
            .await
            .unwrap();
        let read = engine.list_reads();
        let scanned = read.items_scanned - before.items_scanned;
        let capacity = read.capacity_milli_units - before.capacity_milli_units;
        assert!(!page.is_empty(), "{what}");
        assert!(
            scanned <= 101,
            "{what}: {scanned} items read for a page of 100"
        );
        assert!(scanned >= page.len() as u64, "{what}: {scanned}");
        // One request: moto charges a fixed half unit per read request.
        assert!(
            (1..=1000).contains(&capacity),
            "{what}: {capacity} milli-units"
        );
        if what.contains("Query") {
            let rank = page.column("rank").unwrap();
            let ranks: Vec<i64> = (0..page.len())
                .map(|r| page.rows.value(r, rank).unwrap().as_i64().unwrap())
                .collect();
            assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{what}: {ranks:?}");
            if after.is_some() {
                assert!(ranks[0] >= 980, "{what} starts at its position: {ranks:?}");
            }
        }
    }
}
