//! The key of get, delete and update; create and update.

use super::{check, ON_T, TABLE};

#[test]
fn keys_of_get_delete_and_update() {
    check(
        &format!("{TABLE}{ON_T}"),
        &[
            (
                "method = \"GET\"\npath = \"/t\"\nop = \"get\"\nkey_query = \"id\"\n",
                &[],
            ),
            (
                "method = \"GET\"\npath = \"/t/{id}\"\nop = \"get\"\nkey_query = \"id\"\n",
                &[(
                    2,
                    12,
                    "path parameter `{id}` is not used (the key comes from `key_query`)",
                    None,
                )],
            ),
            (
                "method = \"DELETE\"\npath = \"/t/{name}\"\nop = \"delete\"\n",
                &[(
                    2,
                    12,
                    "path parameter `{name}` is not the table's key",
                    Some("the key of table `t` is `id`"),
                )],
            ),
            (
                "method = \"PATCH\"\npath = \"/t\"\nop = \"update\"\nincrement = { count = 1 }\n",
                &[(
                    2,
                    8,
                    "op = \"update\" needs the key: add `{id}` to the path, or set key_query",
                    None,
                )],
            ),
            (
                "method = \"GET\"\npath = \"/t/{key}\"\nop = \"get\"\nrename = { key = \"id\" }\n",
                &[],
            ),
        ],
    );
}

/// A route `POST /t` creating rows of table `t`.
const CREATE: &str =
    "\n[[routes]]\nmethod = \"POST\"\npath = \"/t\"\nop = \"create\"\ntable = \"t\"\n";

#[test]
fn create() {
    check(
        &format!("{TABLE}{CREATE}"),
        &[
            ("input = [\"name\"]\n", &[]),
            (
                "input = [\"count\"]\n",
                &[(
                    1,
                    9,
                    "`input` leaves out `name`, which is required (not nullable, no default)",
                    Some("add `name` to input, or give the column a default"),
                )],
            ),
            (
                "rename = { title = \"name\" }\ninput = [\"count\"]\n",
                &[(
                    2,
                    9,
                    "`input` leaves out `title`, which is required (not nullable, no default)",
                    Some("add `title` to input, or give the column a default"),
                )],
            ),
            (
                "input = [\"id\", \"name\"]\n",
                &[(1, 10, "input `id`: the key is generated", None)],
            ),
        ],
    );
    check(
        &format!("{TABLE}{ON_T}"),
        &[(
            "method = \"POST\"\npath = \"/t/{id}\"\nop = \"create\"\n",
            &[(
                2,
                12,
                "path parameter `{id}` is not used by op = \"create\"",
                None,
            )],
        )],
    );
}

/// A route `PATCH /t/{id}` updating table `t`, and a user pool.
const UPDATE: &str = r#"
[users]

[[routes]]
method = "PATCH"
path = "/t/{id}"
op = "update"
table = "t"
"#;

#[test]
fn update() {
    let base = format!("{TABLE}{UPDATE}");
    check(
        &base,
        &[
            ("auth = \"user\"\nset = { name = \"$user.email\" }\n", &[]),
            ("set = { count = 2 }\nincrement = { count = 1 }\n", &[]),
            ("input = [\"name\"]\n", &[]),
            ("", &[(0, 1, "op = \"update\" changes nothing", Some("add `set = { field = value }`, `increment = { field = 1 }` or `input = [fields from the body]`"))]),
            ("wrap = \"\"\nset = { count = 2 }\n", &[(1, 8, "wrap needs a key name", None)]),
            ("set = { nme = \"x\" }\n", &[(1, 15, "unknown field `nme` of table `t`", Some("did you mean `name`?"))]),
            ("set = { id = 5 }\n", &[(1, 14, "an update cannot change the key", None)]),
            ("set = { name = 5 }\n", &[(1, 16, "set `name`: expected a string, got an integer", None)]),
            ("set = { count = \"many\" }\n", &[(1, 17, "set `count`: expected an integer, got a string", None)]),
            ("auth = \"user\"\nset = { name = \"$user.phone\" }\n", &[(2, 16, "a user claim is `$user.sub` or `$user.email`", None)]),
            ("set = { name = \"$user.sub\" }\n", &[(1, 16, "`$user.*` needs a signed-in user: add auth = \"user\" to the route", None)]),
            ("auth = \"user\"\nset = { count = \"$user.sub\" }\n", &[(2, 17, "`count` cannot hold a user claim: use a string column (max_length >= 36) or text", None)]),
            ("auth = \"user\"\nset = { id = \"$user.sub\" }\n", &[(2, 14, "`id` cannot hold a user claim: use a string column (max_length >= 36) or text", None)]),
            ("increment = { name = 1 }\n", &[(1, 22, "increment needs an integer column; `name` is string(50)", None)]),
            ("increment = { id = 1 }\n", &[(1, 20, "increment needs an integer column; `id` is integer", None)]),
            ("increment = { cnt = 1 }\n", &[(1, 21, "unknown field `cnt` of table `t`", Some("expected one of `id`, `name`, `count`"))]),
            ("input = [\"id\"]\n", &[(1, 10, "input `id`: the key cannot change on update", None)]),
            ("increment = { count = 1 }\nwhere = \"count < 3\"\n", &[]),
            ("auth = \"user\"\nincrement = { count = 1 }\nwhere = \"name = $user.sub and count >= 0 and name != 'it''s'\"\n", &[]),
            ("increment = { count = 1 }\nwhere = \"count < name\"\n", &[(2, 10, "cannot compare `count` (integer) with `name` (string(50))", None)]),
            ("increment = { count = 1 }\nwhere = \"count = 'x'\"\n", &[(2, 10, "`'x'` does not fit `count` (integer): expected an integer, got a string", None)]),
            ("increment = { count = 1 }\nwhere = \"count < 3 and nme = 1\"\n", &[(2, 24, "unknown field `nme` of table `t`", Some("did you mean `name`?"))]),
            ("increment = { count = 1 }\nwhere = \"count ~ 1\"\n", &[(2, 10, "`count ~ 1` is not a comparison: write FIELD OP VALUE, OP one of = != < <= > >=", None)]),
            ("increment = { count = 1 }\nwhere = \"count = bogus\"\n", &[(2, 18, "`bogus` is neither a field of table `t`, a constant ('text', a number, true, false) nor $user.sub / $user.email", Some("expected one of `id`, `name`, `count`"))]),
            ("increment = { count = 1 }\nwhere = \"name = $user.sub\"\n", &[(2, 10, "`$user.*` needs a signed-in user: add auth = \"user\" to the route", None)]),
            ("increment = { count = 1 }\nwhere = \"count = null\"\n", &[(2, 10, "a comparison with null is never true; `count` cannot be compared with it", None)]),
            ("increment = { count = \"-$input.qty\" }\nwhere = \"count >= $input.qty\"\n", &[]),
            ("increment = { count = \"$input.qty\" }\ninput = [\"name\"]\n", &[]),
            ("increment = { count = \"$input.\" }\n", &[(1, 23, "an increment is an integer, \"$input.FIELD\" or \"-$input.FIELD\"", None)]),
            ("increment = { count = 1.5 }\n", &[(1, 23, "an increment is an integer, \"$input.FIELD\" or \"-$input.FIELD\"", None)]),
            ("increment = { count = \"$input.name\" }\ninput = [\"name\"]\n", &[(1, 23, "`$input.name` is also an input field: name the amount apart", None)]),
            ("increment = { count = 1 }\nwhere = \"count < $input.qty\"\n", &[(2, 10, "`$input.qty` names no amount of this route's increments (`increment = { column = \"$input.qty\" }`)", None)]),
            ("increment = { count = \"$input.qty\" }\nwhere = \"name = $input.qty\"\n", &[(2, 10, "`$input.qty` is an integer; `name` is string(50)", None)]),
            ("increment = { count = 1 }\nwhere = \"\"\n", &[(2, 9, "where needs a comparison, e.g. \"borrowed < copies\"", None)]),
            // The key's error stands at the key, after a name left out of the list.
            ("input = [\"nme\", \"id\"]\n", &[(1, 10, "unknown field `nme` of table `t`", Some("did you mean `name`?")), (1, 17, "input `id`: the key cannot change on update", None)]),
            ("input = [\"name\", \"name\", \"id\"]\n", &[(1, 18, "field `name` appears twice", None), (1, 26, "input `id`: the key cannot change on update", None)]),
        ],
    );
}
