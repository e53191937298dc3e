//! The app layer's services (see `crate::services`), per compute kind:
//!
//! - Fargate: an ECS service per service, whose task runs the front (the
//!   runtime image) and the service (its own image, pinned by digest);
//! - EC2: a systemd unit per service on every instance, fronted by the
//!   instance's runtime;
//! - Lambda: a function per service, run by the Lambda Web Adapter layer,
//!   whose start script runs the front and the service.
//!
//! On Fargate and EC2 the load balancer sends each service's paths to a
//! target group of its own (listener rules by path prefix), whose health
//! check asks the service itself; on Lambda the HTTP API has routes for
//! them.

use serde_json::{json, Value as Json};
use stackwright_stack::env;
use stackwright_stack::{Service, Stack};

use super::balancer::target_group;
use super::fargate::{awslogs, reads_secret, runtime_container, task_definition};
use super::STACK_DIR;
use crate::cfn::{att, r, sub, Template};
use crate::iam::{managed, role};
use crate::outputs::{Output, ServiceNames};
use crate::services::{
    environment, password_from, ports, ports_value, secrets_access, LAMBDA_START_SCRIPT,
};
use crate::Settings;

/// The Lambda Web Adapter layer (x86_64, version 26 = adapter 0.9.x),
/// published by AWS in every commercial region. `[aws] web_adapter_layer`
/// replaces it (another version, a private copy, another partition).
pub const WEB_ADAPTER_LAYER: &str =
    "arn:${AWS::Partition}:lambda:${AWS::Region}:753240598075:layer:LambdaAdapterLayerX86:26";

/// What the services of an app layer share: the front's environment and
/// rights, and the KMS key.
pub(super) struct Front<'a> {
    pub env: &'a [(String, Json)],
    pub policies: &'a [Json],
    pub key: Json,
}

/// Listener rules: one per two prefixes (a rule takes five condition
/// values: each prefix is two, itself and below it, and the origin secret
/// one).
fn listener_rules(
    t: &mut Template,
    s: &Settings,
    prefix: &str,
    names: &ServiceNames,
    service: &Service,
    first_priority: usize,
) -> usize {
    let mut priority = first_priority;
    for (i, chunk) in service.paths.chunks(2).enumerate() {
        let values: Vec<String> = chunk
            .iter()
            .flat_map(|p| [p.clone(), format!("{p}/*")])
            .collect();
        t.add(
            &names.id(&format!("Rule{i}")),
            "AWS::ElasticLoadBalancingV2::ListenerRule",
            json!({
                "ListenerArn": r(super::balancer::listener_id(s)),
                "Priority": priority,
                "Conditions": [
                    { "Field": "path-pattern", "PathPatternConfig": { "Values": values } },
                    super::balancer::from_edge(prefix)
                ],
                "Actions": [{ "Type": "forward", "TargetGroupArn": r(&names.id("TargetGroup")) }]
            }),
        );
        priority += 1;
    }
    priority
}

fn log_group(
    t: &mut Template,
    s: &Settings,
    prefix: &str,
    names: &ServiceNames,
    service: &Service,
) {
    t.add(
        &names.log_group(),
        "AWS::Logs::LogGroup",
        json!({ "RetentionInDays": s.log_retention_days, "KmsKeyId": Output::KeyArn.import(prefix) }),
    );
    // `stackwright logs --service NAME` reads it.
    t.output(
        &names.log_group(),
        &format!("Logs of service {}", service.name),
        r(&names.log_group()),
        None,
    );
}

/// ECS container secrets: the database password and the service's own.
fn container_secrets(s: &Settings, prefix: &str, secrets: &[(String, String)]) -> Vec<Json> {
    let mut out: Vec<Json> = password_from(s, prefix)
        .map(|from| json!({ "Name": env::SERVICE_DATABASE_PASSWORD, "ValueFrom": from }))
        .into_iter()
        .collect();
    out.extend(
        secrets
            .iter()
            .map(|(name, id)| json!({ "Name": name, "ValueFrom": r(id) })),
    );
    out
}

/// Fargate: per service, a task with the front and the service, an ECS
/// service behind its listener rules, scaled on CPU.
pub(super) fn on_fargate(
    t: &mut Template,
    stack: &Stack,
    s: &Settings,
    prefix: &str,
    front: &Front,
    secrets: &[Vec<(String, String)>],
) {
    let mut priority = 10;
    for ((service, port), own_secrets) in ports(stack, s).into_iter().zip(secrets) {
        let names = ServiceNames::of(&service.name);
        t.parameters.insert(
            names.image_digest(),
            json!({ "Type": "String", "Description": format!("Digest of service {}'s image in the stack's repository (written by stackwright deploy)", service.name) }),
        );
        log_group(t, s, prefix, &names, service);
        target_group(
            t,
            &names.id("TargetGroup"),
            s,
            prefix,
            (&service.health, Some(port)),
            "ip",
        );
        priority = listener_rules(t, s, prefix, &names, service, priority);
        fargate_roles(t, s, prefix, &names, front);
        fargate_task(t, stack, s, prefix, front, (service, port), own_secrets);
        let rules: Vec<String> = (0..service.paths.len().div_ceil(2))
            .map(|i| names.id(&format!("Rule{i}")))
            .collect();
        let (service_id, target_id, policy_id) = (
            names.id("EcsService"),
            names.id("ScalableTarget"),
            names.id("CpuScaling"),
        );
        let ecs = super::fargate::ecs_service(
            t,
            s,
            prefix,
            &super::fargate::Scaled {
                ids: [&service_id, &target_id, &policy_id],
                task: &names.id("TaskDefinition"),
                container: "front",
                target_group: &names.id("TargetGroup"),
                security_group: names.import_security_group(prefix),
                sizing: (service.min, service.max),
                policy: format!("{prefix}-{}-cpu", service.name),
            },
        );
        ecs["DependsOn"] = json!(rules
            .into_iter()
            .chain(["Migrate".to_string()])
            .collect::<Vec<_>>());
    }
}

/// ECS reads the secrets (execution role); the front uses what the
/// runtime uses (task role).
fn fargate_roles(
    t: &mut Template,
    s: &Settings,
    prefix: &str,
    names: &ServiceNames,
    front: &Front,
) {
    role(
        t,
        &names.id("ExecutionRole"),
        "ecs-tasks.amazonaws.com",
        vec![managed("service-role/AmazonECSTaskExecutionRolePolicy")],
        vec![
            secrets_access(s, prefix),
            json!({ "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": front.key }),
        ],
    );
    let task: Vec<Json> = front
        .policies
        .iter()
        .filter(|st| !reads_secret(st))
        .cloned()
        .collect();
    role(
        t,
        &names.id("TaskRole"),
        "ecs-tasks.amazonaws.com",
        vec![],
        task,
    );
}

fn fargate_task(
    t: &mut Template,
    stack: &Stack,
    s: &Settings,
    prefix: &str,
    front: &Front,
    (service, port): (&Service, u16),
    secrets: &[(String, String)],
) {
    let names = ServiceNames::of(&service.name);
    let mut front_env = front.env.to_vec();
    front_env.push((
        env::SERVICE_PORTS.into(),
        json!(format!("{}={port}", service.name)),
    ));
    let logs = |stream| awslogs(r(&names.log_group()), stream);
    let front_container = runtime_container(s, prefix, "front", &front_env, logs("front"));
    let service_env: Vec<Json> = environment(stack, s, prefix, service, port)
        .into_iter()
        .map(|(k, v)| json!({ "Name": k, "Value": v }))
        .collect();
    let service_container = json!({
        "Name": "service",
        "Image": { "Fn::Sub": ["${Repository}@${Digest}", { "Repository": Output::RepositoryUri.import(prefix), "Digest": r(&names.image_digest()) }] },
        "Essential": true,
        "PortMappings": [{ "ContainerPort": port, "Protocol": "tcp" }],
        "Environment": service_env,
        "Secrets": container_secrets(s, prefix, secrets),
        "ReadonlyRootFilesystem": true,
        "User": "65532",
        // A read-only root; the service may still write temporary files.
        "MountPoints": [{ "SourceVolume": "tmp", "ContainerPath": "/tmp", "ReadOnly": false }],
        "LogConfiguration": logs("service")
    });
    let (execution, task) = (names.id("ExecutionRole"), names.id("TaskRole"));
    let definition = task_definition(
        t,
        &names.id("TaskDefinition"),
        (
            &format!("{prefix}-{}", service.name),
            service.cpu,
            service.memory,
        ),
        [&execution, &task],
        vec![front_container, service_container],
    );
    definition["Properties"]["Volumes"] = json!([{ "Name": "tmp" }]);
}

/// EC2: the instances run every service (systemd, see `ec2.rs`); here are
/// their target groups and rules. Returns the target groups, for the
/// autoscaling group to register its instances in.
pub(super) fn on_ec2(t: &mut Template, stack: &Stack, s: &Settings, prefix: &str) -> Vec<Json> {
    let mut priority = 10;
    let mut groups = Vec::new();
    for (service, port) in ports(stack, s) {
        let names = ServiceNames::of(&service.name);
        target_group(
            t,
            &names.id("TargetGroup"),
            s,
            prefix,
            (&service.health, Some(port)),
            "instance",
        );
        priority = listener_rules(t, s, prefix, &names, service, priority);
        groups.push(r(&names.id("TargetGroup")));
    }
    groups
}

/// What the EC2 instances and their runtime add for services: the ports,
/// where the secrets are, the right to read them, and a systemd unit each.
pub(super) fn ec2_environment(stack: &Stack, s: &Settings, prefix: &str) -> Vec<(String, Json)> {
    if stack.services.is_empty() {
        return Vec::new();
    }
    vec![
        (
            env::SERVICE_PORTS.into(),
            json!(ports_value(&ports(stack, s))),
        ),
        (
            env::SECRETS_PREFIX.into(),
            json!(crate::services::secrets_prefix(prefix)),
        ),
    ]
}

/// The systemd units of the services, for the instance's user data.
pub(super) fn ec2_units(stack: &Stack) -> String {
    stack
        .services
        .values()
        .map(|service| {
            format!(
                "cat > /etc/systemd/system/stackwright-{name}.service <<'UNIT'\n\
                 [Unit]\nDescription=Stackwright service {name}\nAfter=network-online.target\n\
                 [Service]\nUser=stackwright\nEnvironmentFile=/etc/stackwright.env\n\
                 ExecStart=/opt/stackwright/bootstrap exec-service {STACK_DIR} {name} --host 0.0.0.0\n\
                 Restart=always\nRestartSec=2\nKillSignal=SIGTERM\nTimeoutStopSec=30\n\
                 [Install]\nWantedBy=multi-user.target\nUNIT\n\
                 systemctl enable --now stackwright-{name}\n",
                name = service.name
            )
        })
        .collect()
}

/// Lambda: a function per service with the Web Adapter layer, and the
/// HTTP API's routes for its paths.
pub(super) fn on_lambda(
    t: &mut Template,
    stack: &Stack,
    s: &Settings,
    prefix: &str,
    front: &Front,
) {
    let layer = s
        .web_adapter_layer
        .clone()
        .map_or_else(|| sub(WEB_ADAPTER_LAYER), Json::String);
    for (service, port) in ports(stack, s) {
        let names = ServiceNames::of(&service.name);
        log_group(t, s, prefix, &names, service);
        let mut env = super::functions::function_env(front.env);
        env.extend([
            (env::PORT.to_string(), json!(s.port.to_string())),
            (
                env::SERVICE_PORTS.to_string(),
                json!(format!("{}={port}", service.name)),
            ),
            (
                env::SECRETS_PREFIX.to_string(),
                json!(crate::services::secrets_prefix(prefix)),
            ),
            (env::SERVICE_NAME.to_string(), json!(service.name)),
            (
                "AWS_LAMBDA_EXEC_WRAPPER".to_string(),
                json!("/opt/bootstrap"),
            ),
            ("AWS_LWA_PORT".to_string(), json!(s.port.to_string())),
            (
                "AWS_LWA_READINESS_CHECK_PORT".to_string(),
                json!(port.to_string()),
            ),
            (
                "AWS_LWA_READINESS_CHECK_PATH".to_string(),
                json!(service.health),
            ),
        ]);
        let mut policies = front.policies.to_vec();
        policies.push(secrets_access(s, prefix));
        let concurrency = if s.production { 50 } else { 5 };
        let function = super::functions::lambda_function(
            t,
            &names.logical,
            s,
            prefix,
            &env,
            &policies,
            front.key.clone(),
            (30, concurrency),
        );
        let props = &mut function["Properties"];
        props["Runtime"] = json!(service.lambda_runtime);
        props["Handler"] = json!(LAMBDA_START_SCRIPT);
        props["Layers"] = json!([layer.clone()]);
        props["MemorySize"] = json!(service.memory.max(128));
        props["VpcConfig"]["SecurityGroupIds"] = json!([names.import_security_group(prefix)]);
        props["LoggingConfig"]["LogGroup"] = r(&names.log_group());
        function["DependsOn"] = json!("Migrate");
        let function_id = format!("{}Function", names.logical);
        t.add(
            &names.id("Integration"),
            "AWS::ApiGatewayV2::Integration",
            json!({
                "ApiId": r("HttpApi"),
                "IntegrationType": "AWS_PROXY",
                "IntegrationUri": att(&function_id, "Arn"),
                "PayloadFormatVersion": "2.0"
            }),
        );
        for (i, path) in service.paths.iter().enumerate() {
            for (j, key) in [format!("ANY {path}"), format!("ANY {path}/{{proxy+}}")]
                .into_iter()
                .enumerate()
            {
                t.add(
                    &names.id(&format!("Route{i}x{j}")),
                    "AWS::ApiGatewayV2::Route",
                    json!({
                        "ApiId": r("HttpApi"),
                        "RouteKey": key,
                        "Target": { "Fn::Sub": ["integrations/${Integration}", { "Integration": r(&names.id("Integration")) }] }
                    }),
                );
            }
        }
        t.add(
            &names.id("Invokes"),
            "AWS::Lambda::Permission",
            json!({
                "Action": "lambda:InvokeFunction",
                "FunctionName": r(&function_id),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*")
            }),
        );
    }
}
