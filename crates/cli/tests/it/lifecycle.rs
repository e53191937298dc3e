//! The deploy lifecycle through the real binary against moto: deploy,
//! redeploy with nothing changed, a change shown by `diff` and applied,
//! `outputs`, `status`, `logs`, `destroy`, a failure midway and the deploy
//! that recovers from it. What exists is asked of each service's own API
//! (tools/moto_inventory.py), never taken from a stack's status alone.
//!
//! Each seed in its write-up's own shape (clients on Redshift with Lambda,
//! mysfits on DynamoDB with Fargate, todo on RDS PostgreSQL with EC2, pets
//! on Aurora MySQL with Lambda) is also served between deploy and destroy:
//! the runtime as AWS starts it, pointed at the emulated services
//! (on_aws.rs), answers its API, and a message published to the stack's
//! SNS topic becomes its row.

use std::process::Command;

use serde_json::{json, Value as Json};

use crate::cloud_harness::*;
use crate::harness::{text, TempStack, TestEngine};
use crate::on_aws::AsOnAws;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_stack_deploys_redeploys_changes_serves_ingests_and_destroys_against_moto() {
    let moto = Moto::start("ap-northeast-2").await;
    let name = unique("todo");
    let prefix = format!("{name}-ec2");
    let stack = copy("todo", &name, "");
    let dir = stack.path().to_str().unwrap().to_string();
    let env = ["--env", "ec2"];
    let with = |cmd: &str, more: &[&str]| -> Vec<String> {
        let mut v = vec![cmd.to_string(), dir.clone()];
        v.extend(env.iter().map(|s| s.to_string()));
        v.extend(more.iter().map(|s| s.to_string()));
        v
    };

    // Without --yes and without a terminal, deploy asks and refuses.
    let (ok, _, stderr) = moto.run(&args(&with("deploy", &[])));
    assert!(!ok && stderr.contains("re-run with --yes"), "{stderr}");

    // First deploy: five stacks created, the package uploaded, outputs printed.
    let first = moto.json(&args(&with("deploy", &["--yes"])));
    assert_eq!(
        results(&first),
        [
            ("network".to_string(), "created".to_string()),
            ("artifacts".into(), "created".into()),
            ("data".into(), "created".into()),
            ("app".into(), "created".into()),
            ("edge".into(), "created".into())
        ]
    );
    assert_eq!(first["package"]["uploaded"], true);
    let outputs = first["outputs"].clone();
    // The one URL: the distribution's, over HTTPS.
    let url = outputs["Url"].as_str().unwrap();
    assert!(url.starts_with("https://"), "{outputs}");
    assert_eq!(first["url"], outputs["Url"]);
    let vpc = outputs["VpcId"].as_str().unwrap().to_string();
    let bucket = outputs["ArtifactBucket"].as_str().unwrap().to_string();

    // The services' own view.
    moto.assert_roles_bounded(&prefix, &vpc);
    let inv = moto.inventory(&prefix, &vpc);
    assert_eq!(listed(&inv, "stacks"), 5, "{inv}");
    let site_bucket = outputs["SiteBucket"].as_str().unwrap().to_string();
    let log_bucket = outputs["LogBucket"].as_str().unwrap().to_string();
    let mut buckets = vec![bucket.clone(), site_bucket, log_bucket];
    buckets.sort();
    assert_eq!(inv["buckets"], serde_json::json!(buckets), "{inv}");
    assert_eq!(listed(&inv, "vpcs"), 1, "{inv}");
    assert_eq!(listed(&inv, "subnets"), 6, "{inv}");
    assert_eq!(listed(&inv, "db_instances"), 1, "{inv}");
    assert_eq!(
        listed(&inv, "functions"),
        1,
        "the migration function: {inv}"
    );
    assert_eq!(listed(&inv, "autoscaling_groups"), 1, "{inv}");
    assert!(listed(&inv, "log_groups") >= 2, "app and flow logs: {inv}");

    // The package really is in the bucket, under the key the app layer got.
    let key = first["package"]["key"].as_str().unwrap();
    assert!(
        key.starts_with("runtime/") && key.ends_with(".zip"),
        "{key}"
    );

    // Nothing changed: nothing to do, nothing uploaded.
    let second = moto.json(&args(&with("deploy", &["--yes"])));
    assert!(
        results(&second).iter().all(|(_, r)| r == "unchanged"),
        "{second}"
    );
    assert_eq!(second["package"]["uploaded"], false);
    let diff = moto.json(&args(&with("diff", &[])));
    assert_eq!(diff["changes"], 0, "{diff}");

    // logs: a line the service wrote is printed.
    let group = inv["log_groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .find(|g| g.contains("AppLogGroup"))
        .unwrap()
        .to_string();
    moto.python(
        "moto_put_log.py",
        &[
            &group,
            "{\"level\":\"INFO\",\"message\":\"served GET /api/task/\"}",
        ],
    );
    let (ok, stdout, stderr) = moto.run(&args(&with("logs", &["--since", "5m"])));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("served GET /api/task/"), "{stdout}");

    // A change to the stack file: diff shows it and changes nothing...
    let edited = std::fs::read_to_string(stack.path().join("stackwright.toml"))
        .unwrap()
        .replace(
            "[aws.env.ec2]",
            "[aws.env.ec2]\ninstance_type = \"t3.small\"",
        );
    std::fs::write(stack.path().join("stackwright.toml"), edited).unwrap();
    let diff = moto.json(&args(&with("diff", &[])));
    assert!(diff["changes"].as_u64().unwrap() > 0, "{diff}");
    let app = layer_changes(&diff, "app");
    assert!(app.contains("LaunchTemplate"), "{app}");
    let again = moto.json(&args(&with("diff", &[])));
    assert_eq!(again["changes"], diff["changes"], "diff applied nothing");
    // ...and deploy applies it: a new package (the stack file is in it), updated stacks.
    let third = moto.json(&args(&with("deploy", &["--yes"])));
    let r = results(&third);
    assert!(r.contains(&("app".into(), "updated".into())), "{third}");
    assert!(
        r.contains(&("network".into(), "unchanged".into())),
        "{third}"
    );
    assert_eq!(third["package"]["uploaded"], true);
    assert_ne!(third["package"]["key"], first["package"]["key"]);
    assert_eq!(moto.json(&args(&with("diff", &[])))["changes"], 0);

    // outputs and status agree with the deploy.
    let out = moto.json(&args(&with("outputs", &[])));
    assert_eq!(out["Url"], outputs["Url"]);
    let status = moto.json(&args(&with("status", &["--no-drift"])));
    assert_eq!(status["ok"], true, "{status}");
    assert_eq!(status["url"], outputs["Url"], "{status}");
    assert_eq!(status["stacks"].as_array().unwrap().len(), 5);

    // The instances' unit, as the launch template writes it, on this
    // machine's PostgreSQL (RDS's engine): the API answers, and a task
    // published to the SNS topic reaches the queue the runtime polls.
    let mut on = AsOnAws::start(&moto, &prefix, &dir, Some(TestEngine::Postgres)).await;
    on.serve();
    let titles = |list: &Json| -> Vec<String> {
        list.as_array()
            .map(|tasks| {
                tasks
                    .iter()
                    .map(|t| t["title"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (status, list) = on.get("/api/task/").await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(titles(&list), ["1st Task", "2nd Task", "3rd Task"]);
    // Pages continue under the key the runtime read from Secrets Manager.
    let (status, first, next) = on.get_page("/api/task/?limit=2").await;
    assert_eq!((status, titles(&first).len()), (200, 2), "{first}");
    let cursor = next.expect("a next page");
    let (status, rest, next) = on
        .get_page(&format!("/api/task/?limit=2&cursor={cursor}"))
        .await;
    assert_eq!(
        (status, titles(&rest), next),
        (200, vec!["3rd Task".to_string()], None),
        "{rest}"
    );
    on.publish(
        &outputs,
        "TasksTopicArn",
        &json!({"title": "From SNS", "priority": 2}),
    )
    .await;
    on.until("the published task is listed", || async {
        titles(&on.get("/api/task/").await.1).contains(&"From SNS".to_string())
    })
    .await;
    on.finish().await;

    destroy_and_find_nothing_left(&moto, &dir, "ec2", &prefix, &vpc);
    // Destroying again finds nothing and succeeds.
    let (ok, stdout, stderr) = moto.run(&args(&with("destroy", &["--yes"])));
    assert!(
        ok && stdout.contains("nothing to destroy"),
        "{stdout}{stderr}"
    );
}

/// A Fargate environment: the runtime image is built without a container
/// engine and pushed (here to a local registry standing in for ECR), the
/// task definition names it by its content tag, a redeploy pushes and
/// changes nothing, a stack-file change ships a new image, destroy leaves
/// nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fargate_stack_pushes_its_image_deploys_changes_and_destroys_against_moto() {
    let moto = Moto::start("eu-central-1").await;
    let registry = Registry::start();
    let name = unique("todo");
    let prefix = format!("{name}-dev");
    // With a web ACL: outside us-east-1, it is a stack of its own there.
    let stack = copy(
        "todo",
        &name,
        "[aws.env.dev]\nwaf = true\nwaf_rate_limit = 500\n",
    );
    let dir = stack.path().to_str().unwrap().to_string();
    let deploy = ["deploy", &dir, "--yes", "--registry", &registry.addr];

    let first = moto.json(&deploy);
    assert!(
        results(&first).iter().all(|(_, r)| r == "created"),
        "{first}"
    );
    let image = &first["image"];
    let tag = image["tag"].as_str().unwrap().to_string();
    let digest = image["digest"].as_str().unwrap().to_string();
    assert_eq!(tag, format!("sha256-{}", &digest["sha256:".len()..][..16]));
    let repository = prefix.clone();
    assert_eq!(
        first["outputs"]["RepositoryUri"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next(),
        Some(repository.as_str())
    );
    assert_eq!(registry.tags(&repository).await, vec![tag.clone()]);

    // Pulled back by digest: the binary that deployed it, and the stack.
    let files = registry.pull(&repository, &digest).await;
    let binary = std::fs::read(env!("CARGO_BIN_EXE_stackwright")).unwrap();
    assert!(
        files.get("opt/stackwright/bootstrap") == Some(&binary),
        "the image holds this stackwright binary at /opt/stackwright/bootstrap: {:?}",
        files.keys().collect::<Vec<_>>()
    );
    assert_eq!(
        files.get("opt/stackwright/stack/stackwright.toml"),
        Some(&std::fs::read(stack.path().join("stackwright.toml")).unwrap())
    );
    assert!(files.contains_key("etc/passwd"), "the runtime user");

    // The services' own view.
    let vpc = first["outputs"]["VpcId"].as_str().unwrap().to_string();
    let inv = moto.inventory(&prefix, &vpc);
    assert_eq!(
        first["stacks"][0]["stack"],
        format!("{prefix}-global"),
        "first: {first}"
    );
    assert_eq!(
        listed(&inv, "stacks"),
        6,
        "five in eu-central-1, the global one in us-east-1: {inv}"
    );
    assert_eq!(listed(&inv, "web_acls"), 1, "{inv}");
    let acl: Json = serde_json::from_str(&moto.python(
        "moto_cloudfront.py",
        &["web-acl", &format!("{prefix}-edge")],
    ))
    .unwrap();
    assert_eq!(
        acl["rules"],
        json!([
            "RatePerAddress",
            "AWSManagedRulesAmazonIpReputationList",
            "AWSManagedRulesCommonRuleSet",
            "AWSManagedRulesKnownBadInputsRuleSet"
        ]),
        "{acl}"
    );
    assert_eq!(acl["rate"], 500, "{acl}");
    assert_eq!(
        listed(&inv, "buckets"),
        3,
        "artifacts, logs and site: {inv}"
    );
    assert_eq!(listed(&inv, "distributions"), 1, "{inv}");
    assert_eq!(listed(&inv, "cloudfront_functions"), 1, "{inv}");
    // The edge as CloudFront itself holds it (moto's CloudFormation would
    // report CREATE_COMPLETE for a resource it ignored).
    let distribution = first["outputs"]["DistributionId"].as_str().unwrap();
    let edge: Json =
        serde_json::from_str(&moto.python("moto_cloudfront.py", &["distribution", distribution]))
            .unwrap();
    assert_eq!(edge["origins"], json!(["api", "site"]), "{edge}");
    assert_eq!(
        edge["api_headers"],
        json!(["x-stackwright-origin"]),
        "{edge}"
    );
    assert_eq!(edge["api_protocol"], "http-only", "{edge}");
    assert_eq!(
        edge["web_acl"], acl["arn"],
        "the distribution uses the web ACL: {edge}"
    );
    let log_bucket = first["outputs"]["LogBucket"].as_str().unwrap();
    assert_eq!(
        edge["logging"],
        format!("{log_bucket}.s3.amazonaws.com"),
        "{edge}"
    );
    assert!(
        edge["api_patterns"]
            .as_array()
            .unwrap()
            .contains(&json!("/api/task/*")),
        "{edge}"
    );
    assert_eq!(listed(&inv, "repositories"), 1, "{inv}");
    assert_eq!(listed(&inv, "ecs_clusters"), 1, "{inv}");
    assert_eq!(listed(&inv, "db_instances"), 1, "{inv}");
    assert_eq!(listed(&inv, "load_balancers"), 1, "{inv}");

    // Nothing changed: nothing to do, the same image.
    let second = moto.json(&deploy);
    assert!(
        results(&second).iter().all(|(_, r)| r == "unchanged"),
        "{second}"
    );
    assert_eq!(second["image"], first["image"]);
    assert_eq!(registry.tags(&repository).await, vec![tag.clone()]);

    // A seed change is in the stack layer of the image: a new image, and
    // the app layer (its task definition) follows it.
    let seed = stack.path().join("seed/tasks.json");
    let tasks = std::fs::read_to_string(&seed).unwrap();
    std::fs::write(&seed, tasks.replacen("[", "[\n", 1)).unwrap();
    let diff = moto.json(&["diff", &dir]);
    let app = layer_changes(&diff, "app");
    assert!(app.contains("TaskDefinition"), "{diff}");
    let third = moto.json(&deploy);
    assert!(
        results(&third).contains(&("app".into(), "updated".into())),
        "{third}"
    );
    let new_tag = third["image"]["tag"].as_str().unwrap().to_string();
    assert_ne!(new_tag, tag);
    let mut both = vec![tag, new_tag];
    both.sort();
    assert_eq!(registry.tags(&repository).await, both);
    assert_eq!(moto.json(&["diff", &dir])["changes"], 0);

    // One site file changes: one invalidation, for its path, asked of
    // CloudFront itself (after the first upload's).
    let script = stack.path().join("site/app.js");
    let text = std::fs::read_to_string(&script).unwrap();
    std::fs::write(&script, format!("{text}\n// changed\n")).unwrap();
    let fourth = moto.json(&deploy);
    let invalidation = &fourth["site"]["invalidation"];
    assert_eq!(invalidation["paths"], json!(["/app.js"]), "{fourth}");
    let distribution = fourth["outputs"]["DistributionId"].as_str().unwrap();
    let made: Json =
        serde_json::from_str(&moto.python("moto_cloudfront.py", &["invalidations", distribution]))
            .unwrap();
    assert_eq!(made.as_array().map(Vec::len), Some(2), "{made}");
    assert!(
        made.as_array().unwrap().contains(&json!(["/app.js"])),
        "{made}"
    );

    destroy_and_find_nothing_left(&moto, &dir, "dev", &prefix, &vpc);
}

/// An example deployed to moto and redeployed, until `destroy`.
struct Deployed {
    moto: Moto,
    _registry: Registry,
    _stack: TempStack,
    dir: String,
    env: String,
    prefix: String,
    vpc: String,
    outputs: Json,
}

impl Deployed {
    /// Destroy leaves nothing.
    fn destroy(self) {
        destroy_and_find_nothing_left(&self.moto, &self.dir, &self.env, &self.prefix, &self.vpc);
    }
}

/// The lifecycle every example goes through: deploy (outputs printed), the
/// services hold what `expect` says, a redeploy changes nothing. The caller
/// checks what the example has of its own, then destroys. Fargate
/// environments push to a local registry.
async fn deploy_and_redeploy(
    example: &str,
    env: &str,
    region: &'static str,
    expect: &[(&str, usize)],
) -> Deployed {
    let moto = Moto::start(region).await;
    let registry = Registry::start();
    let name = unique(example);
    let prefix = format!("{name}-{env}");
    let stack = copy(example, &name, "");
    let site_dir = stack.path().join("site");
    // A link in the site folder is never uploaded (it could lead anywhere).
    let site_files = if site_dir.is_dir() {
        std::os::unix::fs::symlink("/etc/hostname", site_dir.join("linked.txt")).unwrap();
        regular_files(&site_dir, "")
    } else {
        Vec::new()
    };
    let dir = stack.path().to_str().unwrap().to_string();
    let deploy = [
        "deploy",
        &dir,
        "--env",
        env,
        "--yes",
        "--registry",
        &registry.addr,
    ];

    let (ok, stdout, stderr) = moto.run(&deploy);
    assert!(ok, "{stderr}");
    let url_line = stdout.lines().next().unwrap_or_default();
    assert!(
        url_line.starts_with("url: https://"),
        "deploy prints the one URL first: {stdout}"
    );
    let outputs = moto.json(&["outputs", &dir, "--env", env]);
    let vpc = outputs["VpcId"].as_str().unwrap().to_string();
    moto.assert_roles_bounded(&prefix, &vpc);
    let inv = moto.inventory(&prefix, &vpc);
    assert_eq!(listed(&inv, "stacks"), 5, "{inv}");
    assert_eq!(listed(&inv, "distributions"), 1, "{inv}");
    let site = outputs
        .get("SiteBucket")
        .and_then(Json::as_str)
        .map(str::to_string);
    assert_eq!(
        listed(&inv, "buckets"),
        2 + usize::from(site.is_some()),
        "artifacts, logs (and site): {inv}"
    );
    assert_eq!(listed(&inv, "vpcs"), 1, "{inv}");
    for (kind, count) in expect {
        assert_eq!(listed(&inv, kind), *count, "{kind}: {inv}");
    }
    if let Some(bucket) = &site {
        assert_site_uploaded(&moto, bucket, &outputs, &site_files);
    }

    let again = moto.json(&deploy);
    assert!(
        results(&again).iter().all(|(_, r)| r == "unchanged"),
        "{again}"
    );
    assert_eq!(again["package"]["uploaded"], false, "{again}");
    if site.is_some() {
        assert_eq!(again["site"]["upload"]["uploaded"], 0, "{again}");
    }
    assert_eq!(again["outputs"], outputs, "the same outputs");
    Deployed {
        moto,
        _registry: registry,
        _stack: stack,
        dir,
        env: env.to_string(),
        prefix,
        vpc,
        outputs,
    }
}

/// The site is in its bucket, its placeholders filled from the outputs.
fn assert_site_uploaded(moto: &Moto, bucket: &str, outputs: &Json, site_files: &[String]) {
    let get = |key: &str| -> Json {
        serde_json::from_str(&moto.python("moto_get_object.py", &[bucket, key])).unwrap()
    };
    let index = get("index.html");
    assert!(
        index["content_type"]
            .as_str()
            .unwrap()
            .starts_with("text/html"),
        "{index}"
    );
    assert_eq!(index["cache_control"], "no-cache");
    let config = get("config.js")["text"].as_str().unwrap().to_string();
    // The API on the page's own origin: the distribution's URL.
    let origin = outputs["Url"].as_str().unwrap();
    assert!(
        config.contains(&format!("apiUrl: \"{origin}\"")),
        "API_URL filled with the same origin: {config}"
    );
    assert!(!config.contains("{{"), "every placeholder filled: {config}");
    if let Some(pool) = outputs.get("UserPoolId").and_then(Json::as_str) {
        assert!(config.contains(pool), "USER_POOL_ID filled: {config}");
    }
    let uploaded = get("--keys");
    assert_eq!(
        uploaded["keys"],
        json!(site_files),
        "the site's own files only"
    );
}

/// Clip's shape: Lambda behind an HTTP API, Aurora MySQL (MariaDB here).
/// The API answers through the deployed function; a registration published
/// to the SNS topic reaches the subscription's queue, and the subscriber
/// function makes it a pet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pets_on_lambda_and_aurora_mysql_deploys_serves_ingests_and_destroys_against_moto() {
    let d = deploy_and_redeploy(
        "pets",
        "dev",
        "eu-west-3",
        &[
            ("apis", 1),
            // API, migration, subscriber
            ("functions", 3),
            ("db_clusters", 1),
            ("db_instances", 1),
            ("topics", 1),
            ("queues", 2),
            ("subscriptions", 1),
        ],
    )
    .await;
    let on = AsOnAws::start(&d.moto, &d.prefix, &d.dir, Some(TestEngine::Mariadb)).await;
    assert_eq!(
        on.get("/api/pet/Fluffy").await,
        (
            200,
            json!({"name": "Fluffy", "owner": "Harold", "species": "cat"})
        )
    );
    let pepper = json!({"name": "Pepper", "owner": "Ada", "species": "cat", "sex": "f"});
    on.publish(&d.outputs, "RegistrationsTopicArn", &pepper)
        .await;
    on.until("the registration is a pet", || async {
        on.get("/api/pet/Pepper").await
            == (
                200,
                json!({"name": "Pepper", "owner": "Ada", "species": "cat"}),
            )
    })
    .await;
    on.finish().await;
    d.destroy();
}

/// LATAM's shape: Lambda functions, Redshift. No Redshift runs here: the
/// API and the subscriber run the Redshift dialect against PostgreSQL,
/// limited to the statements both accept; every statement the dialect can
/// emit is parsed by sqlfluff as Redshift SQL (redshift.rs).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_lambda_and_redshift_deploys_serves_ingests_and_destroys_against_moto() {
    let d = deploy_and_redeploy(
        "clients",
        "dev",
        "us-west-1",
        &[
            ("apis", 1),
            // API, migration, subscriber
            ("functions", 3),
            ("redshift_clusters", 1),
            // the customers topic, its subscription's queue and dead-letter queue
            ("topics", 1),
            ("queues", 2),
            ("subscriptions", 1),
        ],
    )
    .await;
    let on = AsOnAws::start(&d.moto, &d.prefix, &d.dir, Some(TestEngine::Redshift)).await;
    let (status, first) = on.get("/getClient?client_id=1").await;
    assert_eq!((status, &first["id"]), (200, &json!(1)), "{first}");
    let customer = json!({"id": 77, "nombre": "Rosa", "apellido": "Díaz", "rut": "7777777-7", "correo": "rosa@example.cl"});
    on.publish(&d.outputs, "CustomersTopicArn", &customer).await;
    on.until("the customer is a client", || async {
        on.get("/getClient?client_id=77").await == (200, customer.clone())
    })
    .await;
    on.finish().await;
    dead_letters_are_listed_and_redriven(&d.moto, &d.dir, &d.outputs);
    d.destroy();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_on_lambda_and_aurora_postgres_deploys_and_destroys_against_moto() {
    deploy_and_redeploy(
        "clients",
        "aurora",
        "us-east-2",
        &[
            ("apis", 1),
            ("functions", 3),
            ("db_clusters", 1),
            ("db_instances", 1),
            ("topics", 1),
            ("queues", 2),
        ],
    )
    .await
    .destroy();
}

/// The Mythical Mysfits workshop's shape: Fargate behind a load balancer,
/// DynamoDB. The runtime runs the task definition's command and
/// environment against moto's DynamoDB tables (the data layer's); a click
/// published to SNS reaches the runtime's queue and becomes an item.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mysfits_on_fargate_and_dynamodb_deploys_serves_ingests_and_destroys_against_moto() {
    let d = deploy_and_redeploy(
        "mysfits",
        "dev",
        "ca-central-1",
        &[
            // the data tables and the tool's own (migrations, seeds, messages)
            ("tables", 3),
            ("ecs_clusters", 1),
            ("repositories", 1),
            ("load_balancers", 1),
            ("distributions", 1),
            ("user_pools", 1),
            ("topics", 1),
            ("queues", 2),
            ("subscriptions", 1),
        ],
    )
    .await;
    let mut on = AsOnAws::start(&d.moto, &d.prefix, &d.dir, None).await;
    on.serve();
    let (status, list) = on.get("/mysfits").await;
    assert_eq!(status, 200, "{list}");
    let mysfits = list["mysfits"].as_array().unwrap();
    assert_eq!(mysfits.len(), 12, "{list}");
    let id = mysfits[0]["mysfitId"].as_str().unwrap().to_string();
    on.publish(&d.outputs, "ClicksTopicArn", &json!({ "mysfitId": id }))
        .await;
    let table = format!("{}-clicks", d.prefix);
    on.until("the click is an item", || async {
        on.items(&table).await == vec![id.clone()]
    })
    .await;
    on.finish().await;
    d.destroy();
}

/// A deploy that fails midway names the resource and the reason, leaves the
/// failed stack rolled back, and the next deploy (after the fix) replaces it
/// and succeeds; destroy then removes everything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_deploy_reports_the_resource_and_the_next_deploy_recovers() {
    let moto = Moto::start("ap-southeast-1").await;
    let name = unique("todo");
    let prefix = format!("{name}-ec2");
    let stack = copy("todo", &name, "");
    let dir = stack.path().to_str().unwrap().to_string();
    let toml = stack.path().join("stackwright.toml");
    let good = std::fs::read_to_string(&toml).unwrap();
    // An instance type EC2 does not have: the autoscaling group cannot launch.
    let bad = good.replace(
        "[aws.env.ec2]",
        "[aws.env.ec2]\ninstance_type = \"t3.enormous\"",
    );
    std::fs::write(&toml, &bad).unwrap();
    let (ok, _, stderr) = moto.run(&["deploy", &dir, "--env", "ec2", "--yes"]);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(&format!("{prefix}-app"))
            && stderr.contains("AutoScalingGroup")
            && stderr.contains("t3.enormous"),
        "the failing stack and resource are named: {stderr}"
    );
    // status says so, and exits non-zero.
    let (ok, stdout, _) = moto.run(&["status", &dir, "--env", "ec2", "--no-drift", "--json"]);
    assert!(!ok, "{stdout}");
    let status: Json = serde_json::from_str(&stdout).unwrap();
    let app = status["stacks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["layer"] == "app")
        .unwrap()
        .clone();
    assert_eq!(app["status"], "ROLLBACK_COMPLETE", "{status}");

    // The fix, then the next deploy replaces the rolled-back stack.
    std::fs::write(&toml, &good).unwrap();
    let fixed = moto.json(&["deploy", &dir, "--env", "ec2", "--yes"]);
    let r = results(&fixed);
    assert!(r.contains(&("app".into(), "created".into())), "{fixed}");
    assert!(r.contains(&("edge".into(), "created".into())), "{fixed}");

    let vpc = fixed["outputs"]["VpcId"].as_str().unwrap().to_string();
    destroy_and_find_nothing_left(&moto, &dir, "ec2", &prefix, &vpc);
}

/// The binary deploy packages as Lambda's `bootstrap` must load on
/// provided.al2023, whose glibc is 2.34: no symbol may need a newer one.
#[test]
fn the_packaged_binary_runs_on_lambdas_glibc() {
    let out = Command::new("objdump")
        .args(["-T", env!("CARGO_BIN_EXE_stackwright")])
        .output()
        .expect("objdump (binutils) is installed");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let symbols = text(&out.stdout);
    let newest = symbols
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let mut parts = v.split('.').map(|p| p.parse::<u32>().ok());
            Some((parts.next()??, parts.next().flatten().unwrap_or(0)))
        })
        .max()
        .expect("the binary links against glibc");
    assert!(
        newest <= (2, 34),
        "the binary needs GLIBC_{}.{}, newer than provided.al2023's 2.34",
        newest.0,
        newest.1
    );
}

/// `dlq list|redrive --env`: a message that failed every attempt sits in
/// the subscription's SQS dead-letter queue; `list` shows it (its published
/// id, receives, message) and leaves it there; `redrive` moves it back to
/// the subscription's queue, once.
fn dead_letters_are_listed_and_redriven(moto: &Moto, dir: &str, outputs: &Json) {
    let dead = outputs["CustomersClientesDeadLetterQueueUrl"]
        .as_str()
        .unwrap();
    let queue = outputs["CustomersClientesQueueUrl"].as_str().unwrap();
    let customer = json!({"id": 9, "nombre": "Ana", "apellido": "Rojas", "rut": "1-9", "correo": "ana@example.cl"});
    // As SNS delivers it (raw delivery off), with the published id.
    let envelope = json!({
        "Type": "Notification",
        "Message": customer.to_string(),
        "MessageAttributes": { "stackwright-id": { "Type": "String", "Value": "pub-9" } }
    });
    moto.python("moto_sqs.py", &["send", dead, &envelope.to_string()]);
    let listed = moto.json(&["dlq", "list", dir, "--env", "dev"]);
    assert_eq!(
        listed["dead_letters_count"]["customers-clientes"], 1,
        "{listed}"
    );
    let letter = &listed["dead_letters"][0];
    assert_eq!(letter["id"], "pub-9", "{listed}");
    assert_eq!(letter["message"], customer, "{listed}");
    assert!(letter["attempts"].as_u64() >= Some(1), "{listed}");
    assert_eq!(
        moto.python("moto_sqs.py", &["count", dead]).trim(),
        "1",
        "list takes nothing"
    );
    // Another id: nothing moves.
    let none = moto.json(&["dlq", "redrive", dir, "--env", "dev", "--id", "other"]);
    assert_eq!(none["redriven"], 0, "{none}");
    let moved = moto.json(&["dlq", "redrive", dir, "--env", "dev", "--id", "pub-9"]);
    assert_eq!(moved["redriven"], 1, "{moved}");
    assert_eq!(moto.python("moto_sqs.py", &["count", dead]).trim(), "0");
    let bodies: Json =
        serde_json::from_str(&moto.python("moto_sqs.py", &["bodies", queue])).unwrap();
    assert_eq!(
        bodies,
        json!([envelope.to_string()]),
        "back in its queue, as it was"
    );
    let again = moto.json(&["dlq", "redrive", dir, "--env", "dev"]);
    assert_eq!(again["redriven"], 0, "each message once: {again}");
}
