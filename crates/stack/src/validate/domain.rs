//! `[aws] domain` and `hosted_zone_id`: the name each environment is
//! served at, every environment a name of its own.

use std::collections::HashMap;
use std::ops::Range;

use super::Validator;
use crate::model::{Aws, Compute};
use crate::raw::{RawAws, S};

/// The longest name an ACM certificate takes (its common name); each
/// environment's name, and `origin.` before it behind a load balancer, is
/// checked against it as well.
const MOST_DOMAIN_CHARS: usize = 64;

impl Validator<'_> {
    /// A domain name as Route 53 and ACM take it: lowercase labels of
    /// letters, digits and inner dashes, at least two of them.
    pub(super) fn domain_name(&mut self, d: &S<String>) -> Option<String> {
        let name = d.get_ref();
        let problem = if name.contains('*') {
            Some("a wildcard cannot name an environment".to_string())
        } else if name.chars().any(|c| c.is_ascii_uppercase()) {
            Some("domain names are written in lowercase".to_string())
        } else if name.len() > MOST_DOMAIN_CHARS {
            Some(format!(
                "a domain has at most {MOST_DOMAIN_CHARS} characters here (an ACM certificate names no more)"
            ))
        } else if !is_dns_name(name) {
            Some(format!("`{name}` is not a domain name"))
        } else {
            None
        };
        let Some(message) = problem else {
            return Some(name.clone());
        };
        self.error(d.span(), message).hint = Some(if name.len() > MOST_DOMAIN_CHARS {
            "use a shorter name".into()
        } else {
            format!("e.g. {}", suggestion(name))
        });
        None
    }

    /// A Route 53 hosted zone id: capitals and digits (`Z...` on AWS).
    pub(super) fn hosted_zone_id(&mut self, z: &S<String>) -> Option<String> {
        let id = z.get_ref();
        let ok = (1..=32).contains(&id.len())
            && id
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
        if ok {
            return Some(id.clone());
        }
        let hint = match id.strip_prefix("/hostedzone/") {
            Some(bare) => format!("write the id alone: \"{bare}\""),
            None => {
                "Route 53 shows it as the zone's \"Hosted zone ID\", e.g. Z0123456789ABCDEFGHIJ"
                    .to_string()
            }
        };
        self.error(z.span(), format!("`{id}` is not a hosted zone id"))
            .hint = Some(hint);
        None
    }

    /// Every environment its own name, and no zone without a domain.
    pub(super) fn domains(&mut self, raw: &RawAws, aws: &Aws) {
        // Where an environment's domain is written: its own, else `[aws]`'s.
        let place = |env: &str| -> Option<Range<usize>> {
            raw.env
                .get(env)
                .and_then(|e| e.get_ref().domain.as_ref().map(S::span))
                .or_else(|| raw.domain.as_ref().map(S::span))
        };
        let mut served: HashMap<String, String> = HashMap::new();
        for env in aws.environments() {
            let Some(name) = aws.domain_of(&env) else {
                if let Some(zone) = raw
                    .env
                    .get(&env)
                    .and_then(|e| e.get_ref().hosted_zone_id.as_ref())
                {
                    self.error(
                        zone.span(),
                        format!("environment `{env}` has a hosted_zone_id but no domain"),
                    )
                    .hint = Some("add `domain` beside it, or remove it".into());
                }
                continue;
            };
            let Some(span) = place(&env) else {
                continue;
            };
            // Behind a load balancer, the balancer's own name too.
            let balanced = aws
                .envs
                .get(&env)
                .and_then(|e| e.compute)
                .or(aws.base.compute)
                .unwrap_or(Compute::Fargate)
                .load_balanced();
            let mut names = vec![name.clone()];
            if balanced {
                names.push(format!("origin.{name}"));
            }
            let own = |what: &str| format!("give `{env}` {what} in [aws.env.{env}]");
            if !is_dns_name(&name) {
                self.error(
                    span.clone(),
                    format!("environment `{env}` would be served at `{name}`, which is not a domain name"),
                )
                .hint = Some(own("a domain of its own"));
                continue;
            }
            if let Some(long) = names.iter().find(|n| n.len() > MOST_DOMAIN_CHARS) {
                self.error(
                    span.clone(),
                    format!(
                        "environment `{env}` needs a certificate for `{long}`, {} characters; ACM takes at most {MOST_DOMAIN_CHARS}",
                        long.len()
                    ),
                )
                .hint = Some(own("a shorter domain"));
                continue;
            }
            for n in names {
                if let Some(first) = served.insert(n.clone(), env.clone()) {
                    self.error(
                        span.clone(),
                        format!("environments `{first}` and `{env}` would both use `{n}`"),
                    )
                    .hint = Some(own("a domain of its own"));
                    // One clash an environment is enough to say.
                    break;
                }
            }
        }
        let any_domain = aws.base.domain.is_some() || aws.envs.values().any(|e| e.domain.is_some());
        if let (Some(zone), false) = (&raw.hosted_zone_id, any_domain) {
            self.error(zone.span(), "hosted_zone_id without a domain")
                .hint = Some("add `domain = \"shop.example.com\"` to [aws], or remove it".into());
        }
    }
}

/// Labels of 1-63 letters, digits and inner dashes; at least two; the last
/// not all digits.
fn is_dns_name(name: &str) -> bool {
    let labels: Vec<&str> = name.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|l| !l.chars().all(|c| c.is_ascii_digit()))
}

/// The written name made into a domain name, when that is easy.
fn suggestion(name: &str) -> String {
    let cleaned = name
        .to_ascii_lowercase()
        .replace('*', "")
        .trim_matches('.')
        .to_string();
    if is_dns_name(&cleaned) {
        cleaned
    } else {
        "shop.example.com".to_string()
    }
}
