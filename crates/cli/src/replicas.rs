//! `up --replicas N`: one listening socket, N server processes sharing it,
//! and a rolling restart on SIGHUP that loses no request.
//!
//! The supervisor binds the socket and hands it to each replica as an
//! inherited descriptor, so every replica accepts from the same kernel
//! queue. A replica that stops accepting leaves nothing behind: with
//! SO_REUSEPORT each replica would own a queue of its own, and closing it
//! resets the connections still waiting there.
//!
//! A restart starts the new replica before it stops the old one, and stops
//! it with SIGTERM: the old replica drains (see `stackwright_server`'s
//! accept loop) while the new one already answers. A new replica that fails
//! to start (say, the edited stack file is invalid) stops the restart and
//! the running replicas keep serving.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;
use stackwright_stack::env::{DATABASE_URL, LISTEN_FD as LISTEN_FD_ENV, SERVICE_PORTS};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};
use tokio::signal::unix::{signal, SignalKind};

use crate::output::Output;

/// How long a replica may take to migrate, seed and start serving.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The listening socket a supervisor handed down, when this is a replica.
pub fn inherited_listener(fd: Option<&str>) -> anyhow::Result<Option<std::net::TcpListener>> {
    let Some(fd) = fd else {
        return Ok(None);
    };
    let fd: RawFd = fd
        .parse()
        .with_context(|| format!("{LISTEN_FD_ENV} is not a descriptor number: `{fd}`"))?;
    // SAFETY: the supervisor passes a descriptor it opened as a listening
    // TCP socket and that nothing else in this process owns; local_addr
    // below fails if it is anything else.
    let listener = unsafe { std::net::TcpListener::from_raw_fd(fd) };
    listener
        .local_addr()
        .with_context(|| format!("{LISTEN_FD_ENV}={fd} is not a listening socket"))?;
    Ok(Some(listener))
}

/// What a replica is started with: the same `up` without `--replicas`.
pub struct ReplicaCommand {
    pub exe: PathBuf,
    pub args: Vec<OsString>,
    /// Passed in the environment, never on the command line (`ps`).
    pub database_url: Option<String>,
    /// Where the services the supervisor runs listen.
    pub service_ports: Option<String>,
}

struct Replica {
    child: Child,
    pid: u32,
    // Kept open so the replica can keep writing to its stdout.
    _stdout: Lines<BufReader<ChildStdout>>,
}

struct Supervisor {
    command: ReplicaCommand,
    listener: std::net::TcpListener,
}

impl Supervisor {
    async fn start_replica(&self) -> anyhow::Result<Replica> {
        let fd = self.listener.as_raw_fd();
        let mut command = Command::new(&self.command.exe);
        command
            .args(&self.command.args)
            .env(LISTEN_FD_ENV, fd.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = &self.command.database_url {
            command.env(DATABASE_URL, url);
        }
        if let Some(ports) = &self.command.service_ports {
            command.env(SERVICE_PORTS, ports);
        }
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // The socket is close-on-exec in the supervisor; only the
                // replica's copy stays open across exec.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                // A replica outliving its supervisor would hold the port.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = command.spawn().context("cannot start a replica")?;
        let pid = child.id().unwrap_or_default();
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        // A replica is ready once it prints its serving line (`up --json`).
        match tokio::time::timeout(START_TIMEOUT, lines.next_line()).await {
            Ok(Ok(Some(_))) => Ok(Replica {
                child,
                pid,
                _stdout: lines,
            }),
            Ok(_) => {
                let status = child.wait().await?;
                bail!("the replica (pid {pid}) exited before serving: {status}")
            }
            Err(_) => bail!(
                "the replica (pid {pid}) did not start serving within {} s",
                START_TIMEOUT.as_secs()
            ),
        }
    }

    /// SIGTERM, then wait while it drains; how long that took.
    async fn stop(&self, mut replica: Replica) -> Duration {
        let started = Instant::now();
        send_sigterm(&replica);
        let _ = replica.child.wait().await;
        started.elapsed()
    }

    /// Replace each replica in turn: start the new one, then drain the old.
    async fn rolling_restart(&self, replicas: &mut [Replica]) {
        tracing::info!(replicas = replicas.len(), "rolling restart");
        let started = Instant::now();
        for (index, slot) in replicas.iter_mut().enumerate() {
            let new = match self.start_replica().await {
                Ok(new) => new,
                Err(e) => {
                    tracing::error!(
                        replica = index,
                        "rolling restart stopped, the running replicas keep serving: {e:#}"
                    );
                    return;
                }
            };
            let new_pid = new.pid;
            let old = std::mem::replace(slot, new);
            let old_pid = old.pid;
            let drained = self.stop(old).await;
            tracing::info!(
                replica = index,
                old_pid,
                new_pid,
                drain_ms = drained.as_millis() as u64,
                "replica replaced"
            );
        }
        tracing::info!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            "rolling restart complete"
        );
    }
}

/// Run `count` replicas on `listener` until SIGINT or SIGTERM; SIGHUP
/// restarts them one at a time.
pub async fn supervise(
    command: ReplicaCommand,
    listener: std::net::TcpListener,
    count: usize,
    name: &str,
    url: &str,
    json_output: bool,
    out: &Output,
) -> anyhow::Result<ExitCode> {
    let supervisor = Supervisor { command, listener };
    // Before anything is announced: SIGHUP's default action is to exit.
    let mut hangup = signal(SignalKind::hangup())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut replicas = Vec::with_capacity(count);
    // One at a time: the first migrates and seeds, the others find it done.
    for _ in 0..count {
        match supervisor.start_replica().await {
            Ok(replica) => replicas.push(replica),
            Err(e) => {
                for replica in replicas {
                    supervisor.stop(replica).await;
                }
                return Err(e);
            }
        }
    }
    let pids: Vec<u32> = replicas.iter().map(|r| r.pid).collect();
    if json_output {
        out.json(&json!({ "stack": name, "url": url, "replicas": pids, "supervisor": std::process::id() }));
    } else {
        out.line(&format!(
            "serving `{name}` at {url} with {count} replicas (pids {pids:?}); `kill -HUP {}` restarts them one by one",
            std::process::id()
        ));
    }
    let mut check = tokio::time::interval(Duration::from_millis(500));
    loop {
        tokio::select! {
            _ = hangup.recv() => supervisor.rolling_restart(&mut replicas).await,
            _ = terminate.recv() => break,
            _ = interrupt.recv() => break,
            _ = check.tick() => {
                // A replica that died is replaced, as a service manager would.
                for (index, slot) in replicas.iter_mut().enumerate() {
                    if let Ok(Some(status)) = slot.child.try_wait() {
                        tracing::error!(replica = index, pid = slot.pid, %status, "replica exited: starting another");
                        match supervisor.start_replica().await {
                            Ok(new) => *slot = new,
                            Err(e) => tracing::error!(replica = index, "cannot start a replacement: {e:#}"),
                        }
                    }
                }
            }
        }
    }
    tracing::info!("shutting down: draining every replica");
    // All at once: they drain in parallel.
    replicas.iter().for_each(send_sigterm);
    for mut replica in replicas {
        let _ = replica.child.wait().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// Ask a replica to drain and exit.
fn send_sigterm(replica: &Replica) {
    // SAFETY: kill has no memory effects; the pid is our own child, not yet
    // reaped (we hold its handle), so it cannot name another process.
    unsafe {
        libc::kill(replica.pid as libc::pid_t, libc::SIGTERM);
    }
}
