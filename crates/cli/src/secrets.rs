//! Secrets from Secrets Manager, where the deployed runtime and its
//! migration find them (never in the environment or a template): database
//! credentials, services' secrets, the cursor secret.

use anyhow::Context as _;
use serde_json::Value as Json;
use stackwright_storage::grants::AppUser;

/// Secrets Manager, as the standard AWS chain configures it.
async fn client() -> aws_sdk_secretsmanager::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    aws_sdk_secretsmanager::Client::new(&config)
}

/// A secret's text, by name or ARN; `what` names it in errors, and
/// `unset` is the error for a secret that does not exist, when given.
async fn secret_text(name: &str, what: &str, unset: Option<String>) -> anyhow::Result<String> {
    let value = client()
        .await
        .get_secret_value()
        .secret_id(name)
        .send()
        .await
        .map_err(|e| {
            let missing = e
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception());
            match unset {
                Some(message) if missing => anyhow::anyhow!(message),
                _ => anyhow::anyhow!(
                    "cannot read {what} {name}: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                ),
            }
        })?;
    value
        .secret_string()
        .map(str::to_string)
        .with_context(|| format!("{what} {name} has no text value"))
}

/// A secret holding `username` and `password` as JSON (what the templates
/// generate), as its JSON object.
async fn credentials(secret: &str) -> anyhow::Result<Json> {
    let text = secret_text(secret, "the database secret", None).await?;
    serde_json::from_str(&text)
        .map_err(|_| anyhow::anyhow!("the database secret {secret} is not a JSON object"))
}

fn field(json: &Json, secret: &str, key: &str) -> anyhow::Result<String> {
    json.get(key)
        .and_then(Json::as_str)
        .map(str::to_string)
        .with_context(|| format!("the database secret {secret} has no `{key}` key"))
}

/// A service's secret (a plain string), by name.
pub async fn service_secret(name: &str, service: &str, secret: &str) -> anyhow::Result<String> {
    let unset = format!(
        "service `{service}` needs the secret `{secret}`, which has no value yet: set it with `stackwright secrets set {service} {secret} --env ENV`"
    );
    secret_text(name, "the secret", Some(unset)).await
}

/// The secret list cursors are sealed with (a generated string).
pub async fn cursor_secret(name: &str) -> anyhow::Result<String> {
    secret_text(name, "the cursor secret", None).await
}

/// The password of the database user a secret holds.
pub async fn database_password(secret: &str) -> anyhow::Result<String> {
    field(&credentials(secret).await?, secret, "password")
}

/// The runtime's own database user, as its secret holds it.
pub async fn app_user(secret: &str) -> anyhow::Result<AppUser> {
    let json = credentials(secret).await?;
    Ok(AppUser::new(
        &field(&json, secret, "username")?,
        field(&json, secret, "password")?,
    )?)
}
