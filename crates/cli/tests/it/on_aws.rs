//! A deployed environment's runtime, started as AWS starts it and pointed
//! at the emulated services: the part of each seed's lifecycle
//! (lifecycle.rs) between deploy and destroy.
//!
//! What the runtime runs is read back from the deployed resources
//! (tools/moto_runtime.py): the functions' environments, the containers'
//! commands and environments, the instances' unit and environment file.
//! The test changes only what must point here instead of at AWS:
//! - the stack's folder (its copy here, not the package's path);
//! - the database's address: the machine's server, under a database and a
//!   runtime user of this test's own, or moto's DynamoDB, whose tables the
//!   data layer made;
//! - the database secrets: moto ignores AWS::SecretsManager::Secret in
//!   templates, so they are made here holding what the stack's would;
//! - the origin secret and, on Lambda, the cursor secret: dynamic
//!   references CloudFormation resolves and moto does not; on Fargate and
//!   EC2 the runtime reads the cursor secret, made here as the database's;
//! - the port, and the AWS endpoint (moto).
//!
//! CloudFormation's part (invoking the migration's custom resource, which
//! moto ignores) and Lambda's (invoking the functions; polling a queue for
//! an event source mapping, then deleting what the function did not report
//! failed) are played by the test, through the Lambda Runtime API
//! (lambda.rs). Messages go through moto's SNS and SQS: the topic and the
//! subscription are the template's (tools/moto_topics.py). moto's own
//! event source mapping would run the function in Docker, which is not
//! here: its attempt fails and makes the message visible again (one
//! receive counted), and the test's polling applies it.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Map, Value as Json};
use stackwright_stack::env;

use crate::cloud_harness::Moto;
use crate::harness::{TestDatabase, TestEngine};
use crate::lambda::{custom_resource_event, custom_resource_responses, http_event, invoke};

/// The value the test gives the origin secret, and sends as CloudFront does.
const ORIGIN_SECRET: &str = "origin-secret-for-this-test";
/// The value the test gives the cursor secret.
const CURSOR_KEY: &str = "cursor-secret-for-this-test";

/// A database user and its secret in moto's Secrets Manager.
struct Secret {
    arn: String,
    name: String,
    user: String,
    password: String,
}

pub(crate) struct AsOnAws<'m> {
    moto: &'m Moto,
    deployed: Json,
    prefix: String,
    dir: String,
    db: Option<TestDatabase>,
    /// The master user's (the migration's) and the runtime's own.
    master: Option<Secret>,
    app: Option<Secret>,
    /// The secret list cursors are sealed with, by name.
    cursor_secret: String,
    /// Fargate and EC2: the runtime serving on a port of its own.
    server: Option<(Child, u16)>,
}

/// `scheme://user@host:port/db?query` in parts.
fn url_parts(url: &str) -> (&str, &str, &str, &str) {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (user, rest) = rest.split_once('@').expect("a user");
    let (address, query) = rest.split_once('?').unwrap_or((rest, ""));
    (scheme, user, address, query)
}

impl<'m> AsOnAws<'m> {
    /// Read what the environment `prefix` runs; with a server `engine`,
    /// make its database and secrets here. Then migrate, as the
    /// migration's custom resource does on every deploy.
    pub(crate) async fn start(
        moto: &'m Moto,
        prefix: &str,
        dir: &str,
        engine: Option<TestEngine>,
    ) -> AsOnAws<'m> {
        let deployed: Json =
            serde_json::from_str(&moto.python("moto_runtime.py", &[prefix])).unwrap();
        let mut on = AsOnAws {
            moto,
            deployed,
            prefix: prefix.to_string(),
            dir: dir.to_string(),
            db: None,
            master: None,
            app: None,
            cursor_secret: format!("seed-test/{}/cursor", uuid::Uuid::new_v4().simple()),
            server: None,
        };
        moto.python(
            "moto_secret.py",
            &["create-json", &on.cursor_secret, CURSOR_KEY],
        );
        if let Some(engine) = engine {
            let db = TestDatabase::create(engine).await;
            let tag = &db.name[3..];
            let (_, admin, _, _) = url_parts(&db.raw_url);
            // The master user as RDS makes it: PostgreSQL's administrator
            // (it trusts loopback, so any password does); on MariaDB, whose
            // root has no password here, a user of this test's own.
            let master = if engine == TestEngine::Mariadb {
                let master = format!("master_{tag}");
                for sql in [
                    format!("CREATE USER '{master}'@'%' IDENTIFIED BY 'Master-Pass/1'"),
                    format!("GRANT ALL PRIVILEGES ON *.* TO '{master}'@'%' WITH GRANT OPTION"),
                ] {
                    db.exec(&sql).await;
                }
                master
            } else {
                admin.to_string()
            };
            on.master = Some(on.secret(tag, "database", &master, "Master-Pass/1"));
            on.app = Some(on.secret(tag, "database-app", &format!("app_{tag}"), "App-Pass/2"));
            on.db = Some(db);
        }
        on.migrate().await;
        on
    }

    fn secret(&self, tag: &str, what: &str, user: &str, password: &str) -> Secret {
        // Not under the environment's prefix: destroy must not be asked to
        // remove what the test made.
        let name = format!("seed-test/{tag}/{what}");
        let value = json!({ "username": user, "password": password }).to_string();
        let arn = self
            .moto
            .python("moto_secret.py", &["create-json", &name, &value]);
        Secret {
            arn: arn.trim().to_string(),
            name,
            user: user.to_string(),
            password: password.to_string(),
        }
    }

    fn function_env(&self, logical: &str) -> &Map<String, Json> {
        self.deployed["functions"][logical]["environment"]
            .as_object()
            .unwrap_or_else(|| panic!("no function {logical}: {}", self.deployed))
    }

    /// The deployed environment `deployed`, pointed here (see the module's
    /// comment for each change).
    fn localize(&self, deployed: &Map<String, Json>) -> Vec<(String, String)> {
        let migration_url = self.function_env("MigrateFunction")[env::DATABASE_URL]
            .as_str()
            .unwrap()
            .to_string();
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in deployed {
            let v = v.as_str().unwrap_or_default().to_string();
            let local = match k.as_str() {
                env::STACK => self.dir.clone(),
                env::DATABASE_URL => self.database_url(&v, &migration_url),
                env::DATABASE_SECRET_ARN => {
                    // The master user's secret where the URL names that user.
                    let url = deployed[env::DATABASE_URL].as_str().unwrap();
                    let master = url_parts(url).1 == url_parts(&migration_url).1;
                    let secret = if master { &self.master } else { &self.app };
                    secret.as_ref().expect("a server database").arn.clone()
                }
                env::APP_DATABASE_SECRET_ARN => self.app.as_ref().unwrap().arn.clone(),
                env::ORIGIN_SECRET => ORIGIN_SECRET.to_string(),
                env::CURSOR_KEY => CURSOR_KEY.to_string(),
                env::CURSOR_SECRET => self.cursor_secret.clone(),
                _ => v,
            };
            out.push((k.clone(), local));
        }
        out.extend(
            [
                ("AWS_ENDPOINT_URL", self.moto.endpoint.as_str()),
                ("AWS_REGION", self.moto.region),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_EC2_METADATA_DISABLED", "true"),
                // moto serves one request at a time: a 20 s long poll would stall it.
                (env::SQS_WAIT_SECONDS, "1"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        out
    }

    /// The deployed URL's scheme and options on this test's database; its
    /// user is the master user (the migration's) or the runtime's own.
    fn database_url(&self, deployed: &str, migration_url: &str) -> String {
        let Some(db) = &self.db else {
            // DynamoDB: region and table prefix as deployed; the endpoint
            // is AWS_ENDPOINT_URL's (moto), as the SDK reads it.
            return deployed.to_string();
        };
        let (scheme, user, _, query) = url_parts(deployed);
        let (_, _, address, _) = url_parts(&db.raw_url);
        let user = if user == url_parts(migration_url).1 {
            &self.master.as_ref().unwrap().user
        } else {
            &self.app.as_ref().unwrap().user
        };
        // MariaDB here has no TLS: `ssl-mode=required` could not connect.
        let query = if db.engine == TestEngine::Mariadb {
            String::new()
        } else {
            format!("?{query}")
        };
        format!("{scheme}://{user}@{address}{query}")
    }

    /// One event to the deployed function `logical`, run with its
    /// environment pointed here; what it answered (request id, kind, body).
    async fn invoke(&self, logical: &str, event: Json) -> Vec<(String, String, Json)> {
        let env = self.localize(self.function_env(logical));
        let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        invoke(&env, vec![("e".into(), event)]).await
    }

    async fn migrate(&self) {
        let (cf, response_url) = custom_resource_responses().await;
        let results = self
            .invoke(
                "MigrateFunction",
                custom_resource_event("Create", &response_url),
            )
            .await;
        assert_eq!(results[0].1, "response", "{results:?}");
        let answers = std::mem::take(&mut cf.lock().unwrap().answers);
        assert_eq!(answers[0]["Status"], "SUCCESS", "{}", answers[0]);
        let said = answers[0].to_string();
        for secret in [&self.master, &self.app].into_iter().flatten() {
            assert!(!said.contains(&secret.password), "{said}");
        }
    }

    /// Fargate's container or EC2's unit: the deployed command line, on a
    /// free port here, until dropped.
    pub(crate) fn serve(&mut self) {
        let (command, environment) = match self.deployed.get("instances") {
            Some(instances) => (&instances["command"], &instances["environment"]),
            None => {
                let runtime = self.deployed["containers"]
                    .as_object()
                    .unwrap()
                    .values()
                    .find(|c| c["command"][0] == "up")
                    .unwrap_or_else(|| panic!("no runtime container: {}", self.deployed));
                assert_eq!(
                    runtime["secrets"],
                    json!({}),
                    "no secret for a DynamoDB stack"
                );
                (&runtime["command"], &runtime["environment"])
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // `up STACK_DIR --host 0.0.0.0`: this copy of the stack, on loopback.
        let args: Vec<String> = command
            .as_array()
            .unwrap()
            .iter()
            .map(|a| match a.as_str().unwrap() {
                "0.0.0.0" => "127.0.0.1".to_string(),
                a if a.starts_with("/opt/stackwright/") => self.dir.clone(),
                a => a.to_string(),
            })
            .collect();
        let mut env = self.localize(environment.as_object().unwrap());
        env.retain(|(k, _)| k != env::PORT);
        env.push((env::PORT.into(), port.to_string()));
        let child = Command::new(env!("CARGO_BIN_EXE_stackwright"))
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap())
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        self.server = Some((child, port));
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the runtime did not listen on {port}");
    }

    /// GET `path` (`?query` allowed) through the runtime: over HTTP where
    /// it serves, else as an HTTP API event from CloudFront (with the
    /// origin secret).
    pub(crate) async fn get(&self, path: &str) -> (u16, Json) {
        if self.server.is_some() {
            let (status, body, _) = self.get_page(path).await;
            return (status, body);
        }
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        let mut event = http_event("GET", path, query, None, false);
        event["headers"][stackwright_stack::ORIGIN_HEADER] = json!(ORIGIN_SECRET);
        let results = self.invoke("ApiFunction", event).await;
        let reply = &results[0].2;
        let body = reply["body"]
            .as_str()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(Json::Null);
        (reply["statusCode"].as_u64().unwrap() as u16, body)
    }

    /// GET a list page over HTTP (Fargate, EC2): status, body and the
    /// cursor of the next page.
    pub(crate) async fn get_page(&self, path: &str) -> (u16, Json, Option<String>) {
        let (_, port) = self.server.as_ref().expect("a runtime serving on a port");
        let reply = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .unwrap();
        let status = reply.status().as_u16();
        let next = reply
            .headers()
            .get("x-next-cursor")
            .map(|c| c.to_str().unwrap().to_string());
        (status, reply.json().await.unwrap_or(Json::Null), next)
    }

    fn sdk_config(&self) -> aws_config::SdkConfig {
        let creds = aws_credential_types::Credentials::new("test", "test", None, None, "test");
        aws_config::SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(self.moto.region))
            .endpoint_url(&self.moto.endpoint)
            .credentials_provider(
                aws_credential_types::provider::SharedCredentialsProvider::new(creds),
            )
            .build()
    }

    /// Publish `message` to the deployed topic whose ARN is the output
    /// `output`, as another system of the team's would: straight to SNS.
    pub(crate) async fn publish(&self, outputs: &Json, output: &str, message: &Json) {
        let topic = outputs[output]
            .as_str()
            .unwrap_or_else(|| panic!("no output {output}: {outputs}"));
        aws_sdk_sns::Client::new(&self.sdk_config())
            .publish()
            .topic_arn(topic)
            .message(message.to_string())
            .send()
            .await
            .unwrap();
    }

    /// The `mysfitId`s of a DynamoDB table's items, as moto holds them.
    pub(crate) async fn items(&self, table: &str) -> Vec<String> {
        let scan = aws_sdk_dynamodb::Client::new(&self.sdk_config())
            .scan()
            .table_name(table)
            .send()
            .await
            .unwrap();
        scan.items()
            .iter()
            .filter_map(|item| item.get("mysfitId")?.as_s().ok().cloned())
            .collect()
    }

    /// Wait until `probe` holds. On Lambda each round plays the event
    /// source mappings first: receive from each triggering queue, invoke its
    /// function with the records, delete the ones it did not report failed.
    pub(crate) async fn until<F, Fut>(&self, what: &str, mut probe: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..40 {
            if self.server.is_none() {
                self.poll_triggers().await;
            }
            if probe().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        panic!(
            "{what}: not within 10 s; triggers: {}; deployed: {}",
            self.deployed["triggers"],
            self.moto.python("moto_inventory.py", &[&self.prefix])
        );
    }

    async fn poll_triggers(&self) {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk_config());
        for trigger in self.deployed["triggers"].as_array().unwrap() {
            let name = trigger["queue"]
                .as_str()
                .unwrap()
                .rsplit(':')
                .next()
                .unwrap();
            let url = sqs.get_queue_url().queue_name(name).send().await.unwrap();
            let url = url.queue_url().unwrap();
            let received = sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(trigger["batch_size"].as_i64().unwrap().min(10) as i32)
                .message_system_attribute_names(
                    aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount,
                )
                .send()
                .await
                .unwrap();
            let messages = received.messages();
            if messages.is_empty() {
                continue;
            }
            let records: Vec<Json> = messages
                .iter()
                .map(|m| {
                    json!({
                        "messageId": m.message_id(),
                        "receiptHandle": m.receipt_handle(),
                        "body": m.body(),
                        "attributes": { "ApproximateReceiveCount": "1" },
                        "eventSource": "aws:sqs",
                        "eventSourceARN": trigger["queue"],
                        "awsRegion": self.moto.region
                    })
                })
                .collect();
            let function = trigger["function"].as_str().unwrap();
            let results = self.invoke(function, json!({ "Records": records })).await;
            assert_eq!(results[0].1, "response", "{results:?}");
            assert_eq!(trigger["report_failures"], true, "{trigger}");
            let failed: Vec<&str> = results[0].2["batchItemFailures"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|f| f["itemIdentifier"].as_str())
                .collect();
            for m in messages {
                if !failed.contains(&m.message_id().unwrap()) {
                    sqs.delete_message()
                        .queue_url(url)
                        .receipt_handle(m.receipt_handle().unwrap())
                        .send()
                        .await
                        .unwrap();
                }
            }
        }
    }

    /// The runtime stopped, the database users and secrets this test made
    /// removed (its database goes when dropped).
    pub(crate) async fn finish(mut self) {
        if let Some((mut child, _)) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for secret in [&self.master, &self.app].into_iter().flatten() {
            self.moto
                .python("moto_secret.py", &["delete", &secret.name]);
        }
        self.moto
            .python("moto_secret.py", &["delete", &self.cursor_secret]);
        // The runtime's own user, where the migration made one (not on
        // Redshift, whose runtime uses the master user).
        if let (Some(db), Some(app)) = (&self.db, &self.app) {
            if db.engine == TestEngine::Mariadb {
                let master = &self.master.as_ref().unwrap().user;
                db.exec(&format!(
                    "DROP USER IF EXISTS '{}'@'%', '{master}'@'%'",
                    app.user
                ))
                .await;
            } else if db
                .count(&format!(
                    "SELECT count(*) FROM pg_roles WHERE rolname = '{}'",
                    app.user
                ))
                .await
                == 1
            {
                db.exec(&format!("DROP OWNED BY \"{}\"", app.user)).await;
                db.exec(&format!("DROP ROLE \"{}\"", app.user)).await;
            }
        }
    }
}

impl Drop for AsOnAws<'_> {
    fn drop(&mut self) {
        if let Some((mut child, _)) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
