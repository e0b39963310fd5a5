//! The embedded store: one SQLite file in WAL mode (DESIGN §7).
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
//! The callback outbox is in [`outbox`], the suppression list and rate counters in [`lists`].

mod erase;
mod lists;
mod outbox;
mod rotate;
mod vacuum;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};
use tokio::sync::oneshot;

use super::at_rest::AtRestKey;
use super::codes::DbName;
use super::{
    ClaimedJob, ClaimedMessage, ClaimedPost, DeleteOutcome, DeliveryDecision, DeliveryStatus, Effects, JobStatus,
    LateBounce, LateBounceOutcome, MessageKind, NewJob, PasswordState, PostOutcome, RecipientStatus, Role,
    SealedEffects, StartDecision, Store, StoreError, StoredAccount, StoredEvent, Submitted, Suppression, Work,
};

/// Schema migrations, applied in order at start-up; `PRAGMA user_version` records how many
/// ran. Never edit a released entry: add a new one.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE accounts (
  name TEXT PRIMARY KEY, secret_hash BLOB NOT NULL, customer_no TEXT, created_ms INTEGER NOT NULL);
CREATE TABLE jobs (
  id TEXT PRIMARY KEY, account TEXT NOT NULL, received_ms INTEGER NOT NULL, request BLOB,
  secure INTEGER NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms INTEGER, lease_owner TEXT, lease_until INTEGER, finished_ms INTEGER);
CREATE INDEX jobs_due ON jobs(next_ms) WHERE state = 'queued';
CREATE TABLE recipients (
  job_id TEXT NOT NULL, block INTEGER NOT NULL, address TEXT NOT NULL, role TEXT NOT NULL,
  reference TEXT, status TEXT NOT NULL, password TEXT NOT NULL, reply TEXT, detail TEXT,
  updated_ms INTEGER NOT NULL, PRIMARY KEY (job_id, block, address));
CREATE TABLE messages (
  id TEXT PRIMARY KEY, job_id TEXT NOT NULL, block INTEGER NOT NULL, kind TEXT NOT NULL,
  parent TEXT, reverse_path TEXT NOT NULL, content BLOB, held_secret BLOB,
  first_attempt_ms INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms INTEGER NOT NULL, lease_owner TEXT, lease_until INTEGER, done INTEGER NOT NULL DEFAULT 0);
CREATE INDEX messages_due ON messages(next_ms) WHERE done = 0;
CREATE INDEX messages_job ON messages(job_id);
CREATE TABLE deliveries (
  message_id TEXT NOT NULL, address TEXT NOT NULL, name TEXT, role TEXT NOT NULL,
  status TEXT NOT NULL, PRIMARY KEY (message_id, address));
CREATE TABLE events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, block INTEGER NOT NULL,
  recipient TEXT NOT NULL, kind TEXT NOT NULL, description TEXT NOT NULL, ts_ms INTEGER NOT NULL);
CREATE INDEX events_job ON events(job_id, seq);
CREATE TABLE idempotency (
  account TEXT NOT NULL, key TEXT NOT NULL, body_sha256 BLOB NOT NULL, job_id TEXT NOT NULL,
  created_ms INTEGER NOT NULL, PRIMARY KEY (account, key));
"#,
    r#"
ALTER TABLE jobs ADD COLUMN callbacks BLOB;
CREATE TABLE callback_posts (
  id INTEGER PRIMARY KEY AUTOINCREMENT, job_id TEXT NOT NULL, state TEXT NOT NULL,
  tries INTEGER NOT NULL DEFAULT 0, next_ms INTEGER NOT NULL, last_status INTEGER, last_error TEXT,
  lease_owner TEXT, lease_until INTEGER, updated_ms INTEGER NOT NULL);
CREATE INDEX callback_posts_due ON callback_posts(next_ms) WHERE state = 'pending';
CREATE INDEX callback_posts_job ON callback_posts(job_id, id) WHERE state = 'pending';
ALTER TABLE events ADD COLUMN post INTEGER;
CREATE INDEX events_post ON events(post) WHERE post IS NOT NULL;
"#,
    r#"
CREATE TABLE suppressions (
  account TEXT NOT NULL, address TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
  job_id TEXT NOT NULL, created_ms INTEGER NOT NULL, until_ms INTEGER NOT NULL,
  PRIMARY KEY (account, address));
CREATE TABLE rate_windows (
  account TEXT NOT NULL, window INTEGER NOT NULL, recipients INTEGER NOT NULL,
  PRIMARY KEY (account, window));
"#,
    // Retention (crate::erase): finding expired jobs, and a job's rows in every table.
    r#"
CREATE INDEX jobs_finished ON jobs(finished_ms) WHERE state = 'finished';
CREATE INDEX callback_posts_of_job ON callback_posts(job_id);
CREATE INDEX idempotency_job ON idempotency(job_id);
"#,
];

/// How long an `Idempotency-Key` is remembered (DESIGN §2: 24 h).
const IDEMPOTENCY_MS: u64 = 24 * 3600 * 1000;
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
        migrate(&mut conn)?;
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

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if done > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database has schema version {done}, newer than this sealmail ({}); upgrade sealmail",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
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

fn db_err(what: &str, text: &str) -> StoreError {
    StoreError::Database(format!("unknown {what} {text:?} in the database"))
}

fn parse<T: DbName>(what: &str, text: &str) -> Result<T, StoreError> {
    T::from_db(text).ok_or_else(|| db_err(what, text))
}

impl SealedEffects {
    /// Inserts the enqueued messages (with their recipients) and the events (with their
    /// callback posts, at most `per_post` events each).
    fn insert_sqlite(&self, conn: &Connection, job_id: &str, now_ms: u64, per_post: usize) -> Result<(), StoreError> {
        let mut message = conn.prepare_cached(
            "INSERT INTO messages (id, job_id, block, kind, parent, reverse_path, content, held_secret, next_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        let mut delivery = conn.prepare_cached(
            "INSERT INTO deliveries (message_id, address, name, role, status) VALUES (?1, ?2, ?3, ?4, 'queued')",
        )?;
        for (m, (content, secret)) in self.effects.enqueued.iter().zip(&self.blobs) {
            message.execute(params![
                m.message_id,
                job_id,
                m.block,
                m.kind.to_db(),
                m.parent,
                m.reverse_path,
                content,
                secret,
                now_ms as i64
            ])?;
            for r in &m.recipients {
                delivery.execute(params![m.message_id, r.address, r.name, r.role.to_db()])?;
            }
        }
        outbox::insert_events(conn, job_id, now_ms, &self.effects, per_post)
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

fn apply_update(
    conn: &Connection,
    job_id: &str,
    kind: MessageKind,
    now_ms: u64,
    u: &super::RecipientUpdate,
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

/// Drops every recipient of a job the workflow could not process. The host records
/// this itself because the workflow could not (DESIGN §5: `PROCESS/FINISHED/DROPPED/
/// PROCESSING_FAILED`, and for a secure job the one PASSWORD_MAIL event each recipient gets).
fn fail_job(conn: &Connection, job_id: &str, now_ms: u64, why: &str, per_post: usize) -> Result<(), StoreError> {
    let secure: bool = query_row(conn, "SELECT secure FROM jobs WHERE id = ?1", params![job_id], |r| r.get(0))?;
    let mut stmt =
        conn.prepare_cached("SELECT block, address FROM recipients WHERE job_id = ?1 ORDER BY block, rowid")?;
    let recipients: Vec<(u32, String)> =
        stmt.query_map(params![job_id], |r| Ok((r.get(0)?, r.get(1)?)))?.collect::<Result<_, _>>()?;
    let mut effects = Effects::default();
    for (block, address) in recipients {
        let event = |kind, description: &str| super::Event {
            block,
            recipient: address.clone(),
            kind,
            description: description.to_owned(),
        };
        effects.events.push(event(super::EventKind::ProcessingFailed, why));
        if secure {
            effects.events.push(event(super::EventKind::PasswordMailNotTriggered, "the message was not sent"));
        }
    }
    outbox::insert_events(conn, job_id, now_ms, &effects, per_post)?;
    let password = if secure { "not_triggered" } else { "none" };
    execute(
        conn,
        "UPDATE recipients SET status = 'dropped', password = ?2, updated_ms = ?3 WHERE job_id = ?1",
        params![job_id, password, now_ms as i64],
    )?;
    execute(conn, "UPDATE jobs SET state = 'delivering' WHERE id = ?1", params![job_id])?;
    Ok(())
}

/// Marks the job finished and purges its secrets when no message is left undone.
fn finish_if_done(conn: &Connection, job_id: &str, now_ms: u64) -> Result<bool, StoreError> {
    let open: i64 = query_row(
        conn,
        "SELECT (SELECT count(*) FROM messages WHERE job_id = ?1 AND done = 0)
              + (SELECT count(*) FROM jobs WHERE id = ?1 AND state = 'queued')",
        params![job_id],
        |r| r.get(0),
    )?;
    if open > 0 {
        return Ok(false);
    }
    // The callback setup (sealed) stays until the job is erased (retention or DELETE):
    // a bounce reported after delivery is pushed like every other event.
    let changed = execute(
        conn,
        "UPDATE jobs SET state = 'finished', finished_ms = ?2, request = NULL, lease_owner = NULL, lease_until = NULL
         WHERE id = ?1 AND state != 'finished'",
        params![job_id, now_ms as i64],
    )?;
    execute(conn, "UPDATE messages SET content = NULL, held_secret = NULL WHERE job_id = ?1", params![job_id])?;
    Ok(changed > 0)
}

#[async_trait]
impl Store for SqliteStore {
    async fn submit(&self, job: NewJob) -> Result<Submitted, StoreError> {
        let request = self.inner.key.seal(&format!("request:{}", job.id), &job.request);
        let callbacks = match &job.callbacks {
            Some(setup) => Some(self.inner.key.seal(&format!("callbacks:{}", job.id), setup)),
            None => None,
        };
        self.write(move |conn| {
            if let Some((idem_key, sha)) = &job.idempotency {
                let cutoff = job.received_ms.saturating_sub(IDEMPOTENCY_MS) as i64;
                execute(
                    conn,
                    "DELETE FROM idempotency WHERE account = ?1 AND key = ?2 AND created_ms < ?3",
                    params![job.account, idem_key, cutoff],
                )?;
                let previous: Option<(Vec<u8>, String)> = conn
                    .query_row(
                        "SELECT body_sha256, job_id FROM idempotency WHERE account = ?1 AND key = ?2",
                        params![job.account, idem_key],
                        |r| Ok((r.get(0)?, r.get(1)?)),
                    )
                    .optional()?;
                if let Some((previous_sha, job_id)) = previous {
                    return Ok(if previous_sha == sha { Submitted::Replay(job_id) } else { Submitted::Conflict });
                }
            }
            // After the idempotency check: a replay is not a new submission and costs nothing.
            if let Some(per_hour) = job.recipients_per_hour
                && let Err(exceeded) =
                    lists::admit(conn, &job.account, per_hour, job.received_ms, job.recipients.len() as u64)?
            {
                return Ok(Submitted::RateLimited(exceeded));
            }
            if let Some((idem_key, sha)) = &job.idempotency {
                execute(
                    conn,
                    "INSERT INTO idempotency (account, key, body_sha256, job_id, created_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![job.account, idem_key, sha.as_slice(), job.id, job.received_ms as i64],
                )?;
            }
            execute(
                    conn,
                "INSERT INTO jobs (id, account, received_ms, request, secure, state, next_ms, callbacks)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?3, ?6)",
                params![job.id, job.account, job.received_ms as i64, request, job.secure, callbacks],
            )?;
            let password = if job.secure { PasswordState::Pending } else { PasswordState::None };
            let mut stmt = conn.prepare_cached(
                "INSERT OR IGNORE INTO recipients (job_id, block, address, role, reference, status, password, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7)",
            )?;
            for r in &job.recipients {
                stmt.execute(params![
                    job.id,
                    r.block,
                    r.address,
                    r.role.to_db(),
                    r.reference,
                    password.to_db(),
                    job.received_ms as i64
                ])?;
            }
            Ok(Submitted::Created)
        })
        .await
    }

    async fn account(&self, name: &str) -> Result<Option<StoredAccount>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn, _| {
            let row: Option<(Vec<u8>, Option<String>)> = conn
                .query_row("SELECT secret_hash, customer_no FROM accounts WHERE name = ?1", params![name], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            Ok(row.and_then(|(hash, customer_no)| {
                Some(StoredAccount { secret_hash: hash.as_slice().try_into().ok()?, customer_no })
            }))
        })
        .await
    }

    async fn add_account(
        &self,
        name: &str,
        secret_hash: [u8; 32],
        customer_no: Option<String>,
    ) -> Result<(), StoreError> {
        let name = name.to_owned();
        let now = sealmail_core::clock::now_ms();
        self.write(move |conn| {
            let inserted = execute(
                conn,
                "INSERT OR IGNORE INTO accounts (name, secret_hash, customer_no, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![name, secret_hash.as_slice(), customer_no, now as i64],
            )?;
            if inserted == 0 { Err(StoreError::AccountExists(name)) } else { Ok(()) }
        })
        .await
    }

    async fn rehash_account(&self, name: &str, old: [u8; 32], new: [u8; 32]) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |conn| {
            let updated = execute(
                conn,
                "UPDATE accounts SET secret_hash = ?3 WHERE name = ?1 AND secret_hash = ?2",
                params![name, old.as_slice(), new.as_slice()],
            )?;
            Ok(updated == 1)
        })
        .await
    }

    async fn unfinished_jobs(&self) -> Result<u64, StoreError> {
        self.read(|conn, _| {
            Ok(query_row(conn, "SELECT count(*) FROM jobs WHERE state != 'finished'", [], |r| r.get::<_, i64>(0))?
                as u64)
        })
        .await
    }

    async fn release_leases(&self) -> Result<(), StoreError> {
        self.write(|conn| {
            execute(conn, "UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL", [])?;
            execute(
                conn,
                "UPDATE messages SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL",
                [],
            )?;
            execute(
                conn,
                "UPDATE callback_posts SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL",
                [],
            )?;
            Ok(())
        })
        .await
    }

    async fn claim(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<Work>, StoreError> {
        let owner = owner.to_owned();
        let claimed = self
            .write_relaxed(move |conn| {
                let (now, until) = (now_ms as i64, (now_ms + lease_ms) as i64);
                // Oldest due work first, jobs and messages alike: a burst of submissions must
                // not starve the deliveries (and password mails) of the jobs before it.
                let (job_due, message_due): (Option<i64>, Option<i64>) = query_row(
                    conn,
                    "SELECT (SELECT min(next_ms) FROM jobs WHERE state = 'queued' AND next_ms <= ?1
                         AND (lease_until IS NULL OR lease_until < ?1)),
                        (SELECT min(next_ms) FROM messages WHERE done = 0 AND next_ms <= ?1
                         AND (lease_until IS NULL OR lease_until < ?1))",
                    params![now],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                let take_job = match (job_due, message_due) {
                    (Some(j), Some(m)) => j <= m,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                let job: Option<(String, i64, u32, Option<Vec<u8>>, bool)> = if !take_job {
                    None
                } else {
                    query_row(
                        conn,
                        "UPDATE jobs SET lease_owner = ?1, lease_until = ?2
                     WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND next_ms <= ?3
                                 AND (lease_until IS NULL OR lease_until < ?3) ORDER BY next_ms LIMIT 1)
                     RETURNING id, received_ms, attempts, request, secure",
                        params![owner, until, now],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                    )
                    .optional()?
                };
                if let Some((id, received_ms, attempts, request, secure)) = job {
                    let blob = request.ok_or_else(|| StoreError::Database(format!("job {id} has no request")))?;
                    // Still the ciphertext: opened below, outside the writer.
                    return Ok(Some(Work::Start(ClaimedJob {
                        id,
                        received_ms: received_ms as u64,
                        attempts,
                        request: blob,
                        secure,
                    })));
                }
                if message_due.is_none() {
                    return Ok(None);
                }
                let message: Option<(String, String, String, u32, Option<String>, i64, u32)> = conn
                    .query_row(
                        "UPDATE messages SET lease_owner = ?1, lease_until = ?2,
                         first_attempt_ms = CASE WHEN first_attempt_ms = 0 THEN ?3 ELSE first_attempt_ms END
                     WHERE id = (SELECT id FROM messages WHERE done = 0 AND next_ms <= ?3
                                 AND (lease_until IS NULL OR lease_until < ?3) ORDER BY next_ms LIMIT 1)
                     RETURNING id, job_id, kind, block, parent, first_attempt_ms, attempts",
                        params![owner, until, now],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
                    )
                    .optional()?;
                let Some((id, job_id, kind, block, parent, first_attempt_ms, attempts)) = message else {
                    return Ok(None);
                };
                let mut stmt = conn.prepare_cached(
                    "SELECT address, name, role, status FROM deliveries WHERE message_id = ?1 ORDER BY rowid",
                )?;
                let rows = stmt.query_map(params![id], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, Option<String>>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                })?;
                let mut recipients = Vec::new();
                for row in rows {
                    let (address, name, role, status) = row?;
                    recipients.push((
                        address,
                        name,
                        parse::<Role>("role", &role)?,
                        parse::<DeliveryStatus>("status", &status)?,
                    ));
                }
                Ok(Some(Work::Deliver(ClaimedMessage {
                    id,
                    job_id,
                    kind: parse("message kind", &kind)?,
                    block,
                    parent,
                    first_attempt_ms: first_attempt_ms as u64,
                    attempts,
                    recipients,
                })))
            })
            .await?;
        match claimed {
            Some(Work::Start(mut job)) => {
                // A job that cannot be decrypted keeps its lease until it runs out and is
                // claimed again; the error is logged by the worker each time.
                job.request = self.inner.key.open(&format!("request:{}", job.id), &job.request)?;
                Ok(Some(Work::Start(job)))
            }
            other => Ok(other),
        }
    }

    async fn next_due(&self) -> Result<Option<u64>, StoreError> {
        self.read(|conn, _| {
            let due: Option<i64> = query_row(
                conn,
                "SELECT min(t) FROM (SELECT min(next_ms) AS t FROM jobs WHERE state = 'queued'
                                     UNION ALL SELECT min(next_ms) FROM messages WHERE done = 0)",
                [],
                |r| r.get(0),
            )?;
            Ok(due.map(|d| d.max(0) as u64))
        })
        .await
    }

    async fn commit_start(
        &self,
        job_id: &str,
        now_ms: u64,
        decision: StartDecision,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let job_id = job_id.to_owned();
        let effects = SealedEffects::seal(&self.inner.key, effects);
        let per_post = self.events_per_post();
        self.write(move |conn| {
            effects.insert_sqlite(conn, &job_id, now_ms, per_post)?;
            match decision {
                StartDecision::Queued(dropped) => {
                    for u in &dropped {
                        apply_update(conn, &job_id, MessageKind::Original, now_ms, u)?;
                    }
                    execute(
                        conn,
                        "UPDATE jobs SET state = 'delivering', lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                        params![job_id],
                    )?;
                    // Nothing queued (cannot happen for a valid job, but never leave a job open).
                    finish_if_done(conn, &job_id, now_ms)
                }
                StartDecision::Dropped(updates) => {
                    for u in &updates {
                        apply_update(conn, &job_id, MessageKind::Original, now_ms, u)?;
                    }
                    execute(conn, "UPDATE jobs SET state = 'delivering' WHERE id = ?1", params![job_id])?;
                    finish_if_done(conn, &job_id, now_ms)
                }
                StartDecision::Failed(why) => {
                    fail_job(conn, &job_id, now_ms, &why, per_post)?;
                    finish_if_done(conn, &job_id, now_ms)
                }
                StartDecision::Retry(at) => {
                    execute(
                        conn,
                        "UPDATE jobs SET attempts = attempts + 1, next_ms = ?2, lease_owner = NULL, lease_until = NULL
                         WHERE id = ?1",
                        params![job_id, at as i64],
                    )?;
                    Ok(false)
                }
            }
        })
        .await
    }

    async fn commit_delivery(
        &self,
        message_id: &str,
        now_ms: u64,
        decision: DeliveryDecision,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let message_id = message_id.to_owned();
        let effects = SealedEffects::seal(&self.inner.key, effects);
        let per_post = self.events_per_post();
        self.write(move |conn| {
            let (job_id, kind): (String, String) =
                query_row(conn, "SELECT job_id, kind FROM messages WHERE id = ?1", params![message_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let kind: MessageKind = parse("message kind", &kind)?;
            let mut delivery =
                conn.prepare_cached("UPDATE deliveries SET status = ?3 WHERE message_id = ?1 AND address = ?2")?;
            for u in &decision.updates {
                delivery.execute(params![message_id, u.address, u.status.to_db()])?;
                apply_update(conn, &job_id, kind, now_ms, u)?;
            }
            effects.insert_sqlite(conn, &job_id, now_ms, per_post)?;
            for entry in &decision.suppress {
                lists::suppress(conn, &job_id, entry)?;
            }
            if decision.erase_held_secret {
                execute(conn, "UPDATE messages SET held_secret = NULL WHERE id = ?1", params![message_id])?;
            }
            let open: i64 = query_row(
                conn,
                "SELECT count(*) FROM deliveries WHERE message_id = ?1 AND status IN ('queued', 'deferred')",
                params![message_id],
                |r| r.get(0),
            )?;
            if open == 0 {
                execute(
                    conn,
                    "UPDATE messages SET done = 1, content = NULL, attempts = attempts + 1,
                         lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                    params![message_id],
                )?;
            } else {
                let next = decision.retry_at.unwrap_or(now_ms) as i64;
                execute(
                    conn,
                    "UPDATE messages SET attempts = attempts + 1, next_ms = ?2, lease_owner = NULL, lease_until = NULL
                     WHERE id = ?1",
                    params![message_id, next],
                )?;
            }
            finish_if_done(conn, &job_id, now_ms)
        })
        .await
    }

    async fn reschedule_message(&self, message_id: &str, at_ms: u64) -> Result<(), StoreError> {
        let message_id = message_id.to_owned();
        self.write(move |conn| {
            execute(
                conn,
                "UPDATE messages SET next_ms = ?2, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL
                 WHERE id = ?1",
                params![message_id, at_ms as i64],
            )?;
            Ok(())
        })
        .await
    }

    async fn message_content(&self, message_id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let message_id = message_id.to_owned();
        self.read(move |conn, key| {
            let row: Option<(String, Option<Vec<u8>>)> = conn
                .query_row("SELECT reverse_path, content FROM messages WHERE id = ?1", params![message_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            match row {
                Some((reverse_path, Some(blob))) => {
                    Ok(Some((reverse_path, key.open(&format!("message:{message_id}"), &blob)?)))
                }
                _ => Ok(None),
            }
        })
        .await
    }

    async fn held_secret(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let message_id = message_id.to_owned();
        self.read(move |conn, key| {
            let blob: Option<Option<Vec<u8>>> = conn
                .query_row("SELECT held_secret FROM messages WHERE id = ?1", params![message_id], |r| r.get(0))
                .optional()?;
            match blob.flatten() {
                Some(blob) => Ok(Some(key.open(&format!("secret:{message_id}"), &blob)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn job_status(&self, account: &str, job_id: &str) -> Result<Option<JobStatus>, StoreError> {
        let (account, job_id) = (account.to_owned(), job_id.to_owned());
        self.read(move |conn, _| {
            // Scoped by account: another account's job is indistinguishable from none.
            let job: Option<(i64, String, Option<i64>)> = conn
                .query_row(
                    "SELECT received_ms, state, finished_ms FROM jobs WHERE id = ?1 AND account = ?2",
                    params![job_id, account],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let Some((received_ms, state, finished_ms)) = job else { return Ok(None) };
            // Every statement of this API read names the account, not only the first: a later
            // edit cannot make one of them reach another account's rows (store::Isolation).
            let mut stmt = conn.prepare_cached(
                "SELECT r.block, r.address, r.role, r.reference, r.status, r.password, r.reply, r.detail, r.updated_ms
                 FROM recipients r JOIN jobs j ON j.id = r.job_id AND j.account = ?2
                 WHERE r.job_id = ?1 ORDER BY r.block, r.rowid",
            )?;
            let mut recipients = Vec::new();
            let mut rows = stmt.query(params![job_id, account])?;
            while let Some(r) = rows.next()? {
                recipients.push(RecipientStatus {
                    block: r.get(0)?,
                    address: r.get(1)?,
                    role: parse("role", &r.get::<_, String>(2)?)?,
                    reference: r.get(3)?,
                    status: parse("status", &r.get::<_, String>(4)?)?,
                    password: parse("password state", &r.get::<_, String>(5)?)?,
                    reply: r.get(6)?,
                    detail: r.get(7)?,
                    updated_ms: r.get::<_, i64>(8)? as u64,
                });
            }
            let mut stmt = conn.prepare_cached(
                "SELECT e.seq, e.block, e.recipient, e.kind, e.description, e.ts_ms,
                        p.state, p.tries, p.last_status, p.last_error
                 FROM events e JOIN jobs j ON j.id = e.job_id AND j.account = ?2
                      LEFT JOIN callback_posts p ON p.id = e.post
                 WHERE e.job_id = ?1 ORDER BY e.seq",
            )?;
            let mut events = Vec::new();
            let mut rows = stmt.query(params![job_id, account])?;
            while let Some(r) = rows.next()? {
                events.push(StoredEvent { notification: outbox::notification(r, 6)?, ..event_row(r)? });
            }
            Ok(Some(JobStatus {
                id: job_id,
                received_ms: received_ms as u64,
                state,
                finished_ms: finished_ms.map(|f| f as u64),
                recipients,
                events,
            }))
        })
        .await
    }

    async fn claim_post(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<ClaimedPost>, StoreError> {
        let owner = owner.to_owned();
        let Some(raw) = self.write_relaxed(move |conn| outbox::claim(conn, &owner, now_ms, lease_ms)).await? else {
            return Ok(None);
        };
        raw.open(&self.inner.key).map(Some)
    }

    async fn commit_post(&self, post_id: i64, now_ms: u64, outcome: PostOutcome) -> Result<(), StoreError> {
        self.write(move |conn| outbox::commit(conn, post_id, now_ms, &outcome)).await
    }

    async fn next_post_due(&self) -> Result<Option<u64>, StoreError> {
        self.read(|conn, _| outbox::next_due(conn)).await
    }

    async fn job_suppressions(&self, job_id: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
        let job_id = job_id.to_owned();
        self.read(move |conn, _| match lists::job_account(conn, &job_id)? {
            Some(account) => lists::list(conn, &account, Some(&job_id), now_ms),
            None => Ok(Vec::new()),
        })
        .await
    }

    async fn suppressions(&self, account: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
        let account = account.to_owned();
        self.read(move |conn, _| lists::list(conn, &account, None, now_ms)).await
    }

    async fn remove_suppression(&self, account: &str, address: &str) -> Result<bool, StoreError> {
        let (account, address) = (account.to_owned(), address.to_owned());
        self.write(move |conn| lists::unsuppress(conn, &account, &address)).await
    }

    async fn late_bounce(&self, bounce: LateBounce) -> Result<LateBounceOutcome, StoreError> {
        let per_post = self.events_per_post();
        self.write(move |conn| lists::late_bounce(conn, &bounce, per_post)).await
    }

    async fn delete_job(&self, account: &str, job_id: &str) -> Result<DeleteOutcome, StoreError> {
        let (account, job_id) = (account.to_owned(), job_id.to_owned());
        self.write(move |conn| erase::delete(conn, &account, &job_id)).await
    }

    async fn purge_finished(&self, before_ms: u64, batch: usize) -> Result<u64, StoreError> {
        // One batch per transaction: the writer thread, shared with every other write, is
        // held only for that long.
        self.write(move |conn| erase::purge(conn, before_ms, batch)).await
    }
}

#[cfg(test)]
mod tests {
    //! What only SQLite does: releasing every lease at start-up (one node per database) and
    //! refusing a newer schema. The `Store` contract itself is `store::conformance`, run here
    //! and on PostgreSQL.
    use super::*;
    use crate::conformance::job;

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

    /// The backend-generic contract (`store::conformance`), which PostgreSQL passes too.
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
