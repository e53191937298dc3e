//! Who the deployed stack may act as, read from the synthesized templates
//! and the deploy role's policy (`stackwright ci aws-policy`): every role
//! carries the permissions boundary, grants name the stack's own resources,
//! the runtime connects as its own database user, and the deploy role,
//! evaluated statement by statement, can do what the templates need and
//! cannot make an administrator.

use serde_json::{json, Value as Json};
use stackwright_synth::data::APP_SECRET_EXPORT;
use stackwright_synth::Settings;

use crate::harness::{example, stackwright, text};

const EXAMPLES: [&str; 5] = ["todo", "pets", "mysfits", "clients", "adoptions"];

/// (example/env, layer, template) for every environment of every example.
fn templates() -> Vec<(String, String, Json)> {
    let mut out = Vec::new();
    for name in EXAMPLES {
        let stack = stackwright_stack::load(&example(name)).unwrap();
        for env in Settings::environments(&stack) {
            let (_, templates) = stackwright_synth::synth(&stack, &env).unwrap();
            for t in templates {
                out.push((
                    format!("{name}/{env}"),
                    t.layer.as_str().to_string(),
                    serde_json::from_str(&t.render()).unwrap(),
                ));
            }
        }
    }
    out
}

fn of_type<'a>(t: &'a Json, ty: &'a str) -> impl Iterator<Item = (&'a String, &'a Json)> + 'a {
    t["Resources"]
        .as_object()
        .unwrap()
        .iter()
        .filter(move |(_, r)| r["Type"] == ty)
}

#[test]
fn every_role_carries_the_boundary_and_only_allowlisted_managed_policies() {
    let boundary = json!({ "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:policy/stackwright-boundary-${AWS::Region}" });
    let allowed: Vec<Json> = stackwright_synth::iam::ATTACHABLE
        .iter()
        .map(|p| json!({ "Fn::Sub": format!("arn:${{AWS::Partition}}:iam::aws:policy/{p}") }))
        .collect();
    let mut roles = 0;
    for (at, layer, t) in templates() {
        for (id, role) in of_type(&t, "AWS::IAM::Role") {
            roles += 1;
            let props = &role["Properties"];
            assert_eq!(props["PermissionsBoundary"], boundary, "{at} {layer} {id}");
            for arn in props["ManagedPolicyArns"].as_array().into_iter().flatten() {
                assert!(allowed.contains(arn), "{at} {layer} {id}: {arn}");
            }
        }
        assert!(
            !t.to_string().contains("AmazonSSMManagedInstanceCore"),
            "{at} {layer}: the scoped SSM policy, not the managed one"
        );
    }
    assert!(roles > 30, "{roles} roles checked");
    // The boundary itself: what stack roles may do, never IAM.
    let boundary = stackwright_synth::iam::boundary_document();
    let allows: Vec<&str> = boundary["Statement"][0]["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        allows.iter().all(|a| !a.starts_with("iam:") && *a != "*"),
        "{allows:?}"
    );
    assert_eq!(boundary["Statement"][1]["Effect"], "Deny");
}

/// On PostgreSQL and MySQL the runtime connects as its own user (rows
/// only), from its own secret; only the migration reads the master secret.
#[test]
fn the_runtime_connects_as_its_own_database_user() {
    let mut checked = 0;
    for (at, layer, t) in templates() {
        if layer != "app" || !t.to_string().contains(APP_SECRET_EXPORT.name()) {
            continue;
        }
        for (id, role) in of_type(&t, "AWS::IAM::Role") {
            let reads_master = role.to_string().contains("-DatabaseSecretArn\"");
            assert_eq!(reads_master, id == "MigrateRole", "{at} {id}");
        }
        for (id, f) in of_type(&t, "AWS::Lambda::Function") {
            let env = &f["Properties"]["Environment"]["Variables"];
            let url = env["STACKWRIGHT_DATABASE_URL"]["Fn::Sub"][0]
                .as_str()
                .unwrap();
            let secret = env["STACKWRIGHT_DATABASE_SECRET_ARN"]["Fn::ImportValue"]
                .as_str()
                .unwrap();
            if id == "MigrateFunction" {
                assert!(url.contains("://stackwright@"), "{at}: {url}");
                assert!(secret.ends_with("-DatabaseSecretArn"), "{at}: {secret}");
                assert!(env["STACKWRIGHT_APP_DATABASE_SECRET_ARN"].is_object());
            } else {
                assert!(url.contains("://stackwright_app@"), "{at} {id}: {url}");
                assert!(
                    secret.ends_with(&format!("-{APP_SECRET_EXPORT}")),
                    "{at} {id}"
                );
                assert_eq!(env["STACKWRIGHT_MIGRATED_ELSEWHERE"], "1", "{at} {id}");
            }
            checked += 1;
        }
        for (_, task) in of_type(&t, "AWS::ECS::TaskDefinition") {
            let container = &task["Properties"]["ContainerDefinitions"][0];
            let secret = container["Secrets"][0]["ValueFrom"].to_string();
            assert!(
                secret.contains(&format!("-{APP_SECRET_EXPORT}")),
                "{at}: {secret}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked}");
}

/// DynamoDB grants name the stack's tables; KMS grants to AWS services are
/// bounded to this stack's log groups, topics and site bucket.
#[test]
fn grants_name_the_stacks_own_resources() {
    for (at, layer, t) in templates() {
        let prefix = at.replace('/', "-");
        for (id, role) in of_type(&t, "AWS::IAM::Role") {
            for st in role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let dynamo = st["Action"].to_string().contains("dynamodb:");
                for r in st["Resource"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|_| dynamo)
                {
                    let arn = r["Fn::Sub"].as_str().unwrap();
                    let table = arn.split(":table/").nth(1).unwrap();
                    let name = table.split('/').next().unwrap();
                    assert!(!name.contains('*'), "{at} {id}: {arn}");
                    assert!(name.starts_with(&format!("{prefix}-")), "{at} {id}: {arn}");
                }
            }
        }
        if layer != "network" {
            continue;
        }
        let (_, key) = of_type(&t, "AWS::KMS::Key").next().unwrap();
        for st in key["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .unwrap()
        {
            let service = st["Principal"]["Service"].to_string();
            let condition = st["Condition"].to_string();
            let action = st["Action"].to_string();
            if service.contains("logs.") && action.contains("Decrypt") {
                assert!(
                    condition.contains(&format!("log-group:{prefix}-*")),
                    "{at}: {st}"
                );
            }
            if service.contains("sns.") {
                assert!(
                    condition.contains("aws:SourceArn")
                        && condition.contains(&format!(":{prefix}-*")),
                    "{at}: {st}"
                );
            }
            if service.contains("cloudfront.") {
                assert!(condition.contains("aws:SourceArn"), "{at}: {st}");
                assert!(
                    condition.contains(&format!("{prefix}-artifacts-sitebucket-*")),
                    "{at}: {st}"
                );
            }
        }
    }
}

#[test]
fn a_changed_email_takes_effect_only_once_verified() {
    let mut pools = 0;
    for (at, _, t) in templates() {
        for (_, pool) in of_type(&t, "AWS::Cognito::UserPool") {
            let settings = &pool["Properties"]["UserAttributeUpdateSettings"];
            assert_eq!(
                settings["AttributesRequireVerificationBeforeUpdate"],
                json!(["email"]),
                "{at}"
            );
            assert_eq!(
                pool["Properties"]["AutoVerifiedAttributes"],
                json!(["email"]),
                "{at}"
            );
            pools += 1;
        }
    }
    assert!(pools > 0);
}

/// One call to AWS, as IAM sees it: action, resource and context keys.
struct Call<'a> {
    action: &'a str,
    resource: &'a str,
    context: Vec<(&'a str, &'a str)>,
}

fn call<'a>(action: &'a str, resource: &'a str, context: &[(&'a str, &'a str)]) -> Call<'a> {
    Call {
        action,
        resource,
        context: context.to_vec(),
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one; actions
/// ignore case.
fn glob(pattern: &str, text: &str, ignore_case: bool) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = if ignore_case {
        (
            pattern.to_lowercase().chars().collect(),
            text.to_lowercase().chars().collect(),
        )
    } else {
        (pattern.chars().collect(), text.chars().collect())
    };
    fn go(p: &[char], t: &[char]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some('*'), _) => go(&p[1..], t) || (!t.is_empty() && go(p, &t[1..])),
            (Some('?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(&p, &t)
}

fn strings(v: &Json) -> Vec<&str> {
    match v {
        Json::String(s) => vec![s.as_str()],
        Json::Array(a) => a.iter().filter_map(Json::as_str).collect(),
        _ => vec![],
    }
}

/// Whether every condition of a statement holds for the call. Negated
/// operators hold when the key is absent, as in IAM.
fn conditions_hold(conditions: &Json, c: &Call) -> bool {
    conditions
        .as_object()
        .into_iter()
        .flatten()
        .all(|(op, keys)| {
            keys.as_object().unwrap().iter().all(|(key, wanted)| {
                let wanted = strings(wanted);
                let given: Vec<&str> = c
                    .context
                    .iter()
                    .filter(|(k, _)| k.eq_ignore_ascii_case(key))
                    .map(|(_, v)| *v)
                    .collect();
                let any = |f: &dyn Fn(&str, &str) -> bool| {
                    given.iter().any(|g| wanted.iter().any(|w| f(w, g)))
                };
                match op.as_str() {
                    "StringEquals" | "ForAnyValue:StringEquals" => any(&|w, g| w == g),
                    "ArnEquals" | "ArnLike" => any(&|w, g| glob(w, g, false)),
                    "ArnNotEquals" | "ArnNotLike" => !any(&|w, g| glob(w, g, false)),
                    "StringNotEquals" => !any(&|w, g| w == g),
                    other => panic!("the evaluator does not know `{other}`"),
                }
            })
        })
}

/// Allowed: some Allow statement matches and no Deny does.
fn allowed(policy: &Json, c: &Call) -> bool {
    let matches = |st: &Json| {
        strings(&st["Action"])
            .iter()
            .any(|a| glob(a, c.action, true))
            && strings(&st["Resource"])
                .iter()
                .any(|r| glob(r, c.resource, false))
            && conditions_hold(&st["Condition"], c)
    };
    let statements = policy["Statement"].as_array().unwrap();
    statements
        .iter()
        .any(|st| st["Effect"] == "Allow" && matches(st))
        && !statements
            .iter()
            .any(|st| st["Effect"] == "Deny" && matches(st))
}

fn deploy_policy(name: &str, env: &str) -> Json {
    let out = stackwright(&[
        "ci",
        "aws-policy",
        example(name).to_str().unwrap(),
        "--env",
        env,
        "--account",
        "123456789012",
        "--region",
        "eu-west-1",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_evaluator_knows_allow_deny_and_conditions() {
    let policy = json!({ "Statement": [
        { "Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/*" },
        { "Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*", "Condition": { "StringEquals": { "iam:PermissionsBoundary": "B" } } },
        { "Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/secret" }
    ] });
    assert!(allowed(
        &policy,
        &call("s3:GetObject", "arn:aws:s3:::b/x", &[])
    ));
    assert!(!allowed(
        &policy,
        &call("s3:GetObject", "arn:aws:s3:::b/secret", &[])
    ));
    assert!(!allowed(
        &policy,
        &call("s3:PutObject", "arn:aws:s3:::b/x", &[])
    ));
    assert!(allowed(
        &policy,
        &call("iam:CreateRole", "r", &[("iam:PermissionsBoundary", "B")])
    ));
    assert!(!allowed(&policy, &call("iam:CreateRole", "r", &[])));
}

/// The deploy role of every example environment: roles only with the
/// boundary, only the allow-listed managed policies, the boundary never
/// removed or edited, roles passed only to their services, no other IAM.
#[test]
fn the_deploy_role_cannot_make_an_administrator() {
    const ACCOUNT: &str = "123456789012";
    for name in EXAMPLES {
        let stack = stackwright_stack::load(&example(name)).unwrap();
        for env in Settings::environments(&stack) {
            let policy = deploy_policy(name, &env);
            let prefix = format!("{name}-{env}");
            let boundary = format!("arn:aws:iam::{ACCOUNT}:policy/stackwright-boundary-eu-west-1");
            let role = format!("arn:aws:iam::{ACCOUNT}:role/{prefix}-app-ApiRole-ABC123");
            let with_boundary = [("iam:PermissionsBoundary", boundary.as_str())];
            let at = format!("{name}/{env}");
            let lambda_vpc = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole";
            let admin = "arn:aws:iam::aws:policy/AdministratorAccess";

            // What the templates need.
            assert!(
                allowed(&policy, &call("iam:CreateRole", &role, &with_boundary)),
                "{at}"
            );
            assert!(
                allowed(&policy, &call("iam:PutRolePolicy", &role, &with_boundary)),
                "{at}"
            );
            let attach_lambda = [with_boundary[0], ("iam:PolicyARN", lambda_vpc)];
            assert!(
                allowed(
                    &policy,
                    &call("iam:AttachRolePolicy", &role, &attach_lambda)
                ),
                "{at}"
            );
            let pass = [("iam:PassedToService", "lambda.amazonaws.com")];
            assert!(
                allowed(&policy, &call("iam:PassRole", &role, &pass)),
                "{at}"
            );
            // Actions IAM gives no boundary key to (replacing and deleting roles).
            for action in [
                "iam:DeleteRole",
                "iam:UpdateAssumeRolePolicy",
                "iam:GetRole",
            ] {
                assert!(
                    allowed(&policy, &call(action, &role, &[])),
                    "{at}: {action}"
                );
            }

            // What would make an administrator.
            let refused = [
                call("iam:CreateRole", &role, &[]),
                call(
                    "iam:CreateRole",
                    &role,
                    &[(
                        "iam:PermissionsBoundary",
                        "arn:aws:iam::123456789012:policy/open",
                    )],
                ),
                call("iam:PutRolePolicy", &role, &[]),
                call(
                    "iam:AttachRolePolicy",
                    &role,
                    &[with_boundary[0], ("iam:PolicyARN", admin)],
                ),
                call(
                    "iam:AttachRolePolicy",
                    &role,
                    &[("iam:PolicyARN", lambda_vpc)],
                ),
                call("iam:DeleteRolePermissionsBoundary", &role, &[]),
                call(
                    "iam:PutRolePermissionsBoundary",
                    &role,
                    &[(
                        "iam:PermissionsBoundary",
                        "arn:aws:iam::123456789012:policy/open",
                    )],
                ),
                call("iam:CreatePolicyVersion", &boundary, &[]),
                call("iam:SetDefaultPolicyVersion", &boundary, &[]),
                call("iam:DeletePolicy", &boundary, &[]),
                call(
                    "iam:CreatePolicy",
                    "arn:aws:iam::123456789012:policy/anything",
                    &[],
                ),
                call("iam:CreateUser", "arn:aws:iam::123456789012:user/x", &[]),
                call(
                    "iam:CreateAccessKey",
                    "arn:aws:iam::123456789012:user/x",
                    &[],
                ),
                call(
                    "iam:CreateRole",
                    "arn:aws:iam::123456789012:role/other-dev-x",
                    &with_boundary,
                ),
                call(
                    "iam:PassRole",
                    &role,
                    &[("iam:PassedToService", "glue.amazonaws.com")],
                ),
                call(
                    "iam:PassRole",
                    "arn:aws:iam::123456789012:role/admin",
                    &pass,
                ),
                call(
                    "iam:UpdateAssumeRolePolicy",
                    "arn:aws:iam::123456789012:role/stackwright-deploy-x",
                    &with_boundary,
                ),
                call(
                    "cloudformation:ExecuteChangeSet",
                    "arn:aws:cloudformation:eu-west-1:123456789012:stack/stackwright-bootstrap/1",
                    &[],
                ),
                call("ec2:RunInstances", "*", &[]),
            ];
            for c in refused {
                assert!(
                    !allowed(&policy, &c),
                    "{at}: {} on {} with {:?} is allowed",
                    c.action,
                    c.resource,
                    c.context
                );
            }
        }
    }
}

/// Every managed policy and service the templates' roles use is one the
/// deploy role may attach and pass roles to.
#[test]
fn the_deploy_role_may_attach_and_pass_what_the_templates_use() {
    for (at, _, t) in templates() {
        let (name, env) = at.split_once('/').unwrap();
        let policy = deploy_policy(name, env);
        let role = format!("arn:aws:iam::123456789012:role/{name}-{env}-x-Role-ABC");
        let boundary = "arn:aws:iam::123456789012:policy/stackwright-boundary-eu-west-1";
        for (id, r) in of_type(&t, "AWS::IAM::Role") {
            for arn in r["Properties"]["ManagedPolicyArns"]
                .as_array()
                .into_iter()
                .flatten()
            {
                let arn = arn["Fn::Sub"]
                    .as_str()
                    .unwrap()
                    .replace("${AWS::Partition}", "aws");
                let context = [
                    ("iam:PermissionsBoundary", boundary),
                    ("iam:PolicyARN", arn.as_str()),
                ];
                assert!(
                    allowed(&policy, &call("iam:AttachRolePolicy", &role, &context)),
                    "{at} {id}: {arn}"
                );
            }
            let service = r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
                ["Service"]
                .as_str()
                .unwrap();
            let context = [("iam:PassedToService", service)];
            assert!(
                allowed(&policy, &call("iam:PassRole", &role, &context)),
                "{at} {id}: {service}"
            );
        }
    }
}

/// The AWS service (IAM's action prefix) of a CloudFormation resource type.
fn service_of(resource_type: &str) -> String {
    let service = resource_type.split("::").nth(1).unwrap();
    match service {
        "ElasticLoadBalancingV2" => "elasticloadbalancing".into(),
        "ApiGatewayV2" => "apigateway".into(),
        "Cognito" => "cognito-idp".into(),
        "ApplicationAutoScaling" => "application-autoscaling".into(),
        "CertificateManager" => "acm".into(),
        other => other.to_lowercase(),
    }
}

/// Every resource type of every template is one CloudFormation may make
/// with the deploy role (IAM and CloudFormation's own are checked above).
#[test]
fn the_deploy_role_may_make_every_resource_type_through_cloudformation() {
    let via = [("aws:CalledVia", "cloudformation.amazonaws.com")];
    for (at, layer, t) in templates() {
        let (name, env) = at.split_once('/').unwrap();
        let policy = deploy_policy(name, env);
        for (id, r) in t["Resources"].as_object().unwrap() {
            let ty = r["Type"].as_str().unwrap();
            let service = service_of(ty);
            if ["iam", "cloudformation"].contains(&service.as_str()) {
                continue;
            }
            let action = format!("{service}:CreateSomething");
            assert!(
                allowed(&policy, &call(&action, "*", &via)),
                "{at} {layer} {id}: {ty} needs {service}:*"
            );
        }
    }
}

/// A web ACL outside us-east-1 is a stack there: the deploy role may drive it.
#[test]
fn the_deploy_role_reaches_the_global_stack_in_us_east_1() {
    // prod has a web ACL; deploy_policy asks for eu-west-1.
    let policy = deploy_policy("todo", "prod");
    let global = "arn:aws:cloudformation:us-east-1:123456789012:stack/todo-prod-global/abc";
    let other = "arn:aws:cloudformation:us-east-1:123456789012:stack/todo-prod-network/abc";
    assert!(allowed(
        &policy,
        &call("cloudformation:CreateChangeSet", global, &[])
    ));
    assert!(!allowed(
        &policy,
        &call("cloudformation:CreateChangeSet", other, &[])
    ));
    let dev = deploy_policy("todo", "dev");
    assert!(!allowed(
        &dev,
        &call(
            "cloudformation:CreateChangeSet",
            global.replace("prod", "dev").as_str(),
            &[]
        )
    ));
}
