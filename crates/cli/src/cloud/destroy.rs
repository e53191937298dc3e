//! `stackwright destroy`: every stack of an environment, deleted in reverse
//! order, then what outlives them (bucket objects, images, the secrets'
//! scheduled deletion, log groups services made), and a check, service by
//! service, that nothing is left. The region's bootstrap stack stays: other
//! stacks' roles carry its boundary.

use std::process::ExitCode;

use clap::Args;
use serde_json::json;
use stackwright_deploy::store;
use stackwright_synth::resources::{self, Teardown};
use stackwright_synth::Layer;

use super::terminal::{confirm, with_heartbeat, Progress};
use super::{open, Context_, Target};
use crate::output::Output;

#[derive(Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub target: Target,

    /// Delete without asking for confirmation (needed when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
}

/// What a stack environment holds outside its stacks' own deletion.
struct Holdings {
    /// The artifact bucket and the site's.
    buckets: Vec<String>,
    repository: Option<String>,
    secrets: Vec<String>,
    /// Log groups services create for resources of the stacks.
    log_prefixes: Vec<String>,
    /// Data a production stack keeps on purpose (DeletionPolicy Retain):
    /// what it is, and its physical id.
    retained: Vec<(&'static str, String)>,
}

async fn holdings(ctx: &Context_) -> anyhow::Result<Holdings> {
    let mut h = Holdings {
        buckets: Vec::new(),
        repository: None,
        secrets: Vec::new(),
        log_prefixes: Vec::new(),
        retained: Vec::new(),
    };
    let mut log_bucket = None;
    for t in &ctx.templates {
        let name = ctx.stack_name(t.layer);
        let cloud = ctx.cloud_for(t.layer);
        if cloud.status(&name).await?.is_none() {
            continue;
        }
        for r in cloud.resources(&name).await? {
            let Some(fact) = resources::of(&r.resource_type) else {
                continue;
            };
            let retained = t
                .resources
                .get(&r.logical_id)
                .is_some_and(|j| j["DeletionPolicy"] == "Retain");
            if retained && fact.holds_data {
                h.retained.push((fact.part.noun(), r.physical_id));
                continue;
            }
            if let Some(prefix) = fact.teardown.log_prefix(&r.physical_id) {
                h.log_prefixes.push(prefix);
            }
            match fact.teardown {
                // The log bucket last: emptying the others logs into it.
                Teardown::EmptyBucket if r.logical_id == stackwright_synth::logs::BUCKET => {
                    log_bucket = Some(r.physical_id);
                }
                Teardown::EmptyBucket => h.buckets.push(r.physical_id),
                Teardown::DeleteImages => h.repository = Some(r.physical_id),
                _ => {}
            }
        }
    }
    // Named by the templates: found even if a stack is already gone.
    if h.repository.is_none() && ctx.settings.compute.needs_image() {
        h.repository = Some(ctx.prefix.to_lowercase());
    }
    // The secrets, by the names the templates give them.
    for t in &ctx.templates {
        for (id, resource) in &t.resources {
            let ty = resource["Type"].as_str().unwrap_or_default();
            if resources::of(ty).is_some_and(|f| f.teardown == Teardown::ForceDeleteSecret) {
                match resource["Properties"]["Name"].as_str() {
                    Some(name) => h.secrets.push(name.to_string()),
                    None => tracing::warn!(%id, "a secret without a name cannot be checked"),
                }
            }
        }
    }
    h.buckets.extend(log_bucket);
    Ok(h)
}

pub async fn destroy(args: &DestroyArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(ctx) = open(&args.target, out).await? else {
        return Ok(ExitCode::FAILURE);
    };
    let progress = Progress::new(out.colour());
    let mut present = Vec::new();
    for layer in Layer::ALL.iter().rev() {
        let name = ctx.stack_name(*layer);
        if let Some(status) = ctx.cloud_for(*layer).status(&name).await? {
            present.push((*layer, name, status));
        }
    }
    let h = holdings(&ctx).await?;
    if !present.is_empty() {
        eprintln!("destroying {} in {}:", ctx.prefix, ctx.aws.region());
        for (_, name, status) in &present {
            eprintln!("  {name} ({status})");
        }
        if !confirm(
            &format!(
                "Delete these {} stack(s) and everything in them?",
                present.len()
            ),
            args.yes,
        )
        .map_err(anyhow::Error::msg)?
        {
            eprintln!("nothing was deleted");
            return Ok(ExitCode::FAILURE);
        }
    }
    let mut removed: Vec<String> = Vec::new();
    for (layer, name, _) in &present {
        if *layer == Layer::Artifacts {
            // CloudFormation cannot delete a bucket that holds objects, or
            // (in production) a repository that holds images.
            for bucket in &h.buckets {
                let n = store::empty_bucket(&ctx.aws.s3(), bucket).await?;
                removed.push(format!("{n} object version(s) in s3://{bucket}"));
            }
            if let Some(repo) = &h.repository {
                let n = store::delete_images(&ctx.aws.ecr(), repo).await?;
                removed.push(format!("{n} image(s) in {repo}"));
            }
        }
        let cloud = ctx.cloud_for(*layer);
        let gone = with_heartbeat(name, cloud.destroy(name, |e| progress.event(name, e))).await;
        if gone.is_err() && *layer == Layer::Artifacts {
            // Access logs arrive late (CloudFront's, minutes after a
            // request) and can land in the emptied log bucket: once more.
            for bucket in &h.buckets {
                store::empty_bucket(&ctx.aws.s3(), bucket).await?;
            }
            with_heartbeat(name, cloud.destroy(name, |e| progress.event(name, e))).await?;
        } else {
            gone?;
        }
        removed.push(format!("stack {name}"));
        eprintln!("{name}: deleted");
    }
    // What lives on after the stacks: the secret's scheduled deletion, and
    // log groups services made on their own.
    for secret in &h.secrets {
        if store::delete_secret(&ctx.aws.secrets(), secret).await? {
            removed.push(format!("secret {secret}"));
        }
    }
    let logs = ctx.aws.logs();
    for prefix in &h.log_prefixes {
        for group in store::log_groups(&logs, prefix).await? {
            store::delete_log_group(&logs, &group).await?;
            removed.push(format!("log group {group}"));
        }
    }

    // Check, through each service, that nothing is left.
    let mut left = Vec::new();
    for layer in Layer::ALL {
        let name = ctx.stack_name(layer);
        if let Some(status) = ctx.cloud_for(layer).status(&name).await? {
            left.push(format!("stack {name} ({status})"));
        }
    }
    for bucket in &h.buckets {
        if store::bucket_exists(&ctx.aws.s3(), bucket).await {
            left.push(format!("bucket {bucket}"));
        }
    }
    if let Some(repo) = &h.repository {
        if store::repository_exists(&ctx.aws.ecr(), repo).await {
            left.push(format!("repository {repo}"));
        }
    }
    for prefix in &h.log_prefixes {
        for group in store::log_groups(&logs, prefix).await.unwrap_or_default() {
            left.push(format!("log group {group}"));
        }
    }
    let kept: Vec<String> = h
        .retained
        .iter()
        .map(|(noun, id)| format!("{noun} {id} (DeletionPolicy Retain: production data is kept)"))
        .collect();
    if args.target.json {
        out.json(&json!({ "ok": left.is_empty(), "env": ctx.settings.env, "removed": removed, "left": left, "kept": kept }));
    } else {
        if present.is_empty() && removed.is_empty() {
            out.line(&format!("{}: nothing to destroy", ctx.prefix));
        } else {
            out.line(&format!("{}: destroyed", ctx.prefix));
        }
        for k in &kept {
            out.line(&format!("kept: {k}"));
        }
    }
    if !left.is_empty() {
        for l in &left {
            out.error(&format!("could not remove {l}"));
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}
