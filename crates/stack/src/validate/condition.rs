//! `where` on update and delete routes: comparisons joined by `and`, each
//! `FIELD OP VALUE` where VALUE is another field, a constant (a number,
//! `'text'`, `true`, `false`) or `$user.sub` / `$user.email`. Every part is
//! checked against the table's types and reported at its own place in the
//! string.

use std::ops::Range;

use serde_json::Value as Json;

use super::route::{RouteHead, RouteTable};
use super::Validator;
use crate::model::{Auth, ColumnType, CompareOp, Comparison, Operand, UserClaim};
use crate::values::check_type;

/// A piece of the `where` string and its byte offset in it.
type Part<'s> = (&'s str, usize);

impl Validator<'_> {
    /// `amounts`: the body fields the route's increments take (`$input.*`).
    pub(super) fn condition(
        &mut self,
        head: &RouteHead,
        data: &RouteTable,
        amounts: &[&str],
    ) -> Vec<Comparison> {
        let Some(written) = head.raw.condition.as_ref() else {
            return Vec::new();
        };
        // Offsets count from the string's first character, after its quote.
        let start = written.span().start + 1;
        let text = written.get_ref().as_str();
        if text.trim().is_empty() {
            self.error(
                written.span(),
                "where needs a comparison, e.g. \"borrowed < copies\"",
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        let mut offset = 0;
        for piece in split_and(text) {
            let part = (piece, offset);
            offset += piece.len() + " and ".len();
            if let Some(c) = self.comparison(part, start, (head, data), amounts) {
                out.push(c);
            }
        }
        out
    }

    fn comparison(
        &mut self,
        (text, offset): Part,
        start: usize,
        (head, data): (&RouteHead, &RouteTable),
        amounts: &[&str],
    ) -> Option<Comparison> {
        let lead = text.len() - text.trim_start().len();
        let (text, offset) = (text.trim(), offset + lead);
        let at = |from: usize, len: usize| -> Range<usize> {
            let from = start + offset + from;
            from..from + len.max(1)
        };
        let Some((i, symbol, op)) = find_op(text) else {
            self.error(
                at(0, text.len()),
                format!(
                    "`{text}` is not a comparison: write FIELD OP VALUE, OP one of = != < <= > >="
                ),
            );
            return None;
        };
        let field = text[..i].trim_end();
        let right = text[i + symbol.len()..].trim_start();
        let right_at = text.len() - right.len();
        let column = self.api_column(field, at(0, field.len()), &data.api, data.table)?;
        let ty = data.table.columns[column].ty;
        let value = operand(right).or_else(|| {
            data.api
                .column_of(right)
                .map(|c| Operand::Column(c.to_string()))
        });
        // A decimal constant is read as written, never through a float.
        let value = match (ty, value) {
            (ColumnType::Decimal { .. }, Some(Operand::Value(Json::Number(_)))) => {
                Some(Operand::Value(Json::String(right.to_string())))
            }
            (_, value) => value,
        };
        let value = value.map(|v| match v {
            Operand::Value(v) => Operand::Value(crate::values::normalize_type(ty, v)),
            other => other,
        });
        let Some(value) = value else {
            self.error(at(right_at, right.len()), format!("`{right}` is neither a field of table `{}`, a constant ('text', a number, true, false) nor $user.sub / $user.email", data.table.name))
                .hint = Some(crate::diagnostic::suggest(right, data.api.names()));
            return None;
        };
        let mismatch = match &value {
            Operand::Column(other) => {
                let other_ty = data.table.columns[other].ty;
                (family(ty) != family(other_ty)).then(|| format!("cannot compare `{field}` ({ty}) with `{right}` ({other_ty})"))
            }
            Operand::Value(Json::Null) => Some(format!("a comparison with null is never true; `{field}` cannot be compared with it")),
            Operand::Value(v) => check_type(ty, v).err().map(|why| format!("`{right}` does not fit `{field}` ({ty}): {why}")),
            Operand::User(claim) => (family(ty) != Family::Text).then(|| format!("`$user.{}` is text; `{field}` is {ty}", claim.name())),
            Operand::Input(name) if !amounts.contains(&name.as_str()) => Some(format!("`$input.{name}` names no amount of this route's increments (`increment = {{ column = \"$input.{name}\" }}`)")),
            Operand::Input(name) => (family(ty) != Family::Number).then(|| format!("`$input.{name}` is an integer; `{field}` is {ty}")),
        };
        let mismatch = mismatch.or_else(|| match (op.orders(), family(ty)) {
            (true, Family::Bool) | (_, Family::Json) => {
                Some(format!("`{field}` ({ty}) cannot be compared with {symbol}"))
            }
            _ => None,
        });
        let mismatch = mismatch.or_else(|| {
            (matches!(value, Operand::User(_)) && head.auth != Auth::User).then(|| {
                "`$user.*` needs a signed-in user: add auth = \"user\" to the route".to_string()
            })
        });
        if let Some(why) = mismatch {
            self.error(at(0, text.len()), why);
            return None;
        }
        Some(Comparison {
            column: column.to_string(),
            op,
            value,
        })
    }
}

/// The comparisons of a `where`, split at ` and ` outside quotes.
fn split_and(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut quoted, mut from) = (false, 0);
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\'' {
            quoted = !quoted;
        } else if !quoted && text[i..].starts_with(" and ") {
            out.push(&text[from..i]);
            from = i + " and ".len();
            i = from;
            continue;
        }
        i += 1;
    }
    out.push(&text[from..]);
    out
}

/// The first operator outside quotes: its offset, text and meaning.
fn find_op(text: &str) -> Option<(usize, &'static str, CompareOp)> {
    let mut quoted = false;
    for (i, ch) in text.char_indices() {
        if ch == '\'' {
            quoted = !quoted;
        }
        if quoted {
            continue;
        }
        if let Some((symbol, op)) = CompareOp::ALL
            .iter()
            .find(|(s, _)| text[i..].starts_with(s))
        {
            return Some((i, symbol, *op));
        }
    }
    None
}

/// A constant or a user claim; None for a field name.
fn operand(text: &str) -> Option<Operand> {
    if let Some(field) = text.strip_prefix("$input.") {
        return Some(Operand::Input(field.to_string()));
    }
    if let Some(claim) = text.strip_prefix("$user.") {
        return match claim {
            "sub" => Some(Operand::User(UserClaim::Sub)),
            "email" => Some(Operand::User(UserClaim::Email)),
            _ => None,
        };
    }
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Some(Operand::Value(Json::from(inner.replace("''", "'"))));
    }
    match text {
        "true" => return Some(Operand::Value(Json::Bool(true))),
        "false" => return Some(Operand::Value(Json::Bool(false))),
        "null" => return Some(Operand::Value(Json::Null)),
        _ => {}
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(Operand::Value(Json::from(n)));
    }
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| Operand::Value(Json::from(f)))
}

#[derive(PartialEq)]
enum Family {
    Number,
    Text,
    Bool,
    Time,
    Json,
    /// Decimals compare with decimals of the same scale only: SQLite holds
    /// them as whole units of their scale.
    Decimal(u8),
    Date,
    Uuid,
}

fn family(ty: ColumnType) -> Family {
    match ty {
        ColumnType::Integer | ColumnType::BigInt | ColumnType::Float => Family::Number,
        ColumnType::String { .. } | ColumnType::Text => Family::Text,
        ColumnType::Boolean => Family::Bool,
        ColumnType::Timestamp => Family::Time,
        ColumnType::Json => Family::Json,
        ColumnType::Decimal { scale, .. } => Family::Decimal(scale),
        ColumnType::Date => Family::Date,
        ColumnType::Uuid => Family::Uuid,
    }
}
