//! `[services.NAME]`.

use super::{check, GET, NAME, TABLE};

/// A valid service after which each case adds one key.
const SVC: &str = "[services.api]\ndir = \"bare\"\ncommand = [\"python3\", \"app.py\"]\n";

#[test]
fn services() {
    check(
        NAME,
        &[
            (
                "[services.api]\ndir = \"bare\"\ncommand = [\"python3\", \"app.py\"]\npaths = [\"/orders\", \"/api/v2/\"]\nenv = { MODE = \"x\" }\nsecrets = [\"API_KEY\"]\ncpu = 512\nmemory = 1024\nmin = 2\nmax = 3\n",
                &[],
            ),
            (
                "[services.Api]\ndir = \"bare\"\ncommand = [\"x\"]\npaths = [\"/o\"]\n",
                &[(1, 1, "invalid service name `Api`", Some("use 1-24 lowercase letters, digits and dashes, starting with a letter (it names cloud resources)"))],
            ),
            (
                "[services.api]\ndir = \"../up\"\ncommand = [\"x\"]\npaths = [\"/o\"]\n",
                &[(2, 7, "the service folder must be inside the stack folder", None)],
            ),
            (
                "[services.api]\ndir = \"nowhere\"\ncommand = [\"x\"]\npaths = [\"/o\"]\n",
                &[(2, 7, "service folder `nowhere` not found", Some("the path is relative to DIR"))],
            ),
            (
                "[services.api]\ndir = \"bare\"\ncommand = []\npaths = [\"/o\"]\n",
                &[(3, 11, "`command` names no program", Some("the program and its arguments, e.g. command = [\"python3\", \"app.py\"]"))],
            ),
            (
                "[services.api]\ndir = \"bare\"\ncommand = \"python3 app.py\"\npaths = [\"/o\"]\n",
                &[(3, 11, "expected an array, found the string \"python3 app.py\"", None)],
            ),
            (
                "[services.api]\ndir = \"bare\"\ncommand = [\"x\"]\n",
                &[(1, 1, "missing key `paths`", None)],
            ),
        ],
    );
}

#[test]
fn service_paths() {
    check(
        &format!("{NAME}{SVC}"),
        &[
            ("paths = []\n", &[(1, 9, "a service serves at least one path", Some("e.g. paths = [\"/orders\"]"))]),
            ("paths = [\"/\"]\n", &[(1, 10, "invalid service path `/`", Some("a prefix of whole segments such as \"/orders\" or \"/api/v2\" (letters, digits, `-`, `_`, `.`; not \"/\")"))]),
            ("paths = [\"orders\"]\n", &[(1, 10, "invalid service path `orders`", Some("a prefix of whole segments such as \"/orders\" or \"/api/v2\" (letters, digits, `-`, `_`, `.`; not \"/\")"))]),
            ("paths = [\"/o/{id}\"]\n", &[(1, 10, "invalid service path `/o/{id}`", Some("a prefix of whole segments such as \"/orders\" or \"/api/v2\" (letters, digits, `-`, `_`, `.`; not \"/\")"))]),
            ("paths = [\"/auth/x\"]\n", &[(1, 10, "the path `/auth/x` overlaps `/auth`, which the runtime serves", None)]),
            ("paths = [\"/docs\"]\n", &[(1, 10, "the path `/docs` overlaps `/docs`, which the runtime serves", None)]),
            ("paths = [\"/o\", \"/o/p\"]\n", &[(1, 16, "the path `/o/p` overlaps `/o` of another path of this service", None)]),
            (
                "paths = [\"/o\"]\n[services.two]\ndir = \"bare\"\ncommand = [\"x\"]\npaths = [\"/o/\"]\n",
                &[(5, 10, "the path `/o` overlaps `/o` of service `api`", None)],
            ),
            ("paths = [\"/o\"]\n[site]\ndir = \"site\"\npath = \"/o/app\"\n", &[(1, 10, "the path `/o` overlaps the site at `/o/app`", None)]),
            ("paths = [\"/o\"]\n[site]\ndir = \"site\"\n", &[]),
            ("paths = [\"/o\"]\nhealth = \"up\"\n", &[(2, 10, "invalid health path `up`", Some("a path on the service, such as \"/health\""))]),
        ],
    );
    check(
        &format!("{TABLE}{GET}{SVC}"),
        &[
            (
                "paths = [\"/t\"]\n",
                &[(
                    1,
                    10,
                    "the path `/t` holds the route GET /t/{id}",
                    Some("a path belongs to the routes or to one service"),
                )],
            ),
            (
                "paths = [\"/t/x\"]\n",
                &[(
                    1,
                    10,
                    "the path `/t/x` holds the route GET /t/{id}",
                    Some("a path belongs to the routes or to one service"),
                )],
            ),
            ("paths = [\"/t/x/y\"]\n", &[]),
        ],
    );
}

#[test]
fn service_settings_and_sizing() {
    check(
        &format!("{NAME}{SVC}paths = [\"/o\"]\n"),
        &[
            ("env = { mode = \"x\" }\n", &[(1, 16, "invalid variable name `mode` in `env`", Some("upper-case letters, digits and `_`, such as API_KEY"))]),
            ("env = { PORT = \"1\" }\n", &[(1, 16, "`PORT` is set by the runtime for every service", Some("choose another name: PORT, DATABASE_URL, STACKWRIGHT_* and AWS_* are the runtime's"))]),
            ("env = { MODE = 1 }\n", &[(1, 16, "expected a string, found the integer 1", None)]),
            ("secrets = [\"K\", \"K\"]\n", &[(1, 17, "secret `K` is named twice", None)]),
            ("secrets = [\"STACKWRIGHT_X\"]\n", &[(1, 12, "`STACKWRIGHT_X` is set by the runtime for every service", Some("choose another name: PORT, DATABASE_URL, STACKWRIGHT_* and AWS_* are the runtime's"))]),
            ("env = { K = \"v\" }\nsecrets = [\"K\"]\n", &[(2, 12, "`K` is both a setting in `env` and a secret", Some("keep it in one place: a secret if it must stay secret"))]),
            ("auth = \"user\"\n", &[(1, 8, "`auth = \"user\"` needs a user pool: add a [users] section", Some("[users] alone is enough: password_min_length = 8 and the rest have defaults"))]),
            ("auth = \"user\"\n[users]\n", &[]),
            ("auth = \"admin\"\n", &[(1, 8, "unknown auth `admin`", Some("expected `none` or `user` (a signed-in user)"))]),
            ("cpu = 300\n", &[(1, 7, "Fargate cpu is one of 256, 512, 1024, 2048, 4096, 8192, 16384", None)]),
            ("memory = 64\n", &[(1, 10, "memory (MiB) must be between 512 and 122880", None)]),
            ("min = 3\nmax = 2\n", &[(2, 7, "max (2) is smaller than min (3)", None)]),
            ("min = 5\n", &[(1, 7, "max (4) is smaller than min (5)", None)]),
            ("lambda_runtime = \"python3.12\"\n", &[]),
            ("lambda_runtime = \"cobol\"\n", &[(1, 18, "unknown Lambda runtime `cobol`", Some("a Lambda runtime identifier such as \"python3.12\", \"nodejs22.x\" or \"provided.al2023\""))]),
            ("port = 8080\n", &[(1, 1, "unknown key `port`", Some("expected one of `dir`, `build`, `command`, `paths`, `health`, `env`, `secrets`, `auth`, `cpu`, `memory`, `min`, `max`, `base`, `lambda_runtime`"))]),
        ],
    );
}
