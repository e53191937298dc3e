//! Services on AWS: the adoptions example deployed against moto on each
//! compute kind, with a local registry standing in for ECR and for the
//! service's base image's registry. What a deploy made is read back
//! through each service's own API (tools/moto_services.py): the ECS
//! service and its task definition, the listener rules and target groups,
//! the security groups' rules, the Lambda function and the HTTP API's
//! routes; the pushed image by its digest; and destroy leaves nothing.

use std::io::Write as _;
use std::process::{Command, Stdio};

use serde_json::Value as Json;
use stackwright_image::{Auth, Entry, ImageConfig, Protocol};

use crate::cloud_harness::*;
use crate::harness::{text, TempStack};

/// The base every service image is layered over, in the local registry:
/// two layers, as a language image has (its system, its interpreter).
async fn push_base(registry: &Registry) -> (String, Vec<String>) {
    let base = stackwright_image::assemble(
        vec![
            vec![Entry::bytes("/etc/os-release", "ID=test\n", 0o644)],
            vec![Entry::bytes(
                "/usr/local/bin/python3",
                "#!/bin/sh\necho python\n",
                0o755,
            )],
        ],
        ImageConfig {
            env: vec![("PATH".into(), "/usr/local/bin:/usr/bin:/bin".into())],
            cmd: vec!["python3".into()],
            ..ImageConfig::default()
        },
    )
    .unwrap();
    stackwright_image::push(
        &base,
        &registry.addr,
        "library/python",
        "3.12-slim",
        Auth::Anonymous,
        Protocol::Http,
    )
    .await
    .unwrap();
    let layers = base
        .layers()
        .iter()
        .map(|l| l.digest().to_string())
        .collect();
    (
        format!("{}/library/python:3.12-slim", registry.addr),
        layers,
    )
}

/// The adoptions example under a name of its own, its service's base in
/// the local registry, and a secret for the service.
fn adoptions(name: &str, base: &str) -> TempStack {
    let stack = copy("adoptions", name, "secrets = [\"NOTIFY_TOKEN\"]\n");
    let file = stack.path().join("stackwright.toml");
    let toml = std::fs::read_to_string(&file).unwrap();
    let moved = toml.replace("base = \"python:3.12-slim\"", &format!("base = \"{base}\""));
    assert!(
        toml.contains("base = \"python:3.12-slim\""),
        "the example names its base"
    );
    std::fs::write(&file, moved).unwrap();
    stack
}

fn services(moto: &Moto, prefix: &str, vpc: &str) -> Json {
    serde_json::from_str(&moto.python("moto_services.py", &[prefix, &format!("vpc={vpc}")]))
        .unwrap()
}

/// `stackwright secrets set` with the value on stdin, as a person pipes it.
fn set_secret(moto: &Moto, dir: &str, env: &str, value: &str) -> (bool, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .args(["secrets", "set", "adopt", "NOTIFY_TOKEN", dir, "--env", env])
        .args(["--endpoint-url", &moto.endpoint, "--region", moto.region])
        .envs([
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("NO_COLOR", "1"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(value.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (out.status.success(), text(&out.stdout) + &text(&out.stderr))
}

/// The service's security group: its ports from the load balancer only,
/// and the database's port open to it.
fn assert_security_chain(found: &Json, ports: &[u64]) -> String {
    let groups = found["security_groups"].as_array().unwrap();
    let by = |what: &str| {
        groups
            .iter()
            .find(|g| g["description"].as_str().unwrap().contains(what))
            .unwrap_or_else(|| panic!("no group for {what}: {found}"))
    };
    let service = by(": service adopt;");
    let id = service["id"].as_str().unwrap();
    let balancer = groups
        .iter()
        .find(|g| {
            g["description"]
                .as_str()
                .unwrap()
                .contains(": load balancer;")
        })
        .map(|g| g["id"].as_str().unwrap().to_string());
    let ingress: Vec<u64> = service["ingress"]
        .as_array()
        .unwrap()
        .iter()
        .map(|rule| {
            assert_eq!(
                rule[1].as_str().map(str::to_string),
                balancer,
                "only the load balancer reaches the service: {service}"
            );
            rule[0].as_u64().unwrap()
        })
        .collect();
    assert_eq!(ingress, ports, "{service}");
    let data = by(": database;");
    assert!(
        data["ingress"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!([3306, id])),
        "the database lets the service in: {data}"
    );
    id.to_string()
}

fn assert_rule(found: &Json, target_type: &str) {
    let rules = found["rules"].as_array().unwrap();
    // The service's, then the runtime's (last): both only for CloudFront.
    assert_eq!(rules.len(), 2, "{found}");
    assert_eq!(rules[0]["paths"], serde_json::json!(["/adopt", "/adopt/*"]));
    assert_eq!(rules[1]["paths"], serde_json::json!([]));
    assert_eq!(rules[1]["priority"], "50000");
    for rule in rules {
        assert_eq!(
            rule["headers"],
            serde_json::json!([stackwright_stack::ORIGIN_HEADER]),
            "{found}"
        );
    }
    let group = rules[0]["target_groups"][0].as_str().unwrap();
    let group = found["target_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["TargetGroupArn"] == group)
        .unwrap_or_else(|| panic!("the rule's target group: {found}"));
    // Traffic to the front (the runtime), health checks to the service.
    assert_eq!(group["Port"], 8080, "{group}");
    assert_eq!(group["HealthCheckPort"], "8081", "{group}");
    assert_eq!(group["HealthCheckPath"], "/health", "{group}");
    assert_eq!(group["TargetType"], target_type, "{group}");
}

/// The service's secret: `secrets list` and `secrets set` against it.
/// moto ignores `AWS::SecretsManager::Secret` in templates (the golden
/// files show the empty entry), so it is made here as CloudFormation
/// would, without a value.
fn assert_secret(moto: &Moto, dir: &str, env: &str, prefix: &str) {
    let name = format!("{prefix}/adopt/NOTIFY_TOKEN");
    let list = |moto: &Moto| moto.json(&["secrets", "list", dir, "--env", env]);
    assert_eq!(list(moto)[0]["state"], "not deployed", "moto ignored it");
    moto.python("moto_secret.py", &["create", &name]);
    assert_eq!(list(moto)[0]["state"], "empty");
    let (ok, said) = set_secret(moto, dir, env, "");
    assert!(!ok && said.contains("no value on stdin"), "{said}");
    let (ok, said) = set_secret(moto, dir, env, "s3cret-token\n");
    assert!(ok, "{said}");
    assert!(!said.contains("s3cret-token"), "{said}");
    assert_eq!(list(moto)[0]["state"], "set");
    assert_eq!(
        moto.python("moto_secret.py", &["get", &name]).trim_end(),
        "s3cret-token",
        "the value without its newline"
    );
    moto.python("moto_secret.py", &["delete", &name]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fargate_runs_each_service_beside_a_front_from_its_pinned_image() {
    let moto = Moto::start("eu-west-3").await;
    let registry = Registry::start();
    let (base, base_layers) = push_base(&registry).await;
    let name = unique("adopt");
    let prefix = format!("{name}-fargate");
    let stack = adoptions(&name, &base);
    let dir = stack.path().to_str().unwrap().to_string();
    let deployed = moto.json(&[
        "deploy",
        &dir,
        "--env",
        "fargate",
        "--yes",
        "--registry",
        &registry.addr,
    ]);
    let vpc = deployed["outputs"]["VpcId"].as_str().unwrap().to_string();
    let found = services(&moto, &prefix, &vpc);

    let ecs = found["ecs_services"].as_array().unwrap();
    let family = format!("{prefix}-adopt");
    let service = ecs
        .iter()
        .find(|s| s["family"] == family)
        .unwrap_or_else(|| panic!("an ECS service runs {family}: {found}"));
    assert_eq!(service["desired"], 1, "the service's `min`: {service}");
    // moto keeps neither an ECS service's load balancers nor its network
    // configuration from a template: the golden files hold those.
    let containers = found["task_definitions"][&family].as_array().unwrap();
    let container = |name: &str| {
        containers
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("container {name}: {found}"))
    };
    let front = container("front");
    assert_eq!(
        front["environment"]["STACKWRIGHT_SERVICE_PORTS"], "adopt=8081",
        "{front}"
    );
    let own = container("service");
    let env = &own["environment"];
    assert_eq!(env["PORT"], "8081");
    assert_eq!(env["HOST"], "0.0.0.0");
    assert_eq!(env["STACKWRIGHT_API_URL"], "http://127.0.0.1:8080");
    let url = env["DATABASE_URL"].as_str().unwrap();
    assert!(url.starts_with("mysql://stackwright_app@"), "{url}");
    assert_eq!(
        own["secrets"],
        serde_json::json!(["DATABASE_PASSWORD", "NOTIFY_TOKEN"]),
        "injected by ECS from Secrets Manager, never in the template"
    );

    // Pinned by digest, and the digest is the image pushed: the base's
    // layers, unchanged, and the service's folder on top.
    let image = own["image"].as_str().unwrap();
    let (repository_uri, digest) = image.split_once('@').unwrap();
    assert_eq!(deployed["services"][0]["service"], "adopt", "{deployed}");
    assert_eq!(
        deployed["services"][0]["digest"], digest,
        "the digest pushed is the one the task definition names"
    );
    assert_eq!(
        Some(repository_uri),
        deployed["outputs"]["RepositoryUri"].as_str()
    );
    let repository = prefix.clone();
    let manifest: Json = serde_json::from_slice(
        &registry
            .get(
                &format!("{repository}/manifests/{digest}"),
                "application/vnd.oci.image.manifest.v1+json",
            )
            .await,
    )
    .unwrap();
    let layers: Vec<&str> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["digest"].as_str().unwrap())
        .collect();
    assert_eq!(layers.len(), base_layers.len() + 1, "{manifest}");
    assert_eq!(layers[..base_layers.len()], base_layers[..]);
    let files = registry.pull(&repository, digest).await;
    assert_eq!(
        files.get("srv/service/app.py"),
        Some(&std::fs::read(stack.path().join("adopt/app.py")).unwrap())
    );
    assert!(
        files.contains_key("srv/service/vendor/flask/__init__.py"),
        "built before packaging"
    );
    assert!(files.contains_key("usr/local/bin/python3"), "the base");

    assert_rule(&found, "ip");
    assert_security_chain(&found, &[8080, 8081]);
    assert_secret(&moto, &dir, "fargate", &prefix);

    // diff: nothing to change, the service's image included.
    let diff = moto.json(&["diff", &dir, "--env", "fargate"]);
    assert_eq!(diff["changes"], 0, "{diff}");
    // status lists the service; logs reads its own group.
    let status = moto.json(&["status", &dir, "--env", "fargate", "--no-drift"]);
    assert_eq!(status["services"][0]["service"], "adopt", "{status}");
    let inv = moto.inventory(&prefix, &vpc);
    let group = inv["log_groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Json::as_str)
        .find(|g| g.contains("AdoptServiceLogGroup"))
        .unwrap_or_else(|| panic!("the service's log group: {inv}"))
        .to_string();
    moto.python("moto_put_log.py", &[&group, "adopted Fluffy"]);
    let logs = ["logs", &dir, "--env", "fargate", "--since", "5m"];
    let (ok, stdout, stderr) = moto.run(&[&logs[..], &["--service", "adopt"]].concat());
    assert!(ok && stdout.contains("adopted Fluffy"), "{stdout}{stderr}");
    let (ok, stdout, _) = moto.run(&logs);
    assert!(
        ok && !stdout.contains("adopted Fluffy"),
        "the runtime's own: {stdout}"
    );
    let (ok, _, stderr) = moto.run(&[&logs[..], &["--service", "nope"]].concat());
    assert!(!ok && stderr.contains("no service `nope`"), "{stderr}");
    destroy_and_find_nothing_left(&moto, &dir, "fargate", &prefix, &vpc);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ec2_instances_run_each_service_under_systemd_behind_its_rule() {
    let moto = Moto::start("eu-north-1").await;
    let name = unique("adopt");
    let prefix = format!("{name}-ec2");
    let stack = adoptions(&name, "python:3.12-slim");
    let dir = stack.path().to_str().unwrap().to_string();
    let deployed = moto.json(&["deploy", &dir, "--env", "ec2", "--yes"]);
    let vpc = deployed["outputs"]["VpcId"].as_str().unwrap().to_string();
    let found = services(&moto, &prefix, &vpc);

    assert_rule(&found, "instance");
    let group = assert_security_chain(&found, &[8080, 8081]);
    let asg = &found["autoscaling_groups"][0];
    let rule_group = found["rules"][0]["target_groups"][0].clone();
    assert!(
        asg["target_groups"]
            .as_array()
            .unwrap()
            .contains(&rule_group),
        "the instances are in the service's target group: {asg}"
    );
    assert!(
        asg["security_groups"]
            .as_array()
            .unwrap()
            .contains(&Json::String(group)),
        "{asg}"
    );
    let user_data = asg["user_data"].as_str().unwrap();
    for want in [
        "/etc/systemd/system/stackwright-adopt.service",
        "ExecStart=/opt/stackwright/bootstrap exec-service /opt/stackwright/stack adopt --host 0.0.0.0",
        "systemctl enable --now stackwright-adopt",
    ] {
        assert!(user_data.contains(want), "{want} in:\n{user_data}");
    }
    assert_secret(&moto, &dir, "ec2", &prefix);
    destroy_and_find_nothing_left(&moto, &dir, "ec2", &prefix, &vpc);
}

const WEB_ADAPTER: &str =
    "arn:${AWS::Partition}:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerX86:26";

/// The layers of the service's function in the synthesized app layer.
fn app_layers(dir: &str) -> Vec<String> {
    let out = tempfile::TempDir::new().unwrap();
    let made = crate::harness::stackwright(&["synth", dir, "--out", out.path().to_str().unwrap()]);
    assert!(made.status.success(), "{}", text(&made.stderr));
    let app: Json =
        serde_json::from_slice(&std::fs::read(out.path().join("dev/app.json")).unwrap()).unwrap();
    let layers = &app["Resources"]["AdoptServiceFunction"]["Properties"]["Layers"];
    layers
        .as_array()
        .unwrap()
        .iter()
        .map(|l| match l {
            Json::String(s) => s.clone(),
            other => other["Fn::Sub"].as_str().unwrap().to_string(),
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_runs_each_service_with_the_web_adapter_behind_its_routes() {
    let moto = Moto::start("ap-southeast-2").await;
    let name = unique("adopt");
    let prefix = format!("{name}-dev");
    let stack = adoptions(&name, "python:3.12-slim");
    let dir = stack.path().to_str().unwrap().to_string();
    let deployed = moto.json(&["deploy", &dir, "--yes"]);
    let vpc = deployed["outputs"]["VpcId"].as_str().unwrap().to_string();
    let found = services(&moto, &prefix, &vpc);

    let function = found["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["handler"] == "run-service.sh")
        .unwrap_or_else(|| panic!("the service's function: {found}"));
    assert_eq!(function["runtime"], "python3.12", "{function}");
    // moto drops a function's layers from a template: the layer is checked
    // in the template, pinned, and overridden in the one place for it.
    assert_eq!(app_layers(&dir), [WEB_ADAPTER]);
    let file = stack.path().join("stackwright.toml");
    let toml = std::fs::read_to_string(&file).unwrap();
    let mine = "arn:aws:lambda:us-east-1:111122223333:layer:MyAdapter:3";
    std::fs::write(
        &file,
        toml.replacen(
            "compute = \"lambda\"\n",
            &format!("compute = \"lambda\"\nweb_adapter_layer = \"{mine}\"\n"),
            1,
        ),
    )
    .unwrap();
    assert_eq!(app_layers(&dir), [mine]);
    std::fs::write(&file, toml).unwrap();
    let env = &function["environment"];
    assert_eq!(env["AWS_LAMBDA_EXEC_WRAPPER"], "/opt/bootstrap");
    assert_eq!(env["STACKWRIGHT_SERVICE"], "adopt");
    assert_eq!(env["STACKWRIGHT_SERVICE_PORTS"], "adopt=8081");
    assert_eq!(env["AWS_LWA_READINESS_CHECK_PORT"], "8081");
    assert_eq!(env["STACKWRIGHT_SECRETS_PREFIX"], format!("{prefix}/"));
    let routes = found["routes"].as_array().unwrap();
    for want in ["ANY /adopt", "ANY /adopt/{proxy+}", "$default"] {
        assert!(
            routes.contains(&Json::String(want.into())),
            "{want}: {found}"
        );
    }
    let group = assert_security_chain(&found, &[]);
    assert_eq!(function["security_groups"], serde_json::json!([group]));
    assert_secret(&moto, &dir, "dev", &prefix);
    destroy_and_find_nothing_left(&moto, &dir, "dev", &prefix, &vpc);
}

/// What systemd (EC2) and a service's function (Lambda) run:
/// `exec-service`, with the runtime's AWS environment. The service gets
/// the database URL without the password and the password apart (read
/// from the runtime's secret), its own secret from Secrets Manager, and
/// nothing else of that environment; a secret never set stops it with
/// the command that sets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_service_gives_a_service_its_aws_wiring() {
    let moto = Moto::start("us-west-1").await;
    let prefix = format!("{}/", unique("wired"));
    let out = tempfile::NamedTempFile::new().unwrap();
    let stack = TempStack::new(&format!(
        "name = \"wired\"\n\n[tables.t]\nkey = \"id\"\n[tables.t.columns]\nid = {{ type = \"integer\" }}\n\n\
         [services.dump]\ndir = \"dump\"\ncommand = [\"python3\", \"dump.py\"]\npaths = [\"/dump\"]\n\
         secrets = [\"API_KEY\"]\nenv = {{ OUT = \"{}\" }}\n",
        out.path().display()
    ));
    stack.write(
        "dump/dump.py",
        "import json, os\njson.dump(dict(os.environ), open(os.environ['OUT'], 'w'))\n",
    );
    let db = crate::harness::TestDatabase::create(crate::harness::TestEngine::Postgres).await;
    let admin = moto.python(
        "moto_secret.py",
        &[
            "create-json",
            &format!("{prefix}database"),
            "{\"username\":\"postgres\",\"password\":\"pg-Pass/1\"}",
        ],
    );
    let run = || {
        Command::new(env!("CARGO_BIN_EXE_stackwright"))
            .args(["exec-service", stack.path().to_str().unwrap(), "dump"])
            .env_clear()
            .envs([
                ("PATH", std::env::var("PATH").unwrap()),
                ("STACKWRIGHT_DATABASE_URL", db.raw_url.clone()),
                ("STACKWRIGHT_DATABASE_SECRET_ARN", admin.trim().to_string()),
                ("STACKWRIGHT_SERVICE_PORTS", "dump=9001".into()),
                ("STACKWRIGHT_SECRETS_PREFIX", prefix.clone()),
                ("STACKWRIGHT_PORT", "8080".into()),
                ("STACKWRIGHT_TOPIC_ARNS", "runtime-only".into()),
                ("AWS_ENDPOINT_URL", moto.endpoint.clone()),
                ("AWS_REGION", moto.region.into()),
                ("AWS_ACCESS_KEY_ID", "test".into()),
                ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ])
            .output()
            .unwrap()
    };
    let name = format!("{prefix}dump/API_KEY");
    moto.python("moto_secret.py", &["create", &name]);
    let unset = run();
    let said = text(&unset.stderr);
    assert!(!unset.status.success());
    assert!(
        said.contains("stackwright secrets set dump API_KEY"),
        "{said}"
    );

    moto.python("moto_secret.py", &["put", &name, "key-123"]);
    let ran = run();
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    let env: Json = serde_json::from_slice(&std::fs::read(out.path()).unwrap()).unwrap();
    assert_eq!(env["PORT"], "9001");
    assert_eq!(env["HOST"], "127.0.0.1");
    assert_eq!(env["STACKWRIGHT_API_URL"], "http://127.0.0.1:8080");
    assert_eq!(env["API_KEY"], "key-123");
    assert_eq!(env["DATABASE_PASSWORD"], "pg-Pass/1");
    let url = env["DATABASE_URL"].as_str().unwrap();
    assert!(url.starts_with("postgresql://postgres@127.0.0.1"), "{url}");
    assert!(!url.contains("pg-Pass"), "the password is apart: {url}");
    for runtime_only in [
        "STACKWRIGHT_TOPIC_ARNS",
        "STACKWRIGHT_DATABASE_SECRET_ARN",
        "AWS_SECRET_ACCESS_KEY",
    ] {
        assert_eq!(
            env[runtime_only],
            Json::Null,
            "{runtime_only} stays the runtime's"
        );
    }
    let printed = text(&ran.stderr) + &text(&ran.stdout);
    assert!(
        !printed.contains("key-123") && !printed.contains("pg-Pass"),
        "{printed}"
    );
    moto.python("moto_secret.py", &["delete", &name]);
    moto.python("moto_secret.py", &["delete", &format!("{prefix}database")]);
}
