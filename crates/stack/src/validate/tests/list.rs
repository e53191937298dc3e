//! Lists, field lists, paths and routes that collide.

use super::{check, GET, ON_T, TABLE};

/// A route `GET /t` listing table `t`.
const LIST: &str = r#"
[[routes]]
method = "GET"
path = "/t"
op = "list"
table = "t"
"#;

/// What DynamoDB can list: a Scan in its own order, or a Query on a GSI in
/// its sort key's order.
#[test]
fn list_orders_on_dynamodb() {
    let base = format!("{TABLE}\n[database]\nengine = \"dynamodb\"\n{LIST}");
    check(
        &base,
        &[
            ("filters = [\"count\"]\n", &[]),
            ("order_by = [\"count\"]\n", &[(1, 12, "DynamoDB can order by `count` only within a filter (a Query on an index): a list without one is a Scan, in the table's own order", Some("add require_filter = true, or leave out order_by"))]),
            ("filters = [\"count\"]\nrequire_filter = true\norder_by = [\"name\"]\n", &[
                (3, 12, "DynamoDB cannot list by `count` in `name` order: no index has `count` as partition key and `name` as sort key", Some("add [tables.t.indexes] count_by_name = { columns = [\"count\", \"name\"] }")),
            ]),
            ("order_by = [\"-id\"]\n", &[(1, 12, "DynamoDB lists a table only in its own order (a Scan); it cannot list it by descending key", Some("leave out the key in order_by"))]),
            ("order_by = [\"count\", \"name\"]\n", &[(1, 12, "DynamoDB orders a Query by one index sort key; this order needs 2 columns", Some("order by one column (the key breaks ties)"))]),
        ],
    );
}

#[test]
fn list() {
    let base = format!("{TABLE}{LIST}");
    check(
        &base,
        &[
            (
                "filters = [\"count\"]\norder_by = [\"-count\"]\npage_size = 10\nmax_page_size = 50\n",
                &[],
            ),
            ("order_by = [\"-name\", \"-id\"]\n", &[(1, 12, "no index of table `t` begins with (`name`): each page would sort the rows", Some("add [tables.t.indexes] by_name = { columns = [\"name\"] }"))]),
            ("order_by = [\"count\", \"name\"]\n", &[(1, 12, "no index of table `t` begins with (`count`, `name`): each page would sort the rows", Some("add [tables.t.indexes] by_count_name = { columns = [\"count\", \"name\"] }"))]),
            ("require_filter = true\n", &[(1, 18, "require_filter needs `filters` or a `named_filter`", None)]),
            ("filters = [\"name\"]\n", &[(1, 12, "filter `name` is on column `name`, which has no index", Some("add [tables.t.indexes] name = { columns = [\"name\"] }"))]),
            ("filters = [\"nme\"]\n", &[(1, 12, "unknown field `nme` of table `t`", Some("did you mean `name`?"))]),
            ("filters = [\"count\", \"count\"]\n", &[(1, 21, "query parameter `count` is used twice", None)]),
            (
                "named_filter = { param = \"by\", value_param = \"v\", choices = { count = \"count\" } }\n",
                &[],
            ),
            (
                "named_filter = { param = \"limit\", value_param = \"cursor\", choices = { c = \"count\" } }\n",
                &[(1, 26, "query parameter `limit` is reserved for lists (limit, cursor, fields)", None), (1, 49, "query parameter `cursor` is reserved for lists (limit, cursor, fields)", None)],
            ),
            (
                "filters = [\"count\"]\nnamed_filter = { param = \"by\", value_param = \"count\", choices = { c = \"count\" } }\n",
                &[(2, 46, "query parameter `count` is used twice", None)],
            ),
            (
                "named_filter = { param = \"by\", value_param = \"v\", choices = {} }\n",
                &[(1, 16, "named_filter needs at least one choice", None)],
            ),
            (
                "named_filter = { param = \"by\", value_param = \"v\", choices = { n = \"name\" } }\n",
                &[(1, 67, "choice `n` filters on column `name`, which has no index", Some("add [tables.t.indexes] name = { columns = [\"name\"] }"))],
            ),
            (
                "named_filter = { param = \"by\", value_param = \"v\", choices = { n = \"nme\" } }\n",
                &[(1, 67, "unknown field `nme` of table `t`", Some("did you mean `name`?"))],
            ),
            ("order_by = [\"-nme\"]\n", &[(1, 13, "unknown field `nme` of table `t`", Some("did you mean `name`?"))]),
            ("page_size = 0\n", &[(1, 13, "page sizes must be between 1 and 10000", None)]),
            ("max_page_size = 10001\n", &[(1, 17, "page sizes must be between 1 and 10000", None)]),
            ("page_size = 50\nmax_page_size = 20\n", &[(1, 13, "page_size is larger than max_page_size", None)]),
        ],
    );
}

#[test]
fn list_path() {
    check(
        TABLE,
        &[(
            r#"
[[routes]]
method = "GET"
path = "/t/{id}"
op = "list"
table = "t"
"#,
            &[(
                3,
                12,
                "path parameter `{id}` is not used by op = \"list\"",
                Some("use `filters` for query parameters"),
            )],
        )],
    );
}

#[test]
fn field_lists() {
    let base = format!("{TABLE}{LIST}");
    check(
        &base,
        &[
            ("fields = [\"name\", \"count\"]\n", &[]),
            (
                "fields = [\"name\", \"name\"]\n",
                &[(1, 19, "field `name` appears twice", None)],
            ),
            (
                "fields = [\"nme\"]\n",
                &[(
                    1,
                    11,
                    "unknown field `nme` of table `t`",
                    Some("did you mean `name`?"),
                )],
            ),
            (
                "fields = [\"nme\", \"count\"]\n",
                &[(
                    1,
                    11,
                    "unknown field `nme` of table `t`",
                    Some("did you mean `name`?"),
                )],
            ),
            (
                "fields = [\"zzzzzz\"]\n",
                &[(
                    1,
                    11,
                    "unknown field `zzzzzz` of table `t`",
                    Some("expected one of `id`, `name`, `count`"),
                )],
            ),
            (
                "rename = { title = \"name\" }\nfields = [\"name\"]\n",
                &[(
                    2,
                    11,
                    "unknown field `name` of table `t`",
                    Some("column `name` is renamed to `title` on this route"),
                )],
            ),
            ("fields = []\n", &[]),
        ],
    );
}

/// A route getting a row of table `t`, its path left to the case.
const GET_AT: &str = "\n[[routes]]\nmethod = \"GET\"\nop = \"get\"\ntable = \"t\"\n";

#[test]
fn paths() {
    check(
        &format!("{TABLE}{GET_AT}"),
        &[
            (
                "path = \"t/{id}\"\n",
                &[
                    (1, 8, "a route path must start with `/`", None),
                    (
                        1,
                        8,
                        "op = \"get\" needs the key: add `{id}` to the path, or set key_query",
                        None,
                    ),
                ],
            ),
            (
                "path = \"/t/{id}/{id}\"\n",
                &[(1, 17, "path parameter `{id}` appears twice", None)],
            ),
            (
                "path = \"/t/x{id}\"\n",
                &[
                    (
                        1,
                        8,
                        "op = \"get\" needs the key: add `{id}` to the path, or set key_query",
                        None,
                    ),
                    (
                        1,
                        12,
                        "invalid path segment `x{id}`",
                        Some("a parameter is a whole segment: `/items/{id}`"),
                    ),
                ],
            ),
            (
                "path = \"/t/{1d}\"\n",
                &[
                    (
                        1,
                        8,
                        "op = \"get\" needs the key: add `{id}` to the path, or set key_query",
                        None,
                    ),
                    (
                        1,
                        12,
                        "invalid path segment `{1d}`",
                        Some("a parameter is a whole segment: `/items/{id}`"),
                    ),
                ],
            ),
            (
                "path = \"/t/a:b/{id}\"\n",
                &[(1, 12, "invalid path segment `a:b`", None)],
            ),
        ],
    );
}

#[test]
fn routes_that_collide() {
    check(
        &format!("{TABLE}{GET}{ON_T}"),
        &[
            ("method = \"get\"\npath = \"/t/{id}\"\nop = \"get\"\n", &[(0, 1, "route GET /t/{id} is defined twice", None)]),
            (
                "method = \"DELETE\"\npath = \"/t/{key}\"\nop = \"delete\"\nrename = { key = \"id\" }\n", &[(2, 8, "path `/t/{key}` conflicts with `/t/{id}`", Some("use the same parameter names in both paths"))],
            ),
        ],
    );
}

/// A table with an ordered column in a two-column index, and columns of
/// types without an order.
const EVENTS: &str = r#"name = "s"

[tables.t]
key = "id"
columns.id = { type = "integer", generated = true }
columns.grp = { type = "string", max_length = 10 }
columns.due = { type = "timestamp" }
columns.name = { type = "string", max_length = 50 }
columns.flag = { type = "boolean", default = false }
indexes.grp_by_due = { columns = ["grp", "due"] }
indexes.by_due = { columns = ["due"] }
"#;

/// `ranges`, `sort` and `count`: each on what an index serves.
#[test]
fn list_bounds_sorts_and_counts() {
    let base = format!("{EVENTS}\n[tables.t.indexes.by_flag]\ncolumns = [\"flag\"]\n{LIST}");
    check(
        &base,
        &[
            ("ranges = [\"due\", \"id\", \"grp\"]\nsort = [\"-due\", \"due\", \"id\"]\ncount = true\n", &[]),
            ("ranges = [\"name\"]\n", &[(1, 11, "range `name` is on column `name`, which has no index", Some("add [tables.t.indexes] name = { columns = [\"name\"] }"))]),
            ("ranges = [\"flag\"]\n", &[(1, 11, "range `flag`: a boolean column has no order to bound", None)]),
            ("ranges = [\"due\", \"due\"]\n", &[(1, 18, "range `due` is declared twice", None)]),
            ("ranges = [\"dew\"]\n", &[(1, 11, "unknown field `dew` of table `t`", Some("expected one of `id`, `grp`, `due`, `name`, `flag`"))]),
            ("sort = [\"name\"]\n", &[(1, 9, "no index of table `t` begins with (`name`): each page would sort the rows", Some("add [tables.t.indexes] by_name = { columns = [\"name\"] }"))]),
            ("sort = [\"grp,due\"]\n", &[]),
            ("sort = [\"due\", \"due\"]\n", &[(1, 16, "sort `due` is declared twice", None)]),
            ("sort = [\"due,\"]\n", &[(1, 9, "sort `due,` needs fields separated by commas, as in \"-due,title\"", None)]),
            ("sort = []\n", &[(1, 8, "sort needs at least one choice", None)]),
            ("sort = [\"due,nme\"]\n", &[(1, 14, "unknown field `nme` of table `t`", Some("did you mean `name`?"))]),
            ("order_by = [\"due\", \"-due\"]\n", &[(1, 20, "field `due` is in this order twice", None)]),
            ("filters = [\"grp\"]\ncount = true\nranges = [\"grp\"]\n", &[]),
            ("filters = [\"grp\"]\nsort = [\"due\"]\nnamed_filter = { param = \"sort\", value_param = \"v\", choices = { g = \"grp\" } }\n", &[(3, 26, "query parameter `sort` is reserved for lists (limit, cursor, fields, sort)", None)]),
            ("ranges = [\"due\"]\nnamed_filter = { param = \"by\", value_param = \"due.gt\", choices = { g = \"grp\" } }\n", &[(1, 11, "query parameter `due.gt` is used twice", None)]),
        ],
    );
}

/// DynamoDB bounds only an index's sort key, in a Query, and counts nothing.
#[test]
fn list_bounds_and_counts_on_dynamodb() {
    let base = format!("{EVENTS}\n[database]\nengine = \"dynamodb\"\n{LIST}");
    check(
        &base,
        &[
            ("filters = [\"grp\"]\nrequire_filter = true\norder_by = [\"due\"]\nranges = [\"due\"]\nsort = [\"-due\"]\n", &[]),
            ("count = true\n", &[(1, 9, "DynamoDB cannot count a list's rows without reading every item it holds", Some("leave out count"))]),
            ("ranges = [\"due\"]\n", &[(1, 11, "DynamoDB bounds `due` only in a Query on an index sorted by it: a list without a filter is a Scan", Some("add require_filter = true"))]),
            ("filters = [\"grp\"]\nrequire_filter = true\nranges = [\"due\"]\n", &[(3, 11, "DynamoDB bounds `due` only in a Query on an index sorted by it: every order of this list must be by `due`", Some("order_by = [\"due\"] (or \"-due\"), and the same in sort"))]),
            ("filters = [\"grp\"]\nrequire_filter = true\norder_by = [\"due\"]\nranges = [\"due\"]\nsort = [\"id\"]\n", &[(4, 11, "DynamoDB bounds `due` only in a Query on an index sorted by it: every order of this list must be by `due`", Some("order_by = [\"due\"] (or \"-due\"), and the same in sort"))]),
            ("filters = [\"grp\"]\nrequire_filter = true\nsort = [\"name\"]\n", &[(3, 9, "DynamoDB cannot list by `grp` in `name` order: no index has `grp` as partition key and `name` as sort key", Some("add [tables.t.indexes] grp_by_name = { columns = [\"grp\", \"name\"] }"))]),
        ],
    );
}
