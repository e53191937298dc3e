//! `[services.NAME]`: a folder, how to build and start it, the path
//! prefixes it serves (none shared with anything else the stack serves),
//! its plain settings and the names of its secrets, and its cloud sizing.

use std::ops::Range;
use std::path::Path;

use indexmap::IndexMap;

use super::{display_dir, Validator};
use crate::env;
use crate::model::*;
use crate::raw::{RawService, S};

use super::RESERVED;

/// Variables the runtime gives every service: not for `env` or `secrets`.
/// (Besides these, every `STACKWRIGHT_*` and `AWS_*` name.)
const WIRED: [&str; 3] = [
    env::SERVICE_PORT,
    env::SERVICE_DATABASE_URL,
    env::SERVICE_DATABASE_PASSWORD,
];

impl Validator<'_> {
    pub(super) fn services(
        &mut self,
        raw: &IndexMap<String, S<RawService>>,
        dir: &Path,
        routes: &[Route],
        site: Option<&Site>,
    ) -> IndexMap<String, Service> {
        let mut services = IndexMap::new();
        // (prefix, its span, the service's name), to refuse overlaps.
        let mut taken: Vec<(String, Range<usize>, String)> = Vec::new();
        for (name, raw_service) in raw {
            let errors_before = self.errors.len();
            self.service_name(name, raw_service.span());
            let r = raw_service.get_ref();
            self.service_folder(&r.dir, dir);
            let build = r.build.as_ref().and_then(|b| self.argv(b, "build"));
            let command = self.argv(&r.command, "command");
            let paths = self.service_paths(name, &r.paths, routes, site, &mut taken);
            let health = r
                .health
                .as_ref()
                .map_or(DEFAULT_HEALTH.to_string(), |h| self.health_path(h));
            let env = self.service_env(&r.env);
            let secrets = self.secret_names(r.secrets.as_ref(), &env);
            let auth = self.auth(r.auth.as_ref(), false);
            let sizing = self.service_sizing(r);
            let lambda_runtime = self.lambda_runtime(r.lambda_runtime.as_ref());
            if self.errors.len() == errors_before {
                let (cpu, memory, min, max) = sizing;
                services.insert(
                    name.clone(),
                    Service {
                        name: name.clone(),
                        dir: Path::new(r.dir.get_ref()).to_path_buf(),
                        build,
                        command: command.unwrap_or_default(),
                        paths,
                        health,
                        env,
                        secrets,
                        auth,
                        cpu,
                        memory,
                        min,
                        max,
                        base: r.base.as_ref().map(|b| b.get_ref().clone()),
                        lambda_runtime,
                    },
                );
            }
        }
        services
    }

    /// It names cloud resources (an ECS service, a target group, log
    /// streams): short, lowercase, dashes.
    fn service_name(&mut self, name: &str, span: Range<usize>) {
        let ok = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && name.len() <= 24;
        if !ok {
            self.error(span, format!("invalid service name `{name}`")).hint = Some(
                "use 1-24 lowercase letters, digits and dashes, starting with a letter (it names cloud resources)"
                    .into(),
            );
        }
    }

    fn service_folder(&mut self, written: &S<String>, dir: &Path) {
        let folder = Path::new(written.get_ref());
        if super::outside_stack(folder) {
            self.error(
                written.span(),
                "the service folder must be inside the stack folder",
            );
        } else if self.site_files && !dir.join(folder).is_dir() {
            self.error(
                written.span(),
                format!("service folder `{}` not found", folder.display()),
            )
            .hint = Some(format!("the path is relative to {}", display_dir(dir)));
        }
    }

    /// A program and its arguments, as an array: never a shell line.
    fn argv(&mut self, written: &S<Vec<S<String>>>, key: &str) -> Option<Vec<String>> {
        let args: Vec<String> = written
            .get_ref()
            .iter()
            .map(|a| a.get_ref().clone())
            .collect();
        if args.first().is_none_or(|program| program.trim().is_empty()) {
            self.error(written.span(), format!("`{key}` names no program"))
                .hint = Some(format!(
                "the program and its arguments, e.g. {key} = [\"python3\", \"app.py\"]"
            ));
            return None;
        }
        Some(args)
    }

    fn service_paths(
        &mut self,
        name: &str,
        written: &S<Vec<S<String>>>,
        routes: &[Route],
        site: Option<&Site>,
        taken: &mut Vec<(String, Range<usize>, String)>,
    ) -> Vec<String> {
        if written.get_ref().is_empty() {
            self.error(written.span(), "a service serves at least one path")
                .hint = Some("e.g. paths = [\"/orders\"]".into());
        }
        let mut paths = Vec::new();
        for p in written.get_ref() {
            let Some(prefix) = self.prefix(p) else {
                continue;
            };
            let span = p.span();
            if let Some(reserved) = RESERVED.iter().find(|r| overlap(&prefix, r)) {
                self.error(
                    span.clone(),
                    format!("the path `{prefix}` overlaps `{reserved}`, which the runtime serves"),
                );
            }
            if let Some(route) = routes.iter().find(|r| route_under(&r.path, &prefix)) {
                self.error(
                    span.clone(),
                    format!("the path `{prefix}` holds the route {}", route.label()),
                )
                .hint = Some("a path belongs to the routes or to one service".into());
            }
            if let Some(site) = site.filter(|s| s.path != "/" && overlap(&prefix, &s.path)) {
                self.error(
                    span.clone(),
                    format!("the path `{prefix}` overlaps the site at `{}`", site.path),
                );
            }
            if let Some((other, _, owner)) = taken.iter().find(|(t, _, _)| overlap(&prefix, t)) {
                let whose = if owner == name {
                    "another path of this service".to_string()
                } else {
                    format!("service `{owner}`")
                };
                self.error(
                    span.clone(),
                    format!("the path `{prefix}` overlaps `{other}` of {whose}"),
                );
            }
            taken.push((prefix.clone(), span, name.to_string()));
            paths.push(prefix);
        }
        paths
    }

    /// A prefix of whole literal segments, without a trailing `/`.
    fn prefix(&mut self, written: &S<String>) -> Option<String> {
        let text = written.get_ref();
        let trimmed = text.trim_end_matches('/');
        let valid = text.starts_with('/')
            && !trimmed.is_empty()
            && text.len() <= 100
            && !trimmed.contains("//")
            && trimmed.split('/').skip(1).all(|seg| {
                !seg.is_empty()
                    && seg != "."
                    && seg != ".."
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
            });
        if !valid {
            self.error(written.span(), format!("invalid service path `{text}`"))
                .hint = Some(
                "a prefix of whole segments such as \"/orders\" or \"/api/v2\" (letters, digits, `-`, `_`, `.`; not \"/\")"
                    .into(),
            );
            return None;
        }
        Some(trimmed.to_string())
    }

    fn lambda_runtime(&mut self, written: Option<&S<String>>) -> String {
        let Some(written) = written else {
            return DEFAULT_LAMBDA_RUNTIME.to_string();
        };
        let text = written.get_ref();
        let known = LAMBDA_RUNTIMES.iter().any(|p| text.starts_with(p))
            && text.len() <= 30
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.');
        if !known {
            self.error(written.span(), format!("unknown Lambda runtime `{text}`"))
                .hint = Some(
                "a Lambda runtime identifier such as \"python3.12\", \"nodejs22.x\" or \"provided.al2023\""
                    .into(),
            );
        }
        text.clone()
    }

    fn health_path(&mut self, written: &S<String>) -> String {
        let text = written.get_ref();
        if !text.starts_with('/') || text.contains(char::is_whitespace) || text.len() > 200 {
            self.error(written.span(), format!("invalid health path `{text}`"))
                .hint = Some("a path on the service, such as \"/health\"".into());
        }
        text.clone()
    }

    fn service_env(&mut self, written: &IndexMap<String, S<String>>) -> IndexMap<String, String> {
        let mut env = IndexMap::new();
        for (name, value) in written {
            if self.variable_name(name, value.span(), "env") {
                env.insert(name.clone(), value.get_ref().clone());
            }
        }
        env
    }

    fn secret_names(
        &mut self,
        written: Option<&S<Vec<S<String>>>>,
        env: &IndexMap<String, String>,
    ) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in written.map(|w| w.get_ref().as_slice()).unwrap_or_default() {
            let text = name.get_ref();
            if !self.variable_name(text, name.span(), "secrets") {
                continue;
            }
            if names.contains(text) {
                self.error(name.span(), format!("secret `{text}` is named twice"));
            } else if env.contains_key(text) {
                self.error(
                    name.span(),
                    format!("`{text}` is both a setting in `env` and a secret"),
                )
                .hint = Some("keep it in one place: a secret if it must stay secret".into());
            }
            names.push(text.clone());
        }
        names
    }

    /// An environment variable name of the service's own; false when not.
    fn variable_name(&mut self, name: &str, span: Range<usize>, key: &str) -> bool {
        let shaped = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && name.len() <= 100;
        if !shaped {
            self.error(span, format!("invalid variable name `{name}` in `{key}`"))
                .hint = Some("upper-case letters, digits and `_`, such as API_KEY".into());
            return false;
        }
        if WIRED.contains(&name) || name.starts_with("STACKWRIGHT_") || name.starts_with("AWS_") {
            self.error(
                span,
                format!("`{name}` is set by the runtime for every service"),
            )
            .hint = Some("choose another name: PORT, DATABASE_URL, STACKWRIGHT_* and AWS_* are the runtime's".into());
            return false;
        }
        true
    }

    /// cpu, memory, min, max, with their defaults.
    fn service_sizing(&mut self, r: &RawService) -> (u32, u32, u32, u32) {
        let cpu = self.fargate_cpu(r.cpu.as_ref());
        let memory = self.in_range(r.memory.as_ref(), 512..=122_880, "memory (MiB)");
        let min = self.in_range(r.min.as_ref(), 1..=100, "min");
        let max = self.in_range(r.max.as_ref(), 1..=100, "max");
        let (lo, hi) = (
            min.unwrap_or(i64::from(DEFAULT_MIN)),
            max.unwrap_or(i64::from(DEFAULT_MAX)),
        );
        if hi < lo {
            let span = r
                .max
                .as_ref()
                .or(r.min.as_ref())
                .expect("one was written")
                .span();
            self.error(span, format!("max ({hi}) is smaller than min ({lo})"));
        }
        let number = |v: Option<i64>, default: u32| v.map_or(default, |n| n as u32);
        (
            number(cpu, DEFAULT_CPU),
            number(memory, DEFAULT_MEMORY),
            number(min, DEFAULT_MIN),
            number(max, DEFAULT_MAX),
        )
    }
}

/// Two prefixes overlap when one is the other or lies below it.
fn overlap(a: &str, b: &str) -> bool {
    under(a, b) || under(b, a)
}

/// Whether some request could match both a route path (literal segments
/// and `{params}`) and a service prefix: the route has at least the
/// prefix's segments, and each of them is a parameter or the same text.
fn route_under(route: &str, prefix: &str) -> bool {
    let route: Vec<&str> = route.split('/').skip(1).collect();
    let prefix: Vec<&str> = prefix.split('/').skip(1).collect();
    route.len() >= prefix.len()
        && route
            .iter()
            .zip(&prefix)
            .all(|(r, p)| r == p || (r.starts_with('{') && r.ends_with('}')))
}

#[cfg(test)]
mod tests {
    use super::route_under;

    #[test]
    fn a_route_overlaps_a_prefix_when_a_request_could_match_both() {
        assert!(route_under("/orders", "/orders"));
        assert!(route_under("/orders/{id}", "/orders"));
        assert!(route_under("/{kind}/x", "/orders"));
        assert!(route_under("/t/{id}", "/t/special"));
        assert!(!route_under("/orders", "/orders/special"));
        assert!(!route_under("/order", "/orders"));
        assert!(!route_under("/ordersx/{id}", "/orders"));
    }
}
