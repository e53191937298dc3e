//! What get, delete, create and update do: the key a route addresses and
//! the changes it makes.

use super::route::{RouteHead, RouteTable};
use super::Validator;
use crate::model::{Change, ColumnType, KeySource, Operation, UserClaim};
use crate::raw::S;
use crate::values::toml_to_json;

impl Validator<'_> {
    /// Where get, update and delete find the key: `key_query`, or the path
    /// parameter named like the key.
    pub(super) fn key_source(&mut self, head: &RouteHead, data: &RouteTable) -> Option<KeySource> {
        if let Some(q) = &head.raw.key_query {
            for (name, span) in &head.params {
                self.error(
                    span.clone(),
                    format!(
                        "path parameter `{{{name}}}` is not used (the key comes from `key_query`)"
                    ),
                );
            }
            return Some(KeySource::Query(q.get_ref().clone()));
        }
        let key_api = &data.key_api;
        let mut found = None;
        for (name, span) in &head.params {
            if name == key_api {
                found = Some(KeySource::Path(name.clone()));
            } else {
                let hint = format!("the key of table `{}` is `{key_api}`", data.table.name);
                self.error(
                    span.clone(),
                    format!("path parameter `{{{name}}}` is not the table's key"),
                )
                .hint = Some(hint);
            }
        }
        if found.is_none() && head.params.is_empty() {
            let op = head.op;
            self.error(head.raw.path.span(), format!("op = \"{op}\" needs the key: add `{{{key_api}}}` to the path, or set key_query"));
        }
        found
    }

    /// `op = "create"`: the body's fields, every required column among them.
    pub(super) fn create(&mut self, head: &RouteHead, data: &RouteTable) -> Operation {
        let (r, table) = (head.raw, data.table);
        self.unused_params(head, None);
        let input = self.input(r, table, &data.api, true);
        // A required column the body may not set makes every create fail.
        for column in table.columns.values() {
            let required = !column.nullable
                && column.default.is_none()
                && column.stamp.is_none()
                && !column.generated;
            if required && !input.iter().any(|f| f.column == column.name) {
                let span = r.input.as_ref().map_or(head.span.clone(), |i| i.span());
                let name = data.api.api_of(&column.name).unwrap_or(&column.name);
                self.error(
                    span,
                    format!(
                        "`input` leaves out `{name}`, which is required (not nullable, no default)"
                    ),
                )
                .hint = Some(format!(
                    "add `{name}` to input, or give the column a default"
                ));
            }
        }
        Operation::Create {
            table: table.name.clone(),
            input,
        }
    }

    /// `op = "update"`: `set`, `increment` and `input`, at least one.
    pub(super) fn update(&mut self, head: &RouteHead, data: &RouteTable) -> Option<Operation> {
        let (r, table) = (head.raw, data.table);
        let key = self.key_source(head, data)?;
        let mut changes = Vec::new();
        for (field, value) in r.set.iter().flatten() {
            changes.extend(self.set_change(head, data, field, value));
        }
        for (field, by) in r.increment.iter().flatten() {
            let Some(col) = self.api_column(field, by.span(), &data.api, table) else {
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
                changes.extend(self.increment_by(col, by));
            }
        }
        let input = if r.input.is_some() {
            self.input(r, table, &data.api, false)
        } else {
            Vec::new()
        };
        for (field, by) in r.increment.iter().flatten() {
            let amount = changes.iter().find_map(|c| match c {
                Change::IncrementBy {
                    column,
                    field: amount,
                    ..
                } if data.api.column_of(field) == Some(column.as_str()) => Some(amount),
                _ => None,
            });
            if let Some(amount) = amount.filter(|a| input.iter().any(|f| &f.api == *a)) {
                self.error(
                    by.span(),
                    format!("`$input.{amount}` is also an input field: name the amount apart"),
                );
            }
        }
        if changes.is_empty() && input.is_empty() && self.errors.len() == head.errors_before {
            self.error(head.span.clone(), "op = \"update\" changes nothing")
                .hint = Some("add `set = { field = value }`, `increment = { field = 1 }` or `input = [fields from the body]`".into());
        }
        let amounts: Vec<&str> = changes.iter().filter_map(Change::amount_field).collect();
        let condition = self.condition(head, data, &amounts);
        Some(Operation::Update {
            table: table.name.clone(),
            key,
            changes,
            input,
            condition,
        })
    }

    /// An increment's amount: an integer, or `"$input.NAME"` (added) or
    /// `"-$input.NAME"` (subtracted), a positive integer from the body.
    fn increment_by(&mut self, column: &str, by: &S<toml::Value>) -> Option<Change> {
        match by.get_ref() {
            toml::Value::Integer(n) => Some(Change::Increment {
                column: column.to_string(),
                by: *n,
            }),
            toml::Value::String(text) => {
                let (negate, rest) = match text.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, text.as_str()),
                };
                match rest
                    .strip_prefix("$input.")
                    .filter(|f| super::is_identifier(f))
                {
                    Some(field) => Some(Change::IncrementBy {
                        column: column.to_string(),
                        field: field.to_string(),
                        negate,
                    }),
                    None => {
                        self.error(
                            by.span(),
                            "an increment is an integer, \"$input.FIELD\" or \"-$input.FIELD\"",
                        );
                        None
                    }
                }
            }
            _ => {
                self.error(
                    by.span(),
                    "an increment is an integer, \"$input.FIELD\" or \"-$input.FIELD\"",
                );
                None
            }
        }
    }

    /// One `set` entry: a value for a column other than the key, or a
    /// claim of the signed-in user (`$user.sub`, `$user.email`).
    fn set_change(
        &mut self,
        head: &RouteHead,
        data: &RouteTable,
        field: &str,
        value: &S<toml::Value>,
    ) -> Option<Change> {
        let table = data.table;
        let col = self.api_column(field, value.span(), &data.api, table)?;
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
            let signed_in = head.raw.auth.as_ref().map(|a| a.get_ref().as_str()) == Some("user");
            match claim {
                None => {
                    self.error(value.span(), "a user claim is `$user.sub` or `$user.email`");
                }
                Some(_) if !signed_in => {
                    self.error(
                        value.span(),
                        "`$user.*` needs a signed-in user: add auth = \"user\" to the route",
                    );
                }
                Some(_) if !texty || col == table.key => {
                    self.error(value.span(), format!("`{field}` cannot hold a user claim: use a string column (max_length >= 36) or text"));
                }
                Some(claim) => {
                    return Some(Change::SetUser {
                        column: col.to_string(),
                        claim,
                    })
                }
            }
            return None;
        }
        if col == table.key {
            self.error(value.span(), "an update cannot change the key");
        } else if let Err(why) = crate::values::check_value(column, &json) {
            self.error(value.span(), format!("set `{field}`: {why}"));
        } else {
            return Some(Change::Set {
                column: col.to_string(),
                value: json,
            });
        }
        None
    }
}
