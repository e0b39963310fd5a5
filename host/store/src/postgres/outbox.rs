//! [`Outbox`] in PostgreSQL (docs/callbacks.md), with the SQLite outbox's semantics: posts
//! (batches of one job's events) created in the transaction of their events, claimed with a
//! lease, one job's posts in order.
//!
//! Order across nodes: a post is created only while its job's row is locked (see
//! `lock_job` in the parent module), so one job's post ids are handed out in commit order,
//! and a post is never claimed while an earlier post of its job is pending, even one leased
//! to a dispatcher of another node.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::commit::event_row;
use super::connection::{PostgresStore, in_transaction, lock_job};
use crate::names::{DbName, POST_PENDING};
use crate::outbox::RawPost;
use crate::{ClaimedPost, Outbox, PostOutcome, StoreError};

#[async_trait]
impl Outbox for PostgresStore {
    async fn claim_post(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<ClaimedPost>, StoreError> {
        let client = self.pool.get().await?;
        let Some(raw) = claim(&client, owner, now_ms, lease_ms).await? else { return Ok(None) };
        drop(client);
        raw.open(&self.key).map(Some)
    }

    async fn commit_post(&self, post_id: i64, now_ms: u64, outcome: PostOutcome) -> Result<(), StoreError> {
        in_transaction!(self, tx => commit(&tx, post_id, now_ms, &outcome))
    }

    async fn next_post_due(&self) -> Result<Option<u64>, StoreError> {
        const SQL: &str =
            const_format::formatcp!("SELECT min(next_ms) FROM callback_posts WHERE state = {POST_PENDING}");
        let client = self.pool.get().await?;
        let due: Option<i64> = client.query_one(SQL, &[]).await?.try_get(0)?;
        Ok(due.map(|d| d.max(0) as u64))
    }
}

/// Claims the most overdue post whose job has no earlier post pending. `SKIP LOCKED`: a
/// post another dispatcher is claiming right now is passed over, not waited for.
async fn claim(
    client: &impl GenericClient,
    owner: &str,
    now_ms: u64,
    lease_ms: u64,
) -> Result<Option<RawPost>, StoreError> {
    const CLAIM: &str = const_format::formatcp!(
        "WITH next AS (
             SELECT c.id FROM callback_posts c
             WHERE c.state = {POST_PENDING} AND c.next_ms <= $3 AND (c.lease_until IS NULL OR c.lease_until < $3)
               AND NOT EXISTS (SELECT 1 FROM callback_posts p
                               WHERE p.job_id = c.job_id AND p.state = {POST_PENDING} AND p.id < c.id)
             ORDER BY c.next_ms, c.id LIMIT 1 FOR UPDATE SKIP LOCKED)
         UPDATE callback_posts SET lease_owner = $1, lease_until = $2 FROM next WHERE callback_posts.id = next.id
         RETURNING callback_posts.id, callback_posts.job_id, callback_posts.tries"
    );
    let (now, until) = (now_ms as i64, now_ms.saturating_add(lease_ms) as i64);
    // An earlier pending post of the same job, even one waiting for its retry or leased to
    // another dispatcher, holds the later ones back: a job's events arrive in order.
    let claimed = client.query_opt(CLAIM, &[&owner, &until, &now]).await?;
    let Some(row) = claimed else { return Ok(None) };
    let (id, job_id, tries): (i64, String, i32) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let job = client.query_one("SELECT account, received_ms, callbacks FROM jobs WHERE id = $1", &[&job_id]).await?;
    let (account, received_ms, sealed): (String, i64, Option<Vec<u8>>) =
        (job.try_get(0)?, job.try_get(1)?, job.try_get(2)?);
    let sealed_setup =
        sealed.ok_or_else(|| StoreError::Database(format!("job {job_id} has a pending callback but no setup")))?;
    let rows = client
        .query(
            "SELECT e.seq, e.block, e.recipient, e.kind, e.description, e.ts_ms, r.reference
             FROM events e LEFT JOIN recipients r
               ON r.job_id = e.job_id AND r.block = e.block AND r.address = e.recipient
             WHERE e.post = $1 ORDER BY e.seq",
            &[&id],
        )
        .await?;
    let events = rows.iter().map(|r| Ok((event_row(r)?, r.try_get(6)?))).collect::<Result<_, StoreError>>()?;
    Ok(Some(RawPost {
        id,
        job_id,
        account,
        received_ms: received_ms as u64,
        tries: tries as u32,
        sealed_setup,
        events,
    }))
}

/// Records a try of post `id` and releases its lease. The job's row is locked first, as
/// every commit of a job does; a post erased meanwhile with its job (retention or
/// `DELETE`) is nothing to record.
async fn commit(tx: &impl GenericClient, id: i64, now_ms: u64, outcome: &PostOutcome) -> Result<(), StoreError> {
    let (state, next_ms, http_status, error) = outcome.columns();
    let Some(row) = tx.query_opt("SELECT job_id FROM callback_posts WHERE id = $1", &[&id]).await? else {
        return Ok(());
    };
    let job_id: String = row.try_get(0)?;
    lock_job(tx, &job_id).await?;
    let next_ms = next_ms.map(|t| t as i64);
    let http_status = http_status.map(i32::from);
    tx.execute(
        "UPDATE callback_posts SET state = $2, tries = tries + 1, next_ms = COALESCE($3, next_ms), last_status = $4,
             last_error = $5, lease_owner = NULL, lease_until = NULL, updated_ms = $6
         WHERE id = $1",
        &[&id, &state.to_db(), &next_ms, &http_status, &error, &(now_ms as i64)],
    )
    .await?;
    Ok(())
}
