//! Tables, their columns, indexes and seeds.

use super::{check, NAME};

#[test]
fn tables() {
    check(
        NAME,
        &[
            (
                r#"
[tables.t]
key = "id"
seed = "seed.csv"
columns.id = { type = "integer", generated = true }
columns.name = { type = "string", max_length = 20 }
indexes.by_name = { columns = ["name"], unique = true }
"#,
                &[],
            ),
            (
                "[tables.1t]\nkey = \"id\"\ncolumns.id = { type = \"integer\" }\n",
                &[(1, 1, "invalid table name `1t`", Some("use letters, digits and underscores, starting with a letter or underscore; names starting with `_stackwright` are reserved"))],
            ),
            (
                "[tables._stackwright_t]\nkey = \"id\"\ncolumns.id = { type = \"integer\" }\n",
                &[(1, 1, "invalid table name `_stackwright_t`", Some("use letters, digits and underscores, starting with a letter or underscore; names starting with `_stackwright` are reserved"))],
            ),
            ("[tables.t]\nkey = \"id\"\ncolumns = {}\n", &[(1, 1, "table `t` has no columns", None), (2, 7, "key `id` is not a column of table `t`", Some("there is nothing of that kind defined"))]),
            (
                "[tables.t]\nkey = \"idd\"\ncolumns.id = { type = \"integer\" }\n",
                &[(2, 7, "key `idd` is not a column of table `t`", Some("did you mean `id`?"))],
            ),
        ],
    );
}

#[test]
fn indexes() {
    check(
        KEYED,
        &[
            (
                "indexes.1i = { columns = [\"id\"] }\n",
                &[(1, 14, "invalid index name `1i`", None)],
            ),
            (
                "indexes.i = { columns = [] }\n",
                &[(1, 25, "index `i` names no columns", None)],
            ),
            (
                "indexes.i = { columns = [\"di\"] }\n",
                &[(
                    1,
                    26,
                    "index `i` names unknown column `di`",
                    Some("did you mean `id`?"),
                )],
            ),
            (
                "indexes.i = { columns = [\"id\", \"id\"] }\n",
                &[(1, 32, "column `id` appears twice", None)],
            ),
        ],
    );
}

#[test]
fn seeds() {
    check(
        KEYED,
        &[
            (
                "seed = \"seed.txt\"\n",
                &[(1, 8, "seed file must end in .csv or .json", None)],
            ),
            (
                "seed = \"../seed.csv\"\n",
                &[(1, 8, "seed path must stay inside the stack folder", None)],
            ),
            (
                "seed = \"rows.json\"\n",
                &[(
                    1,
                    8,
                    "seed file `rows.json` not found",
                    Some("the path is relative to DIR"),
                )],
            ),
        ],
    );
}

#[test]
fn dynamodb_indexes() {
    let base = "name = \"s\"\n[database]\nengine = \"dynamodb\"\n";
    check(
        base,
        &[
            (
                r#"
[tables.t]
key = "id"
columns.id = { type = "string", max_length = 36 }
columns.a = { type = "string", max_length = 10 }
columns.b = { type = "integer" }
columns.c = { type = "boolean" }
indexes.ab = { columns = ["a", "b"] }
"#,
                &[],
            ),
            (
                r#"
[tables.t]
key = "id"
columns.id = { type = "string", max_length = 36 }
columns.a = { type = "string", max_length = 10 }
columns.b = { type = "integer" }
columns.c = { type = "integer" }
indexes.abc = { columns = ["a", "b", "c"] }
"#,
                &[(7, 27, "index `abc` has 3 columns; on DynamoDB an index has at most two (partition and sort key)", None)],
            ),
            (
                r#"
[tables.t]
key = "id"
columns.id = { type = "string", max_length = 36 }
columns.a = { type = "string", max_length = 10 }
indexes.a = { columns = ["a"], unique = true }
"#,
                &[(5, 41, "DynamoDB cannot enforce a unique index", Some("make this column the table's key, or drop `unique`"))],
            ),
            (
                r#"
[tables.t]
key = "id"
columns.id = { type = "string", max_length = 36 }
columns.c = { type = "json" }
indexes.c = { columns = ["c"] }
"#,
                &[(5, 26, "on DynamoDB an index key must be a string or number; `c` is json", None)],
            ),
        ],
    );
}

/// A table `t` keyed by `id` with the one column the case adds.
const KEYED: &str = r#"name = "s"

[tables.t]
key = "id"
columns.id = { type = "integer" }
"#;

#[test]
fn columns() {
    check(
        KEYED,
        &[
            ("columns.a = { type = \"text\", nullable = true }\n", &[]),
            ("columns.1a = { type = \"text\" }\n", &[(1, 14, "invalid column name `1a` in table `t`", Some("use letters, digits and underscores, starting with a letter or underscore"))]),
            ("columns.a = { type = \"string\" }\n", &[(1, 22, "string column `a` needs max_length", Some("add max_length = N, or use type = \"text\" for unbounded text"))]),
            ("columns.a = { type = \"string\", max_length = 0 }\n", &[(1, 45, "max_length must be between 1 and 65535", None)]),
            ("columns.a = { type = \"string\", max_length = 65536 }\n", &[(1, 45, "max_length must be between 1 and 65535", None)]),
            ("columns.a = { type = \"intger\" }\n", &[(1, 22, "unknown column type `intger`", Some("did you mean `integer`?"))]),
            ("columns.a = { type = \"money\" }\n", &[(1, 22, "unknown column type `money`", Some("expected one of `string`, `text`, `integer`, `bigint`, `float`, `boolean`, `timestamp`, `json`, `decimal`, `date`, `uuid`"))]),
            ("columns.a = { type = \"integer\", max_length = 5 }\n", &[(1, 46, "max_length only applies to type \"string\", not \"integer\"", None)]),
            ("columns.a = { type = \"integer\", generated = true }\n", &[(1, 45, "only the key column can be generated", None)]),
            ("columns.a = { type = \"text\", allowed = [] }\n", &[(1, 40, "allowed must list at least one value", None)]),
            (
                "columns.a = { type = \"string\", max_length = 3, allowed = [\"abc\", \"abcd\", 1] }\n",
                &[(1, 66, "allowed value for `a`: is 4 characters long; at most 3 allowed", None), (1, 74, "allowed value for `a`: expected a string, got an integer", None)],
            ),
            ("columns.a = { type = \"integer\", default = \"x\" }\n", &[(1, 43, "default for `a`: expected an integer, got a string", None)]),
            (
                "columns.a = { type = \"text\", allowed = [\"x\"], default = \"y\" }\n",
                &[(1, 57, "default for `a`: must be one of \"x\"", None)],
            ),
            ("columns.a = { type = \"timestamp\", default = \"yesterday\" }\n", &[(1, 45, "default for `a`: is not an RFC 3339 timestamp (e.g. 2024-05-01T12:00:00Z)", None)]),
            ("columns.a = { type = \"timestamp\", default = \"now\" }\n", &[]),
            ("columns.a = { type = \"timestamp\", updated = \"now\" }\n", &[]),
            ("columns.a = { type = \"timestamp\", updated = \"later\" }\n", &[(1, 45, "updated takes only \"now\"", None)]),
            ("columns.a = { type = \"date\", default = \"now\" }\n", &[(1, 40, "only a timestamp column can be \"now\", not a date one", None)]),
            ("columns.a = { type = \"decimal\", precision = 10, scale = 2, default = \"0.5\", allowed = [\"0.50\", 1] }\n", &[]),
            ("columns.a = { type = \"decimal\" }\n", &[(1, 22, "decimal column `a` needs precision", Some("add precision = N (digits in all, at most 18) and scale = M (digits after the point)"))]),
            ("columns.a = { type = \"decimal\", precision = 19 }\n", &[(1, 45, "precision must be between 1 and 18", None)]),
            ("columns.a = { type = \"decimal\", precision = 4, scale = 5 }\n", &[(1, 56, "scale must be between 0 and 4", None)]),
            ("columns.a = { type = \"text\", scale = 2 }\n", &[(1, 38, "scale only applies to type \"decimal\", not \"text\"", None)]),
            ("columns.a = { type = \"decimal\", precision = 4, scale = 2, default = 0.5 }\n", &[(1, 69, "default for `a`: is a JSON number with a fraction: write a decimal as a string (\"12.30\") so that no float rounds it", None)]),
            ("columns.a = { type = \"decimal\", precision = 4, scale = 2, default = \"100\" }\n", &[(1, 69, "default for `a`: is out of range for decimal(4,2): at most 2 digits before the point", None)]),
            ("columns.a = { type = \"date\", default = \"2024-02-30\" }\n", &[(1, 40, "default for `a`: is not a date (YYYY-MM-DD, years 0001 to 9999)", None)]),
            ("columns.a = { type = \"uuid\", default = \"0000\" }\n", &[(1, 40, "default for `a`: is not a UUID (8-4-4-4-12 hexadecimal digits with hyphens)", None)]),
        ],
    );
}

#[test]
fn key_columns() {
    check(
        NAME,
        &[
            (
                "[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"integer\", nullable = true }\n",
                &[(3, 45, "the key column cannot be nullable", None)],
            ),
            (
                "[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"timestamp\", generated = true }\n",
                &[(3, 48, "a generated key must be integer, bigint, uuid or string (a UUID)", None)],
            ),
            (
                "[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"string\", max_length = 20, generated = true }\n",
                &[(3, 62, "a generated string key is a UUID: it needs max_length >= 36", None)],
            ),
            (
                "[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"string\", max_length = 36, generated = true }\n",
                &[],
            ),
            ("[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"uuid\", generated = true }\n", &[]),
            (
                "[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"timestamp\", default = \"now\" }\n",
                &[(3, 46, "the key column cannot be \"now\"", None)],
            ),
            ("[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"float\" }\n", &[(3, 23, "a key column cannot be of type float", Some("use string (with max_length), integer or bigint"))]),
            ("[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"json\" }\n", &[(3, 23, "a key column cannot be of type json", Some("use string (with max_length), integer or bigint"))]),
        ],
    );
}

#[test]
fn redshift_strings() {
    let base = "name = \"s\"\n[database]\nengine = \"redshift\"\n";
    const HINT: Option<&str> = Some("Redshift sizes text in bytes, at most 65535, and a character takes up to 4: lower max_length");
    check(
        base,
        &[
            ("[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"string\", max_length = 16383 }\n", &[]),
            (
                "[tables.t]\nkey = \"id\"\ncolumns.id = { type = \"string\", max_length = 16384 }\n",
                &[(3, 46, "on Redshift a string column holds at most 16383 characters", HINT)],
            ),
        ],
    );
}

#[test]
fn one_of_each_type_is_in_the_order_of_the_names() {
    use crate::ColumnType;
    for (ty, name) in ColumnType::ONE_OF_EACH.iter().zip(ColumnType::NAMES) {
        assert!(ty.to_string().starts_with(name), "{ty} is not {name}");
    }
}
