//! examples/clients: the LATAM challenge's client lookup.

use serde_json::json;

use crate::harness::{example, on_every_engine, TestApp, TestEngine};

async fn seeded_client_has_all_five_fields(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("clients")).await;
    let r = app.get("/getClient?client_id=2").await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body,
        json!({
            "id": 2,
            "nombre": "Matías",
            "apellido": "González",
            "rut": "12345678-5",
            "correo": "matias.gonzalez@example.cl"
        })
    );
}

async fn client_id_is_required_numeric_and_known(engine: TestEngine) {
    let app = TestApp::spawn_on(engine, &example("clients")).await;
    app.get("/getClient").await.assert_error(400, "bad_request");
    app.get("/getClient?client_id=")
        .await
        .assert_error(400, "bad_request");
    app.get("/getClient?client_id=abc")
        .await
        .assert_error(400, "bad_request");
    app.get("/getClient?client_id=1.5")
        .await
        .assert_error(400, "bad_request");
    // Out of range for the 32-bit id column.
    app.get("/getClient?client_id=99999999999")
        .await
        .assert_error(400, "bad_request");
    app.get("/getClient?client_id=999")
        .await
        .assert_error(404, "not_found");
    app.get("/getClient?client_id=1&client_id=2")
        .await
        .assert_error(400, "bad_request");
    app.get("/getClient?client_id=1&other=2")
        .await
        .assert_error(400, "bad_request");
    let r = app.get("/getClient?client_id=abc").await;
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("client_id"),
        "the error names the parameter: {message}"
    );
}

on_every_engine!(
    seeded_client_has_all_five_fields,
    client_id_is_required_numeric_and_known,
);
