//! The app layer: the stackwright runtime on Lambda (behind an HTTP API),
//! Fargate or EC2 (behind an application load balancer), its roles and logs,
//! and the migration that runs once per deploy before traffic shifts.

use serde_json::{json, Value as Json};
use stackwright_stack::env;
use stackwright_stack::{CloudEngine, Compute, Operation, Stack};

use crate::cfn::{r, sub, Layer, Template};
use crate::data::{
    has_app_user, runtime_secret_export, APP_DB_USER, APP_SECRET_EXPORT, DB_NAME, DB_USER,
    SECRET_EXPORT,
};
use crate::outputs::{Output, Parameter};
use crate::Settings;

mod balancer;
mod ec2;
mod fargate;
mod functions;
mod services;

use balancer::load_balancer;
use ec2::ec2;
use fargate::fargate;
use functions::{lambda_api, migration, subscriber};

/// Where the runtime finds the stack inside its image or on an instance.
const STACK_DIR: &str = "/opt/stackwright/stack";
/// Lambda unpacks a function's zip to /var/task.
const LAMBDA_STACK_DIR: &str = "/var/task/stack";

pub fn template(stack: &Stack, s: &Settings) -> Template {
    let prefix = s.prefix(stack);
    let compute = match s.compute {
        Compute::Lambda => "Lambda behind an HTTP API",
        Compute::Fargate => "ECS Fargate behind a load balancer",
        Compute::Ec2 => "EC2 autoscaling group behind a load balancer",
    };
    let mut t = Template::new(Layer::App, format!("Stackwright {prefix}: app ({compute})"));
    t.parameters.insert(
        Parameter::ArtifactKey.name().into(),
        json!({ "Type": "String", "Description": "Key of the runtime zip (Lambda bootstrap plus the stack)" }),
    );
    t.parameters.insert(
        Parameter::DeployId.name().into(),
        json!({ "Type": "String", "Default": "initial", "Description": "Changes on every deploy, so migrations run once per deploy" }),
    );
    let key = Output::KeyArn.import(&prefix);
    t.add(
        "AppLogGroup",
        "AWS::Logs::LogGroup",
        json!({ "RetentionInDays": s.log_retention_days, "KmsKeyId": key.clone() }),
    );
    // `stackwright logs` reads the service's logs from here.
    t.output(
        Output::LogGroup.name(),
        "The runtime's log group",
        r("AppLogGroup"),
        None,
    );

    let mut env = runtime_environment(stack, s, &prefix, Who::Runtime);
    let mut policies = data_access(stack, s, &prefix, Who::Runtime);
    migration(
        &mut t,
        s,
        &prefix,
        &runtime_environment(stack, s, &prefix, Who::Migration),
        &data_access(stack, s, &prefix, Who::Migration),
        key.clone(),
    );

    // Topics: the migration has no use for them; the runtime publishes and,
    // on Fargate and EC2, consumes (on Lambda a subscriber function does).
    let wiring = crate::topics::add(&mut t, stack, s, &prefix, key.clone());
    if let Some((publish_env, publish)) = wiring.as_ref().and_then(|w| w.publish.as_ref()) {
        env.push(publish_env.clone());
        policies.push(publish.clone());
    }
    if s.compute == Compute::Lambda {
        // Anyone may call the HTTP API: the runtime answers only CloudFront.
        env.push((
            env::ORIGIN_SECRET.into(),
            crate::network::origin_secret_value(&prefix),
        ));
        env.push((
            env::CURSOR_KEY.into(),
            crate::network::cursor_secret_value(&prefix),
        ));
    } else {
        // Read once at start, through the NAT.
        let name = crate::network::cursor_secret_name(&prefix);
        env.push((env::CURSOR_SECRET.into(), json!(name)));
        policies.push(json!({
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            // The full ARN ends in a random suffix.
            "Resource": sub(&format!("arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{name}-*"))
        }));
    }
    // A service's front serves requests, and publishes, but consumes nothing.
    let (front_env, front_policies) = (env.clone(), policies.clone());
    if let Some(w) = &wiring {
        if let (Some((queues_env, consume)), true) = (&w.consume, s.compute.polls_queues()) {
            env.push(queues_env.clone());
            policies.push(consume.clone());
        }
    }
    let secrets = crate::services::secrets(&mut t, stack, &prefix);
    let front = services::Front {
        env: &front_env,
        policies: &front_policies,
        key: key.clone(),
    };

    match s.compute {
        Compute::Lambda => {
            lambda_api(&mut t, s, &prefix, &env, &policies, key.clone());
            if let Some((queues_env, consume)) = wiring.as_ref().and_then(|w| w.consume.as_ref()) {
                // It serves no requests: no origin secret, no cursors.
                let mut env: Vec<_> = env
                    .iter()
                    .filter(|(k, _)| k != env::ORIGIN_SECRET && k != env::CURSOR_KEY)
                    .cloned()
                    .collect();
                env.push(queues_env.clone());
                let mut policies = data_access(stack, s, &prefix, Who::Runtime);
                policies.push(consume.clone());
                let queues = &wiring.as_ref().expect("consume implies wiring").queues;
                subscriber(&mut t, s, &prefix, &env, &policies, key, queues);
            }
            services::on_lambda(&mut t, stack, s, &prefix, &front);
        }
        Compute::Fargate => {
            load_balancer(&mut t, stack, s, &prefix, "ip");
            if !stack.services.is_empty() {
                // Each service has its own task and front: this runtime serves none.
                env.push((env::SERVICE_PORTS.into(), json!("")));
            }
            fargate(&mut t, s, &prefix, &env, &policies, key);
            services::on_fargate(&mut t, stack, s, &prefix, &front, &secrets);
        }
        Compute::Ec2 => {
            load_balancer(&mut t, stack, s, &prefix, "instance");
            env.extend(services::ec2_environment(stack, s, &prefix));
            let target_groups = services::on_ec2(&mut t, stack, s, &prefix);
            if !stack.services.is_empty() {
                policies.push(crate::services::secrets_access(s, &prefix));
            }
            let security_groups = stack
                .services
                .keys()
                .map(|name| crate::outputs::ServiceNames::of(name).import_security_group(&prefix))
                .collect();
            let extra = ec2::Services {
                target_groups,
                security_groups,
                units: services::ec2_units(stack),
            };
            ec2(&mut t, s, &prefix, &env, &policies, extra);
        }
    }
    t
}

/// Who connects to the database: the serving runtime (as its own user, rows
/// only) or the migration (as the master user, which makes that user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Runtime,
    Migration,
}

/// The runtime's configuration: the database URL without a password; the
/// password is read from Secrets Manager by the runtime or injected by ECS.
fn runtime_environment(stack: &Stack, s: &Settings, prefix: &str, who: Who) -> Vec<(String, Json)> {
    let mut env = vec![
        (env::LOG_FORMAT.to_string(), json!("json")),
        (env::STACK.to_string(), json!(STACK_DIR)),
    ];
    if stack.users.is_some() {
        env.push((env::USER_POOL_ID.into(), Output::UserPoolId.import(prefix)));
        env.push((
            env::USER_POOL_CLIENT_ID.into(),
            Output::UserPoolClientId.import(prefix),
        ));
    }
    if stack.site.is_some() {
        // The edge serves the site from its bucket, on the API's origin:
        // no CORS is needed.
        env.push((env::SITE_SERVED_ELSEWHERE.into(), json!("1")));
    }
    match s.database {
        CloudEngine::Dynamodb => env.push((
            env::DATABASE_URL.into(),
            sub(&format!("dynamodb://${{AWS::Region}}?prefix={prefix}-")),
        )),
        engine => {
            // Encrypted in transit: RDS PostgreSQL enforces it, the others allow it.
            let (scheme, tls) = match engine {
                CloudEngine::Mysql | CloudEngine::AuroraMysql => ("mysql", "ssl-mode=required"),
                // The PostgreSQL protocol, with the Redshift dialect.
                CloudEngine::Redshift => ("redshift", "sslmode=require"),
                _ => ("postgres", "sslmode=require"),
            };
            let (user, secret) = match who {
                Who::Runtime if has_app_user(engine) => {
                    (APP_DB_USER, runtime_secret_export(engine))
                }
                _ => (DB_USER, SECRET_EXPORT),
            };
            env.push((
                env::DATABASE_URL.into(),
                json!({ "Fn::Sub": [
                    format!("{scheme}://{user}@${{Host}}:${{Port}}/{DB_NAME}?{tls}"),
                    {
                        "Host": Output::DatabaseHost.import(prefix),
                        "Port": Output::DatabasePort.import(prefix)
                    }
                ] }),
            ));
            env.push((env::DATABASE_SECRET_ARN.into(), secret.import(prefix)));
            if has_app_user(engine) {
                env.push(match who {
                    // It may not change the schema: it checks it instead.
                    Who::Runtime => (env::MIGRATED_ELSEWHERE.into(), json!("1")),
                    Who::Migration => (
                        env::APP_DATABASE_SECRET_ARN.into(),
                        APP_SECRET_EXPORT.import(prefix),
                    ),
                });
            }
        }
    }
    env
}

fn env_map(env: &[(String, Json)]) -> Json {
    Json::Object(env.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// What the runtime may do with the data: read its secret, or use its
/// tables. The migration also reads the master user's secret.
fn data_access(stack: &Stack, s: &Settings, prefix: &str, who: Who) -> Vec<Json> {
    let mut statements = vec![json!({
        "Effect": "Allow",
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": Output::KeyArn.import(prefix)
    })];
    match s.database {
        CloudEngine::Dynamodb => statements.push(json!({
            "Effect": "Allow",
            "Action": [
                "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem",
                "dynamodb:Query", "dynamodb:Scan", "dynamodb:DescribeTable", "dynamodb:ConditionCheckItem"
            ],
            // The stack's own tables by name: a prefix pattern would also
            // match another stack whose name starts with this one's.
            "Resource": crate::data::dynamodb_table_names(stack, prefix)
                .iter()
                .flat_map(|table| {
                    let arn = format!("arn:${{AWS::Partition}}:dynamodb:${{AWS::Region}}:${{AWS::AccountId}}:table/{table}");
                    [sub(&arn), sub(&format!("{arn}/index/*"))]
                })
                .collect::<Vec<_>>()
        })),
        engine => {
            let mut secrets = vec![runtime_secret_export(engine)];
            if who == Who::Migration && has_app_user(engine) {
                secrets.push(SECRET_EXPORT);
            }
            statements.push(json!({
                "Effect": "Allow",
                "Action": ["secretsmanager:GetSecretValue"],
                // The full ARN ends in a random suffix.
                "Resource": secrets
                    .iter()
                    .map(|secret| json!({ "Fn::Sub": ["${Secret}-*", { "Secret": secret.import(prefix) }] }))
                    .collect::<Vec<_>>()
            }));
        }
    }
    statements
}

/// The health route's path, for load balancer health checks (and `status`).
pub fn health_path(stack: &Stack) -> String {
    stack
        .routes
        .iter()
        .find(|r| matches!(r.operation, Operation::Health))
        .map_or_else(|| "/".to_string(), |r| r.path.clone())
}
