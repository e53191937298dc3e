//! examples/mysfits: browse and filter; like and adopt need sign-in.

use serde_json::Value as Json;

use crate::harness::{example, on_every_engine, TestApp, TestEngine};

const LIST_FIELDS: [&str; 6] = [
    "mysfitId",
    "name",
    "goodevil",
    "lawchaos",
    "species",
    "thumbImageUri",
];

fn items(body: &Json) -> &Vec<Json> {
    body["mysfits"].as_array().expect("{\"mysfits\": [...]}")
}

async fn lists_twelve_mysfits_wrapped_with_list_fields(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("mysfits")).await;
    let r = app.get("/mysfits").await;
    assert_eq!(r.status, 200);
    let all = items(&r.body);
    assert_eq!(all.len(), 12);
    for item in all {
        let keys: Vec<&str> = item
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, LIST_FIELDS);
    }
    let ids: Vec<&str> = all
        .iter()
        .map(|i| i["mysfitId"].as_str().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    if engine == TestEngine::Dynamodb {
        // A Scan: the table's own order, each item once.
        sorted.dedup();
        assert_eq!(sorted.len(), 12);
    } else {
        assert_eq!(ids, sorted, "in key order");
    }
    assert!(all.iter().any(|i| i["name"] == "Twilight Glitter"));
}

async fn filters_by_goodevil_and_lawchaos(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("mysfits")).await;
    let good = app.get("/mysfits?filter=GoodEvil&value=Good").await;
    assert_eq!(good.status, 200);
    assert_eq!(items(&good.body).len(), 4);
    assert!(items(&good.body).iter().all(|i| i["goodevil"] == "Good"));
    let neutral = app.get("/mysfits?filter=LawChaos&value=Neutral").await;
    assert_eq!(items(&neutral.body).len(), 5);
    assert!(items(&neutral.body)
        .iter()
        .all(|i| i["lawchaos"] == "Neutral"));
    let evil = app.get("/mysfits?filter=GoodEvil&value=Evil").await;
    assert_eq!(items(&evil.body).len(), 4);
}

async fn bad_filters_are_400(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("mysfits")).await;
    app.get("/mysfits?filter=Species&value=Dragon")
        .await
        .assert_error(400, "bad_request");
    app.get("/mysfits?filter=GoodEvil")
        .await
        .assert_error(400, "bad_request");
    app.get("/mysfits?value=Good")
        .await
        .assert_error(400, "bad_request");
    app.get("/mysfits?filter=GoodEvil&value=Wicked")
        .await
        .assert_error(400, "bad_request");
    app.get("/mysfits?goodevil=Good")
        .await
        .assert_error(400, "bad_request");
}

async fn gets_one_full_item_and_404s_unknown_ids(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("mysfits")).await;
    let list = app.get("/mysfits?filter=LawChaos&value=Lawful").await;
    let first = &items(&list.body)[0];
    let id = first["mysfitId"].as_str().unwrap();
    let r = app.get(&format!("/mysfits/{id}")).await;
    assert_eq!(r.status, 200);
    let item = r.body.as_object().unwrap();
    for field in [
        "mysfitId",
        "name",
        "species",
        "age",
        "goodevil",
        "lawchaos",
        "description",
        "thumbImageUri",
        "profileImageUri",
        "likes",
        "adopted",
    ] {
        assert!(item.contains_key(field), "{field} in {item:?}");
    }
    assert_eq!(item["name"], first["name"]);
    assert_eq!(item["likes"], 0);
    assert_eq!(item["adopted"], false);
    app.get("/mysfits/00000000-0000-4000-8000-000000000000")
        .await
        .assert_error(404, "not_found");
    app.get("/mysfits/not-a-real-id")
        .await
        .assert_error(404, "not_found");
}

async fn like_and_adopt_need_a_signed_in_user(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("mysfits")).await;
    let list = app.get("/mysfits").await;
    let id = items(&list.body)[0]["mysfitId"]
        .as_str()
        .unwrap()
        .to_string();
    for action in ["like", "adopt"] {
        let r = app.post(&format!("/mysfits/{id}/{action}"), "{}").await;
        r.assert_error(401, "unauthorized");
        assert_eq!(r.headers["www-authenticate"], "Bearer");
    }
    // Nothing changed.
    let item = app.get(&format!("/mysfits/{id}")).await;
    assert_eq!(item.body["likes"], 0);
    assert_eq!(item.body["adopted"], false);
    let health = app.get("/").await;
    assert_eq!(health.status, 200);
    assert!(health.body["message"].is_string());
}

on_every_engine!(
    lists_twelve_mysfits_wrapped_with_list_fields,
    filters_by_goodevil_and_lawchaos,
    bad_filters_are_400,
    gets_one_full_item_and_404s_unknown_ids,
    like_and_adopt_need_a_signed_in_user,
);
