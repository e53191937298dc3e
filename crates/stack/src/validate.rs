//! Raw stack file -> validated [`Stack`], collecting every problem with its place.

use std::collections::{HashMap, HashSet};
use std::ops::Range;
use std::path::Path;

use indexmap::IndexMap;
use serde_json::Value as Json;

use crate::diagnostic::{suggest, Diagnostic, Diagnostics};
use crate::model::*;
use crate::raw::*;
use crate::values::{check_type, toml_to_json};

/// Query parameters the runtime itself reads on list routes.
pub const PAGINATION_PARAMS: [&str; 2] = ["limit", "cursor"];

const DEFAULT_PAGE_SIZE: u32 = 100;
const DEFAULT_MAX_PAGE_SIZE: u32 = 1000;
const MAX_PAGE_SIZE_LIMIT: u32 = 10_000;

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

/// A route key, where it was written, and the ops it applies to.
type ScopedKey<'k> = (&'k str, Option<Range<usize>>, &'k [&'k str]);

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

    fn stack(&mut self, raw: RawStack) -> Stack {
        let name = raw.name.get_ref().clone();
        let name_ok = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && name.len() <= 40;
        if !name_ok {
            self.error(raw.name.span(), format!("invalid stack name `{name}`"))
                .hint = Some(
                "use 1-40 letters, digits and dashes, starting with a letter (it names cloud stacks)"
                    .into(),
            );
        }

        let engine = match &raw.database {
            None => CloudEngine::Postgres,
            Some(db) => {
                let e = &db.get_ref().engine;
                match CloudEngine::ALL.iter().find(|(n, _)| *n == e.get_ref()) {
                    Some((_, engine)) => *engine,
                    None => {
                        let hint = suggest(e.get_ref(), CloudEngine::ALL.iter().map(|(n, _)| *n));
                        self.error(
                            e.span(),
                            format!("unknown database engine `{}`", e.get_ref()),
                        )
                        .hint = Some(hint);
                        CloudEngine::Postgres
                    }
                }
            }
        };

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
        let mut tables = IndexMap::new();
        for (name, raw_table) in &raw.tables {
            if let Some(t) = self.table(name, raw_table, &dir) {
                tables.insert(name.clone(), t);
            }
        }

        let mut routes = Vec::new();
        for raw_route in &raw.routes {
            if let Some(r) = self.route(raw_route, &tables, &raw.tables) {
                routes.push(r);
            }
        }
        self.route_conflicts(&raw.routes, &routes);

        let mut topics = IndexMap::new();
        for (name, raw_topic) in &raw.topics {
            if let Some(t) = self.topic(name, raw_topic) {
                topics.insert(name.clone(), t);
            }
        }
        for raw_route in &raw.routes {
            // Every topic is published at POST /topics/NAME.
            let path = &raw_route.get_ref().path;
            if ["/openapi.json", "/docs"].contains(&path.get_ref().as_str()) {
                self.error(
                    path.span(),
                    format!(
                        "`{}` is where the API describes itself; choose another path",
                        path.get_ref()
                    ),
                );
            }
            if path.get_ref() == "/topics" || path.get_ref().starts_with("/topics/") {
                self.error(
                    path.span(),
                    "paths under /topics/ are where topics are published; choose another path",
                );
            }
        }
        let site = raw
            .site
            .as_ref()
            .and_then(|raw_site| self.site(raw_site, &dir, &routes));
        let users = raw.users.as_ref().map(|u| self.users(u));
        if users.is_none() {
            let needs = raw
                .routes
                .iter()
                .map(|r| r.get_ref().auth.as_ref())
                .chain(raw.topics.values().map(|t| t.get_ref().auth.as_ref()))
                .flatten()
                .find(|a| a.get_ref() == "user");
            if let Some(auth) = needs {
                self.error(
                    auth.span(),
                    "`auth = \"user\"` needs a user pool: add a [users] section",
                )
                .hint = Some(
                    "[users] alone is enough: password_min_length = 8 and the rest have defaults"
                        .into(),
                );
            }
        }
        let mut subscriptions: Vec<Subscription> = Vec::new();
        for raw_sub in &raw.subscriptions {
            if let Some(sub) = self.subscription(raw_sub, &topics, &tables) {
                if subscriptions.iter().any(|s| s.name == sub.name) {
                    self.error(
                        raw_sub.span(),
                        format!(
                            "topic `{}` is already subscribed to table `{}`",
                            sub.topic, sub.table
                        ),
                    );
                } else {
                    subscriptions.push(sub);
                }
            }
        }

        let aws = match &raw.aws {
            None => Aws::default(),
            Some(a) => {
                let base = self.aws_settings(a, false);
                let mut envs = IndexMap::new();
                for (env, settings) in &a.env {
                    let valid_name = !env.is_empty()
                        && env.len() <= 16
                        && env.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                        && env
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
                    if !valid_name {
                        self.error(settings.span(), format!("invalid environment name `{env}`"))
                            .hint = Some(
                            "use 1-16 lowercase letters, digits and dashes, starting with a letter"
                                .into(),
                        );
                    }
                    envs.insert(env.clone(), self.aws_settings(settings.get_ref(), true));
                }
                Aws { base, envs }
            }
        };

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
            server,
            aws,
        }
    }

    /// `[server]`: each limit within a range that keeps the server usable.
    fn server_settings(&mut self, raw: &RawServer) -> ServerSettings {
        let mut server = ServerSettings::default();
        let given = [
            ("max_body_bytes", &raw.max_body_bytes),
            ("max_header_bytes", &raw.max_header_bytes),
            ("request_timeout_seconds", &raw.request_timeout_seconds),
            ("body_timeout_seconds", &raw.body_timeout_seconds),
            ("max_concurrent_requests", &raw.max_concurrent_requests),
            ("max_connections", &raw.max_connections),
            (
                "max_connections_per_client",
                &raw.max_connections_per_client,
            ),
            ("auth_requests_per_minute", &raw.auth_requests_per_minute),
            ("trusted_proxy_hops", &raw.trusted_proxy_hops),
            ("header_timeout_seconds", &raw.header_timeout_seconds),
            ("drain_timeout_seconds", &raw.drain_timeout_seconds),
        ];
        for (key, value) in given {
            if let Some(value) = value {
                if let Err(why) = server.set(key, *value.get_ref()) {
                    self.error(value.span(), why);
                }
            }
        }
        for host in raw.allowed_hosts.iter().flat_map(|h| h.get_ref()) {
            let name = host.get_ref();
            let valid = !name.is_empty()
                && name.len() <= 253
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.".contains(c));
            if valid {
                server.allowed_hosts.push(name.clone());
            } else {
                self.error(host.span(), format!("`{name}` is not a host name"))
                    .hint =
                    Some("a lower-case DNS name without a port, e.g. \"myapp.test\"".into());
            }
        }
        server
    }

    fn users(&mut self, raw: &S<RawUsers>) -> Users {
        let r = raw.get_ref();
        let mut number = |value: &Option<S<i64>>,
                          range: std::ops::RangeInclusive<i64>,
                          default: u32,
                          what: &str|
         -> u32 {
            match value {
                None => default,
                Some(v) if range.contains(v.get_ref()) => *v.get_ref() as u32,
                Some(v) => {
                    self.error(
                        v.span(),
                        format!(
                            "{what} must be between {} and {}",
                            range.start(),
                            range.end()
                        ),
                    );
                    default
                }
            }
        };
        let min_length = number(&r.password_min_length, 6..=128, 8, "password_min_length");
        let token_minutes = number(&r.token_minutes, 5..=1440, 60, "token_minutes");
        let refresh_days = number(&r.refresh_days, 1..=3650, 30, "refresh_days");
        let mut policy = PasswordPolicy {
            min_length,
            lower: true,
            upper: true,
            digit: true,
            symbol: false,
        };
        if let Some(list) = &r.password_require {
            policy.lower = false;
            policy.upper = false;
            policy.digit = false;
            for item in list.get_ref() {
                match item.get_ref().as_str() {
                    "lower" => policy.lower = true,
                    "upper" => policy.upper = true,
                    "digit" => policy.digit = true,
                    "symbol" => policy.symbol = true,
                    other => {
                        let hint = suggest(other, ["lower", "upper", "digit", "symbol"]);
                        self.error(
                            item.span(),
                            format!("unknown password requirement `{other}`"),
                        )
                        .hint = Some(hint);
                    }
                }
            }
        }
        Users {
            password: policy,
            token_minutes,
            refresh_days,
        }
    }

    fn site(&mut self, raw: &S<RawSite>, dir: &Path, routes: &[Route]) -> Option<Site> {
        let r = raw.get_ref();
        let errors_before = self.errors.len();
        let folder = Path::new(r.dir.get_ref());
        if folder.is_absolute() || folder.components().any(|c| c.as_os_str() == "..") {
            self.error(
                r.dir.span(),
                "the site folder must be inside the stack folder",
            );
        } else if !self.site_files {
            // Deployed: the folder stayed behind; the site is in its bucket.
        } else if !dir.join(folder).is_dir() {
            self.error(
                r.dir.span(),
                format!("site folder `{}` not found", folder.display()),
            )
            .hint = Some(format!("the path is relative to {}", display_dir(dir)));
        } else if !dir.join(folder).join("index.html").is_file() {
            self.error(
                r.dir.span(),
                format!("site folder `{}` has no index.html", folder.display()),
            );
        }
        let path = match &r.path {
            None => "/".to_string(),
            Some(p) => {
                let text = p.get_ref();
                let valid = text.starts_with('/')
                    && text.len() <= 100
                    && text
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '-' | '_' | '.'))
                    && !text.contains("//")
                    && !text.split('/').any(|seg| seg == "." || seg == "..");
                if !valid {
                    self.error(p.span(), format!("invalid site path `{text}`"))
                        .hint = Some(
                        "a URL path such as \"/\" or \"/app\": letters, digits, `-`, `_`, `.`"
                            .into(),
                    );
                }
                let trimmed = text.trim_end_matches('/');
                if trimmed.is_empty() {
                    "/".to_string()
                } else {
                    trimmed.to_string()
                }
            }
        };
        if path != "/" {
            let under = |p: &str| p == path || p.starts_with(&format!("{path}/"));
            if let Some(route) = routes.iter().find(|route| under(&route.path)) {
                let span = r.path.as_ref().map_or(raw.span(), |p| p.span());
                self.error(
                    span,
                    format!("the site path `{path}` holds the route {}", route.label()),
                )
                .hint = Some("serve the site at a path no route uses".into());
            }
        }
        if path == "/topics"
            || path.starts_with("/topics/")
            || path == "/auth"
            || path.starts_with("/auth/")
        {
            let span = r.path.as_ref().map_or(raw.span(), |p| p.span());
            self.error(span, format!("the site path `{path}` is reserved"));
        }
        (self.errors.len() == errors_before).then(|| Site {
            dir: folder.to_path_buf(),
            path,
            spa: r.spa.as_ref().is_some_and(|s| *s.get_ref()),
        })
    }

    fn topic(&mut self, name: &str, raw: &S<RawTopic>) -> Option<Topic> {
        let span = raw.span();
        let raw = raw.get_ref();
        let mut ok = true;
        let valid = name.len() <= 40
            && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_');
        if !valid {
            self.error(span.clone(), format!("invalid topic name `{name}`"))
                .hint = Some(
                "use 1-40 lowercase letters, digits, dashes and underscores, starting with a letter (it names the SNS topic and the route POST /topics/NAME)".into(),
            );
            ok = false;
        }
        if raw.fields.is_empty() {
            self.error(span, format!("topic `{name}` has no fields"));
            ok = false;
        }
        let mut fields = IndexMap::new();
        for (field, raw_field) in &raw.fields {
            match self.column(&format!("topic {name}"), field, raw_field, false) {
                Some(c) => {
                    fields.insert(field.clone(), c);
                }
                None => ok = false,
            }
        }
        let auth = self.auth(raw.auth.as_ref());
        ok.then(|| Topic {
            name: name.to_string(),
            fields,
            auth,
        })
    }

    fn auth(&mut self, raw: Option<&S<String>>) -> Auth {
        match raw.map(|a| a.get_ref().as_str()) {
            None | Some("none") => Auth::None,
            Some("user") => Auth::User,
            Some(other) => {
                let span = raw.expect("set").span();
                self.error(span, format!("unknown auth `{other}`")).hint =
                    Some("expected `none` or `user` (a signed-in user)".into());
                Auth::None
            }
        }
    }

    fn subscription(
        &mut self,
        raw: &S<RawSubscription>,
        topics: &IndexMap<String, Topic>,
        tables: &IndexMap<String, Table>,
    ) -> Option<Subscription> {
        let span = raw.span();
        let r = raw.get_ref();
        let errors_before = self.errors.len();
        if self.engine == CloudEngine::Dynamodb {
            self.error(
                span.clone(),
                "subscriptions need a SQL database; a DynamoDB stack cannot have them yet",
            );
            return None;
        }
        let Some(topic) = topics.get(r.topic.get_ref()) else {
            let hint = suggest(r.topic.get_ref(), topics.keys().map(String::as_str));
            self.error(
                r.topic.span(),
                format!("unknown topic `{}`", r.topic.get_ref()),
            )
            .hint = Some(hint);
            return None;
        };
        let Some(table) = tables.get(r.table.get_ref()) else {
            let hint = suggest(r.table.get_ref(), tables.keys().map(String::as_str));
            self.error(
                r.table.span(),
                format!("unknown table `{}`", r.table.get_ref()),
            )
            .hint = Some(hint);
            return None;
        };
        let apply = match r.action.as_ref().map(|a| a.get_ref().as_str()) {
            None | Some("insert") => Apply::Insert,
            Some("upsert") => Apply::Upsert,
            Some(other) => {
                let hint = suggest(other, ["insert", "upsert"]);
                self.error(
                    r.action.as_ref().expect("set").span(),
                    format!("unknown action `{other}`"),
                )
                .hint = Some(hint);
                Apply::Insert
            }
        };

        // (column, field), in the table's column order.
        let mut map: Vec<(String, String)> = Vec::new();
        match &r.map {
            Some(written) => {
                for (column, field) in written.get_ref() {
                    if !table.columns.contains_key(column) {
                        let hint = suggest(column, table.columns.keys().map(String::as_str));
                        self.error(
                            field.span(),
                            format!("`{column}` is not a column of table `{}`", table.name),
                        )
                        .hint = Some(hint);
                    } else if !topic.fields.contains_key(field.get_ref()) {
                        let hint =
                            suggest(field.get_ref(), topic.fields.keys().map(String::as_str));
                        self.error(
                            field.span(),
                            format!(
                                "`{}` is not a field of topic `{}`",
                                field.get_ref(),
                                topic.name
                            ),
                        )
                        .hint = Some(hint);
                    } else {
                        map.push((column.clone(), field.get_ref().clone()));
                    }
                }
                map.sort_by_key(|(c, _)| table.columns.get_index_of(c));
            }
            None => {
                for column in table.columns.keys() {
                    if topic.fields.contains_key(column) {
                        map.push((column.clone(), column.clone()));
                    }
                }
            }
        }
        if self.errors.len() > errors_before {
            // Checking columns against a map with holes would only repeat them.
            return None;
        }
        let map_span = r.map.as_ref().map_or(span.clone(), |m| m.span());
        if map.is_empty() {
            self.error(
                map_span.clone(),
                format!(
                    "no field of topic `{}` maps to a column of table `{}`",
                    topic.name, table.name
                ),
            )
            .hint =
                Some("name fields like the columns, or add map = { column = \"field\" }".into());
        }

        for (column_name, column) in &table.columns {
            let mapped = map.iter().find(|(c, _)| c == column_name);
            let optional_column = column.nullable || column.default.is_some() || column.generated;
            match mapped {
                None if column_name == &table.key && apply == Apply::Upsert => {
                    self.error(
                        map_span.clone(),
                        format!("an upsert needs the key: map a field to `{column_name}`"),
                    );
                }
                None if !optional_column => {
                    self.error(
                        map_span.clone(),
                        format!(
                            "column `{column_name}` of table `{}` needs a value, but no field of topic `{}` maps to it",
                            table.name, topic.name
                        ),
                    );
                }
                None => {}
                Some((_, field_name)) => {
                    let field = &topic.fields[field_name];
                    if !fits(field.ty, column.ty) {
                        self.error(
                            map_span.clone(),
                            format!(
                                "field `{field_name}` ({}) does not fit column `{column_name}` ({})",
                                field.ty, column.ty
                            ),
                        );
                    } else if field.nullable && field.default.is_none() && !optional_column {
                        self.error(
                            map_span.clone(),
                            format!(
                                "field `{field_name}` may be absent, but column `{column_name}` needs a value"
                            ),
                        )
                        .hint = Some(
                            "make the field required (remove nullable) or give it a default"
                                .to_string(),
                        );
                    } else if column_name == &table.key
                        && apply == Apply::Upsert
                        && field.nullable
                        && field.default.is_none()
                    {
                        self.error(
                            map_span.clone(),
                            format!(
                                "an upsert needs the key, but field `{field_name}` may be absent"
                            ),
                        );
                    }
                }
            }
        }

        let max_attempts = match &r.max_attempts {
            None => 5,
            Some(n) if (1..=1000).contains(n.get_ref()) => *n.get_ref() as u32,
            Some(n) => {
                self.error(n.span(), "max_attempts must be between 1 and 1000");
                5
            }
        };
        let backoff_seconds = match &r.backoff_seconds {
            None => 1,
            Some(n) if (0..=3600).contains(n.get_ref()) => *n.get_ref() as u32,
            Some(n) => {
                self.error(n.span(), "backoff_seconds must be between 0 and 3600");
                1
            }
        };
        (self.errors.len() == errors_before).then(|| Subscription {
            name: format!("{}-{}", topic.name, table.name),
            topic: topic.name.clone(),
            table: table.name.clone(),
            apply,
            map,
            max_attempts,
            backoff_seconds,
        })
    }

    fn table(&mut self, name: &str, raw: &S<RawTable>, dir: &Path) -> Option<Table> {
        let span = raw.span();
        let raw = raw.get_ref();
        let mut ok = true;
        if !is_identifier(name) {
            self.error(span.clone(), format!("invalid table name `{name}`")).hint = Some(
                "use letters, digits and underscores, starting with a letter or underscore; names starting with `_stackwright` are reserved".into(),
            );
            ok = false;
        }
        if raw.columns.is_empty() {
            self.error(span.clone(), format!("table `{name}` has no columns"));
            ok = false;
        }
        let key = raw.key.get_ref().clone();
        let mut columns = IndexMap::new();
        for (col_name, raw_col) in &raw.columns {
            if let Some(c) = self.column(name, col_name, raw_col, col_name == &key) {
                columns.insert(col_name.clone(), c);
            } else {
                ok = false;
            }
        }
        if !raw.columns.contains_key(&key) {
            let hint = suggest(&key, raw.columns.keys().map(String::as_str));
            self.error(
                raw.key.span(),
                format!("key `{key}` is not a column of table `{name}`"),
            )
            .hint = Some(hint);
            ok = false;
        }

        let mut indexes = IndexMap::new();
        for (index_name, raw_index) in &raw.indexes {
            let ispan = raw_index.span();
            let ri = raw_index.get_ref();
            if !is_identifier(index_name) {
                self.error(ispan.clone(), format!("invalid index name `{index_name}`"));
                ok = false;
            }
            let mut cols = Vec::new();
            if ri.columns.get_ref().is_empty() {
                self.error(
                    ri.columns.span(),
                    format!("index `{index_name}` names no columns"),
                );
                ok = false;
            }
            for c in ri.columns.get_ref() {
                if !raw.columns.contains_key(c.get_ref()) {
                    let hint = suggest(c.get_ref(), raw.columns.keys().map(String::as_str));
                    self.error(
                        c.span(),
                        format!(
                            "index `{index_name}` names unknown column `{}`",
                            c.get_ref()
                        ),
                    )
                    .hint = Some(hint);
                    ok = false;
                } else if cols.contains(c.get_ref()) {
                    self.error(c.span(), format!("column `{}` appears twice", c.get_ref()));
                    ok = false;
                } else {
                    cols.push(c.get_ref().clone());
                }
            }
            if self.engine == CloudEngine::Dynamodb {
                ok &= self.dynamodb_index(index_name, ri, raw);
            }
            indexes.insert(
                index_name.clone(),
                Index {
                    name: index_name.clone(),
                    columns: cols,
                    unique: ri.unique.as_ref().is_some_and(|u| *u.get_ref()),
                },
            );
        }

        let seed = raw.seed.as_ref().and_then(|s| {
            let path = Path::new(s.get_ref());
            let format = match path.extension().and_then(|e| e.to_str()) {
                Some("csv") => SeedFormat::Csv,
                Some("json") => SeedFormat::Json,
                _ => {
                    self.error(s.span(), "seed file must end in .csv or .json");
                    return None;
                }
            };
            if path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
                self.error(s.span(), "seed path must stay inside the stack folder");
                return None;
            }
            if !dir.join(path).is_file() {
                self.error(
                    s.span(),
                    format!("seed file `{}` not found", path.display()),
                )
                .hint = Some(format!("the path is relative to {}", display_dir(dir)));
                return None;
            }
            Some(SeedSource {
                path: path.to_path_buf(),
                format,
            })
        });
        if raw.seed.is_some() && seed.is_none() {
            ok = false;
        }

        ok.then(|| Table {
            name: name.to_string(),
            key,
            columns,
            indexes,
            seed,
        })
    }

    fn aws_settings(&mut self, raw: &RawAws, nested: bool) -> AwsOverrides {
        if nested {
            if let Some(inner) = raw.env.values().next() {
                self.error(inner.span(), "environments cannot be nested");
            }
        }
        let int = |v: &mut Self,
                   value: &Option<S<i64>>,
                   range: std::ops::RangeInclusive<i64>,
                   what: &str|
         -> Option<i64> {
            let value = value.as_ref()?;
            if range.contains(value.get_ref()) {
                Some(*value.get_ref())
            } else {
                v.error(
                    value.span(),
                    format!(
                        "{what} must be between {} and {}",
                        range.start(),
                        range.end()
                    ),
                );
                None
            }
        };
        let choice = |v: &mut Self,
                      value: &Option<S<String>>,
                      names: &[&str],
                      what: &str|
         -> Option<usize> {
            let value = value.as_ref()?;
            match names.iter().position(|n| n == value.get_ref()) {
                Some(i) => Some(i),
                None => {
                    let hint = suggest(value.get_ref(), names.iter().copied());
                    v.error(
                        value.span(),
                        format!("unknown {what} `{}`", value.get_ref()),
                    )
                    .hint = Some(hint);
                    None
                }
            }
        };
        let compute_names: Vec<&str> = Compute::ALL.iter().map(|(n, _)| *n).collect();
        let engine_names: Vec<&str> = CloudEngine::ALL.iter().map(|(n, _)| *n).collect();
        let region = raw.region.as_ref().and_then(|r| {
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
                Some(r.get_ref().clone())
            } else {
                self.error(r.span(), format!("`{}` is not an AWS region", r.get_ref()))
                    .hint = Some("e.g. us-east-1, eu-west-1, ap-southeast-2".into());
                None
            }
        });
        let cpu = int(self, &raw.cpu, 256..=16384, "cpu (Fargate CPU units)");
        if let (Some(c), Some(span)) = (cpu, raw.cpu.as_ref()) {
            if ![256, 512, 1024, 2048, 4096, 8192, 16384].contains(&c) {
                self.error(
                    span.span(),
                    "Fargate cpu is one of 256, 512, 1024, 2048, 4096, 8192, 16384",
                );
            }
        }
        let min = int(self, &raw.min, 1..=100, "min");
        let max = int(self, &raw.max, 1..=100, "max");
        if let (Some(lo), Some(hi), Some(span)) = (min, max, raw.max.as_ref()) {
            if hi < lo {
                self.error(span.span(), "max is smaller than min");
            }
        }
        let retention = raw.log_retention_days.as_ref().and_then(|d| {
            match u32::try_from(*d.get_ref())
                .ok()
                .filter(|d| LOG_RETENTION_DAYS.contains(d))
            {
                Some(d) => Some(d),
                None => {
                    let list: Vec<String> = LOG_RETENTION_DAYS.iter().map(u32::to_string).collect();
                    self.error(d.span(), "CloudWatch Logs does not offer that retention")
                        .hint = Some(format!("one of {}", list.join(", ")));
                    None
                }
            }
        });
        let certificate_arn = raw.certificate_arn.as_ref().and_then(|c| {
            if c.get_ref().starts_with("arn:aws:acm:")
                || c.get_ref().starts_with("arn:aws-us-gov:acm:")
            {
                Some(c.get_ref().clone())
            } else {
                self.error(
                    c.span(),
                    "certificate_arn must be an ACM certificate ARN (arn:aws:acm:...)",
                );
                None
            }
        });
        let text = |v: &Option<S<String>>| v.as_ref().map(|x| x.get_ref().clone());
        AwsOverrides {
            region,
            compute: choice(self, &raw.compute, &compute_names, "compute")
                .map(|i| Compute::ALL[i].1),
            database: choice(self, &raw.database, &engine_names, "database engine")
                .map(|i| CloudEngine::ALL[i].1),
            production: raw.production.as_ref().map(|b| *b.get_ref()),
            port: int(self, &raw.port, 1..=65535, "port").map(|p| p as u16),
            azs: int(self, &raw.azs, 2..=3, "azs").map(|a| a as u8),
            cpu: cpu.map(|c| c as u32),
            memory: int(self, &raw.memory, 512..=122_880, "memory (MiB)").map(|m| m as u32),
            min: min.map(|m| m as u32),
            max: max.map(|m| m as u32),
            target_cpu: int(self, &raw.target_cpu, 10..=90, "target_cpu (percent)")
                .map(|t| t as u32),
            instance_type: text(&raw.instance_type),
            db_instance_class: text(&raw.db_instance_class),
            db_storage_gb: int(self, &raw.db_storage_gb, 20..=65_536, "db_storage_gb")
                .map(|g| g as u32),
            lambda_memory: int(
                self,
                &raw.lambda_memory,
                128..=10_240,
                "lambda_memory (MiB)",
            )
            .map(|m| m as u32),
            multi_az: raw.multi_az.as_ref().map(|b| *b.get_ref()),
            deletion_protection: raw.deletion_protection.as_ref().map(|b| *b.get_ref()),
            log_retention_days: retention,
            certificate_arn,
        }
    }

    /// What a DynamoDB global secondary index can be: one or two key
    /// attributes of string or number type, and never unique.
    fn dynamodb_index(&mut self, name: &str, index: &RawIndex, table: &RawTable) -> bool {
        let mut ok = true;
        let cols = index.columns.get_ref();
        if cols.len() > 2 {
            self.error(index.columns.span(), format!("index `{name}` has {} columns; on DynamoDB an index has at most two (partition and sort key)", cols.len()));
            ok = false;
        }
        if let Some(u) = index.unique.as_ref().filter(|u| *u.get_ref()) {
            self.error(u.span(), "DynamoDB cannot enforce a unique index")
                .hint = Some("make this column the table's key, or drop `unique`".into());
            ok = false;
        }
        for c in cols {
            if let Some(col) = table.columns.get(c.get_ref()) {
                let ty = col.get_ref().ty.get_ref().as_str();
                if matches!(ty, "boolean" | "json") {
                    self.error(
                        c.span(),
                        format!(
                            "on DynamoDB an index key must be a string or number; `{}` is {ty}",
                            c.get_ref()
                        ),
                    );
                    ok = false;
                }
            }
        }
        ok
    }

    fn column(
        &mut self,
        table: &str,
        name: &str,
        raw: &S<RawColumn>,
        is_key: bool,
    ) -> Option<Column> {
        let span = raw.span();
        let raw = raw.get_ref();
        let mut ok = true;
        if !is_identifier(name) {
            self.error(
                span.clone(),
                format!("invalid column name `{name}` in table `{table}`"),
            )
            .hint = Some(
                "use letters, digits and underscores, starting with a letter or underscore".into(),
            );
            ok = false;
        }
        let ty_name = raw.ty.get_ref().as_str();
        let ty = match ty_name {
            "string" => match &raw.max_length {
                Some(m) if (1..=65_535).contains(m.get_ref()) => ColumnType::String {
                    max_length: *m.get_ref() as u32,
                },
                Some(m) => {
                    self.error(m.span(), "max_length must be between 1 and 65535");
                    return None;
                }
                None => {
                    self.error(
                        raw.ty.span(),
                        format!("string column `{name}` needs max_length"),
                    )
                    .hint = Some(
                        "add max_length = N, or use type = \"text\" for unbounded text".into(),
                    );
                    return None;
                }
            },
            "text" => ColumnType::Text,
            "integer" => ColumnType::Integer,
            "bigint" => ColumnType::BigInt,
            "float" => ColumnType::Float,
            "boolean" => ColumnType::Boolean,
            "timestamp" => ColumnType::Timestamp,
            "json" => ColumnType::Json,
            other => {
                let hint = suggest(other, ColumnType::NAMES);
                self.error(raw.ty.span(), format!("unknown column type `{other}`"))
                    .hint = Some(hint);
                return None;
            }
        };
        if ty_name != "string" {
            if let Some(m) = &raw.max_length {
                self.error(
                    m.span(),
                    format!("max_length only applies to type \"string\", not \"{ty_name}\""),
                );
                ok = false;
            }
        }
        let nullable = raw.nullable.as_ref().is_some_and(|n| *n.get_ref());
        if is_key && nullable {
            self.error(
                raw.nullable.as_ref().expect("set").span(),
                "the key column cannot be nullable",
            );
            ok = false;
        }
        let generated = raw.generated.as_ref().is_some_and(|g| *g.get_ref());
        if let Some(g) = raw.generated.as_ref().filter(|g| *g.get_ref()) {
            if !is_key {
                self.error(g.span(), "only the key column can be generated");
                ok = false;
            } else if !matches!(
                ty,
                ColumnType::Integer | ColumnType::BigInt | ColumnType::String { .. }
            ) {
                self.error(
                    g.span(),
                    "a generated key must be integer, bigint or string (a UUID)",
                );
                ok = false;
            } else if matches!(ty, ColumnType::String { max_length } if max_length < 36) {
                self.error(
                    g.span(),
                    "a generated string key is a UUID: it needs max_length >= 36",
                );
                ok = false;
            }
        }
        if matches!(ty, ColumnType::Float | ColumnType::Json | ColumnType::Text) && is_key {
            self.error(
                raw.ty.span(),
                format!("a key column cannot be of type {ty_name}"),
            )
            .hint = Some("use string (with max_length), integer or bigint".into());
            ok = false;
        }

        let mut allowed = None;
        if let Some(list) = &raw.allowed {
            if list.get_ref().is_empty() {
                self.error(list.span(), "allowed must list at least one value");
                ok = false;
            }
            let mut values = Vec::new();
            for v in list.get_ref() {
                let json = toml_to_json(v.get_ref());
                match check_type(ty, &json) {
                    Ok(()) => values.push(json),
                    Err(why) => {
                        self.error(v.span(), format!("allowed value for `{name}`: {why}"));
                        ok = false;
                    }
                }
            }
            allowed = Some(values);
        }

        let column = Column {
            name: name.to_string(),
            ty,
            nullable,
            default: None,
            allowed,
            generated,
        };
        let default = raw.default.as_ref().and_then(|d| {
            let json = toml_to_json(d.get_ref());
            match crate::values::check_value(&column, &json) {
                Ok(()) => Some(json),
                Err(why) => {
                    self.error(d.span(), format!("default for `{name}`: {why}"));
                    None
                }
            }
        });
        if raw.default.is_some() && default.is_none() {
            ok = false;
        }
        ok.then_some(Column { default, ..column })
    }

    fn route(
        &mut self,
        raw: &S<RawRoute>,
        tables: &IndexMap<String, Table>,
        raw_tables: &IndexMap<String, S<RawTable>>,
    ) -> Option<Route> {
        let route_span = raw.span();
        let r = raw.get_ref();
        let errors_before = self.errors.len();

        let method_text = r.method.get_ref().to_ascii_uppercase();
        let method = match Method::ALL.iter().find(|(n, _)| *n == method_text) {
            Some((_, m)) => *m,
            None => {
                let hint = suggest(&method_text, Method::ALL.iter().map(|(n, _)| *n));
                self.error(
                    r.method.span(),
                    format!("unknown method `{}`", r.method.get_ref()),
                )
                .hint = Some(hint);
                Method::Get
            }
        };
        let params = self.path_params(&r.path);

        const OPS: [&str; 6] = ["get", "list", "create", "update", "delete", "health"];
        let op = r.op.get_ref().as_str();
        if !OPS.contains(&op) {
            let hint = suggest(op, OPS);
            self.error(r.op.span(), format!("unknown op `{op}`")).hint = Some(hint);
            return None;
        }

        let auth = self.auth(r.auth.as_ref());

        // Keys that only make sense for some operations.
        let scoped: [ScopedKey; 11] = [
            ("filters", r.filters.as_ref().map(|x| x.span()), &["list"]),
            (
                "named_filter",
                r.named_filter.as_ref().map(|x| x.span()),
                &["list"],
            ),
            ("order_by", r.order_by.as_ref().map(|x| x.span()), &["list"]),
            (
                "page_size",
                r.page_size.as_ref().map(|x| x.span()),
                &["list"],
            ),
            (
                "max_page_size",
                r.max_page_size.as_ref().map(|x| x.span()),
                &["list"],
            ),
            (
                "key_query",
                r.key_query.as_ref().map(|x| x.span()),
                &["get", "update", "delete"],
            ),
            (
                "input",
                r.input.as_ref().map(|x| x.span()),
                &["create", "update"],
            ),
            (
                "set",
                r.set
                    .as_ref()
                    .map(|m| m.values().next().map_or(route_span.clone(), |x| x.span())),
                &["update"],
            ),
            (
                "increment",
                r.increment
                    .as_ref()
                    .map(|m| m.values().next().map_or(route_span.clone(), |x| x.span())),
                &["update"],
            ),
            (
                "wrap",
                r.wrap.as_ref().map(|x| x.span()),
                &["get", "list", "create", "update"],
            ),
            (
                "rename",
                r.rename
                    .as_ref()
                    .map(|m| m.values().next().map_or(route_span.clone(), |x| x.span())),
                &["get", "list", "create", "update", "delete"],
            ),
        ];
        for (key, span, ops) in scoped {
            if let Some(span) = span {
                if !ops.contains(&op) {
                    self.error(span, format!("`{key}` does not apply to op = \"{op}\""))
                        .hint = Some(format!("`{key}` is for op = {}", ops.join(" | ")));
                }
            }
        }

        let status = match &r.status {
            Some(s) if (200..=299).contains(s.get_ref()) => *s.get_ref() as u16,
            Some(s) => {
                self.error(s.span(), "status must be a success code (200-299)");
                200
            }
            None => match op {
                "create" => 201,
                "delete" => 204,
                _ => 200,
            },
        };
        let body = r.body.as_ref().map(|b| toml_to_json(b.get_ref()));
        if status == 204 && (body.is_some() || r.wrap.is_some()) {
            self.error(route_span.clone(), "a 204 response has no body")
                .hint = Some("remove `body`/`wrap`, or set status = 200".into());
        }

        if op == "health" {
            if let Some(t) = &r.table {
                self.error(t.span(), "op = \"health\" takes no table");
            }
            for (name, span) in &params {
                self.error(
                    span.clone(),
                    format!("path parameter `{{{name}}}` is not used by op = \"health\""),
                );
            }
            if let Some(f) = &r.fields {
                self.error(
                    f.span(),
                    "op = \"health\" returns no rows: use `body` for its answer",
                );
            }
            return (self.errors.len() == errors_before).then(|| Route {
                method,
                path: r.path.get_ref().clone(),
                auth,
                operation: Operation::Health,
                response: Response {
                    status,
                    fields: Vec::new(),
                    wrap: None,
                    body: Some(body.unwrap_or_else(|| serde_json::json!({"status": "ok"}))),
                },
            });
        }

        let Some(table_name) = &r.table else {
            self.error(route_span, format!("op = \"{op}\" needs `table`"));
            return None;
        };
        let Some(table) = tables.get(table_name.get_ref()) else {
            if !raw_tables.contains_key(table_name.get_ref()) {
                let hint = suggest(table_name.get_ref(), raw_tables.keys().map(String::as_str));
                self.error(
                    table_name.span(),
                    format!("unknown table `{}`", table_name.get_ref()),
                )
                .hint = Some(hint);
            }
            // An invalid table was already reported where it is defined.
            return None;
        };

        // API names: every column under its own name unless renamed.
        let mut renamed: HashMap<&str, &str> = HashMap::new();
        for (api, column) in r.rename.iter().flatten() {
            if !table.columns.contains_key(column.get_ref()) {
                let hint = suggest(column.get_ref(), table.columns.keys().map(String::as_str));
                self.error(
                    column.span(),
                    format!(
                        "rename `{api}`: unknown column `{}` in table `{}`",
                        column.get_ref(),
                        table.name
                    ),
                )
                .hint = Some(hint);
            } else if !is_identifier(api) {
                self.error(column.span(), format!("invalid API field name `{api}`"));
            } else if renamed
                .insert(column.get_ref().as_str(), api.as_str())
                .is_some()
            {
                self.error(
                    column.span(),
                    format!("column `{}` is renamed twice", column.get_ref()),
                );
            }
        }
        let api = ApiFields {
            fields: table
                .columns
                .keys()
                .map(|c| Field {
                    api: renamed.get(c.as_str()).map_or(c.clone(), |a| a.to_string()),
                    column: c.clone(),
                })
                .collect(),
        };
        {
            let mut seen = HashSet::new();
            for f in &api.fields {
                if !seen.insert(f.api.as_str()) {
                    self.error(
                        route_span.clone(),
                        format!("two fields are named `{}`", f.api),
                    )
                    .hint = Some("a rename collides with a column name".into());
                }
            }
        }
        let key_api = api.api_of(&table.key).unwrap_or(&table.key).to_string();

        let fields = match &r.fields {
            None => api.fields.clone(),
            Some(list) => {
                let fields = self.field_list(list, &api, &table.name);
                if fields.is_empty() && !list.get_ref().is_empty() {
                    return None;
                }
                fields
            }
        };

        let key_source = |v: &mut Self| -> Option<KeySource> {
            if let Some(q) = &r.key_query {
                for (name, span) in &params {
                    v.error(span.clone(), format!("path parameter `{{{name}}}` is not used (the key comes from `key_query`)"));
                }
                return Some(KeySource::Query(q.get_ref().clone()));
            }
            let mut found = None;
            for (name, span) in &params {
                if *name == key_api {
                    found = Some(KeySource::Path(name.clone()));
                } else {
                    let hint = format!("the key of table `{}` is `{key_api}`", table.name);
                    v.error(
                        span.clone(),
                        format!("path parameter `{{{name}}}` is not the table's key"),
                    )
                    .hint = Some(hint);
                }
            }
            if found.is_none() && params.is_empty() {
                v.error(r.path.span(), format!("op = \"{op}\" needs the key: add `{{{key_api}}}` to the path, or set key_query"));
            }
            found
        };

        let operation = match op {
            "get" => Operation::Get {
                table: table.name.clone(),
                key: key_source(self)?,
            },
            "delete" => Operation::Delete {
                table: table.name.clone(),
                key: key_source(self)?,
            },
            "list" => {
                for (name, span) in &params {
                    self.error(
                        span.clone(),
                        format!("path parameter `{{{name}}}` is not used by op = \"list\""),
                    )
                    .hint = Some("use `filters` for query parameters".into());
                }
                Operation::List(self.list(r, table, &api)?)
            }
            "create" => {
                for (name, span) in &params {
                    self.error(
                        span.clone(),
                        format!("path parameter `{{{name}}}` is not used by op = \"create\""),
                    );
                }
                let input = self.input(r, table, &api, true);
                // A required column the body may not set makes every create fail.
                for column in table.columns.values() {
                    let required =
                        !column.nullable && column.default.is_none() && !column.generated;
                    if required && !input.iter().any(|f| f.column == column.name) {
                        let span = r.input.as_ref().map_or(route_span.clone(), |i| i.span());
                        let name = api.api_of(&column.name).unwrap_or(&column.name).to_string();
                        self.error(span, format!("`input` leaves out `{name}`, which is required (not nullable, no default)"))
                            .hint = Some(format!("add `{name}` to input, or give the column a default"));
                    }
                }
                Operation::Create {
                    table: table.name.clone(),
                    input,
                }
            }
            "update" => {
                let key = key_source(self)?;
                let mut changes = Vec::new();
                for (field, value) in r.set.iter().flatten() {
                    let Some(col) = self.api_column(field, value.span(), &api, table) else {
                        continue;
                    };
                    let column = &table.columns[col];
                    let json = toml_to_json(value.get_ref());
                    if let Some(claim) = json.as_str().and_then(|v| v.strip_prefix("$user.")) {
                        let claim = match claim {
                            "sub" => Some(UserClaim::Sub),
                            "email" => Some(UserClaim::Email),
                            _ => None,
                        };
                        let texty = matches!(column.ty, ColumnType::Text)
                            || matches!(column.ty, ColumnType::String { max_length } if max_length >= 36);
                        match claim {
                            None => {
                                self.error(
                                    value.span(),
                                    "a user claim is `$user.sub` or `$user.email`",
                                );
                            }
                            Some(_)
                                if r.auth.as_ref().map(|a| a.get_ref().as_str())
                                    != Some("user") =>
                            {
                                self.error(value.span(), "`$user.*` needs a signed-in user: add auth = \"user\" to the route");
                            }
                            Some(_) if !texty || col == table.key => {
                                self.error(value.span(), format!("`{field}` cannot hold a user claim: use a string column (max_length >= 36) or text"));
                            }
                            Some(claim) => changes.push(Change::SetUser {
                                column: col.to_string(),
                                claim,
                            }),
                        }
                        continue;
                    }
                    if col == table.key {
                        self.error(value.span(), "an update cannot change the key");
                    } else if let Err(why) = crate::values::check_value(column, &json) {
                        self.error(value.span(), format!("set `{field}`: {why}"));
                    } else {
                        changes.push(Change::Set {
                            column: col.to_string(),
                            value: json,
                        });
                    }
                }
                for (field, by) in r.increment.iter().flatten() {
                    let Some(col) = self.api_column(field, by.span(), &api, table) else {
                        continue;
                    };
                    if !table.columns[col].ty.is_integer() || col == table.key {
                        self.error(
                            by.span(),
                            format!(
                                "increment needs an integer column; `{field}` is {}",
                                table.columns[col].ty
                            ),
                        );
                    } else {
                        changes.push(Change::Increment {
                            column: col.to_string(),
                            by: *by.get_ref(),
                        });
                    }
                }
                let input = if r.input.is_some() {
                    self.input(r, table, &api, false)
                } else {
                    Vec::new()
                };
                if changes.is_empty() && input.is_empty() && self.errors.len() == errors_before {
                    self.error(route_span.clone(), "op = \"update\" changes nothing")
                        .hint = Some("add `set = { field = value }`, `increment = { field = 1 }` or `input = [fields from the body]`".into());
                }
                Operation::Update {
                    table: table.name.clone(),
                    key,
                    changes,
                    input,
                }
            }
            _ => unreachable!("checked above"),
        };

        let wrap = r.wrap.as_ref().and_then(|w| {
            if w.get_ref().is_empty() {
                self.error(w.span(), "wrap needs a key name");
                None
            } else {
                Some(w.get_ref().clone())
            }
        });

        (self.errors.len() == errors_before).then(|| Route {
            method,
            path: r.path.get_ref().clone(),
            auth,
            operation,
            response: Response {
                status,
                fields,
                wrap,
                body,
            },
        })
    }

    /// Resolve an API field name to its column, reporting unknown names.
    fn api_column<'t>(
        &mut self,
        field: &str,
        span: Range<usize>,
        api: &ApiFields,
        table: &'t Table,
    ) -> Option<&'t str> {
        match api.column_of(field) {
            Some(col) => table.columns.get_key_value(col).map(|(k, _)| k.as_str()),
            None => {
                let hint = suggest(field, api.names());
                self.error(
                    span,
                    format!("unknown field `{field}` of table `{}`", table.name),
                )
                .hint = Some(hint);
                None
            }
        }
    }

    fn field_list(&mut self, list: &S<Vec<S<String>>>, api: &ApiFields, table: &str) -> Vec<Field> {
        let mut out: Vec<Field> = Vec::new();
        for f in list.get_ref() {
            let name = f.get_ref();
            match api.column_of(name) {
                Some(col) if !out.iter().any(|o| &o.api == name) => out.push(Field {
                    api: name.clone(),
                    column: col.to_string(),
                }),
                Some(_) => {
                    self.error(f.span(), format!("field `{name}` appears twice"));
                }
                None => {
                    let hint = match api.api_of(name) {
                        Some(renamed) if renamed != name => {
                            format!("column `{name}` is renamed to `{renamed}` on this route")
                        }
                        _ => suggest(name, api.names()),
                    };
                    self.error(
                        f.span(),
                        format!("unknown field `{name}` of table `{table}`"),
                    )
                    .hint = Some(hint);
                }
            }
        }
        out
    }

    fn input(&mut self, r: &RawRoute, table: &Table, api: &ApiFields, create: bool) -> Vec<Field> {
        match &r.input {
            None => api
                .fields
                .iter()
                .filter(|f| !(f.column == table.key && table.key_column().generated))
                .cloned()
                .collect(),
            Some(list) => {
                let fields = self.field_list(list, api, &table.name);
                for (f, raw) in fields.iter().zip(list.get_ref()) {
                    if f.column == table.key && (!create || table.key_column().generated) {
                        let why = if create {
                            "is generated"
                        } else {
                            "cannot change on update"
                        };
                        self.error(raw.span(), format!("input `{}`: the key {why}", f.api));
                    }
                }
                fields
            }
        }
    }

    fn list(&mut self, r: &RawRoute, table: &Table, api: &ApiFields) -> Option<ListOperation> {
        let mut filters = Vec::new();
        let mut params_seen: HashSet<String> = HashSet::new();
        let mut check_param = |v: &mut Self, name: &str, span: Range<usize>| {
            if PAGINATION_PARAMS.contains(&name) {
                v.error(
                    span,
                    format!("query parameter `{name}` is reserved for pagination"),
                );
            } else if !params_seen.insert(name.to_string()) {
                v.error(span, format!("query parameter `{name}` is used twice"));
            }
        };
        for f in r.filters.iter().flat_map(|l| l.get_ref()) {
            let Some(col) = self.api_column(f.get_ref(), f.span(), api, table) else {
                continue;
            };
            if !table.is_indexed(col) {
                self.error(
                    f.span(),
                    format!(
                        "filter `{}` is on column `{col}`, which has no index",
                        f.get_ref()
                    ),
                )
                .hint = Some(format!(
                    "add [tables.{}.indexes] {col} = {{ columns = [\"{col}\"] }}",
                    table.name
                ));
                continue;
            }
            check_param(self, f.get_ref(), f.span());
            filters.push(Filter {
                param: f.get_ref().clone(),
                column: col.to_string(),
            });
        }
        let named_filter = r.named_filter.as_ref().map(|nf| {
            let n = nf.get_ref();
            check_param(self, n.param.get_ref(), n.param.span());
            check_param(self, n.value_param.get_ref(), n.value_param.span());
            if n.choices.is_empty() {
                self.error(nf.span(), "named_filter needs at least one choice");
            }
            let mut choices = IndexMap::new();
            for (choice, field) in &n.choices {
                let Some(col) = self.api_column(field.get_ref(), field.span(), api, table) else {
                    continue;
                };
                if !table.is_indexed(col) {
                    self.error(
                        field.span(),
                        format!("choice `{choice}` filters on column `{col}`, which has no index"),
                    )
                    .hint = Some(format!(
                        "add [tables.{}.indexes] {col} = {{ columns = [\"{col}\"] }}",
                        table.name
                    ));
                    continue;
                }
                choices.insert(choice.clone(), col.to_string());
            }
            NamedFilter {
                param: n.param.get_ref().clone(),
                value_param: n.value_param.get_ref().clone(),
                choices,
            }
        });
        let mut order_by = Vec::new();
        for o in r.order_by.iter().flat_map(|l| l.get_ref()) {
            let (descending, name) = match o.get_ref().strip_prefix('-') {
                Some(n) => (true, n),
                None => (false, o.get_ref().as_str()),
            };
            let Some(col) = self.api_column(name, o.span(), api, table) else {
                continue;
            };
            order_by.push(Order {
                column: col.to_string(),
                descending,
            });
        }
        if !order_by.iter().any(|o| o.column == table.key) {
            // The key last keeps pages stable when other columns tie.
            order_by.push(Order {
                column: table.key.clone(),
                descending: false,
            });
        }
        let size = |v: &mut Self, s: &Option<S<i64>>, default: u32| -> u32 {
            match s {
                None => default,
                Some(n) if (1..=MAX_PAGE_SIZE_LIMIT as i64).contains(n.get_ref()) => {
                    *n.get_ref() as u32
                }
                Some(n) => {
                    v.error(
                        n.span(),
                        format!("page sizes must be between 1 and {MAX_PAGE_SIZE_LIMIT}"),
                    );
                    default
                }
            }
        };
        let max_page_size = size(self, &r.max_page_size, DEFAULT_MAX_PAGE_SIZE);
        let page_size = size(self, &r.page_size, DEFAULT_PAGE_SIZE.min(max_page_size));
        if page_size > max_page_size {
            let span = r.page_size.as_ref().expect("only when explicit").span();
            self.error(span, "page_size is larger than max_page_size");
        }
        Some(ListOperation {
            table: table.name.clone(),
            filters,
            named_filter,
            order_by,
            page_size,
            max_page_size,
        })
    }

    /// `{name}` parameters of a path template, with their spans in the file.
    fn path_params(&mut self, path: &S<String>) -> Vec<(String, Range<usize>)> {
        let text = path.get_ref();
        // +1 skips the opening quote of a basic string.
        let base = path.span().start + 1;
        let mut params = Vec::new();
        if !text.starts_with('/') {
            self.error(path.span(), "a route path must start with `/`");
            return params;
        }
        let mut offset = 0;
        for segment in text.split('/') {
            let seg_span = base + offset..base + offset + segment.len().max(1);
            offset += segment.len() + 1;
            if segment.contains(['{', '}']) {
                let inner = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
                match inner {
                    Some(name) if is_identifier(name) => {
                        if params.iter().any(|(n, _)| n == name) {
                            self.error(
                                seg_span,
                                format!("path parameter `{{{name}}}` appears twice"),
                            );
                        } else {
                            params.push((name.to_string(), seg_span));
                        }
                    }
                    _ => {
                        self.error(seg_span, format!("invalid path segment `{segment}`"))
                            .hint = Some("a parameter is a whole segment: `/items/{id}`".into());
                    }
                }
            } else if segment.contains(['*', '?', '#', ' ', ':']) {
                self.error(seg_span, format!("invalid path segment `{segment}`"));
            }
        }
        params
    }

    /// Two routes on the same method and path, or paths that differ only in
    /// parameter names (which the router cannot tell apart).
    fn route_conflicts(&mut self, raw: &[S<RawRoute>], routes: &[Route]) {
        let _ = routes;
        let mut seen: HashMap<(String, String), &S<RawRoute>> = HashMap::new();
        let mut shapes: HashMap<String, &str> = HashMap::new();
        for r in raw {
            let path = r.get_ref().path.get_ref();
            let shape: String = path
                .split('/')
                .map(|s| if s.starts_with('{') { "{}" } else { s })
                .collect::<Vec<_>>()
                .join("/");
            let method = r.get_ref().method.get_ref().to_ascii_uppercase();
            if let Some(first) = shapes.get(&shape) {
                if *first != path.as_str() {
                    let first = first.to_string();
                    self.error(
                        r.get_ref().path.span(),
                        format!("path `{path}` conflicts with `{first}`"),
                    )
                    .hint = Some("use the same parameter names in both paths".into());
                    continue;
                }
            } else {
                shapes.insert(shape.clone(), path);
            }
            if seen.insert((method.clone(), shape), r).is_some() {
                self.error(r.span(), format!("route {method} {path} is defined twice"));
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
