//! [`Outbox`] in SQLite (docs/callbacks.md): posts (batches of one job's events) created in
//! the same transaction as their events, claimed with a lease, one job's posts in order.
//!
//! A post's events are fixed when it is created, so every try of it carries the same events,
//! tags and `webhook-id`. The job's callback setup (endpoint, credentials, body meta) stays
//! in `jobs.callbacks`, encrypted at rest, until the job is erased (retention or `DELETE`,
//! [`crate::erase`]): a bounce reported days after delivery is pushed too.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::commit::event_row;
use super::connection::{SqliteStore, execute, query_row};
use crate::names::{DbName, POST_PENDING};
use crate::outbox::RawPost;
use crate::{ClaimedPost, Outbox, PostOutcome, StoreError};

#[async_trait]
impl Outbox for SqliteStore {
    async fn claim_post(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<ClaimedPost>, StoreError> {
        let owner = owner.to_owned();
        let Some(raw) = self.write_relaxed(move |conn| claim(conn, &owner, now_ms, lease_ms)).await? else {
            return Ok(None);
        };
        raw.open(self.key()).map(Some)
    }

    async fn commit_post(&self, post_id: i64, now_ms: u64, outcome: PostOutcome) -> Result<(), StoreError> {
        self.write(move |conn| commit(conn, post_id, now_ms, &outcome)).await
    }

    async fn next_post_due(&self) -> Result<Option<u64>, StoreError> {
        const SQL: &str =
            const_format::formatcp!("SELECT min(next_ms) FROM callback_posts WHERE state = {POST_PENDING}");
        self.read(|conn, _| {
            let due: Option<i64> = query_row(conn, SQL, [], |r| r.get(0))?;
            Ok(due.map(|d| d.max(0) as u64))
        })
        .await
    }
}

/// Claims the most overdue post whose job has no earlier post pending.
fn claim(conn: &Connection, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<RawPost>, StoreError> {
    const CLAIM: &str = const_format::formatcp!(
        "UPDATE callback_posts SET lease_owner = ?1, lease_until = ?2
         WHERE id = (SELECT c.id FROM callback_posts c
                     WHERE c.state = {POST_PENDING} AND c.next_ms <= ?3
                       AND (c.lease_until IS NULL OR c.lease_until < ?3)
                       AND NOT EXISTS (SELECT 1 FROM callback_posts p
                                       WHERE p.job_id = c.job_id AND p.state = {POST_PENDING} AND p.id < c.id)
                     ORDER BY c.next_ms, c.id LIMIT 1)
         RETURNING id, job_id, tries"
    );
    let (now, until) = (now_ms as i64, now_ms.saturating_add(lease_ms) as i64);
    // An earlier pending post of the same job, even one waiting for its retry or leased to
    // another dispatcher, holds the later ones back: a job's events arrive in order.
    let claimed: Option<(i64, String, u32)> =
        query_row(conn, CLAIM, params![owner, until, now], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).optional()?;
    let Some((id, job_id, tries)) = claimed else { return Ok(None) };
    let (account, received_ms, sealed): (String, i64, Option<Vec<u8>>) =
        query_row(conn, "SELECT account, received_ms, callbacks FROM jobs WHERE id = ?1", params![job_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
    let sealed_setup =
        sealed.ok_or_else(|| StoreError::Database(format!("job {job_id} has a pending callback but no setup")))?;
    let mut stmt = conn.prepare_cached(
        "SELECT e.seq, e.block, e.recipient, e.kind, e.description, e.ts_ms, r.reference
         FROM events e LEFT JOIN recipients r ON r.job_id = e.job_id AND r.block = e.block AND r.address = e.recipient
         WHERE e.post = ?1 ORDER BY e.seq",
    )?;
    let mut rows = stmt.query(params![id])?;
    let mut events = Vec::new();
    while let Some(r) = rows.next()? {
        events.push((event_row(r)?, r.get(6)?));
    }
    Ok(Some(RawPost { id, job_id, account, received_ms: received_ms as u64, tries, sealed_setup, events }))
}

/// Records a try of post `id` and releases its lease. (A post erased meanwhile with its
/// job, by retention or `DELETE`, is nothing to record.)
fn commit(conn: &Connection, id: i64, now_ms: u64, outcome: &PostOutcome) -> Result<(), StoreError> {
    let (state, next_ms, http_status, error) = outcome.columns();
    execute(
        conn,
        "UPDATE callback_posts SET state = ?2, tries = tries + 1, next_ms = COALESCE(?3, next_ms), last_status = ?4,
             last_error = ?5, lease_owner = NULL, lease_until = NULL, updated_ms = ?6
         WHERE id = ?1",
        params![id, state.to_db(), next_ms.map(|t| t as i64), http_status, error, now_ms as i64],
    )?;
    Ok(())
}
