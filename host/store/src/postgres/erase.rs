//! Erasing finished jobs in PostgreSQL ([`crate::erase`]), with the SQLite
//! store's semantics: `DELETE /rest/v1/jobs/{id}` and the retention purge.
//!
//! Several nodes purge the same database: each batch locks the jobs it erases
//! (`FOR UPDATE SKIP LOCKED`), so two nodes take different jobs instead of waiting for each
//! other, and a job's other commits (a late bounce, a callback's result, which lock the
//! job's row first) run before or after its erasure, never across it. Deletes of rows
//! already gone are no-ops: a batch repeated after a conflict erases the same jobs.
//!
//! Never erases a job that is not finished.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::connection::{PostgresStore, in_transaction};
use crate::erase::DeleteOutcome;
use crate::names::{JOB_FINISHED, parse};
use crate::{JobState, Retention, StoreError};

#[async_trait]
impl Retention for PostgresStore {
    async fn delete_job(&self, account: &str, job_id: &str) -> Result<DeleteOutcome, StoreError> {
        in_transaction!(self, tx => delete(&tx, account, job_id))
    }

    async fn purge_finished(&self, before_ms: u64, batch: usize) -> Result<u64, StoreError> {
        in_transaction!(self, tx => purge(&tx, before_ms, batch))
    }
}

/// Deletes every row of the jobs `ids` (see [`crate::erase`] for the list). The
/// caller holds their row locks and has checked that they are finished.
async fn erase(tx: &impl GenericClient, ids: &[String]) -> Result<(), StoreError> {
    let ids = ids.to_vec();
    tx.execute("DELETE FROM deliveries WHERE message_id IN (SELECT id FROM messages WHERE job_id = ANY($1))", &[&ids])
        .await?;
    tx.execute("DELETE FROM messages WHERE job_id = ANY($1)", &[&ids]).await?;
    tx.execute("DELETE FROM events WHERE job_id = ANY($1)", &[&ids]).await?;
    tx.execute("DELETE FROM callback_posts WHERE job_id = ANY($1)", &[&ids]).await?;
    tx.execute("DELETE FROM recipients WHERE job_id = ANY($1)", &[&ids]).await?;
    tx.execute(
        "DELETE FROM idempotency i USING jobs j WHERE j.id = ANY($1) AND i.job_id = j.id AND i.account = j.account",
        &[&ids],
    )
    .await?;
    const JOBS: &str = const_format::formatcp!("DELETE FROM jobs WHERE id = ANY($1) AND state = {JOB_FINISHED}");
    tx.execute(JOBS, &[&ids]).await?;
    Ok(())
}

/// [`Retention::delete_job`] in a transaction: scoped by account, like every read
/// of a job; the job's row is locked first, as every commit of a job does.
async fn delete(tx: &impl GenericClient, account: &str, job_id: &str) -> Result<DeleteOutcome, StoreError> {
    let row =
        tx.query_opt("SELECT state FROM jobs WHERE id = $1 AND account = $2 FOR UPDATE", &[&job_id, &account]).await?;
    let Some(row) = row else { return Ok(DeleteOutcome::NotFound) };
    let state: String = row.try_get(0)?;
    if parse::<JobState>("job state", &state)? != JobState::Finished {
        return Ok(DeleteOutcome::NotFinished);
    }
    erase(tx, &[job_id.to_owned()]).await?;
    Ok(DeleteOutcome::Deleted)
}

/// [`Retention::purge_finished`] in a transaction: the `batch` jobs that finished
/// longest ago, before `before_ms`, that no other node is erasing right now.
async fn purge(tx: &impl GenericClient, before_ms: u64, batch: usize) -> Result<u64, StoreError> {
    let before = i64::try_from(before_ms).unwrap_or(i64::MAX);
    let limit = i64::try_from(batch).unwrap_or(i64::MAX);
    const EXPIRED: &str = const_format::formatcp!(
        "SELECT id FROM jobs WHERE state = {JOB_FINISHED} AND finished_ms < $1
         ORDER BY finished_ms LIMIT $2 FOR UPDATE SKIP LOCKED"
    );
    let rows = tx.query(EXPIRED, &[&before, &limit]).await?;
    let ids = rows.iter().map(|r| r.try_get(0)).collect::<Result<Vec<String>, _>>()?;
    if !ids.is_empty() {
        erase(tx, &ids).await?;
    }
    Ok(ids.len() as u64)
}
