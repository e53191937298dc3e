//! The runtime's commands: `up` (one server, or replicas sharing a
//! socket), `migrate`, and the Lambda entry point; and where each finds its
//! database. What they read from the environment comes in one
//! [`RuntimeConfig`], read once by `main`.

use stackwright_server::http::cursor::CursorKey;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use stackwright_server::{Application, Settings};
use stackwright_stack::env::{self, RuntimeConfig};
use stackwright_stack::{LoadError, Stack};
use stackwright_storage::DatabaseUrl;

use crate::output::Output;
use crate::{load_stack, output, replicas, report_invalid, secrets};

#[derive(Args)]
pub struct DatabaseArgs {
    /// Database to use instead of the embedded default (DIR/.stackwright/local.db),
    /// e.g. sqlite:///var/lib/app.db.
    #[arg(long, env = env::DATABASE_URL, hide_env_values = true)]
    database_url: Option<String>,

    /// Read the database password from this file instead of the URL (keeps it out of
    /// the command line and `ps`). STACKWRIGHT_DATABASE_PASSWORD works the same way.
    #[arg(long, env = env::DATABASE_PASSWORD_FILE, value_name = "PATH")]
    database_password_file: Option<PathBuf>,

    /// Apply schema changes that lose data (dropping tables, columns or indexes; changing types).
    #[arg(long)]
    allow_destructive: bool,
}

#[derive(Args)]
pub struct UpArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = env::STACK)]
    dir: PathBuf,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8080, env = env::PORT)]
    port: u16,

    #[command(flatten)]
    database: DatabaseArgs,

    /// Run this many server processes sharing one listening socket; SIGHUP
    /// to the supervisor restarts them one at a time without dropping requests.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    replicas: u16,

    /// Print the serving address as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct MigrateArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = env::STACK)]
    dir: PathBuf,

    #[command(flatten)]
    database: DatabaseArgs,

    /// After migrating, make (or update) this database user for the runtime,
    /// with read and write access to the rows only (PostgreSQL, MySQL). Its
    /// password comes from STACKWRIGHT_APP_DATABASE_PASSWORD. Serve with
    /// STACKWRIGHT_MIGRATED_ELSEWHERE=1 as that user.
    #[arg(long, value_name = "NAME")]
    app_user: Option<String>,

    /// Print what was applied as JSON on stdout.
    #[arg(long)]
    json: bool,
}

/// The stack `up` serves: as its deployed package holds it where the site
/// is served from a bucket (no site folder), else as [`load_stack`].
pub fn load_served_stack(
    dir: &std::path::Path,
    config: &RuntimeConfig,
    out: &Output,
) -> anyhow::Result<Option<Stack>> {
    report_invalid(load_served(dir, config), out, false)
}

fn load_served(dir: &std::path::Path, config: &RuntimeConfig) -> Result<Stack, LoadError> {
    match config.site_served_elsewhere {
        true => stackwright_stack::load_deployed(dir),
        false => stackwright_stack::load(dir),
    }
}

/// The database to use: `--database-url` (its password from the
/// environment, a file, or the Secrets Manager secret the templates name),
/// else the stack's embedded default, made private.
pub async fn database_url(
    stack: &Stack,
    args: &DatabaseArgs,
    config: &RuntimeConfig,
) -> anyhow::Result<DatabaseUrl> {
    match &args.database_url {
        Some(url) => {
            let url: DatabaseUrl = url.parse()?;
            // Most explicit first: a file, the environment, then a secret to look up.
            let password = match (&args.database_password_file, &config.database_password) {
                (Some(path), _) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| {
                            format!("cannot read the password file {}", path.display())
                        })?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ),
                (None, Some(p)) => Some(p.clone()),
                (None, None) => match &config.database_secret_arn {
                    Some(arn) => Some(secrets::database_password(arn).await?),
                    None => None,
                },
            };
            Ok(match password {
                Some(p) => url.with_password(p)?,
                None => url,
            })
        }
        None => {
            // Local state: private, and never in version control.
            let dir = stack.dir.join(stackwright_storage::local::DIR);
            stackwright_storage::local::private_dir(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            Ok(DatabaseUrl::local_default(&stack.dir))
        }
    }
}

/// The key list cursors are sealed with, where the templates name a
/// secret for it (else the server uses the stack's local key file).
async fn cursor_key(config: &RuntimeConfig) -> anyhow::Result<Option<CursorKey>> {
    if let Some(value) = &config.cursor_key {
        return Ok(Some(CursorKey::from_secret(value.as_bytes())));
    }
    match &config.cursor_secret {
        Some(name) => {
            let secret = secrets::cursor_secret(name).await?;
            Ok(Some(CursorKey::from_secret(secret.as_bytes())))
        }
        None => Ok(None),
    }
}

pub async fn migrate(
    args: &MigrateArgs,
    config: &RuntimeConfig,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_stack(&args.dir, out, args.json)? else {
        return Ok(ExitCode::FAILURE);
    };
    let url = database_url(&stack, &args.database, config).await?;
    let engine = stackwright_storage::open(&url).await?;
    let report =
        stackwright_storage::prepare(engine.as_ref(), &stack, args.database.allow_destructive)
            .await?;
    if let Some(name) = &args.app_user {
        let password = config.app_database_password.clone().with_context(|| {
            format!(
                "--app-user needs the user's password in {}",
                env::APP_DATABASE_PASSWORD
            )
        })?;
        let user = stackwright_storage::grants::AppUser::new(name, password)?;
        engine.grant_app_user(&user).await?;
        tracing::info!(user = %name, "the runtime's database user may read and write rows only");
    }
    if args.json {
        out.json(&json!({ "ok": true, "database": url.to_string(), "report": report }));
    } else {
        out.prepare_report(&stack.name, &url, &report);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn up(args: UpArgs, config: &RuntimeConfig, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(mut stack) = load_served_stack(&args.dir, config, out)? else {
        return Ok(ExitCode::FAILURE);
    };
    stack
        .server
        .apply_env(|name| config.var(name).map(str::to_string))
        .map_err(anyhow::Error::msg)?;
    let name = stack.name.clone();
    if args.replicas > 1 {
        return up_replicas(&args, &stack, config, out).await;
    }
    let inherited = replicas::inherited_listener(config.listen_fd.as_deref())?;
    let cloud_topics = stackwright_server::cloud_topics::CloudTopics::from_config(&stack, config)
        .await
        .map_err(anyhow::Error::msg)?;
    let settings = Settings {
        host: args.host.clone(),
        port: args.port,
        database: database_url(&stack, &args.database, config).await?,
        allow_destructive: args.database.allow_destructive,
        cloud_topics,
        cors_origins: config.cors_origins.clone(),
        origin_secret: config
            .origin_secret
            .as_deref()
            .map(stackwright_server::http::origin::OriginSecret::new),
        user_pool: config.user_pool.clone(),
        service_vars: config.vars().clone(),
        service_ports: config
            .service_ports
            .as_deref()
            .map(stackwright_server::services::parse_ports)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        migrate: !config.migrated_elsewhere,
        cursor_key: cursor_key(config).await?,
    };
    let app = Application::build_on(stack, &settings, inherited).await?;
    out.log_prepare(app.prepared());
    if args.json {
        out.json(
            &json!({ "stack": name, "url": app.url(), "database": settings.database.to_string() }),
        );
    } else {
        out.line(&format!("serving `{name}` at {}", app.url()));
    }
    tracing::info!(url = %app.url(), database = %settings.database, "serving");
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// `up --replicas N`: bind here, run the services (once for all), serve
/// from N replica processes.
async fn up_replicas(
    args: &UpArgs,
    stack: &Stack,
    config: &RuntimeConfig,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let name = &stack.name;
    let addr = format!("{}:{}", args.host, args.port);
    let listener =
        std::net::TcpListener::bind(&addr).with_context(|| format!("cannot listen on {addr}"))?;
    let url = stackwright_server::base_url(listener.local_addr()?);
    let services = replica_services(args, stack, config, &url).await?;
    let mut exe = std::env::current_exe().context("cannot find the stackwright binary")?;
    // Replaced on disk since it started (an upgrade): start the new one.
    if let Some(path) = exe.to_str().and_then(|p| p.strip_suffix(" (deleted)")) {
        exe = PathBuf::from(path);
    }
    let mut child_args: Vec<std::ffi::OsString> = vec![
        "up".into(),
        args.dir.clone().into(),
        "--json".into(),
        "--log-format".into(),
        match output::log_format_is_json() {
            true => "json",
            false => "text",
        }
        .into(),
    ];
    if args.database.allow_destructive {
        child_args.push("--allow-destructive".into());
    }
    if let Some(file) = &args.database.database_password_file {
        child_args.push("--database-password-file".into());
        child_args.push(file.clone().into());
    }
    let command = replicas::ReplicaCommand {
        exe,
        args: child_args,
        database_url: args.database.database_url.clone(),
        service_ports: services
            .as_ref()
            .map(|s| stackwright_server::services::ports_text(s.targets())),
    };
    let served = replicas::supervise(
        command,
        listener,
        usize::from(args.replicas),
        name,
        &url,
        args.json,
        out,
    )
    .await;
    // After the replicas drained: a service stops with nothing in flight.
    if let Some(services) = services {
        services.stop().await;
    }
    served
}

/// The services of a stack served by replicas, run here once for all of
/// them (a service per replica would multiply its work and its state),
/// after the database is migrated, as a single `up` would.
async fn replica_services(
    args: &UpArgs,
    stack: &Stack,
    config: &RuntimeConfig,
    url: &str,
) -> anyhow::Result<Option<stackwright_server::services::Supervisor>> {
    if stack.services.is_empty() {
        return Ok(None);
    }
    let database = database_url(stack, &args.database, config).await?;
    if !config.migrated_elsewhere {
        let engine = stackwright_storage::open(&database).await?;
        stackwright_storage::prepare(engine.as_ref(), stack, args.database.allow_destructive)
            .await?;
    }
    let settings = Settings {
        host: args.host.clone(),
        port: args.port,
        database,
        allow_destructive: args.database.allow_destructive,
        cloud_topics: None,
        cors_origins: Vec::new(),
        origin_secret: None,
        user_pool: config.user_pool.clone(),
        service_vars: config.vars().clone(),
        service_ports: None,
        migrate: false,
        // Services serve no lists.
        cursor_key: None,
    };
    Ok(stackwright_server::start_services(stack, &settings, url).await?)
}

/// Lambda: the stack from STACKWRIGHT_STACK, the database from
/// STACKWRIGHT_DATABASE_URL (password from the secret), then invocations.
pub async fn lambda(config: &RuntimeConfig, out: &Output) -> anyhow::Result<ExitCode> {
    let dir = config
        .stack_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."));
    let migrate_mode = config.migrate_mode;
    let api = config.lambda_runtime_api.clone();
    let mut stack = match load_served(&dir, config) {
        Ok(stack) => stack,
        // CloudFormation waits for an answer: a broken stack fails the deploy, with the reason.
        Err(e) if migrate_mode => {
            let why = e.to_string();
            tracing::error!(%why, "the stack is invalid");
            stackwright_server::lambda::run_custom_resource(api.clone(), || {
                let why = why.clone();
                async move { Err::<String, String>(format!("the stack is invalid: {why}")) }
            })
            .await?;
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => {
            let _ = report_invalid(Err(e), out, true)?;
            return Ok(ExitCode::FAILURE);
        }
    };
    let args = DatabaseArgs {
        database_url: config.database_url.clone(),
        database_password_file: None,
        allow_destructive: false,
    };
    let url = match database_url(&stack, &args, config).await {
        Ok(url) => url,
        // As above: answer CloudFormation rather than leave it waiting.
        Err(e) if migrate_mode => {
            let why = format!("{e:#}");
            tracing::error!(%why, "no database");
            stackwright_server::lambda::run_custom_resource(api.clone(), || {
                let why = why.clone();
                async move { Err::<String, String>(why) }
            })
            .await?;
            return Ok(ExitCode::FAILURE);
        }
        Err(e) => return Err(e),
    };
    if migrate_mode {
        // The migration custom resource: once per deploy, before traffic shifts.
        tracing::info!(database = %url, "answering migration events");
        let stack = std::sync::Arc::new(stack);
        stackwright_server::lambda::run_custom_resource(api, || {
            let (stack, url) = (stack.clone(), url.clone());
            let app_secret = config.app_database_secret_arn.clone();
            // With a Cognito pool, the embedded pool's tables are not made.
            let users = if config.user_pool.is_some() {
                stackwright_storage::UserTables::Elsewhere
            } else {
                stackwright_storage::UserTables::Embedded
            };
            async move {
                let engine = stackwright_storage::open(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                let report =
                    stackwright_storage::prepare_for(engine.as_ref(), &stack, false, users)
                        .await
                        .map_err(|e| e.to_string())?;
                // The runtime connects as its own user, made here.
                if let Some(arn) = &app_secret {
                    let user = secrets::app_user(arn).await.map_err(|e| format!("{e:#}"))?;
                    engine
                        .grant_app_user(&user)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                let inserted: usize = report.seeds.iter().map(|s| s.inserted).sum();
                Ok(match report.migration.version {
                    Some(v) => format!("applied migration {v}; {inserted} seed row(s) inserted"),
                    None => format!("schema up to date; {inserted} seed row(s) inserted"),
                })
            }
        })
        .await?;
        return Ok(ExitCode::SUCCESS);
    }
    stack
        .server
        .apply_env(|name| config.var(name).map(str::to_string))
        .map_err(anyhow::Error::msg)?;
    let cloud = stackwright_server::cloud_topics::CloudTopics::from_config(&stack, config)
        .await
        .map_err(anyhow::Error::msg)?;
    let cursors = cursor_key(config).await?;
    let handlers = Application::for_lambda(stack, &url, cloud, config, cursors.as_ref()).await?;
    tracing::info!(database = %url, "serving Lambda invocations");
    stackwright_server::lambda::run(handlers, api).await?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
