//! The multi-node store: PostgreSQL, shared by several sealmail processes (DESIGN §7), with
//! the SQLite store's semantics operation for operation.
//!
//! Work is shared with leases: a claim is one statement that picks the most overdue row
//! with `FOR UPDATE SKIP LOCKED` (two nodes never wait for, nor take, the same row) and sets
//! `lease_owner`/`lease_until`. A node that dies keeps its leases until `lease_until`
//! passes; then any node claims the work again. Lease times come from the nodes' clocks,
//! which must agree (NTP) to well within a lease. [`Store::release_leases`] is a no-op here:
//! it exists for the single node of an SQLite store, and on a shared database it would
//! take work away from live nodes (owners are per process, so a restarted node has no
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
//! ([`super::at_rest`]) before they are sent, so the database server never sees request
//! bodies, messages, passwords or callback credentials in clear.
//!
//! The connection is plain TCP or a Unix socket (`NoTls`): run the database on a private
//! network or the same host. The callback outbox is in [`outbox`], the suppression list
//! and rate counters in [`lists`], migrations and the storage-key check in [`schema`].

mod erase;
mod lists;
mod outbox;
mod rotate;
mod schema;

use async_trait::async_trait;
use deadpool_postgres::{GenericClient, Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::error::SqlState;
use tokio_postgres::{NoTls, Row};

use super::at_rest::AtRestKey;
use super::codes::DbName;
use super::{
    ClaimedJob, ClaimedMessage, ClaimedPost, DeliveryDecision, DeliveryStatus, Effects, JobStatus, MessageKind, NewJob,
    PasswordState, PostOutcome, RecipientStatus, RecipientUpdate, Role, SealedEffects, StartDecision, Store,
    StoreError, StoredAccount, StoredEvent, Submitted, Suppression, Work,
};

/// How long an `Idempotency-Key` is remembered (DESIGN §2: 24 h).
const IDEMPOTENCY_MS: u64 = 24 * 3600 * 1000;
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
                Ok::<_, StoreError>(value)
            }
            .await;
            match result {
                Err(StoreError::Conflict(why)) if attempt < CONFLICT_ATTEMPTS => {
                    tracing::debug!(%why, attempt, "transaction conflict; repeating it");
                    attempt += 1;
                }
                other => break other,
            }
        }
    }};
}

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

fn parse<T: DbName>(what: &str, text: &str) -> Result<T, StoreError> {
    T::from_db(text).ok_or_else(|| StoreError::Database(format!("unknown {what} {text:?} in the database")))
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
        let message = tx
            .prepare_cached(
                "INSERT INTO messages (id, job_id, block, kind, parent, reverse_path, content, held_secret, next_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .await?;
        let delivery = tx
            .prepare_cached(
                "INSERT INTO deliveries (message_id, address, name, role, status) VALUES ($1, $2, $3, $4, 'queued')",
            )
            .await?;
        for (m, (content, secret)) in self.effects.enqueued.iter().zip(&self.blobs) {
            let block = m.block as i32;
            tx.execute(
                &message,
                &[
                    &m.message_id,
                    &job_id,
                    &block,
                    &m.kind.to_db(),
                    &m.parent,
                    &m.reverse_path,
                    content,
                    secret,
                    &(now_ms as i64),
                ],
            )
            .await?;
            for r in &m.recipients {
                tx.execute(&delivery, &[&m.message_id, &r.address, &r.name, &r.role.to_db()]).await?;
            }
        }
        outbox::insert_events(tx, job_id, now_ms, &self.effects, per_post).await
    }
}

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

/// Drops every recipient of a job the workflow could not process (as the SQLite store does:
/// PROCESSING_FAILED, and PASSWORD_MAIL/NOT_TRIGGERED for a secure job).
async fn fail_job(
    tx: &impl GenericClient,
    job_id: &str,
    now_ms: u64,
    why: &str,
    per_post: usize,
) -> Result<(), StoreError> {
    let secure: bool = tx.query_one("SELECT secure FROM jobs WHERE id = $1", &[&job_id]).await?.try_get(0)?;
    let rows =
        tx.query("SELECT block, address FROM recipients WHERE job_id = $1 ORDER BY block, seq", &[&job_id]).await?;
    let mut effects = Effects::default();
    for row in rows {
        let (block, address): (i32, String) = (row.try_get(0)?, row.try_get(1)?);
        let event = |kind, description: &str| super::Event {
            block: block as u32,
            recipient: address.clone(),
            kind,
            description: description.to_owned(),
        };
        effects.events.push(event(super::EventKind::ProcessingFailed, why));
        if secure {
            effects.events.push(event(super::EventKind::PasswordMailNotTriggered, "the message was not sent"));
        }
    }
    outbox::insert_events(tx, job_id, now_ms, &effects, per_post).await?;
    let password = if secure { "not_triggered" } else { "none" };
    tx.execute(
        "UPDATE recipients SET status = 'dropped', password = $2, updated_ms = $3 WHERE job_id = $1",
        &[&job_id, &password, &(now_ms as i64)],
    )
    .await?;
    tx.execute("UPDATE jobs SET state = 'delivering' WHERE id = $1", &[&job_id]).await?;
    Ok(())
}

/// Marks the job finished and purges its secrets when no message is left undone. The
/// caller holds the job's row lock.
async fn finish_if_done(tx: &impl GenericClient, job_id: &str, now_ms: u64) -> Result<bool, StoreError> {
    let open: i64 = tx
        .query_one(
            "SELECT (SELECT count(*) FROM messages WHERE job_id = $1 AND NOT done)
                  + (SELECT count(*) FROM jobs WHERE id = $1 AND state = 'queued')",
            &[&job_id],
        )
        .await?
        .try_get(0)?;
    if open > 0 {
        return Ok(false);
    }
    // The callback setup (sealed) stays until the job is erased (retention or DELETE):
    // a bounce reported after delivery is pushed like every other event.
    let changed = tx
        .execute(
            "UPDATE jobs SET state = 'finished', finished_ms = $2, request = NULL, lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND state != 'finished'",
            &[&job_id, &(now_ms as i64)],
        )
        .await?;
    tx.execute("UPDATE messages SET content = NULL, held_secret = NULL WHERE job_id = $1", &[&job_id]).await?;
    Ok(changed > 0)
}

async fn submit_in(
    tx: &impl GenericClient,
    job: &NewJob,
    request: &[u8],
    callbacks: &Option<Vec<u8>>,
) -> Result<Submitted, StoreError> {
    let received = job.received_ms as i64;
    if let Some((idem_key, sha)) = &job.idempotency {
        let cutoff = job.received_ms.saturating_sub(IDEMPOTENCY_MS) as i64;
        tx.execute(
            "DELETE FROM idempotency WHERE account = $1 AND key = $2 AND created_ms < $3",
            &[&job.account, idem_key, &cutoff],
        )
        .await?;
        // Of two racing submissions with one key, the second waits here for the first to
        // commit, inserts nothing and replays (or conflicts) below.
        let inserted = tx
            .execute(
                "INSERT INTO idempotency (account, key, body_sha256, job_id, created_ms) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (account, key) DO NOTHING",
                &[&job.account, idem_key, &sha.as_slice(), &job.id, &received],
            )
            .await?;
        if inserted == 0 {
            let row = tx
                .query_one(
                    "SELECT body_sha256, job_id FROM idempotency WHERE account = $1 AND key = $2",
                    &[&job.account, idem_key],
                )
                .await?;
            let (previous_sha, job_id): (Vec<u8>, String) = (row.try_get(0)?, row.try_get(1)?);
            return Ok(if previous_sha == sha { Submitted::Replay(job_id) } else { Submitted::Conflict });
        }
    }
    // After the idempotency check: a replay is not a new submission and costs nothing.
    if let Some(per_hour) = job.recipients_per_hour
        && let Err(exceeded) =
            lists::admit(tx, &job.account, per_hour, job.received_ms, job.recipients.len() as u64).await?
    {
        // Not stored, so the key is not spent either: the insert above is undone in the
        // same transaction.
        if let Some((idem_key, _)) = &job.idempotency {
            tx.execute("DELETE FROM idempotency WHERE account = $1 AND key = $2", &[&job.account, idem_key]).await?;
        }
        return Ok(Submitted::RateLimited(exceeded));
    }
    tx.execute(
        "INSERT INTO jobs (id, account, received_ms, request, secure, state, next_ms, callbacks)
         VALUES ($1, $2, $3, $4, $5, 'queued', $3, $6)",
        &[&job.id, &job.account, &received, &request, &job.secure, callbacks],
    )
    .await?;
    let password = if job.secure { PasswordState::Pending } else { PasswordState::None };
    let insert = tx
        .prepare_cached(
            "INSERT INTO recipients (job_id, block, address, role, reference, status, password, updated_ms)
             VALUES ($1, $2, $3, $4, $5, 'queued', $6, $7) ON CONFLICT DO NOTHING",
        )
        .await?;
    for r in &job.recipients {
        let block = r.block as i32;
        tx.execute(
            &insert,
            &[&job.id, &block, &r.address, &r.role.to_db(), &r.reference, &password.to_db(), &received],
        )
        .await?;
    }
    Ok(Submitted::Created)
}

async fn commit_start_in(
    tx: &impl GenericClient,
    job_id: &str,
    now_ms: u64,
    decision: &StartDecision,
    effects: &SealedEffects,
    per_post: usize,
) -> Result<bool, StoreError> {
    lock_job(tx, job_id).await?;
    effects.insert_postgres(tx, job_id, now_ms, per_post).await?;
    match decision {
        StartDecision::Queued(dropped) => {
            for u in dropped {
                apply_update(tx, job_id, MessageKind::Original, now_ms, u).await?;
            }
            tx.execute(
                "UPDATE jobs SET state = 'delivering', lease_owner = NULL, lease_until = NULL WHERE id = $1",
                &[&job_id],
            )
            .await?;
            // Nothing queued (cannot happen for a valid job, but never leave a job open).
            finish_if_done(tx, job_id, now_ms).await
        }
        StartDecision::Dropped(updates) => {
            for u in updates {
                apply_update(tx, job_id, MessageKind::Original, now_ms, u).await?;
            }
            tx.execute("UPDATE jobs SET state = 'delivering' WHERE id = $1", &[&job_id]).await?;
            finish_if_done(tx, job_id, now_ms).await
        }
        StartDecision::Failed(why) => {
            fail_job(tx, job_id, now_ms, why, per_post).await?;
            finish_if_done(tx, job_id, now_ms).await
        }
        StartDecision::Retry(at) => {
            tx.execute(
                "UPDATE jobs SET attempts = attempts + 1, next_ms = $2, lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
                &[&job_id, &(*at as i64)],
            )
            .await?;
            Ok(false)
        }
    }
}

async fn commit_delivery_in(
    tx: &impl GenericClient,
    message_id: &str,
    now_ms: u64,
    decision: &DeliveryDecision,
    effects: &SealedEffects,
    per_post: usize,
) -> Result<bool, StoreError> {
    let row = tx.query_one("SELECT job_id, kind FROM messages WHERE id = $1", &[&message_id]).await?;
    let (job_id, kind): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    let kind: MessageKind = parse("message kind", &kind)?;
    lock_job(tx, &job_id).await?;
    let delivery =
        tx.prepare_cached("UPDATE deliveries SET status = $3 WHERE message_id = $1 AND address = $2").await?;
    for u in &decision.updates {
        tx.execute(&delivery, &[&message_id, &u.address, &u.status.to_db()]).await?;
        apply_update(tx, &job_id, kind, now_ms, u).await?;
    }
    effects.insert_postgres(tx, &job_id, now_ms, per_post).await?;
    for entry in &decision.suppress {
        lists::suppress(tx, &job_id, entry).await?;
    }
    if decision.erase_held_secret {
        tx.execute("UPDATE messages SET held_secret = NULL WHERE id = $1", &[&message_id]).await?;
    }
    let open: i64 = tx
        .query_one(
            "SELECT count(*) FROM deliveries WHERE message_id = $1 AND status IN ('queued', 'deferred')",
            &[&message_id],
        )
        .await?
        .try_get(0)?;
    if open == 0 {
        tx.execute(
            "UPDATE messages SET done = TRUE, content = NULL, attempts = attempts + 1,
                 lease_owner = NULL, lease_until = NULL WHERE id = $1",
            &[&message_id],
        )
        .await?;
    } else {
        let next = decision.retry_at.unwrap_or(now_ms) as i64;
        tx.execute(
            "UPDATE messages SET attempts = attempts + 1, next_ms = $2, lease_owner = NULL, lease_until = NULL
             WHERE id = $1",
            &[&message_id, &next],
        )
        .await?;
    }
    finish_if_done(tx, &job_id, now_ms).await
}

/// Claims the most overdue queued job; its request still sealed.
async fn claim_job(client: &impl GenericClient, owner: &str, now: i64, until: i64) -> Result<Option<Work>, StoreError> {
    let row = client
        .query_opt(
            "WITH next AS (
                 SELECT id FROM jobs WHERE state = 'queued' AND next_ms <= $3
                   AND (lease_until IS NULL OR lease_until < $3)
                 ORDER BY next_ms LIMIT 1 FOR UPDATE SKIP LOCKED)
             UPDATE jobs SET lease_owner = $1, lease_until = $2 FROM next WHERE jobs.id = next.id
             RETURNING jobs.id, jobs.received_ms, jobs.attempts, jobs.request, jobs.secure",
            &[&owner, &until, &now],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get(0)?;
    let request: Option<Vec<u8>> = row.try_get(3)?;
    let request = request.ok_or_else(|| StoreError::Database(format!("job {id} has no request")))?;
    Ok(Some(Work::Start(ClaimedJob {
        received_ms: row.try_get::<_, i64>(1)? as u64,
        attempts: row.try_get::<_, i32>(2)? as u32,
        request,
        secure: row.try_get(4)?,
        id,
    })))
}

/// Claims the most overdue undone message, with its recipients.
async fn claim_message(
    client: &impl GenericClient,
    owner: &str,
    now: i64,
    until: i64,
) -> Result<Option<Work>, StoreError> {
    let row = client
        .query_opt(
            "WITH next AS (
                 SELECT id FROM messages WHERE NOT done AND next_ms <= $3
                   AND (lease_until IS NULL OR lease_until < $3)
                 ORDER BY next_ms LIMIT 1 FOR UPDATE SKIP LOCKED)
             UPDATE messages SET lease_owner = $1, lease_until = $2,
                 first_attempt_ms = CASE WHEN messages.first_attempt_ms = 0 THEN $3 ELSE messages.first_attempt_ms END
             FROM next WHERE messages.id = next.id
             RETURNING messages.id, messages.job_id, messages.kind, messages.block, messages.parent,
                       messages.first_attempt_ms, messages.attempts",
            &[&owner, &until, &now],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let id: String = row.try_get(0)?;
    let rows = client
        .query("SELECT address, name, role, status FROM deliveries WHERE message_id = $1 ORDER BY seq", &[&id])
        .await?;
    let mut recipients = Vec::with_capacity(rows.len());
    for r in rows {
        recipients.push((
            r.try_get(0)?,
            r.try_get(1)?,
            parse::<Role>("role", r.try_get(2)?)?,
            parse::<DeliveryStatus>("status", r.try_get(3)?)?,
        ));
    }
    Ok(Some(Work::Deliver(ClaimedMessage {
        job_id: row.try_get(1)?,
        kind: parse("message kind", row.try_get(2)?)?,
        block: row.try_get::<_, i32>(3)? as u32,
        parent: row.try_get(4)?,
        first_attempt_ms: row.try_get::<_, i64>(5)? as u64,
        attempts: row.try_get::<_, i32>(6)? as u32,
        recipients,
        id,
    })))
}

#[async_trait]
impl Store for PostgresStore {
    async fn submit(&self, job: NewJob) -> Result<Submitted, StoreError> {
        let request = self.key.seal(&format!("request:{}", job.id), &job.request);
        let callbacks = match &job.callbacks {
            Some(setup) => Some(self.key.seal(&format!("callbacks:{}", job.id), setup)),
            None => None,
        };
        in_transaction!(self, tx => submit_in(&tx, &job, &request, &callbacks))
    }

    async fn account(&self, name: &str) -> Result<Option<StoredAccount>, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT secret_hash, customer_no FROM accounts WHERE name = $1", &[&name]).await?;
        let Some(row) = row else { return Ok(None) };
        let (hash, customer_no): (Vec<u8>, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
        Ok(hash.as_slice().try_into().ok().map(|secret_hash| StoredAccount { secret_hash, customer_no }))
    }

    async fn add_account(
        &self,
        name: &str,
        secret_hash: [u8; 32],
        customer_no: Option<String>,
    ) -> Result<(), StoreError> {
        let now = sealmail_core::clock::now_ms() as i64;
        let client = self.pool.get().await?;
        let inserted = client
            .execute(
                "INSERT INTO accounts (name, secret_hash, customer_no, created_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &secret_hash.as_slice(), &customer_no, &now],
            )
            .await?;
        if inserted == 0 { Err(StoreError::AccountExists(name.to_owned())) } else { Ok(()) }
    }

    async fn rehash_account(&self, name: &str, old: [u8; 32], new: [u8; 32]) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let updated = client
            .execute(
                "UPDATE accounts SET secret_hash = $3 WHERE name = $1 AND secret_hash = $2",
                &[&name, &old.as_slice(), &new.as_slice()],
            )
            .await?;
        Ok(updated == 1)
    }

    async fn unfinished_jobs(&self) -> Result<u64, StoreError> {
        let client = self.pool.get().await?;
        let n: i64 = client.query_one("SELECT count(*) FROM jobs WHERE state != 'finished'", &[]).await?.try_get(0)?;
        Ok(n as u64)
    }

    /// A no-op: other live nodes hold leases in this database (see the module documentation).
    async fn release_leases(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn claim(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<Work>, StoreError> {
        let (now, until) = (now_ms as i64, now_ms.saturating_add(lease_ms) as i64);
        let client = self.pool.get().await?;
        // Oldest due work first, jobs and messages alike (as in SQLite); when the older
        // kind's due rows are all being claimed by other workers right now, the other kind.
        let due = client
            .query_one(
                "SELECT (SELECT min(next_ms) FROM jobs WHERE state = 'queued' AND next_ms <= $1
                         AND (lease_until IS NULL OR lease_until < $1)),
                        (SELECT min(next_ms) FROM messages WHERE NOT done AND next_ms <= $1
                         AND (lease_until IS NULL OR lease_until < $1))",
                &[&now],
            )
            .await?;
        let (job_due, message_due): (Option<i64>, Option<i64>) = (due.try_get(0)?, due.try_get(1)?);
        let jobs_first = match (job_due, message_due) {
            (None, None) => return Ok(None),
            (Some(j), Some(m)) => j <= m,
            (Some(_), None) => true,
            (None, Some(_)) => false,
        };
        let claimed = if jobs_first {
            match claim_job(&client, owner, now, until).await? {
                Some(work) => Some(work),
                None => claim_message(&client, owner, now, until).await?,
            }
        } else {
            match claim_message(&client, owner, now, until).await? {
                Some(work) => Some(work),
                None => claim_job(&client, owner, now, until).await?,
            }
        };
        drop(client);
        match claimed {
            Some(Work::Start(mut job)) => {
                // A job that cannot be decrypted keeps its lease until it runs out and is
                // claimed again; the error is logged by the worker each time.
                job.request = self.key.open(&format!("request:{}", job.id), &job.request)?;
                Ok(Some(Work::Start(job)))
            }
            other => Ok(other),
        }
    }

    async fn next_due(&self) -> Result<Option<u64>, StoreError> {
        let client = self.pool.get().await?;
        let due: Option<i64> = client
            .query_one(
                "SELECT min(t) FROM (SELECT min(next_ms) AS t FROM jobs WHERE state = 'queued'
                                     UNION ALL SELECT min(next_ms) FROM messages WHERE NOT done) due",
                &[],
            )
            .await?
            .try_get(0)?;
        Ok(due.map(|d| d.max(0) as u64))
    }

    async fn commit_start(
        &self,
        job_id: &str,
        now_ms: u64,
        decision: StartDecision,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let effects = SealedEffects::seal(&self.key, effects);
        let per_post = self.events_per_post;
        in_transaction!(self, tx => commit_start_in(&tx, job_id, now_ms, &decision, &effects, per_post))
    }

    async fn commit_delivery(
        &self,
        message_id: &str,
        now_ms: u64,
        decision: DeliveryDecision,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let effects = SealedEffects::seal(&self.key, effects);
        let per_post = self.events_per_post;
        in_transaction!(self, tx => commit_delivery_in(&tx, message_id, now_ms, &decision, &effects, per_post))
    }

    async fn reschedule_message(&self, message_id: &str, at_ms: u64) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE messages SET next_ms = $2, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
                &[&message_id, &(at_ms as i64)],
            )
            .await?;
        Ok(())
    }

    async fn message_content(&self, message_id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT reverse_path, content FROM messages WHERE id = $1", &[&message_id]).await?;
        let Some(row) = row else { return Ok(None) };
        let (reverse_path, blob): (String, Option<Vec<u8>>) = (row.try_get(0)?, row.try_get(1)?);
        match blob {
            Some(blob) => Ok(Some((reverse_path, self.key.open(&format!("message:{message_id}"), &blob)?))),
            None => Ok(None),
        }
    }

    async fn held_secret(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT held_secret FROM messages WHERE id = $1", &[&message_id]).await?;
        match row.map(|r| r.try_get::<_, Option<Vec<u8>>>(0)).transpose()?.flatten() {
            Some(blob) => Ok(Some(self.key.open(&format!("secret:{message_id}"), &blob)?)),
            None => Ok(None),
        }
    }

    async fn job_status(&self, account: &str, job_id: &str) -> Result<Option<JobStatus>, StoreError> {
        let mut client = self.pool.get().await?;
        // One snapshot for the job, its recipients and its events.
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        // Scoped by account: another account's job is indistinguishable from none.
        let job = tx
            .query_opt(
                "SELECT received_ms, state, finished_ms FROM jobs WHERE id = $1 AND account = $2",
                &[&job_id, &account],
            )
            .await?;
        let Some(job) = job else { return Ok(None) };
        let (received_ms, state, finished_ms): (i64, String, Option<i64>) =
            (job.try_get(0)?, job.try_get(1)?, job.try_get(2)?);
        let rows = tx
            .query(
                // Every statement of this API read names the account (store::Isolation).
                "SELECT r.block, r.address, r.role, r.reference, r.status, r.password, r.reply, r.detail, r.updated_ms
                 FROM recipients r JOIN jobs j ON j.id = r.job_id AND j.account = $2
                 WHERE r.job_id = $1 ORDER BY r.block, r.seq",
                &[&job_id, &account],
            )
            .await?;
        let mut recipients = Vec::with_capacity(rows.len());
        for r in rows {
            recipients.push(RecipientStatus {
                block: r.try_get::<_, i32>(0)? as u32,
                address: r.try_get(1)?,
                role: parse("role", r.try_get(2)?)?,
                reference: r.try_get(3)?,
                status: parse("status", r.try_get(4)?)?,
                password: parse("password state", r.try_get(5)?)?,
                reply: r.try_get(6)?,
                detail: r.try_get(7)?,
                updated_ms: r.try_get::<_, i64>(8)? as u64,
            });
        }
        let rows = tx
            .query(
                "SELECT e.seq, e.block, e.recipient, e.kind, e.description, e.ts_ms,
                        p.state, p.tries, p.last_status, p.last_error
                 FROM events e JOIN jobs j ON j.id = e.job_id AND j.account = $2
                      LEFT JOIN callback_posts p ON p.id = e.post
                 WHERE e.job_id = $1 ORDER BY e.seq",
                &[&job_id, &account],
            )
            .await?;
        let mut events = Vec::with_capacity(rows.len());
        for r in &rows {
            events.push(StoredEvent { notification: outbox::notification(r, 6)?, ..event_row(r)? });
        }
        tx.commit().await?;
        Ok(Some(JobStatus {
            id: job_id.to_owned(),
            received_ms: received_ms as u64,
            state,
            finished_ms: finished_ms.map(|f| f as u64),
            recipients,
            events,
        }))
    }

    async fn claim_post(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<ClaimedPost>, StoreError> {
        let client = self.pool.get().await?;
        let Some(raw) = outbox::claim(&client, owner, now_ms, lease_ms).await? else { return Ok(None) };
        drop(client);
        raw.open(&self.key).map(Some)
    }

    async fn commit_post(&self, post_id: i64, now_ms: u64, outcome: PostOutcome) -> Result<(), StoreError> {
        in_transaction!(self, tx => outbox::commit(&tx, post_id, now_ms, &outcome))
    }

    async fn next_post_due(&self) -> Result<Option<u64>, StoreError> {
        let client = self.pool.get().await?;
        outbox::next_due(&client).await
    }

    async fn job_suppressions(&self, job_id: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
        let client = self.pool.get().await?;
        lists::of_job(&client, job_id, now_ms).await
    }

    async fn suppressions(&self, account: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
        let client = self.pool.get().await?;
        lists::of_account(&client, account, now_ms).await
    }

    async fn remove_suppression(&self, account: &str, address: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        lists::unsuppress(&client, account, address).await
    }

    async fn late_bounce(&self, bounce: super::LateBounce) -> Result<super::LateBounceOutcome, StoreError> {
        let per_post = self.events_per_post;
        in_transaction!(self, tx => lists::late_bounce(&tx, &bounce, per_post))
    }

    async fn delete_job(&self, account: &str, job_id: &str) -> Result<super::DeleteOutcome, StoreError> {
        in_transaction!(self, tx => erase::delete(&tx, account, job_id))
    }

    async fn purge_finished(&self, before_ms: u64, batch: usize) -> Result<u64, StoreError> {
        in_transaction!(self, tx => erase::purge(&tx, before_ms, batch))
    }
}
