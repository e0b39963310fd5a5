//! [`Queue`] in PostgreSQL: each claim is one statement with `FOR UPDATE SKIP LOCKED`, so
//! nodes never wait for, nor take, the same row.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::connection::PostgresStore;
use super::messages;
use crate::names::{JOB_QUEUED, parse};
use crate::{ClaimedJob, ClaimedMessage, Queue, StoreError, Work};

/// Claims the most overdue queued job; its request still sealed.
async fn claim_job(client: &impl GenericClient, owner: &str, now: i64, until: i64) -> Result<Option<Work>, StoreError> {
    const SQL: &str = const_format::formatcp!(
        "WITH next AS (
             SELECT id FROM jobs WHERE state = {JOB_QUEUED} AND next_ms <= $3
               AND (lease_until IS NULL OR lease_until < $3)
             ORDER BY next_ms LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE jobs SET lease_owner = $1, lease_until = $2 FROM next WHERE jobs.id = next.id
         RETURNING jobs.id, jobs.received_ms, jobs.attempts, jobs.request, jobs.secure"
    );
    let Some(row) = client.query_opt(SQL, &[&owner, &until, &now]).await? else { return Ok(None) };
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
    let recipients = messages::deliveries(client, &id).await?;
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
impl Queue for PostgresStore {
    async fn claim(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<Work>, StoreError> {
        const DUE: &str = const_format::formatcp!(
            "SELECT (SELECT min(next_ms) FROM jobs WHERE state = {JOB_QUEUED} AND next_ms <= $1
                     AND (lease_until IS NULL OR lease_until < $1)),
                    (SELECT min(next_ms) FROM messages WHERE NOT done AND next_ms <= $1
                     AND (lease_until IS NULL OR lease_until < $1))"
        );
        let (now, until) = (now_ms as i64, now_ms.saturating_add(lease_ms) as i64);
        let client = self.pool.get().await?;
        // Oldest due work first, jobs and messages alike (the trait's rule); when the older
        // kind's due rows are all being claimed by other workers right now, the other kind.
        let due = client.query_one(DUE, &[&now]).await?;
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
        const SQL: &str = const_format::formatcp!(
            "SELECT min(t) FROM (SELECT min(next_ms) AS t FROM jobs WHERE state = {JOB_QUEUED}
                                 UNION ALL SELECT min(next_ms) FROM messages WHERE NOT done) due"
        );
        let client = self.pool.get().await?;
        let due: Option<i64> = client.query_one(SQL, &[]).await?.try_get(0)?;
        Ok(due.map(|d| d.max(0) as u64))
    }

    /// A no-op: other live nodes hold leases in this database (see the backend's
    /// documentation).
    async fn release_leases(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
