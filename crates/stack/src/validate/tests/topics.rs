//! Topics and subscriptions.

use super::{check, NAME, TABLE};

#[test]
fn topics() {
    check(
        NAME,
        &[
            ("[topics.news]\nfields.a = { type = \"integer\" }\n", &[]),
            ("[topics.News]\nfields.a = { type = \"integer\" }\n", &[(1, 1, "invalid topic name `News`", Some("use 1-40 lowercase letters, digits, dashes and underscores, starting with a letter (it names the SNS topic and the route POST /topics/NAME)"))]),
            ("[topics.m]\nfields = {}\n", &[(1, 1, "topic `m` has no fields", None)]),
            ("[topics.m]\nfields.a = { type = \"string\" }\n", &[(2, 21, "string column `a` needs max_length", Some("add max_length = N, or use type = \"text\" for unbounded text"))]),
            ("[topics.m]\nfields.1a = { type = \"integer\" }\n", &[(2, 13, "invalid column name `1a` in table `topic m`", Some("use letters, digits and underscores, starting with a letter or underscore"))]),
        ],
    );
}

/// A table `t` (see [`TABLE`]) and a topic `m` with its column `name`.
const SUBSCRIBED: &str = r#"
[topics.m]
fields.name = { type = "string", max_length = 50 }
"#;

#[test]
fn subscriptions() {
    let base = format!("{TABLE}{SUBSCRIBED}");
    check(
        &base,
        &[
            (
                "[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\nmax_attempts = 3\n",
                &[],
            ),
            ("[[subscriptions]]\ntopic = \"n\"\ntable = \"t\"\n", &[(2, 9, "unknown topic `n`", Some("did you mean `m`?"))]),
            ("[[subscriptions]]\ntopic = \"m\"\ntable = \"u\"\n", &[(3, 9, "unknown table `u`", Some("did you mean `t`?"))]),
            (
                "[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\naction = \"upsrt\"\n",
                &[(4, 10, "unknown action `upsrt`", Some("did you mean `upsert`?"))],
            ),
            (
                "[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\nmap = { nme = \"name\" }\n",
                &[(4, 15, "`nme` is not a column of table `t`", Some("did you mean `name`?"))],
            ),
            (
                "[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\nmap = { name = \"nme\" }\n",
                &[(4, 16, "`nme` is not a field of topic `m`", Some("did you mean `name`?"))],
            ),
            (
                "[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\nmax_attempts = 0\n",
                &[(4, 16, "max_attempts must be between 1 and 1000", None)],
            ),
            (
                "[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\nbackoff_seconds = 3601\n",
                &[(4, 19, "backoff_seconds must be between 0 and 3600", None)],
            ),
            (
                "[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\n[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\n",
                &[(4, 1, "topic `m` is already subscribed to table `t`", None)],
            ),
            (
                "[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\naction = \"upsert\"\n",
                &[(1, 1, "an upsert needs the key: map a field to `id`", None)],
            ),
        ],
    );
}

#[test]
fn subscription_mappings() {
    check(
        TABLE,
        &[(
            r#"
[tables.log]
key = "id"
columns.id = { type = "integer", generated = true }

[topics.m]
fields.a = { type = "integer" }

[[subscriptions]]
topic = "m"
table = "log"
"#,
            &[(
                8,
                1,
                "no field of topic `m` maps to a column of table `log`",
                Some("name fields like the columns, or add map = { column = \"field\" }"),
            )],
        )],
    );
    // Line 0: the subscription, at the end of the base.
    let base = format!("{TABLE}\n[[subscriptions]]\ntopic = \"m\"\ntable = \"t\"\n");
    check(
        &base,
        &[
            ("[topics.m]\nfields.count = { type = \"integer\" }\n", &[(0, 1, "column `name` of table `t` needs a value, but no field of topic `m` maps to it", None)]),
            ("[topics.m]\nfields.name = { type = \"string\", max_length = 60 }\n", &[(0, 1, "field `name` (string(60)) does not fit column `name` (string(50))", None)]),
            (
                "[topics.m]\nfields.name = { type = \"string\", max_length = 50, nullable = true }\n", &[(0, 1, "field `name` may be absent, but column `name` needs a value", Some("make the field required (remove nullable) or give it a default"))],
            ),
            (
                "action = \"upsert\"\n\n[topics.m]\nfields.id = { type = \"integer\", nullable = true }\nfields.name = { type = \"string\", max_length = 50 }\n", &[(0, 1, "an upsert needs the key, but field `id` may be absent", None)],
            ),
        ],
    );
}

#[test]
fn subscriptions_to_what_was_reported_where_it_is_defined() {
    check(
        TABLE,
        &[
            (
                "[topics.News]\nfields.name = { type = \"string\", max_length = 50 }\n\n[[subscriptions]]\ntopic = \"News\"\ntable = \"t\"\n", &[(1, 1, "invalid topic name `News`", Some("use 1-40 lowercase letters, digits, dashes and underscores, starting with a letter (it names the SNS topic and the route POST /topics/NAME)"))],
            ),
            (
                "[tables.bad]\nkey = \"id\"\ncolumns.id = { type = \"money\" }\n\n[topics.m]\nfields.name = { type = \"string\", max_length = 50 }\n\n[[subscriptions]]\ntopic = \"m\"\ntable = \"bad\"\n", &[(3, 23, "unknown column type `money`", Some("expected one of `string`, `text`, `integer`, `bigint`, `float`, `boolean`, `timestamp`, `json`, `decimal`, `date`, `uuid`"))],
            ),
        ],
    );
}

/// DynamoDB holds topics too (its records table is the queue): nothing to
/// refuse.
#[test]
fn topics_and_subscriptions_on_dynamodb() {
    check(
        TABLE,
        &[(
            r#"
[database]
engine = "dynamodb"

[topics.m]
fields.name = { type = "string", max_length = 50 }

[[subscriptions]]
topic = "m"
table = "t"
"#,
            &[],
        )],
    );
}
