//! `stackwright graph` draws every resource of the templates: each one in
//! the box of its part, grouped by layer, for every example and for a stack
//! with topics, users, a site and every compute kind.

use stackwright_synth::Settings;

use crate::harness::{example, stackwright, text, TempStack};

/// Every compute kind, with topics, users and a site.
const EVERYTHING: &str = r#"
name = "everything"

[database]
engine = "postgres"

[aws]
compute = "lambda"

[aws.env.fargate]
compute = "fargate"

[aws.env.ec2]
compute = "ec2"

[aws.env.dynamo]
compute = "fargate"
database = "dynamodb"

[users]

[site]
dir = "site"

[tables.events]
key = "id"
[tables.events.columns]
id = { type = "bigint", generated = true }
note = { type = "string", max_length = 100 }

[topics.events]
fields = { note = { type = "string", max_length = 100 } }

[[subscriptions]]
topic = "events"
table = "events"
action = "insert"

[[routes]]
method = "GET"
path = "/api/events"
op = "list"
table = "events"
auth = "user"
"#;

/// Each box's title and resources (its tooltip); titles repeat across
/// layers (each has its log groups and roles).
fn boxes(svg: &str) -> Vec<(String, Vec<String>)> {
    let doc = roxmltree::Document::parse(svg).expect("valid XML");
    let mut out = Vec::new();
    for g in doc.descendants().filter(|n| n.has_tag_name("g")) {
        let title = g
            .children()
            .find(|n| n.has_tag_name("title"))
            .and_then(|t| t.text())
            .unwrap_or_default();
        let name = g
            .children()
            .filter(|n| n.has_tag_name("text"))
            .find_map(|t| t.text())
            .unwrap_or_default();
        out.push((
            name.to_string(),
            title.split(", ").map(str::to_string).collect(),
        ));
    }
    out
}

fn check_environment(dir: &std::path::Path, env: &str) -> usize {
    let stack = stackwright_stack::load(dir).unwrap();
    let (_, templates) = stackwright_synth::synth(&stack, env).unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    let drawn = stackwright(&[
        "graph",
        dir.to_str().unwrap(),
        "--env",
        env,
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(drawn.status.success(), "{}", text(&drawn.stderr));
    let svg = std::fs::read_to_string(out.path()).unwrap();
    let boxes = boxes(&svg);
    let mut checked = 0;
    for t in &templates {
        let doc = t.to_json();
        for (id, resource) in doc["Resources"].as_object().unwrap() {
            let ty = resource["Type"].as_str().unwrap();
            assert!(
                stackwright_synth::resources::of(ty).is_some(),
                "{env}: {ty} ({id}) has no place in the picture"
            );
            let holders: Vec<&String> = boxes
                .iter()
                .filter(|(_, ids)| ids.contains(id))
                .map(|(name, _)| name)
                .collect();
            assert!(
                !holders.is_empty(),
                "{}/{env}: {id} ({ty}) is in no box of the picture",
                stack.name
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_resource_of_every_template_is_in_the_picture() {
    let mut resources = 0;
    for name in ["todo", "pets", "mysfits", "clients"] {
        let stack = stackwright_stack::load(&example(name)).unwrap();
        for env in Settings::environments(&stack) {
            resources += check_environment(&example(name), &env);
        }
    }
    let everything = TempStack::new(EVERYTHING);
    everything.write("site/index.html", "<p>hi</p>");
    for env in ["dev", "fargate", "ec2", "dynamo", "prod"] {
        resources += check_environment(everything.path(), env);
    }
    assert!(resources > 500, "{resources} resources checked");
}

/// What the old picture left out is drawn, with its ties: the topic feeding
/// its queue, the queue polled, the distribution reading the site's bucket,
/// the user pool and the image repository.
#[test]
fn topics_users_site_and_images_are_drawn_with_their_ties() {
    let everything = TempStack::new(EVERYTHING);
    everything.write("site/index.html", "<p>hi</p>");
    for (env, expected) in [
        (
            "dev",
            &[
                "SNS topics",
                "SQS queues",
                "subscription",
                "poll",
                "publish",
                "Cognito user pool",
                "verify tokens",
                "CloudFront distribution",
                "https (origin access control)",
                "API Gateway HTTP API",
                "invoke",
            ][..],
        ),
        (
            "fargate",
            &[
                "ECR repository",
                "pull image",
                "ECS Fargate service",
                "tcp 5432",
                "read secret",
            ][..],
        ),
        ("ec2", &["EC2 autoscaling group", "SSM patching"][..]),
        ("dynamo", &["DynamoDB", "tcp 443 (gateway endpoint)"][..]),
    ] {
        let out = tempfile::NamedTempFile::new().unwrap();
        let drawn = stackwright(&[
            "graph",
            everything.path().to_str().unwrap(),
            "--env",
            env,
            "--out",
            out.path().to_str().unwrap(),
        ]);
        assert!(drawn.status.success(), "{}", text(&drawn.stderr));
        let svg = std::fs::read_to_string(out.path()).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let all: String = doc
            .descendants()
            .filter_map(|n| n.text())
            .collect::<Vec<_>>()
            .join("\n");
        for want in expected {
            assert!(all.contains(want), "{env}: `{want}` in the picture:\n{all}");
        }
    }
}
