//! `stackwright ci github`: golden workflows for every example, the
//! workflow's structure as GitHub reads it (parsed as YAML), the smoke-test
//! script run for real against the binary, and the command's errors.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value as Json;

use crate::harness::{example, stackwright, stackwright_env, text, TempStack};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Golden workflows live beside, not inside, `tests/golden`: the synth test
/// requires every file under that folder to be a template it synthesizes.
fn golden_dir() -> PathBuf {
    root().join("crates/cli/tests/golden-ci")
}

/// (golden file, example, extra arguments).
const CASES: [(&str, &str, &[&str]); 5] = [
    ("todo-dev.yml", "todo", &[]),
    ("pets-dev.yml", "pets", &[]),
    ("mysfits-dev.yml", "mysfits", &[]),
    ("clients-dev.yml", "clients", &[]),
    (
        "todo-prod-release.yml",
        "todo",
        &[
            "--env",
            "prod",
            "--branch",
            "release",
            "--role-arn",
            "arn:aws:iam::123456789012:role/deploy",
        ],
    ),
];

/// A stackwright repository at one commit, for the workflow to install from.
const SOURCE: &str =
    "git+https://github.com/example-org/stackwright@0123456789abcdef0123456789abcdef01234567";

/// `stackwright ci github ...`, told where to install stackwright from.
fn ci_github(args: &[&str]) -> std::process::Output {
    stackwright_env(args, &[("STACKWRIGHT_INSTALL_FROM", SOURCE)])
}

/// The workflow for `dir` printed on stdout.
fn generate(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["ci", "github", dir.to_str().unwrap(), "--out", "-"];
    args.extend_from_slice(extra);
    let out = ci_github(&args);
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn ci_github_workflows_match_golden_files_and_are_deterministic() {
    let golden = golden_dir();
    let mut expected = BTreeSet::new();
    for (file, name, extra) in CASES {
        let first = generate(&example(name), extra);
        assert_eq!(
            first,
            generate(&example(name), extra),
            "{file}: two runs differ"
        );
        let path = golden.join(file);
        expected.insert(path.clone());
        crate::harness::check_golden(&path, &first, "`ci github`");
    }
    let found: BTreeSet<PathBuf> = std::fs::read_dir(&golden)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(found, expected, "a golden workflow is left over or missing");
}

/// Parse YAML the way GitHub does (YAML 1.2: `on` is a key, not `true`) with
/// the PyYAML of the cfn-lint venv, and hand it back as JSON.
fn parse_yaml(yaml: &str) -> Json {
    let python = root().join(".tools/cfn-lint/bin/python");
    assert!(
        python.exists(),
        "PyYAML is needed to parse workflows, from the cfn-lint venv at {}: run `bash .ci/run`, or `python3 -m venv .tools/cfn-lint && .tools/cfn-lint/bin/pip install cfn-lint`",
        python.display()
    );
    const SCRIPT: &str = r#"
import json, re, sys, yaml
class Loader(yaml.SafeLoader):
    pass
# YAML 1.2 booleans only (true/false): under 1.1 rules `on:` would read as True.
Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))
json.dump(yaml.load(sys.stdin.read(), Loader=Loader), sys.stdout)
"#;
    let mut child = Command::new(&python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(yaml.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the workflow is not valid YAML: {}\n{yaml}",
        text(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from python")
}

fn steps(job: &Json) -> &Vec<Json> {
    job["steps"].as_array().expect("steps")
}

fn runs(job: &Json) -> Vec<String> {
    steps(job)
        .iter()
        .filter_map(|s| s["run"].as_str().map(str::to_string))
        .collect()
}

/// The structure GitHub acts on, for every golden case.
#[test]
fn ci_github_workflow_structure() {
    for (file, name, extra) in CASES {
        let yaml = generate(&example(name), extra);
        let w = parse_yaml(&yaml);
        let (env, branch) = if extra.is_empty() {
            ("dev", "main")
        } else {
            ("prod", "release")
        };
        let dir = format!("examples/{name}");

        // Triggers: push and pull requests to the branch, and by hand.
        assert_eq!(
            w["on"]["push"]["branches"],
            serde_json::json!([branch]),
            "{file}"
        );
        assert_eq!(
            w["on"]["pull_request"]["branches"],
            serde_json::json!([branch]),
            "{file}"
        );
        assert!(
            w["on"]
                .as_object()
                .unwrap()
                .contains_key("workflow_dispatch"),
            "{file}"
        );
        assert_eq!(
            w["permissions"],
            serde_json::json!({"contents": "read"}),
            "{file}"
        );

        let jobs = w["jobs"].as_object().unwrap();
        assert_eq!(
            jobs.keys().map(String::as_str).collect::<BTreeSet<_>>(),
            BTreeSet::from(["deploy", "test"]),
            "{file}"
        );
        let (test, deploy) = (&jobs["test"], &jobs["deploy"]);

        // The test job: check, synth every environment, the smoke run.
        assert!(
            test.get("permissions").is_none(),
            "{file}: test keeps the defaults"
        );
        let test_runs = runs(test).join("\n");
        for want in [
            // From stackwright's repository at one commit, never a bare crate name.
            "cargo install --locked --git https://github.com/example-org/stackwright --rev 0123456789abcdef0123456789abcdef01234567 stackwright".to_string(),
            format!("stackwright check {dir}"),
            format!("stackwright synth {dir} --all-envs"),
            format!("stackwright up {dir} --port 0 --json"),
        ] {
            assert!(test_runs.contains(&want), "{file}: no `{want}`");
        }
        let health = match name {
            "todo" => "/healthcheck/",
            "mysfits" => "/",
            _ => "/health",
        };
        assert!(
            test_runs.contains(&format!("\"$url\"{health})")),
            "{file}: health route"
        );
        assert!(steps(test).iter().any(|s| s["uses"]
            .as_str()
            .is_some_and(|u| u.starts_with("dtolnay/rust-toolchain@"))
            && s["with"]["toolchain"] == "stable"));
        // Every action is pinned to a commit, never a tag or branch that can move.
        for job in [test, deploy] {
            for step in steps(job) {
                if let Some(uses) = step["uses"].as_str() {
                    let (_, commit) = uses.split_once('@').unwrap();
                    assert!(
                        commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
                        "{file}: {uses} is not pinned to a commit"
                    );
                }
            }
        }

        // One runner for both (they share the install cache), not ubuntu-latest
        // (its glibc builds a runtime Amazon Linux 2023 cannot load).
        assert_eq!(test["runs-on"], deploy["runs-on"], "{file}");
        assert_ne!(deploy["runs-on"], "ubuntu-latest", "{file}");

        // The deploy job: after the tests, on pushes to the branch only.
        assert_eq!(deploy["needs"], "test", "{file}");
        assert_eq!(
            deploy["if"],
            format!("github.event_name == 'push' && github.ref == 'refs/heads/{branch}'"),
            "{file}"
        );
        assert_eq!(deploy["environment"], env, "{file}");
        assert_eq!(
            deploy["permissions"],
            serde_json::json!({"id-token": "write", "contents": "read"}),
            "{file}"
        );
        assert_eq!(
            deploy["concurrency"],
            serde_json::json!({"group": format!("stackwright-deploy-{name}-{env}"), "cancel-in-progress": false}),
            "{file}"
        );
        let creds = steps(deploy)
            .iter()
            .find(|s| {
                s["uses"]
                    .as_str()
                    .is_some_and(|u| u.starts_with("aws-actions/configure-aws-credentials@"))
            })
            .unwrap_or_else(|| panic!("{file}: no configure-aws-credentials step"));
        let role = if extra.is_empty() {
            "${{ vars.STACKWRIGHT_DEPLOY_ROLE_ARN }}"
        } else {
            "arn:aws:iam::123456789012:role/deploy"
        };
        assert_eq!(creds["with"]["role-to-assume"], role, "{file}");
        assert_eq!(creds["with"]["aws-region"], "us-east-1", "{file}");
        assert_eq!(
            creds["with"].as_object().unwrap().len(),
            3,
            "{file}: role, session name and region, nothing else"
        );
        let last = steps(deploy).last().unwrap();
        assert_eq!(
            last["run"],
            format!("stackwright deploy {dir} --env {env} --yes"),
            "{file}"
        );
        // Credentials come after the checkout and install, right before the deploy.
        let creds_at = steps(deploy).iter().position(|s| s == creds).unwrap();
        assert_eq!(creds_at, steps(deploy).len() - 2, "{file}");

        // id-token: write is asked for by the deploy job only.
        assert_eq!(yaml.matches("id-token").count(), 1, "{file}");
        // No long-lived AWS keys, and no secrets at all.
        for never in [
            "aws-access-key-id",
            "aws-secret-access-key",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "AKIA",
            "secrets.",
        ] {
            assert!(!yaml.contains(never), "{file} contains {never}");
        }
        // Generated-by header with the command that regenerates it.
        assert!(
            yaml.starts_with("# Generated by `stackwright ci github`"),
            "{file}"
        );
        assert!(
            yaml.contains(&format!(
                "#   stackwright ci github {dir} --env {env} --branch {branch}"
            )),
            "{file}"
        );
        assert!(yaml.contains("docs/ci.md"), "{file}");
    }
}

/// Run one `run:` script of the workflow as GitHub's bash would, from `cwd`
/// (the repository root), with the binary under test first on PATH.
fn run_script(script: &str, cwd: &Path, env: &[(&str, String)]) -> std::process::Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_stackwright"))
        .parent()
        .unwrap();
    let runner_temp = tempfile::TempDir::new().unwrap();
    Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail", "-c", script])
        .current_dir(cwd)
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("RUNNER_TEMP", runner_temp.path())
        .env("NO_COLOR", "1")
        .env_remove("STACKWRIGHT_DATABASE_URL")
        .env_remove("STACKWRIGHT_STACK")
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .expect("bash")
}

/// A copy of an example that is its own repository, and its test job's scripts.
fn repo_copy(name: &str) -> (TempStack, Vec<String>) {
    let stack = TempStack::copy_of(name, |t| t);
    std::fs::create_dir(stack.path().join(".git")).unwrap();
    let yaml = generate(stack.path(), &[]);
    assert!(
        yaml.contains("stackwright check .\n"),
        "the root is the stack folder"
    );
    let scripts = runs(&parse_yaml(&yaml)["jobs"]["test"]);
    (stack, scripts)
}

/// The test job works: run its `stackwright` steps (check, synth, the smoke
/// script with curl and jq) against the binary under test.
#[test]
fn ci_github_test_job_steps_run() {
    let (stack, scripts) = repo_copy("todo");
    let mut ran = 0;
    for script in scripts {
        if !script.contains("stackwright ") || script.starts_with("cargo install") {
            continue;
        }
        let out = run_script(&script, stack.path(), &[]);
        assert!(
            out.status.success(),
            "{script}\nstdout: {}\nstderr: {}",
            text(&out.stdout),
            text(&out.stderr)
        );
        if script.contains("stackwright up") {
            assert!(
                text(&out.stdout).contains("GET /healthcheck/ -> 200"),
                "{}",
                text(&out.stdout)
            );
        }
        ran += 1;
    }
    assert_eq!(ran, 3, "check, synth and the smoke run");
}

/// The smoke step fails, with the server's log, when the server cannot start
/// and when the health route does not answer 2xx.
#[test]
fn ci_github_smoke_step_fails_when_it_should() {
    let (stack, scripts) = repo_copy("pets");
    let smoke = scripts
        .into_iter()
        .find(|s| s.contains("stackwright up"))
        .unwrap();

    // The database's folder cannot be created (a file is in the way): `up`
    // exits, and the step must say so rather than wait for a URL.
    stack.write("blocker", "a file, not a folder\n");
    let url = format!(
        "sqlite://{}/db/x.db",
        stack.path().join("blocker").display()
    );
    let out = run_script(&smoke, stack.path(), &[("STACKWRIGHT_DATABASE_URL", url)]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("stackwright up exited before serving"),
        "{}",
        text(&out.stderr)
    );

    // A 404 from the route asked fails the step.
    assert!(smoke.contains("\"$url\"/health)"), "{smoke}");
    let missing = smoke.replace("\"$url\"/health)", "\"$url\"/no-such-route)");
    let out = run_script(&missing, stack.path(), &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stdout).contains("GET /health -> 404"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("not_found"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn ci_github_writes_under_the_git_root_with_repository_relative_paths() {
    let repo = TempStack::new("");
    std::fs::remove_file(repo.path().join("stackwright.toml")).unwrap();
    std::fs::create_dir(repo.path().join(".git")).unwrap();
    let src = example("pets");
    repo.write(
        "services/pets/stackwright.toml",
        &std::fs::read_to_string(src.join("stackwright.toml")).unwrap(),
    );
    for entry in std::fs::read_dir(src.join("seed")).unwrap() {
        let entry = entry.unwrap();
        repo.write(
            &format!("services/pets/seed/{}", entry.file_name().to_string_lossy()),
            &std::fs::read_to_string(entry.path()).unwrap(),
        );
    }
    let dir = repo.path().join("services/pets");
    let out = ci_github(&["ci", "github", dir.to_str().unwrap(), "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Json = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    let written = repo
        .path()
        .join(".github/workflows/stackwright-pets-dev.yml");
    assert_eq!(report["ok"], true);
    assert_eq!(
        Path::new(report["path"].as_str().unwrap()),
        written.canonicalize().unwrap()
    );
    assert_eq!(report["changed"], true);
    let yaml = std::fs::read_to_string(&written).unwrap();
    assert!(yaml.contains("run: stackwright deploy services/pets --env dev --yes\n"));
    assert_eq!(yaml, generate(&dir, &[]), "the file is what stdout shows");

    // DIR from the environment, like every command, and the same bytes again: fine.
    let out = stackwright_env(
        &["ci", "github", "--json"],
        &[
            ("STACKWRIGHT_STACK", dir.to_str().unwrap()),
            ("STACKWRIGHT_INSTALL_FROM", SOURCE),
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: Json = serde_json::from_str(text(&out.stdout).trim()).unwrap();
    assert_eq!(report["changed"], false);

    // --out naming the default path is the default: the file is the same.
    let out = ci_github(&[
        "ci",
        "github",
        dir.to_str().unwrap(),
        "--out",
        written.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("unchanged"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn ci_github_refuses_to_overwrite_a_different_file_without_force() {
    let stack = TempStack::copy_of("todo", |t| t);
    let target = stack.path().join("ci.yml");
    std::fs::write(&target, "# hand-written\n").unwrap();
    let dir = stack.path().to_str().unwrap();
    let target_s = target.to_str().unwrap();

    let out = ci_github(&["ci", "github", dir, "--out", target_s]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(target_s) && err.contains("--force"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "# hand-written\n"
    );

    let out = ci_github(&["ci", "github", dir, "--out", target_s, "--force"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains(&format!("wrote {target_s}")));
    let written = std::fs::read_to_string(&target).unwrap();
    assert!(written.starts_with("# Generated by `stackwright ci github`"));
    // Outside a repository the stack folder is the root; --out is named in the
    // regenerate command since it is not the default.
    assert!(
        written
            .contains(&format!("#   stackwright ci github . --env dev --branch main --out ci.yml --install-from {SOURCE} --force\n")),
        "{written}"
    );

    // Identical content: no --force needed, nothing rewritten.
    let out = ci_github(&["ci", "github", dir, "--out", target_s]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("unchanged"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn ci_github_stdout_and_option_errors() {
    let todo = example("todo");
    let dir = todo.to_str().unwrap();

    // `--out -` prints the workflow and writes nothing.
    let out = ci_github(&["ci", "github", dir, "--out", "-"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("# Generated by `stackwright ci github`"));
    assert!(text(&out.stderr).is_empty(), "{}", text(&out.stderr));

    // An unknown environment names the stack file and lists the known ones.
    let out = ci_github(&["ci", "github", dir, "--env", "staging", "--out", "-"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("unknown environment `staging`")
            && err.contains("stackwright.toml")
            && err.contains("dev, prod, ec2"),
        "{err}"
    );
    assert!(text(&out.stdout).is_empty());

    // A declared environment is fine.
    let out = ci_github(&["ci", "github", dir, "--env", "ec2", "--out", "-"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("stackwright deploy examples/todo --env ec2 --yes"));

    for (args, want) in [
        (vec!["--branch", "release/*"], "invalid --branch"),
        (vec!["--branch", "a'b"], "invalid --branch"),
        (
            vec!["--role-arn", "AKIAIOSFODNN7EXAMPLE"],
            "invalid --role-arn",
        ),
        (vec!["--json"], "cannot be combined with `--out -`"),
    ] {
        let mut all = vec!["ci", "github", dir, "--out", "-"];
        all.extend(args.iter().copied());
        let out = ci_github(&all);
        assert!(!out.status.success(), "{all:?}");
        assert!(
            text(&out.stderr).contains(want),
            "{all:?}: {}",
            text(&out.stderr)
        );
    }

    // An invalid stack reports its problems and writes nothing.
    let broken = TempStack::new("name = \"x\"\n[tables.t]\nkey = \"missing\"\n");
    let out = ci_github(&["ci", "github", broken.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(!broken.path().join(".github").exists());
}

/// The workflow installs the stackwright that wrote it: from a repository at
/// one commit or tag. Without a known source `ci github` refuses, and a
/// source that is not a plain https repository with a commit or tag is
/// refused before it reaches the workflow.
#[test]
fn ci_github_installs_from_a_repository_at_one_commit_or_tag() {
    let dir = example("todo");
    let dir = dir.to_str().unwrap();
    let plain = stackwright(&["ci", "github", dir, "--out", "-"]);
    assert!(!plain.status.success());
    assert!(
        text(&plain.stderr).contains("--install-from"),
        "{}",
        text(&plain.stderr)
    );
    let tagged = stackwright(&[
        "ci",
        "github",
        dir,
        "--out",
        "-",
        "--install-from",
        "git+https://example.org/tools/stackwright@v1.2.3",
    ]);
    assert!(tagged.status.success(), "{}", text(&tagged.stderr));
    let yaml = text(&tagged.stdout);
    assert!(yaml.contains(
        "cargo install --locked --git https://example.org/tools/stackwright --tag v1.2.3 stackwright"
    ));
    assert!(
        yaml.contains("--install-from git+https://example.org/tools/stackwright@v1.2.3 --force")
    );
    for bad in [
        "stackwright",
        "git+http://example.org/x/stackwright@v1",
        "git+https://example.org/x/stackwright",
        "git+https://example.org/x/stackwright@v1;rm -rf /",
        "git+https://example.org/../x@v1",
        "git+https://example.org/x/${{ secrets.X }}@v1",
    ] {
        let out = stackwright(&["ci", "github", dir, "--out", "-", "--install-from", bad]);
        assert!(!out.status.success(), "{bad} accepted");
        assert!(
            text(&out.stderr).contains("expected git+https://"),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
}

/// The regenerate command in the workflow works from the repository root
/// even when --out was given relative to somewhere outside it.
#[test]
fn ci_github_regenerate_command_names_an_outside_out_absolutely() {
    let outside = tempfile::TempDir::new().unwrap();
    let target = outside.path().join("wf.yml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stackwright"))
        .current_dir(outside.path())
        .args([
            "ci",
            "github",
            example("todo").to_str().unwrap(),
            "--out",
            "wf.yml",
        ])
        .env("STACKWRIGHT_INSTALL_FROM", SOURCE)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = std::fs::read_to_string(&target).unwrap();
    let canonical = target.canonicalize().unwrap();
    assert!(
        yaml.contains(&format!("--out {}", canonical.display())),
        "{}",
        yaml.lines().take(5).collect::<Vec<_>>().join("\n")
    );
}
