//! `stackwright`: the command line. Parses arguments, sets up logging, and
//! hands off to the stack model, storage and server crates.

#![warn(clippy::too_many_lines)]

mod ci;
mod cloud;
mod output;
mod replicas;
mod secrets;
mod serve;
mod service;
mod topics;
mod users;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;
use stackwright_stack::env::{self, RuntimeConfig};
use stackwright_stack::{LoadError, Stack};

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
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text, env = env::LOG_FORMAT)]
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
    Up(serve::UpArgs),
    /// Validate the stack file and its seed files without touching anything.
    Check(CheckArgs),
    /// Apply schema changes and new seed rows to the database, then exit.
    Migrate(serve::MigrateArgs),
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
    /// Run one service in its folder with its wiring (port, database, API, user pool,
    /// secrets), replacing this process: what systemd (EC2) and the service's function
    /// (Lambda) run beside the runtime.
    ExecService(service::ExecServiceArgs),
    /// Set the value of a service's secret in an environment (read from stdin).
    Secrets(cloud::SecretsArgs),
}

#[derive(Args)]
struct OpenapiArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = env::STACK)]
    dir: PathBuf,

    /// Write the document here instead of stdout.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(Args)]
struct GraphArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = env::STACK)]
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
    #[arg(default_value = ".", env = env::STACK)]
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
struct CheckArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = env::STACK)]
    dir: PathBuf,

    /// Check against this engine's rules instead of the stack's `[database] engine`
    /// (postgres, aurora-postgres, aurora-mysql, mysql, dynamodb, redshift).
    #[arg(long, value_parser = parse_engine)]
    engine: Option<stackwright_stack::CloudEngine>,

    /// Print the result (or every problem) as JSON on stdout.
    #[arg(long)]
    json: bool,
}

fn main() -> ExitCode {
    // On Lambda the binary is `bootstrap`, started without arguments.
    let config = RuntimeConfig::from_env();
    if config.lambda_runtime_api.is_some() && std::env::args_os().len() == 1 {
        output::init_logging(true);
        let out = Output::new();
        return match runtime().and_then(|rt| rt.block_on(serve::lambda(&config, &out))) {
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
        Command::Migrate(args) => {
            runtime().and_then(|rt| rt.block_on(serve::migrate(&args, &config, &out)))
        }
        Command::Up(args) => runtime().and_then(|rt| rt.block_on(serve::up(args, &config, &out))),
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
            runtime().and_then(|rt| rt.block_on(topics::publish(&args, &config, &out)))
        }
        Command::Dlq(args) => {
            runtime().and_then(|rt| rt.block_on(topics::dlq(&args, &config, &out)))
        }
        Command::Users(args) => {
            runtime().and_then(|rt| rt.block_on(users::run(&args, &config, &out)))
        }
        Command::Openapi(args) => openapi(&args, &out),
        Command::ExecService(args) => {
            runtime().and_then(|rt| rt.block_on(service::exec_service(&args, &config, &out)))
        }
        Command::Secrets(args) => runtime().and_then(|rt| rt.block_on(cloud::secrets(&args, &out))),
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
/// An error naming the stack's subscriptions when `sub` is none of them.
fn check_subscription(stack: &stackwright_stack::Stack, sub: Option<&str>) -> anyhow::Result<()> {
    if let Some(s) = sub {
        if !stack.subscriptions.iter().any(|x| x.name == s) {
            let known: Vec<&str> = stack
                .subscriptions
                .iter()
                .map(|x| x.name.as_str())
                .collect();
            anyhow::bail!(
                "no subscription `{s}` (subscriptions: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            );
        }
    }
    Ok(())
}

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
