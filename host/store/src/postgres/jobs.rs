//! [`Jobs`] in PostgreSQL: submission in one transaction (idempotency key, rate window, job
//! and recipients together), the status report from one snapshot, and the commit of a job's
//! start under the job's row lock.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::commit::{apply_update, event_row, finish_if_done, notification, start_delivering};
use super::connection::{PostgresStore, in_transaction, lock_job};
use super::lists;
use crate::names::{DbName, JOB_FINISHED, parse};
use crate::{
    DeliveryStatus, Effects, JobRecipient, JobState, JobStatus, Jobs, MessageKind, NewJob, PasswordState,
    RecipientStatus, SealedEffects, StartDecision, StoreError, StoredEvent, Submitted,
};

/// How long an `Idempotency-Key` is remembered (docs/service.md#what-a-submission-is-promised:
/// 24 h).
const IDEMPOTENCY_MS: u64 = 24 * 3600 * 1000;

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
         VALUES ($1, $2, $3, $4, $5, $6, $3, $7)",
        &[&job.id, &job.account, &received, &request, &job.secure, &JobState::Queued.to_db(), callbacks],
    )
    .await?;
    let password = if job.secure { PasswordState::Pending } else { PasswordState::None };
    let insert = tx
        .prepare_cached(
            "INSERT INTO recipients (job_id, block, address, role, reference, status, password, updated_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
        )
        .await?;
    let queued = DeliveryStatus::Queued.to_db();
    for r in &job.recipients {
        let block = r.block as i32;
        tx.execute(
            &insert,
            &[&job.id, &block, &r.address, &r.role.to_db(), &r.reference, &queued, &password.to_db(), &received],
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
        // Queued: normally messages; none only if every recipient was dropped before
        // processing, which finishes the job (never leave a job open).
        StartDecision::Queued(updates) | StartDecision::Dropped(updates) => {
            for u in updates {
                apply_update(tx, job_id, MessageKind::Original, now_ms, u).await?;
            }
            start_delivering(tx, job_id).await?;
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

#[async_trait]
impl Jobs for PostgresStore {
    async fn submit(&self, job: NewJob) -> Result<Submitted, StoreError> {
        let request = self.key.seal(&format!("request:{}", job.id), &job.request);
        let callbacks = job.callbacks.as_ref().map(|setup| self.key.seal(&format!("callbacks:{}", job.id), setup));
        in_transaction!(self, tx => submit_in(&tx, &job, &request, &callbacks))
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
                // Every statement of this API read names the account (the crate's isolation
                // rule).
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
            events.push(StoredEvent { notification: notification(r, 6)?, ..event_row(r)? });
        }
        tx.commit().await?;
        Ok(Some(JobStatus {
            id: job_id.to_owned(),
            received_ms: received_ms as u64,
            state: parse("job state", &state)?,
            finished_ms: finished_ms.map(|f| f as u64),
            recipients,
            events,
        }))
    }

    async fn unfinished_jobs(&self) -> Result<u64, StoreError> {
        const SQL: &str = const_format::formatcp!("SELECT count(*) FROM jobs WHERE state != {JOB_FINISHED}");
        let client = self.pool.get().await?;
        let n: i64 = client.query_one(SQL, &[]).await?.try_get(0)?;
        Ok(n as u64)
    }

    async fn job_recipients(&self, job_id: &str) -> Result<Vec<JobRecipient>, StoreError> {
        let client = self.pool.get().await?;
        let rows = client
            .query("SELECT block, address FROM recipients WHERE job_id = $1 ORDER BY block, seq", &[&job_id])
            .await?;
        rows.iter()
            .map(|r| Ok(JobRecipient { block: r.try_get::<_, i32>(0)? as u32, address: r.try_get(1)? }))
            .collect()
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
}
