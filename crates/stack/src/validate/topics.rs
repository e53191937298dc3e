//! `[topics.NAME]` and `[[subscriptions]]`: messages and the tables they
//! are applied to.

use std::ops::Range;

use indexmap::IndexMap;

use super::{fits, Validator};
use crate::diagnostic::suggest;
use crate::model::{Apply, Subscription, Table, Topic};
use crate::raw::{RawStack, RawSubscription, RawTopic, S};

impl Validator<'_> {
    pub(super) fn topics(
        &mut self,
        raw: &IndexMap<String, S<RawTopic>>,
    ) -> IndexMap<String, Topic> {
        let mut topics = IndexMap::new();
        for (name, raw_topic) in raw {
            if let Some(t) = self.topic(name, raw_topic) {
                topics.insert(name.clone(), t);
            }
        }
        topics
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
                Some(c) if c.stamp.is_some() => {
                    self.error(
                        raw_field.span(),
                        format!(
                            "topic field `{field}`: only a table's timestamp column can be \"now\""
                        ),
                    )
                    .hint = Some(
                        "the subscriber's table can stamp its rows: `default = \"now\"` there"
                            .into(),
                    );
                    ok = false;
                }
                Some(c) => {
                    fields.insert(field.clone(), c);
                }
                None => ok = false,
            }
        }
        let auth = self.auth(raw.auth.as_ref(), true);
        ok.then(|| Topic {
            name: name.to_string(),
            fields,
            auth,
        })
    }

    /// Every subscription, each topic at most once per table.
    pub(super) fn subscriptions(
        &mut self,
        raw: &RawStack,
        topics: &IndexMap<String, Topic>,
        tables: &IndexMap<String, Table>,
    ) -> Vec<Subscription> {
        let mut subscriptions: Vec<Subscription> = Vec::new();
        for raw_sub in &raw.subscriptions {
            let Some(sub) = self.subscription(raw_sub, raw, topics, tables) else {
                continue;
            };
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
        subscriptions
    }

    fn subscription(
        &mut self,
        raw: &S<RawSubscription>,
        stack: &RawStack,
        topics: &IndexMap<String, Topic>,
        tables: &IndexMap<String, Table>,
    ) -> Option<Subscription> {
        let span = raw.span();
        let r = raw.get_ref();
        let errors_before = self.errors.len();
        let topic = self.lookup(&r.topic, "topic", topics, &stack.topics)?;
        let table = self.lookup(&r.table, "table", tables, &stack.tables)?;
        let apply = match r.action.as_ref().map(|a| a.get_ref().as_str()) {
            None | Some("insert") => Apply::Insert,
            Some("upsert") => Apply::Upsert,
            Some(other) => {
                let span = r.action.as_ref().expect("set").span();
                self.unknown(span, "action", other, ["insert", "upsert"]);
                Apply::Insert
            }
        };
        let map = self.subscription_map(r, topic, table);
        if self.errors.len() > errors_before {
            // Checking columns against a map with holes would only repeat them.
            return None;
        }
        let map_span = r.map.as_ref().map_or(span, |m| m.span());
        self.check_mapping(&map, map_span, topic, table, apply);
        let max_attempts = self.in_range(r.max_attempts.as_ref(), 1..=1000, "max_attempts");
        let backoff_seconds =
            self.in_range(r.backoff_seconds.as_ref(), 0..=3600, "backoff_seconds");
        (self.errors.len() == errors_before).then(|| Subscription {
            name: format!("{}-{}", topic.name, table.name),
            topic: topic.name.clone(),
            table: table.name.clone(),
            apply,
            map,
            max_attempts: max_attempts.map_or(5, |n| n as u32),
            backoff_seconds: backoff_seconds.map_or(1, |n| n as u32),
        })
    }

    /// (column, field) pairs, in the table's column order: as written in
    /// `map`, or every column with a field of the same name.
    fn subscription_map(
        &mut self,
        r: &RawSubscription,
        topic: &Topic,
        table: &Table,
    ) -> Vec<(String, String)> {
        let mut map: Vec<(String, String)> = Vec::new();
        let Some(written) = &r.map else {
            for column in table.columns.keys() {
                if topic.fields.contains_key(column) {
                    map.push((column.clone(), column.clone()));
                }
            }
            return map;
        };
        for (column, field) in written.get_ref() {
            if !table.columns.contains_key(column) {
                let hint = suggest(column, table.columns.keys().map(String::as_str));
                self.error(
                    field.span(),
                    format!("`{column}` is not a column of table `{}`", table.name),
                )
                .hint = Some(hint);
            } else if !topic.fields.contains_key(field.get_ref()) {
                let hint = suggest(field.get_ref(), topic.fields.keys().map(String::as_str));
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
        map
    }

    /// Every column of the table gets a value that fits it (or may go
    /// without), and an upsert always has the key.
    fn check_mapping(
        &mut self,
        map: &[(String, String)],
        span: Range<usize>,
        topic: &Topic,
        table: &Table,
        apply: Apply,
    ) {
        if map.is_empty() {
            self.error(
                span.clone(),
                format!(
                    "no field of topic `{}` maps to a column of table `{}`",
                    topic.name, table.name
                ),
            )
            .hint =
                Some("name fields like the columns, or add map = { column = \"field\" }".into());
        }
        for (column_name, column) in &table.columns {
            let optional_column = column.nullable
                || column.default.is_some()
                || column.stamp.is_some()
                || column.generated;
            let upsert_key = column_name == &table.key && apply == Apply::Upsert;
            let Some((_, field_name)) = map.iter().find(|(c, _)| c == column_name) else {
                if upsert_key {
                    self.error(
                        span.clone(),
                        format!("an upsert needs the key: map a field to `{column_name}`"),
                    );
                } else if !optional_column {
                    self.error(
                        span.clone(),
                        format!(
                            "column `{column_name}` of table `{}` needs a value, but no field of topic `{}` maps to it",
                            table.name, topic.name
                        ),
                    );
                }
                continue;
            };
            let field = &topic.fields[field_name];
            let may_be_absent = field.nullable && field.default.is_none();
            if !fits(field.ty, column.ty) {
                self.error(
                    span.clone(),
                    format!(
                        "field `{field_name}` ({}) does not fit column `{column_name}` ({})",
                        field.ty, column.ty
                    ),
                );
            } else if may_be_absent && !optional_column {
                self.error(
                    span.clone(),
                    format!(
                        "field `{field_name}` may be absent, but column `{column_name}` needs a value"
                    ),
                )
                .hint = Some(
                    "make the field required (remove nullable) or give it a default".to_string(),
                );
            } else if upsert_key && may_be_absent {
                self.error(
                    span.clone(),
                    format!("an upsert needs the key, but field `{field_name}` may be absent"),
                );
            }
        }
    }
}
