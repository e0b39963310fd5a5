//! The SQLite connection: one writer thread that group-commits every write, a pool of read
//! connections, and the statement cache helpers every concern uses. See the backend's
//! documentation for the durability rules.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::{schema, vacuum};
use crate::StoreError;
use crate::at_rest::AtRestKey;

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// Most operations per group commit; bounds one transaction's latency.
const MAX_BATCH: usize = 512;
/// Most events per callback post, unless configured ([`SqliteStore::set_max_events_per_post`]).
const DEFAULT_EVENTS_PER_POST: usize = 100;

/// One write: `run` executes in the writer's transaction and says whether it succeeded;
/// `done` is told whether the transaction committed, and only then answers the caller.
struct Op {
    /// Must be on disk before the caller hears "done" (everything but lease bookkeeping).
    durable: bool,
    run: Box<dyn FnOnce(&Connection) -> bool + Send>,
    done: Box<dyn FnOnce(Result<(), String>) + Send>,
}

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    path: PathBuf,
    pub(super) key: AtRestKey,
    ops: Mutex<Option<mpsc::Sender<Op>>>,
    readers: Mutex<Vec<Connection>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    events_per_post: AtomicUsize,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ops.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(handle) = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take() {
            let _ = handle.join();
        }
    }
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(30))?;
    conn.set_prepared_statement_cache_capacity(64);
    // auto_vacuum first: it only takes effect in a database without tables (a new one).
    // WAL: readers never block the writer. FULL: the WAL is synced at every commit
    // (NORMAL would only sync at checkpoints and could lose acknowledged jobs).
    conn.execute_batch(
        "PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA secure_delete = FAST; PRAGMA foreign_keys = ON;",
    )?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    pub fn open(path: &Path, key: AtRestKey) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| StoreError::Database(format!("{}: {e}", dir.display())))?;
        }
        let mut conn = open_connection(path)?;
        schema::migrate(&mut conn)?;
        let (tx, rx) = mpsc::channel::<Op>();
        let writer = std::thread::Builder::new()
            .name("sealmail-store".into())
            .spawn(move || writer_loop(conn, rx))
            .map_err(|e| StoreError::Database(e.to_string()))?;
        let inner = Arc::new(Inner {
            path: path.to_owned(),
            key,
            ops: Mutex::new(Some(tx)),
            readers: Mutex::new(Vec::new()),
            writer: Mutex::new(Some(writer)),
            events_per_post: AtomicUsize::new(DEFAULT_EVENTS_PER_POST),
        });
        vacuum::spawn_maintenance(Arc::downgrade(&inner));
        Ok(Self { inner })
    }

    /// Bounds the events of one callback post (the size of one `POST` body).
    pub fn set_max_events_per_post(&self, n: usize) {
        self.inner.events_per_post.store(n.max(1), Ordering::Relaxed);
    }

    /// The storage key blobs are sealed with.
    pub(super) fn key(&self) -> &AtRestKey {
        &self.inner.key
    }

    pub(super) fn events_per_post(&self) -> usize {
        self.inner.events_per_post.load(Ordering::Relaxed)
    }

    /// Runs `f` in the writer's next group commit; returns once it is durable. `f` gets no
    /// key: seal before, open after (the writer thread is the store's one serial resource).
    pub(super) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit_op(true, f).await
    }

    /// Like [`SqliteStore::write`], but the commit need not be synced when nothing durable
    /// shares its batch: for leases, whose loss in a power cut is harmless (they are
    /// released at start-up). It halves the fsyncs of a worker step.
    pub(super) async fn write_relaxed<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit_op(false, f).await
    }

    async fn submit_op<T: Send + 'static>(
        &self,
        durable: bool,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = oneshot::channel();
        let slot = Arc::new(Mutex::new(None));
        let result = slot.clone();
        let op = Op {
            durable,
            run: Box::new(move |conn| {
                let r = f(conn);
                let ok = r.is_ok();
                *result.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                ok
            }),
            done: Box::new(move |commit| {
                let r = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                let _ = tx.send(match (commit, r) {
                    (Err(e), _) => Err(StoreError::Database(e)),
                    (Ok(()), Some(r)) => r,
                    (Ok(()), None) => Err(StoreError::Database("the operation did not run".into())),
                });
            }),
        };
        {
            let ops = self.inner.ops.lock().unwrap_or_else(|e| e.into_inner());
            ops.as_ref().ok_or(StoreError::Closed)?.send(op).map_err(|_| StoreError::Closed)?;
        }
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Runs `f` on a read connection in the blocking pool.
    pub(super) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &AtRestKey) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let conn = inner.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
            let conn = match conn {
                Some(c) => c,
                None => open_connection(&inner.path)?,
            };
            let result = f(&conn, &inner.key);
            let mut pool = inner.readers.lock().unwrap_or_else(|e| e.into_inner());
            if pool.len() < 8 {
                pool.push(conn);
            }
            result
        })
        .await
        .map_err(|e| StoreError::Database(format!("reader task failed: {e}")))?
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Op>) {
    let mut synced = true;
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        // In WAL mode, NORMAL skips the fsync at commit; the next FULL commit's fsync of the
        // WAL covers the frames before it too.
        let durable = batch.iter().any(|op| op.durable);
        if durable != synced {
            let mode = if durable { "FULL" } else { "NORMAL" };
            if let Err(e) = conn.execute_batch(&format!("PRAGMA synchronous = {mode}")) {
                // Never commit durable work unsynced: fail the batch, keep the old mode.
                let why = format!("cannot set synchronous = {mode}: {e}");
                for op in batch {
                    (op.done)(Err(why.clone()));
                }
                continue;
            }
            synced = durable;
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let why = format!("cannot begin a transaction: {e}");
            for op in batch {
                (op.done)(Err(why.clone()));
            }
            continue;
        }
        let mut replies = Vec::with_capacity(batch.len());
        for op in batch {
            let _ = conn.execute_batch("SAVEPOINT op");
            let ok = (op.run)(&conn);
            let _ = conn.execute_batch(if ok { "RELEASE op" } else { "ROLLBACK TO op; RELEASE op" });
            replies.push(op.done);
        }
        let commit = conn.execute_batch("COMMIT").map_err(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            format!("commit failed: {e}")
        });
        for reply in replies {
            reply(commit.clone());
        }
    }
}

/// `query_row` through the statement cache: the same few statements run for every job, and
/// parsing them again each time was a visible share of the store's CPU.
pub(super) fn query_row<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// `execute` through the statement cache.
pub(super) fn execute<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}
