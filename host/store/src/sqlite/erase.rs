//! Erasing finished jobs in SQLite ([`crate::erase`]): `DELETE /rest/v1/jobs/{id}`
//! and the retention purge, each run in the writer's transaction, so a job is erased whole
//! or not at all, and no commit of the job (a late bounce, a callback's result) can
//! interleave with it.
//!
//! Never erases a job that is not finished.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::connection::{SqliteStore, execute, query_row};
use crate::erase::DeleteOutcome;
use crate::names::{JOB_FINISHED, parse};
use crate::{JobState, Retention, StoreError};

#[async_trait]
impl Retention for SqliteStore {
    async fn delete_job(&self, account: &str, job_id: &str) -> Result<DeleteOutcome, StoreError> {
        let (account, job_id) = (account.to_owned(), job_id.to_owned());
        self.write(move |conn| delete(conn, &account, &job_id)).await
    }

    async fn purge_finished(&self, before_ms: u64, batch: usize) -> Result<u64, StoreError> {
        // One batch per transaction: the writer thread, shared with every other write, is
        // held only for that long.
        self.write(move |conn| purge(conn, before_ms, batch)).await
    }
}

/// Deletes every row of `job_id` (see [`crate::erase`] for the list). The
/// caller has checked that the job is finished.
fn erase(conn: &Connection, job_id: &str) -> Result<(), StoreError> {
    execute(
        conn,
        "DELETE FROM deliveries WHERE message_id IN (SELECT id FROM messages WHERE job_id = ?1)",
        params![job_id],
    )?;
    execute(conn, "DELETE FROM messages WHERE job_id = ?1", params![job_id])?;
    execute(conn, "DELETE FROM events WHERE job_id = ?1", params![job_id])?;
    execute(conn, "DELETE FROM callback_posts WHERE job_id = ?1", params![job_id])?;
    execute(conn, "DELETE FROM recipients WHERE job_id = ?1", params![job_id])?;
    execute(
        conn,
        "DELETE FROM idempotency WHERE job_id = ?1 AND account = (SELECT account FROM jobs WHERE id = ?1)",
        params![job_id],
    )?;
    const JOB: &str = const_format::formatcp!("DELETE FROM jobs WHERE id = ?1 AND state = {JOB_FINISHED}");
    execute(conn, JOB, params![job_id])?;
    Ok(())
}

/// [`Retention::delete_job`]: scoped by account, like every read of a job.
fn delete(conn: &Connection, account: &str, job_id: &str) -> Result<DeleteOutcome, StoreError> {
    let state: Option<String> =
        query_row(conn, "SELECT state FROM jobs WHERE id = ?1 AND account = ?2", params![job_id, account], |r| {
            r.get(0)
        })
        .optional()?;
    match state.as_deref().map(|s| parse::<JobState>("job state", s)).transpose()? {
        None => Ok(DeleteOutcome::NotFound),
        Some(JobState::Finished) => {
            erase(conn, job_id)?;
            Ok(DeleteOutcome::Deleted)
        }
        Some(_) => Ok(DeleteOutcome::NotFinished),
    }
}

/// [`Retention::purge_finished`]: the `batch` jobs that finished longest ago,
/// before `before_ms`.
fn purge(conn: &Connection, before_ms: u64, batch: usize) -> Result<u64, StoreError> {
    const EXPIRED: &str = const_format::formatcp!(
        "SELECT id FROM jobs WHERE state = {JOB_FINISHED} AND finished_ms < ?1 ORDER BY finished_ms LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(EXPIRED)?;
    let ids: Vec<String> = stmt
        .query_map(params![i64::try_from(before_ms).unwrap_or(i64::MAX), batch as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    for id in &ids {
        erase(conn, id)?;
    }
    Ok(ids.len() as u64)
}
