//! Raw stack file -> validated [`Stack`], collecting every problem with its place.
//!
//! One file a section of the stack file: `server`, `users` (and `auth`),
//! `site`, `topics` (and subscriptions), `services`, `table` (columns and indexes),
//! `aws` (and `domain`), `route` (what every route shares, and its operations), `list`
//! (list routes, their bounds, field lists) and `order` (a list's orders and their indexes). Each adds an `impl Validator` block.

mod aws;
mod condition;
mod domain;
mod list;
mod ops;
mod order;
mod route;
mod server;
mod services;
mod site;
mod table;
mod topics;
mod users;

/// Paths the runtime itself answers: no service or site may take them.
const RESERVED: [&str; 4] = ["/topics", "/auth", "/docs", "/openapi.json"];

#[cfg(test)]
mod tests;

use std::ops::{Range, RangeInclusive};
use std::path::Path;

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::diagnostic::{suggest, Diagnostic, Diagnostics};
use crate::model::*;
use crate::raw::*;

/// Query parameters the runtime itself reads on list routes: the page
/// (`limit`, `cursor`) and the fields to return (`fields`).
pub const LIST_PARAMS: [&str; 3] = ["limit", "cursor", "fields"];

/// Parse and validate a stack file's text. `file` is only used to name places.
pub fn parse(file: &Path, source: &str) -> Result<Stack, Diagnostics> {
    parse_for(file, source, None)
}

/// Like [`parse`], checking the rules of `engine` instead of the stack's own
/// `[database] engine` (e.g. `stackwright check --engine dynamodb`).
pub fn parse_for(
    file: &Path,
    source: &str,
    engine: Option<CloudEngine>,
) -> Result<Stack, Diagnostics> {
    parse_with(file, source, engine, true)
}

/// Like [`parse_for`]; `site_files` false skips looking for the site's
/// folder (a deployed package does not hold it: the site is in its bucket).
pub fn parse_with(
    file: &Path,
    source: &str,
    engine: Option<CloudEngine>,
    site_files: bool,
) -> Result<Stack, Diagnostics> {
    // Every problem of shape at once; what can be read is then validated.
    let (raw, problems) = crate::read::raw_stack(file, source);
    let Some(raw) = raw else {
        return Err(problems);
    };
    let shape_problems = problems.0.len();
    let mut v = Validator {
        file,
        source,
        errors: problems,
        engine_override: engine,
        engine: CloudEngine::Postgres,
        site_files,
    };
    let stack = v.stack(raw);
    // A value reported for its type stood in with a blank of the right
    // type: what the checks then say of the blank, at the same place, is
    // not news.
    let shape: Vec<(usize, usize)> = v.errors.0[..shape_problems]
        .iter()
        .map(|d| (d.line, d.column))
        .collect();
    let mut i = 0;
    v.errors.0.retain(|d| {
        i += 1;
        i <= shape_problems || !shape.contains(&(d.line, d.column))
    });
    if v.errors.is_empty() {
        Ok(stack)
    } else {
        v.errors.sort();
        Err(v.errors)
    }
}

struct Validator<'a> {
    file: &'a Path,
    source: &'a str,
    errors: Diagnostics,
    engine_override: Option<CloudEngine>,
    /// The engine whose rules apply (set before tables are read).
    engine: CloudEngine,
    /// Look for the site's folder and its index.html.
    site_files: bool,
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && s.len() <= 63
        && !s.to_ascii_lowercase().starts_with("_stackwright")
}

/// Column -> API name lookups for one route, after `rename`.
struct ApiFields {
    fields: Vec<Field>,
}

impl ApiFields {
    fn column_of(&self, api: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.api == api)
            .map(|f| f.column.as_str())
    }
    fn api_of(&self, column: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.column == column)
            .map(|f| f.api.as_str())
    }
    fn names(&self) -> impl Iterator<Item = &str> + Clone {
        self.fields.iter().map(|f| f.api.as_str())
    }
}

impl Validator<'_> {
    fn error(&mut self, span: Range<usize>, message: impl Into<String>) -> &mut Diagnostic {
        self.errors
            .push(Diagnostic::at(self.file, self.source, span, message));
        self.errors.0.last_mut().expect("just pushed")
    }

    /// "unknown WHAT `word`", with the closest of `candidates` (or all of
    /// them) as the hint.
    fn unknown<'c>(
        &mut self,
        span: Range<usize>,
        what: &str,
        word: &str,
        candidates: impl IntoIterator<Item = &'c str> + Clone,
    ) {
        let hint = suggest(word, candidates);
        self.error(span, format!("unknown {what} `{word}`")).hint = Some(hint);
    }

    /// What `name` names among the valid definitions `found`. An unknown
    /// name is reported; a definition with problems was reported where it
    /// is, so a name among `defined` is not.
    fn lookup<'m, T, D>(
        &mut self,
        name: &S<String>,
        what: &str,
        found: &'m IndexMap<String, T>,
        defined: &IndexMap<String, D>,
    ) -> Option<&'m T> {
        let found = found.get(name.get_ref());
        if found.is_none() && !defined.contains_key(name.get_ref()) {
            let names = defined.keys().map(String::as_str);
            self.unknown(name.span(), what, name.get_ref(), names);
        }
        found
    }

    /// A number written for `what`, if it was and lies in `range`;
    /// reported when it does not.
    fn in_range(
        &mut self,
        value: Option<&S<i64>>,
        range: RangeInclusive<i64>,
        what: &str,
    ) -> Option<i64> {
        let value = value?;
        if range.contains(value.get_ref()) {
            return Some(*value.get_ref());
        }
        let message = format!(
            "{what} must be between {} and {}",
            range.start(),
            range.end()
        );
        self.error(value.span(), message);
        None
    }

    fn stack(&mut self, raw: RawStack) -> Stack {
        let name = self.stack_name(&raw.name);
        let engine = self.database_engine(raw.database.as_ref());
        self.engine = self.engine_override.unwrap_or(engine);
        let server = raw
            .server
            .as_ref()
            .map(|raw| self.server_settings(raw))
            .unwrap_or_default();
        let dir = self
            .file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let tables = self.tables(&raw.tables, &dir);
        let routes = self.routes(&raw.routes, &tables, &raw.tables);
        let topics = self.topics(&raw.topics);
        self.reserved_paths(&raw.routes);
        let site = raw
            .site
            .as_ref()
            .and_then(|raw_site| self.site(raw_site, &dir, &routes));
        let users = self.user_pool(&raw);
        let services = self.services(&raw.services, &dir, &routes, site.as_ref());
        let subscriptions = self.subscriptions(&raw, &topics, &tables);
        let aws = raw.aws.as_ref().map_or_else(Aws::default, |a| self.aws(a));
        Stack {
            name,
            dir,
            database: Database { engine },
            tables,
            routes,
            topics,
            subscriptions,
            site,
            users,
            services,
            server,
            aws,
        }
    }

    fn stack_name(&mut self, raw: &S<String>) -> String {
        let name = raw.get_ref().clone();
        let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name.len() <= 40;
        if !name_ok {
            self.error(raw.span(), format!("invalid stack name `{name}`"))
                .hint = Some(
                "use 1-40 letters, digits and dashes, starting with a letter (it names cloud stacks)"
                    .into(),
            );
        }
        name
    }

    /// `[database] engine`, Postgres when not given (or not known).
    fn database_engine(&mut self, raw: Option<&S<RawDatabase>>) -> CloudEngine {
        let Some(db) = raw else {
            return CloudEngine::Postgres;
        };
        let e = &db.get_ref().engine;
        match CloudEngine::ALL.iter().find(|(n, _)| *n == e.get_ref()) {
            Some((_, engine)) => *engine,
            None => {
                let names = CloudEngine::ALL.iter().map(|(n, _)| *n);
                self.unknown(e.span(), "database engine", e.get_ref(), names);
                CloudEngine::Postgres
            }
        }
    }
}

/// A message field's values always fit the column: the same type, a
/// shorter string, or an integer into a bigint.
fn fits(field: ColumnType, column: ColumnType) -> bool {
    match (field, column) {
        (ColumnType::String { max_length: f }, ColumnType::String { max_length: c }) => f <= c,
        (ColumnType::String { .. }, ColumnType::Text) => true,
        (ColumnType::Integer, ColumnType::BigInt) => true,
        (f, c) => f == c,
    }
}

/// A folder written in the stack file that may leave the stack's folder.
fn outside_stack(folder: &Path) -> bool {
    folder.is_absolute() || folder.components().any(|c| c.as_os_str() == "..")
}

fn display_dir(dir: &Path) -> String {
    if dir.as_os_str().is_empty() {
        "the current folder".into()
    } else {
        dir.display().to_string()
    }
}

/// Used by the runtime to explain a value problem the same way `check` does.
pub fn describe_json_type(v: &Json) -> &'static str {
    crate::values::json_type_name(v)
}
