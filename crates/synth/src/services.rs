//! A stack's services on AWS, what every compute kind shares: the port
//! each listens on, its secrets, and its wiring. Their security groups are
//! in `network.rs`; how each kind runs them is in `app/services.rs`.
//!
//! Every service runs beside a *front*: the runtime, in the same task
//! (Fargate), on the same instance (EC2) or in the same function (Lambda),
//! proxying the service's paths to it on 127.0.0.1 exactly as `up` does,
//! so the token check, the claim headers, the limits and the request log
//! are the same everywhere. The service reaches the stack's API through
//! that front too (`STACKWRIGHT_API_URL`).

use serde_json::{json, Value as Json};
use stackwright_stack::env;
use stackwright_stack::{CloudEngine, Service, Stack};

use crate::cfn::{sub, Template};
use crate::data::{runtime_secret_export, DB_NAME};
use crate::outputs::{Output, ServiceNames};
use crate::{db_port, Settings};

/// The start script (in the runtime package) a service's function runs:
/// the service in the background, the front in the foreground.
pub const LAMBDA_START_SCRIPT: &str = "run-service.sh";

/// Where a service's folder is in its image on Fargate.
pub const IMAGE_DIR: &str = "/srv/service";

/// Each service's port, after the front's: the front listens on the
/// environment's port, the services on the next ones, in stack-file order
/// (on EC2 they share one host).
pub fn ports<'s>(stack: &'s Stack, s: &Settings) -> Vec<(&'s Service, u16)> {
    stack
        .services
        .values()
        .enumerate()
        .map(|(i, service)| (service, s.port + 1 + i as u16))
        .collect()
}

/// `name=port,...` for [`env::SERVICE_PORTS`].
pub fn ports_value(ports: &[(&Service, u16)]) -> String {
    ports
        .iter()
        .map(|(service, port)| format!("{}={port}", service.name))
        .collect::<Vec<_>>()
        .join(",")
}

/// [`env::SECRETS_PREFIX`]'s value: `todo-dev/`.
pub fn secrets_prefix(prefix: &str) -> String {
    format!("{prefix}/")
}

/// The front's URL, for the service: the runtime beside it.
pub fn api_url(s: &Settings) -> String {
    format!("http://127.0.0.1:{}", s.port)
}

/// App layer: each secret of each service as an empty Secrets Manager
/// entry, which `stackwright secrets set` fills. Returns each service's
/// (variable, logical id) pairs.
pub fn secrets(t: &mut Template, stack: &Stack, prefix: &str) -> Vec<Vec<(String, String)>> {
    stack
        .services
        .values()
        .map(|service| {
            let names = ServiceNames::of(&service.name);
            service
                .secrets
                .iter()
                .map(|secret| {
                    let id = names.id(&format!("Secret{}", crate::cfn::logical(&secret.to_lowercase())));
                    // No value: the secret exists, empty, until someone sets it.
                    t.add(
                        &id,
                        "AWS::SecretsManager::Secret",
                        json!({
                            "Name": env::service_secret_name(&secrets_prefix(prefix), &service.name, secret),
                            "Description": format!("{secret} of service {}: set with `stackwright secrets set {} {secret}`", service.name, service.name),
                            "KmsKeyId": Output::KeyArn.import(prefix)
                        }),
                    );
                    (secret.clone(), id)
                })
                .collect()
        })
        .collect()
}

/// What a service is told on AWS besides its secrets: its port, the
/// database URL without the password, the front's URL, the user pool, and
/// its own settings.
pub fn environment(
    stack: &Stack,
    s: &Settings,
    prefix: &str,
    service: &Service,
    port: u16,
) -> Vec<(String, Json)> {
    // On Fargate the load balancer checks its health at the task's address.
    let mut env = vec![
        (env::SERVICE_PORT.to_string(), json!(port.to_string())),
        (env::SERVICE_HOST.to_string(), json!("0.0.0.0")),
    ];
    if let Some(url) = database_url(s, prefix) {
        env.push((env::SERVICE_DATABASE_URL.into(), url));
    }
    env.push((env::API_URL.into(), json!(api_url(s))));
    if stack.users.is_some() {
        let pool = Output::UserPoolId.import(prefix);
        env.push((
            env::USER_POOL_ISSUER.into(),
            json!({ "Fn::Sub": ["https://cognito-idp.${AWS::Region}.amazonaws.com/${Pool}", { "Pool": pool.clone() }] }),
        ));
        env.push((
            env::USER_POOL_JWKS_URL.into(),
            json!({ "Fn::Sub": ["https://cognito-idp.${AWS::Region}.amazonaws.com/${Pool}/.well-known/jwks.json", { "Pool": pool }] }),
        ));
        env.push((
            env::USER_POOL_CLIENT_ID.into(),
            Output::UserPoolClientId.import(prefix),
        ));
    }
    env.extend(service.env.iter().map(|(k, v)| (k.clone(), json!(v))));
    env
}

/// The database as services see it (the runtime's user; the password is
/// in its own variable): None on DynamoDB, which has no URL form.
fn database_url(s: &Settings, prefix: &str) -> Option<Json> {
    db_port(s.database)?;
    let (scheme, tls) = match s.database {
        CloudEngine::Mysql | CloudEngine::AuroraMysql => ("mysql", "ssl-mode=REQUIRED"),
        _ => ("postgresql", "sslmode=require"),
    };
    let user = crate::data::runtime_user(s.database);
    Some(json!({ "Fn::Sub": [
        format!("{scheme}://{user}@${{Host}}:${{Port}}/{DB_NAME}?{tls}"),
        { "Host": Output::DatabaseHost.import(prefix), "Port": Output::DatabasePort.import(prefix) }
    ] }))
}

/// ECS's reference to the runtime's database password (services connect
/// as the runtime's user).
pub fn password_from(s: &Settings, prefix: &str) -> Option<Json> {
    db_port(s.database)?;
    Some(
        json!({ "Fn::Sub": ["${Secret}:password::", { "Secret": runtime_secret_export(s.database).import(prefix) }] }),
    )
}

/// The right to read the services' secrets (and the database's).
pub fn secrets_access(s: &Settings, prefix: &str) -> Json {
    let mut resources = vec![sub(&format!(
        "arn:${{AWS::Partition}}:secretsmanager:${{AWS::Region}}:${{AWS::AccountId}}:secret:{}*",
        secrets_prefix(prefix)
    ))];
    if db_port(s.database).is_some() {
        resources.push(json!({ "Fn::Sub": ["${Secret}-*", { "Secret": runtime_secret_export(s.database).import(prefix) }] }));
    }
    json!({ "Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"], "Resource": resources })
}
