//! `[aws]` as the stack file gives it, and what each compute kind implies:
//! the synthesizer and deploy ask `Compute`, never compare with it.

use indexmap::IndexMap;
use serde::Serialize;

use super::CloudEngine;

/// `[aws]`: settings for every environment, and per-environment overrides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Aws {
    pub base: AwsOverrides,
    pub envs: IndexMap<String, AwsOverrides>,
}

impl Aws {
    /// The environments a stack has: `dev`, `prod`, and every `[aws.env.NAME]`.
    pub fn environments(&self) -> Vec<String> {
        let mut envs = vec!["dev".to_string(), "prod".to_string()];
        for name in self.envs.keys() {
            if !envs.contains(name) {
                envs.push(name.clone());
            }
        }
        envs
    }

    /// The name environment `env` is served at: its own `domain`, else
    /// `[aws] domain` itself for `prod` and `ENV.DOMAIN` for any other, so
    /// one setting names every environment, each its own.
    pub fn domain_of(&self, env: &str) -> Option<String> {
        if let Some(own) = self.envs.get(env).and_then(|e| e.domain.clone()) {
            return Some(own);
        }
        let base = self.base.domain.as_ref()?;
        Some(if env == PRODUCTION_ENV {
            base.clone()
        } else {
            format!("{env}.{base}")
        })
    }

    /// The hosted zone given for environment `env`'s domain, if any.
    pub fn hosted_zone_of(&self, env: &str) -> Option<String> {
        self.envs
            .get(env)
            .and_then(|e| e.hosted_zone_id.clone())
            .or_else(|| self.base.hosted_zone_id.clone())
    }
}

/// The environment that `[aws] domain` names as it is written.
pub const PRODUCTION_ENV: &str = "prod";

/// AWS settings as written: every key optional; the synthesizer fills
/// defaults from the environment's preset (`dev` or production).
#[derive(Debug, Clone, Default, Serialize)]
pub struct AwsOverrides {
    pub region: Option<String>,
    pub compute: Option<Compute>,
    pub database: Option<CloudEngine>,
    pub production: Option<bool>,
    pub port: Option<u16>,
    pub azs: Option<u8>,
    pub cpu: Option<u32>,
    pub memory: Option<u32>,
    pub min: Option<u32>,
    pub max: Option<u32>,
    pub target_cpu: Option<u32>,
    pub instance_type: Option<String>,
    pub db_instance_class: Option<String>,
    pub db_storage_gb: Option<u32>,
    pub lambda_memory: Option<u32>,
    pub multi_az: Option<bool>,
    pub deletion_protection: Option<bool>,
    pub log_retention_days: Option<u32>,
    /// The Lambda Web Adapter layer services run with on Lambda, instead
    /// of the version Stackwright pins.
    pub web_adapter_layer: Option<String>,
    /// A WAF web ACL in front of the distribution.
    pub waf: Option<bool>,
    /// Requests per 5 minutes one address may make before WAF blocks it.
    pub waf_rate_limit: Option<u32>,
    /// The environment's own domain name (`shop.example.com`).
    pub domain: Option<String>,
    /// The Route 53 hosted zone holding it; found by name when left out.
    pub hosted_zone_id: Option<String>,
}

/// Where the stack's code runs on AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compute {
    /// Functions behind an HTTP API, in the VPC's private subnets.
    Lambda,
    /// An ECS service on Fargate behind an application load balancer.
    Fargate,
    /// An EC2 autoscaling group behind an application load balancer.
    Ec2,
}

impl Compute {
    pub const ALL: [(&'static str, Compute); 3] = [
        ("lambda", Compute::Lambda),
        ("fargate", Compute::Fargate),
        ("ec2", Compute::Ec2),
    ];

    /// Behind an application load balancer (else an HTTP API).
    pub fn load_balanced(self) -> bool {
        match self {
            Compute::Lambda => false,
            Compute::Fargate | Compute::Ec2 => true,
        }
    }

    /// Runs the runtime image (pushed to the environment's repository);
    /// the others run the runtime package from the artifact bucket.
    pub fn needs_image(self) -> bool {
        match self {
            Compute::Fargate => true,
            Compute::Lambda | Compute::Ec2 => false,
        }
    }

    /// Long-running tasks reach AWS APIs and the internet through NAT
    /// gateways; functions use VPC endpoints instead.
    pub fn needs_nat(self) -> bool {
        match self {
            Compute::Fargate | Compute::Ec2 => true,
            Compute::Lambda => false,
        }
    }

    /// Subscriptions are consumed by the running service polling its
    /// queues; on Lambda a subscriber function is invoked instead.
    pub fn polls_queues(self) -> bool {
        match self {
            Compute::Fargate | Compute::Ec2 => true,
            Compute::Lambda => false,
        }
    }
}

/// Retention periods CloudWatch Logs accepts, in days.
pub const LOG_RETENTION_DAYS: [u32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];
