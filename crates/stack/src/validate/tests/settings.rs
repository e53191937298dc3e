//! `[server]`, `[users]`, `auth` and `[site]`.

use super::{check, NAME};

#[test]
fn server_limits_and_hosts() {
    check(
        NAME,
        &[
            ("[server]\nmax_body_bytes = 1048576\n", &[]),
            (
                "[server]\nmax_body_bytes = 10\n",
                &[(
                    2,
                    18,
                    "max_body_bytes must be between 1024 and 1073741824",
                    None,
                )],
            ),
            (
                "[server]\ntrusted_proxy_hops = 11\n",
                &[(2, 22, "trusted_proxy_hops must be between 0 and 10", None)],
            ),
            (
                "[server]\ndrain_timeout_seconds = -1\n",
                &[(
                    2,
                    25,
                    "drain_timeout_seconds must be between 0 and 3600",
                    None,
                )],
            ),
            (
                "[server]\nallowed_hosts = [\"app.test\", \"App.test:80\"]\n",
                &[(
                    2,
                    30,
                    "`App.test:80` is not a host name",
                    Some("a lower-case DNS name without a port, e.g. \"myapp.test\""),
                )],
            ),
            (
                "[server]\nallowed_hosts = [\"\"]\n",
                &[(
                    2,
                    18,
                    "`` is not a host name",
                    Some("a lower-case DNS name without a port, e.g. \"myapp.test\""),
                )],
            ),
        ],
    );
}

#[test]
fn user_pool() {
    check(
        NAME,
        &[
            ("[users]\n", &[]),
            (
                "[users]\npassword_min_length = 5\n",
                &[(2, 23, "password_min_length must be between 6 and 128", None)],
            ),
            (
                "[users]\ntoken_minutes = 1441\n",
                &[(2, 17, "token_minutes must be between 5 and 1440", None)],
            ),
            (
                "[users]\nrefresh_days = 0\n",
                &[(2, 16, "refresh_days must be between 1 and 3650", None)],
            ),
            (
                "[users]\npassword_require = [\"lower\", \"symbl\"]\n",
                &[(
                    2,
                    30,
                    "unknown password requirement `symbl`",
                    Some("did you mean `symbol`?"),
                )],
            ),
            (
                "[users]\npassword_require = [\"emoji\"]\n",
                &[(
                    2,
                    21,
                    "unknown password requirement `emoji`",
                    Some("expected one of `lower`, `upper`, `digit`, `symbol`"),
                )],
            ),
        ],
    );
}

#[test]
fn auth() {
    check(
        NAME,
        &[
            (
                r#"
[[routes]]
method = "GET"
path = "/health"
op = "health"
auth = "admin"
"#,
                &[(
                    5,
                    8,
                    "unknown auth `admin`",
                    Some("expected `none` or `user` (a signed-in user)"),
                )],
            ),
            (
                r#"
[topics.m]
fields.a = { type = "integer" }
auth = "usr"
"#,
                &[(
                    3,
                    8,
                    "unknown auth `usr`",
                    Some("expected `none`, `user` (a signed-in user) or `internal` (no HTTP publishing)"),
                )],
            ),
            // Only a topic may refuse every HTTP caller.
            (
                "[topics.m]\nfields.a = { type = \"integer\" }\nauth = \"internal\"\n",
                &[],
            ),
            (
                r#"
[[routes]]
method = "GET"
path = "/health"
op = "health"
auth = "internal"
"#,
                &[(
                    5,
                    8,
                    "unknown auth `internal`",
                    Some("expected `none` or `user` (a signed-in user)"),
                )],
            ),
        ],
    );
}

#[test]
fn site() {
    check(
        NAME,
        &[
            (
                "[site]\ndir = \"site\"\npath = \"/app/\"\nspa = true\n",
                &[],
            ),
            (
                "[site]\ndir = \"../site\"\n",
                &[(
                    2,
                    7,
                    "the site folder must be inside the stack folder",
                    None,
                )],
            ),
            (
                "[site]\ndir = \"/srv/site\"\n",
                &[(
                    2,
                    7,
                    "the site folder must be inside the stack folder",
                    None,
                )],
            ),
            (
                "[site]\ndir = \"missing\"\n",
                &[(
                    2,
                    7,
                    "site folder `missing` not found",
                    Some("the path is relative to DIR"),
                )],
            ),
            (
                "[site]\ndir = \"bare\"\n",
                &[(2, 7, "site folder `bare` has no index.html", None)],
            ),
            (
                "[site]\ndir = \"site\"\npath = \"app\"\n",
                &[(
                    3,
                    8,
                    "invalid site path `app`",
                    Some("a URL path such as \"/\" or \"/app\": letters, digits, `-`, `_`, `.`"),
                )],
            ),
            (
                "[site]\ndir = \"site\"\npath = \"/a/../b\"\n",
                &[(
                    3,
                    8,
                    "invalid site path `/a/../b`",
                    Some("a URL path such as \"/\" or \"/app\": letters, digits, `-`, `_`, `.`"),
                )],
            ),
            (
                "[site]\ndir = \"site\"\npath = \"/auth\"\n",
                &[(3, 8, "the site path `/auth` is reserved", None)],
            ),
            (
                "[site]\ndir = \"site\"\npath = \"/topics/news\"\n",
                &[(3, 8, "the site path `/topics/news` is reserved", None)],
            ),
            (
                "[site]\ndir = \"site\"\npath = \"/docs\"\n",
                &[(3, 8, "the site path `/docs` is reserved", None)],
            ),
            (
                "[site]\ndir = \"site\"\npath = \"/openapi.json\"\n",
                &[(3, 8, "the site path `/openapi.json` is reserved", None)],
            ),
            (
                r#"
[site]
dir = "site"
path = "/api"

[[routes]]
method = "GET"
path = "/api/health"
op = "health"
"#,
                &[(
                    3,
                    8,
                    "the site path `/api` holds the route GET /api/health",
                    Some("serve the site at a path no route uses"),
                )],
            ),
        ],
    );
}
