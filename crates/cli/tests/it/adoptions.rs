//! The adoptions example (Clip's pets with a Flask service of the team's
//! own) under `stackwright up` on each SQL engine: its service's
//! conditional write through DATABASE_URL with the standard DB-API
//! drivers (409 for the loser of a race), and its publish through
//! STACKWRIGHT_API_URL, applied by the topic's subscription.

use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::harness::{Served, TempStack, TestDatabase, TestEngine};

async fn post(client: &reqwest::Client, url: &str, body: Json) -> (u16, Json) {
    let r = client.post(url).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Json::Null))
}

async fn get(client: &reqwest::Client, url: &str) -> (u16, Json) {
    let r = client.get(url).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Json::Null))
}

async fn adopt_once_and_publish(engine: TestEngine) {
    let stack = TempStack::copy_of("adoptions", |toml| toml);
    let db = TestDatabase::create(engine).await;
    let url = match engine {
        TestEngine::Sqlite => String::new(),
        _ => db.raw_url.clone(),
    };
    let served = Served::start(stack.path(), &url, &[]);
    let base = served.url();
    let client = reqwest::Client::new();

    let (status, pet) = get(&client, &format!("{base}/api/pet/Fluffy")).await;
    assert_eq!(
        (status, &pet["adopted_by"]),
        (200, &Json::Null),
        "{}",
        served.log()
    );

    // Two adopters race for one pet: the condition lets exactly one win.
    let adopt = |who: &'static str| {
        let (client, url) = (client.clone(), format!("{base}/adopt/Claws"));
        tokio::spawn(async move { post(&client, &url, json!({ "adopter": who })).await })
    };
    let (a, b) = (adopt("ann"), adopt("bob"));
    let mut statuses = [a.await.unwrap(), b.await.unwrap()];
    statuses.sort_by_key(|(s, _)| *s);
    assert_eq!(
        (statuses[0].0, statuses[1].0),
        (201, 409),
        "{statuses:?}\n{}",
        served.log()
    );
    let winner = statuses[0].1["adopter"].as_str().unwrap().to_string();
    assert_eq!(statuses[0].1["published"], true);
    assert_eq!(statuses[1].1["error"], "conflict");

    let (status, body) = post(
        &client,
        &format!("{base}/adopt/Nobody"),
        json!({ "adopter": "x" }),
    )
    .await;
    assert_eq!((status, &body["error"]), (404, &json!("not_found")));
    let (status, body) = post(
        &client,
        &format!("{base}/adopt/Fang"),
        json!({ "adopter": 7 }),
    )
    .await;
    assert_eq!((status, &body["error"]), (400, &json!("bad_request")));

    // The write, read back through a declared route.
    let (_, pet) = get(&client, &format!("{base}/api/pet/Claws")).await;
    assert_eq!(pet["adopted_by"], winner.as_str());
    // The publish, applied by the subscription.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, adoption) = get(&client, &format!("{base}/api/adoption/Claws")).await;
        if status == 200 {
            assert_eq!(adoption, json!({ "pet": "Claws", "adopter": winner }));
            break;
        }
        assert!(Instant::now() < deadline, "not applied: {}", served.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

crate::harness::on_sql_engines!(adopt_once_and_publish);
