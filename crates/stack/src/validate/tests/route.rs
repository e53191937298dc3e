//! What every route shares, and health. A line 0 is the `[[routes]]`
//! line of the route the base ends with.

use super::{check, GET, NAME, ON_T, TABLE};

/// A route `DELETE /t/{id}` deleting a row of table `t`.
const DELETE: &str = r#"
[[routes]]
method = "DELETE"
path = "/t/{id}"
op = "delete"
table = "t"
"#;

/// A route `GET /health`.
const HEALTH: &str = r#"
[[routes]]
method = "GET"
path = "/health"
op = "health"
"#;

#[test]
fn method_and_op() {
    check(
        &format!("{TABLE}{ON_T}"),
        &[
            ("method = \"get\"\npath = \"/t/{id}\"\nop = \"get\"\n", &[]),
            ("method = \"GTE\"\npath = \"/t/{id}\"\nop = \"get\"\n", &[(1, 10, "unknown method `GTE`", Some("did you mean `GET`?"))]),
            ("method = \"GET\"\npath = \"/t/{id}\"\nop = \"fetch\"\n", &[(3, 6, "unknown op `fetch`", Some("expected one of `get`, `list`, `create`, `update`, `delete`, `health`"))]),
            ("method = \"GET\"\npath = \"/t\"\nop = \"list\"\nkey_query = \"id\"\n", &[(4, 13, "`key_query` does not apply to op = \"list\"", Some("`key_query` is for op = get | update | delete"))]),
            ("method = \"POST\"\npath = \"/t\"\nop = \"create\"\nset = { count = 1 }\nincrement = {}\n", &[(0, 1, "`increment` does not apply to op = \"create\"", Some("`increment` is for op = update")), (4, 17, "`set` does not apply to op = \"create\"", Some("`set` is for op = update"))]),
        ],
    );
}

#[test]
fn status_body_and_keys_for_other_ops() {
    check(
        &format!("{TABLE}{GET}"),
        &[
            (
                "status = 302\n",
                &[(1, 10, "status must be a success code (200-299)", None)],
            ),
            (
                "status = 204\nwrap = \"item\"\n",
                &[(
                    0,
                    1,
                    "a 204 response has no body",
                    Some("remove `body`/`wrap`, or set status = 200"),
                )],
            ),
            (
                "filters = [\"count\"]\n",
                &[(
                    1,
                    11,
                    "`filters` does not apply to op = \"get\"",
                    Some("`filters` is for op = list"),
                )],
            ),
        ],
    );
    check(
        &format!("{TABLE}{DELETE}"),
        &[
            (
                "body = { deleted = true }\n",
                &[(
                    0,
                    1,
                    "a 204 response has no body",
                    Some("remove `body`/`wrap`, or set status = 200"),
                )],
            ),
            (
                "status = 200\ninput = [\"name\"]\nwrap = \"item\"\n",
                &[
                    (
                        2,
                        9,
                        "`input` does not apply to op = \"delete\"",
                        Some("`input` is for op = create | update"),
                    ),
                    (
                        3,
                        8,
                        "`wrap` does not apply to op = \"delete\"",
                        Some("`wrap` is for op = get | list | create | update"),
                    ),
                ],
            ),
        ],
    );
    check(
        &format!("{NAME}{HEALTH}"),
        &[(
            "rename = { n = \"name\" }\n",
            &[(
                1,
                16,
                "`rename` does not apply to op = \"health\"",
                Some("`rename` is for op = get | list | create | update | delete"),
            )],
        )],
    );
}

#[test]
fn health() {
    check(
        &format!("{NAME}{HEALTH}"),
        &[
            ("body = { up = true }\n", &[]),
            (
                "table = \"t\"\n",
                &[(1, 9, "op = \"health\" takes no table", None)],
            ),
            (
                "fields = [\"status\"]\n",
                &[(
                    1,
                    10,
                    "op = \"health\" returns no rows: use `body` for its answer",
                    None,
                )],
            ),
        ],
    );
    check(
        NAME,
        &[(
            "[[routes]]\nmethod = \"GET\"\npath = \"/health/{part}\"\nop = \"health\"\n",
            &[(
                3,
                17,
                "path parameter `{part}` is not used by op = \"health\"",
                None,
            )],
        )],
    );
}

#[test]
fn the_table() {
    let route = "[[routes]]\nmethod = \"GET\"\npath = \"/t/{id}\"\nop = \"get\"\n";
    check(
        &format!("{TABLE}\n{route}"),
        &[
            ("", &[(0, 1, "op = \"get\" needs `table`", None)]),
            ("table = \"tt\"\n", &[(1, 9, "unknown table `tt`", Some("did you mean `t`?"))]),
            (
                "table = \"bad\"\n\n[tables.bad]\nkey = \"id\"\ncolumns.id = { type = \"money\" }\n", &[(5, 23, "unknown column type `money`", Some("expected one of `string`, `text`, `integer`, `bigint`, `float`, `boolean`, `timestamp`, `json`, `decimal`, `date`, `uuid`"))],
            ),
        ],
    );
}

#[test]
fn api_names() {
    check(
        &format!("{TABLE}{GET}"),
        &[
            ("rename = { label = \"name\" }\nfields = [\"label\"]\n", &[]),
            (
                "rename = { label = \"nme\" }\n",
                &[(
                    1,
                    20,
                    "rename `label`: unknown column `nme` in table `t`",
                    Some("did you mean `name`?"),
                )],
            ),
            (
                "rename = { 1label = \"name\" }\n",
                &[(1, 21, "invalid API field name `1label`", None)],
            ),
            (
                "rename = { label = \"name\", title = \"name\" }\n",
                &[(1, 36, "column `name` is renamed twice", None)],
            ),
            (
                "rename = { name = \"count\" }\n",
                &[(
                    0,
                    1,
                    "two fields are named `name`",
                    Some("a rename collides with a column name"),
                )],
            ),
        ],
    );
}
