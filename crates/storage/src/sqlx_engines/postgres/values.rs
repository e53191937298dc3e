//! Values between the engine and tokio-postgres: each parameter with the
//! type it is declared as, and each row read back as the API shows it.
//!
//! Parameters are declared with the same types sqlx declared them with
//! (`int8` for every integer, `text` for strings, ...), so the server casts
//! as it did: an `int8` parameter compared with an `integer` column, or
//! inserted into one, behaves as before.

use std::error::Error as StdError;

use bytes::BytesMut;
use serde_json::Value as Json;
use stackwright_stack::ColumnType;
use tokio_postgres::types::{to_sql_checked, IsNull, ToSql, Type};

use crate::engine::{Cells, Result, StorageError};
use crate::shape::Shape;
use crate::sql::{self, Param};

/// The type a parameter is declared as when its statement is prepared.
pub(super) fn declared(p: &Param) -> Type {
    match p {
        Param::Null(ty) => column_param_type(*ty),
        Param::Bool(_) => Type::BOOL,
        Param::Int(_) => Type::INT8,
        Param::Float(_) => Type::FLOAT8,
        Param::Text(_) => Type::TEXT,
        Param::Json(_) => Type::JSONB,
        Param::Timestamp(_) => Type::TIMESTAMPTZ,
        Param::Decimal(_) => Type::NUMERIC,
        Param::Date(_) => Type::DATE,
        Param::Uuid(_) => Type::UUID,
    }
}

/// A NULL is declared as the non-null values of its column are, so one
/// statement serves both.
fn column_param_type(ty: ColumnType) -> Type {
    match ty {
        ColumnType::Integer | ColumnType::BigInt => Type::INT8,
        ColumnType::Float => Type::FLOAT8,
        ColumnType::Boolean => Type::BOOL,
        ColumnType::Timestamp => Type::TIMESTAMPTZ,
        ColumnType::Json => Type::JSONB,
        ColumnType::Decimal { .. } => Type::NUMERIC,
        ColumnType::Date => Type::DATE,
        ColumnType::Uuid => Type::UUID,
        ColumnType::String { .. } | ColumnType::Text => Type::TEXT,
    }
}

/// One parameter, written in the binary format of the type [`declared`]
/// gave it.
#[derive(Debug)]
pub(super) struct Arg<'a>(pub &'a Param);

impl ToSql for Arg<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn StdError + Sync + Send>> {
        match self.0 {
            Param::Null(_) => Ok(IsNull::Yes),
            Param::Bool(b) => b.to_sql(ty, out),
            Param::Int(i) => i.to_sql(ty, out),
            Param::Float(f) => f.to_sql(ty, out),
            Param::Text(s) => s.to_sql(ty, out),
            Param::Json(j) => j.to_sql(ty, out),
            Param::Timestamp(t) => t.to_sql(ty, out),
            Param::Decimal(d) => {
                rust_decimal::Decimal::new(d.units, u32::from(d.scale)).to_sql(ty, out)
            }
            Param::Date(d) => d.to_sql(ty, out),
            Param::Uuid(u) => u.to_sql(ty, out),
        }
    }

    // The statement was prepared with the types `declared` chose, so any
    // type asked for is the one this value writes.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A row's values, in the order of the shape's columns.
pub(super) fn values(row: &tokio_postgres::Row, shape: &Shape) -> Result<Vec<Json>> {
    let mut out = Vec::with_capacity(shape.columns.len());
    for (i, (_, ty)) in shape.columns.iter().enumerate() {
        out.push(value(row, i, *ty)?.unwrap_or(Json::Null));
    }
    Ok(out)
}

/// A row's values as JSON text, in the order of the shape's columns: the
/// common types are written from the driver's buffer, a text with no string
/// made for it.
pub(super) fn encode(row: &tokio_postgres::Row, shape: &Shape, cells: &mut Cells) -> Result<()> {
    for (i, (_, ty)) in shape.columns.iter().enumerate() {
        cells.push_with(|out| match ty {
            ColumnType::Integer => write(out, &get::<i32>(row, i)?),
            ColumnType::BigInt => write(out, &get::<i64>(row, i)?),
            ColumnType::Boolean => write(out, &get::<bool>(row, i)?),
            ColumnType::String { .. } | ColumnType::Text => write(out, &get::<&str>(row, i)?),
            _ => write(out, &value(row, i, *ty)?),
        })?;
    }
    Ok(())
}

/// A value (none: null) as JSON text.
fn write<T: serde::Serialize>(out: &mut Vec<u8>, value: &Option<T>) -> Result<()> {
    serde_json::to_writer(out, value)
        .map_err(|e| StorageError::Internal(format!("a value as JSON: {e}")))
}

fn value(row: &tokio_postgres::Row, i: usize, ty: ColumnType) -> Result<Option<Json>> {
    Ok(match ty {
        ColumnType::Integer => get::<i32>(row, i)?.map(Json::from),
        ColumnType::BigInt => get::<i64>(row, i)?.map(Json::from),
        ColumnType::Float => get::<f64>(row, i)?.map(Json::from),
        ColumnType::Boolean => get::<bool>(row, i)?.map(Json::Bool),
        ColumnType::String { .. } | ColumnType::Text => {
            get::<&str>(row, i)?.map(|s| Json::String(s.to_owned()))
        }
        ColumnType::Timestamp => get::<time::OffsetDateTime>(row, i)?.map(sql::timestamp_json),
        ColumnType::Date => get::<time::Date>(row, i)?.map(sql::date_json),
        ColumnType::Uuid => get::<uuid::Uuid>(row, i)?.map(|u| Json::String(u.to_string())),
        ColumnType::Json => get::<Json>(row, i)?,
        ColumnType::Decimal { .. } => get::<rust_decimal::Decimal>(row, i)?
            .map(|d| super::super::decimal_json(ty, d))
            .transpose()?,
    })
}

fn get<'r, T: tokio_postgres::types::FromSql<'r>>(
    row: &'r tokio_postgres::Row,
    i: usize,
) -> Result<Option<T>> {
    row.try_get::<_, Option<T>>(i)
        .map_err(|e| StorageError::Internal(format!("reading column {i}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_null_is_declared_as_its_columns_values_are() {
        for (ty, value) in [
            (ColumnType::Integer, Param::Int(1)),
            (ColumnType::BigInt, Param::Int(1)),
            (ColumnType::Float, Param::Float(1.5)),
            (ColumnType::Boolean, Param::Bool(true)),
            (ColumnType::Text, Param::Text("x".into())),
            (ColumnType::Json, Param::Json(Json::Null)),
            (ColumnType::Date, Param::Date(time::Date::MIN)),
            (ColumnType::Uuid, Param::Uuid(uuid::Uuid::nil())),
        ] {
            assert_eq!(declared(&Param::Null(ty)), declared(&value), "{ty:?}");
        }
    }
}
