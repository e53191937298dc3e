//! Values between JSON rows and DynamoDB items, the order lists are
//! sorted in (as the SQL engines order), and AWS errors as storage errors.

use std::collections::HashMap;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ScalarAttributeType};
use serde_json::Value as Json;
use stackwright_stack::decimal::Decimal;
use stackwright_stack::{values, Column, ColumnType, Table};
use time::format_description::well_known::Rfc3339;

use crate::engine::*;

pub(super) enum Failure {
    /// A condition expression did not hold.
    Condition,
    /// A transaction was cancelled (a condition of one of its items did
    /// not hold, or it conflicted with another).
    Cancelled,
    NotFound(String),
    InUse,
    Other(StorageError),
}

pub(super) fn classify<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> Failure {
    match e {
        SdkError::DispatchFailure(d) => Failure::Other(StorageError::Unavailable(format!(
            "cannot reach DynamoDB: {d:?}"
        ))),
        SdkError::TimeoutError(_) => {
            Failure::Other(StorageError::Unavailable("DynamoDB timed out".into()))
        }
        SdkError::ResponseError(_) => Failure::Other(StorageError::Unavailable(
            "DynamoDB answered unreadably".into(),
        )),
        SdkError::ServiceError(s) => {
            let err = s.into_err();
            let message = err.message().unwrap_or("").to_string();
            match err.code() {
                Some("ConditionalCheckFailedException") => Failure::Condition,
                Some("TransactionCanceledException") => Failure::Cancelled,
                Some("ResourceNotFoundException") => Failure::NotFound(message),
                Some("ResourceInUseException") => Failure::InUse,
                // An item over 400 KB or a key over its limit.
                Some("ValidationException") if message.to_ascii_lowercase().contains("size") => {
                    Failure::Other(StorageError::TooLarge(message))
                }
                Some(
                    "ProvisionedThroughputExceededException"
                    | "RequestLimitExceeded"
                    | "ThrottlingException"
                    | "InternalServerError"
                    | "ServiceUnavailable",
                ) => Failure::Other(StorageError::Unavailable(message)),
                code => Failure::Other(StorageError::Internal(format!(
                    "{}: {message}",
                    code.unwrap_or("DynamoDB error")
                ))),
            }
        }
        other => Failure::Other(StorageError::Internal(format!("{other:?}"))),
    }
}

pub(super) fn fail(f: Failure) -> StorageError {
    match f {
        Failure::Condition => StorageError::Internal("unexpected failed condition".into()),
        Failure::Cancelled => StorageError::Contention("a transaction was cancelled".into()),
        Failure::NotFound(m) => {
            StorageError::Internal(format!("table not found ({m}); run `stackwright migrate`"))
        }
        Failure::InUse => StorageError::Internal("table is being changed".into()),
        Failure::Other(e) => e,
    }
}

pub(super) fn err<E: ProvideErrorMetadata + std::fmt::Debug, R: std::fmt::Debug>(
    e: SdkError<E, R>,
) -> StorageError {
    fail(classify(e))
}

/// Which items of a cancelled `TransactWriteItems` failed their condition
/// (in order); an error when it failed otherwise: a conflict with another
/// transaction or throttling (Contention: try again later), or anything
/// else.
pub(super) fn failed_conditions<R: std::fmt::Debug>(
    e: SdkError<aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError, R>,
) -> Result<Vec<bool>> {
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError as E;
    let Some(E::TransactionCanceledException(cancelled)) = e.as_service_error() else {
        return Err(err(e));
    };
    let codes: Vec<String> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|r| r.code().unwrap_or("None").to_string())
        .collect();
    if !codes.is_empty()
        && codes
            .iter()
            .all(|c| c == "None" || c == "ConditionalCheckFailed")
    {
        return Ok(codes
            .iter()
            .map(|c| c == "ConditionalCheckFailed")
            .collect());
    }
    let why = format!("transaction cancelled: {}", codes.join(", "));
    if codes.is_empty()
        || codes.iter().any(|c| {
            c == "TransactionConflict" || c.contains("Throttl") || c.contains("Throughput")
        })
    {
        return Err(StorageError::Contention(why));
    }
    Err(StorageError::Internal(why))
}

pub(super) fn build_err(e: aws_sdk_dynamodb::error::BuildError) -> StorageError {
    StorageError::Internal(format!("building a DynamoDB request: {e}"))
}

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn scalar_type(ty: ColumnType) -> std::result::Result<ScalarAttributeType, String> {
    match ty {
        ColumnType::Integer
        | ColumnType::BigInt
        | ColumnType::Float
        | ColumnType::Decimal { .. } => Ok(ScalarAttributeType::N),
        ColumnType::String { .. }
        | ColumnType::Text
        | ColumnType::Timestamp
        | ColumnType::Date
        | ColumnType::Uuid => Ok(ScalarAttributeType::S),
        ColumnType::Boolean | ColumnType::Json => Err(format!(
            "a {ty} column cannot be a DynamoDB key or index key"
        )),
    }
}

/// JSON (already checked against the column) -> an attribute value.
pub(super) fn to_av(ty: ColumnType, v: &Json) -> Result<AttributeValue> {
    let bad = || StorageError::Internal(format!("value {v} does not fit a {ty} column"));
    Ok(match (ty, v) {
        (_, Json::Null) => AttributeValue::Null(true),
        (ColumnType::Integer | ColumnType::BigInt, v) => n(v.as_i64().ok_or_else(bad)?),
        (ColumnType::Float, v) => n(v.as_f64().ok_or_else(bad)?),
        (ColumnType::Boolean, Json::Bool(b)) => AttributeValue::Bool(*b),
        (ColumnType::Timestamp, Json::String(t)) => {
            let t = time::OffsetDateTime::parse(t, &Rfc3339).map_err(|_| bad())?;
            s(t.to_offset(time::UtcOffset::UTC)
                .format(&Rfc3339)
                .map_err(|_| bad())?)
        }
        (ColumnType::String { .. } | ColumnType::Text, Json::String(t)) => s(t.clone()),
        (ColumnType::Json, v) => s(v.to_string()),
        // A Number holds 38 digits exactly, and compares as a number.
        (ColumnType::Decimal { precision, scale }, v) => {
            n(values::decimal_of(v, precision, scale).map_err(|_| bad())?)
        }
        (ColumnType::Date, Json::String(t)) => {
            values::date_of(t).ok_or_else(bad)?;
            s(t.clone())
        }
        (ColumnType::Uuid, Json::String(t)) => s(values::canonical_uuid(t).ok_or_else(bad)?),
        _ => return Err(bad()),
    })
}

pub(super) fn from_av(column: &Column, av: Option<&AttributeValue>) -> Json {
    let Some(av) = av else {
        // An attribute added by a later migration: existing items read its default.
        return column.default.clone().unwrap_or(Json::Null);
    };
    match (column.ty, av) {
        (_, AttributeValue::Null(_)) => Json::Null,
        (ColumnType::Integer | ColumnType::BigInt, AttributeValue::N(x)) => {
            x.parse::<i64>().map(Json::from).unwrap_or(Json::Null)
        }
        (ColumnType::Float, AttributeValue::N(x)) => x
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Json::Null, Json::Number),
        (ColumnType::Boolean, AttributeValue::Bool(b)) => Json::Bool(*b),
        // DynamoDB gives a Number back without its trailing zeros.
        (ColumnType::Decimal { precision, scale }, AttributeValue::N(x)) => {
            Decimal::parse(x, precision, scale).map_or(Json::Null, |d| Json::String(d.to_string()))
        }
        (ColumnType::Json, AttributeValue::S(t)) => {
            serde_json::from_str(t).unwrap_or(Json::String(t.clone()))
        }
        (_, AttributeValue::S(t)) => Json::String(t.clone()),
        _ => Json::Null,
    }
}

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn read(table: &Table, item: &Item) -> Row {
    table
        .columns
        .values()
        .map(|c| (c.name.clone(), from_av(c, item.get(&c.name))))
        .collect()
}

/// Attributes of a row. Null index-key attributes are left out: a GSI key
/// attribute may be missing (the item is just not indexed) but not NULL.
pub(super) fn to_item(table: &Table, row: &Row) -> Result<Item> {
    let mut item = Item::with_capacity(row.len());
    for (name, v) in row {
        let column = table
            .columns
            .get(name)
            .ok_or_else(|| StorageError::Internal(format!("unknown column {name}")))?;
        if v.is_null() && table.indexes.values().any(|i| i.columns.contains(name)) {
            continue;
        }
        item.insert(name.clone(), to_av(column.ty, v)?);
    }
    Ok(item)
}
