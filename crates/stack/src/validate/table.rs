//! `[tables.NAME]`: columns, the key, indexes (with DynamoDB's limits) and
//! the seed file.

use std::path::Path;

use indexmap::IndexMap;

use super::{display_dir, is_identifier, Validator};
use crate::diagnostic::suggest;
use crate::model::{CloudEngine, Column, ColumnType, Index, SeedFormat, SeedSource, Stamp, Table};
use crate::raw::{RawColumn, RawIndex, RawTable, S};
use crate::values::{check_type, normalize_type, toml_to_json};

/// The longest string Redshift holds for sure: 65535 bytes, 4 a character.
const REDSHIFT_MOST_CHARS: i64 = 65_535 / 4;

impl Validator<'_> {
    pub(super) fn tables(
        &mut self,
        raw: &IndexMap<String, S<RawTable>>,
        dir: &Path,
    ) -> IndexMap<String, Table> {
        let mut tables = IndexMap::new();
        for (name, raw_table) in raw {
            if let Some(t) = self.table(name, raw_table, dir) {
                tables.insert(name.clone(), t);
            }
        }
        tables
    }

    fn table(&mut self, name: &str, raw: &S<RawTable>, dir: &Path) -> Option<Table> {
        let span = raw.span();
        let raw = raw.get_ref();
        let errors_before = self.errors.len();
        if !is_identifier(name) {
            self.error(span.clone(), format!("invalid table name `{name}`")).hint = Some(
                "use letters, digits and underscores, starting with a letter or underscore; names starting with `_stackwright` are reserved".into(),
            );
        }
        if raw.columns.is_empty() {
            self.error(span, format!("table `{name}` has no columns"));
        }
        let key = raw.key.get_ref().clone();
        let mut columns = IndexMap::new();
        for (col_name, raw_col) in &raw.columns {
            if let Some(c) = self.column(name, col_name, raw_col, col_name == &key) {
                columns.insert(col_name.clone(), c);
            }
        }
        if !raw.columns.contains_key(&key) {
            let hint = suggest(&key, raw.columns.keys().map(String::as_str));
            self.error(
                raw.key.span(),
                format!("key `{key}` is not a column of table `{name}`"),
            )
            .hint = Some(hint);
        }
        let indexes = self.indexes(raw);
        let seed = raw.seed.as_ref().and_then(|s| self.seed(s, dir));
        (self.errors.len() == errors_before).then(|| Table {
            name: name.to_string(),
            key,
            columns,
            indexes,
            seed,
        })
    }

    fn indexes(&mut self, table: &RawTable) -> IndexMap<String, Index> {
        let mut indexes = IndexMap::new();
        for (index_name, raw_index) in &table.indexes {
            let ri = raw_index.get_ref();
            if !is_identifier(index_name) {
                self.error(
                    raw_index.span(),
                    format!("invalid index name `{index_name}`"),
                );
            }
            if ri.columns.get_ref().is_empty() {
                self.error(
                    ri.columns.span(),
                    format!("index `{index_name}` names no columns"),
                );
            }
            let mut cols = Vec::new();
            for c in ri.columns.get_ref() {
                if !table.columns.contains_key(c.get_ref()) {
                    let hint = suggest(c.get_ref(), table.columns.keys().map(String::as_str));
                    self.error(
                        c.span(),
                        format!(
                            "index `{index_name}` names unknown column `{}`",
                            c.get_ref()
                        ),
                    )
                    .hint = Some(hint);
                } else if cols.contains(c.get_ref()) {
                    self.error(c.span(), format!("column `{}` appears twice", c.get_ref()));
                } else {
                    cols.push(c.get_ref().clone());
                }
            }
            if self.engine == CloudEngine::Dynamodb {
                self.dynamodb_index(index_name, ri, table);
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
        indexes
    }

    /// What a DynamoDB global secondary index can be: one or two key
    /// attributes of string or number type, and never unique.
    fn dynamodb_index(&mut self, name: &str, index: &RawIndex, table: &RawTable) {
        let cols = index.columns.get_ref();
        if cols.len() > 2 {
            self.error(index.columns.span(), format!("index `{name}` has {} columns; on DynamoDB an index has at most two (partition and sort key)", cols.len()));
        }
        if let Some(u) = index.unique.as_ref().filter(|u| *u.get_ref()) {
            self.error(u.span(), "DynamoDB cannot enforce a unique index")
                .hint = Some("make this column the table's key, or drop `unique`".into());
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
                }
            }
        }
    }

    /// The seed file: a .csv or .json file inside the stack folder.
    fn seed(&mut self, written: &S<String>, dir: &Path) -> Option<SeedSource> {
        let path = Path::new(written.get_ref());
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("csv") => SeedFormat::Csv,
            Some("json") => SeedFormat::Json,
            _ => {
                self.error(written.span(), "seed file must end in .csv or .json");
                return None;
            }
        };
        if path.is_absolute() || path.components().any(|c| c.as_os_str() == "..") {
            self.error(
                written.span(),
                "seed path must stay inside the stack folder",
            );
            return None;
        }
        if !dir.join(path).is_file() {
            self.error(
                written.span(),
                format!("seed file `{}` not found", path.display()),
            )
            .hint = Some(format!("the path is relative to {}", display_dir(dir)));
            return None;
        }
        Some(SeedSource {
            path: path.to_path_buf(),
            format,
        })
    }

    /// A column of `table` (or a field of a topic, `table` then naming it).
    pub(super) fn column(
        &mut self,
        table: &str,
        name: &str,
        raw: &S<RawColumn>,
        is_key: bool,
    ) -> Option<Column> {
        let span = raw.span();
        let raw = raw.get_ref();
        let errors_before = self.errors.len();
        if !is_identifier(name) {
            self.error(
                span,
                format!("invalid column name `{name}` in table `{table}`"),
            )
            .hint = Some(
                "use letters, digits and underscores, starting with a letter or underscore".into(),
            );
        }
        let ty = self.column_type(name, raw)?;
        let ty_name = raw.ty.get_ref().as_str();
        for (key, written, applies_to) in [
            ("max_length", &raw.max_length, "string"),
            ("precision", &raw.precision, "decimal"),
            ("scale", &raw.scale, "decimal"),
        ] {
            if let Some(m) = written.as_ref().filter(|_| ty_name != applies_to) {
                self.error(
                    m.span(),
                    format!("{key} only applies to type \"{applies_to}\", not \"{ty_name}\""),
                );
            }
        }
        self.key_rules(raw, ty, is_key);
        let allowed = raw.allowed.as_ref().map(|list| {
            if list.get_ref().is_empty() {
                self.error(list.span(), "allowed must list at least one value");
            }
            let mut values = Vec::new();
            for v in list.get_ref() {
                let json = toml_to_json(v.get_ref());
                match check_type(ty, &json) {
                    Ok(()) => values.push(json),
                    Err(why) => {
                        self.error(v.span(), format!("allowed value for `{name}`: {why}"));
                    }
                }
            }
            values
        });
        let stamp = self.stamp(raw, ty, is_key);
        let column = Column {
            name: name.to_string(),
            ty,
            nullable: raw.nullable.as_ref().is_some_and(|n| *n.get_ref()),
            default: None,
            allowed: allowed.map(|list| list.into_iter().map(|v| normalize_type(ty, v)).collect()),
            generated: raw.generated.as_ref().is_some_and(|g| *g.get_ref()),
            stamp,
        };
        let literal_default = raw.default.as_ref().filter(|_| stamp.is_none());
        let default = literal_default.and_then(|d| {
            let json = normalize_type(ty, toml_to_json(d.get_ref()));
            match crate::values::check_value(&column, &json) {
                Ok(()) => Some(json),
                Err(why) => {
                    self.error(d.span(), format!("default for `{name}`: {why}"));
                    None
                }
            }
        });
        (self.errors.len() == errors_before).then_some(Column { default, ..column })
    }

    /// The column's type; `None` (reported) when unknown or a string
    /// without a good max_length.
    fn column_type(&mut self, name: &str, raw: &RawColumn) -> Option<ColumnType> {
        let ty = match raw.ty.get_ref().as_str() {
            "string" => {
                let Some(written) = &raw.max_length else {
                    self.error(
                        raw.ty.span(),
                        format!("string column `{name}` needs max_length"),
                    )
                    .hint = Some(
                        "add max_length = N, or use type = \"text\" for unbounded text".into(),
                    );
                    return None;
                };
                let max_length = self.in_range(Some(written), 1..=65_535, "max_length")?;
                if self.engine == CloudEngine::Redshift && max_length > REDSHIFT_MOST_CHARS {
                    self.error(
                        written.span(),
                        format!("on Redshift a string column holds at most {REDSHIFT_MOST_CHARS} characters"),
                    )
                    .hint = Some(
                        "Redshift sizes text in bytes, at most 65535, and a character takes up to 4: lower max_length".into(),
                    );
                }
                ColumnType::String {
                    max_length: max_length as u32,
                }
            }
            "text" => ColumnType::Text,
            "integer" => ColumnType::Integer,
            "bigint" => ColumnType::BigInt,
            "float" => ColumnType::Float,
            "boolean" => ColumnType::Boolean,
            "timestamp" => ColumnType::Timestamp,
            "json" => ColumnType::Json,
            "decimal" => self.decimal(name, raw)?,
            "date" => ColumnType::Date,
            "uuid" => ColumnType::Uuid,
            other => {
                self.unknown(raw.ty.span(), "column type", other, ColumnType::NAMES);
                return None;
            }
        };
        Some(ty)
    }

    /// `decimal`'s `precision` (1 to 18, required) and `scale` (0 to the
    /// precision, 0 when left out).
    fn decimal(&mut self, name: &str, raw: &RawColumn) -> Option<ColumnType> {
        let Some(written) = &raw.precision else {
            self.error(
                raw.ty.span(),
                format!("decimal column `{name}` needs precision"),
            )
            .hint = Some(
                "add precision = N (digits in all, at most 18) and scale = M (digits after the point)"
                    .into(),
            );
            return None;
        };
        let most = i64::from(crate::decimal::MAX_PRECISION);
        let precision = self.in_range(Some(written), 1..=most, "precision")?;
        let scale = match &raw.scale {
            Some(s) => self.in_range(Some(s), 0..=precision, "scale")?,
            None => 0,
        };
        Some(ColumnType::Decimal {
            precision: precision as u8,
            scale: scale as u8,
        })
    }

    /// `default = "now"` and `updated = "now"`: timestamps the runtime writes.
    fn stamp(&mut self, raw: &RawColumn, ty: ColumnType, is_key: bool) -> Option<Stamp> {
        let now = |v: &S<toml::Value>| v.get_ref().as_str() == Some("now");
        let created = raw.default.as_ref().filter(|d| now(d));
        if let Some(u) = raw.updated.as_ref().filter(|u| !now(u)) {
            self.error(u.span(), "updated takes only \"now\"");
        }
        let updated = raw.updated.as_ref().filter(|u| now(u));
        let span = updated.or(created)?.span();
        if ty != ColumnType::Timestamp {
            self.error(
                span,
                format!("only a timestamp column can be \"now\", not a {ty} one"),
            );
        } else if is_key {
            self.error(span, "the key column cannot be \"now\"");
        }
        Some(if updated.is_some() {
            Stamp::Updated
        } else {
            Stamp::Created
        })
    }

    /// What the key column can be, and that only the key is generated.
    fn key_rules(&mut self, raw: &RawColumn, ty: ColumnType, is_key: bool) {
        if let Some(n) = raw.nullable.as_ref().filter(|n| is_key && *n.get_ref()) {
            self.error(n.span(), "the key column cannot be nullable");
        }
        if let Some(g) = raw.generated.as_ref().filter(|g| *g.get_ref()) {
            if !is_key {
                self.error(g.span(), "only the key column can be generated");
            } else if !matches!(
                ty,
                ColumnType::Integer
                    | ColumnType::BigInt
                    | ColumnType::String { .. }
                    | ColumnType::Uuid
            ) {
                self.error(
                    g.span(),
                    "a generated key must be integer, bigint, uuid or string (a UUID)",
                );
            } else if matches!(ty, ColumnType::String { max_length } if max_length < 36) {
                self.error(
                    g.span(),
                    "a generated string key is a UUID: it needs max_length >= 36",
                );
            }
        }
        if matches!(ty, ColumnType::Float | ColumnType::Json | ColumnType::Text) && is_key {
            let ty_name = raw.ty.get_ref();
            self.error(
                raw.ty.span(),
                format!("a key column cannot be of type {ty_name}"),
            )
            .hint = Some("use string (with max_length), integer or bigint".into());
        }
    }
}
