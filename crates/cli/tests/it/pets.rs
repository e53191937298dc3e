//! examples/pets: the Clip challenge's pet lookup.

use reqwest::Method;
use serde_json::json;

use crate::harness::{example, TestApp};

#[tokio::test]
async fn fluffy_is_served_without_sex() {
    let app = TestApp::spawn(&example("pets")).await;
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

#[tokio::test]
async fn every_seed_pet_is_served() {
    let app = TestApp::spawn(&example("pets")).await;
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
    let sex: Option<String> = app
        .sql()
        .query_row("SELECT sex FROM pet WHERE name = 'Whistler'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(sex, None);
}

#[tokio::test]
async fn unknown_and_bad_names_are_client_errors() {
    let app = TestApp::spawn(&example("pets")).await;
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
