//! `stackwright`: the command line. Parses arguments, sets up logging, and
//! hands off to the stack model, storage and server crates.

#![warn(clippy::too_many_lines)]

mod ci;
mod cloud;
mod output;
mod replicas;
mod secrets;
mod topics;
mod users;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;
use stackwright_server::{Application, Settings};
use stackwright_stack::{LoadError, Stack};
use stackwright_storage::DatabaseUrl;

use output::Output;

#[derive(Parser)]
#[command(
    name = "stackwright",
    version,
    about = "One stack file to a running, production-shaped web stack",
    long_about = "Stackwright turns a stackwright.toml (tables, seed data, routes) into a running \
HTTP API. `stackwright up DIR` serves it locally on an embedded SQLite file: no Docker, no \
cloud account, no server to install.",
    after_help = "Logs go to stderr; set STACKWRIGHT_LOG (e.g. `debug`, `stackwright=trace`) to change \
the level. NO_COLOR turns colours off."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,

    /// Format of log lines on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = "STACKWRIGHT_LOG_FORMAT")]
    log_format: LogFormat,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the stack locally: migrate and seed the database, then answer HTTP requests.
    Up(UpArgs),
    /// Validate the stack file and its seed files without touching anything.
    Check(CheckArgs),
    /// Apply schema changes and new seed rows to the database, then exit.
    Migrate(MigrateArgs),
    /// Write the stack's CloudFormation templates (network, artifacts, data, app) for AWS.
    Synth(SynthArgs),
    /// Draw the stack's AWS architecture as an SVG, read from its templates.
    Graph(GraphArgs),
    /// Deploy an environment to AWS: upload artifacts, then create or update each
    /// layer's stack through a change set, showing it first.
    Deploy(cloud::DeployArgs),
    /// Make or update the region's bootstrap stack: the permissions boundary every
    /// role of every stack carries (once per account and region, with credentials
    /// that may create IAM policies; `deploy` does it when it can).
    Bootstrap(cloud::bootstrap::BootstrapArgs),
    /// Show what `deploy` would change in each layer, without changing anything.
    Diff(cloud::DiffArgs),
    /// Show each layer's stack state, drift, and whether the service answers.
    Status(cloud::StatusArgs),
    /// Print the deployed environment's outputs (service URL, bucket, ...).
    Outputs(cloud::OutputsArgs),
    /// Print the service's logs from CloudWatch Logs.
    Logs(cloud::LogsArgs),
    /// Delete an environment from AWS: every stack, artifact, image, secret and log group.
    Destroy(cloud::DestroyArgs),
    /// Write a CI workflow (GitHub Actions) that tests the stack and deploys it on
    /// pushes to a branch with OIDC role credentials.
    Ci(ci::CiArgs),
    /// Publish messages to a topic: stored durably, then applied by the
    /// subscriptions of a running (or the next) `stackwright up`.
    Publish(topics::PublishArgs),
    /// Inspect and re-drive topic messages that failed every attempt.
    Dlq(topics::DlqArgs),
    /// The embedded user pool: list users, confirm one without the code, delete one.
    Users(users::UsersArgs),
    /// Print the stack's API as an OpenAPI 3.1 document (what GET /openapi.json serves).
    Openapi(OpenapiArgs),
}

#[derive(Args)]
struct OpenapiArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = "STACKWRIGHT_STACK")]
    dir: PathBuf,

    /// Write the document here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct GraphArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = "STACKWRIGHT_STACK")]
    dir: PathBuf,

    /// Environment to draw (default dev).
    #[arg(long, default_value = "dev")]
    env: String,

    /// Where to write the SVG (default DIR/.stackwright/graph-ENV.svg; `-` for stdout).
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct SynthArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = "STACKWRIGHT_STACK")]
    dir: PathBuf,

    /// Environment(s) to synthesize: dev, prod, or one declared as [aws.env.NAME]
    /// (repeatable; default dev).
    #[arg(long = "env", value_name = "NAME")]
    envs: Vec<String>,

    /// Synthesize every environment of the stack.
    #[arg(long, conflicts_with = "envs")]
    all_envs: bool,

    /// Output folder; templates go to OUT/ENV/LAYER.json (default DIR/.stackwright/synth).
    #[arg(long)]
    out: Option<PathBuf>,

    /// Print what was written as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct DatabaseArgs {
    /// Database to use instead of the embedded default (DIR/.stackwright/local.db),
    /// e.g. sqlite:///var/lib/app.db.
    #[arg(long, env = "STACKWRIGHT_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,

    /// Read the database password from this file instead of the URL (keeps it out of
    /// the command line and `ps`). STACKWRIGHT_DATABASE_PASSWORD works the same way.
    #[arg(long, env = "STACKWRIGHT_DATABASE_PASSWORD_FILE", value_name = "PATH")]
    database_password_file: Option<PathBuf>,

    /// Apply schema changes that lose data (dropping tables, columns or indexes; changing types).
    #[arg(long)]
    allow_destructive: bool,
}

#[derive(Args)]
struct UpArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = "STACKWRIGHT_STACK")]
    dir: PathBuf,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Port to listen on (0 picks a free one).
    #[arg(long, short, default_value_t = 8080, env = "STACKWRIGHT_PORT")]
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
struct CheckArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = "STACKWRIGHT_STACK")]
    dir: PathBuf,

    /// Check against this engine's rules instead of the stack's `[database] engine`
    /// (postgres, aurora-postgres, aurora-mysql, mysql, dynamodb, redshift).
    #[arg(long, value_parser = parse_engine)]
    engine: Option<stackwright_stack::CloudEngine>,

    /// Print the result (or every problem) as JSON on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
struct MigrateArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = "STACKWRIGHT_STACK")]
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

fn main() -> ExitCode {
    // On Lambda the binary is `bootstrap`, started without arguments.
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1 {
        output::init_logging(true);
        let out = Output::new();
        return match runtime().and_then(|rt| rt.block_on(lambda(&out))) {
            Ok(code) => code,
            Err(e) => {
                out.error(&format!("{e:#}"));
                ExitCode::FAILURE
            }
        };
    }
    let cli = Cli::parse();
    output::init_logging(matches!(cli.log_format, LogFormat::Json));
    let out = Output::new();
    let result = match cli.command {
        Command::Check(args) => check(&args, &out),
        Command::Migrate(args) => runtime().and_then(|rt| rt.block_on(migrate(&args, &out))),
        Command::Up(args) => runtime().and_then(|rt| rt.block_on(up(args, &out))),
        Command::Synth(args) => synth(&args, &out),
        Command::Graph(args) => graph(&args, &out),
        Command::Deploy(args) => runtime().and_then(|rt| rt.block_on(cloud::deploy(&args, &out))),
        Command::Bootstrap(args) => {
            runtime().and_then(|rt| rt.block_on(cloud::bootstrap::run(&args, &out)))
        }
        Command::Diff(args) => runtime().and_then(|rt| rt.block_on(cloud::diff(&args, &out))),
        Command::Status(args) => runtime().and_then(|rt| rt.block_on(cloud::status(&args, &out))),
        Command::Outputs(args) => runtime().and_then(|rt| rt.block_on(cloud::outputs(&args, &out))),
        Command::Logs(args) => runtime().and_then(|rt| rt.block_on(cloud::logs(&args, &out))),
        Command::Destroy(args) => runtime().and_then(|rt| rt.block_on(cloud::destroy(&args, &out))),
        Command::Ci(args) => ci::run(&args, &out),
        Command::Publish(args) => {
            runtime().and_then(|rt| rt.block_on(topics::publish(&args, &out)))
        }
        Command::Dlq(args) => runtime().and_then(|rt| rt.block_on(topics::dlq(&args, &out))),
        Command::Users(args) => runtime().and_then(|rt| rt.block_on(users::run(&args, &out))),
        Command::Openapi(args) => openapi(&args, &out),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            let message = format!("{e:#}");
            out.error(&message);
            // Asked for JSON, a failure is JSON on stdout too: a script
            // reading stdout learns why, not only that it failed.
            if std::env::args().any(|a| a == "--json") {
                out.json(&json!({ "ok": false, "error": message }));
            }
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Load the stack, printing its problems; None when it is invalid.
fn load_stack(dir: &Path, out: &Output, json: bool) -> anyhow::Result<Option<Stack>> {
    load_stack_for(dir, None, out, json)
}

fn load_stack_for(
    dir: &Path,
    engine: Option<stackwright_stack::CloudEngine>,
    out: &Output,
    json: bool,
) -> anyhow::Result<Option<Stack>> {
    report_invalid(stackwright_stack::load_for(dir, engine), out, json)
}

/// The stack `up` serves: as its deployed package holds it where the site
/// is served from a bucket (no site folder), else as [`load_stack`].
fn load_served_stack(dir: &Path, out: &Output) -> anyhow::Result<Option<Stack>> {
    report_invalid(load_served(dir), out, false)
}

fn load_served(dir: &Path) -> Result<Stack, LoadError> {
    match stackwright_stack::site_served_elsewhere() {
        true => stackwright_stack::load_deployed(dir),
        false => stackwright_stack::load(dir),
    }
}

fn report_invalid(
    loaded: Result<Stack, LoadError>,
    out: &Output,
    json: bool,
) -> anyhow::Result<Option<Stack>> {
    match loaded {
        Ok(stack) => Ok(Some(stack)),
        Err(LoadError::Invalid(diags)) => {
            if json {
                out.json(&json!({ "ok": false, "errors": diags }));
            } else {
                out.diagnostics(&diags);
            }
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

fn parse_engine(s: &str) -> Result<stackwright_stack::CloudEngine, String> {
    stackwright_stack::CloudEngine::ALL
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, e)| *e)
        .ok_or_else(|| {
            let names: Vec<&str> = stackwright_stack::CloudEngine::ALL
                .iter()
                .map(|(n, _)| *n)
                .collect();
            format!("expected one of {}", names.join(", "))
        })
}

fn check(args: &CheckArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_stack_for(&args.dir, args.engine, out, args.json)? else {
        return Ok(ExitCode::FAILURE);
    };
    let seeds = match stackwright_storage::seed::load_all(&stack) {
        Ok(seeds) => seeds,
        Err(diags) => {
            if args.json {
                out.json(&json!({ "ok": false, "errors": diags }));
            } else {
                out.diagnostics(&diags);
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let seed_rows: usize = seeds.iter().map(|(_, rows)| rows.len()).sum();
    if args.json {
        out.json(&json!({
            "ok": true,
            "stack": stack.name,
            "tables": stack.tables.len(),
            "routes": stack.routes.len(),
            "seed_rows": seed_rows,
        }));
    } else {
        out.line(&format!(
            "ok: stack `{}`: {} table(s), {} route(s), {} seed row(s)",
            stack.name,
            stack.tables.len(),
            stack.routes.len(),
            seed_rows
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn synth(args: &SynthArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_stack(&args.dir, out, args.json)? else {
        return Ok(ExitCode::FAILURE);
    };
    let envs = if args.all_envs {
        stackwright_synth::Settings::environments(&stack)
    } else if args.envs.is_empty() {
        vec!["dev".to_string()]
    } else {
        args.envs.clone()
    };
    let out_dir = args.out.clone().unwrap_or_else(|| {
        stack
            .dir
            .join(stackwright_storage::local::DIR)
            .join("synth")
    });
    let mut report = Vec::new();
    for env in &envs {
        let (settings, templates) = stackwright_synth::synth(&stack, env)?;
        let paths = stackwright_synth::write(&out_dir, env, &templates)?;
        let prefix = settings.prefix(&stack);
        for (t, path) in templates.iter().zip(&paths) {
            report.push(json!({
                "env": env,
                "layer": t.layer.as_str(),
                "stack": stackwright_synth::stack_name(&prefix, t.layer),
                "resources": t.resources.len(),
                "path": path.display().to_string(),
            }));
            if !args.json {
                out.line(&format!(
                    "{}: {} ({} resources)",
                    stackwright_synth::stack_name(&prefix, t.layer),
                    path.display(),
                    t.resources.len()
                ));
            }
        }
    }
    if args.json {
        out.json(&json!({ "ok": true, "templates": report }));
    }
    Ok(ExitCode::SUCCESS)
}

fn openapi(args: &OpenapiArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_stack(&args.dir, out, false)? else {
        return Ok(ExitCode::FAILURE);
    };
    let text = serde_json::to_string_pretty(&stackwright_stack::openapi::document(&stack))?;
    match &args.out {
        Some(path) => std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => out.line(&text),
    }
    Ok(ExitCode::SUCCESS)
}

fn graph(args: &GraphArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_stack(&args.dir, out, false)? else {
        return Ok(ExitCode::FAILURE);
    };
    let (settings, templates) = stackwright_synth::synth(&stack, &args.env)?;
    let svg = stackwright_synth::graph::svg(
        &format!("{} ({})", settings.prefix(&stack), args.env),
        &templates,
    );
    match &args.out {
        Some(p) if p.as_os_str() == "-" => print!("{svg}"),
        path => {
            let path = path.clone().unwrap_or_else(|| {
                stack
                    .dir
                    .join(stackwright_storage::local::DIR)
                    .join(format!("graph-{}.svg", args.env))
            });
            if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent)
                    .with_context(|| format!("cannot create {}", parent.display()))?;
            }
            std::fs::write(&path, svg)
                .with_context(|| format!("cannot write {}", path.display()))?;
            out.line(&path.display().to_string());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The database to use: `--database-url` (its password from the
/// environment, a file, or the Secrets Manager secret the templates name),
/// else the stack's embedded default, made private.
async fn database_url(stack: &Stack, args: &DatabaseArgs) -> anyhow::Result<DatabaseUrl> {
    match &args.database_url {
        Some(url) => {
            let url: DatabaseUrl = url.parse()?;
            // Most explicit first: a file, the environment, then a secret to look up.
            let password = match (
                &args.database_password_file,
                std::env::var("STACKWRIGHT_DATABASE_PASSWORD"),
            ) {
                (Some(path), _) => Some(
                    std::fs::read_to_string(path)
                        .with_context(|| {
                            format!("cannot read the password file {}", path.display())
                        })?
                        .trim_end_matches(['\r', '\n'])
                        .to_string(),
                ),
                (None, Ok(p)) if !p.is_empty() => Some(p),
                _ => match std::env::var("STACKWRIGHT_DATABASE_SECRET_ARN") {
                    Ok(arn) if !arn.is_empty() => Some(secrets::database_password(&arn).await?),
                    _ => None,
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

async fn migrate(args: &MigrateArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_stack(&args.dir, out, args.json)? else {
        return Ok(ExitCode::FAILURE);
    };
    let url = database_url(&stack, &args.database).await?;
    let engine = stackwright_storage::open(&url).await?;
    let report =
        stackwright_storage::prepare(engine.as_ref(), &stack, args.database.allow_destructive)
            .await?;
    if let Some(name) = &args.app_user {
        let password = std::env::var(stackwright_stack::env::APP_DATABASE_PASSWORD)
            .ok()
            .filter(|p| !p.is_empty())
            .with_context(|| {
                format!(
                    "--app-user needs the user's password in {}",
                    stackwright_stack::env::APP_DATABASE_PASSWORD
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

async fn up(args: UpArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(mut stack) = load_served_stack(&args.dir, out)? else {
        return Ok(ExitCode::FAILURE);
    };
    stack
        .server
        .apply_env(|name| std::env::var(name).ok())
        .map_err(anyhow::Error::msg)?;
    let name = stack.name.clone();
    if args.replicas > 1 {
        return up_replicas(&args, &name, out).await;
    }
    let inherited = replicas::inherited_listener()?;
    let cloud_topics = stackwright_server::cloud_topics::CloudTopics::from_env(&stack)
        .await
        .map_err(anyhow::Error::msg)?;
    let settings = Settings {
        host: args.host.clone(),
        port: args.port,
        database: database_url(&stack, &args.database).await?,
        allow_destructive: args.database.allow_destructive,
        cloud_topics,
        cors_origins: stackwright_server::http::cors::origins_from_env(),
        migrate: std::env::var(stackwright_stack::env::MIGRATED_ELSEWHERE).as_deref() != Ok("1"),
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

/// `up --replicas N`: bind here, serve from N replica processes.
async fn up_replicas(args: &UpArgs, name: &str, out: &Output) -> anyhow::Result<ExitCode> {
    let addr = format!("{}:{}", args.host, args.port);
    let listener =
        std::net::TcpListener::bind(&addr).with_context(|| format!("cannot listen on {addr}"))?;
    let url = stackwright_server::base_url(listener.local_addr()?);
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
    };
    replicas::supervise(
        command,
        listener,
        usize::from(args.replicas),
        name,
        &url,
        args.json,
        out,
    )
    .await
}

/// Lambda: the stack from STACKWRIGHT_STACK, the database from
/// STACKWRIGHT_DATABASE_URL (password from the secret), then invocations.
async fn lambda(out: &Output) -> anyhow::Result<ExitCode> {
    let dir = PathBuf::from(std::env::var("STACKWRIGHT_STACK").unwrap_or_else(|_| ".".into()));
    let migrate_mode = std::env::var("STACKWRIGHT_MODE").as_deref() == Ok("migrate");
    let mut stack = match load_served(&dir) {
        Ok(stack) => stack,
        // CloudFormation waits for an answer: a broken stack fails the deploy, with the reason.
        Err(e) if migrate_mode => {
            let why = e.to_string();
            tracing::error!(%why, "the stack is invalid");
            stackwright_server::lambda::run_custom_resource(|| {
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
        database_url: std::env::var("STACKWRIGHT_DATABASE_URL").ok(),
        database_password_file: None,
        allow_destructive: false,
    };
    let url = match database_url(&stack, &args).await {
        Ok(url) => url,
        // As above: answer CloudFormation rather than leave it waiting.
        Err(e) if migrate_mode => {
            let why = format!("{e:#}");
            tracing::error!(%why, "no database");
            stackwright_server::lambda::run_custom_resource(|| {
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
        stackwright_server::lambda::run_custom_resource(|| {
            let (stack, url) = (stack.clone(), url.clone());
            async move {
                let engine = stackwright_storage::open(&url)
                    .await
                    .map_err(|e| e.to_string())?;
                let report = stackwright_storage::prepare(engine.as_ref(), &stack, false)
                    .await
                    .map_err(|e| e.to_string())?;
                // The runtime connects as its own user, made here.
                if let Ok(arn) = std::env::var(stackwright_stack::env::APP_DATABASE_SECRET_ARN) {
                    let user = secrets::app_user(&arn)
                        .await
                        .map_err(|e| format!("{e:#}"))?;
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
        .apply_env(|name| std::env::var(name).ok())
        .map_err(anyhow::Error::msg)?;
    let cloud = stackwright_server::cloud_topics::CloudTopics::from_env(&stack)
        .await
        .map_err(anyhow::Error::msg)?;
    let handlers = Application::for_lambda(stack, &url, cloud).await?;
    tracing::info!(database = %url, "serving Lambda invocations");
    stackwright_server::lambda::run(handlers).await?;
    Ok(ExitCode::SUCCESS)
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
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
