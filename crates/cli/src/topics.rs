//! `stackwright publish` and `stackwright dlq`: topics from the command
//! line, on the same database `up` uses.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::{json, Value as Json};
use stackwright_storage::queue::Message;

use crate::load_stack;
use crate::output::Output;
use crate::serve::{database_url, DatabaseArgs};
use stackwright_stack::env::RuntimeConfig;

/// Messages stored per transaction: each commit is synced to disk, so
/// batches keep a large publish fast.
const BATCH: usize = 5000;

#[derive(Args)]
pub struct PublishArgs {
    /// Folder holding stackwright.toml (or the file itself).
    pub dir: PathBuf,

    /// The topic to publish to.
    pub topic: String,

    /// The messages: one JSON object, a JSON array of objects, or one object per
    /// line (newline-delimited JSON); `-` reads stdin. Every message is checked
    /// before any is stored. The result is printed as JSON on stdout.
    #[arg(long = "json", value_name = "FILE|-")]
    pub input: PathBuf,

    /// The id of a single message: publishing the same id again is a duplicate,
    /// applied once (default: a new UUID per message).
    #[arg(long)]
    pub id: Option<String>,

    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Subcommand)]
pub enum DlqCommand {
    /// List the messages that failed every attempt, and how many wait per subscription.
    List(DlqListArgs),
    /// Queue dead letters again (all, one subscription's, or the given ids), attempts reset.
    Redrive(DlqRedriveArgs),
}

/// `--env` and where to find it: a deployed environment instead of a local
/// database.
#[derive(Args)]
pub struct Deployed {
    /// A deployed environment instead of a local database: its
    /// subscriptions' SQS dead-letter queues (the database options are then
    /// not used).
    #[arg(long, value_name = "NAME")]
    pub env: Option<String>,

    /// AWS region (with --env); default as for `deploy`.
    #[arg(long, env = "STACKWRIGHT_REGION", requires = "env")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint (with --env; an emulator such as moto).
    #[arg(
        long,
        env = "STACKWRIGHT_ENDPOINT_URL",
        value_name = "URL",
        requires = "env"
    )]
    pub endpoint_url: Option<String>,
}

impl Deployed {
    /// The environment `--env` names, if any.
    fn target(&self, dir: &std::path::Path, json: bool) -> Option<crate::cloud::Target> {
        self.env.as_ref().map(|env| crate::cloud::Target {
            dir: dir.to_path_buf(),
            env: env.clone(),
            region: self.region.clone(),
            endpoint_url: self.endpoint_url.clone(),
            json,
        })
    }
}

#[derive(Args)]
pub struct DlqListArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = stackwright_stack::env::STACK)]
    pub dir: PathBuf,

    /// Only this subscription (`TOPIC-TABLE`).
    #[arg(long)]
    pub subscription: Option<String>,

    /// With --env: at most this many messages shown per subscription.
    #[arg(long, default_value_t = 10)]
    pub limit: usize,

    #[command(flatten)]
    pub deployed: Deployed,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Print the list as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct DlqRedriveArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = stackwright_stack::env::STACK)]
    pub dir: PathBuf,

    /// Only this subscription (`TOPIC-TABLE`).
    #[arg(long)]
    pub subscription: Option<String>,

    /// Only these message ids (repeatable).
    #[arg(long = "id", value_name = "ID")]
    pub ids: Vec<String>,

    #[command(flatten)]
    pub deployed: Deployed,

    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Print the result as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Messages from text: a JSON document (object or array), else one JSON
/// value per line. Each comes with the line it starts on, for errors.
fn parse_messages(text: &str) -> Result<Vec<(usize, Json)>, String> {
    if let Ok(doc) = serde_json::from_str::<Json>(text) {
        return Ok(match doc {
            Json::Array(items) => items.into_iter().map(|m| (1, m)).collect(),
            one => vec![(1, one)],
        });
    }
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value =
            serde_json::from_str(line).map_err(|e| format!("line {}: not JSON: {e}", i + 1))?;
        out.push((i + 1, value));
    }
    Ok(out)
}

pub async fn publish(
    args: &PublishArgs,
    config: &RuntimeConfig,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_stack(&args.dir, out, true)? else {
        return Ok(ExitCode::FAILURE);
    };
    let Some(topic) = stack.topics.get(&args.topic) else {
        let known: Vec<&str> = stack.topics.keys().map(String::as_str).collect();
        bail!(
            "stack `{}` has no topic `{}` (topics: {})",
            stack.name,
            args.topic,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        );
    };
    let (name, text) = if args.input.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the messages from stdin")?;
        ("stdin".to_string(), text)
    } else {
        let text = std::fs::read_to_string(&args.input)
            .with_context(|| format!("cannot read {}", args.input.display()))?;
        (args.input.display().to_string(), text)
    };
    let values = parse_messages(&text).map_err(|why| anyhow::anyhow!("{name}: {why}"))?;
    if values.is_empty() {
        bail!("{name}: no messages");
    }
    if args.id.is_some() && values.len() != 1 {
        bail!("--id names one message, but {name} holds {}", values.len());
    }
    // Every message is checked before any is stored: a bad file publishes nothing.
    let mut messages = Vec::with_capacity(values.len());
    let single = values.len() == 1;
    for (index, (line, value)) in values.into_iter().enumerate() {
        let body = stackwright_server::topics::check_message(topic, value).map_err(|why| {
            if single {
                anyhow::anyhow!("{name}: {why}; nothing was published")
            } else {
                anyhow::anyhow!(
                    "{name}:{line}: message {}: {why}; nothing was published",
                    index + 1
                )
            }
        })?;
        messages.push(Message {
            id: args
                .id
                .clone()
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            body,
        });
    }
    let url = database_url(&stack, &args.database, config).await?;
    let engine = stackwright_storage::open(&url).await?;
    stackwright_storage::prepare(engine.as_ref(), &stack, false).await?;
    let (mut accepted, mut duplicates, mut done) = (0, 0, 0);
    let started = std::time::Instant::now();
    for chunk in messages.chunks(BATCH) {
        let r = stackwright_server::topics::publish(engine.as_ref(), &stack, &topic.name, chunk)
            .await?;
        accepted += r.accepted;
        duplicates += r.duplicates;
        done += chunk.len();
        if started.elapsed().as_secs() >= 2 {
            eprintln!("published {done} of {} messages", messages.len());
        }
    }
    out.json(&json!({
        "ok": true,
        "topic": topic.name,
        "published": messages.len(),
        "accepted": accepted,
        "duplicates": duplicates,
        "ids": if messages.len() <= 100 { json!(messages.iter().map(|m| &m.id).collect::<Vec<_>>()) } else { Json::Null },
    }));
    Ok(ExitCode::SUCCESS)
}

pub async fn dlq(args: &DlqArgs, config: &RuntimeConfig, out: &Output) -> anyhow::Result<ExitCode> {
    match &args.command {
        DlqCommand::List(a) => match a.deployed.target(&a.dir, a.json) {
            Some(target) => {
                crate::cloud::dlq::list(&target, a.subscription.as_deref(), a.limit, out).await
            }
            None => list(a, config, out).await,
        },
        DlqCommand::Redrive(a) => match a.deployed.target(&a.dir, a.json) {
            Some(target) => {
                crate::cloud::dlq::redrive(&target, a.subscription.as_deref(), &a.ids, out).await
            }
            None => redrive(a, config, out).await,
        },
    }
}

async fn list(
    args: &DlqListArgs,
    config: &RuntimeConfig,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_stack(&args.dir, out, args.json)? else {
        return Ok(ExitCode::FAILURE);
    };
    crate::check_subscription(&stack, args.subscription.as_deref())?;
    let url = database_url(&stack, &args.database, config).await?;
    let engine = stackwright_storage::open(&url).await?;
    stackwright_storage::prepare(engine.as_ref(), &stack, false).await?;
    let dead = engine
        .require_queue()?
        .dead_letters(args.subscription.as_deref())
        .await?;
    let mut queued = serde_json::Map::new();
    for sub in &stack.subscriptions {
        if args.subscription.as_deref().is_none_or(|s| s == sub.name) {
            queued.insert(
                sub.name.clone(),
                json!(engine.require_queue()?.queued(&sub.name).await?),
            );
        }
    }
    if args.json {
        out.json(&json!({ "ok": true, "queued": queued, "dead_letters": dead }));
        return Ok(ExitCode::SUCCESS);
    }
    for (sub, n) in &queued {
        out.line(&format!("{sub}: {n} queued"));
    }
    if dead.is_empty() {
        out.line("no dead letters");
    }
    for d in &dead {
        out.line(&format!(
            "{} {} after {} attempt(s): {}\n  {}",
            d.subscription, d.id, d.attempts, d.error, d.message
        ));
    }
    Ok(ExitCode::SUCCESS)
}

async fn redrive(
    args: &DlqRedriveArgs,
    config: &RuntimeConfig,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let Some(stack) = load_stack(&args.dir, out, args.json)? else {
        return Ok(ExitCode::FAILURE);
    };
    crate::check_subscription(&stack, args.subscription.as_deref())?;
    let url = database_url(&stack, &args.database, config).await?;
    let engine = stackwright_storage::open(&url).await?;
    stackwright_storage::prepare(engine.as_ref(), &stack, false).await?;
    let moved = engine
        .require_queue()?
        .redrive(args.subscription.as_deref(), &args.ids)
        .await?;
    if args.json {
        out.json(&json!({ "ok": true, "redriven": moved }));
    } else {
        out.line(&format!(
            "{moved} message(s) queued again; a running `stackwright up` delivers them"
        ));
    }
    Ok(ExitCode::SUCCESS)
}
