//! `stackwright synth`: CloudFormation from the stack model.
//!
//! Five layers, each its own stack, linked by exports so each can be
//! updated alone (and a sixth, `global`, in us-east-1 when CloudFront
//! needs something made there): `network` (VPC, subnets, security groups, KMS key),
//! `artifacts` (the buckets and image repository deploy uploads to),
//! `data` (the database and its generated secret), `app` (compute) and
//! `edge` (the CloudFront distribution: the one HTTPS origin).
//! Output is deterministic: the same stack gives the same bytes.

#![warn(clippy::too_many_lines)]

pub mod app;
pub mod artifacts;
mod bucket;
pub mod cfn;
pub mod data;
pub mod deploy_role;
pub mod domain;
pub mod edge;
pub mod global;
pub mod graph;
pub mod iam;
pub mod logs;
pub mod network;
pub mod outputs;
pub mod resources;
pub mod services;
pub mod settings;
pub mod site;
pub mod topics;
pub mod users;
pub mod waf;

use std::path::{Path, PathBuf};

use stackwright_stack::{CloudEngine, Stack};

pub use cfn::{Layer, Template};
pub use settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("unknown environment `{env}`; this stack has {}", known.join(", "))]
    UnknownEnv { env: String, known: Vec<String> },
    #[error("{0}")]
    Invalid(String),
    #[error("cannot write {path}: {reason}")]
    Write {
        path: PathBuf,
        reason: std::io::Error,
    },
}

/// The port of a SQL database engine; None for DynamoDB.
pub fn db_port(engine: CloudEngine) -> Option<u16> {
    match engine {
        CloudEngine::Postgres | CloudEngine::AuroraPostgres => Some(5432),
        CloudEngine::Mysql | CloudEngine::AuroraMysql => Some(3306),
        CloudEngine::Redshift => Some(5439),
        CloudEngine::Dynamodb => None,
    }
}

/// The CloudFormation stack name of a layer: `todo-dev-network`.
pub fn stack_name(prefix: &str, layer: Layer) -> String {
    format!("{prefix}-{}", layer.as_str())
}

/// Every layer's template for one environment, in deployment order.
pub fn synth(stack: &Stack, env: &str) -> Result<(Settings, Vec<Template>), SynthError> {
    let settings = Settings::resolve(stack, env)?;
    let mut templates: Vec<Template> = global::template(stack, &settings).into_iter().collect();
    templates.extend([
        network::template(stack, &settings),
        artifacts::template(stack, &settings),
        data::template(stack, &settings),
        app::template(stack, &settings),
        edge::template(stack, &settings)?,
    ]);
    Ok((settings, templates))
}

/// Write `<out>/<env>/<layer>.json` for each template; returns the paths.
pub fn write(out: &Path, env: &str, templates: &[Template]) -> Result<Vec<PathBuf>, SynthError> {
    let dir = out.join(env);
    std::fs::create_dir_all(&dir).map_err(|source| SynthError::Write {
        path: dir.clone(),
        reason: source,
    })?;
    let mut written = Vec::new();
    for t in templates {
        let path = dir.join(format!("{}.json", t.layer.as_str()));
        std::fs::write(&path, t.render()).map_err(|source| SynthError::Write {
            path: path.clone(),
            reason: source,
        })?;
        written.push(path);
    }
    Ok(written)
}
