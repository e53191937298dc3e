//! What Redshift needs said its own way. It speaks PostgreSQL's protocol
//! and most of its row syntax, but has no `RETURNING`, no `ON CONFLICT`, no
//! row locks, no secondary indexes, and enforces no primary key or unique
//! constraint. So:
//!
//! - every insert is `INSERT ... SELECT ... WHERE NOT EXISTS` on the key,
//!   and the engine checks unique columns first, in the same serializable
//!   transaction (retried on a serialization failure);
//! - an upsert is a `MERGE` from a temporary table (Redshift's MERGE takes
//!   no subquery as its source);
//! - a table is distributed on its key, sorted on its first index's columns
//!   then its key, and declares its unique indexes as (informational)
//!   constraints.
//!
//! Everything here but the table attributes is also valid PostgreSQL 15,
//! which is how it is executed in tests (see docs/engines.md).

use stackwright_stack::ColumnType;

use super::{Builder, Dialect, Param, Statement};
use crate::migrate::TableSchema;
use crate::shape::Shape;

const D: Dialect = Dialect::Redshift;

/// Redshift's longest `VARCHAR`, in bytes.
pub const MOST_VARCHAR_BYTES: u32 = 65_535;

/// The most bytes a character takes in UTF-8: Redshift sizes `VARCHAR` in
/// bytes, the stack file in characters.
const BYTES_PER_CHAR: u32 = 4;

/// Where a `CREATE TABLE`'s Redshift-only attributes start.
pub const ATTRIBUTES_START: &str = " DISTSTYLE KEY";

pub fn column_type(ty: ColumnType) -> String {
    match ty {
        ColumnType::String { max_length } => format!(
            "VARCHAR({})",
            max_length
                .saturating_mul(BYTES_PER_CHAR)
                .min(MOST_VARCHAR_BYTES)
        ),
        // Redshift's TEXT is VARCHAR(256). JSON is kept as its text: SUPER
        // values do not travel over the PostgreSQL protocol as JSON.
        ColumnType::Text | ColumnType::Json => format!("VARCHAR({MOST_VARCHAR_BYTES})"),
        ColumnType::Integer => "INTEGER".into(),
        ColumnType::BigInt => "BIGINT".into(),
        ColumnType::Float => "DOUBLE PRECISION".into(),
        ColumnType::Boolean => "BOOLEAN".into(),
        ColumnType::Timestamp => "TIMESTAMPTZ".into(),
        ColumnType::Decimal { precision, scale } => format!("DECIMAL({precision}, {scale})"),
        ColumnType::Date => "DATE".into(),
        // Redshift has no UUID type: the lowercase text, which orders alike.
        ColumnType::Uuid => "CHAR(36)".into(),
    }
}

/// The unique indexes of `t`, as table constraints.
pub fn unique_constraints(t: &TableSchema) -> Vec<String> {
    t.indexes
        .iter()
        .filter(|(_, i)| i.unique)
        .map(|(name, i)| {
            format!(
                "CONSTRAINT {} UNIQUE ({})",
                D.index_name(&t.name, name),
                quoted(&i.columns)
            )
        })
        .collect()
}

/// Distributed on the key (rows spread evenly, one slice holds a key);
/// sorted on the first index's columns, then the key: lists filter on the
/// one and pages end on the other. Chosen when the table is made: Redshift
/// cannot change a sort key inside a transaction.
pub fn table_attributes(t: &TableSchema) -> String {
    let mut sort: Vec<String> = t
        .indexes
        .values()
        .next()
        .map(|i| i.columns.clone())
        .unwrap_or_default();
    if !sort.contains(&t.key) {
        sort.push(t.key.clone());
    }
    format!(
        "{ATTRIBUTES_START} DISTKEY ({}) COMPOUND SORTKEY ({})",
        D.quote(&t.key),
        quoted(&sort)
    )
}

/// A `CREATE TABLE` without its Redshift-only attributes, for a
/// PostgreSQL server standing in for Redshift.
pub fn portable(statement: &str) -> &str {
    match statement.find(ATTRIBUTES_START) {
        Some(at) if statement.starts_with("CREATE TABLE") => &statement[..at],
        _ => statement,
    }
}

/// An index added later: a unique one is a constraint; another has nothing
/// to make (Redshift has no secondary indexes).
pub fn add_index(t: &TableSchema, index: &str) -> Vec<String> {
    let i = &t.indexes[index];
    if !i.unique {
        return Vec::new();
    }
    vec![format!(
        "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
        D.quote(&t.name),
        D.index_name(&t.name, index),
        quoted(&i.columns)
    )]
}

pub fn drop_index(t: &TableSchema, index: &str) -> Vec<String> {
    if !t.indexes[index].unique {
        return Vec::new();
    }
    vec![format!(
        "ALTER TABLE {} DROP CONSTRAINT {}",
        D.quote(&t.name),
        D.index_name(&t.name, index)
    )]
}

/// The bookkeeping tables. No `DEFAULT now()`: Redshift's current-time
/// functions run on its leader node only, so the time is bound instead.
/// `identity` is a reserved word there: quoted.
pub const INTERNAL_TABLES: [&str; 2] = [
    "CREATE TABLE IF NOT EXISTS _stackwright_migrations (stack VARCHAR(64) NOT NULL, version BIGINT NOT NULL, applied_at TIMESTAMPTZ NOT NULL, summary VARCHAR(65535) NOT NULL, \"schema\" VARCHAR(65535) NOT NULL, PRIMARY KEY (stack, version))",
    "CREATE TABLE IF NOT EXISTS _stackwright_seed_rows (table_name VARCHAR(64) NOT NULL, \"identity\" VARCHAR(64) NOT NULL, applied_at TIMESTAMPTZ NOT NULL, PRIMARY KEY (table_name, \"identity\"))",
];

/// Binds stack, version, summary, schema, time.
pub const RECORD_MIGRATION: &str = "INSERT INTO _stackwright_migrations (stack, version, summary, \"schema\", applied_at) VALUES ($1, $2, $3, $4, $5)";

/// Binds table, identity, time; one row affected: claimed.
pub const CLAIM_SEED: &str = "INSERT INTO _stackwright_seed_rows (table_name, \"identity\", applied_at) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM _stackwright_seed_rows WHERE table_name = $1 AND \"identity\" = $2)";

/// Serializes migrators: Redshift has no advisory locks.
pub const LOCK_MIGRATIONS: &str = "LOCK _stackwright_migrations";

/// A table locked until the transaction ends: writers of one table take
/// turns. Redshift's `BEGIN ISOLATION LEVEL SERIALIZABLE` is a no-op (the
/// level is the database's, and new clusters default to SNAPSHOT, under
/// which two inserts of one key would both commit), so the checks before a
/// write hold only under this lock.
pub fn lock(table: &str) -> String {
    format!("LOCK {}", D.quote(table))
}

/// The applied-message records of subscriptions fed by SQS.
pub const APPLIED_TABLE: &str = "CREATE TABLE IF NOT EXISTS _stackwright_applied (subscription VARCHAR(200) NOT NULL, id VARCHAR(128) NOT NULL, applied_at BIGINT NOT NULL, PRIMARY KEY (subscription, id))";

/// Binds subscription, id, time; one row affected: first application.
pub const MARK_APPLIED: &str = "INSERT INTO _stackwright_applied (subscription, id, applied_at) SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM _stackwright_applied WHERE subscription = $1 AND id = $2)";

/// Whether the server is Redshift, from `SELECT version()`.
pub const VERSION: &str = "SELECT version()";

/// `INSERT ... SELECT ... WHERE NOT EXISTS`: nothing is inserted when the
/// key is taken. `values` must hold the key (the engine gives generated
/// ones itself).
pub fn insert_if_absent(shape: &Shape, values: Vec<(&str, Param)>) -> Statement {
    let key = values
        .iter()
        .find(|(c, _)| *c == shape.key)
        .map(|(_, p)| p.clone());
    let names: Vec<String> = values.iter().map(|(c, _)| D.quote(c)).collect();
    let mut b = Builder::new(D);
    b.push(&format!(
        "INSERT INTO {} ({}) SELECT ",
        D.quote(&shape.table),
        names.join(", ")
    ));
    for (i, (_, p)) in values.into_iter().enumerate() {
        if i > 0 {
            b.push(", ");
        }
        b.bind(p);
    }
    if let Some(key) = key {
        b.push(&format!(
            " WHERE NOT EXISTS (SELECT 1 FROM {} WHERE ",
            D.quote(&shape.table)
        ))
        .equals(&D.quote(&shape.key), key)
        .push(")");
    }
    b.done()
}

/// The next integer key: one more than the largest (in the insert's
/// serializable transaction, so two inserts never share one).
pub fn next_key(shape: &Shape) -> String {
    format!(
        "SELECT CAST(COALESCE(MAX({k}), 0) + 1 AS BIGINT) FROM {t}",
        k = D.quote(&shape.key),
        t = D.quote(&shape.table)
    )
}

/// Whether a row other than `except` (a key) has these values in these
/// columns: a unique index Redshift does not enforce.
pub fn taken(shape: &Shape, values: Vec<(&str, Param)>, except: Option<Param>) -> Statement {
    let mut b = Builder::new(D);
    b.push(&format!("SELECT 1 FROM {} WHERE ", D.quote(&shape.table)));
    for (i, (column, p)) in values.into_iter().enumerate() {
        if i > 0 {
            b.push(" AND ");
        }
        b.equals(&D.quote(column), p);
    }
    if let Some(key) = except {
        b.push(&format!(" AND {} <> ", D.quote(&shape.key)))
            .bind(key);
    }
    b.push(" LIMIT 1");
    b.done()
}

/// An upsert on the key: the row into a temporary table, `MERGE` from it,
/// the table dropped; four statements, in one transaction.
pub fn merge(shape: &Shape, values: Vec<(&str, Param)>) -> Vec<Statement> {
    let source = D.quote(&format!("_stackwright_merge_{}", shape.table));
    let target = D.quote(&shape.table);
    let columns: Vec<&str> = values.iter().map(|(c, _)| *c).collect();
    let others: Vec<&str> = columns
        .iter()
        .copied()
        .filter(|c| shape.replaced(c))
        .collect();
    let key = D.quote(&shape.key);
    // With nothing else to set, the key is set to itself: Redshift's MERGE
    // takes both clauses.
    let sets: Vec<String> = if others.is_empty() {
        vec![format!("{key} = s.{key}")]
    } else {
        others
            .iter()
            .map(|c| format!("{q} = s.{q}", q = D.quote(c)))
            .collect()
    };
    let names = quoted(&columns);
    let from_source: Vec<String> = columns
        .iter()
        .map(|c| format!("s.{}", D.quote(c)))
        .collect();
    let mut fill = Builder::new(D);
    fill.push(&format!("INSERT INTO {source} ({names}) VALUES ("));
    for (i, (_, p)) in values.into_iter().enumerate() {
        if i > 0 {
            fill.push(", ");
        }
        fill.bind(p);
    }
    fill.push(")");
    let plain = |sql: String| Statement {
        sql,
        params: Vec::new(),
    };
    vec![
        plain(format!(
            "CREATE TEMP TABLE {source} (LIKE {target} INCLUDING DEFAULTS)"
        )),
        fill.done(),
        plain(format!(
            "MERGE INTO {target} USING {source} AS s ON {target}.{key} = s.{key} \
             WHEN MATCHED THEN UPDATE SET {} \
             WHEN NOT MATCHED THEN INSERT ({names}) VALUES ({})",
            sets.join(", "),
            from_source.join(", ")
        )),
        plain(format!("DROP TABLE {source}")),
    ]
}

fn quoted<S: AsRef<str>>(columns: &[S]) -> String {
    columns
        .iter()
        .map(|c| D.quote(c.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        Shape {
            table: "t".into(),
            key: "id".into(),
            key_ty: ColumnType::BigInt,
            generated_key: true,
            created: Vec::new(),
            columns: vec![
                ("id".into(), ColumnType::BigInt),
                ("n".into(), ColumnType::Text),
            ],
            names: vec!["id".to_string(), "n".to_string()].into(),
        }
    }

    #[test]
    fn an_insert_never_takes_a_taken_key() {
        let st = insert_if_absent(
            &shape(),
            vec![("id", Param::Int(7)), ("n", Param::Text("x".into()))],
        );
        assert_eq!(
            st.sql,
            r#"INSERT INTO "t" ("id", "n") SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM "t" WHERE "id" = $3)"#
        );
        assert_eq!(st.params.len(), 3);
    }

    #[test]
    fn an_upsert_merges_from_a_temporary_table() {
        let sql: Vec<String> = merge(
            &shape(),
            vec![("id", Param::Int(7)), ("n", Param::Text("x".into()))],
        )
        .into_iter()
        .map(|s| s.sql)
        .collect();
        assert_eq!(
            sql,
            [
                r#"CREATE TEMP TABLE "_stackwright_merge_t" (LIKE "t" INCLUDING DEFAULTS)"#,
                r#"INSERT INTO "_stackwright_merge_t" ("id", "n") VALUES ($1, $2)"#,
                r#"MERGE INTO "t" USING "_stackwright_merge_t" AS s ON "t"."id" = s."id" WHEN MATCHED THEN UPDATE SET "n" = s."n" WHEN NOT MATCHED THEN INSERT ("id", "n") VALUES (s."id", s."n")"#,
                r#"DROP TABLE "_stackwright_merge_t""#,
            ]
        );
    }

    #[test]
    fn varchar_is_sized_in_bytes() {
        assert_eq!(
            column_type(ColumnType::String { max_length: 20 }),
            "VARCHAR(80)"
        );
        assert_eq!(
            column_type(ColumnType::String { max_length: 20_000 }),
            "VARCHAR(65535)"
        );
        assert_eq!(column_type(ColumnType::Text), "VARCHAR(65535)");
    }

    #[test]
    fn the_portable_form_drops_only_the_attributes() {
        let full = r#"CREATE TABLE "t" ("id" BIGINT) DISTSTYLE KEY DISTKEY ("id") COMPOUND SORTKEY ("id")"#;
        assert_eq!(portable(full), r#"CREATE TABLE "t" ("id" BIGINT)"#);
        assert_eq!(portable("DROP TABLE \"t\""), "DROP TABLE \"t\"");
    }
}
