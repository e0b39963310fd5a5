//! The embedded store: one SQLite file in WAL mode (docs/service.md#storage).
//!
//! Durability: every write goes through one writer thread that commits whatever is queued
//! as one transaction (group commit) with `synchronous = FULL`, so the WAL is fsync'd
//! before any caller hears "done" — an accepted job survives a power cut, like an MTA's 250
//! — while many submissions share one fsync. Each operation runs in its own savepoint, so
//! one failing operation does not take its batch-mates down. Reads use a small pool of
//! read connections, which WAL lets run beside the writer.
//!
//! The writer thread is the one serial resource, so it does only SQL: encryption at rest
//! happens in the callers before an operation is queued (and after a read).
//!
//! `secure_delete = FAST` overwrites purged request bodies, messages and secrets where that
//! costs no extra I/O (on pages being written anyway); whole free pages are given back by
//! `incremental_vacuum` and the `-wal` file truncated periodically ([`vacuum`]). It is all
//! encrypted at rest (`at_rest`), so this is defence in depth; full `ON` cost ~290 page
//! writes per delivery commit (docs/performance.md).
//!
//! One file per concern of the store's interface, as in the PostgreSQL backend: [`jobs`],
//! [`queue`], [`messages`], [`outbox`], [`accounts`], [`lists`], [`erase`]; the schema's
//! migrations in [`schema`], key rotation in [`rotate`]. This module holds the connection,
//! the writer and what several concerns share.

mod accounts;
mod erase;
mod jobs;
mod lists;
mod messages;
mod outbox;
mod queue;
mod rotate;
mod schema;
mod vacuum;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use rusqlite::{Connection, params};
use tokio::sync::oneshot;

use crate::at_rest::AtRestKey;
use crate::names::{DbName, JOB_DELIVERING, JOB_FINISHED, JOB_QUEUED, parse};
use crate::{MessageKind, RecipientUpdate, SealedEffects, StoreError, StoredEvent};

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
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    key: AtRestKey,
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

    fn events_per_post(&self) -> usize {
        self.inner.events_per_post.load(Ordering::Relaxed)
    }

    /// Runs `f` in the writer's next group commit; returns once it is durable. `f` gets no
    /// key: seal before, open after (the writer thread is the store's one serial resource).
    async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.submit_op(true, f).await
    }

    /// Like [`SqliteStore::write`], but the commit need not be synced when nothing durable
    /// shares its batch: for leases, whose loss in a power cut is harmless (they are
    /// released at start-up). It halves the fsyncs of a worker step.
    async fn write_relaxed<T: Send + 'static>(
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
    async fn read<T: Send + 'static>(
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
fn query_row<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    conn.prepare_cached(sql)?.query_row(params, f)
}

/// `execute` through the statement cache.
fn execute<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

impl SealedEffects {
    /// Inserts the enqueued messages (with their recipients) and the events (with their
    /// callback posts, at most `per_post` events each).
    fn insert_sqlite(&self, conn: &Connection, job_id: &str, now_ms: u64, per_post: usize) -> Result<(), StoreError> {
        messages::insert(conn, job_id, now_ms, &self.effects.enqueued, &self.blobs)?;
        outbox::insert_events(conn, job_id, now_ms, &self.effects.events, per_post)
    }
}

/// An event from the columns `seq, block, recipient, kind, description, ts_ms` (the first
/// six of the row), without its notification state.
fn event_row(r: &rusqlite::Row<'_>) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: r.get(0)?,
        block: r.get(1)?,
        recipient: r.get(2)?,
        kind: parse("event kind", &r.get::<_, String>(3)?)?,
        description: r.get(4)?,
        ts_ms: r.get::<_, i64>(5)? as u64,
        notification: None,
    })
}

/// Applies a recipient's new state, decided for its original or its password mail.
fn apply_update(
    conn: &Connection,
    job_id: &str,
    kind: MessageKind,
    now_ms: u64,
    u: &RecipientUpdate,
) -> Result<(), StoreError> {
    let password = u.password.map(DbName::to_db);
    match kind {
        MessageKind::Original => execute(
            conn,
            "UPDATE recipients SET status = ?4, password = COALESCE(?5, password), reply = COALESCE(?6, reply),
                 detail = ?7, updated_ms = ?8
             WHERE job_id = ?1 AND block = ?2 AND address = ?3",
            params![job_id, u.block, u.address, u.status.to_db(), password, u.reply, u.detail, now_ms as i64],
        )?,
        // A password mail's own delivery status lives in `deliveries`; the recipient's row
        // keeps its original's status and reply, and gets the password state.
        MessageKind::PasswordMail => execute(
            conn,
            "UPDATE recipients SET password = COALESCE(?4, password), updated_ms = ?5
             WHERE job_id = ?1 AND block = ?2 AND address = ?3",
            params![job_id, u.block, u.address, password, now_ms as i64],
        )?,
    };
    Ok(())
}

/// Marks the job finished and purges its secrets when no message is left undone.
fn finish_if_done(conn: &Connection, job_id: &str, now_ms: u64) -> Result<bool, StoreError> {
    const OPEN: &str = const_format::formatcp!(
        "SELECT (SELECT count(*) FROM messages WHERE job_id = ?1 AND done = 0)
              + (SELECT count(*) FROM jobs WHERE id = ?1 AND state = {JOB_QUEUED})"
    );
    let open: i64 = query_row(conn, OPEN, params![job_id], |r| r.get(0))?;
    if open > 0 {
        return Ok(false);
    }
    // The callback setup (sealed) stays until the job is erased (retention or DELETE):
    // a bounce reported after delivery is pushed like every other event.
    const FINISH: &str = const_format::formatcp!(
        "UPDATE jobs SET state = {JOB_FINISHED}, finished_ms = ?2, request = NULL, lease_owner = NULL,
             lease_until = NULL
         WHERE id = ?1 AND state != {JOB_FINISHED}"
    );
    let changed = execute(conn, FINISH, params![job_id, now_ms as i64])?;
    execute(conn, "UPDATE messages SET content = NULL, held_secret = NULL WHERE job_id = ?1", params![job_id])?;
    Ok(changed > 0)
}

/// Marks a started job as delivering (its messages, if any, are queued).
fn start_delivering(conn: &Connection, job_id: &str) -> Result<(), StoreError> {
    const SQL: &str = const_format::formatcp!(
        "UPDATE jobs SET state = {JOB_DELIVERING}, lease_owner = NULL, lease_until = NULL WHERE id = ?1"
    );
    execute(conn, SQL, params![job_id])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    //! What only SQLite does: releasing every lease at start-up (one node per database) and
    //! refusing a newer schema. The store's contract itself is `crate::conformance`, run here
    //! and on PostgreSQL.
    use super::*;
    use crate::conformance::job;
    use crate::{Jobs, Queue, Store};

    fn store(dir: &Path) -> SqliteStore {
        SqliteStore::open(&dir.join("t.db"), AtRestKey::from_bytes([3; 32])).unwrap()
    }

    #[tokio::test]
    async fn leases_of_a_dead_worker_expire_or_are_released_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.submit(job("j1", None)).await.unwrap();
        assert!(s.claim("dead", 2_000, 1_000).await.unwrap().is_some());
        assert!(s.claim("w", 2_500, 1_000).await.unwrap().is_none());
        assert!(s.claim("w", 3_001, 1_000).await.unwrap().is_some(), "expired lease");
        s.release_leases().await.unwrap();
        assert!(s.claim("w2", 3_002, 1_000).await.unwrap().is_some(), "released");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 99").unwrap();
        let err = SqliteStore::open(&path, AtRestKey::from_bytes([3; 32])).err().unwrap();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    /// The backend-generic contract (`crate::conformance`), which PostgreSQL passes too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_store_contract_holds() {
        let dir = tempfile::tempdir().unwrap();
        let opened = AtomicUsize::new(0);
        crate::conformance::run_all(async |per_post| {
            let path = dir.path().join(format!("c{}.db", opened.fetch_add(1, Ordering::Relaxed)));
            let s = SqliteStore::open(&path, AtRestKey::from_bytes([3; 32])).unwrap();
            s.set_max_events_per_post(per_post);
            Arc::new(s) as Arc<dyn Store>
        })
        .await;
    }
}
