//! The AWS lifecycle commands: `deploy`, `diff`, `status`, `outputs`,
//! `logs` and `destroy`. Templates come from `stackwright_synth`; the
//! CloudFormation, S3, ECR, Secrets Manager and CloudWatch Logs calls from
//! `stackwright_deploy`. This module decides the order, asks for
//! confirmation, shows progress and prints results.

pub mod bootstrap;
mod destroy;
pub mod dlq;
mod secrets;
mod terminal;

pub use destroy::{destroy, DestroyArgs};
pub use secrets::{secrets, SecretsArgs};

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Args;
use indexmap::IndexMap;
use serde_json::{json, Value as Json};
use stackwright_deploy::aws::AwsShipping;
use stackwright_deploy::deployer::token;
use stackwright_deploy::{Artifacts, Aws, Cloud, DeployError, Deployer, Outcome, Release};
use stackwright_deploy::{SiteFile, SiteSource};
use stackwright_stack::Stack;
use stackwright_synth::global::GLOBAL_REGION;
use stackwright_synth::outputs::Output as StackOutput;
use stackwright_synth::{Layer, Settings, Template};

use crate::output::Output;
use terminal::{paint, show_plan, Terminal};

/// Where and as whom: shared by every lifecycle command.
#[derive(Args, Clone)]
pub struct Target {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = stackwright_stack::env::STACK)]
    pub dir: PathBuf,

    /// Environment: dev, prod, or one declared as [aws.env.NAME].
    #[arg(long, default_value = "dev")]
    pub env: String,

    /// AWS region; default: the environment's `[aws] region` if the stack file sets
    /// one, else the standard AWS chain (AWS_REGION, the profile), else us-east-1.
    #[arg(long, env = "STACKWRIGHT_REGION")]
    pub region: Option<String>,

    /// Send every AWS call to this endpoint instead (an emulator such as moto).
    /// Credentials still come from the standard chain.
    #[arg(long, env = "STACKWRIGHT_ENDPOINT_URL", value_name = "URL")]
    pub endpoint_url: Option<String>,

    /// Print the result as JSON on stdout (progress still goes to stderr).
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct DeployArgs {
    #[command(flatten)]
    pub target: Target,

    /// Apply without asking for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// Allow changes that replace or remove data-holding resources (databases,
    /// tables, buckets, secrets, keys, repositories, log groups).
    #[arg(long)]
    pub allow_replace: bool,

    /// The runtime binary to package for Lambda, EC2 and the image (default: this
    /// stackwright binary).
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,

    /// Push the runtime image of a Fargate environment to this registry on this
    /// machine (plain HTTP, no credentials) instead of the environment's ECR
    /// repository: for emulators, whose repository URIs lead nowhere.
    #[arg(long, env = "STACKWRIGHT_REGISTRY", value_name = "HOST:PORT")]
    pub registry: Option<String>,
}

#[derive(Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub target: Target,

    /// The runtime binary the diff assumes will be packaged (default: this binary).
    #[arg(long, value_name = "PATH")]
    pub runtime: Option<PathBuf>,
}

#[derive(Args)]
pub struct StatusArgs {
    #[command(flatten)]
    pub target: Target,

    /// Skip drift detection (it asks AWS to compare every resource and can take a minute).
    #[arg(long)]
    pub no_drift: bool,
}

#[derive(Args)]
pub struct OutputsArgs {
    #[command(flatten)]
    pub target: Target,
}

#[derive(Args)]
pub struct LogsArgs {
    #[command(flatten)]
    pub target: Target,

    /// How far back to start: 30s, 10m, 2h, 1d.
    #[arg(long, default_value = "10m", value_parser = parse_age)]
    pub since: Duration,

    /// Keep printing new lines until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// A service's logs (`[services.NAME]`: its front and itself) instead of the runtime's.
    #[arg(long, value_name = "NAME")]
    pub service: Option<String>,
}

fn parse_age(s: &str) -> Result<Duration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("expected a number and a unit (30s, 10m, 2h, 1d), got `{s}`"))?;
    let seconds = match unit {
        "s" => n,
        "m" | "" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("unknown unit `{unit}`: use s, m, h or d")),
    };
    Ok(Duration::from_secs(seconds))
}

/// A stack, its environment's settings and templates, and the AWS clients.
struct Context_ {
    stack: Stack,
    settings: Settings,
    templates: Vec<Template>,
    prefix: String,
    aws: Aws,
    cloud: Cloud,
    /// CloudFormation in us-east-1 for the global layer, when the
    /// environment is elsewhere.
    global: Option<Cloud>,
}

impl Context_ {
    fn stack_name(&self, layer: Layer) -> String {
        stackwright_synth::stack_name(&self.prefix, layer)
    }

    /// CloudFormation where `layer`'s stack lives.
    fn cloud_for(&self, layer: Layer) -> &Cloud {
        match (&self.global, layer) {
            (Some(global), Layer::Global) => global,
            _ => &self.cloud,
        }
    }

    /// The deploy workflow on this context's AWS clients.
    fn deployer<'a>(
        &'a self,
        ui: &'a Terminal,
        registry: Option<&'a str>,
        allow_replace: bool,
    ) -> Deployer<'a, Cloud, AwsShipping<'a>, Terminal> {
        Deployer {
            stacks: &self.cloud,
            global: self.global.as_ref().unwrap_or(&self.cloud),
            shipping: AwsShipping {
                aws: &self.aws,
                registry,
            },
            ui,
            region: self.aws.region(),
            endpoint: self.aws.endpoint().map(str::to_string),
            allow_replace,
        }
    }
}

async fn open(target: &Target, out: &Output) -> anyhow::Result<Option<Context_>> {
    let Some(mut stack) = crate::load_stack(&target.dir, out, target.json)? else {
        return Ok(None);
    };
    // The stack file's region only when it names one: otherwise the chain's.
    let declared = stack
        .aws
        .envs
        .get(&target.env)
        .and_then(|o| o.region.clone())
        .or_else(|| stack.aws.base.region.clone());
    let region = target.region.clone().or(declared);
    let aws = Aws::connect(region.as_deref(), target.endpoint_url.as_deref()).await;
    // The templates are made for the region they go to (its load balancer
    // log account, whether CloudFront's web ACL needs a stack in
    // us-east-1), whichever way it was chosen.
    stack.aws.base.region = Some(aws.region());
    if let Some(env) = stack.aws.envs.get_mut(&target.env) {
        env.region = Some(aws.region());
    }
    let (settings, templates) = stackwright_synth::synth(&stack, &target.env)?;
    let emulated = |mut cloud: Cloud| {
        if target.endpoint_url.is_some() {
            // Emulators answer at once; AWS takes minutes, polled every 5 s.
            cloud.poll = Duration::from_millis(200);
            cloud.deadline = Duration::from_secs(300);
        }
        cloud
    };
    let cloud = emulated(Cloud::new(&aws));
    let global = if aws.region() == GLOBAL_REGION {
        None
    } else {
        let there = Aws::connect(Some(GLOBAL_REGION), target.endpoint_url.as_deref()).await;
        Some(emulated(Cloud::new(&there)))
    };
    let prefix = settings.prefix(&stack);
    Ok(Some(Context_ {
        stack,
        settings,
        templates,
        prefix,
        aws,
        cloud,
        global,
    }))
}

/// The runtime binary to package: `--runtime`, else this one.
fn runtime_binary(runtime: Option<&Path>) -> anyhow::Result<PathBuf> {
    match runtime {
        Some(p) => Ok(p.to_path_buf()),
        None => std::env::current_exe().context("cannot find the stackwright binary"),
    }
}

/// The stack's site folder, rendered the way `up` serves it.
struct SiteFolder<'a> {
    stack: &'a Stack,
    site: &'a stackwright_stack::Site,
}

impl SiteSource for SiteFolder<'_> {
    fn files(&self, values: &[(&str, String)]) -> Result<Vec<SiteFile>, String> {
        let files = stackwright_server::http::site::SiteFiles::load(self.stack, self.site, values)
            .map_err(|e| e.to_string())?;
        Ok(files
            .files()
            .into_iter()
            .map(|(key, body, content_type, page)| SiteFile {
                key: key.to_string(),
                body: body.to_vec(),
                content_type,
                page,
            })
            .collect())
    }
}

pub async fn deploy(args: &DeployArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    eprintln!(
        "deploying {} to {} ({})",
        ctx.prefix,
        ctx.aws.region(),
        ctx.aws.endpoint().unwrap_or("AWS")
    );
    let terminal = Terminal::new(args.yes, out.colour());
    let binary = runtime_binary(args.runtime.as_deref())?;
    // What is packaged is each service's folder after its build.
    stackwright_server::services::build(&ctx.stack).await?;
    let site = ctx.stack.site.as_ref().map(|site| SiteFolder {
        stack: &ctx.stack,
        site,
    });
    let release = Release {
        stack: &ctx.stack,
        settings: &ctx.settings,
        templates: &ctx.templates,
        binary: &binary,
        site: site.as_ref().map(|s| s as &dyn SiteSource),
    };
    let deployer = ctx.deployer(&terminal, args.registry.as_deref(), args.allow_replace);
    let report = match deployer.deploy(&release).await? {
        Outcome::Deployed(report) => report,
        Outcome::Declined { .. } => return Ok(ExitCode::FAILURE),
    };
    if args.target.json {
        out.json(&json!({
            "ok": true,
            "url": report.outputs.get(StackOutput::Url.name()),
            "bootstrap": report.bootstrap,
            "site": report.site,
            "stack": ctx.stack.name,
            "env": ctx.settings.env,
            "region": ctx.aws.region(),
            "stacks": report.stacks,
            "package": report.package,
            "image": report.image,
            "services": report.services,
            "outputs": report.outputs,
        }));
    } else {
        print_outputs(out, &report.outputs);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_outputs(out: &Output, outputs: &IndexMap<String, String>) {
    // The one URL to open: the site and its API, over HTTPS.
    if let Some(url) = outputs.get(StackOutput::Url.name()) {
        out.line(&format!("url: {url}"));
    }
    let width = outputs.keys().map(String::len).max().unwrap_or(0);
    for (k, v) in outputs {
        out.line(&format!("  {k:width$}  {v}"));
    }
}

pub async fn diff(args: &DiffArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let colour = out.colour();
    let terminal = Terminal::new(false, colour);
    let binary = runtime_binary(args.runtime.as_deref())?;
    stackwright_server::services::build(&ctx.stack).await?;
    let artifacts = Artifacts::build(&binary, &ctx.stack, &ctx.settings, &terminal).await?;
    let zone = ctx
        .deployer(&terminal, None, false)
        .hosted_zone(&ctx.settings)
        .await?;
    let mut report = Vec::new();
    let mut missing_before: Option<String> = None;
    let mut changes = 0;
    let outputs = all_outputs(&ctx).await?;
    for t in &ctx.templates {
        let name = ctx.stack_name(t.layer);
        if let Some(missing) = &missing_before {
            // Its imports do not exist yet, so CloudFormation cannot plan it:
            // everything in it is new.
            eprintln!(
                "{name}: create, {} resource(s) (after {missing})",
                t.resources.len()
            );
            for (id, r) in &t.resources {
                eprintln!(
                    "  {} {id} ({})",
                    paint(colour, "32", "+ add    "),
                    r["Type"].as_str().unwrap_or("?")
                );
            }
            changes += t.resources.len();
            report.push(json!({ "stack": name, "layer": t.layer.as_str(), "creates_stack": true,
                "changes": t.resources.iter().map(|(id, r)| json!({"action": "add", "logical_id": id, "resource_type": r["Type"], "replacement": "never"})).collect::<Vec<_>>() }));
            continue;
        }
        let params = match ctx
            .deployer(&terminal, None, false)
            .layer_parameters(&artifacts, t, &ctx.templates, zone.as_deref(), &outputs)
            .await
        {
            Ok(params) => params,
            // The edge needs the global layer's web ACL, not made yet.
            Err(DeployError::MissingOutput { stack, .. }) => {
                eprintln!("{name}: planned once {stack} exists");
                report.push(json!({ "stack": name, "layer": t.layer.as_str(), "after": stack }));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let plan = match ctx
            .cloud_for(t.layer)
            .plan(&name, &t.render(), &params, &token(t.layer))
            .await
        {
            Err(DeployError::NeedsReplacement { stack, status }) => {
                eprintln!("{stack}: in {status}; the next deploy deletes it and creates it again");
                missing_before = Some(stack.clone());
                report.push(json!({ "stack": stack, "layer": t.layer.as_str(), "status": status }));
                continue;
            }
            other => other?,
        };
        ctx.cloud_for(t.layer).discard(&plan).await;
        show_plan(&plan, colour);
        changes += plan.changes.len();
        // Nothing imports the global layer (it is in another region): a
        // new one holds up only the edge, through its parameter.
        if plan.creates_stack && t.layer != Layer::Global {
            missing_before = Some(name.clone());
        }
        report.push(json!({ "stack": name, "layer": t.layer.as_str(), "creates_stack": plan.creates_stack, "changes": plan.changes }));
    }
    if args.target.json {
        out.json(
            &json!({ "ok": true, "env": ctx.settings.env, "changes": changes, "stacks": report }),
        );
    } else if changes == 0 {
        out.line(&format!("{}: no changes", ctx.prefix));
    } else {
        out.line(&format!(
            "{}: {changes} change(s); `stackwright deploy` applies them",
            ctx.prefix
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// Every layer's outputs, in deployment order; layers not deployed add none.
async fn all_outputs(ctx: &Context_) -> anyhow::Result<IndexMap<String, String>> {
    let mut outputs = IndexMap::new();
    for layer in Layer::ALL {
        let name = ctx.stack_name(layer);
        let cloud = ctx.cloud_for(layer);
        if cloud.status(&name).await?.is_some() {
            for (k, v) in cloud.outputs(&name).await? {
                outputs.insert(k, v);
            }
        }
    }
    Ok(outputs)
}

pub async fn outputs(args: &OutputsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let outputs = all_outputs(&ctx).await?;
    if outputs.is_empty() {
        bail!(
            "{} is not deployed (no stack has outputs); run `stackwright deploy`",
            ctx.prefix
        );
    }
    if args.target.json {
        out.json(&json!(outputs));
    } else {
        print_outputs(out, &outputs);
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn status(args: &StatusArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let mut layers = Vec::new();
    let mut healthy_stacks = true;
    // The environment's layers (a global one only when it needs it).
    for layer in ctx.templates.iter().map(|t| t.layer) {
        let name = ctx.stack_name(layer);
        let status = ctx.cloud_for(layer).status(&name).await?;
        let reason = match &status {
            Some(_) => ctx.cloud_for(layer).status_reason(&name).await,
            None => None,
        };
        let drift = match (&status, args.no_drift) {
            (Some(_), false) => Some(
                match ctx
                    .cloud_for(layer)
                    .drift(&name, Duration::from_secs(120))
                    .await
                {
                    Ok(d) => d,
                    Err(e) => format!("unknown ({e})"),
                },
            ),
            _ => None,
        };
        let ok = status.as_deref().is_some_and(|s| {
            s.ends_with("_COMPLETE") && !s.contains("ROLLBACK") && !s.starts_with("DELETE")
        });
        healthy_stacks &= ok;
        if !args.target.json {
            let mut line = format!("{name}: {}", status.as_deref().unwrap_or("not deployed"));
            if let Some(r) = reason.as_deref().filter(|r| !r.is_empty()) {
                line.push_str(&format!(" ({r})"));
            }
            if let Some(d) = &drift {
                line.push_str(&format!("; drift: {d}"));
            }
            out.line(&line);
        }
        layers.push(json!({ "stack": name, "layer": layer.as_str(), "status": status, "reason": reason, "drift": drift }));
    }
    let outputs = all_outputs(&ctx).await?;
    if let (Some(url), false) = (outputs.get(StackOutput::Url.name()), args.target.json) {
        out.line(&format!("url: {url}"));
    }
    let health = match outputs.get(StackOutput::Url.name()) {
        // An emulator's URLs name hosts that do not exist: nothing to ask.
        Some(url) if ctx.aws.endpoint().is_some() => {
            if !args.target.json {
                out.line(&format!("health: not checked ({url} is an emulator's)"));
            }
            json!({ "url": url, "status": null, "error": "not checked against an emulator endpoint" })
        }
        Some(url) => {
            let target = format!(
                "{}{}",
                url.trim_end_matches('/'),
                stackwright_synth::app::health_path(&ctx.stack)
            );
            let answer = stackwright_deploy::health::check(&target).await;
            if !args.target.json {
                match &answer {
                    Ok(code) => out.line(&format!("health: GET {target} -> {code}")),
                    Err(e) => out.line(&format!("health: GET {target} -> no answer: {e}")),
                }
            }
            json!({ "url": target, "status": answer.as_ref().ok(), "error": answer.as_ref().err() })
        }
        None => Json::Null,
    };
    let services = service_health(
        &ctx,
        outputs.get(StackOutput::Url.name()),
        args.target.json,
        out,
    )
    .await;
    if args.target.json {
        let url = outputs.get(StackOutput::Url.name());
        out.json(&json!({ "ok": healthy_stacks, "env": ctx.settings.env, "url": url, "stacks": layers, "health": health, "services": services }));
    }
    Ok(if healthy_stacks {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Whether each service answers behind its front: GET its first path. The
/// front answers 502 or 503 when it cannot reach the service; any other
/// answer came from the service.
async fn service_health(
    ctx: &Context_,
    url: Option<&String>,
    json: bool,
    out: &Output,
) -> Vec<Json> {
    let mut found = Vec::new();
    for service in ctx.stack.services.values() {
        let Some(url) = url.filter(|_| ctx.aws.endpoint().is_none()) else {
            found.push(json!({ "service": service.name, "status": null, "error": "not checked" }));
            continue;
        };
        let target = format!("{}{}", url.trim_end_matches('/'), service.paths[0]);
        let answer = stackwright_deploy::health::check(&target).await;
        let up = answer.as_ref().is_ok_and(|code| !matches!(code, 502 | 503));
        if !json {
            let said = match &answer {
                Ok(code) => code.to_string(),
                Err(e) => format!("no answer: {e}"),
            };
            let verdict = if up { "answers" } else { "down" };
            out.line(&format!(
                "service {}: GET {target} -> {said} ({verdict})",
                service.name
            ));
        }
        found.push(json!({ "service": service.name, "url": target, "status": answer.as_ref().ok(), "answers": up, "error": answer.as_ref().err() }));
    }
    found
}

pub async fn logs(args: &LogsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let app = ctx.stack_name(Layer::App);
    if ctx.cloud.status(&app).await?.is_none() {
        bail!("{app} is not deployed; run `stackwright deploy`");
    }
    let output = match &args.service {
        Some(name) => {
            crate::service::named(&ctx.stack, name)?;
            stackwright_synth::outputs::ServiceNames::of(name).log_group()
        }
        None => StackOutput::LogGroup.name().to_string(),
    };
    let group = ctx
        .cloud
        .outputs(&app)
        .await?
        .into_iter()
        .find(|(k, _)| *k == output)
        .map(|(_, v)| v)
        .with_context(|| format!("{app} has no {output} output; deploy again to add it"))?;
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let start = now_ms - args.since.as_millis() as i64;
    let logs = ctx.aws.logs();
    let mut follower = stackwright_deploy::logs::Follower::new(&group, start);
    let print = |line: &stackwright_deploy::logs::LogLine| {
        if args.target.json {
            out.json(&json!(line));
        } else {
            let when =
                time::OffsetDateTime::from_unix_timestamp_nanos(line.timestamp as i128 * 1_000_000)
                    .ok()
                    .and_then(|t| {
                        t.format(&time::format_description::well_known::Rfc3339)
                            .ok()
                    })
                    .unwrap_or_default();
            out.line(&format!("{when} {} {}", line.stream, line.message));
        }
    };
    for line in follower.poll(&logs).await? {
        print(&line);
    }
    if args.follow {
        let stop = crate::serve::shutdown_signal();
        tokio::pin!(stop);
        loop {
            tokio::select! {
                () = &mut stop => break,
                () = tokio::time::sleep(Duration::from_secs(2)) => {
                    for line in follower.poll(&logs).await? {
                        print(&line);
                    }
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
