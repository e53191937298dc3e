//! What the generated workflow installs and runs that is not the stack's:
//! stackwright itself (from its repository at one commit or tag) and the
//! GitHub Actions it uses (each at the commit of a release).

/// Where this build of stackwright comes from, when whoever built it said so
/// (`STACKWRIGHT_SOURCE=git+https://HOST/OWNER/REPO@REV` at build time): the
/// default of `--install-from`, so a workflow installs the same stackwright
/// that wrote it.
pub(super) const BUILT_FROM: Option<&str> = option_env!("STACKWRIGHT_SOURCE");

/// How the workflow installs stackwright: from a repository at one commit
/// or tag, never by a bare crate name (which installs whatever someone
/// publishes under it). Checked before it reaches the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Source {
    repository: String,
    /// `--rev COMMIT` or `--tag TAG`.
    pin: (&'static str, String),
}

impl Source {
    pub(super) fn parse(text: &str) -> anyhow::Result<Source> {
        let bad = || {
            anyhow::anyhow!(
                "--install-from `{text}`: expected git+https://HOST/OWNER/REPO@REV, REV a commit (40 hex digits) or a tag"
            )
        };
        let rest = text.strip_prefix("git+https://").ok_or_else(bad)?;
        let (path, rev) = rest.rsplit_once('@').ok_or_else(bad)?;
        let safe = |s: &str, extra: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
        };
        if !safe(path, "./-_") || !path.contains('/') || path.contains("..") || !safe(rev, ".-_") {
            return Err(bad());
        }
        let pin = if rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
            ("--rev", rev.to_ascii_lowercase())
        } else {
            ("--tag", rev.to_string())
        };
        Ok(Source {
            repository: format!("https://{path}"),
            pin,
        })
    }

    /// The install command both jobs run; the install cache's key hashes it.
    pub(super) fn command(&self) -> String {
        format!(
            "cargo install --locked --git {} {} {} stackwright",
            self.repository, self.pin.0, self.pin.1
        )
    }
}

/// The actions the workflow uses, each pinned to the commit of a release
/// (named in a comment): a tag can be moved to other code, and the deploy
/// job holds AWS credentials; a commit cannot change. Dependabot and
/// Renovate update pins written this way.
pub(super) const CHECKOUT: (&str, &str, &str) = (
    "actions/checkout",
    "fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09",
    "v5.1.0",
);
pub(super) const CACHE: (&str, &str, &str) = (
    "actions/cache",
    "27d5ce7f107fe9357f9df03efb73ab90386fccae",
    "v5.0.5",
);
pub(super) const CONFIGURE_AWS_CREDENTIALS: (&str, &str, &str) = (
    "aws-actions/configure-aws-credentials",
    "61815dcd50bd041e203e49132bacad1fd04d2708",
    "v5.1.1",
);
/// No releases: the `master` branch's commit, told the toolchain.
pub(super) const RUST_TOOLCHAIN: (&str, &str, &str) = (
    "dtolnay/rust-toolchain",
    "3c5f7ea28cd621ae0bf5283f0e981fb97b8a7af9",
    "master, 2026-03-27",
);

pub(super) fn pinned((action, commit, release): (&str, &str, &str)) -> String {
    format!("{action}@{commit} # {release}")
}
