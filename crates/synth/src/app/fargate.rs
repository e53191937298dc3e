//! The app layer on ECS Fargate: the runtime's image as a service behind the
//! load balancer, scaled on CPU.

use serde_json::{json, Value as Json};
use stackwright_stack::env;

use super::balancer::behind_balancer;
use super::STACK_DIR;
use crate::cfn::{att, r, Template};
use crate::iam::{managed, role};
use crate::outputs::{Output, Parameter};
use crate::services::password_from;
use crate::Settings;

pub(super) fn fargate(
    t: &mut Template,
    s: &Settings,
    prefix: &str,
    env: &[(String, Json)],
    policies: &[Json],
    key: Json,
) {
    t.parameters.insert(
        Parameter::ImageTag.name().into(),
        json!({ "Type": "String", "Description": "Tag of the runtime image in the stack's repository (written by stackwright deploy)" }),
    );
    t.add(
        "Cluster",
        "AWS::ECS::Cluster",
        json!({ "ClusterSettings": [{ "Name": "containerInsights", "Value": "enabled" }] }),
    );
    // Least privilege: ECS (the execution role) reads the secret to inject
    // the password; the app (the task role) only touches DynamoDB tables.
    let is_tables = |st: &Json| {
        st["Action"].as_array().is_some_and(|a| {
            a.iter().any(|x| {
                x.as_str().is_some_and(|x| {
                    x.starts_with("dynamodb:") || x.starts_with("sns:") || x.starts_with("sqs:")
                })
            })
        })
    };
    let mut execution: Vec<Json> = policies
        .iter()
        .filter(|st| reads_secret(st))
        .cloned()
        .collect();
    execution.push(json!({ "Effect": "Allow", "Action": ["kms:Decrypt"], "Resource": key }));
    let mut task: Vec<Json> = policies
        .iter()
        .filter(|st| is_tables(st))
        .cloned()
        .collect();
    if !task.is_empty() {
        task.push(json!({ "Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key }));
    }
    role(
        t,
        "ExecutionRole",
        "ecs-tasks.amazonaws.com",
        vec![managed("service-role/AmazonECSTaskExecutionRolePolicy")],
        execution,
    );
    role(t, "TaskRole", "ecs-tasks.amazonaws.com", vec![], task);

    let container = runtime_container(s, prefix, "app", env, awslogs(r("AppLogGroup"), "app"));
    task_definition(
        t,
        "TaskDefinition",
        (prefix, s.cpu, s.memory),
        ["ExecutionRole", "TaskRole"],
        vec![container],
    );
    let service = ecs_service(
        t,
        s,
        prefix,
        &Scaled {
            ids: ["Service", "ScalableTarget", "CpuScaling"],
            task: "TaskDefinition",
            container: "app",
            target_group: "TargetGroup",
            security_group: Output::AppSecurityGroup.import(prefix),
            sizing: (s.min, s.max),
            policy: format!("{prefix}-cpu"),
        },
    );
    service["DependsOn"] = json!([super::balancer::listener_id(s), "Migrate"]);
}

/// An ECS service on Fargate behind the load balancer, scaled on CPU.
pub(super) struct Scaled<'a> {
    /// The service's, its scalable target's and its policy's logical ids.
    pub ids: [&'a str; 3],
    pub task: &'a str,
    /// The container the load balancer sends traffic to, on the front's port.
    pub container: &'a str,
    pub target_group: &'a str,
    pub security_group: Json,
    /// (min, max) tasks.
    pub sizing: (u32, u32),
    pub policy: String,
}

/// [`Scaled`] in the template; returns the service, for its dependencies.
pub(super) fn ecs_service<'t>(
    t: &'t mut Template,
    s: &Settings,
    prefix: &str,
    spec: &Scaled,
) -> &'t mut Json {
    let [service_id, target_id, policy_id] = spec.ids;
    t.add(
        target_id,
        "AWS::ApplicationAutoScaling::ScalableTarget",
        json!({
            "ServiceNamespace": "ecs",
            "ScalableDimension": "ecs:service:DesiredCount",
            "ResourceId": json!({ "Fn::Sub": ["service/${Cluster}/${Name}", { "Name": att(service_id, "Name") }] }),
            "MinCapacity": spec.sizing.0,
            "MaxCapacity": spec.sizing.1
        }),
    );
    t.add(
        policy_id,
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        json!({
            "PolicyName": spec.policy,
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": r(target_id),
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": s.target_cpu,
                "PredefinedMetricSpecification": { "PredefinedMetricType": "ECSServiceAverageCPUUtilization" },
                "ScaleInCooldown": 120,
                "ScaleOutCooldown": 60
            }
        }),
    );
    t.add(
        service_id,
        "AWS::ECS::Service",
        json!({
            "Cluster": r("Cluster"),
            "LaunchType": "FARGATE",
            "TaskDefinition": r(spec.task),
            "DesiredCount": spec.sizing.0,
            "HealthCheckGracePeriodSeconds": 60,
            "PropagateTags": "SERVICE",
            "EnableECSManagedTags": true,
            "DeploymentConfiguration": {
                "MinimumHealthyPercent": 100,
                "MaximumPercent": 200,
                "DeploymentCircuitBreaker": { "Enable": true, "Rollback": true }
            },
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {
                    "AssignPublicIp": "DISABLED",
                    "Subnets": Output::AppSubnets.import_list(prefix),
                    "SecurityGroups": [spec.security_group]
                }
            },
            "LoadBalancers": [{ "ContainerName": spec.container, "ContainerPort": s.port, "TargetGroupArn": r(spec.target_group) }]
        }),
    )
}

/// A statement granting a secret's value: ECS needs it (the execution
/// role) to inject the secret; the task itself does not.
pub(super) fn reads_secret(statement: &Json) -> bool {
    statement["Action"] == json!(["secretsmanager:GetSecretValue"])
}

/// The runtime's container, listening on the environment's port behind the
/// load balancer: the app's own task, or a service's front.
pub(super) fn runtime_container(
    s: &Settings,
    prefix: &str,
    name: &str,
    env: &[(String, Json)],
    logs: Json,
) -> Json {
    let mut environment: Vec<Json> = env
        .iter()
        .filter(|(k, _)| k != env::DATABASE_SECRET_ARN)
        .map(|(k, v)| json!({ "Name": k, "Value": v }))
        .collect();
    environment.push(json!({ "Name": env::PORT, "Value": s.port.to_string() }));
    for (name, value) in behind_balancer() {
        environment.push(json!({ "Name": name, "Value": value }));
    }
    let mut container = json!({
        "Name": name,
        "Image": { "Fn::Sub": ["${Repository}:${ImageTag}", { "Repository": Output::RepositoryUri.import(prefix) }] },
        "Essential": true,
        "Command": ["up", STACK_DIR, "--host", "0.0.0.0"],
        "PortMappings": [{ "ContainerPort": s.port, "Protocol": "tcp" }],
        "Environment": environment,
        "ReadonlyRootFilesystem": true,
        "User": "65532",
        "LogConfiguration": logs
    });
    // ECS reads the password at task start; it is never in the template.
    if let Some(from) = password_from(s, prefix) {
        container["Secrets"] = json!([{ "Name": env::DATABASE_PASSWORD, "ValueFrom": from }]);
    }
    container
}

/// A container's logs in `group`, its streams under `stream`.
pub(super) fn awslogs(group: Json, stream: &str) -> Json {
    json!({
        "LogDriver": "awslogs",
        "Options": {
            "awslogs-group": group,
            "awslogs-region": r("AWS::Region"),
            "awslogs-stream-prefix": stream
        }
    })
}

/// A Fargate task definition: `(family, cpu, memory)`, the logical ids of
/// its execution and task roles, its containers.
pub(super) fn task_definition<'t>(
    t: &'t mut Template,
    id: &str,
    (family, cpu, memory): (&str, u32, u32),
    [execution, task]: [&str; 2],
    containers: Vec<Json>,
) -> &'t mut Json {
    t.add(
        id,
        "AWS::ECS::TaskDefinition",
        json!({
            "Family": family,
            "Cpu": cpu.to_string(),
            "Memory": memory.to_string(),
            "NetworkMode": "awsvpc",
            "RequiresCompatibilities": ["FARGATE"],
            "RuntimePlatform": { "OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64" },
            "ExecutionRoleArn": att(execution, "Arn"),
            "TaskRoleArn": att(task, "Arn"),
            "ContainerDefinitions": containers
        }),
    )
}
