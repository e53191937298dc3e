//! `stackwright exec-service DIR NAME`: run one service of the stack in its
//! folder with the wiring it gets everywhere (port, database, the API
//! beside it, user pool, settings, secrets), replacing this process. On
//! AWS, systemd runs it on EC2 instances and the start script of a
//! service's function runs it on Lambda; there the database password is
//! read from the runtime's secret and the service's secrets from Secrets
//! Manager ([`env::SECRETS_PREFIX`]). Elsewhere secrets come from the
//! environment or `DIR/.stackwright/secrets.toml`, as under `up`.

use std::os::unix::process::CommandExt as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use stackwright_server::services::{parse_ports, Wiring};
use stackwright_stack::env::{self, RuntimeConfig};
use stackwright_stack::{Service, Stack};

use crate::output::Output;
use crate::serve::{database_url, load_served_stack, DatabaseArgs};

#[derive(Args)]
pub struct ExecServiceArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(env = env::STACK)]
    dir: PathBuf,

    /// The service (`[services.NAME]`); it listens on its port in STACKWRIGHT_SERVICE_PORTS.
    name: String,

    /// Address the service listens on (its HOST): 0.0.0.0 where a load
    /// balancer checks its health directly.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Port of the runtime in front of the service, on 127.0.0.1 (its STACKWRIGHT_API_URL).
    #[arg(long, default_value_t = 8080, env = env::PORT)]
    api_port: u16,

    #[command(flatten)]
    database: DatabaseArgs,
}

/// The stack's service `name`, or why there is none.
pub fn named<'s>(stack: &'s Stack, name: &str) -> anyhow::Result<&'s Service> {
    stack
        .services
        .get(name)
        .with_context(|| format!("the stack has no service `{name}`"))
}

pub async fn exec_service(
    args: &ExecServiceArgs,
    config: &RuntimeConfig,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_served_stack(&args.dir, config, out)? else {
        return Ok(ExitCode::FAILURE);
    };
    let service = named(&stack, &args.name)?;
    let ports =
        parse_ports(config.service_ports.as_deref().unwrap_or("")).map_err(anyhow::Error::msg)?;
    let port = *ports.get(&service.name).with_context(|| {
        format!(
            "{} names no port for service `{}`",
            env::SERVICE_PORTS,
            service.name
        )
    })?;
    let database = database_url(&stack, &args.database, config).await?;
    let mut vars = config.vars().clone();
    if let Some(prefix) = &config.secrets_prefix {
        for secret in &service.secrets {
            let name = env::service_secret_name(prefix, &service.name, secret);
            let value = crate::secrets::service_secret(&name, &service.name, secret).await?;
            vars.insert(secret.clone(), value);
        }
    }
    let api_url = stackwright_server::base_url(([127, 0, 0, 1], args.api_port).into());
    let wiring = Wiring {
        user_pool: Wiring::user_pool_of(&stack, &api_url, config.user_pool.as_ref()),
        api_url,
        database,
        vars,
        host: args.host.clone(),
        password_apart: true,
    };
    let environment = wiring.environment(&stack, service, port)?;
    let dir = stack.dir.join(&service.dir);
    tracing::info!(service = %service.name, port, "starting");
    // Only returns when the program could not be started.
    let error = std::process::Command::new(&service.command[0])
        .args(&service.command[1..])
        .current_dir(&dir)
        .env_clear()
        .envs(environment)
        .exec();
    Err(anyhow::anyhow!(
        "service `{}`: cannot start `{}` in {}: {error}",
        service.name,
        service.command[0],
        dir.display()
    ))
}
