//! `stackwright ci github`: writes a GitHub Actions workflow that tests the
//! stack on pushes and pull requests and deploys one environment on pushes to
//! one branch, with short-lived credentials from GitHub's OIDC provider.
//!
//! The workflow is plain text built here line by line (no YAML library), so
//! the same stack and options always give the same bytes: the file can be
//! regenerated and reviewed as a diff. Every value that comes from the stack
//! file or the command line is validated or quoted before it reaches the YAML,
//! the shell, or GitHub's `${{ }}` expressions.

use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::json;
use sha2::{Digest, Sha256};
use stackwright_stack::{Method, Operation, Stack};
use stackwright_synth::Settings;

use crate::output::Output;

mod install;

use install::{
    pinned, Source, BUILT_FROM, CACHE, CHECKOUT, CONFIGURE_AWS_CREDENTIALS, RUST_TOOLCHAIN,
};

/// The runner of both jobs. Not `ubuntu-latest`: `deploy` packages the binary
/// it runs as the Lambda and EC2 runtime, on Amazon Linux 2023 (glibc 2.34),
/// and C code compiled against glibc 2.38 or newer links symbols (such as
/// `__isoc23_strtol`) that system lacks. Both jobs use the same runner because
/// they share the install cache.
pub const RUNNER: &str = "ubuntu-22.04";

/// The repository variable the deploy job reads the role ARN from when
/// `--role-arn` is not given. A variable, not a secret: a role ARN grants
/// nothing by itself, and the trust policy decides who may assume it.
pub const ROLE_VARIABLE: &str = "STACKWRIGHT_DEPLOY_ROLE_ARN";

#[derive(Args)]
pub struct CiArgs {
    #[command(subcommand)]
    provider: Provider,
}

#[derive(Subcommand)]
enum Provider {
    /// Write a GitHub Actions workflow: test the stack on pushes and pull requests,
    /// deploy one environment on pushes to one branch with OIDC role credentials.
    Github(GithubArgs),
    /// Print the IAM policy of the role that deploys one environment: scoped to the
    /// stack's names, roles only with the permissions boundary, only the managed
    /// policies the templates use (docs/ci.md, section 4.3).
    AwsPolicy(AwsPolicyArgs),
}

#[derive(Args)]
struct AwsPolicyArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = stackwright_stack::env::STACK)]
    dir: PathBuf,

    /// Environment the role deploys: dev, prod, or one declared as [aws.env.NAME].
    #[arg(long, default_value = "dev", value_name = "NAME")]
    env: String,

    /// The AWS account id (12 digits); `ACCOUNT` is written when left out.
    #[arg(long, default_value = "ACCOUNT")]
    account: String,

    /// The region; default: the environment's region from the stack file.
    #[arg(long)]
    region: Option<String>,
}

#[derive(Args)]
struct GithubArgs {
    /// Folder holding stackwright.toml (or the file itself).
    #[arg(default_value = ".", env = stackwright_stack::env::STACK)]
    dir: PathBuf,

    /// Environment deployed on pushes to the branch: dev, prod, or one declared as
    /// [aws.env.NAME]. It also names the GitHub environment of the deploy job, so
    /// that environment's protection rules gate the deploy.
    #[arg(long, default_value = "dev", value_name = "NAME")]
    env: String,

    /// Branch whose pushes deploy (pull requests to it are tested only).
    #[arg(long, default_value = "main")]
    branch: String,

    /// IAM role the deploy job assumes. Default: the workflow reads the repository
    /// (or GitHub environment) variable STACKWRIGHT_DEPLOY_ROLE_ARN.
    #[arg(long, value_name = "ARN")]
    role_arn: Option<String>,

    /// Where to write the workflow (default: GIT_ROOT/.github/workflows/stackwright-STACK-ENV.yml,
    /// GIT_ROOT being the repository holding DIR, or DIR itself outside one; `-` for stdout).
    #[arg(long, value_name = "PATH")]
    out: Option<PathBuf>,

    /// Overwrite an existing file that differs from the generated workflow.
    #[arg(long)]
    force: bool,

    /// Where the workflow installs stackwright from:
    /// git+https://HOST/OWNER/REPO@REV, REV a commit or a tag. Default: where
    /// this build came from, when it was built with STACKWRIGHT_SOURCE.
    #[arg(long, value_name = "SOURCE", env = "STACKWRIGHT_INSTALL_FROM")]
    install_from: Option<String>,

    /// Print what was written as JSON on stdout.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &CiArgs, out: &Output) -> anyhow::Result<ExitCode> {
    match &args.provider {
        Provider::Github(args) => github(args, out),
        Provider::AwsPolicy(args) => aws_policy(args, out),
    }
}

fn aws_policy(args: &AwsPolicyArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let Some(stack) = crate::load_stack(&args.dir, out, true)? else {
        return Ok(ExitCode::FAILURE);
    };
    if args.account != "ACCOUNT"
        && !(args.account.len() == 12 && args.account.chars().all(|c| c.is_ascii_digit()))
    {
        bail!(
            "--account: `{}` is not a 12-digit AWS account id",
            args.account
        );
    }
    let settings = stackwright_synth::Settings::resolve(&stack, &args.env)?;
    let region = args
        .region
        .clone()
        .unwrap_or_else(|| settings.region.clone());
    let policy = stackwright_synth::deploy_role::policy(&stack, &settings, &args.account, &region);
    out.line(&serde_json::to_string_pretty(&policy).expect("JSON"));
    Ok(ExitCode::SUCCESS)
}

fn github(args: &GithubArgs, out: &Output) -> anyhow::Result<ExitCode> {
    let to_stdout = args.out.as_deref().is_some_and(|p| p.as_os_str() == "-");
    if to_stdout && args.json {
        bail!("--json reports the file written; it cannot be combined with `--out -`");
    }
    let Some(stack) = crate::load_stack(&args.dir, out, args.json)? else {
        return Ok(ExitCode::FAILURE);
    };
    let stack_file = stackwright_stack::stack_file_path(&args.dir);
    let known = Settings::environments(&stack);
    if !known.contains(&args.env) {
        bail!(
            "unknown environment `{}` in {}; this stack has {}",
            args.env,
            stack_file.display(),
            known.join(", ")
        );
    }
    let settings = Settings::resolve(&stack, &args.env)?;
    let (install, install_from) = match args.install_from.as_deref().or(BUILT_FROM) {
        Some(source) => (Source::parse(source)?.command(), source.to_string()),
        None => bail!(
            "this stackwright does not know where it was built from, so the workflow cannot install \
             the same one: pass --install-from git+https://HOST/OWNER/REPO@REV (a commit or a tag \
             of stackwright's repository)"
        ),
    };
    check_branch(&args.branch)?;
    if let Some(arn) = &args.role_arn {
        check_role_arn(arn)?;
    }

    let stack_dir = if stack.dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        stack.dir.as_path()
    };
    let stack_dir = stack_dir
        .canonicalize()
        .with_context(|| format!("cannot resolve the folder of {}", stack_file.display()))?;
    // The workflow runs from the repository's root, so every path in it is
    // relative to that root; outside a repository the stack folder is the root.
    let root = git_root(&stack_dir).unwrap_or_else(|| stack_dir.clone());
    let rel_dir = relative(&stack_dir, &root)
        .with_context(|| format!("the folder of {}", stack_file.display()))?;

    let default_out = root
        .join(".github")
        .join("workflows")
        .join(format!("stackwright-{}-{}.yml", stack.name, args.env));
    let out_path = match &args.out {
        Some(p) if !to_stdout => Some(p.clone()),
        _ => None,
    };
    // The regenerate command names --out only when it is not the default.
    let out_arg = out_path.as_ref().and_then(|p| {
        let abs = std::env::current_dir()
            .map(|cwd| cwd.join(p))
            .unwrap_or_else(|_| p.clone());
        let abs = normalize(&abs);
        // The root is canonical; so must the file's folder be to compare them
        // (the file itself may not exist yet).
        let abs = match (abs.parent().map(Path::canonicalize), abs.file_name()) {
            (Some(Ok(parent)), Some(name)) => parent.join(name),
            _ => abs,
        };
        if abs == default_out {
            return None;
        }
        // Outside the repository, the absolute path: the command is run
        // from the repository's root, where a path relative to here is wrong.
        Some(match relative(&abs, &root) {
            Ok(r) => r,
            Err(_) => abs.display().to_string(),
        })
    });

    let health = health_path(&stack);
    let plan = Plan {
        stack: stack.name.clone(),
        env: args.env.clone(),
        region: settings.region.clone(),
        branch: args.branch.clone(),
        role_arn: args.role_arn.clone(),
        dir: rel_dir,
        health,
        out_arg,
        install,
        install_from,
    };
    let text = render(&plan).with_context(|| format!("from {}", stack_file.display()))?;

    if to_stdout {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let path = out_path.unwrap_or(default_out);
    let changed = match std::fs::read(&path) {
        Ok(existing) if existing == text.as_bytes() => false,
        Ok(_) if !args.force => bail!(
            "{} exists and differs from the workflow this would write; review it, then pass \
             --force to overwrite it (or --out PATH to write elsewhere)",
            path.display()
        ),
        Ok(_) => true,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if changed {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if args.json {
        out.json(&json!({
            "ok": true,
            "path": path.display().to_string(),
            "changed": changed,
        }));
    } else {
        out.line(&format!(
            "{} {}",
            if changed { "wrote" } else { "unchanged:" },
            path.display()
        ));
        if args.role_arn.is_none() {
            out.line(&format!(
                "the deploy job assumes the role in the repository variable {ROLE_VARIABLE}; \
                 set it up as docs/ci.md describes"
            ));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Everything the workflow text depends on, already validated.
struct Plan {
    stack: String,
    env: String,
    region: String,
    branch: String,
    role_arn: Option<String>,
    /// The stack folder relative to the repository root, `/`-separated (`.` at the root).
    dir: String,
    /// The GET route with `op = "health"`, if the stack has one.
    health: Option<String>,
    /// `--out` as the regenerate command should show it, when given.
    out_arg: Option<String>,
    /// The command that installs stackwright, and the source it names.
    install: String,
    install_from: String,
}

/// The first GET route with `op = "health"` and no path parameters.
fn health_path(stack: &Stack) -> Option<String> {
    stack
        .routes
        .iter()
        .find(|r| {
            matches!(r.operation, Operation::Health)
                && matches!(r.method, Method::Get)
                && !r.path.contains('{')
        })
        .map(|r| r.path.clone())
}

/// GitHub expands `${{ ... }}` anywhere in a workflow, including inside run
/// scripts: a path carrying one would run an expression nobody wrote.
fn writable(p: &Plan) -> anyhow::Result<()> {
    for (what, value) in [
        ("the stack folder", p.dir.as_str()),
        ("the health route", p.health.as_deref().unwrap_or("")),
        ("--out", p.out_arg.as_deref().unwrap_or("")),
    ] {
        if value.contains("${{") || value.chars().any(char::is_control) {
            bail!("{what} `{value}` cannot be written into a workflow (it holds `${{{{` or a control character)");
        }
    }
    Ok(())
}

/// The command that writes this workflow again, for its header.
fn regenerate_command(p: &Plan, dir: &str) -> String {
    let mut regen = format!(
        "stackwright ci github {dir} --env {} --branch {}",
        p.env,
        sh_quote(&p.branch)
    );
    if let Some(arn) = &p.role_arn {
        regen.push_str(&format!(" --role-arn {}", sh_quote(arn)));
    }
    if let Some(o) = &p.out_arg {
        regen.push_str(&format!(" --out {}", sh_quote(o)));
    }
    regen.push_str(&format!(" --install-from {}", sh_quote(&p.install_from)));
    regen.push_str(" --force");
    regen
}

fn render(p: &Plan) -> anyhow::Result<String> {
    writable(p)?;
    let dir = sh_quote(&p.dir);
    let branch = yaml_scalar(&p.branch);
    let env = yaml_scalar(&p.env);
    let install_key = {
        let digest = Sha256::digest(p.install.as_bytes());
        digest[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    let role = match &p.role_arn {
        Some(arn) => yaml_scalar(arn),
        None => format!("${{{{ vars.{ROLE_VARIABLE} }}}}"),
    };
    let regen = regenerate_command(p, &dir);
    // STS caps session names at 64 characters.
    let session: String = format!("stackwright-{}-{}", p.stack, p.env)
        .chars()
        .take(64)
        .collect();

    let mut w = String::new();
    let mut line = |s: &str| {
        w.push_str(s);
        w.push('\n');
    };

    line(&format!(
        "# Generated by `stackwright ci github`: tests stack `{}` on pushes and pull requests",
        p.stack
    ));
    line(&format!(
        "# to `{}`, and deploys its `{}` environment ({}) on every push to `{}`.",
        p.branch, p.env, p.region, p.branch
    ));
    line("# Regenerate it from the repository root rather than editing it by hand:");
    line(&format!("#   {regen}"));
    line("# AWS access uses short-lived credentials from GitHub's OIDC provider; no AWS keys are");
    match &p.role_arn {
        Some(_) => line(
            "# stored anywhere. The deploy job assumes the role named below in `role-to-assume`.",
        ),
        None => {
            line("# stored anywhere. The deploy job assumes the role whose ARN is in the repository (or");
            line(&format!("# GitHub environment) variable {ROLE_VARIABLE}."));
        }
    }
    line("# Setting up that role (OIDC provider, trust policy, permissions): docs/ci.md in Stackwright.");
    line(&format!("name: stackwright {} ({})", p.stack, p.env));
    line("");
    line("on:");
    line("  push:");
    line(&format!("    branches: [{branch}]"));
    line("  pull_request:");
    line(&format!("    branches: [{branch}]"));
    line("  workflow_dispatch:");
    line("");
    line("# Every job may read the code and nothing more, unless it asks (only deploy does).");
    line("permissions:");
    line("  contents: read");
    line("");
    line(&format!(
        "# {RUNNER} in both jobs: deploy packages the installed stackwright as the Lambda/EC2"
    ));
    line("# runtime, which runs on Amazon Linux 2023 (glibc 2.34); a build on a newer glibc links");
    line("# symbols that system lacks. Both jobs share the install cache.");
    line("jobs:");
    line("  test:");
    line("    name: Test the stack");
    line(&format!("    runs-on: {RUNNER}"));
    line("    steps:");
    setup_steps(&mut line, &install_key, &p.install);
    line("      - name: Check the stack file and its seed files");
    line(&format!(
        "        run: {}",
        yaml_scalar(&format!("stackwright check {dir}"))
    ));
    line("      - name: Synthesize every environment's templates");
    line(&format!(
        "        run: {}",
        yaml_scalar(&format!("stackwright synth {dir} --all-envs"))
    ));
    line("      - name: Smoke test (serve on a local database, ask the health route)");
    line("        run: |");
    for l in smoke_script(&dir, p.health.as_deref()) {
        if l.is_empty() {
            line("");
        } else {
            line(&format!("          {l}"));
        }
    }
    line("");
    line("  deploy:");
    line(&format!("    name: Deploy {}", p.env));
    line("    needs: test");
    line(&format!(
        "    if: github.event_name == 'push' && github.ref == 'refs/heads/{}'",
        p.branch
    ));
    line(&format!("    runs-on: {RUNNER}"));
    line("    # Named after the stackwright environment so GitHub's protection rules for it");
    line("    # (required reviewers, wait timers, branch rules) gate the deploy.");
    line(&format!("    environment: {env}"));
    line("    permissions:");
    line("      id-token: write # to ask GitHub's OIDC provider for a token AWS STS accepts");
    line("      contents: read");
    line("    # One deploy of this stack and environment at a time, and never cancelled");
    line("    # midway: a half-applied change set is worse than a queued one.");
    line("    concurrency:");
    line(&format!(
        "      group: stackwright-deploy-{}-{}",
        p.stack, p.env
    ));
    line("      cancel-in-progress: false");
    line("    steps:");
    setup_steps(&mut line, &install_key, &p.install);
    if p.role_arn.is_none() {
        line("      - name: Check the deploy role is configured");
        line(&format!("        if: vars.{ROLE_VARIABLE} == ''"));
        line("        run: |");
        line(&format!(
            "          echo \"::error::Set the repository variable {ROLE_VARIABLE} to the deploy role's ARN (see Stackwright's docs/ci.md)\""
        ));
        line("          exit 1");
    }
    line("      - name: AWS credentials from GitHub's OIDC token");
    line(&format!(
        "        uses: {}",
        pinned(CONFIGURE_AWS_CREDENTIALS)
    ));
    line("        with:");
    line(&format!("          role-to-assume: {role}"));
    line(&format!("          role-session-name: {session}"));
    line(&format!("          aws-region: {}", yaml_scalar(&p.region)));
    line(&format!("      - name: Deploy {}", p.env));
    line(&format!(
        "        run: {}",
        yaml_scalar(&format!("stackwright deploy {dir} --env {} --yes", p.env))
    ));
    Ok(w)
}

/// Checkout, toolchain, install cache and install: the same in both jobs.
fn setup_steps(line: &mut impl FnMut(&str), install_key: &str, install: &str) {
    line(&format!("      - uses: {}", pinned(CHECKOUT)));
    line("        with:");
    line("          persist-credentials: false");
    line(&format!("      - uses: {}", pinned(RUST_TOOLCHAIN)));
    line("        id: toolchain");
    line("        with:");
    line("          toolchain: stable");
    line("      # Keeps the installed binary between runs; the key changes with the Rust");
    line("      # toolchain and the install command, which rebuilds it.");
    line("      - name: Cache the stackwright install");
    line(&format!("        uses: {}", pinned(CACHE)));
    line("        with:");
    line("          path: |");
    line("            ~/.cargo/bin/stackwright");
    line("            ~/.cargo/.crates.toml");
    line("            ~/.cargo/.crates2.json");
    line(&format!(
        "          key: stackwright-${{{{ runner.os }}}}-${{{{ steps.toolchain.outputs.cachekey }}}}-{install_key}"
    ));
    line("      - name: Install stackwright");
    line(&format!("        run: {}", yaml_scalar(install)));
}

/// The smoke test's bash script: serve on the embedded SQLite database on a
/// free port, read the URL from the JSON line `up --json` prints, ask the
/// health route, then stop the server with SIGTERM and require a clean exit
/// (that is the graceful shutdown working too).
fn smoke_script(dir: &str, health: Option<&str>) -> Vec<String> {
    let (path, accept, why) = match health {
        Some(path) => (path, "2??", None),
        // Without a health route `/` may well be a 404: any answer below 500
        // still shows the server started, migrated and serves.
        None => (
            "/",
            "2??|3??|4??",
            Some("# No route has op = \"health\": any answer below 500 shows the server is up."),
        ),
    };
    let mut s = vec![
        "set -euo pipefail".to_string(),
        "out=\"$RUNNER_TEMP/stackwright-up.json\"".to_string(),
        "log=\"$RUNNER_TEMP/stackwright-up.log\"".to_string(),
        format!("stackwright up {dir} --port 0 --json >\"$out\" 2>\"$log\" &"),
        "pid=$!".to_string(),
        "# Never leave the server running, however this step ends.".to_string(),
        "trap 'kill \"$pid\" 2>/dev/null || true' EXIT".to_string(),
        "url=\"\"".to_string(),
        "for _ in $(seq 120); do".to_string(),
        "  url=$(head -n 1 \"$out\" | jq -r '.url // empty' 2>/dev/null || true)".to_string(),
        "  if [ -n \"$url\" ]; then break; fi".to_string(),
        "  if ! kill -0 \"$pid\" 2>/dev/null; then".to_string(),
        "    cat \"$log\" >&2".to_string(),
        "    echo \"stackwright up exited before serving\" >&2".to_string(),
        "    exit 1".to_string(),
        "  fi".to_string(),
        "  sleep 0.5".to_string(),
        "done".to_string(),
        "if [ -z \"$url\" ]; then".to_string(),
        "  cat \"$log\" >&2".to_string(),
        "  echo \"stackwright up printed no URL within 60 s\" >&2".to_string(),
        "  exit 1".to_string(),
        "fi".to_string(),
    ];
    if let Some(why) = why {
        s.push(why.to_string());
    }
    let display = path.replace('"', "");
    s.extend([
        format!(
            "status=$(curl -sS -o \"$RUNNER_TEMP/stackwright-health.out\" -w '%{{http_code}}' \"$url\"{})",
            sh_quote(path)
        ),
        format!("echo \"GET {display} -> $status\""),
        "case \"$status\" in".to_string(),
        format!("  {accept}) ;;"),
        "  *) cat \"$RUNNER_TEMP/stackwright-health.out\" \"$log\" >&2; exit 1 ;;".to_string(),
        "esac".to_string(),
        "kill -TERM \"$pid\"".to_string(),
        "wait \"$pid\"".to_string(),
    ]);
    s
}

/// The nearest folder at or above `dir` holding `.git` (a folder, or a file in
/// worktrees and submodules).
fn git_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// `path` relative to `root` with `/` separators; `.` when they are the same.
fn relative(path: &Path, root: &Path) -> anyhow::Result<String> {
    let rel = path
        .strip_prefix(root)
        .map_err(|_| anyhow::anyhow!("{} is not inside {}", path.display(), root.display()))?;
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(s) => parts.push(
                s.to_str()
                    .with_context(|| format!("{} is not valid UTF-8", path.display()))?
                    .to_string(),
            ),
            _ => bail!(
                "{} is not a plain path below {}",
                path.display(),
                root.display()
            ),
        }
    }
    Ok(if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    })
}

/// Remove `.` and `..` without touching the file system (the file may not exist yet).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            c => out.push(c.as_os_str()),
        }
    }
    out
}

/// Branch names go into YAML, a GitHub expression and a ref comparison: allow
/// the characters real branch names use, and no glob characters (the deploy
/// condition compares one exact ref).
fn check_branch(branch: &str) -> anyhow::Result<()> {
    let ok = !branch.is_empty()
        && branch
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && !branch.starts_with(['-', '/', '.'])
        && !branch.ends_with(['/', '.'])
        && !branch.ends_with(".lock")
        && !branch.contains("..")
        && !branch.contains("//");
    if !ok {
        bail!(
            "invalid --branch `{branch}`: use one exact branch name of letters, digits, `.`, `_`, `-` and `/` (no patterns)"
        );
    }
    Ok(())
}

/// `arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME`.
fn check_role_arn(arn: &str) -> anyhow::Result<()> {
    let ok = (|| {
        let rest = arn.strip_prefix("arn:")?;
        let (partition, rest) = rest.split_once(':')?;
        let rest = rest.strip_prefix("iam::")?;
        let (account, rest) = rest.split_once(':')?;
        let name = rest.strip_prefix("role/")?;
        let valid = partition.starts_with("aws")
            && partition
                .chars()
                .all(|c| c.is_ascii_lowercase() || c == '-')
            && account.len() == 12
            && account.chars().all(|c| c.is_ascii_digit())
            && !name.is_empty()
            && !name.ends_with('/')
            && name.chars().all(|c| {
                c.is_ascii_alphanumeric()
                    || matches!(c, '+' | '=' | ',' | '.' | '@' | '_' | '-' | '/')
            });
        valid.then_some(())
    })();
    if ok.is_none() {
        bail!(
            "invalid --role-arn `{arn}`: expected an IAM role ARN such as arn:aws:iam::123456789012:role/stackwright-deploy"
        );
    }
    Ok(())
}

/// A word for bash: as is when it has only characters the shell leaves alone,
/// else single-quoted.
fn sh_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(c, '_' | '.' | '/' | '-' | '=' | ':' | '@' | '%' | '+' | ',')
        });
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A YAML scalar: plain when it cannot be read as anything but this string
/// (under YAML 1.1 or 1.2), else single-quoted.
fn yaml_scalar(s: &str) -> String {
    const RESERVED: [&str; 22] = [
        "true", "false", "yes", "no", "on", "off", "y", "n", "null", "True", "False", "Yes", "No",
        "On", "Off", "Y", "N", "Null", "TRUE", "FALSE", "NULL", "~",
    ];
    let plain = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | '/' | '-' | '=')
        })
        && !s.ends_with(' ')
        && !s.contains("  ")
        && !RESERVED.contains(&s)
        // Words such as `1e3` or `0x1f` start with a digit and are excluded above;
        // `.inf`/`.nan` start with a dot and are too.
        ;
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(sh_quote("examples/todo"), "examples/todo");
        assert_eq!(sh_quote("my app"), "'my app'");
        assert_eq!(sh_quote("it's"), "'it'\\''s'");
        assert_eq!(yaml_scalar("main"), "main");
        assert_eq!(yaml_scalar("on"), "'on'");
        assert_eq!(yaml_scalar("1.0"), "'1.0'");
        assert_eq!(yaml_scalar("a: b"), "'a: b'");
        assert_eq!(yaml_scalar("it's"), "'it''s'");
    }

    #[test]
    fn branches_and_arns() {
        for good in ["main", "release/1.2", "feature_x-y"] {
            check_branch(good).unwrap();
        }
        for bad in [
            "",
            "feature/*",
            "a..b",
            "-x",
            "x.lock",
            "a b",
            "a'b",
            "${{ x }}",
        ] {
            assert!(check_branch(bad).is_err(), "{bad}");
        }
        check_role_arn("arn:aws:iam::123456789012:role/deploy").unwrap();
        check_role_arn("arn:aws-us-gov:iam::123456789012:role/ci/deploy").unwrap();
        for bad in [
            "arn:aws:iam::12345:role/x",
            "arn:aws:iam::123456789012:user/x",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::123456789012:role/a b",
            "AKIAIOSFODNN7EXAMPLE",
        ] {
            assert!(check_role_arn(bad).is_err(), "{bad}");
        }
    }
}
