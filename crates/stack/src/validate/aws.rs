//! `[aws]`: how the stack runs on AWS, and `[aws.env.NAME]` overrides.

use indexmap::IndexMap;

use super::Validator;
use crate::model::{Aws, AwsOverrides, CloudEngine, Compute, LOG_RETENTION_DAYS};
use crate::raw::{RawAws, S};

/// The CPU units a Fargate task may have.
const FARGATE_CPU: [i64; 7] = [256, 512, 1024, 2048, 4096, 8192, 16384];

impl Validator<'_> {
    /// `[aws]` and each environment's overrides.
    pub(super) fn aws(&mut self, raw: &RawAws) -> Aws {
        let base = self.aws_settings(raw, false);
        let mut envs = IndexMap::new();
        for (env, settings) in &raw.env {
            let valid_name = !env.is_empty()
                && env.len() <= 16
                && env.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && env
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
            if !valid_name {
                self.error(settings.span(), format!("invalid environment name `{env}`"))
                    .hint = Some(
                    "use 1-16 lowercase letters, digits and dashes, starting with a letter".into(),
                );
            }
            envs.insert(env.clone(), self.aws_settings(settings.get_ref(), true));
        }
        let aws = Aws { base, envs };
        self.domains(raw, &aws);
        aws
    }

    fn aws_settings(&mut self, raw: &RawAws, nested: bool) -> AwsOverrides {
        if nested {
            if let Some(inner) = raw.env.values().next() {
                self.error(inner.span(), "environments cannot be nested");
            }
        }
        let region = raw.region.as_ref().and_then(|r| self.region(r));
        let cpu = self.fargate_cpu(raw.cpu.as_ref());
        let min = self.in_range(raw.min.as_ref(), 1..=100, "min");
        let max = self.in_range(raw.max.as_ref(), 1..=100, "max");
        if let (Some(lo), Some(hi), Some(written)) = (min, max, raw.max.as_ref()) {
            if hi < lo {
                self.error(written.span(), "max is smaller than min");
            }
        }
        let log_retention_days = raw
            .log_retention_days
            .as_ref()
            .and_then(|d| self.retention(d));
        if let Some(c) = &raw.certificate_arn {
            self.retired_certificate(c);
        }
        let compute_names: Vec<&str> = Compute::ALL.iter().map(|(n, _)| *n).collect();
        let engine_names: Vec<&str> = CloudEngine::ALL.iter().map(|(n, _)| *n).collect();
        let text = |v: &Option<S<String>>| v.as_ref().map(|x| x.get_ref().clone());
        let flag = |v: &Option<S<bool>>| v.as_ref().map(|b| *b.get_ref());
        AwsOverrides {
            region,
            compute: self
                .choice(raw.compute.as_ref(), &compute_names, "compute")
                .map(|i| Compute::ALL[i].1),
            database: self
                .choice(raw.database.as_ref(), &engine_names, "database engine")
                .map(|i| CloudEngine::ALL[i].1),
            production: flag(&raw.production),
            port: self
                .in_range(raw.port.as_ref(), 1..=65535, "port")
                .map(|p| p as u16),
            azs: self
                .in_range(raw.azs.as_ref(), 2..=3, "azs")
                .map(|a| a as u8),
            cpu: cpu.map(|c| c as u32),
            memory: self
                .in_range(raw.memory.as_ref(), 512..=122_880, "memory (MiB)")
                .map(|m| m as u32),
            min: min.map(|m| m as u32),
            max: max.map(|m| m as u32),
            target_cpu: self
                .in_range(raw.target_cpu.as_ref(), 10..=90, "target_cpu (percent)")
                .map(|t| t as u32),
            instance_type: text(&raw.instance_type),
            db_instance_class: text(&raw.db_instance_class),
            db_storage_gb: self
                .in_range(raw.db_storage_gb.as_ref(), 20..=65_536, "db_storage_gb")
                .map(|g| g as u32),
            lambda_memory: self
                .in_range(
                    raw.lambda_memory.as_ref(),
                    128..=10_240,
                    "lambda_memory (MiB)",
                )
                .map(|m| m as u32),
            multi_az: flag(&raw.multi_az),
            deletion_protection: flag(&raw.deletion_protection),
            log_retention_days,
            web_adapter_layer: raw
                .web_adapter_layer
                .as_ref()
                .and_then(|l| self.layer_arn(l)),
            waf: flag(&raw.waf),
            // WAF's own bounds for a rate-based rule.
            waf_rate_limit: self
                .in_range(
                    raw.waf_rate_limit.as_ref(),
                    10..=2_000_000_000,
                    "waf_rate_limit (requests per 5 minutes)",
                )
                .map(|l| l as u32),
            domain: raw.domain.as_ref().and_then(|d| self.domain_name(d)),
            hosted_zone_id: raw
                .hosted_zone_id
                .as_ref()
                .and_then(|z| self.hosted_zone_id(z)),
        }
    }

    /// The position of the written value among `names`.
    /// A Fargate task size in CPU units, when written and one AWS offers.
    pub(super) fn fargate_cpu(&mut self, written: Option<&S<i64>>) -> Option<i64> {
        let cpu = self.in_range(written, 256..=16384, "cpu (Fargate CPU units)");
        if let (Some(c), Some(written)) = (cpu, written) {
            if !FARGATE_CPU.contains(&c) {
                self.error(
                    written.span(),
                    "Fargate cpu is one of 256, 512, 1024, 2048, 4096, 8192, 16384",
                );
            }
        }
        cpu
    }

    fn choice(&mut self, value: Option<&S<String>>, names: &[&str], what: &str) -> Option<usize> {
        let value = value?;
        let position = names.iter().position(|n| n == value.get_ref());
        if position.is_none() {
            self.unknown(value.span(), what, value.get_ref(), names.iter().copied());
        }
        position
    }

    /// A region name such as `eu-west-1`.
    fn region(&mut self, r: &S<String>) -> Option<String> {
        let parts: Vec<&str> = r.get_ref().split('-').collect();
        let ok = parts.len() >= 3
            && parts[0].len() == 2
            && parts.iter().all(|p| {
                !p.is_empty()
                    && p.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            })
            && parts
                .last()
                .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
        if ok {
            return Some(r.get_ref().clone());
        }
        self.error(r.span(), format!("`{}` is not an AWS region", r.get_ref()))
            .hint = Some("e.g. us-east-1, eu-west-1, ap-southeast-2".into());
        None
    }

    /// A log retention CloudWatch Logs offers.
    fn retention(&mut self, d: &S<i64>) -> Option<u32> {
        let days = u32::try_from(*d.get_ref())
            .ok()
            .filter(|d| LOG_RETENTION_DAYS.contains(d));
        if days.is_none() {
            let list: Vec<String> = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect();
            self.error(d.span(), "CloudWatch Logs does not offer that retention")
                .hint = Some(format!("one of {}", list.join(", ")));
        }
        days
    }

    fn layer_arn(&mut self, l: &S<String>) -> Option<String> {
        let arn = l.get_ref();
        let parts: Vec<&str> = arn.split(':').collect();
        // arn:PARTITION:lambda:REGION:ACCOUNT:layer:NAME:VERSION; the region
        // may be `${AWS::Region}`, which CloudFormation fills in.
        if parts.len() == 8
            && parts[0] == "arn"
            && parts[2] == "lambda"
            && parts[5] == "layer"
            && parts[7].parse::<u32>().is_ok()
        {
            return Some(arn.clone());
        }
        self.error(
            l.span(),
            "web_adapter_layer must be a Lambda layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION)",
        );
        None
    }

    /// The load balancer's certificate is gone: viewers reach every
    /// environment over HTTPS through its CloudFront distribution, and the
    /// balancer admits only CloudFront.
    fn retired_certificate(&mut self, c: &S<String>) {
        self.error(
            c.span(),
            "certificate_arn is no longer used: every environment is served over HTTPS by its CloudFront distribution",
        )
        .hint = Some("remove it (docs/aws.md, \"The edge\")".into());
    }
}
