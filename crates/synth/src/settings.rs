//! The settings of one environment: a preset (`dev`, or production), then
//! `[aws]`, then `[aws.env.NAME]`, later ones winning.

use serde::Serialize;
use stackwright_stack::{AwsOverrides, CloudEngine, Compute, Stack};

use crate::SynthError;

/// Requests per 5 minutes one address may make through WAF: about 7 a
/// second, sustained, well above a person using a site.
pub const DEFAULT_WAF_RATE_LIMIT: u32 = 2000;

/// Where CloudFront's web ACLs and certificates live: the `global` layer's
/// region ([`crate::global`]).
pub const GLOBAL_REGION: &str = "us-east-1";

#[derive(Debug, Clone, Serialize)]
pub struct Settings {
    pub env: String,
    /// Production: Multi-AZ, deletion protection, snapshots on delete, long log retention.
    pub production: bool,
    pub region: String,
    pub compute: Compute,
    pub database: CloudEngine,
    /// Port the runtime listens on (container or instance).
    pub port: u16,
    pub azs: u8,
    pub cpu: u32,
    pub memory: u32,
    pub min: u32,
    pub max: u32,
    pub target_cpu: u32,
    pub instance_type: String,
    pub db_instance_class: String,
    pub db_storage_gb: u32,
    pub lambda_memory: u32,
    pub multi_az: bool,
    pub deletion_protection: bool,
    pub log_retention_days: u32,
    /// The Lambda Web Adapter layer services run with, when not the pinned one.
    pub web_adapter_layer: Option<String>,
    /// A WAF web ACL in front of the distribution (production's default).
    pub waf: bool,
    /// Requests per 5 minutes from one address before WAF blocks it.
    pub waf_rate_limit: u32,
    /// The environment's own domain name, when it has one.
    pub domain: Option<String>,
    /// Its hosted zone, when given (else deploy finds it by name).
    pub hosted_zone_id: Option<String>,
}

impl Settings {
    /// The environments a stack has: `dev`, `prod`, and every `[aws.env.NAME]`.
    pub fn environments(stack: &Stack) -> Vec<String> {
        stack.aws.environments()
    }

    pub fn resolve(stack: &Stack, env: &str) -> Result<Settings, SynthError> {
        let declared = stack.aws.envs.get(env);
        if declared.is_none() && env != "dev" && env != "prod" {
            return Err(SynthError::UnknownEnv {
                env: env.to_string(),
                known: Self::environments(stack),
            });
        }
        let empty = AwsOverrides::default();
        let layers = [&stack.aws.base, declared.unwrap_or(&empty)];
        // Later layers win.
        macro_rules! pick {
            ($field:ident) => {
                layers.iter().rev().find_map(|l| l.$field.clone())
            };
        }
        let production = pick!(production).unwrap_or(env == stackwright_stack::PRODUCTION_ENV);
        let database = pick!(database).unwrap_or(stack.database.engine);
        let aurora = matches!(
            database,
            CloudEngine::AuroraMysql | CloudEngine::AuroraPostgres
        );
        let default_class = match database {
            CloudEngine::Redshift => "ra3.large",
            _ if aurora => "db.t4g.medium",
            _ => "db.t4g.micro",
        };
        let settings = Settings {
            env: env.to_string(),
            production,
            region: pick!(region).unwrap_or_else(|| "us-east-1".into()),
            compute: pick!(compute).unwrap_or(Compute::Fargate),
            database,
            port: pick!(port).unwrap_or(8080),
            azs: pick!(azs).unwrap_or(2),
            cpu: pick!(cpu).unwrap_or(256),
            memory: pick!(memory).unwrap_or(512),
            min: pick!(min).unwrap_or(if production { 2 } else { 1 }),
            max: pick!(max).unwrap_or(if production { 4 } else { 2 }),
            target_cpu: pick!(target_cpu).unwrap_or(50),
            instance_type: pick!(instance_type).unwrap_or_else(|| "t3.micro".into()),
            db_instance_class: pick!(db_instance_class).unwrap_or_else(|| default_class.into()),
            db_storage_gb: pick!(db_storage_gb).unwrap_or(20),
            lambda_memory: pick!(lambda_memory).unwrap_or(512),
            multi_az: pick!(multi_az).unwrap_or(production),
            deletion_protection: pick!(deletion_protection).unwrap_or(production),
            log_retention_days: pick!(log_retention_days).unwrap_or(if production {
                365
            } else {
                30
            }),
            web_adapter_layer: pick!(web_adapter_layer),
            waf: pick!(waf).unwrap_or(production),
            waf_rate_limit: pick!(waf_rate_limit).unwrap_or(DEFAULT_WAF_RATE_LIMIT),
            domain: stack.aws.domain_of(env),
            hosted_zone_id: stack.aws.hosted_zone_of(env),
        };
        if settings.max < settings.min {
            return Err(SynthError::Invalid(format!(
                "environment `{env}`: max ({}) is smaller than min ({})",
                settings.max, settings.min
            )));
        }
        Ok(settings)
    }

    /// Whether the environment needs the `global` stack in us-east-1: a web
    /// ACL or a domain's certificate, for an environment elsewhere.
    pub fn needs_global_stack(&self) -> bool {
        self.needs_global_stack_in(&self.region)
    }

    /// The same, for the environment deployed to `region`.
    pub fn needs_global_stack_in(&self, region: &str) -> bool {
        (self.waf || self.domain.is_some()) && region != GLOBAL_REGION
    }

    /// The port the load balancer's listener takes: 443 behind a domain
    /// (HTTPS at `origin.DOMAIN`), else 80.
    pub fn listener_port(&self) -> u16 {
        if self.domain.is_some() {
            443
        } else {
            80
        }
    }

    /// A name prefix unique to this stack and environment: `todo-dev`.
    pub fn prefix(&self, stack: &Stack) -> String {
        format!("{}-{}", stack.name, self.env)
    }
}
