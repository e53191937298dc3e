//! The AWS lifecycle commands: `deploy`, `diff`, `status`, `outputs`,
//! `logs` and `destroy`. Templates come from `stackwright_synth`; the
//! CloudFormation, S3, ECR, Secrets Manager and CloudWatch Logs calls from
//! `stackwright_deploy`. This module decides the order, asks for
//! confirmation, shows progress and prints results.

pub mod bootstrap;
mod destroy;

pub use destroy::{destroy, DestroyArgs};

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;
use indexmap::IndexMap;
use serde_json::{json, Value as Json};
use sha2::{Digest, Sha256};
use stackwright_deploy::{package, store, Aws, Change, Cloud, DeployError, Plan};
use stackwright_stack::{Compute, Stack};
use stackwright_synth::{Layer, Settings, Template};

use crate::output::Output;

/// Where and as whom: shared by every lifecycle command.
#[derive(Args, Clone)]
pub struct Target {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = "STACKWRIGHT_STACK")]
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
}

impl Context_ {
    fn stack_name(&self, layer: Layer) -> String {
        stackwright_synth::stack_name(&self.prefix, layer)
    }
}

async fn open(target: &Target, out: &Output) -> anyhow::Result<Option<Context_>> {
    let Some(stack) = crate::load_stack(&target.dir, out, target.json)? else {
        return Ok(None);
    };
    let (settings, templates) = stackwright_synth::synth(&stack, &target.env)?;
    // The stack file's region only when it names one: otherwise the chain's.
    let declared = stack
        .aws
        .envs
        .get(&target.env)
        .and_then(|o| o.region.clone())
        .or_else(|| stack.aws.base.region.clone());
    let region = target.region.clone().or(declared);
    let aws = Aws::connect(region.as_deref(), target.endpoint_url.as_deref()).await;
    let mut cloud = Cloud::new(&aws);
    if target.endpoint_url.is_some() {
        // Emulators answer at once; AWS takes minutes, polled every 5 s.
        cloud.poll = Duration::from_millis(200);
        cloud.deadline = Duration::from_secs(300);
    }
    let prefix = settings.prefix(&stack);
    Ok(Some(Context_ {
        stack,
        settings,
        templates,
        prefix,
        aws,
        cloud,
    }))
}

/// The runtime package and, on Fargate, the image: built locally, so a diff
/// knows the parameters a deploy would pass.
/// What a deploy ships: the runtime package (Lambda, EC2) and, for
/// Fargate, the runtime image.
struct Artifacts {
    package: package::Package,
    image: Option<stackwright_image::Image>,
}

/// Built before any stack is touched: an artifact that cannot be built
/// stops the deploy with nothing changed.
async fn build_artifacts(ctx: &Context_, runtime: Option<&Path>) -> anyhow::Result<Artifacts> {
    let binary = match runtime {
        Some(p) => p.to_path_buf(),
        None => std::env::current_exe().context("cannot find the stackwright binary")?,
    };
    let package = package::runtime_zip(&binary, &ctx.stack)?;
    let image = if ctx.settings.compute == Compute::Fargate {
        Some(crate::image::build(&binary, &ctx.stack, ctx.settings.port).await?)
    } else {
        None
    };
    Ok(Artifacts { package, image })
}

/// The app layer's parameters. `DeployId` changes exactly when what runs
/// changes (package, image, the app or data template), so the migration
/// runs once per real deploy and an unchanged redeploy changes nothing.
fn app_parameters(ctx: &Context_, artifacts: &Artifacts) -> Vec<(String, String)> {
    let image_tag = artifacts.image.as_ref().map(|i| i.tag());
    let image_tag = image_tag.as_deref();
    let mut hasher = Sha256::new();
    hasher.update(artifacts.package.sha256.as_bytes());
    hasher.update(image_tag.unwrap_or_default().as_bytes());
    for t in &ctx.templates {
        if matches!(t.layer, Layer::Data | Layer::App) {
            hasher.update(t.render().as_bytes());
        }
    }
    let deploy_id = package::hex(&hasher.finalize())[..16].to_string();
    let mut params = vec![
        ("ArtifactKey".to_string(), artifacts.package.key()),
        ("DeployId".to_string(), deploy_id),
    ];
    if let Some(tag) = image_tag {
        params.push(("ImageTag".to_string(), tag.to_string()));
    }
    params
}

fn token(layer: Layer) -> String {
    // Unique per call: change set names must not collide between stacks.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos:x}", layer.as_str())
}

fn paint(out_colour: bool, code: &str, text: &str) -> String {
    if out_colour {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

/// A plan as people read it: one line per change, replacements of data
/// marked.
fn show_plan(plan: &Plan, colour: bool) {
    if plan.change_set.is_none() {
        eprintln!("{}: no changes", plan.stack);
        return;
    }
    let verb = if plan.creates_stack {
        "create"
    } else {
        "update"
    };
    eprintln!("{}: {verb}, {} change(s)", plan.stack, plan.changes.len());
    for c in &plan.changes {
        eprintln!("  {}", change_line(c, colour));
    }
}

fn change_line(c: &Change, colour: bool) -> String {
    use stackwright_deploy::{Action, Replacement};
    let (mark, code) = match (c.action, c.replacement) {
        (Action::Add, _) => ("+ add    ", "32"),
        (Action::Remove, _) => ("- remove ", "31"),
        (Action::Modify, Replacement::Always) => ("! replace", "33"),
        (Action::Modify, Replacement::Conditional) => ("~ modify (may replace)", "33"),
        (Action::Modify, Replacement::Never) => ("~ modify ", "36"),
        (Action::Other, _) => ("? other  ", "0"),
    };
    let mut line = format!(
        "{} {} ({})",
        paint(colour, code, mark),
        c.logical_id,
        c.resource_type
    );
    if c.loses_data() {
        line.push_str(&paint(colour, "1;31", "  <- loses its data"));
    }
    line
}

fn changes_json(plan: &Plan) -> Json {
    json!(plan.changes)
}

/// Ask on the terminal; without one, refuse unless told `--yes`.
fn confirm(question: &str, yes: bool) -> anyhow::Result<bool> {
    if yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() {
        bail!("{question}: confirmation needed, but stdin is not a terminal; re-run with --yes");
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes" | "YES"))
}

/// Prints events as they come, with the time since the operation started,
/// and a line every 30 s while nothing happens (AWS can be quiet for minutes).
struct Progress {
    started: Instant,
    colour: bool,
}

impl Progress {
    fn new(colour: bool) -> Self {
        Progress {
            started: Instant::now(),
            colour,
        }
    }

    fn event(&self, stack: &str, e: &stackwright_deploy::Event) {
        let code = if e.status.ends_with("_FAILED") {
            "31"
        } else if e.status.ends_with("_COMPLETE") {
            "32"
        } else {
            "0"
        };
        let mut line = format!(
            "[{:>4}s] {stack} {} ({}) {}",
            self.started.elapsed().as_secs(),
            e.logical_id,
            e.resource_type,
            paint(self.colour, code, &e.status)
        );
        if let Some(r) = e.reason.as_deref().filter(|r| !r.is_empty()) {
            line.push_str(&format!(": {r}"));
        }
        eprintln!("{line}");
    }
}

/// Runs `fut` while printing a heartbeat every 30 s.
async fn with_heartbeat<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let what = what.to_string();
    let beat = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        tick.tick().await;
        loop {
            tick.tick().await;
            eprintln!(
                "  ... {what}: still working ({}s)",
                started.elapsed().as_secs()
            );
        }
    });
    let result = fut.await;
    beat.abort();
    result
}

/// Plan one layer; a stack left in ROLLBACK_COMPLETE by a failed first
/// deploy cannot be updated, so it is deleted (after asking) and planned anew.
async fn plan_layer(
    ctx: &Context_,
    (name, layer): (&str, Layer),
    template: &str,
    params: &[(String, String)],
    yes: bool,
    progress: &Progress,
) -> anyhow::Result<Plan> {
    match ctx.cloud.plan(name, template, params, &token(layer)).await {
        Err(DeployError::NeedsReplacement { stack, status }) => {
            let reason = ctx.cloud.status_reason(&stack).await.unwrap_or_default();
            eprintln!("{stack} is in {status} after a failed first deploy ({reason}); it holds nothing and must be deleted before it can be created again");
            if !confirm(&format!("Delete {stack} and create it again?"), yes)? {
                bail!("{stack} is in {status}; nothing was changed");
            }
            ctx.cloud
                .destroy(&stack, |e| progress.event(&stack, e))
                .await?;
            Ok(ctx
                .cloud
                .plan(name, template, params, &token(layer))
                .await?)
        }
        other => Ok(other?),
    }
}

pub async fn deploy(args: &DeployArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let colour = out.colour();
    let progress = Progress::new(colour);
    eprintln!(
        "deploying {} to {} ({})",
        ctx.prefix,
        ctx.aws.region(),
        ctx.aws.endpoint().unwrap_or("AWS")
    );
    let bootstrap = bootstrap::ensure(&ctx, args.yes, &progress).await?;
    let artifacts = build_artifacts(&ctx, args.runtime.as_deref()).await?;
    let mut outputs: IndexMap<String, String> = IndexMap::new();
    let mut stacks = Vec::new();
    let mut uploaded = false;
    let mut image_digest: Option<String> = None;

    for t in &ctx.templates {
        let name = ctx.stack_name(t.layer);
        let params = if t.layer == Layer::App {
            app_parameters(&ctx, &artifacts)
        } else {
            Vec::new()
        };
        let plan = plan_layer(
            &ctx,
            (&name, t.layer),
            &t.render(),
            &params,
            args.yes,
            &progress,
        )
        .await?;
        show_plan(&plan, colour);
        let result = if plan.change_set.is_none() {
            "unchanged"
        } else {
            let losing: Vec<&Change> = plan.changes.iter().filter(|c| c.loses_data()).collect();
            if !losing.is_empty() && !args.allow_replace {
                ctx.cloud.discard(&plan).await;
                let list: Vec<String> = losing
                    .iter()
                    .map(|c| format!("{} ({})", c.logical_id, c.resource_type))
                    .collect();
                bail!(
                    "{name}: this change replaces or removes data-holding resources: {}; nothing was changed. Re-run with --allow-replace to accept the loss",
                    list.join(", ")
                );
            }
            let verb = if plan.creates_stack {
                "Create"
            } else {
                "Update"
            };
            let answer = confirm(&format!("{verb} {name}?"), args.yes);
            if !matches!(answer, Ok(true)) {
                ctx.cloud.discard(&plan).await;
            }
            if !answer? {
                ctx.cloud.discard(&plan).await;
                eprintln!("{name}: not applied; nothing was changed");
                return Ok(ExitCode::FAILURE);
            }
            with_heartbeat(&name, ctx.cloud.apply(&plan, |e| progress.event(&name, e))).await?;
            if plan.creates_stack {
                "created"
            } else {
                "updated"
            }
        };
        eprintln!("{name}: {result}");
        for (k, v) in ctx.cloud.outputs(&name).await? {
            outputs.insert(k, v);
        }
        stacks.push(json!({
            "stack": name,
            "layer": t.layer.as_str(),
            "result": result,
            "changes": changes_json(&plan),
        }));
        if t.layer == Layer::Artifacts {
            let bucket = outputs
                .get("ArtifactBucket")
                .with_context(|| format!("{name} has no ArtifactBucket output"))?
                .clone();
            uploaded = with_heartbeat(
                "uploading the runtime package",
                store::upload_package(&ctx.aws.s3(), &bucket, &artifacts.package),
            )
            .await?;
            eprintln!(
                "runtime package s3://{bucket}/{}: {}",
                artifacts.package.key(),
                if uploaded {
                    "uploaded"
                } else {
                    "already there"
                }
            );
            if let Some(image) = &artifacts.image {
                image_digest = Some(
                    with_heartbeat(
                        "pushing the runtime image",
                        crate::image::publish(&ctx.aws, image, &outputs, args.registry.as_deref()),
                    )
                    .await?,
                );
            }
        }
    }

    let site = match &ctx.stack.site {
        Some(site) => {
            Some(with_heartbeat("uploading the site", publish_site(&ctx, site, &outputs)).await?)
        }
        None => None,
    };

    if args.target.json {
        out.json(&json!({
            "ok": true,
            "bootstrap": bootstrap,
            "site": site,
            "stack": ctx.stack.name,
            "env": ctx.settings.env,
            "region": ctx.aws.region(),
            "stacks": stacks,
            "package": { "key": artifacts.package.key(), "uploaded": uploaded },
            "image": artifacts.image.as_ref().map(|i| json!({ "tag": i.tag(), "digest": image_digest })),
            "outputs": outputs,
        }));
    } else {
        print_outputs(out, &outputs);
    }
    Ok(ExitCode::SUCCESS)
}

/// Upload the site to its bucket with the placeholders filled from the
/// stack's outputs: the API's URL, the user pool and its client.
async fn publish_site(
    ctx: &Context_,
    site: &stackwright_stack::Site,
    outputs: &IndexMap<String, String>,
) -> anyhow::Result<Json> {
    let bucket = outputs
        .get("SiteBucket")
        .context("the artifacts layer has no SiteBucket output")?;
    let api = outputs.get("ServiceUrl").cloned().unwrap_or_default();
    if api.starts_with("http://") {
        eprintln!(
            "warning: the site is served over HTTPS, and browsers refuse its calls to {api}: \
             set certificate_arn so the API is served over HTTPS too"
        );
    }
    let region = ctx.aws.region();
    let auth = match ctx.aws.endpoint() {
        // An emulator answers the Cognito protocol at its own address.
        Some(endpoint) => format!("{}/", endpoint.trim_end_matches('/')),
        None => format!("https://cognito-idp.{region}.amazonaws.com/"),
    };
    let values = vec![
        ("API_URL", api),
        ("AUTH_URL", auth),
        ("REGION", region),
        (
            "USER_POOL_ID",
            outputs.get("UserPoolId").cloned().unwrap_or_default(),
        ),
        (
            "CLIENT_ID",
            outputs.get("UserPoolClientId").cloned().unwrap_or_default(),
        ),
    ];
    let files = stackwright_server::http::site::SiteFiles::load(&ctx.stack, site, &values)?;
    let objects: Vec<store::SiteObject> = files
        .files()
        .into_iter()
        .map(|(key, body, content_type, page)| store::SiteObject {
            key,
            body,
            content_type,
            // Pages are checked on every visit, so a deploy shows at once;
            // other files may be cached for five minutes.
            cache_control: if page {
                "no-cache"
            } else {
                "public, max-age=300"
            },
        })
        .collect();
    let done = store::sync_site(&ctx.aws.s3(), bucket, &objects).await?;
    let url = outputs.get("SiteUrl").cloned().unwrap_or_default();
    eprintln!(
        "site {url}: {} uploaded, {} unchanged, {} removed",
        done.uploaded, done.unchanged, done.removed
    );
    Ok(json!({ "url": url, "bucket": bucket, "upload": done }))
}

fn print_outputs(out: &Output, outputs: &IndexMap<String, String>) {
    if let Some(url) = outputs.get("ServiceUrl") {
        out.line(&format!("service: {url}"));
    }
    if let Some(url) = outputs.get("SiteUrl") {
        out.line(&format!("site: {url}"));
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
    let artifacts = build_artifacts(&ctx, args.runtime.as_deref()).await?;
    let mut report = Vec::new();
    let mut missing_before: Option<String> = None;
    let mut changes = 0;
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
        let params = if t.layer == Layer::App {
            app_parameters(&ctx, &artifacts)
        } else {
            Vec::new()
        };
        let plan = match ctx
            .cloud
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
        ctx.cloud.discard(&plan).await;
        show_plan(&plan, colour);
        changes += plan.changes.len();
        if plan.creates_stack {
            missing_before = Some(name.clone());
        }
        report.push(json!({ "stack": name, "layer": t.layer.as_str(), "creates_stack": plan.creates_stack, "changes": changes_json(&plan) }));
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
        if ctx.cloud.status(&name).await?.is_some() {
            for (k, v) in ctx.cloud.outputs(&name).await? {
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
    for layer in Layer::ALL {
        let name = ctx.stack_name(layer);
        let status = ctx.cloud.status(&name).await?;
        let reason = match &status {
            Some(_) => ctx.cloud.status_reason(&name).await,
            None => None,
        };
        let drift = match (&status, args.no_drift) {
            (Some(_), false) => Some(
                match ctx.cloud.drift(&name, Duration::from_secs(120)).await {
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
    let health = match outputs.get("ServiceUrl") {
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
    if args.target.json {
        out.json(&json!({ "ok": healthy_stacks, "env": ctx.settings.env, "stacks": layers, "health": health }));
    }
    Ok(if healthy_stacks {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

pub async fn logs(args: &LogsArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let app = ctx.stack_name(Layer::App);
    if ctx.cloud.status(&app).await?.is_none() {
        bail!("{app} is not deployed; run `stackwright deploy`");
    }
    let group = ctx
        .cloud
        .outputs(&app)
        .await?
        .into_iter()
        .find(|(k, _)| k == "LogGroup")
        .map(|(_, v)| v)
        .with_context(|| format!("{app} has no LogGroup output; deploy again to add it"))?;
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
        let stop = crate::shutdown_signal();
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
