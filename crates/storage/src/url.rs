//! Database URLs: which engine, and where.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::engine::StorageError;

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:relative/path.db`, `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite { path: PathBuf },
}

impl DatabaseUrl {
    /// The embedded default for a stack folder: `DIR/.stackwright/local.db`.
    pub fn local_default(stack_dir: &Path) -> Self {
        DatabaseUrl::Sqlite {
            path: stack_dir.join(".stackwright").join("local.db"),
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let scheme = s.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
        match scheme {
            "sqlite" => {
                let rest = &s["sqlite:".len()..];
                let path = rest.strip_prefix("//").unwrap_or(rest);
                let path = path.split('?').next().unwrap_or("");
                if path.is_empty() || path == ":memory:" {
                    return Err(StorageError::UnsupportedUrl(
                        "sqlite URLs name a file, e.g. sqlite:///var/lib/app.db or sqlite:data/app.db".into(),
                    ));
                }
                Ok(DatabaseUrl::Sqlite {
                    path: PathBuf::from(path),
                })
            }
            "postgres" | "postgresql" | "mysql" | "mariadb" | "dynamodb" => {
                Err(StorageError::UnsupportedUrl(format!(
                    "the {scheme} engine is not available in this version; use a sqlite: URL or leave --database-url out for the embedded default"
                )))
            }
            _ => Err(StorageError::UnsupportedUrl(format!(
                "`{}` is not a database URL; expected sqlite:PATH",
                redact(s)
            ))),
        }
    }
}

/// A URL with any password replaced, safe for logs and errors.
pub fn redact(s: &str) -> String {
    if let Some((scheme, rest)) = s.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            let user = userinfo.split(':').next().unwrap_or("");
            return format!("{scheme}://{user}:***@{host}");
        }
    }
    s.to_string()
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_forms() {
        let abs: DatabaseUrl = "sqlite:///tmp/x.db".parse().unwrap();
        assert_eq!(
            abs,
            DatabaseUrl::Sqlite {
                path: "/tmp/x.db".into()
            }
        );
        let rel: DatabaseUrl = "sqlite:data/x.db".parse().unwrap();
        assert_eq!(
            rel,
            DatabaseUrl::Sqlite {
                path: "data/x.db".into()
            }
        );
    }

    #[test]
    fn never_echoes_passwords() {
        let e = "foo://u:hunter2@h/db"
            .parse::<DatabaseUrl>()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        let e = "postgres://u:hunter2@h/db"
            .parse::<DatabaseUrl>()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
    }
}
