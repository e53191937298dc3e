//! Services as supervised children: each in its own process group, killed
//! with the runtime even when the runtime is killed (`PR_SET_PDEATHSIG`),
//! restarted with backoff when it exits, its output on the runtime's
//! stderr prefixed with its name, and stopped with SIGTERM (then SIGKILL)
//! when the runtime stops.

use std::io::Write;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use stackwright_stack::{Service, Stack};
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::{free_port, ServiceError, Target, Wiring, START_TIMEOUT};

/// The first restart waits this long; each next one twice as long.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(15);
/// A run this long resets the backoff: the crash was not at start.
const STABLE_RUN: Duration = Duration::from_secs(30);
/// Exits before the first healthy answer that fail the runtime's start:
/// a service that cannot start should say so at once, not after the
/// start timeout.
const EXITS_AT_START: u32 = 3;
/// How long a service may take to exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The running services; dropping it kills them.
pub struct Supervisor {
    targets: Vec<Target>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    /// The process group of each service's current child (0: none).
    groups: Vec<Arc<AtomicI32>>,
    /// How many times each service has exited.
    exits: Vec<Arc<AtomicU32>>,
}

impl Supervisor {
    /// Start every service of the stack and wait until each answers its
    /// health check.
    pub async fn start(stack: &Stack, wiring: &Wiring) -> Result<Supervisor, ServiceError> {
        let (stop, stopped) = watch::channel(false);
        let mut supervisor = Supervisor {
            targets: Vec::new(),
            stop,
            tasks: Vec::new(),
            groups: Vec::new(),
            exits: Vec::new(),
        };
        for service in stack.services.values() {
            let port = free_port(&service.name)?;
            let vars = wiring.environment(stack, service, port)?;
            let service = Arc::new(service.clone());
            let group = Arc::new(AtomicI32::new(0));
            let exits = Arc::new(AtomicU32::new(0));
            let run = Run {
                service: service.clone(),
                dir: stack.dir.join(&service.dir),
                vars,
                group: group.clone(),
                exits: exits.clone(),
            };
            // The first start fails the runtime's start (a typo in
            // `command`); later ones are retried.
            let child = run.spawn()?;
            supervisor
                .tasks
                .push(tokio::spawn(run.supervise(child, stopped.clone())));
            supervisor.groups.push(group);
            supervisor.targets.push(Target::new(service, port));
            supervisor.exits.push(exits);
        }
        for (target, exits) in supervisor.targets.iter().zip(&supervisor.exits) {
            wait_healthy(target, exits).await?;
        }
        Ok(supervisor)
    }

    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// SIGTERM to every service, SIGKILL to what is left after the grace.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        for task in std::mem::take(&mut self.tasks) {
            let _ = task.await;
        }
    }
}

impl Drop for Supervisor {
    fn drop(&mut self) {
        // Not stopped in order (a failed start, a test's end): no waiting.
        for group in &self.groups {
            signal(group.load(Ordering::SeqCst), libc::SIGKILL);
        }
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// One service's child, restarted until the runtime stops.
struct Run {
    service: Arc<Service>,
    dir: std::path::PathBuf,
    vars: Vec<(String, String)>,
    group: Arc<AtomicI32>,
    exits: Arc<AtomicU32>,
}

impl Run {
    fn spawn(&self) -> Result<Child, ServiceError> {
        let argv = &self.service.command;
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(&self.dir)
            .env_clear()
            .envs(self.vars.iter().map(|(k, v)| (k, v)))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true);
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Its own group, so stopping it stops what it started.
                libc::setpgid(0, 0);
                // Killed with the runtime, even by SIGKILL: no orphan keeps
                // the port or writes to the database.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|e| ServiceError::Spawn {
            service: self.service.name.clone(),
            program: argv[0].clone(),
            why: e.to_string(),
        })?;
        let pid = child.id().map_or(0, |p| p as i32);
        self.group.store(pid, Ordering::SeqCst);
        let name = self.service.name.clone();
        if let Some(out) = child.stdout.take() {
            tokio::spawn(forward(name.clone(), out));
        }
        if let Some(err) = child.stderr.take() {
            tokio::spawn(forward(name, err));
        }
        Ok(child)
    }

    async fn supervise(self, mut child: Child, mut stop: watch::Receiver<bool>) {
        let name = self.service.name.clone();
        let mut backoff = FIRST_BACKOFF;
        loop {
            let started = Instant::now();
            tokio::select! {
                status = child.wait() => {
                    self.group.store(0, Ordering::SeqCst);
                    self.exits.fetch_add(1, Ordering::SeqCst);
                    let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                    tracing::warn!(service = %name, %status, "the service exited; restarting");
                }
                _ = stopped(&mut stop) => {
                    self.terminate(&mut child).await;
                    return;
                }
            }
            if started.elapsed() >= STABLE_RUN {
                backoff = FIRST_BACKOFF;
            }
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = stopped(&mut stop) => return,
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            child = loop {
                match self.spawn() {
                    Ok(child) => break child,
                    Err(e) => {
                        tracing::error!(service = %name, error = %e, "cannot restart the service");
                        tokio::select! {
                            () = tokio::time::sleep(backoff) => {}
                            _ = stopped(&mut stop) => return,
                        }
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            };
        }
    }

    async fn terminate(&self, child: &mut Child) {
        let group = self.group.load(Ordering::SeqCst);
        signal(group, libc::SIGTERM);
        if tokio::time::timeout(STOP_GRACE, child.wait())
            .await
            .is_err()
        {
            tracing::warn!(service = %self.service.name, "the service ignored SIGTERM; killing it");
            signal(group, libc::SIGKILL);
            let _ = child.wait().await;
        }
        self.group.store(0, Ordering::SeqCst);
    }
}

/// Until the runtime stops (the guard `wait_for` gives is not `Send`).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}

/// Signal a whole process group (nothing when there is none).
fn signal(group: i32, sig: libc::c_int) {
    if group > 0 {
        // SAFETY: kill has no memory effects; the group is one we made.
        unsafe {
            libc::kill(-group, sig);
        }
    }
}

/// Each line the service writes, on stderr as `NAME | line`.
async fn forward(name: String, from: impl AsyncRead + Unpin) {
    let mut lines = BufReader::new(from).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{name} | {line}");
    }
}

/// Until the service answers its health check with 2xx.
async fn wait_healthy(target: &Target, exits: &AtomicU32) -> Result<(), ServiceError> {
    let deadline = Instant::now() + START_TIMEOUT;
    let url = format!("http://127.0.0.1:{}{}", target.port, target.service.health);
    let client: hyper_util::client::legacy::Client<_, http_body_util::Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build_http();
    let uri: axum::http::Uri = url.parse().expect("a valid URL");
    while Instant::now() < deadline {
        let exited = exits.load(Ordering::SeqCst);
        if exited >= EXITS_AT_START {
            return Err(ServiceError::ExitsAtStart {
                service: target.service.name.clone(),
                times: exited,
            });
        }
        let answer = tokio::time::timeout(Duration::from_secs(2), client.get(uri.clone())).await;
        if let Ok(Ok(response)) = answer {
            if response.status().is_success() {
                tracing::info!(service = %target.service.name, port = target.port, "service ready");
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(ServiceError::NotReady {
        service: target.service.name.clone(),
        health: target.service.health.clone(),
        port: target.port,
        seconds: START_TIMEOUT.as_secs(),
    })
}
