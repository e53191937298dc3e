//! SQLite's connections, and which thread uses them.
//!
//! A statement takes microseconds, and handing one to another thread costs
//! more than that (measured in bench/http: most of a point read's time was
//! thread wake-ups). So a request's one statement runs on the calling
//! thread: reads on the thread's own connection, writes on the one writer
//! connection. Everything else (migrations, seeds, topic delivery, health
//! checks, checkpoints), and a read that meets a lock held by another
//! process, runs on tokio's blocking threads, where waiting for a lock is
//! harmless; a write that meets one waits for it parked.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use rusqlite::{Connection, ErrorCode, OpenFlags};

use super::{map_err, BUSY_TIMEOUT};
use crate::engine::{Result, StorageError};

/// How long a request waits for a free connection before answering 503.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Read slots for the calling threads: more than a runtime has workers on
/// the machines we run on, so two workers rarely share one (a thread that
/// finds its slot taken reads on the blocking pool instead).
const SLOTS: usize = 16;

/// The writer never checkpoints the WAL itself (a checkpoint copies and
/// syncs pages, too long for a runtime thread): after this many of its
/// commits, a checkpoint runs on a blocking thread.
const CHECKPOINT_EVERY: usize = 500;

/// The longest pause between a waiting write's attempts.
const MAX_PAUSE: Duration = Duration::from_millis(20);

pub(super) struct Pool {
    path: PathBuf,
    /// Connections for work handed to tokio's blocking threads.
    idle: Mutex<Vec<Connection>>,
    permits: tokio::sync::Semaphore,
    /// Read connections, one per slot, a thread always taking the same
    /// slot: the runtime's workers each keep their own and never contend
    /// for one (a shared idle list behind one mutex showed as lock waits
    /// in the profile of point reads). Opened on first use.
    slots: Box<[Mutex<Option<Connection>>]>,
    /// The one connection requests write on. SQLite lets one writer in at
    /// a time anyway; queueing writers here, where a waiting request
    /// parks instead of its thread, replaces SQLite's busy handler, which
    /// sleeps (measured: with a connection per thread, two workers
    /// writing at once slept on each other's lock about once a request).
    writer: tokio::sync::Mutex<Connection>,
    /// The writer's commits, to checkpoint every [`CHECKPOINT_EVERY`].
    writes: AtomicUsize,
}

thread_local! {
    /// Set by the engine's error mapping when a statement on this thread
    /// failed on a lock held elsewhere. The error is `Unavailable` either
    /// way (as for a missing file): only here is it worth knowing that the
    /// blocking pool, which waits, can run the statement.
    static LOCKED: Cell<bool> = const { Cell::new(false) };
}

/// Record that the statement just failed on a lock held elsewhere.
pub(super) fn note_locked() {
    LOCKED.set(true);
}

/// This thread's read slot: threads are numbered as they first ask.
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|s| *s) % SLOTS
}

/// How a statement on a calling thread went.
enum Attempt<R> {
    Done(Result<R>),
    /// It met a lock held elsewhere, and changed nothing.
    Locked(StorageError),
}

impl Pool {
    /// The pool for the file at `path`, with up to `size` connections for
    /// the blocking threads.
    pub(super) fn new(path: &Path, size: usize) -> Result<Self> {
        let first = open(path)?;
        let writer = calling_thread(open(path)?)?;
        Ok(Pool {
            path: path.to_path_buf(),
            idle: Mutex::new(vec![first]),
            permits: tokio::sync::Semaphore::new(size.max(1)),
            slots: (0..SLOTS).map(|_| Mutex::new(None)).collect(),
            writer: tokio::sync::Mutex::new(writer),
            writes: AtomicUsize::new(0),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` on a pooled connection on a blocking thread.
    pub(super) async fn run<R, F>(&self, f: F) -> Result<R>
    where
        F: FnOnce(&mut Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let _permit = tokio::time::timeout(ACQUIRE_TIMEOUT, self.permits.acquire())
            .await
            .map_err(|_| StorageError::Unavailable("timed out waiting for a connection".into()))?
            .map_err(|_| StorageError::Unavailable("connection pool closed".into()))?;
        let conn = self.idle.lock().expect("pool lock").pop();
        let path = self.path.clone();
        let (conn, result) = tokio::task::spawn_blocking(move || {
            let mut conn = match conn {
                Some(c) => c,
                None => open(&path)?,
            };
            let result = f(&mut conn);
            Ok::<_, StorageError>((conn, result))
        })
        .await
        .map_err(task_failed)??;
        self.idle.lock().expect("pool lock").push(conn);
        result
    }

    /// One read statement, on this thread's connection when its slot is
    /// free, else on the blocking pool. `f` may run twice: a lock held
    /// elsewhere (rare for a reader in WAL mode) fails it before it has
    /// read anything, and it runs again on the blocking pool, which waits.
    pub(super) async fn read<R, F>(&self, f: F) -> Result<R>
    where
        F: Fn(&mut Connection) -> Result<R> + Send + 'static,
        R: Send + 'static,
    {
        let slot = &self.slots[thread_slot()];
        match self.read_on(slot, &f) {
            Some(Attempt::Done(result)) => result,
            Some(Attempt::Locked(_)) => self.run(f).await,
            None => {
                self.fill(slot).await?;
                self.run(f).await
            }
        }
    }

    /// The synchronous half of [`Self::read`], so that the slot's lock is
    /// never held across an await; None when the slot is taken or has no
    /// connection yet.
    fn read_on<R, F>(&self, slot: &Mutex<Option<Connection>>, f: &F) -> Option<Attempt<R>>
    where
        F: Fn(&mut Connection) -> Result<R>,
    {
        let mut held = match slot.try_lock() {
            Ok(held) => held,
            // A panic mid-statement leaves the connection usable: the
            // statement is reset when dropped.
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return None,
        };
        Some(attempt(held.as_mut()?, f))
    }

    /// Open a read slot's connection on a blocking thread (opening touches
    /// the file and may wait for a lock), and put it in the slot.
    async fn fill(&self, slot: &Mutex<Option<Connection>>) -> Result<()> {
        let path = self.path.clone();
        let conn = tokio::task::spawn_blocking(move || calling_thread(open(&path)?))
            .await
            .map_err(task_failed)??;
        if let Ok(mut held) = slot.try_lock() {
            held.get_or_insert(conn);
        }
        Ok(())
    }

    /// One write statement (or one transaction), on the writer
    /// connection. When another process holds the lock, the request waits
    /// for it here, parked, as SQLite's busy handler would wait on a
    /// thread (up to [`BUSY_TIMEOUT`]). `f` may run more than once: the
    /// lock is taken before anything is written, so a failed run has
    /// changed nothing.
    pub(super) async fn write<R, F>(self: &Arc<Self>, f: F) -> Result<R>
    where
        F: Fn(&mut Connection) -> Result<R> + Send,
        R: Send,
    {
        let started = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            let attempted = {
                let mut writer = self.writer.lock().await;
                let before = writer.total_changes();
                let attempted = attempt(&mut writer, &f);
                if writer.total_changes() != before {
                    self.wrote();
                }
                attempted
            };
            match attempted {
                Attempt::Locked(e) if started.elapsed() >= BUSY_TIMEOUT => return Err(e),
                Attempt::Locked(_) => {
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                Attempt::Done(result) => return result,
            }
        }
    }

    /// Count a commit of the writer, and checkpoint the WAL in the
    /// background every [`CHECKPOINT_EVERY`] of them.
    fn wrote(self: &Arc<Self>) {
        let n = self.writes.fetch_add(1, Ordering::Relaxed) + 1;
        if !n.is_multiple_of(CHECKPOINT_EVERY) {
            return;
        }
        let pool = self.clone();
        tokio::spawn(async move {
            let done = pool
                .run(|c| {
                    c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                        .map_err(map_err)
                })
                .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        });
    }
}

/// A connection for a calling thread: it never sleeps on a lock (its busy
/// timeout is zero) and never checkpoints (see [`CHECKPOINT_EVERY`]).
fn calling_thread(conn: Connection) -> Result<Connection> {
    conn.busy_timeout(Duration::ZERO).map_err(map_err)?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)
        .map_err(map_err)?;
    Ok(conn)
}

fn task_failed(e: tokio::task::JoinError) -> StorageError {
    StorageError::Internal(format!("database task failed: {e}"))
}

/// Run `f` once on a calling thread's connection.
fn attempt<R, F>(conn: &mut Connection, f: &F) -> Attempt<R>
where
    F: Fn(&mut Connection) -> Result<R>,
{
    LOCKED.set(false);
    match f(conn) {
        Err(e @ StorageError::Unavailable(_)) if LOCKED.replace(false) => Attempt::Locked(e),
        result => Attempt::Done(result),
    }
}

/// A connection as every part of the engine uses it: WAL, waits for locks.
fn open(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(|e| StorageError::Unavailable(format!("cannot open {}: {e}", path.display())))?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(map_err)?;
    // Switching a new file to WAL takes an exclusive lock, and SQLite
    // answers "database is locked" at once (without the busy handler) when
    // another process is switching it too: wait for it as for any lock.
    let started = std::time::Instant::now();
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(())) {
            Ok(()) => break,
            Err(rusqlite::Error::SqliteFailure(f, _))
                if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked)
                    && started.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(map_err(e)),
        }
    }
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
        .map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(128);
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(dir: &tempfile::TempDir) -> Arc<Pool> {
        let path = dir.path().join("db.sqlite");
        let pool = Arc::new(Pool::new(&path, 4).unwrap());
        let conn = open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
            .unwrap();
        pool
    }

    fn insert(pool: &Arc<Pool>, v: String) -> impl std::future::Future<Output = Result<usize>> {
        let pool = pool.clone();
        async move {
            pool.write(move |c| {
                c.execute("INSERT INTO t (v) VALUES (?)", [&v])
                    .map_err(map_err)
            })
            .await
        }
    }

    /// The pool, and another connection holding the write lock.
    fn locked_elsewhere(dir: &tempfile::TempDir) -> (Arc<Pool>, Connection) {
        let pool = pool(dir);
        let other = open(pool.path()).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        (pool, other)
    }

    async fn count(pool: &Pool) -> i64 {
        pool.read(|c| {
            c.query_row("SELECT count(*) FROM t", [], |r| r.get(0))
                .map_err(map_err)
        })
        .await
        .unwrap()
    }

    /// A write waits (parked) for a lock another process holds, and lands
    /// once it is released: never an error, never a sleeping thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_waits_for_a_lock_held_elsewhere() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, other) = locked_elsewhere(&dir);
        let started = Instant::now();
        let waiting = tokio::spawn(insert(&pool, "after the lock".into()));
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!waiting.is_finished(), "the write must wait for the lock");
        // Reads go on meanwhile, on the calling thread.
        assert_eq!(count(&pool).await, 0);
        other.execute_batch("COMMIT").unwrap();
        assert_eq!(waiting.await.unwrap().unwrap(), 1);
        assert!(started.elapsed() >= Duration::from_millis(300));
    }

    /// A lock never released fails the write after the busy timeout, as
    /// SQLite's own handler would, with the database's reason.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_lock_held_too_long_answers_unavailable() {
        let dir = tempfile::tempdir().unwrap();
        let (pool, _other) = locked_elsewhere(&dir);
        let started = Instant::now();
        let e = insert(&pool, "never".into()).await.unwrap_err();
        assert!(
            matches!(e, StorageError::Unavailable(ref m) if m.contains("locked")),
            "{e}"
        );
        assert!(started.elapsed() >= BUSY_TIMEOUT);
    }

    /// Concurrent writers all land, and the writer's WAL is checkpointed in
    /// the background so that it does not grow with every write.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_land_and_the_wal_is_checkpointed() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir);
        let wal = dir.path().join("db.sqlite-wal");
        let value = "x".repeat(2000);
        let mut sizes = Vec::new();
        for round in 0..4 {
            let writes: Vec<_> = (0..CHECKPOINT_EVERY)
                .map(|_| tokio::spawn(insert(&pool, value.clone())))
                .collect();
            for w in writes {
                assert_eq!(w.await.unwrap().unwrap(), 1);
            }
            // The checkpoint runs in the background: give it its moment.
            tokio::time::sleep(Duration::from_millis(200)).await;
            sizes.push((round, std::fs::metadata(&wal).unwrap().len()));
        }
        assert_eq!(count(&pool).await, 4 * CHECKPOINT_EVERY as i64);
        // Each round writes about 1 MB of values; without checkpoints the
        // WAL would hold all four.
        let (_, first) = sizes[0];
        let (_, last) = sizes[3];
        assert!(
            last <= first * 2,
            "the WAL grew with every round: {sizes:?}"
        );
    }
}
