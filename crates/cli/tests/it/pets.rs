//! examples/pets: the Clip challenge's pet lookup.

use reqwest::Method;
use serde_json::json;

use crate::harness::{
    example, on_engines, on_every_engine, stackwright, text, TestApp, TestEngine,
};

async fn fluffy_is_served_without_sex(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("pets")).await;
    let r = app.get("/api/pet/Fluffy").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({"name": "Fluffy", "owner": "Harold", "species": "cat"})
    );
    // Field order is the route's order, as documented.
    assert_eq!(
        r.body.to_string(),
        r#"{"name":"Fluffy","owner":"Harold","species":"cat"}"#
    );
}

async fn every_seed_pet_is_served(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("pets")).await;
    let pets = [
        ("Fluffy", "Harold", "cat"),
        ("Claws", "Gwen", "cat"),
        ("Buffy", "Harold", "dog"),
        ("Fang", "Benny", "dog"),
        ("Bowser", "Diane", "dog"),
        ("Chirpy", "Gwen", "bird"),
        ("Whistler", "Gwen", "bird"),
        ("Slim", "Benny", "snake"),
        ("Puffball", "Diane", "hamster"),
    ];
    for (name, owner, species) in pets {
        let r = app.get(&format!("/api/pet/{name}")).await;
        assert_eq!(r.status, 200, "{name}");
        assert_eq!(
            r.body,
            json!({"name": name, "owner": owner, "species": species})
        );
    }
    // Whistler's sex is NULL in the seed (an empty CSV cell).
    assert_eq!(app.db().count_rows("pet").await, 9);
    let sex = app
        .db()
        .read_column("pet", "name", json!("Whistler"), "sex")
        .await;
    assert_eq!(sex, None);
}

async fn unknown_and_bad_names_are_client_errors(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("pets")).await;
    app.get("/api/pet/Garfield")
        .await
        .assert_error(404, "not_found");
    // Names are case-sensitive keys.
    app.get("/api/pet/fluffy")
        .await
        .assert_error(404, "not_found");
    // Longer than the column allows: a bad path value.
    app.get("/api/pet/AnExtremelyLongPetNameIndeed")
        .await
        .assert_error(400, "bad_request");
    // SQL meta-characters are just a name that does not exist.
    app.get("/api/pet/Fluffy'%20OR%20'1'='1")
        .await
        .assert_error(404, "not_found");
    app.get("/api/pet/").await.assert_error(404, "not_found");
    let r = app
        .request(Method::POST, "/api/pet/Fluffy", Some("{}"))
        .await;
    r.assert_error(405, "method_not_allowed");
    assert_eq!(r.headers["allow"], "GET");
    let h = app.get("/health").await;
    assert_eq!(h.status, 200);
    assert_eq!(h.body, json!({"status": "ok"}));
}

/// The registrations topic is `internal`: over HTTP nobody may publish
/// (anyone could rewrite a pet), and the OpenAPI document leaves it out;
/// `stackwright publish` adds a pet and updates one, delivered by `up`.
async fn registrations_come_only_from_inside(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("pets")).await;
    let pepper = json!({"name": "Pepper", "owner": "Ada", "species": "cat", "sex": "f"});
    let r = app.post("/topics/registrations", &pepper.to_string()).await;
    r.assert_error(403, "forbidden");
    assert!(
        r.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("stackwright publish"),
        "{}",
        r.body
    );
    let doc = app.get("/openapi.json").await.body;
    assert!(doc["paths"].get("/topics/registrations").is_none(), "{doc}");

    let file = tempfile::NamedTempFile::new().unwrap();
    let moved = json!({"name": "Fluffy", "owner": "Gwen", "species": "cat", "sex": "f"});
    std::fs::write(file.path(), json!([pepper, moved]).to_string()).unwrap();
    let dir = example("pets");
    let out = stackwright(&[
        "publish",
        dir.to_str().unwrap(),
        "registrations",
        "--json",
        file.path().to_str().unwrap(),
        "--database-url",
        &app.db().raw_url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (name, owner) in [("Pepper", "Ada"), ("Fluffy", "Gwen")] {
        let mut got = None;
        for _ in 0..100 {
            let r = app.get(&format!("/api/pet/{name}")).await;
            if r.status == 200 && r.body["owner"] == owner {
                got = Some(r.body);
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(
            got,
            Some(json!({"name": name, "owner": owner, "species": "cat"}))
        );
    }
}

// Not on Redshift: its messages arrive through SQS only (no local queue).
on_engines!(
    [sqlite => Sqlite, postgres => Postgres, mariadb => Mariadb, dynamodb => Dynamodb]
    registrations_come_only_from_inside
);

on_every_engine!(
    fluffy_is_served_without_sex,
    every_seed_pet_is_served,
    unknown_and_bad_names_are_client_errors,
);
