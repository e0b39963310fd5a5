//! [`Jobs`] in SQLite: submission in one durable group commit (idempotency key, rate
//! window, job and recipients together), the status report from a read connection, and the
//! commit of a job's start.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::commit::{apply_update, event_row, finish_if_done, notification, start_delivering};
use super::connection::{SqliteStore, execute, query_row};
use super::lists;
use crate::names::{DbName, JOB_FINISHED, parse};
use crate::{
    Effects, JobRecipient, JobStatus, Jobs, MessageKind, NewJob, PasswordState, RecipientStatus, SealedEffects,
    StartDecision, StoreError, StoredEvent, Submitted,
};

/// How long an `Idempotency-Key` is remembered (docs/service.md#what-a-submission-is-promised:
/// 24 h).
const IDEMPOTENCY_MS: u64 = 24 * 3600 * 1000;

#[async_trait]
impl Jobs for SqliteStore {
    async fn submit(&self, job: NewJob) -> Result<Submitted, StoreError> {
        let request = self.key().seal(&format!("request:{}", job.id), &job.request);
        let callbacks = job.callbacks.as_ref().map(|setup| self.key().seal(&format!("callbacks:{}", job.id), setup));
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
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3, ?7)",
                params![
                    job.id,
                    job.account,
                    job.received_ms as i64,
                    request,
                    job.secure,
                    crate::JobState::Queued.to_db(),
                    callbacks
                ],
            )?;
            let password = if job.secure { PasswordState::Pending } else { PasswordState::None };
            let mut stmt = conn.prepare_cached(
                "INSERT OR IGNORE INTO recipients (job_id, block, address, role, reference, status, password, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?;
            for r in &job.recipients {
                stmt.execute(params![
                    job.id,
                    r.block,
                    r.address,
                    r.role.to_db(),
                    r.reference,
                    crate::DeliveryStatus::Queued.to_db(),
                    password.to_db(),
                    job.received_ms as i64
                ])?;
            }
            Ok(Submitted::Created)
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
            // edit cannot make one of them reach another account's rows (the crate's
            // isolation rule).
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
                events.push(StoredEvent { notification: notification(r, 6)?, ..event_row(r)? });
            }
            Ok(Some(JobStatus {
                id: job_id,
                received_ms: received_ms as u64,
                state: parse("job state", &state)?,
                finished_ms: finished_ms.map(|f| f as u64),
                recipients,
                events,
            }))
        })
        .await
    }

    async fn unfinished_jobs(&self) -> Result<u64, StoreError> {
        const SQL: &str = const_format::formatcp!("SELECT count(*) FROM jobs WHERE state != {JOB_FINISHED}");
        self.read(|conn, _| Ok(query_row(conn, SQL, [], |r| r.get::<_, i64>(0))? as u64)).await
    }

    async fn job_recipients(&self, job_id: &str) -> Result<Vec<JobRecipient>, StoreError> {
        let job_id = job_id.to_owned();
        self.read(move |conn, _| {
            let mut stmt =
                conn.prepare_cached("SELECT block, address FROM recipients WHERE job_id = ?1 ORDER BY block, rowid")?;
            let rows =
                stmt.query_map(params![job_id], |r| Ok(JobRecipient { block: r.get(0)?, address: r.get(1)? }))?;
            Ok(rows.collect::<Result<_, _>>()?)
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
        let effects = SealedEffects::seal(self.key(), effects);
        let per_post = self.events_per_post();
        self.write(move |conn| {
            effects.insert_sqlite(conn, &job_id, now_ms, per_post)?;
            match decision {
                // Queued: normally messages; none only if every recipient was dropped before
                // processing, which finishes the job (never leave a job open).
                StartDecision::Queued(updates) | StartDecision::Dropped(updates) => {
                    for u in &updates {
                        apply_update(conn, &job_id, MessageKind::Original, now_ms, u)?;
                    }
                    start_delivering(conn, &job_id)?;
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
}
