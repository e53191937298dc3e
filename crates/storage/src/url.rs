//! Database URLs: which engine, and where. Passwords never leave this type
//! except into a driver's connect options: Display and Debug redact them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::engine::StorageError;

#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// `sqlite:relative/path.db`, `sqlite://relative/path.db` or `sqlite:///absolute/path.db`.
    Sqlite { path: PathBuf },
    /// `postgres://user[:password]@host[:port]/database[?options]`.
    Postgres(ServerUrl),
    /// `mysql://user[:password]@host[:port]/database` (MySQL and MariaDB).
    Mysql(ServerUrl),
    /// `redshift://user[:password]@host[:port]/database[?options]`: Redshift,
    /// over the PostgreSQL protocol, with the Redshift dialect (on a
    /// PostgreSQL server too: that is how it is tested).
    Redshift(ServerUrl),
    /// `dynamodb://[REGION][?endpoint=URL][&prefix=P]`; credentials from the AWS chain.
    Dynamodb(crate::dynamodb::DynamoUrl),
}

/// A server URL whose password may come from elsewhere (environment, file).
#[derive(Clone, PartialEq, Eq)]
pub struct ServerUrl {
    raw: String,
    password: Option<String>,
}

impl ServerUrl {
    /// The URL with any password given separately, for the driver only
    /// (a Redshift URL as the PostgreSQL driver takes it).
    pub fn connect_string(&self) -> &str {
        &self.raw
    }
    pub fn password_override(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// The URL under `scheme`, with the password given apart put in.
    fn with_password_in(&self, scheme: &str) -> String {
        let rest = self.raw.split_once("://").map_or("", |(_, rest)| rest);
        let (Some(password), Some(parts)) = (&self.password, Parts::of(&self.raw)) else {
            return format!("{scheme}://{rest}");
        };
        let (user, host, tail) = (parts.user.unwrap_or(""), parts.host, parts.tail);
        format!(
            "{scheme}://{user}:{}@{host}{tail}",
            percent_encode(password)
        )
    }

    /// The URL under `scheme` with no password in it, and the password
    /// given apart, if any.
    fn password_apart(&self, scheme: &str) -> (String, Option<String>) {
        let url = match Parts::of(&self.raw) {
            Some(parts) => {
                let user = parts.user.map(|u| format!("{u}@")).unwrap_or_default();
                format!("{scheme}://{user}{}{}", parts.host, parts.tail)
            }
            None => format!("{scheme}://"),
        };
        (url, self.password.clone())
    }
}

/// Everything but RFC 3986's unreserved characters, percent-encoded.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

impl DatabaseUrl {
    /// The embedded default for a stack folder: `DIR/.stackwright/local.db`.
    pub fn local_default(stack_dir: &Path) -> Self {
        DatabaseUrl::Sqlite {
            path: stack_dir.join(crate::local::DIR).join("local.db"),
        }
    }

    /// Use `password` instead of any password in the URL (from an
    /// environment variable or a file, so it is not on the command line).
    pub fn with_password(self, password: String) -> Result<Self, StorageError> {
        match self {
            DatabaseUrl::Postgres(u) => Ok(DatabaseUrl::Postgres(ServerUrl {
                password: Some(password),
                ..u
            })),
            DatabaseUrl::Mysql(u) => Ok(DatabaseUrl::Mysql(ServerUrl {
                password: Some(password),
                ..u
            })),
            DatabaseUrl::Redshift(u) => Ok(DatabaseUrl::Redshift(ServerUrl {
                password: Some(password),
                ..u
            })),
            DatabaseUrl::Sqlite { .. } | DatabaseUrl::Dynamodb(_) => {
                Err(StorageError::UnsupportedUrl(
                    "this database takes no password (DynamoDB uses AWS credentials)".into(),
                ))
            }
        }
    }

    /// The URL a service of the stack is given (`DATABASE_URL`), in the form
    /// SQLAlchemy, Django, sqlx and pgx all read: `sqlite:////ABSOLUTE`,
    /// `postgresql://` and `mysql://`, with the password (given apart or
    /// not) in it, percent-encoded. None for DynamoDB, which has no URL.
    pub fn for_services(&self) -> Option<String> {
        match self {
            DatabaseUrl::Sqlite { path } => {
                let path = std::path::absolute(path).unwrap_or_else(|_| path.clone());
                Some(format!("sqlite:///{}", path.display()))
            }
            // Redshift's drivers speak the PostgreSQL protocol.
            DatabaseUrl::Postgres(u) | DatabaseUrl::Redshift(u) => {
                Some(u.with_password_in("postgresql"))
            }
            DatabaseUrl::Mysql(u) => Some(u.with_password_in("mysql")),
            DatabaseUrl::Dynamodb(_) => None,
        }
    }

    /// As [`DatabaseUrl::for_services`], with the password kept out of the
    /// URL and returned apart: what a service gets on AWS, where the
    /// password is a variable of its own, injected from the secret.
    pub fn for_services_apart(&self) -> Option<(String, Option<String>)> {
        match self {
            DatabaseUrl::Postgres(u) | DatabaseUrl::Redshift(u) => {
                Some(u.password_apart("postgresql"))
            }
            DatabaseUrl::Mysql(u) => Some(u.password_apart("mysql")),
            other => other.for_services().map(|url| (url, None)),
        }
    }

    pub fn engine_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Sqlite { .. } => "sqlite",
            DatabaseUrl::Postgres(_) => "postgres",
            DatabaseUrl::Mysql(_) => "mysql",
            DatabaseUrl::Redshift(_) => "redshift",
            DatabaseUrl::Dynamodb(_) => "dynamodb",
        }
    }
}

impl FromStr for DatabaseUrl {
    type Err = StorageError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let scheme = s.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
        let server = || ServerUrl {
            raw: s.to_string(),
            password: None,
        };
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
            "postgres" | "postgresql" => Ok(DatabaseUrl::Postgres(server())),
            "redshift" => Ok(DatabaseUrl::Redshift(ServerUrl {
                raw: s.replacen("redshift:", "postgres:", 1),
                password: None,
            })),
            "mysql" | "mariadb" => Ok(DatabaseUrl::Mysql(ServerUrl {
                raw: s.replacen("mariadb:", "mysql:", 1),
                password: None,
            })),
            "dynamodb" => crate::dynamodb::DynamoUrl::parse(s)
                .map(DatabaseUrl::Dynamodb)
                .map_err(StorageError::UnsupportedUrl),
            _ => Err(StorageError::UnsupportedUrl(format!(
                "`{}` is not a database URL; expected sqlite:PATH, postgres://..., mysql://..., redshift://... or dynamodb://REGION",
                redact(s)
            ))),
        }
    }
}

/// A server URL's pieces: `scheme://[user[:password]@]host[/path][?query]`.
struct Parts<'a> {
    scheme: &'a str,
    /// Present when the URL has user info (`@`).
    user: Option<&'a str>,
    host: &'a str,
    /// The path and query, from the first `/` or `?`.
    tail: &'a str,
}

impl<'a> Parts<'a> {
    fn of(s: &'a str) -> Option<Parts<'a>> {
        let (scheme, rest) = s.split_once("://")?;
        let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        let (user, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (Some(userinfo.split(':').next().unwrap_or("")), host),
            None => (None, authority),
        };
        Some(Parts {
            scheme,
            user,
            host,
            tail,
        })
    }
}

/// A URL with any password replaced, safe for logs and errors.
pub fn redact(s: &str) -> String {
    let Some(Parts {
        scheme,
        user,
        host,
        tail,
    }) = Parts::of(s)
    else {
        return s.to_string();
    };
    let tail = redact_query(tail);
    match user {
        Some(user) => format!("{scheme}://{user}:***@{host}{tail}"),
        None => format!("{scheme}://{host}{tail}"),
    }
}

/// `?password=...` in a query string is a password too.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let parts: Vec<String> = query
        .split('&')
        .map(|kv| match kv.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
            _ => kv.to_string(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatabaseUrl::Sqlite { path } => write!(f, "sqlite://{}", path.display()),
            DatabaseUrl::Postgres(u) | DatabaseUrl::Mysql(u) => f.write_str(&redact(&u.raw)),
            DatabaseUrl::Redshift(u) => {
                f.write_str(&redact(&u.raw).replacen("postgres:", "redshift:", 1))
            }
            DatabaseUrl::Dynamodb(u) => {
                write!(f, "dynamodb://{}", u.region.as_deref().unwrap_or(""))?;
                let mut sep = '?';
                if let Some(e) = &u.endpoint {
                    write!(f, "{sep}endpoint={e}")?;
                    sep = '&';
                }
                if !u.prefix.is_empty() {
                    write!(f, "{sep}prefix={}", u.prefix)?;
                }
                Ok(())
            }
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
    fn services_get_one_url_form_with_the_password_in_it() {
        let abs: DatabaseUrl = "sqlite:///tmp/x.db".parse().unwrap();
        assert_eq!(abs.for_services().as_deref(), Some("sqlite:////tmp/x.db"));
        let pg: DatabaseUrl = "postgres://app@db:5432/shop?sslmode=require"
            .parse()
            .unwrap();
        let pg = pg.with_password("p@ss/w:rd".into()).unwrap();
        assert_eq!(
            pg.for_services().as_deref(),
            Some("postgresql://app:p%40ss%2Fw%3Ard@db:5432/shop?sslmode=require")
        );
        let my: DatabaseUrl = "mariadb://root@127.0.0.1:3306/test".parse().unwrap();
        assert_eq!(
            my.for_services().as_deref(),
            Some("mysql://root@127.0.0.1:3306/test")
        );
        let dynamo: DatabaseUrl = "dynamodb://eu-west-1".parse().unwrap();
        assert_eq!(dynamo.for_services(), None);
    }

    #[test]
    fn on_aws_services_get_the_password_apart_from_the_url() {
        let pg: DatabaseUrl = "postgres://app@db:5432/shop?sslmode=require"
            .parse()
            .unwrap();
        let pg = pg.with_password("p@ss".into()).unwrap();
        assert_eq!(
            pg.for_services_apart(),
            Some((
                "postgresql://app@db:5432/shop?sslmode=require".to_string(),
                Some("p@ss".to_string())
            ))
        );
        let my: DatabaseUrl = "mysql://app@db/shop".parse().unwrap();
        assert_eq!(
            my.for_services_apart(),
            Some(("mysql://app@db/shop".to_string(), None))
        );
        let dynamo: DatabaseUrl = "dynamodb://eu-west-1".parse().unwrap();
        assert_eq!(dynamo.for_services_apart(), None);
    }

    #[test]
    fn never_shows_passwords() {
        let e = "foo://u:hunter2@h/db"
            .parse::<DatabaseUrl>()
            .unwrap_err()
            .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        for url in [
            "postgres://u:hunter2@h:5432/db",
            "postgres://u@h/db?password=hunter2&sslmode=disable",
            "mysql://root:hunter2@127.0.0.1/test",
            "postgres://u:p%40ss:hunter2@h/db",
        ] {
            let parsed: DatabaseUrl = url.parse().unwrap();
            let shown = format!("{parsed} {parsed:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        let with = "postgres://u@h/db"
            .parse::<DatabaseUrl>()
            .unwrap()
            .with_password("hunter2".into())
            .unwrap();
        assert!(!format!("{with} {with:?}").contains("hunter2"));
    }
}
