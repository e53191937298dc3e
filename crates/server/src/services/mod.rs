//! The stack's services (`[services.NAME]`) under `stackwright up`: built
//! once, started as supervised children on 127.0.0.1, each with the same
//! wiring it gets on AWS, and proxied to under its path prefixes
//! (`crate::http::services`).
//!
//! Who may call a service: anyone, or with `auth = "user"` a signed-in
//! user whose token the runtime checked; the service reads who it is from
//! the claim headers the runtime sets (and removes from every request).
//! What a service may reach: the stack's database (the URL it is given),
//! the stack's API, and the variables named here; it does not inherit the
//! runtime's environment, so the runtime's own secrets stay out of it.

mod supervisor;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stackwright_stack::env;
use stackwright_stack::{Service, Stack};
use stackwright_storage::DatabaseUrl;

pub use supervisor::Supervisor;

/// Variables a service inherits from the runtime's environment: what
/// finding programs and the user's locale need, nothing of the runtime's.
const INHERITED: [&str; 9] = [
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR",
];

/// How long a service may take to answer its health check at start.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where local secret values are kept, beside the database file: a table
/// per service (`[api] API_KEY = "..."`) or shared keys at the top.
pub const SECRETS_FILE: &str = "secrets.toml";

/// A service and the local port it listens on.
#[derive(Debug, Clone)]
pub struct Target {
    pub service: Arc<Service>,
    pub port: u16,
    /// `127.0.0.1:PORT`, made once: every proxied request names it.
    pub authority: axum::http::uri::Authority,
}

impl Target {
    pub fn new(service: Arc<Service>, port: u16) -> Self {
        let authority = format!("127.0.0.1:{port}")
            .parse()
            .expect("an address and a port are an authority");
        Target {
            service,
            port,
            authority,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("service `{service}`: {why}")]
    Build { service: String, why: String },
    #[error(
        "service `{service}` needs the secret `{secret}`: set it in the environment or in {file}"
    )]
    MissingSecret {
        service: String,
        secret: String,
        file: String,
    },
    #[error("{file}: {why}")]
    SecretsFile { file: String, why: String },
    #[error(
        "service `{service}` did not answer GET {health} on 127.0.0.1:{port} within {seconds} s"
    )]
    NotReady {
        service: String,
        health: String,
        port: u16,
        seconds: u64,
    },
    #[error("service `{service}` exited {times} times before answering its health check: its output above says why")]
    ExitsAtStart { service: String, times: u32 },
    #[error("service `{service}`: cannot start `{program}`: {why}")]
    Spawn {
        service: String,
        program: String,
        why: String,
    },
    #[error("no local port for service `{0}`")]
    NoPort(String),
    #[error("{var}: the stack has no service `{name}`", var = env::SERVICE_PORTS)]
    Unknown { name: String },
}

/// What every service is told, besides its own `env` and secrets.
pub struct Wiring {
    /// The runtime's own URL (`STACKWRIGHT_API_URL`).
    pub api_url: String,
    pub database: DatabaseUrl,
    /// Issuer, JWKS URL and client id of the user pool, when the stack has one.
    pub user_pool: Option<(String, String, String)>,
    /// The runtime's environment: what services inherit, and secrets.
    pub vars: BTreeMap<String, String>,
    /// Where the service listens ([`env::SERVICE_HOST`]).
    pub host: String,
    /// The database password in its own variable, not in the URL (on AWS,
    /// where ECS or the start script injects it from the secret).
    pub password_apart: bool,
}

impl Wiring {
    /// The local pool's wiring, or Cognito's when the runtime uses it.
    pub fn user_pool_of(
        stack: &Stack,
        api_url: &str,
        cognito: Option<&env::UserPoolEnv>,
    ) -> Option<(String, String, String)> {
        stack.users.as_ref()?;
        Some(match cognito {
            Some(pool) => {
                let (issuer, jwks) = crate::users::cognito_urls(pool).ok()?;
                (issuer, jwks, pool.client_id.clone())
            }
            None => (
                crate::users::pool::local_issuer(stack),
                format!("{api_url}/auth/.well-known/jwks.json"),
                crate::users::pool::LOCAL_CLIENT_ID.to_string(),
            ),
        })
    }

    /// The whole environment of `service`, listening on `port`.
    pub fn environment(
        &self,
        stack: &Stack,
        service: &Service,
        port: u16,
    ) -> Result<Vec<(String, String)>, ServiceError> {
        let mut vars: Vec<(String, String)> = INHERITED
            .iter()
            .filter_map(|name| Some((name.to_string(), self.vars.get(*name)?.clone())))
            .collect();
        vars.push((env::SERVICE_PORT.into(), port.to_string()));
        vars.push((env::SERVICE_HOST.into(), self.host.clone()));
        if self.password_apart {
            if let Some((url, password)) = self.database.for_services_apart() {
                vars.push((env::SERVICE_DATABASE_URL.into(), url));
                if let Some(password) = password {
                    vars.push((env::SERVICE_DATABASE_PASSWORD.into(), password));
                }
            }
        } else if let Some(url) = self.database.for_services() {
            vars.push((env::SERVICE_DATABASE_URL.into(), url));
        }
        vars.push((env::API_URL.into(), self.api_url.clone()));
        if let Some((issuer, jwks, client)) = &self.user_pool {
            vars.push((env::USER_POOL_ISSUER.into(), issuer.clone()));
            vars.push((env::USER_POOL_JWKS_URL.into(), jwks.clone()));
            vars.push((env::USER_POOL_CLIENT_ID.into(), client.clone()));
        }
        vars.extend(service.env.iter().map(|(k, v)| (k.clone(), v.clone())));
        let file = stack
            .dir
            .join(stackwright_storage::local::DIR)
            .join(SECRETS_FILE);
        let mut stored: Option<toml::Table> = None;
        for secret in &service.secrets {
            let value = match self.vars.get(secret) {
                Some(v) => v.clone(),
                None => {
                    if stored.is_none() {
                        stored = Some(read_secrets(&file)?);
                    }
                    let table = stored.as_ref().expect("read");
                    let own = table.get(&service.name).and_then(|t| t.get(secret));
                    match own.or_else(|| table.get(secret)).and_then(|v| v.as_str()) {
                        Some(v) => v.to_string(),
                        None => {
                            return Err(ServiceError::MissingSecret {
                                service: service.name.clone(),
                                secret: secret.clone(),
                                file: file.display().to_string(),
                            })
                        }
                    }
                }
            };
            vars.push((secret.clone(), value));
        }
        Ok(vars)
    }
}

fn read_secrets(file: &Path) -> Result<toml::Table, ServiceError> {
    let text = match std::fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(toml::Table::new()),
        Err(e) => {
            return Err(ServiceError::SecretsFile {
                file: file.display().to_string(),
                why: e.to_string(),
            })
        }
    };
    // The parse error's text would quote the line: never a secret's value.
    text.parse::<toml::Table>()
        .map_err(|e| ServiceError::SecretsFile {
            file: file.display().to_string(),
            why: format!(
                "not valid TOML (at byte {})",
                e.span().map_or(0, |s| s.start)
            ),
        })
}

/// The services another process runs, at `ports`. Only those are served
/// here: on AWS a runtime fronts one service (its own task or function),
/// or none (the main runtime, whose load balancer sends their paths
/// elsewhere).
pub fn attach(stack: &Stack, ports: &BTreeMap<String, u16>) -> Result<Vec<Target>, ServiceError> {
    ports
        .iter()
        .map(|(name, port)| match stack.services.get(name) {
            Some(service) => Ok(Target::new(Arc::new(service.clone()), *port)),
            None => Err(ServiceError::Unknown { name: name.clone() }),
        })
        .collect()
}

/// `name=port,...` ([`env::SERVICE_PORTS`]), both ways.
pub fn ports_text(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|t| format!("{}={}", t.service.name, t.port))
        .collect::<Vec<_>>()
        .join(",")
}

pub fn parse_ports(text: &str) -> Result<BTreeMap<String, u16>, String> {
    text.split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .and_then(|(name, port)| Some((name.to_string(), port.parse().ok()?)))
                .ok_or_else(|| format!("{}: `{pair}` is not NAME=PORT", env::SERVICE_PORTS))
        })
        .collect()
}

/// Run each service's `build` in its folder, once, in stack-file order.
pub async fn build(stack: &Stack) -> Result<(), ServiceError> {
    for service in stack.services.values() {
        let Some(argv) = &service.build else {
            continue;
        };
        let dir = stack.dir.join(&service.dir);
        tracing::info!(service = %service.name, command = %argv.join(" "), "building");
        let status = tokio::process::Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(&dir)
            .stdin(std::process::Stdio::null())
            .status()
            .await
            .map_err(|e| ServiceError::Build {
                service: service.name.clone(),
                why: format!("cannot run `{}`: {e}", argv[0]),
            })?;
        if !status.success() {
            return Err(ServiceError::Build {
                service: service.name.clone(),
                why: format!("build `{}` failed ({status})", argv.join(" ")),
            });
        }
    }
    Ok(())
}

/// A port on 127.0.0.1 nobody listens on now.
fn free_port(service: &str) -> Result<u16, ServiceError> {
    std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|_| ServiceError::NoPort(service.to_string()))
}
