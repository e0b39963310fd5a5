//! The multi-node store: PostgreSQL, shared by several sealmail processes
//! (docs/service.md#several-nodes-on-postgresql), with the SQLite store's semantics
//! operation for operation.
//!
//! Work is shared with leases: a claim is one statement that picks the most overdue row
//! with `FOR UPDATE SKIP LOCKED` (two nodes never wait for, nor take, the same row) and sets
//! `lease_owner`/`lease_until`. A node that dies keeps its leases until `lease_until`
//! passes; then any node claims the work again. Lease times come from the nodes' clocks,
//! which must agree (NTP) to well within a lease. [`crate::Queue::release_leases`] is a
//! no-op here: it exists for the single node of an SQLite store, and on a shared database it
//! would take work away from live nodes (owners are per process, so a restarted node has no
//! leases of its own to release; its old ones simply expire).
//!
//! Consistency: every commit is one transaction at READ COMMITTED that first locks the
//! job's row (`SELECT … FOR UPDATE`), so the commits of one job run one after the other
//! across all nodes: the last message to finish sees the others done (`finish_if_done`),
//! one job's events and callback posts get ids in commit order, and the purge of a callback
//! setup cannot slip between two commits. Idempotency keys rely on the primary key with
//! `ON CONFLICT DO NOTHING`: of two racing submissions one inserts, the other waits for it
//! and replays. A deadlock or serialization failure reported by PostgreSQL repeats the
//! whole transaction ([`CONFLICT_ATTEMPTS`]).
//!
//! Durability: a write returns only after `COMMIT` returned, which with PostgreSQL's
//! default `synchronous_commit = on` means the WAL is flushed. Blobs are encrypted at rest
//! ([`crate::at_rest`]) before they are sent, so the database server never sees request
//! bodies, messages, passwords or callback credentials in clear.
//!
//! The connection is plain TCP or a Unix socket (`NoTls`): run the database on a private
//! network or the same host. One file per concern of the store's interface, as in the
//! SQLite backend: [`jobs`], [`queue`], [`messages`], [`outbox`], [`accounts`], [`lists`],
//! [`erase`]; migrations and the storage-key check in [`schema`], key rotation in [`rotate`].

mod accounts;
mod erase;
mod jobs;
mod lists;
mod messages;
mod outbox;
mod queue;
mod rotate;
mod schema;

use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use crate::at_rest::AtRestKey;
use crate::names::{DbName, JOB_DELIVERING, JOB_FINISHED, JOB_QUEUED, parse};
use crate::{MessageKind, RecipientUpdate, SealedEffects, StoreError, StoredEvent};

/// Tries of a transaction that PostgreSQL aborted for a conflict (deadlock, serialization).
const CONFLICT_ATTEMPTS: u32 = 5;
/// Connections per process: the workers, the dispatchers and the API share them; a claim or
/// a commit holds one for a few round trips only.
const POOL_SIZE: usize = 16;

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let conflict = matches!(e.code(), Some(c) if *c == SqlState::T_R_SERIALIZATION_FAILURE
            || *c == SqlState::T_R_DEADLOCK_DETECTED);
        let text = match e.as_db_error() {
            Some(db) => format!("{} ({})", db.message(), db.code().code()),
            None => e.to_string(),
        };
        if conflict { Self::Conflict(text) } else { Self::Database(text) }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => e.into(),
            other => Self::Database(format!("no database connection: {other}")),
        }
    }
}

/// Runs `$body` (a future using the transaction `$tx`) in a transaction and commits it; the
/// result is returned only once the commit is durable. The whole transaction is repeated
/// when PostgreSQL aborts it for a conflict, so `$body` must be safe to evaluate again.
macro_rules! in_transaction {
    ($store:expr, $tx:ident => $body:expr) => {{
        let mut attempt = 1;
        loop {
            let result = async {
                let mut client = $store.pool.get().await?;
                let $tx = client.transaction().await?;
                let value = $body.await?;
                $tx.commit().await?;
                Ok::<_, $crate::StoreError>(value)
            }
            .await;
            match result {
                Err($crate::StoreError::Conflict(why)) if attempt < $crate::postgres::CONFLICT_ATTEMPTS => {
                    tracing::debug!(%why, attempt, "transaction conflict; repeating it");
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}
use in_transaction;

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    key: AtRestKey,
    events_per_post: usize,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").field("events_per_post", &self.events_per_post).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://USER:PASSWORD@HOST:PORT/DB`, or libpq's `key=value`
    /// form), runs pending migrations and checks that the database was set up with `key`
    /// (recording it on first start). `max_events_per_post` bounds one callback `POST`.
    pub async fn open(url: &str, key: AtRestKey, max_events_per_post: usize) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Database(format!("invalid PostgreSQL URL: {e}")))?;
        config.application_name("sealmail");
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Database(format!("cannot create the connection pool: {e}")))?;
        let mut client = pool.get().await?;
        schema::migrate(&mut client).await?;
        schema::check_key(&client, &key).await?;
        drop(client);
        Ok(Self { pool, key, events_per_post: max_events_per_post.max(1) })
    }
}

/// An event from the columns `seq, block, recipient, kind, description, ts_ms` (the first
/// six of the row), without its notification state.
fn event_row(r: &Row) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: r.try_get(0)?,
        block: r.try_get::<_, i32>(1)? as u32,
        recipient: r.try_get(2)?,
        kind: parse("event kind", r.try_get(3)?)?,
        description: r.try_get(4)?,
        ts_ms: r.try_get::<_, i64>(5)? as u64,
        notification: None,
    })
}

/// Locks the job's row until the transaction ends: one job's commits, on any node, run one
/// after the other (see the module documentation).
async fn lock_job(tx: &impl GenericClient, job_id: &str) -> Result<(), StoreError> {
    tx.query_opt("SELECT 1 FROM jobs WHERE id = $1 FOR UPDATE", &[&job_id]).await?;
    Ok(())
}

impl SealedEffects {
    /// Inserts the enqueued messages (with their recipients) and the events (with their
    /// callback posts, at most `per_post` events each).
    async fn insert_postgres(
        &self,
        tx: &impl GenericClient,
        job_id: &str,
        now_ms: u64,
        per_post: usize,
    ) -> Result<(), StoreError> {
        messages::insert(tx, job_id, now_ms, &self.effects.enqueued, &self.blobs).await?;
        outbox::insert_events(tx, job_id, now_ms, &self.effects.events, per_post).await
    }
}

/// Applies a recipient's new state, decided for its original or its password mail.
async fn apply_update(
    tx: &impl GenericClient,
    job_id: &str,
    kind: MessageKind,
    now_ms: u64,
    u: &RecipientUpdate,
) -> Result<(), StoreError> {
    let password = u.password.map(DbName::to_db);
    let (block, now) = (u.block as i32, now_ms as i64);
    match kind {
        MessageKind::Original => {
            tx.execute(
                "UPDATE recipients SET status = $4, password = COALESCE($5, password), reply = COALESCE($6, reply),
                     detail = $7, updated_ms = $8
                 WHERE job_id = $1 AND block = $2 AND address = $3",
                &[&job_id, &block, &u.address, &u.status.to_db(), &password, &u.reply, &u.detail, &now],
            )
            .await?
        }
        // A password mail's own delivery status lives in `deliveries`; the recipient's row
        // keeps its original's status and reply, and gets the password state.
        MessageKind::PasswordMail => {
            tx.execute(
                "UPDATE recipients SET password = COALESCE($4, password), updated_ms = $5
                 WHERE job_id = $1 AND block = $2 AND address = $3",
                &[&job_id, &block, &u.address, &password, &now],
            )
            .await?
        }
    };
    Ok(())
}

/// Marks the job finished and purges its secrets when no message is left undone. The
/// caller holds the job's row lock.
async fn finish_if_done(tx: &impl GenericClient, job_id: &str, now_ms: u64) -> Result<bool, StoreError> {
    const OPEN: &str = const_format::formatcp!(
        "SELECT (SELECT count(*) FROM messages WHERE job_id = $1 AND NOT done)
              + (SELECT count(*) FROM jobs WHERE id = $1 AND state = {JOB_QUEUED})"
    );
    const FINISH: &str = const_format::formatcp!(
        "UPDATE jobs SET state = {JOB_FINISHED}, finished_ms = $2, request = NULL, lease_owner = NULL,
             lease_until = NULL
         WHERE id = $1 AND state != {JOB_FINISHED}"
    );
    let open: i64 = tx.query_one(OPEN, &[&job_id]).await?.try_get(0)?;
    if open > 0 {
        return Ok(false);
    }
    // The callback setup (sealed) stays until the job is erased (retention or DELETE):
    // a bounce reported after delivery is pushed like every other event.
    let changed = tx.execute(FINISH, &[&job_id, &(now_ms as i64)]).await?;
    tx.execute("UPDATE messages SET content = NULL, held_secret = NULL WHERE job_id = $1", &[&job_id]).await?;
    Ok(changed > 0)
}

/// Marks a started job as delivering (its messages, if any, are queued).
async fn start_delivering(tx: &impl GenericClient, job_id: &str) -> Result<(), StoreError> {
    const SQL: &str = const_format::formatcp!(
        "UPDATE jobs SET state = {JOB_DELIVERING}, lease_owner = NULL, lease_until = NULL WHERE id = $1"
    );
    tx.execute(SQL, &[&job_id]).await?;
    Ok(())
}
