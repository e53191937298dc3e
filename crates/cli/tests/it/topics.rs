//! Topics and subscriptions, locally: publish over HTTP and from the
//! command line, at-least-once delivery applied exactly once, retries and
//! dead letters, re-drive; and a crash (kill -9) in the middle of ingesting
//! 100,000 messages, after which every message is in the table exactly once.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::harness::{stackwright, text, Served, TempStack, TestApp, TestDatabase, TestEngine};

/// Items inserted by id: a message repeating an id (under a new message
/// id) is a poison message that no retry can apply while the row is there.
const ITEMS: &str = r#"
name = "items"

[tables.items]
key = "id"
[tables.items.columns]
id = { type = "integer" }
name = { type = "string", max_length = 20 }

[topics.items]
fields = { id = { type = "integer" }, name = { type = "string", max_length = 20 } }

[users]

[topics.private]
auth = "user"
fields = { id = { type = "integer" } }

[[subscriptions]]
topic = "items"
table = "items"
max_attempts = 2
backoff_seconds = 0

[[routes]]
method = "GET"
path = "/items/{id}"
op = "get"
table = "items"

[[routes]]
method = "DELETE"
path = "/items/{id}"
op = "delete"
table = "items"
"#;

/// Polls `probe` until it is true or 20 s have passed.
pub(crate) async fn eventually<F, Fut>(what: &str, mut probe: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if probe().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{what}: not within 20 s");
}

fn dlq(stack: &TempStack, db: &TestDatabase, args: &[&str]) -> Json {
    let dir = stack.path().to_str().unwrap();
    let mut all = vec!["dlq"];
    all.extend_from_slice(args);
    all.extend([dir, "--database-url", &db.raw_url, "--json"]);
    let out = stackwright(&all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn published_messages_are_applied_once_and_poison_reaches_the_dead_letters(
    engine: TestEngine,
) {
    let stack = TempStack::new(ITEMS);
    let app = TestApp::spawn_on(engine, stack.path()).await;

    // A batch, then one message twice under the same Idempotency-Key.
    let batch = app
        .post(
            "/topics/items",
            r#"[{"id": 1, "name": "one"}, {"id": 2, "name": "two"}]"#,
        )
        .await;
    assert_eq!(batch.status, 202, "{:?}", batch.body);
    assert_eq!(batch.body["accepted"], 2);
    let keyed = |body: &'static str| {
        app.client
            .post(format!("{}/topics/items", app.url))
            .header("Idempotency-Key", "item-3")
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let first: Json = keyed(r#"{"id": 3, "name": "three"}"#)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        first,
        json!({"ids": ["item-3"], "accepted": 1, "duplicates": 0})
    );
    let app = &app;
    for id in [1, 2, 3] {
        eventually(&format!("item {id} applied"), || async move {
            app.get(&format!("/items/{id}")).await.status == 200
        })
        .await;
    }
    // Once applied, the same id is still a duplicate, not a second row.
    let again: Json = keyed(r#"{"id": 33, "name": "thirty-three"}"#)
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["duplicates"], 1, "{again}");

    // A batch under a key: each message's id comes from the key and its
    // place, so the batch sent again is all duplicates.
    let keyed_batch = || {
        app.client
            .post(format!("{}/topics/items", app.url))
            .header("Idempotency-Key", "batch-7")
            .header("content-type", "application/json")
            .body(r#"[{"id": 71, "name": "a"}, {"id": 72, "name": "b"}]"#)
            .send()
    };
    let first: Json = keyed_batch().await.unwrap().json().await.unwrap();
    assert_eq!(
        (&first["accepted"], &first["duplicates"]),
        (&json!(2), &json!(0)),
        "{first}"
    );
    let ids = first["ids"].as_array().unwrap();
    assert_ne!(ids[0], ids[1]);
    for id in [71, 72] {
        eventually(&format!("item {id} applied"), || async move {
            app.get(&format!("/items/{id}")).await.status == 200
        })
        .await;
    }
    let second: Json = keyed_batch().await.unwrap().json().await.unwrap();
    assert_eq!(
        (&second["duplicates"], &second["ids"]),
        (&json!(2), &first["ids"]),
        "{second}"
    );

    // Invalid messages are refused whole, with a 400 naming the problem.
    let bad = app
        .post(
            "/topics/items",
            r#"[{"id": 4, "name": "four"}, {"id": "x"}]"#,
        )
        .await;
    bad.assert_error(400, "bad_request");
    assert!(
        bad.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message 1"),
        "{:?}",
        bad.body
    );
    app.post("/topics/items", r#"{"id": 5, "name": "five", "extra": 1}"#)
        .await
        .assert_error(400, "bad_request");
    app.post("/topics/items", "not json")
        .await
        .assert_error(400, "bad_request");
    app.post("/topics/private", r#"{"id": 1}"#)
        .await
        .assert_error(401, "unauthorized");
    app.post("/topics/nope", r#"{"id": 1}"#)
        .await
        .assert_error(404, "not_found");

    // A message that can never apply (its id is taken) is retried, then dead.
    let poison = app
        .post("/topics/items", r#"{"id": 1, "name": "again"}"#)
        .await;
    assert_eq!(poison.status, 202);
    let poison_id = poison.body["ids"][0].as_str().unwrap().to_string();
    let db = app.db();
    eventually("the poison message is dead", || async {
        dlq(&stack, db, &["list"])["dead_letters"]
            .as_array()
            .is_some_and(|d| d.len() == 1)
    })
    .await;
    let listed = dlq(&stack, db, &["list"]);
    let dead = &listed["dead_letters"][0];
    assert_eq!(dead["id"], poison_id.as_str());
    assert_eq!(dead["subscription"], "items-items");
    assert_eq!(dead["attempts"], 2);
    assert_eq!(dead["message"], json!({"id": 1, "name": "again"}));
    assert!(
        dead["error"].as_str().unwrap().contains("already exists"),
        "{dead}"
    );
    assert_eq!(listed["queued"]["items-items"], 0);
    assert_eq!(app.get("/items/1").await.body["name"], "one");

    // Once the conflict is gone, a re-drive applies it.
    assert_eq!(app.delete("/items/1").await.status, 204);
    let redriven = dlq(&stack, db, &["redrive", "--id", &poison_id]);
    assert_eq!(redriven["redriven"], 1);
    eventually("the re-driven message is applied", || async {
        app.get("/items/1").await.body["name"] == "again"
    })
    .await;
    assert_eq!(dlq(&stack, db, &["list"])["dead_letters"], json!([]));
    // Items 1, 2 and 3, and the keyed batch's two.
    assert_eq!(db.count_rows("items").await, 5);
}

/// Every engine that queues locally (Redshift's messages come from SQS).
mod delivery {
    use crate::harness::TestEngine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::published_messages_are_applied_once_and_poison_reaches_the_dead_letters(
            TestEngine::Sqlite,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::published_messages_are_applied_once_and_poison_reaches_the_dead_letters(
            TestEngine::Postgres,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mariadb() {
        super::published_messages_are_applied_once_and_poison_reaches_the_dead_letters(
            TestEngine::Mariadb,
        )
        .await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamodb() {
        super::published_messages_are_applied_once_and_poison_reaches_the_dead_letters(
            TestEngine::Dynamodb,
        )
        .await
    }
}

/// Applied ids are remembered for 30 days (duplicates are refused), then
/// forgotten, so `_stackwright_applied` does not grow forever: a record
/// aged past the retention is gone after a start, and its id is new again.
async fn applied_ids_are_forgotten_after_the_retention(engine: TestEngine) {
    let stack = TempStack::new(ITEMS);
    let app = TestApp::spawn_on(engine, stack.path()).await;
    let publish = |app: &TestApp, key: &'static str, id: i64| {
        let request = app
            .client
            .post(format!("{}/topics/items", app.url))
            .header("Idempotency-Key", key)
            .header("content-type", "application/json")
            .body(json!({ "id": id, "name": format!("n{id}") }).to_string());
        async move { request.send().await.unwrap().json::<Json>().await.unwrap() }
    };
    assert_eq!(publish(&app, "old", 1).await["accepted"], 1);
    assert_eq!(publish(&app, "new", 2).await["accepted"], 1);
    let app_ref = &app;
    eventually("both applied", || async move {
        app_ref.get("/items/1").await.status == 200 && app_ref.get("/items/2").await.status == 200
    })
    .await;
    assert_eq!(publish(&app, "old", 3).await["duplicates"], 1);

    // As if "old" had been applied 31 days ago.
    let day_ms: i64 = 24 * 60 * 60 * 1000;
    let aged = stackwright_storage::queue::now_ms() - 31 * day_ms;
    app.db().age_applied("items-items", "old", aged).await;
    let app = app.restart().await;
    let app = &app;
    eventually("the aged id forgotten at start", || async move {
        app.db().applied_ids().await == ["new"]
    })
    .await;
    // "old" is a new message again; "new" is still remembered.
    assert_eq!(publish(app, "old", 4).await["accepted"], 1);
    assert_eq!(publish(app, "new", 5).await["duplicates"], 1);
    eventually("the republished message applied", || async move {
        app.get("/items/4").await.status == 200
    })
    .await;
}

mod forgetting {
    use crate::harness::TestEngine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::applied_ids_are_forgotten_after_the_retention(TestEngine::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::applied_ids_are_forgotten_after_the_retention(TestEngine::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mariadb() {
        super::applied_ids_are_forgotten_after_the_retention(TestEngine::Mariadb).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamodb() {
        super::applied_ids_are_forgotten_after_the_retention(TestEngine::Dynamodb).await
    }
}

/// `stackwright publish`: every message is checked before any is stored;
/// an invalid file publishes nothing and says where the problem is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_checks_every_message_first_and_names_the_line() {
    let stack = TempStack::new(ITEMS);
    let dir = stack.path().to_str().unwrap();
    stack.write(
        "bad.ndjson",
        "{\"id\": 1, \"name\": \"a\"}\n\n{\"id\": 2, \"name\": 7}\n",
    );
    let out = stackwright(&[
        "publish",
        dir,
        "items",
        "--json",
        &format!("{dir}/bad.ndjson"),
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("bad.ndjson:3")
            && err.contains("field `name`")
            && err.contains("nothing was published"),
        "{err}"
    );
    let out = stackwright(&["dlq", "list", dir, "--json"]);
    let listed: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["queued"]["items-items"], 0, "nothing stored");

    stack.write(
        "good.json",
        r#"[{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]"#,
    );
    let out = stackwright(&[
        "publish",
        dir,
        "items",
        "--json",
        &format!("{dir}/good.json"),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["accepted"], 2);
    let out = stackwright(&["dlq", "list", dir, "--json"]);
    let listed: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        listed["queued"]["items-items"], 2,
        "stored until `up` delivers"
    );

    let out = stackwright(&[
        "publish",
        dir,
        "nope",
        "--json",
        &format!("{dir}/good.json"),
    ]);
    assert!(!out.status.success() && text(&out.stderr).contains("no topic `nope`"));
}

/// Every message applied exactly once across a kill -9: the table's key is
/// generated, so a message applied twice would be a second row.
const LEDGER: &str = r#"
name = "ledger"

[tables.entries]
key = "seq"
[tables.entries.columns]
seq = { type = "bigint", generated = true }
n = { type = "integer" }

[topics.entries]
fields = { n = { type = "integer" } }

[[subscriptions]]
topic = "entries"
table = "entries"
"#;

const MESSAGES: i64 = 100_000;

fn up(dir: &str, url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(["up", dir, "--port", "0", "--database-url", url])
        .env("STACKWRIGHT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("stackwright up starts")
}

async fn every_message_is_applied_once_across_a_kill(engine: TestEngine) {
    // The emulator serves one request at a time: fewer messages there.
    let (total, kill_after) = match engine {
        TestEngine::Dynamodb => (400, 80),
        _ => (MESSAGES, 2_000),
    };
    let stack = TempStack::new(LEDGER);
    let dir = stack.path().to_str().unwrap().to_string();
    let db = TestDatabase::create(engine).await;
    let lines: String = (1..=total).map(|n| format!("{{\"n\": {n}}}\n")).collect();
    stack.write("messages.ndjson", &lines);
    let out = stackwright(&[
        "publish",
        &dir,
        "entries",
        "--json",
        &format!("{dir}/messages.ndjson"),
        "--database-url",
        &db.raw_url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["accepted"], total);

    // Kill the runtime while it is applying them.
    let mut first = up(&dir, &db.raw_url);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut applied_before_kill = 0;
    while Instant::now() < deadline {
        applied_before_kill = db.count_rows("entries").await;
        if applied_before_kill >= kill_after {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().expect("SIGKILL");
    first.wait().unwrap();
    assert!(
        (kill_after..total).contains(&applied_before_kill),
        "killed midway: {applied_before_kill} applied"
    );

    // A new runtime finishes the rest.
    let mut second = up(&dir, &db.raw_url);
    let deadline = Instant::now() + Duration::from_secs(300);
    while Instant::now() < deadline {
        if queued(&stack, &db) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    second.kill().unwrap();
    second.wait().unwrap();
    // Counted once nothing runs: a batch commits its rows and its removal
    // from the queue together, so counting both while it runs can race.
    let applied = db.count_rows("entries").await;
    assert_eq!(applied, total, "every message applied");
    // Nothing waits or died: with as many rows as messages, none was
    // applied twice (each has its applied record), and none lost.
    assert_eq!(queued(&stack, &db), 0);
    assert_eq!(dlq(&stack, &db, &["list"])["dead_letters"], json!([]));
    if engine != TestEngine::Dynamodb {
        assert_eq!(
            db.count("SELECT COUNT(DISTINCT n) FROM entries").await,
            total,
            "none twice"
        );
        assert_eq!(db.count("SELECT MIN(n) FROM entries").await, 1);
        assert_eq!(db.count("SELECT MAX(n) FROM entries").await, total);
    }
}

/// Messages of the ledger's subscription waiting, as `dlq list` counts them.
fn queued(stack: &TempStack, db: &TestDatabase) -> i64 {
    dlq(stack, db, &["list"])["queued"]["entries-entries"]
        .as_i64()
        .unwrap()
}

mod crash {
    use crate::harness::TestEngine;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::every_message_is_applied_once_across_a_kill(TestEngine::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::every_message_is_applied_once_across_a_kill(TestEngine::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn dynamodb() {
        super::every_message_is_applied_once_across_a_kill(TestEngine::Dynamodb).await
    }
}

/// On AWS: SNS -> SQS -> the runtime -> the database, against moto. The
/// runtime (`up` with the environment the templates set) publishes HTTP
/// messages to SNS and consumes the subscription's queue; a redelivered
/// message is not applied twice; a poison message reaches the queue's
/// dead-letter queue after `max_attempts` receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_flow_through_sns_and_sqs_against_moto() {
    use aws_sdk_sns::types::MessageAttributeValue;

    let endpoint = crate::harness::ensure_moto().await;
    let region = "eu-west-2";
    let creds = aws_credential_types::Credentials::new("test", "test", None, None, "test");
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region))
        .endpoint_url(&endpoint)
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(creds))
        .build();
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = format!("items{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);

    // What the app template creates: topic, queue with a dead-letter queue, subscription.
    let topic = sns
        .create_topic()
        .name(format!("{name}-items"))
        .send()
        .await
        .unwrap();
    let topic_arn = topic.topic_arn().unwrap().to_string();
    let dlq_url = sqs
        .create_queue()
        .queue_name(format!("{name}-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    let dlq_arn = format!("arn:aws:sqs:{region}:123456789012:{name}-dlq");
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{name}-queue"))
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
            json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string(),
        )
        .send()
        .await
        .unwrap()
        .queue_url()
        .unwrap()
        .to_string();
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(format!("arn:aws:sqs:{region}:123456789012:{name}-queue"))
        .send()
        .await
        .unwrap();

    let stack = TempStack::new(ITEMS);
    let db = TestDatabase::create(TestEngine::Sqlite).await;
    let topics = format!("items={topic_arn},private={topic_arn}");
    let queues = format!("items-items={queue_url}");
    let runtime = Served::start(
        stack.path(),
        &db.raw_url,
        &[
            ("AWS_ENDPOINT_URL", &endpoint),
            ("AWS_REGION", region),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
            ("STACKWRIGHT_TOPIC_ARNS", &topics),
            ("STACKWRIGHT_SUBSCRIPTION_QUEUES", &queues),
            // moto serves one request at a time: a 20 s long poll would stall it.
            ("STACKWRIGHT_SQS_WAIT_SECONDS", "1"),
        ],
    );
    let port = runtime.port;
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let get = |id: i64| {
        let client = client.clone();
        let url = format!("{base}/items/{id}");
        async move {
            client
                .get(url)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0)
        }
    };

    // Published over HTTP: through SNS and SQS into the table.
    let mut published = None;
    for _ in 0..100 {
        if let Ok(r) = client
            .post(format!("{base}/topics/items"))
            .header("content-type", "application/json")
            .body(r#"{"id": 1, "name": "one"}"#)
            .send()
            .await
        {
            published = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(published, Some(202));
    eventually("the HTTP message is applied", || async {
        get(1).await == 200
    })
    .await;

    // The same message delivered twice (SQS is at-least-once): applied once.
    for name in ["two", "deux"] {
        sns.publish()
            .topic_arn(&topic_arn)
            .message(json!({"id": 2, "name": name}).to_string())
            .message_attributes(
                "stackwright-id",
                MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("same-message")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }
    // A poison message: its id is taken, so no attempt can apply it.
    sns.publish()
        .topic_arn(&topic_arn)
        .message(json!({"id": 1, "name": "again"}).to_string())
        .send()
        .await
        .unwrap();
    eventually(
        "the poison message reaches the dead-letter queue",
        || async { queue_depth(&sqs, &dlq_url).await.0 == 1 },
    )
    .await;
    eventually("the queue is drained", || async {
        queue_depth(&sqs, &queue_url).await == (0, 0)
    })
    .await;
    drop(runtime);

    assert_eq!(
        db.count("SELECT COUNT(*) FROM items").await,
        2,
        "items 1 and 2"
    );
    assert_eq!(
        db.text("SELECT name FROM items WHERE id = 2")
            .await
            .as_deref(),
        Some("two"),
        "the redelivery was not applied"
    );
    assert_eq!(
        db.count("SELECT COUNT(*) FROM _stackwright_applied").await,
        2,
        "one record per applied message"
    );
}

/// Messages in a queue: (visible, in flight).
async fn queue_depth(sqs: &aws_sdk_sqs::Client, url: &str) -> (u64, u64) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let attrs = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::All)
        .send()
        .await
        .unwrap();
    let n = |k: A| {
        attrs
            .attributes()
            .and_then(|a| a.get(&k))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        n(A::ApproximateNumberOfMessages),
        n(A::ApproximateNumberOfMessagesNotVisible),
    )
}
