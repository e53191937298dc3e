//! examples/clients: the LATAM challenge's client lookup.

use std::time::{Duration, Instant};

use serde_json::json;

use crate::harness::{example, on_every_engine, TempStack, TestApp, TestEngine};

/// The example, on `engine`. DynamoDB cannot hold topics yet, so there the
/// lookup contract is served by a copy without the ingestion topic.
async fn clients_on(engine: TestEngine) -> (TestApp, Option<TempStack>) {
    if engine != TestEngine::Dynamodb {
        return (TestApp::spawn_on(engine, &example("clients")).await, None);
    }
    let stack = TempStack::copy_of("clients", |toml| {
        let at = toml.find("\n# Ingestion").expect("the ingestion section");
        toml[..at].to_string()
    });
    (TestApp::spawn_on(engine, stack.path()).await, Some(stack))
}

async fn seeded_client_has_all_five_fields(engine: TestEngine) {
    let (app, _stack) = clients_on(engine).await;
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
    let (app, _stack) = clients_on(engine).await;
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

/// A customer published to the `customers` topic becomes a client; the same
/// customer published again (a new message, the same key) updates it.
async fn published_customers_become_clients(engine: TestEngine) {
    let (app, _stack) = clients_on(engine).await;
    let customer = json!({"id": 6, "nombre": "Tomás", "apellido": "Vera", "rut": "9876543-2", "correo": "tomas.vera@example.cl"});
    let r = app.post("/topics/customers", &customer.to_string()).await;
    assert_eq!(r.status, 202, "{:?}", r.body);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let got = app.get("/getClient?client_id=6").await;
        if got.status == 200 {
            assert_eq!(got.body, customer);
            break;
        }
        assert!(Instant::now() < deadline, "not applied within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let moved = json!({"id": 6, "nombre": "Tomás", "apellido": "Vera", "rut": "9876543-2", "correo": "tomas@example.cl"});
    assert_eq!(
        app.post("/topics/customers", &moved.to_string())
            .await
            .status,
        202
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.get("/getClient?client_id=6").await.body != moved {
        assert!(Instant::now() < deadline, "not updated within 20 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    app.post(
        "/topics/customers",
        r#"{"id": 7, "nombre": "Sin apellido"}"#,
    )
    .await
    .assert_error(400, "bad_request");
}

mod ingestion {
    use crate::harness::TestEngine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::published_customers_become_clients(TestEngine::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::published_customers_become_clients(TestEngine::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mariadb() {
        super::published_customers_become_clients(TestEngine::Mariadb).await
    }
}

/// On Redshift, customers arrive through SQS (the subscriber: see
/// `lambda::applies_sqs_messages_and_reports_the_failed_ones::redshift`);
/// `up` there has no local queue, and says so with a 501, never a 500.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_locally_on_redshift_is_501() {
    let (app, _stack) = clients_on(TestEngine::Redshift).await;
    let customer = json!({"id": 6, "nombre": "Tomás", "apellido": "Vera", "rut": "9876543-2", "correo": "tomas.vera@example.cl"});
    let r = app.post("/topics/customers", &customer.to_string()).await;
    r.assert_error(501, "not_implemented");
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("SQS"), "{message}");
    assert_eq!(app.get("/getClient?client_id=1").await.status, 200);
}
