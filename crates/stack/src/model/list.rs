//! `op = "list"`: what a request may filter, bound, sort and count.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize)]
pub struct ListOperation {
    pub table: String,
    /// `?param=value` equality filters on indexed columns.
    pub filters: Vec<Filter>,
    /// `?filter=Name&value=V`: one parameter picks the column, another gives the value.
    pub named_filter: Option<NamedFilter>,
    /// `?field.gt=V` and its kin: bounds on indexed columns.
    pub ranges: Vec<RangeFilter>,
    /// The order without `?sort=`, the key last.
    pub order_by: Vec<Order>,
    /// The orders `?sort=` may choose, by the name a client sends.
    pub sorts: Vec<Sort>,
    /// `?count=true` answers the number of matching rows (`X-Total-Count`).
    pub count: bool,
    pub page_size: u32,
    pub max_page_size: u32,
    /// A request must give one of the filters (what lets DynamoDB serve an
    /// order from an index: only a Query has one).
    pub require_filter: bool,
}

impl ListOperation {
    /// The columns a request may filter on (filters and named-filter choices).
    pub fn filter_columns(&self) -> impl Iterator<Item = &str> {
        let named = self.named_filter.iter().flat_map(|nf| nf.choices.values());
        self.filters
            .iter()
            .map(|f| f.column.as_str())
            .chain(named.map(String::as_str))
    }

    /// Every order a request may get: the default, then the `sort` choices.
    pub fn orders(&self) -> impl Iterator<Item = &[Order]> {
        std::iter::once(self.order_by.as_slice()).chain(self.sorts.iter().map(|s| &s.order_by[..]))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Filter {
    pub param: String,
    pub column: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NamedFilter {
    pub param: String,
    pub value_param: String,
    /// Choice (as sent by clients) -> column.
    pub choices: IndexMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    pub column: String,
    pub descending: bool,
}

/// One of `?sort=`'s choices: its name as written (`"-due,title"`, the
/// JSON:API spelling) and the order it gives, the key last.
#[derive(Debug, Clone, Serialize)]
pub struct Sort {
    pub name: String,
    pub order_by: Vec<Order>,
}

/// A bound a list request may put on a column: `?FIELD.OP=VALUE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RangeOp {
    Gt,
    Gte,
    Lt,
    Lte,
    /// Text that starts with the value (compared as bytes, as ever).
    Prefix,
}

impl RangeOp {
    pub const ALL: [RangeOp; 5] = [
        RangeOp::Gt,
        RangeOp::Gte,
        RangeOp::Lt,
        RangeOp::Lte,
        RangeOp::Prefix,
    ];

    /// What follows the field's name in the query parameter.
    pub fn suffix(self) -> &'static str {
        match self {
            RangeOp::Gt => "gt",
            RangeOp::Gte => "gte",
            RangeOp::Lt => "lt",
            RangeOp::Lte => "lte",
            RangeOp::Prefix => "prefix",
        }
    }

    /// What it means, for documents and messages.
    pub fn meaning(self) -> &'static str {
        match self {
            RangeOp::Gt => "greater than",
            RangeOp::Gte => "greater than or equal to",
            RangeOp::Lt => "less than",
            RangeOp::Lte => "less than or equal to",
            RangeOp::Prefix => "starting with",
        }
    }
}

/// `ranges = ["due"]`: the bounds a request may put on one field.
#[derive(Debug, Clone, Serialize)]
pub struct RangeFilter {
    /// The field's API name, which the parameters start with.
    pub field: String,
    pub column: String,
    /// `prefix` only on text columns.
    pub ops: Vec<RangeOp>,
}

impl RangeFilter {
    pub fn param(&self, op: RangeOp) -> String {
        format!("{}.{}", self.field, op.suffix())
    }
}
