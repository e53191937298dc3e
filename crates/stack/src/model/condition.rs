//! Conditions on update and delete routes (`where = "borrowed < copies"`):
//! comparisons that must all hold for the write to happen, checked in the
//! same statement as the write on every engine.

use serde::Serialize;
use serde_json::Value as Json;

use super::UserClaim;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CompareOp {
    #[serde(rename = "=")]
    Eq,
    #[serde(rename = "!=")]
    Ne,
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = ">")]
    Gt,
    #[serde(rename = ">=")]
    Ge,
    /// One of a list ([`Operand::Value`] holds an array): never written in
    /// a stack file; the runtime asks it of increments on columns with
    /// `allowed` values.
    #[serde(rename = "in")]
    In,
}

impl CompareOp {
    /// Longest first, so `<=` is not read as `<`.
    pub const ALL: [(&'static str, CompareOp); 6] = [
        ("!=", CompareOp::Ne),
        ("<=", CompareOp::Le),
        (">=", CompareOp::Ge),
        ("=", CompareOp::Eq),
        ("<", CompareOp::Lt),
        (">", CompareOp::Gt),
    ];

    /// As SQL and DynamoDB condition expressions write it.
    pub fn symbol(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::In => "IN",
        }
    }

    pub fn orders(self) -> bool {
        !matches!(self, CompareOp::Eq | CompareOp::Ne | CompareOp::In)
    }
}

/// What a column is compared with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum Operand {
    /// Another column of the row.
    Column(String),
    /// A constant of the column's type.
    Value(Json),
    /// A claim of the signed-in user (the runtime puts its value in).
    User(UserClaim),
    /// The amount a request gives in a body field of the route's
    /// increments (`$input.quantity`; the runtime puts its value in).
    Input(String),
}

/// `column OP operand`. A comparison with a NULL is never true.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub column: String,
    pub op: CompareOp,
    pub value: Operand,
}
