//! The region's bootstrap stack (`stackwright-bootstrap`): the permissions
//! boundary every role of every stack carries. Made once per account and
//! region by someone who may create IAM policies; `deploy` makes or updates
//! it when it is missing or older than this version, and otherwise only
//! reads it, so a deploy role that may not touch IAM policies still
//! deploys. `destroy` leaves it: other stacks' roles use it.

use std::process::ExitCode;

use anyhow::Context as _;
use clap::Args;
use serde_json::json;
use stackwright_synth::iam::{
    bootstrap_template, BOOTSTRAP_STACK, BOOTSTRAP_VERSION, BOOTSTRAP_VERSION_OUTPUT,
};
use stackwright_synth::Layer;

use super::{confirm, open, plan_layer, show_plan, with_heartbeat, Context_, Progress, Target};
use crate::output::Output;

#[derive(Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub target: Target,

    /// Apply without asking for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// Make or update the bootstrap stack when needed: "unchanged", "created"
/// or "updated".
pub(super) async fn ensure(
    ctx: &Context_,
    yes: bool,
    progress: &Progress,
) -> anyhow::Result<&'static str> {
    let status = ctx.cloud.status(BOOTSTRAP_STACK).await?;
    if status
        .as_deref()
        .is_some_and(|s| s.ends_with("_COMPLETE") && !s.contains("ROLLBACK"))
    {
        let outputs = ctx.cloud.outputs(BOOTSTRAP_STACK).await?;
        let version = outputs
            .iter()
            .find(|(k, _)| k == BOOTSTRAP_VERSION_OUTPUT)
            .map(|(_, v)| v.as_str());
        // A newer boundary (made by a newer stackwright) is kept as it is.
        let current: u32 = BOOTSTRAP_VERSION.parse().expect("a number");
        if version.and_then(|v| v.parse::<u32>().ok()) >= Some(current) {
            return Ok("unchanged");
        }
    }
    let hint = || {
        format!(
            "{BOOTSTRAP_STACK} (the permissions boundary every role of a stack carries) is missing or outdated in {} and could not be deployed: \
             run `stackwright bootstrap` once with credentials that may create IAM policies",
            ctx.aws.region()
        )
    };
    let template = bootstrap_template().render();
    let plan = plan_layer(
        ctx,
        (BOOTSTRAP_STACK, Layer::Bootstrap),
        &template,
        &[],
        yes,
        progress,
    )
    .await
    .with_context(hint)?;
    show_plan(&plan, progress.colour);
    if plan.change_set.is_none() {
        return Ok("unchanged");
    }
    let answer = confirm(&format!("Deploy {BOOTSTRAP_STACK}?"), yes);
    if !matches!(answer, Ok(true)) {
        // A declined create leaves nothing behind, not even an empty stack.
        ctx.cloud.discard(&plan).await;
        if !answer? {
            anyhow::bail!("{BOOTSTRAP_STACK}: not applied; nothing was changed");
        }
    }
    with_heartbeat(
        BOOTSTRAP_STACK,
        ctx.cloud
            .apply(&plan, |e| progress.event(BOOTSTRAP_STACK, e)),
    )
    .await
    .with_context(hint)?;
    Ok(if plan.creates_stack {
        "created"
    } else {
        "updated"
    })
}

/// `stackwright bootstrap`: make or update the region's bootstrap stack.
pub async fn run(args: &BootstrapArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let progress = Progress::new(out.colour());
    let result = ensure(&ctx, args.yes, &progress).await?;
    let boundary = ctx
        .cloud
        .outputs(BOOTSTRAP_STACK)
        .await?
        .into_iter()
        .find(|(k, _)| k == "Boundary")
        .map(|(_, v)| v);
    if args.target.json {
        out.json(&json!({ "ok": true, "stack": BOOTSTRAP_STACK, "region": ctx.aws.region(), "result": result, "boundary": boundary }));
    } else {
        out.line(&format!(
            "{BOOTSTRAP_STACK} in {}: {result}; boundary {}",
            ctx.aws.region(),
            boundary.as_deref().unwrap_or("?")
        ));
    }
    Ok(ExitCode::SUCCESS)
}
