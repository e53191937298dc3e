//! The region's bootstrap stack (`stackwright-bootstrap`): the permissions
//! boundary every role of every stack carries. Made once per account and
//! region by someone who may create IAM policies; `deploy` makes or updates
//! it when it is missing or older than this version, and otherwise only
//! reads it, so a deploy role that may not touch IAM policies still
//! deploys. `destroy` leaves it: other stacks' roles use it.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use stackwright_synth::iam::BOOTSTRAP_STACK;
use stackwright_synth::outputs::Output as StackOutput;

use super::terminal::Terminal;
use super::{open, Target};
use crate::output::Output;

#[derive(Args)]
pub struct BootstrapArgs {
    #[command(flatten)]
    pub target: Target,

    /// Apply without asking for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// `stackwright bootstrap`: make or update the region's bootstrap stack.
pub async fn run(args: &BootstrapArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let terminal = Terminal::new(args.yes, out.colour());
    let result = ctx
        .deployer(&terminal, None, false)
        .ensure_bootstrap()
        .await?;
    let boundary = ctx
        .cloud
        .outputs(BOOTSTRAP_STACK)
        .await?
        .into_iter()
        .find(|(k, _)| k == StackOutput::Boundary.name())
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
