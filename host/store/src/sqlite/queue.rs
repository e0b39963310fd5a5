//! [`Queue`] in SQLite: claims are writes in the writer thread, and need no fsync of their
//! own (a lease lost in a power cut is harmless: the only node releases its leases at
//! start-up).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::connection::{SqliteStore, execute, query_row};
use super::messages;
use crate::names::JOB_QUEUED;
use crate::{ClaimedJob, ClaimedMessage, Queue, StoreError, Work};

#[async_trait]
impl Queue for SqliteStore {
    async fn claim(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<Work>, StoreError> {
        const DUE: &str = const_format::formatcp!(
            "SELECT (SELECT min(next_ms) FROM jobs WHERE state = {JOB_QUEUED} AND next_ms <= ?1
                 AND (lease_until IS NULL OR lease_until < ?1)),
                (SELECT min(next_ms) FROM messages WHERE done = 0 AND next_ms <= ?1
                 AND (lease_until IS NULL OR lease_until < ?1))"
        );
        const CLAIM_JOB: &str = const_format::formatcp!(
            "UPDATE jobs SET lease_owner = ?1, lease_until = ?2
             WHERE id = (SELECT id FROM jobs WHERE state = {JOB_QUEUED} AND next_ms <= ?3
                         AND (lease_until IS NULL OR lease_until < ?3) ORDER BY next_ms LIMIT 1)
             RETURNING id, received_ms, attempts, request, secure"
        );
        let owner = owner.to_owned();
        let claimed = self
            .write_relaxed(move |conn| {
                let (now, until) = (now_ms as i64, (now_ms + lease_ms) as i64);
                // Oldest due work first, jobs and messages alike (the trait's rule).
                let (job_due, message_due): (Option<i64>, Option<i64>) =
                    query_row(conn, DUE, params![now], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let take_job = match (job_due, message_due) {
                    (Some(j), Some(m)) => j <= m,
                    (Some(_), None) => true,
                    (None, _) => false,
                };
                if take_job {
                    let job: Option<(String, i64, u32, Option<Vec<u8>>, bool)> =
                        query_row(conn, CLAIM_JOB, params![owner, until, now], |r| {
                            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                        })
                        .optional()?;
                    if let Some((id, received_ms, attempts, request, secure)) = job {
                        let blob = request.ok_or_else(|| StoreError::Database(format!("job {id} has no request")))?;
                        // Still the ciphertext: opened below, outside the writer.
                        let job = ClaimedJob { id, received_ms: received_ms as u64, attempts, request: blob, secure };
                        return Ok(Some(Work::Start(job)));
                    }
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
                let recipients = messages::deliveries(conn, &id)?;
                Ok(Some(Work::Deliver(ClaimedMessage {
                    id,
                    job_id,
                    kind: crate::names::parse("message kind", &kind)?,
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
                job.request = self.key().open(&format!("request:{}", job.id), &job.request)?;
                Ok(Some(Work::Start(job)))
            }
            other => Ok(other),
        }
    }

    async fn next_due(&self) -> Result<Option<u64>, StoreError> {
        const SQL: &str = const_format::formatcp!(
            "SELECT min(t) FROM (SELECT min(next_ms) AS t FROM jobs WHERE state = {JOB_QUEUED}
                                 UNION ALL SELECT min(next_ms) FROM messages WHERE done = 0)"
        );
        self.read(|conn, _| {
            let due: Option<i64> = query_row(conn, SQL, [], |r| r.get(0))?;
            Ok(due.map(|d| d.max(0) as u64))
        })
        .await
    }

    async fn release_leases(&self) -> Result<(), StoreError> {
        self.write(|conn| {
            for table in ["jobs", "messages", "callback_posts"] {
                execute(
                    conn,
                    &format!("UPDATE {table} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner IS NOT NULL"),
                    [],
                )?;
            }
            Ok(())
        })
        .await
    }
}
