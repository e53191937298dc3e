//! The runtime as a Lambda custom runtime: the real binary, started the way
//! Lambda starts `bootstrap` (no arguments), against a fake Runtime API that
//! speaks the real protocol.

use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value as Json};

use crate::harness::{example, stackwright, text, TestDatabase, TestEngine};

#[derive(Default)]
struct RuntimeApi {
    events: Vec<(String, Json)>,
    results: Vec<(String, String, Json)>,
}

type Shared = Arc<Mutex<RuntimeApi>>;

async fn next(State(api): State<Shared>) -> (HeaderMap, String) {
    loop {
        let popped = {
            let mut api = api.lock().unwrap();
            (!api.events.is_empty()).then(|| api.events.remove(0))
        };
        if let Some((id, event)) = popped {
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            headers.insert(
                "lambda-runtime-deadline-ms",
                "9999999999999".parse().unwrap(),
            );
            return (headers, event.to_string());
        }
        // No more work: hold the long poll, as Lambda does between invocations.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn result(
    State(api): State<Shared>,
    Path((id, kind)): Path<(String, String)>,
    body: String,
) -> &'static str {
    api.lock()
        .unwrap()
        .results
        .push((id, kind, serde_json::from_str(&body).unwrap()));
    "{}"
}

pub(crate) fn http_event(
    method: &str,
    path: &str,
    query: &str,
    body: Option<&str>,
    base64: bool,
) -> Json {
    let body = body.map(|b| {
        if base64 {
            base64::engine::general_purpose::STANDARD.encode(b)
        } else {
            b.to_string()
        }
    });
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": { "content-type": "application/json", "host": "example.execute-api.us-east-1.amazonaws.com" },
        "requestContext": { "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1" } },
        "body": body,
        "isBase64Encoded": base64
    })
}

/// Run the binary as Lambda would, feed it `events` through a fake Runtime
/// API, and return what it posted back (request id, kind, body).
pub(crate) async fn invoke(
    env: &[(&str, String)],
    events: Vec<(String, Json)>,
) -> Vec<(String, String, Json)> {
    let want = events.len();
    let api: Shared = Arc::default();
    api.lock().unwrap().events = events;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(result))
        .with_state(api.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut child = Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("NO_COLOR", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while api.lock().unwrap().results.len() < want {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!(
                "the function answered {} of {want} invocations:\n{err}",
                api.lock().unwrap().results.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap();
    let _ = child.wait();
    let results = std::mem::take(&mut api.lock().unwrap().results);
    results
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_http_api_events_through_the_runtime_api() {
    let temp = tempfile::TempDir::new().unwrap();
    let url = format!("sqlite://{}", temp.path().join("lambda.db").display());
    // The migration runs before the function, once per deploy.
    let migrated = stackwright(&[
        "migrate",
        example("todo").to_str().unwrap(),
        "--database-url",
        &url,
    ]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));

    let results = invoke(
        &[
            ("STACKWRIGHT_STACK", example("todo").display().to_string()),
            ("STACKWRIGHT_DATABASE_URL", url.clone()),
        ],
        vec![
            (
                "r1".into(),
                http_event("GET", "/api/task/", "", None, false),
            ),
            (
                "r2".into(),
                http_event(
                    "POST",
                    "/api/task/",
                    "",
                    Some(r#"{"title":"from lambda"}"#),
                    true,
                ),
            ),
            (
                "r3".into(),
                http_event("GET", "/api/task/", "limit=1", None, false),
            ),
            (
                "r4".into(),
                http_event("DELETE", "/api/task/99/", "", None, false),
            ),
            ("r5".into(), json!({ "not": "an http event" })),
            (
                "r6".into(),
                http_event("PUT", "/api/task/", "", Some("{}"), false),
            ),
        ],
    )
    .await;
    let by_id = |id: &str| {
        results
            .iter()
            .find(|(i, _, _)| i == id)
            .unwrap_or_else(|| panic!("{id} answered"))
    };
    let body = |r: &Json| serde_json::from_str::<Json>(r["body"].as_str().unwrap()).unwrap();

    let (_, kind, r1) = by_id("r1");
    assert_eq!(
        (kind.as_str(), r1["statusCode"].as_u64()),
        ("response", Some(200))
    );
    assert_eq!(body(r1).as_array().unwrap().len(), 3);
    assert_eq!(r1["headers"]["content-type"], "application/json");

    let (_, _, r2) = by_id("r2");
    assert_eq!(r2["statusCode"], 201, "{r2}");
    assert_eq!(body(r2)["title"], "from lambda", "a base64 body is decoded");

    let (_, _, r3) = by_id("r3");
    assert_eq!(
        body(r3).as_array().unwrap().len(),
        1,
        "the query string reaches the route"
    );
    assert!(r3["headers"]["x-next-cursor"].is_string());

    let (_, _, r4) = by_id("r4");
    assert_eq!(r4["statusCode"], 404);
    assert_eq!(body(r4)["error"]["code"], "not_found");

    let (_, kind, r5) = by_id("r5");
    assert_eq!(
        kind, "error",
        "an event that is not HTTP is an invocation error: {r5}"
    );
    assert!(r5["errorMessage"]
        .as_str()
        .unwrap()
        .contains("not an HTTP API"));

    let (_, _, r6) = by_id("r6");
    assert_eq!(r6["statusCode"], 405);
    assert_eq!(r6["headers"]["allow"], "GET, POST");
}

/// An SQS event record holding an SNS notification, as a subscription's
/// queue delivers it to the subscriber function.
fn sqs_record(message_id: &str, published_id: &str, message: &Json) -> Json {
    let notification = json!({
        "Type": "Notification",
        "MessageId": format!("sns-{message_id}"),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:clients-dev-customers",
        "Message": message.to_string(),
        "MessageAttributes": { "stackwright-id": { "Type": "String", "Value": published_id } }
    });
    json!({
        "messageId": message_id,
        "receiptHandle": format!("handle-{message_id}"),
        "body": notification.to_string(),
        "attributes": { "ApproximateReceiveCount": "1" },
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:clients-dev-customers-clientes",
        "awsRegion": "us-east-1"
    })
}

/// The subscriber: SQS events apply their messages once each and report
/// the ones that failed, so SQS redelivers only those. On the embedded
/// default, in the LATAM seed's own shape (the clients example on Redshift:
/// its dialect, here on PostgreSQL; the upsert is its MERGE), and on
/// DynamoDB (record and row in one TransactWriteItems).
async fn applies_sqs_messages_and_reports_the_failed_ones(engine: TestEngine) {
    let db = TestDatabase::create(engine).await;
    let url = db.raw_url.clone();
    let stack = example("clients").display().to_string();
    let migrated = stackwright(&["migrate", &stack, "--database-url", &url]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    // An id applied 31 days ago: forgotten by the subscriber, which has no
    // long-running task to do it.
    let aged = stackwright_storage::queue::now_ms() - 31 * 24 * 60 * 60 * 1000;
    db.insert_applied("customers-clientes", "ancient", aged)
        .await;
    let customer = json!({"id": 6, "nombre": "Tomás", "apellido": "Vera", "rut": "9876543-2", "correo": "tomas.vera@example.cl"});
    let renamed = json!({"id": 6, "nombre": "Otro", "apellido": "Vera", "rut": "9876543-2", "correo": "tomas.vera@example.cl"});
    let results = invoke(
        &[
            ("STACKWRIGHT_STACK", stack),
            ("STACKWRIGHT_DATABASE_URL", url),
            (
                "STACKWRIGHT_TOPIC_ARNS",
                "customers=arn:aws:sns:us-east-1:123456789012:clients-dev-customers".to_string(),
            ),
            (
                "STACKWRIGHT_SUBSCRIPTION_QUEUES",
                "customers-clientes=https://sqs.us-east-1.amazonaws.com/123456789012/clients-dev-customers-clientes".to_string(),
            ),
        ],
        vec![
            (
                "s1".into(),
                json!({ "Records": [
                    sqs_record("q1", "p1", &customer),
                    // The same published message delivered again: not applied twice
                    // (its upsert would otherwise rename the client).
                    sqs_record("q2", "p1", &renamed),
                    sqs_record("q3", "p3", &json!({"id": 7})),
                    sqs_record("q4", "p4", &json!("not an object")),
                ] }),
            ),
            (
                "s2".into(),
                http_event("GET", "/getClient", "client_id=6", None, false),
            ),
        ],
    )
    .await;
    let (_, kind, s1) = results.iter().find(|(i, _, _)| i == "s1").unwrap();
    assert_eq!(kind, "response", "{s1}");
    assert_eq!(
        s1["batchItemFailures"],
        json!([{ "itemIdentifier": "q3" }, { "itemIdentifier": "q4" }])
    );
    let (_, _, s2) = results.iter().find(|(i, _, _)| i == "s2").unwrap();
    assert_eq!(s2["statusCode"], 200, "{s2}");
    let body: Json = serde_json::from_str(s2["body"].as_str().unwrap()).unwrap();
    assert_eq!(body, customer, "applied once, the redelivery ignored");
    // The aged id forgotten, the new one kept.
    assert_eq!(db.applied_ids().await, ["p1"]);
}

crate::harness::on_engines!(
    [sqlite => Sqlite, redshift => Redshift, dynamodb => Dynamodb]
    applies_sqs_messages_and_reports_the_failed_ones
);

#[derive(Default)]
pub(crate) struct CloudFormation {
    pub(crate) answers: Vec<Json>,
}

async fn answer(
    State(cf): State<Arc<Mutex<CloudFormation>>>,
    headers: HeaderMap,
    body: String,
) -> &'static str {
    assert_eq!(
        headers.get("content-type").map(|v| v.as_bytes()),
        Some(&b""[..]),
        "pre-signed URLs want no content type"
    );
    cf.lock()
        .unwrap()
        .answers
        .push(serde_json::from_str(&body).unwrap());
    ""
}

/// Where a custom resource answers CloudFormation (a pre-signed S3 URL on
/// AWS): the answers it took, and the URL.
pub(crate) async fn custom_resource_responses() -> (Arc<Mutex<CloudFormation>>, String) {
    let cf: Arc<Mutex<CloudFormation>> = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let response_url = format!(
        "http://{}/cfn-response?X-Amz-Signature=abc",
        listener.local_addr().unwrap()
    );
    let app = Router::new()
        .route("/cfn-response", axum::routing::put(answer))
        .with_state(cf.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (cf, response_url)
}

pub(crate) fn custom_resource_event(kind: &str, response_url: &str) -> Json {
    json!({
        "RequestType": kind,
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/todo-dev-app/1",
        "RequestId": format!("req-{kind}"),
        "ResourceType": "AWS::CloudFormation::CustomResource",
        "LogicalResourceId": "Migrate",
        "PhysicalResourceId": "stackwright-migration",
        "ResourceProperties": { "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:migrate", "DeployId": "d1" }
    })
}

/// The migration custom resource: Create and Update migrate and seed,
/// Delete keeps the data, a destructive change fails with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrates_once_per_deploy_as_a_custom_resource() {
    let (cf, response_url) = custom_resource_responses().await;

    let temp = tempfile::TempDir::new().unwrap();
    let db = temp.path().join("migrate.db");
    let url = format!("sqlite://{}", db.display());
    let env = |stack: String| {
        vec![
            ("STACKWRIGHT_STACK", stack),
            ("STACKWRIGHT_DATABASE_URL", url.clone()),
            ("STACKWRIGHT_MODE", "migrate".to_string()),
        ]
    };
    let results = invoke(
        &env(example("todo").display().to_string()),
        vec![
            ("c".into(), custom_resource_event("Create", &response_url)),
            ("u".into(), custom_resource_event("Update", &response_url)),
            ("d".into(), custom_resource_event("Delete", &response_url)),
        ],
    )
    .await;
    assert!(
        results.iter().all(|(_, kind, _)| kind == "response"),
        "{results:?}"
    );
    let answers = std::mem::take(&mut cf.lock().unwrap().answers);
    assert_eq!(answers.len(), 3);
    assert_eq!(answers[0]["Status"], "SUCCESS", "{}", answers[0]);
    assert!(
        answers[0]["Reason"]
            .as_str()
            .unwrap()
            .contains("applied migration 1; 3 seed row(s) inserted"),
        "{}",
        answers[0]
    );
    assert_eq!(answers[0]["RequestId"], "req-Create");
    assert_eq!(answers[0]["LogicalResourceId"], "Migrate");
    assert_eq!(answers[1]["Status"], "SUCCESS");
    assert!(
        answers[1]["Reason"]
            .as_str()
            .unwrap()
            .contains("schema up to date; 0 seed row(s)"),
        "{}",
        answers[1]
    );
    assert_eq!(answers[2]["Status"], "SUCCESS");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let tasks: i64 = conn
        .query_row("SELECT count(*) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(tasks, 3, "Delete keeps the data");

    // A deploy that would drop a column fails, naming the change; nothing changes.
    let changed = crate::harness::TempStack::copy_of("todo", |t| {
        t.replace("priority = { type = \"integer\", default = 0 }\n", "")
            .replace("priority = \"priority\", ", "")
            .replace(
                "\"id\", \"priority\", \"title\", \"complete\"",
                "\"id\", \"title\", \"complete\"",
            )
    });
    changed.write(
        "seed/tasks.json",
        r#"[{"title": "1st Task", "completed": false}, {"title": "2nd Task", "completed": false}, {"title": "3rd Task", "completed": false}]"#,
    );
    let results = invoke(
        &env(changed.path().display().to_string()),
        vec![("u2".into(), custom_resource_event("Update", &response_url))],
    )
    .await;
    assert_eq!(results[0].1, "response");
    let answers = std::mem::take(&mut cf.lock().unwrap().answers);
    assert_eq!(answers[0]["Status"], "FAILED");
    let reason = answers[0]["Reason"].as_str().unwrap();
    assert!(reason.contains("drop column `tasks.priority`"), "{reason}");
    let still: i64 = conn
        .query_row("SELECT count(priority) FROM tasks", [], |r| r.get(0))
        .unwrap();
    assert_eq!(still, 3);

    // A stack that does not even validate still gets an answer: FAILED, with the place.
    let broken = crate::harness::TempStack::copy_of("todo", |t| {
        t.replace("[tables.tasks.columns]", "[tables.tasks.colums]")
    });
    let results = invoke(
        &env(broken.path().display().to_string()),
        vec![("u3".into(), custom_resource_event("Update", &response_url))],
    )
    .await;
    assert_eq!(results[0].1, "response");
    let answers = std::mem::take(&mut cf.lock().unwrap().answers);
    assert_eq!(answers[0]["Status"], "FAILED");
    let reason = answers[0]["Reason"].as_str().unwrap();
    assert!(
        reason.contains("stackwright.toml:") && reason.contains("colums"),
        "{reason}"
    );

    // So does a database the function cannot even name.
    let results = invoke(
        &[
            ("STACKWRIGHT_STACK", example("todo").display().to_string()),
            ("STACKWRIGHT_DATABASE_URL", "ftp://nowhere".to_string()),
            ("STACKWRIGHT_MODE", "migrate".to_string()),
        ],
        vec![("u4".into(), custom_resource_event("Update", &response_url))],
    )
    .await;
    assert_eq!(results[0].1, "response");
    let answers = std::mem::take(&mut cf.lock().unwrap().answers);
    assert_eq!(answers[0]["Status"], "FAILED");
    assert!(
        answers[0]["Reason"]
            .as_str()
            .unwrap()
            .contains("not a database URL"),
        "{}",
        answers[0]
    );
}

/// On AWS the migration also makes the runtime's database user, from the
/// secret the templates generate for it: rows only, no schema changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_migration_makes_the_runtime_user_from_its_secret() {
    let (cf, response_url) = custom_resource_responses().await;

    let db = TestDatabase::create(TestEngine::Postgres).await;
    let user = format!("app_{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let endpoint = crate::harness::ensure_moto().await;
    let secrets = aws_sdk_secretsmanager::Client::from_conf(
        aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .endpoint_url(&endpoint)
            .credentials_provider(aws_credential_types::Credentials::new(
                "test", "test", None, None, "test",
            ))
            .build(),
    );
    let secret = secrets
        .create_secret()
        .name(format!("{}/database-app", db.name))
        .secret_string(format!(
            r#"{{"username":"{user}","password":"Generated-1"}}"#
        ))
        .send()
        .await
        .unwrap();
    let env = [
        ("STACKWRIGHT_STACK", example("todo").display().to_string()),
        ("STACKWRIGHT_DATABASE_URL", db.raw_url.clone()),
        ("STACKWRIGHT_MODE", "migrate".to_string()),
        (
            "STACKWRIGHT_APP_DATABASE_SECRET_ARN",
            secret.arn().unwrap().to_string(),
        ),
        ("AWS_ENDPOINT_URL", endpoint.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
        ("AWS_ACCESS_KEY_ID", "test".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
    ];
    let results = invoke(
        &env,
        vec![("c".into(), custom_resource_event("Create", &response_url))],
    )
    .await;
    assert_eq!(results[0].1, "response");
    let answers = std::mem::take(&mut cf.lock().unwrap().answers);
    assert_eq!(answers[0]["Status"], "SUCCESS", "{}", answers[0]);
    assert!(!answers[0].to_string().contains("Generated-1"));
    let can = |privilege: &str| {
        format!("SELECT has_table_privilege('{user}', 'tasks', '{privilege}')::text")
    };
    assert_eq!(db.text(&can("INSERT")).await.as_deref(), Some("true"));
    assert_eq!(db.text(&can("DELETE")).await.as_deref(), Some("true"));
    assert_eq!(db.text(&can("TRUNCATE")).await.as_deref(), Some("false"));
    let create = format!("SELECT has_schema_privilege('{user}', 'public', 'CREATE')::text");
    assert_eq!(db.text(&create).await.as_deref(), Some("false"));
    let stored = format!("SELECT rolpassword FROM pg_authid WHERE rolname = '{user}'");
    assert!(db
        .text(&stored)
        .await
        .unwrap()
        .starts_with("SCRAM-SHA-256$"));
    db.exec(&format!("DROP OWNED BY \"{user}\"")).await;
    db.exec(&format!("DROP ROLE \"{user}\"")).await;
}
