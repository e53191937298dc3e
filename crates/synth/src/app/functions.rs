//! The app layer on Lambda: the runtime as functions (the HTTP API's, the
//! subscriptions', the migration's), each with its role, in the VPC.

use serde_json::{json, Value as Json};
use stackwright_stack::env;

use super::{env_map, LAMBDA_STACK_DIR};
use crate::cfn::{att, r, sub, Template};
use crate::iam::{managed, role};
use crate::outputs::{Output, Parameter};
use crate::Settings;

fn vpc_config(prefix: &str) -> Json {
    json!({
        "SubnetIds": Output::AppSubnets.import_list(prefix),
        "SecurityGroupIds": [Output::AppSecurityGroup.import(prefix)]
    })
}

/// A function running the runtime from the artifact, in the private subnets.
fn function(
    role_id: &str,
    s: &Settings,
    prefix: &str,
    env: Json,
    key: Json,
    timeout: u32,
    concurrency: u32,
) -> Json {
    json!({
        "Runtime": "provided.al2023",
        "Handler": "bootstrap",
        "Architectures": ["x86_64"],
        "Code": { "S3Bucket": Output::ArtifactBucket.import(prefix), "S3Key": r(Parameter::ArtifactKey.name()) },
        "Role": att(role_id, "Arn"),
        "MemorySize": s.lambda_memory,
        "Timeout": timeout,
        "ReservedConcurrentExecutions": concurrency,
        "KmsKeyArn": key,
        "TracingConfig": { "Mode": "Active" },
        "VpcConfig": vpc_config(prefix),
        "LoggingConfig": { "LogGroup": r("AppLogGroup"), "LogFormat": "JSON" },
        "Environment": { "Variables": env }
    })
}

/// The environment of a function: the stack sits where Lambda unpacks the zip.
pub(super) fn function_env(env: &[(String, Json)]) -> Vec<(String, Json)> {
    env.iter()
        .map(|(k, v)| {
            if k == env::STACK {
                (k.clone(), json!(LAMBDA_STACK_DIR))
            } else {
                (k.clone(), v.clone())
            }
        })
        .collect()
}

fn lambda_role_statements(policies: &[Json]) -> Vec<Json> {
    let mut statements = policies.to_vec();
    // Active tracing sends segments to X-Ray.
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": "*"
    }));
    statements.push(json!({
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": att("AppLogGroup", "Arn")
    }));
    statements
}

/// A function and its role (`<name>Role`, `<name>Function`): the runtime
/// from the artifact, in the VPC, logging to the app's group.
#[allow(clippy::too_many_arguments)]
pub(super) fn lambda_function<'t>(
    t: &'t mut Template,
    name: &str,
    s: &Settings,
    prefix: &str,
    env: &[(String, Json)],
    policies: &[Json],
    key: Json,
    (timeout, concurrency): (u32, u32),
) -> &'t mut Json {
    let role_id = format!("{name}Role");
    role(
        t,
        &role_id,
        "lambda.amazonaws.com",
        vec![managed("service-role/AWSLambdaVPCAccessExecutionRole")],
        lambda_role_statements(policies),
    );
    t.add(
        &format!("{name}Function"),
        "AWS::Lambda::Function",
        function(&role_id, s, prefix, env_map(env), key, timeout, concurrency),
    )
}

/// The migration: a function invoked by a custom resource on every deploy
/// (its DeployId changes), before the compute that serves traffic is updated.
pub(super) fn migration(
    t: &mut Template,
    s: &Settings,
    prefix: &str,
    env: &[(String, Json)],
    policies: &[Json],
    key: Json,
) {
    let mut env = function_env(env);
    env.push((env::MODE.into(), json!(env::MIGRATE_MODE)));
    // One at a time: the runtime's own lock makes concurrent runs safe, this makes them rare.
    lambda_function(t, "Migrate", s, prefix, &env, policies, key, (900, 1));
    t.add(
        "Migrate",
        "AWS::CloudFormation::CustomResource",
        json!({ "ServiceToken": att("MigrateFunction", "Arn"), "DeployId": r(Parameter::DeployId.name()) }),
    );
}

pub(super) fn lambda_api(
    t: &mut Template,
    s: &Settings,
    prefix: &str,
    env: &[(String, Json)],
    policies: &[Json],
    key: Json,
) {
    let concurrency = if s.production { 100 } else { 10 };
    let mut env = function_env(env);
    // CloudFront appends the viewer's address to X-Forwarded-For; the
    // adapter appends API Gateway's view of the caller (CloudFront's).
    env.push((
        stackwright_stack::ServerSettings::env_name("trusted_proxy_hops"),
        json!("2"),
    ));
    let function = lambda_function(t, "Api", s, prefix, &env, policies, key, (30, concurrency));
    function["DependsOn"] = json!("Migrate");
    t.add(
        "HttpApi",
        "AWS::ApiGatewayV2::Api",
        json!({ "Name": prefix, "ProtocolType": "HTTP", "Description": format!("Stackwright {prefix}") }),
    );
    t.add(
        "HttpApiIntegration",
        "AWS::ApiGatewayV2::Integration",
        json!({
            "ApiId": r("HttpApi"),
            "IntegrationType": "AWS_PROXY",
            "IntegrationUri": att("ApiFunction", "Arn"),
            "PayloadFormatVersion": "2.0"
        }),
    );
    t.add(
        "HttpApiRoute",
        "AWS::ApiGatewayV2::Route",
        json!({
            "ApiId": r("HttpApi"),
            "RouteKey": "$default",
            "Target": sub("integrations/${HttpApiIntegration}")
        }),
    );
    t.add(
        "HttpApiAccessLogs",
        "AWS::Logs::LogGroup",
        json!({ "RetentionInDays": s.log_retention_days, "KmsKeyId": Output::KeyArn.import(prefix) }),
    );
    t.add(
        "HttpApiStage",
        "AWS::ApiGatewayV2::Stage",
        json!({
            "ApiId": r("HttpApi"),
            "StageName": "$default",
            "AutoDeploy": true,
            "AccessLogSettings": {
                "DestinationArn": att("HttpApiAccessLogs", "Arn"),
                "Format": "{\"requestId\":\"$context.requestId\",\"ip\":\"$context.identity.sourceIp\",\"method\":\"$context.httpMethod\",\"path\":\"$context.path\",\"status\":\"$context.status\",\"latency\":\"$context.responseLatency\"}"
            }
        }),
    );
    t.add(
        "HttpApiInvokes",
        "AWS::Lambda::Permission",
        json!({
            "Action": "lambda:InvokeFunction",
            "FunctionName": r("ApiFunction"),
            "Principal": "apigateway.amazonaws.com",
            "SourceArn": sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${HttpApi}/*")
        }),
    );
    t.output(
        Output::ServiceUrl.name(),
        "The HTTP API's own URL (the distribution is the one to use)",
        att("HttpApi", "ApiEndpoint"),
        Some(Output::ServiceUrl.export(prefix)),
    );
    t.output(
        Output::OriginDomain.name(),
        "Where the distribution sends API requests",
        sub("${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"),
        Some(Output::OriginDomain.export(prefix)),
    );
}

/// On Lambda, the subscriptions' queues trigger a function of their own,
/// in batches; it reports the messages that failed, so only those return.
pub(super) fn subscriber(
    t: &mut Template,
    s: &Settings,
    prefix: &str,
    env: &[(String, Json)],
    policies: &[Json],
    key: Json,
    queues: &[String],
) {
    let concurrency = if s.production { 50 } else { 5 };
    let function = lambda_function(
        t,
        "Subscriber",
        s,
        prefix,
        &function_env(env),
        policies,
        key,
        (crate::topics::SUBSCRIBER_TIMEOUT_SECONDS, concurrency),
    );
    function["DependsOn"] = json!("Migrate");
    for queue in queues {
        t.add(
            &format!("{queue}Trigger"),
            "AWS::Lambda::EventSourceMapping",
            json!({
                "EventSourceArn": att(queue, "Arn"),
                "FunctionName": r("SubscriberFunction"),
                "BatchSize": 10,
                "FunctionResponseTypes": ["ReportBatchItemFailures"]
            }),
        );
    }
}
