//! `stackwright synth`: golden files, determinism, and the template gates
//! (cfn-lint, checkov with a reasoned allowlist, the security-group chain).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value as Json;
use stackwright_synth::Settings;

use crate::harness::{example, stackwright, text, tool};

pub(crate) const EXAMPLES: [&str; 5] = ["pets", "todo", "mysfits", "clients", "adoptions"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every template of every example and environment: (example, env, layer, text).
pub(crate) fn all_templates() -> Vec<(String, String, String, String)> {
    let mut out = Vec::new();
    for name in EXAMPLES {
        let stack = stackwright_stack::load(&example(name)).unwrap();
        for env in Settings::environments(&stack) {
            let (_, templates) = stackwright_synth::synth(&stack, &env).unwrap();
            for t in templates {
                out.push((
                    name.to_string(),
                    env.clone(),
                    t.layer.as_str().to_string(),
                    t.render(),
                ));
            }
        }
    }
    // The region's bootstrap stack (the permissions boundary) passes the
    // same gates.
    out.push((
        "_bootstrap".to_string(),
        "all".to_string(),
        "bootstrap".to_string(),
        stackwright_synth::iam::bootstrap_template().render(),
    ));
    out
}

fn write_all(dir: &Path) -> Vec<PathBuf> {
    let mut paths = Vec::new();
    for (name, env, layer, text) in all_templates() {
        let p = dir.join(&name).join(&env).join(format!("{layer}.json"));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        paths.push(p);
    }
    paths
}

#[test]
fn templates_match_golden_files_and_are_deterministic() {
    let golden = root().join("crates/cli/tests/golden");
    let first = all_templates();
    assert_eq!(first, all_templates(), "two runs give the same bytes");
    let mut expected = BTreeSet::new();
    for (name, env, layer, text) in &first {
        let path = golden.join(name).join(env).join(format!("{layer}.json"));
        expected.insert(path.clone());
        crate::harness::check_golden(&path, text, "synth");
    }
    // No golden file is left over from a removed example or environment.
    let mut found = BTreeSet::new();
    for entry in walk(&golden) {
        found.insert(entry);
    }
    assert_eq!(
        found, expected,
        "golden files and synthesized templates differ in number"
    );
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[test]
fn cfn_lint_reports_nothing_for_any_template() {
    let temp = tempfile::TempDir::new().unwrap();
    let paths = write_all(temp.path());
    assert_eq!(
        paths.len(),
        77,
        "5 examples, their environments, 5 layers each (mysfits' www also a global one), and the bootstrap"
    );
    let out = Command::new(tool("cfn-lint", "cfn-lint"))
        .arg("-t")
        .args(&paths)
        .output()
        .unwrap();
    let report = text(&out.stdout) + &text(&out.stderr);
    assert!(
        out.status.success() && report.trim().is_empty(),
        "cfn-lint:\n{report}"
    );
}

#[derive(serde::Deserialize)]
struct Allowlist {
    allow: Vec<Allowed>,
}

#[derive(serde::Deserialize)]
struct Allowed {
    check: String,
    reason: String,
    #[serde(default)]
    resources: Vec<String>,
    #[serde(default)]
    envs: Vec<String>,
    /// Only environments without `[aws] domain`.
    #[serde(default)]
    without_domain: bool,
}

/// Whether `example`'s environment `env` has a domain of its own.
fn has_domain(example: &str, env: &str) -> bool {
    EXAMPLES.contains(&example)
        && stackwright_stack::load(&crate::harness::example(example))
            .unwrap()
            .aws
            .domain_of(env)
            .is_some()
}

#[test]
fn checkov_fails_nothing_outside_the_allowlist() {
    let allow: Allowlist = toml::from_str(
        &std::fs::read_to_string(root().join("crates/synth/checkov-allowlist.toml")).unwrap(),
    )
    .unwrap();
    for a in &allow.allow {
        assert!(
            a.reason.len() > 20,
            "{}: every allowlist entry says why",
            a.check
        );
    }
    let temp = tempfile::TempDir::new().unwrap();
    write_all(temp.path());
    let out = Command::new(tool("checkov", "checkov"))
        .args(["-d", temp.path().to_str().unwrap()])
        .args([
            "--framework",
            "cloudformation",
            "--skip-download",
            "--quiet",
            "--compact",
            "-o",
            "json",
        ])
        .output()
        .unwrap();
    let report: Json = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "checkov printed JSON: {}\n{}",
            text(&out.stdout),
            text(&out.stderr)
        )
    });
    let reports = match report {
        Json::Array(a) => a,
        one => vec![one],
    };
    let mut unexpected = Vec::new();
    let mut used = vec![false; allow.allow.len()];
    let mut failures = 0;
    for r in &reports {
        for f in r["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            failures += 1;
            let check = f["check_id"].as_str().unwrap_or_default();
            let resource = f["resource"].as_str().unwrap_or_default();
            let file = f["file_path"].as_str().unwrap_or_default();
            // file_path is /EXAMPLE/ENV/LAYER.json
            let example = file.split('/').nth(1).unwrap_or_default();
            let env = file.split('/').nth(2).unwrap_or_default();
            let matched = allow.allow.iter().position(|a| {
                a.check == check
                    && (a.resources.is_empty() || a.resources.iter().any(|x| x == resource))
                    && (a.envs.is_empty() || a.envs.iter().any(|e| e == env))
                    && !(a.without_domain && has_domain(example, env))
            });
            match matched {
                Some(i) => used[i] = true,
                None => unexpected.push(format!(
                    "{check} {} {file} {resource}",
                    f["check_name"].as_str().unwrap_or_default()
                )),
            }
        }
    }
    assert!(
        unexpected.is_empty(),
        "checkov failures outside the allowlist:\n{}",
        unexpected.join("\n")
    );
    let stale: Vec<&str> = allow
        .allow
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(a, _)| a.check.as_str())
        .collect();
    assert!(
        stale.is_empty(),
        "allowlist entries that match nothing any more: {stale:?}"
    );
    assert!(
        failures > 0,
        "checkov ran and reported the allowlisted failures"
    );
}

pub(crate) fn templates_of(layer: &str) -> Vec<(String, Json)> {
    all_templates()
        .into_iter()
        .filter(|(_, _, l, _)| l == layer)
        .map(|(n, e, _, t)| (format!("{n}/{e}"), serde_json::from_str(&t).unwrap()))
        .collect()
}

pub(crate) fn resources<'a>(
    t: &'a Json,
    ty: &'a str,
) -> impl Iterator<Item = (&'a String, &'a Json)> + 'a {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(move |(_, r)| r["Type"] == ty)
}

fn source_group(rule: &Json) -> Option<&str> {
    rule["SourceSecurityGroupId"]["Fn::GetAtt"][0].as_str()
}

/// Load balancer 80/443 from anywhere; app port only from the load balancer;
/// database port only from the app. Nothing else reaches in.
#[test]
fn security_groups_chain_load_balancer_app_database() {
    for (name, t) in templates_of("network") {
        let mut open_to_world = Vec::new();
        for (id, sg) in resources(&t, "AWS::EC2::SecurityGroup") {
            for rule in sg["Properties"]["SecurityGroupIngress"]
                .as_array()
                .into_iter()
                .flatten()
            {
                if rule["CidrIp"] == "0.0.0.0/0" {
                    open_to_world.push((id.clone(), rule["FromPort"].as_u64().unwrap()));
                }
                if id == "EndpointSecurityGroup" {
                    assert_eq!(source_group(rule), Some("AppSecurityGroup"), "{name}");
                }
                assert!(
                    !id.ends_with("ServiceSecurityGroup"),
                    "{name}: {id}: a service's ingress is separate rules, checked below"
                );
            }
        }
        // Nothing is open to the world: the load balancer admits only
        // CloudFront (edge.rs checks that rule).
        assert!(open_to_world.is_empty(), "{name}: {open_to_world:?}");
        let standalone: Vec<(&String, &Json)> =
            resources(&t, "AWS::EC2::SecurityGroupIngress").collect();
        for (id, rule) in &standalone {
            let p = &rule["Properties"];
            assert!(
                p["CidrIp"].is_null(),
                "{name}: {id} opens to an address range"
            );
            let target = p["GroupId"]["Fn::GetAtt"][0].as_str().unwrap();
            let source = source_group(p).unwrap();
            let service = |g: &str| g.ends_with("ServiceSecurityGroup");
            match target {
                "AppSecurityGroup" => assert_eq!(source, "LoadBalancerSecurityGroup", "{name}"),
                // The chain for services: load balancer -> service -> database.
                "DataSecurityGroup" | "EndpointSecurityGroup" => assert!(
                    source == "AppSecurityGroup" || service(source),
                    "{name}: {id} from {source}"
                ),
                g if service(g) => assert_eq!(source, "LoadBalancerSecurityGroup", "{name}: {id}"),
                other => panic!("{name}: unexpected ingress to {other}"),
            }
        }
        let has = |id: &str| t["Resources"].get(id).is_some();
        if has("DataSecurityGroup") {
            let rule = &t["Resources"]["DataFromApp"]["Properties"];
            let port = rule["FromPort"].as_u64().unwrap();
            assert!(
                [5432, 3306, 5439].contains(&port),
                "{name}: database port {port}"
            );
            assert_eq!(rule["ToPort"], rule["FromPort"], "{name}: one port");
        }
        if has("LoadBalancerSecurityGroup") {
            let rule = &t["Resources"]["AppFromLoadBalancer"]["Properties"];
            assert_eq!(rule["FromPort"], rule["ToPort"], "{name}: one app port");
        }
        // Subnets never hand out public addresses.
        for (id, subnet) in resources(&t, "AWS::EC2::Subnet") {
            assert_eq!(
                subnet["Properties"]["MapPublicIpOnLaunch"], false,
                "{name}: {id}"
            );
        }
    }
}

#[test]
fn databases_are_private_encrypted_and_secrets_never_inline() {
    for (name, t) in templates_of("data") {
        let text = t.to_string();
        for (id, r) in t["Resources"].as_object().unwrap() {
            let p = &r["Properties"];
            match r["Type"].as_str().unwrap() {
                "AWS::RDS::DBInstance" => {
                    assert_eq!(p["PubliclyAccessible"], false, "{name}: {id}");
                    if p.get("DBClusterIdentifier").is_none() {
                        assert_eq!(p["StorageEncrypted"], true, "{name}: {id}");
                    }
                }
                "AWS::RDS::DBCluster" => assert_eq!(p["StorageEncrypted"], true, "{name}: {id}"),
                "AWS::Redshift::Cluster" => {
                    assert_eq!(p["Encrypted"], true, "{name}: {id}");
                    assert!(
                        p["KmsKeyId"].is_object(),
                        "{name}: {id} uses the stack's KMS key"
                    );
                    assert_eq!(p["PubliclyAccessible"], false, "{name}: {id}");
                }
                "AWS::DynamoDB::Table" => {
                    assert_eq!(p["SSESpecification"]["SSEEnabled"], true, "{name}: {id}");
                    assert_eq!(
                        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
                        "{name}: {id}"
                    );
                }
                _ => {}
            }
            if let Some(pw) = p.get("MasterUserPassword") {
                let s = pw["Fn::Sub"].as_str().unwrap_or_default();
                assert!(
                    s.starts_with("{{resolve:secretsmanager:"),
                    "{name}: {id} password is a dynamic reference"
                );
            }
        }
        assert!(
            t.get("Parameters").is_none(),
            "{name}: no parameters, so no password defaults"
        );
        for (id, o) in t["Outputs"].as_object().unwrap() {
            assert!(
                !o.to_string().to_lowercase().contains("secretstring"),
                "{name}: output {id}"
            );
        }
        assert!(
            !text.contains("\"password\":"),
            "{name}: no inline password"
        );
    }
}

/// The seed write-ups' defects: Lambda outside the VPC, app bound to localhost.
#[test]
fn compute_runs_in_private_subnets_and_listens_on_all_interfaces() {
    for (name, t) in templates_of("app") {
        for (id, f) in resources(&t, "AWS::Lambda::Function") {
            assert!(
                f["Properties"]["VpcConfig"]["SubnetIds"].is_object(),
                "{name}: {id} is in the VPC"
            );
        }
        for (_, task) in resources(&t, "AWS::ECS::TaskDefinition") {
            let cmd = &task["Properties"]["ContainerDefinitions"][0]["Command"];
            let args: Vec<&str> = cmd
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_str().unwrap())
                .collect();
            assert!(
                args.windows(2).any(|w| w == ["--host", "0.0.0.0"]),
                "{name}: {args:?}"
            );
        }
        for (_, service) in resources(&t, "AWS::ECS::Service") {
            let net = &service["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"];
            assert_eq!(net["AssignPublicIp"], "DISABLED", "{name}");
            assert_eq!(
                service["DependsOn"][1], "Migrate",
                "{name}: migrations run before traffic shifts"
            );
        }
        for (_, lt) in resources(&t, "AWS::EC2::LaunchTemplate") {
            let data = &lt["Properties"]["LaunchTemplateData"];
            assert_eq!(
                data["MetadataOptions"]["HttpTokens"], "required",
                "{name}: IMDSv2"
            );
            let script = data["UserData"]["Fn::Base64"]["Fn::Sub"][0]
                .as_str()
                .unwrap();
            assert!(script.contains("--host 0.0.0.0"), "{name}");
        }
        if resources(&t, "AWS::AutoScaling::AutoScalingGroup")
            .next()
            .is_some()
        {
            let patch = resources(&t, "AWS::SSM::Association")
                .next()
                .expect("hosts are patched");
            assert_eq!(
                patch.1["Properties"]["Name"], "AWS-RunPatchBaseline",
                "{name}"
            );
        }
    }
}

#[test]
fn synth_command_writes_every_environment() {
    let temp = tempfile::TempDir::new().unwrap();
    let out = stackwright(&[
        "synth",
        example("todo").to_str().unwrap(),
        "--all-envs",
        "--out",
        temp.path().to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Json = serde_json::from_slice(&out.stdout).unwrap();
    let stacks: Vec<&str> = report["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["stack"].as_str().unwrap())
        .collect();
    assert_eq!(
        stacks,
        [
            "todo-dev-network",
            "todo-dev-artifacts",
            "todo-dev-data",
            "todo-dev-app",
            "todo-dev-edge",
            "todo-prod-network",
            "todo-prod-artifacts",
            "todo-prod-data",
            "todo-prod-app",
            "todo-prod-edge",
            "todo-ec2-network",
            "todo-ec2-artifacts",
            "todo-ec2-data",
            "todo-ec2-app",
            "todo-ec2-edge"
        ]
    );
    assert!(temp.path().join("ec2/app.json").is_file());
    let bad = stackwright(&[
        "synth",
        example("todo").to_str().unwrap(),
        "--env",
        "staging",
    ]);
    assert!(!bad.status.success());
    assert!(
        text(&bad.stderr).contains("unknown environment `staging`; this stack has dev, prod, ec2"),
        "{}",
        text(&bad.stderr)
    );
}

/// `graph` draws what the templates say: the same ports, the same services.
#[test]
fn graph_writes_a_valid_svg_for_every_example() {
    let temp = tempfile::TempDir::new().unwrap();
    let cases = [
        (
            "todo",
            "dev",
            vec![
                "Application load balancer",
                "tcp 80",
                "tcp 3000",
                "tcp 5432",
                "RDS PostgreSQL",
                "ECS Fargate service",
            ],
        ),
        (
            "todo",
            "ec2",
            vec!["EC2 autoscaling group", "SSM patching", "tcp 3000"],
        ),
        (
            "pets",
            "dev",
            vec![
                "API Gateway HTTP API",
                "Lambda function",
                "Aurora MySQL",
                "tcp 3306",
                "secretsmanager",
            ],
        ),
        (
            "mysfits",
            "dev",
            vec!["DynamoDB", "3 tables, 2 GSIs", "dynamodb", "tcp 8080"],
        ),
        (
            "clients",
            "prod",
            vec!["Redshift cluster", "tcp 5439", "app subnets x3"],
        ),
        ("clients", "aurora", vec!["Aurora PostgreSQL", "tcp 5432"]),
        (
            "adoptions",
            "fargate",
            vec![
                "ECS Fargate services x2",
                "the runtime and adopt",
                "tcp 8080, tcp 8081",
            ],
        ),
        (
            "adoptions",
            "dev",
            vec!["Lambda functions x4", "Aurora MySQL"],
        ),
    ];
    for (name, env, expected) in cases {
        let path = temp.path().join(format!("{name}-{env}.svg"));
        let out = stackwright(&[
            "graph",
            example(name).to_str().unwrap(),
            "--env",
            env,
            "--out",
            path.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let svg = std::fs::read_to_string(&path).unwrap();
        let doc = roxmltree::Document::parse(&svg)
            .unwrap_or_else(|e| panic!("{name}/{env}: invalid XML: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        assert_eq!(
            root.tag_name().namespace(),
            Some("http://www.w3.org/2000/svg")
        );
        let texts: Vec<&str> = doc.descendants().filter_map(|n| n.text()).collect();
        let all = texts.join("\n");
        for want in expected {
            assert!(
                all.contains(want),
                "{name}/{env}: `{want}` in the picture:\n{all}"
            );
        }
    }
}

/// Every layer of every example and environment creates, updates and
/// deletes in order against moto, checked through the services' own APIs
/// (tools/cfn_lifecycle.py, which also lists the types moto ignores).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_layer_creates_updates_and_deletes_against_moto() {
    let endpoint = crate::harness::ensure_moto().await;
    let temp = tempfile::TempDir::new().unwrap();
    write_all(temp.path());
    let mut folders: Vec<PathBuf> = Vec::new();
    for name in EXAMPLES {
        let mut envs: Vec<PathBuf> = std::fs::read_dir(temp.path().join(name))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        envs.sort();
        folders.extend(envs);
    }
    assert_eq!(folders.len(), 15);
    // A region per run: moto keeps state across runs, and an interrupted
    // run leaves stacks (and their exports) behind in its region.
    const REGIONS: [&str; 12] = [
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "us-west-1",
        "us-west-2",
        "us-east-2",
        "ca-central-1",
        "ap-south-1",
        "ap-northeast-1",
        "sa-east-1",
    ];
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let region = REGIONS[nanos as usize % REGIONS.len()].to_string();
    let python = root().join(".tools/moto/bin/python");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(root().join("tools/cfn_lifecycle.py"))
            .args([endpoint.as_str(), region.as_str()])
            .args(&folders)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = text(&out.stdout) + &text(&out.stderr);
    assert!(
        out.status.success() && report.contains("lifecycle ok"),
        "{report}"
    );
    // 15 environments, 5 layers each, and mysfits' www a global one (made
    // and deleted, not updated). The network layer of the 8 behind a load
    // balancer has a parameter that stays the same, and so has www's edge
    // (the zone, the certificate): moto ignores a change of tags alone there.
    assert_eq!(report.matches("deleted ").count(), 76, "{report}");
    assert_eq!(report.matches("updated ").count(), 66, "{report}");
    assert_eq!(report.matches("unchanged ").count(), 9, "{report}");
}
