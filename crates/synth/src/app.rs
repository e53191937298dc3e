//! The app layer: the stackwright runtime on Lambda (behind an HTTP API),
//! Fargate or EC2 (behind an application load balancer), its roles and logs,
//! and the migration that runs once per deploy before traffic shifts.

use serde_json::{json, Value as Json};
use stackwright_stack::env;
use stackwright_stack::{CloudEngine, Compute, Operation, Stack};

use crate::cfn::{att, r, sub, Layer, Template};
use crate::data::{
    has_app_user, runtime_secret_export, APP_DB_USER, APP_SECRET_EXPORT, DB_NAME, DB_USER,
    SECRET_EXPORT,
};
use crate::iam::{managed, role, ssm_agent};
use crate::outputs::{Output, Parameter};
use crate::{db_port, Settings};

mod functions;

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
    if let Some(w) = &wiring {
        env.push(w.publish_env.clone());
        policies.push(w.publish.clone());
        if let (Some((queues_env, consume)), true) = (&w.consume, s.compute.polls_queues()) {
            env.push(queues_env.clone());
            policies.push(consume.clone());
        }
    }

    match s.compute {
        Compute::Lambda => {
            lambda_api(&mut t, s, &prefix, &env, &policies, key.clone());
            if let Some((queues_env, consume)) = wiring.as_ref().and_then(|w| w.consume.as_ref()) {
                let mut env = env.clone();
                env.push(queues_env.clone());
                let mut policies = data_access(stack, s, &prefix, Who::Runtime);
                policies.push(consume.clone());
                let queues = &wiring.as_ref().expect("consume implies wiring").queues;
                subscriber(&mut t, s, &prefix, &env, &policies, key, queues);
            }
        }
        Compute::Fargate => {
            load_balancer(&mut t, stack, s, &prefix, "ip");
            fargate(&mut t, s, &prefix, &env, &policies, key);
        }
        Compute::Ec2 => {
            load_balancer(&mut t, stack, s, &prefix, "instance");
            ec2(&mut t, s, &prefix, &env, &policies);
        }
    }
    t
}

/// The runtime's settings behind the load balancer. It keeps idle
/// connections open longer than the balancer does (60 s by default): if the
/// runtime closed first, the balancer could send a request into a closing
/// connection and answer 502. The balancer itself holds slow clients off
/// the runtime. Every connection comes from the balancer, which appends
/// the client's address to X-Forwarded-For: the runtime's per-client
/// limits count that address.
const BEHIND_BALANCER: [(&str, &str); 2] = [
    ("header_timeout_seconds", "65"),
    ("trusted_proxy_hops", "1"),
];

/// [`BEHIND_BALANCER`] as environment variables.
fn behind_balancer() -> impl Iterator<Item = (String, &'static str)> {
    BEHIND_BALANCER
        .into_iter()
        .map(|(key, value)| (stackwright_stack::ServerSettings::env_name(key), value))
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
        // The site (on CloudFront) calls the API from its own origin.
        env.push((env::CORS_ORIGINS.into(), Output::SiteUrl.import(prefix)));
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

fn load_balancer(t: &mut Template, stack: &Stack, s: &Settings, prefix: &str, target_type: &str) {
    t.add(
        "LoadBalancer",
        "AWS::ElasticLoadBalancingV2::LoadBalancer",
        json!({
            "Type": "application",
            "Scheme": "internet-facing",
            "Subnets": Output::PublicSubnets.import_list(prefix),
            "SecurityGroups": [Output::LoadBalancerSecurityGroup.import(prefix)],
            "LoadBalancerAttributes": [
                { "Key": "routing.http.drop_invalid_header_fields.enabled", "Value": "true" },
                { "Key": "deletion_protection.enabled", "Value": s.deletion_protection.to_string() }
            ]
        }),
    );
    t.add(
        "TargetGroup",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
        json!({
            "VpcId": Output::VpcId.import(prefix),
            "Protocol": "HTTP",
            "Port": s.port,
            "TargetType": target_type,
            "HealthCheckPath": health_path(stack),
            "HealthCheckIntervalSeconds": 15,
            "HealthyThresholdCount": 2,
            "UnhealthyThresholdCount": 3,
            "Matcher": { "HttpCode": "200" },
            "TargetGroupAttributes": [{ "Key": "deregistration_delay.timeout_seconds", "Value": "30" }]
        }),
    );
    match &s.certificate_arn {
        Some(cert) => {
            t.add(
                "HttpsListener",
                "AWS::ElasticLoadBalancingV2::Listener",
                json!({
                    "LoadBalancerArn": r("LoadBalancer"),
                    "Protocol": "HTTPS",
                    "Port": 443,
                    "Certificates": [{ "CertificateArn": cert }],
                    "SslPolicy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                    "DefaultActions": [{ "Type": "forward", "TargetGroupArn": r("TargetGroup") }]
                }),
            );
            t.add(
                "HttpListener",
                "AWS::ElasticLoadBalancingV2::Listener",
                json!({
                    "LoadBalancerArn": r("LoadBalancer"),
                    "Protocol": "HTTP",
                    "Port": 80,
                    "DefaultActions": [{
                        "Type": "redirect",
                        "RedirectConfig": { "Protocol": "HTTPS", "Port": "443", "StatusCode": "HTTP_301" }
                    }]
                }),
            );
            t.output(
                Output::ServiceUrl.name(),
                "URL of the service",
                sub("https://${LoadBalancer.DNSName}"),
                Some(Output::ServiceUrl.export(prefix)),
            );
        }
        None => {
            t.add(
                "HttpListener",
                "AWS::ElasticLoadBalancingV2::Listener",
                json!({
                    "LoadBalancerArn": r("LoadBalancer"),
                    "Protocol": "HTTP",
                    "Port": 80,
                    "DefaultActions": [{ "Type": "forward", "TargetGroupArn": r("TargetGroup") }]
                }),
            );
            t.output(
                Output::ServiceUrl.name(),
                "URL of the service",
                sub("http://${LoadBalancer.DNSName}"),
                Some(Output::ServiceUrl.export(prefix)),
            );
        }
    }
}

fn fargate(
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
    let is_secret = |st: &Json| st["Action"] == json!(["secretsmanager:GetSecretValue"]);
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
        .filter(|st| is_secret(st))
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
        "Name": "app",
        "Image": { "Fn::Sub": ["${Repository}:${ImageTag}", { "Repository": Output::RepositoryUri.import(prefix) }] },
        "Essential": true,
        "Command": ["up", STACK_DIR, "--host", "0.0.0.0"],
        "PortMappings": [{ "ContainerPort": s.port, "Protocol": "tcp" }],
        "Environment": environment,
        "ReadonlyRootFilesystem": true,
        "User": "65532",
        "LogConfiguration": {
            "LogDriver": "awslogs",
            "Options": {
                "awslogs-group": r("AppLogGroup"),
                "awslogs-region": r("AWS::Region"),
                "awslogs-stream-prefix": "app"
            }
        }
    });
    if db_port(s.database).is_some() {
        // ECS reads the password at task start; it is never in the template.
        container["Secrets"] = json!([{
            "Name": env::DATABASE_PASSWORD,
            "ValueFrom": { "Fn::Sub": ["${Secret}:password::", { "Secret": runtime_secret_export(s.database).import(prefix) }] }
        }]);
    }
    t.add(
        "TaskDefinition",
        "AWS::ECS::TaskDefinition",
        json!({
            "Family": prefix,
            "Cpu": s.cpu.to_string(),
            "Memory": s.memory.to_string(),
            "NetworkMode": "awsvpc",
            "RequiresCompatibilities": ["FARGATE"],
            "RuntimePlatform": { "OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64" },
            "ExecutionRoleArn": att("ExecutionRole", "Arn"),
            "TaskRoleArn": att("TaskRole", "Arn"),
            "ContainerDefinitions": [container]
        }),
    );
    let service = t.add(
        "Service",
        "AWS::ECS::Service",
        json!({
            "Cluster": r("Cluster"),
            "LaunchType": "FARGATE",
            "TaskDefinition": r("TaskDefinition"),
            "DesiredCount": s.min,
            "HealthCheckGracePeriodSeconds": 30,
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
                    "SecurityGroups": [Output::AppSecurityGroup.import(prefix)]
                }
            },
            "LoadBalancers": [{ "ContainerName": "app", "ContainerPort": s.port, "TargetGroupArn": r("TargetGroup") }]
        }),
    );
    service["DependsOn"] = json!(["HttpListener", "Migrate"]);
    t.add(
        "ScalableTarget",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        json!({
            "ServiceNamespace": "ecs",
            "ScalableDimension": "ecs:service:DesiredCount",
            "ResourceId": sub("service/${Cluster}/${Service.Name}"),
            "MinCapacity": s.min,
            "MaxCapacity": s.max
        }),
    );
    t.add(
        "CpuScaling",
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        json!({
            "PolicyName": format!("{prefix}-cpu"),
            "PolicyType": "TargetTrackingScaling",
            "ScalingTargetId": r("ScalableTarget"),
            "TargetTrackingScalingPolicyConfiguration": {
                "TargetValue": s.target_cpu,
                "PredefinedMetricSpecification": { "PredefinedMetricType": "ECSServiceAverageCPUUtilization" },
                "ScaleInCooldown": 120,
                "ScaleOutCooldown": 60
            }
        }),
    );
}

fn ec2(t: &mut Template, s: &Settings, prefix: &str, env: &[(String, Json)], policies: &[Json]) {
    t.parameters.insert(
        "ImageId".into(),
        json!({
            "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>",
            "Default": "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
            "Description": "The latest Amazon Linux 2023 image"
        }),
    );
    let mut statements = policies.to_vec();
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["s3:GetObject"],
        "Resource": { "Fn::Sub": [
            "arn:${AWS::Partition}:s3:::${ArtifactBucket}/${ArtifactKey}",
            { "ArtifactBucket": Output::ArtifactBucket.import(prefix) }
        ] }
    }));
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": att("AppLogGroup", "Arn")
    }));
    statements.extend(ssm_agent());
    role(t, "InstanceRole", "ec2.amazonaws.com", vec![], statements);
    t.add(
        "InstanceProfile",
        "AWS::IAM::InstanceProfile",
        json!({ "Roles": [r("InstanceRole")] }),
    );
    let exports: String = env
        .iter()
        .map(|(k, _)| format!("{k}=${{{}}}\n", k.to_lowercase()))
        .collect();
    let script = format!(
        "#!/bin/bash\nset -euo pipefail\n\
         dnf install -y unzip\n\
         mkdir -p /opt/stackwright\n\
         aws s3 cp s3://${{ArtifactBucket}}/${{ArtifactKey}} /opt/stackwright/runtime.zip\n\
         unzip -o /opt/stackwright/runtime.zip -d /opt/stackwright\n\
         useradd --system --no-create-home stackwright || true\n\
         cat > /etc/stackwright.env <<'ENV'\n{exports}STACKWRIGHT_PORT={port}\n{balancer}ENV\n\
         cat > /etc/systemd/system/stackwright.service <<'UNIT'\n\
         [Unit]\nDescription=Stackwright runtime\nAfter=network-online.target\n\
         [Service]\nUser=stackwright\nEnvironmentFile=/etc/stackwright.env\n\
         ExecStart=/opt/stackwright/bootstrap up {STACK_DIR} --host 0.0.0.0\n\
         Restart=always\nKillSignal=SIGTERM\nTimeoutStopSec=30\n\
         [Install]\nWantedBy=multi-user.target\nUNIT\n\
         systemctl daemon-reload\nsystemctl enable --now stackwright\n",
        port = s.port,
        balancer = behind_balancer()
            .map(|(name, value)| format!("{name}={value}\n"))
            .collect::<String>(),
    );
    let mut vars: serde_json::Map<String, Json> = env
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.clone()))
        .collect();
    vars.insert(
        "ArtifactBucket".into(),
        Output::ArtifactBucket.import(prefix),
    );
    t.add(
        "LaunchTemplate",
        "AWS::EC2::LaunchTemplate",
        json!({
            "LaunchTemplateData": {
                "ImageId": r("ImageId"),
                "InstanceType": s.instance_type,
                "IamInstanceProfile": { "Arn": att("InstanceProfile", "Arn") },
                "SecurityGroupIds": [Output::AppSecurityGroup.import(prefix)],
                "MetadataOptions": { "HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1 },
                "Monitoring": { "Enabled": true },
                "BlockDeviceMappings": [{
                    "DeviceName": "/dev/xvda",
                    "Ebs": { "VolumeSize": 8, "VolumeType": "gp3", "Encrypted": true, "DeleteOnTermination": true }
                }],
                "UserData": { "Fn::Base64": { "Fn::Sub": [script, vars] } }
            }
        }),
    );
    let group = t.add(
        "AutoScalingGroup",
        "AWS::AutoScaling::AutoScalingGroup",
        json!({
            "MinSize": s.min.to_string(),
            "MaxSize": s.max.to_string(),
            "VPCZoneIdentifier": Output::AppSubnets.import_list(prefix),
            "LaunchTemplate": { "LaunchTemplateId": r("LaunchTemplate"), "Version": att("LaunchTemplate", "LatestVersionNumber") },
            "TargetGroupARNs": [r("TargetGroup")],
            "HealthCheckType": "ELB",
            "HealthCheckGracePeriod": 120,
            "Tags": [{ "Key": "Name", "Value": prefix, "PropagateAtLaunch": true }]
        }),
    );
    group["DependsOn"] = json!("Migrate");
    group["UpdatePolicy"] = json!({
        // Keep `min` serving while replacing one at a time, if `max` leaves room for it.
        "AutoScalingRollingUpdate": { "MinInstancesInService": s.min.min(s.max - 1), "MaxBatchSize": 1, "PauseTime": "PT5M" }
    });
    t.add(
        "CpuScaling",
        "AWS::AutoScaling::ScalingPolicy",
        json!({
            "AutoScalingGroupName": r("AutoScalingGroup"),
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingConfiguration": {
                "TargetValue": s.target_cpu,
                "PredefinedMetricSpecification": { "PredefinedMetricType": "ASGAverageCPUUtilization" }
            }
        }),
    );
    // Hosts are patched every week by SSM (the Clip challenge's "upgraded regularly").
    t.add(
        "PatchHosts",
        "AWS::SSM::Association",
        json!({
            "Name": "AWS-RunPatchBaseline",
            "AssociationName": format!("{prefix}-patch"),
            "Parameters": { "Operation": ["Install"], "RebootOption": ["RebootIfNeeded"] },
            "Targets": [{ "Key": "tag:aws:autoscaling:groupName", "Values": [r("AutoScalingGroup")] }],
            "ScheduleExpression": "cron(0 3 ? * SUN *)",
            "ComplianceSeverity": "HIGH"
        }),
    );
}
