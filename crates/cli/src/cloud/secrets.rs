//! `stackwright secrets`: the services' secrets of a deployed environment.
//! The templates create each one empty (never a value in a template);
//! `set` gives it a value, read from stdin so that it is in no command
//! line, shell history or `ps` output; `list` shows which have one.

use std::io::Read as _;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use serde_json::json;
use stackwright_stack::env;

use super::{open, Target};
use crate::output::Output;

#[derive(Args)]
pub struct SecretsArgs {
    #[command(subcommand)]
    command: SecretsCommand,
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Set a service's secret to the value on stdin (one trailing newline is dropped).
    /// Running tasks read it when they start: redeploy or let them be replaced.
    Set {
        /// The service (`[services.NAME]`).
        service: String,
        /// The secret's name, as listed in the service's `secrets`.
        secret: String,
        #[command(flatten)]
        target: Target,
    },
    /// List the services' secrets and whether each has a value (never the values).
    List {
        #[command(flatten)]
        target: Target,
    },
}

pub async fn secrets(args: &SecretsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    match &args.command {
        SecretsCommand::Set {
            service,
            secret,
            target,
        } => set(service, secret, target, out).await,
        SecretsCommand::List { target } => list(target, out).await,
    }
}

async fn set(
    service: &str,
    secret: &str,
    target: &Target,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let declared = crate::service::named(&ctx.stack, service)?;
    if !declared.secrets.iter().any(|s| s == secret) {
        bail!(
            "service `{service}` has no secret `{secret}`; its secrets: {}",
            if declared.secrets.is_empty() {
                "none".to_string()
            } else {
                declared.secrets.join(", ")
            }
        );
    }
    let mut value = String::new();
    std::io::stdin()
        .read_to_string(&mut value)
        .context("cannot read the value from stdin")?;
    let value = value.strip_suffix('\n').unwrap_or(&value);
    let value = value.strip_suffix('\r').unwrap_or(value);
    if value.is_empty() {
        bail!("no value on stdin: pipe it in, e.g. `printf %s \"$VALUE\" | stackwright secrets set {service} {secret}`");
    }
    let name = env::service_secret_name(
        &stackwright_synth::services::secrets_prefix(&ctx.prefix),
        service,
        secret,
    );
    ctx.aws
        .secrets()
        .put_secret_value()
        .secret_id(&name)
        .secret_string(value)
        .send()
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "cannot set {name} (is {} deployed?): {}",
                ctx.prefix,
                aws_sdk_secretsmanager::error::DisplayErrorContext(e)
            )
        })?;
    if target.json {
        out.json(&json!({ "ok": true, "secret": name }));
    } else {
        out.line(&format!("{name}: set"));
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(target: &Target, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let prefix = stackwright_synth::services::secrets_prefix(&ctx.prefix);
    let client = ctx.aws.secrets();
    let mut rows = Vec::new();
    for service in ctx.stack.services.values() {
        for secret in &service.secrets {
            let name = env::service_secret_name(&prefix, &service.name, secret);
            let state = match client.describe_secret().secret_id(&name).send().await {
                Ok(d) => {
                    let has_value = d.version_ids_to_stages().is_some_and(|v| {
                        v.values()
                            .any(|stages| stages.iter().any(|s| s == "AWSCURRENT"))
                    });
                    if has_value {
                        "set"
                    } else {
                        "empty"
                    }
                }
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_resource_not_found_exception()) =>
                {
                    "not deployed"
                }
                Err(e) => bail!(
                    "cannot read {name}: {}",
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e)
                ),
            };
            rows.push((service.name.clone(), secret.clone(), name, state));
        }
    }
    if target.json {
        out.json(&json!(rows
            .iter()
            .map(|(service, secret, name, state)| json!({ "service": service, "secret": secret, "name": name, "state": state }))
            .collect::<Vec<_>>()));
    } else {
        for (_, _, name, state) in &rows {
            out.line(&format!("{name}: {state}"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
