//! Database credentials from Secrets Manager, where the deployed runtime
//! and its migration find them (never in the environment or a template).

use anyhow::Context as _;
use serde_json::Value as Json;
use stackwright_storage::grants::AppUser;

/// A secret holding `username` and `password` as JSON (what the templates
/// generate), as its JSON object.
async fn credentials(secret: &str) -> anyhow::Result<Json> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let client = aws_sdk_secretsmanager::Client::new(&config);
    let value = client
        .get_secret_value()
        .secret_id(secret)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot read the database secret {secret}: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    let text = value
        .secret_string()
        .with_context(|| format!("the database secret {secret} has no text value"))?;
    serde_json::from_str(text)
        .map_err(|_| anyhow::anyhow!("the database secret {secret} is not a JSON object"))
}

fn field(json: &Json, secret: &str, key: &str) -> anyhow::Result<String> {
    json.get(key)
        .and_then(Json::as_str)
        .map(str::to_string)
        .with_context(|| format!("the database secret {secret} has no `{key}` key"))
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
