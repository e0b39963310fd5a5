//! Erasing finished jobs ([`Retention`]): the retention purge ([`Retention::purge_finished`],
//! docs/service.md#retention) and `DELETE /rest/v1/jobs/{jobId}` ([`Retention::delete_job`])
//! remove every row of a finished job in one transaction per job batch, in both backends
//! alike:
//!
//! - `jobs` (its request was purged when it finished; its sealed callback setup goes now),
//! - `recipients` (the status report), `events`, `callback_posts` (delivered, failed or
//!   still pending: a purged job has nothing left to notify about),
//! - `messages` and their `deliveries` (the message ids that late bounces name: a DSN
//!   arriving afterwards finds no message and is only logged),
//! - `idempotency`: the job's `Idempotency-Key` is forgotten with it, so the same key may
//!   be used again for a new job.
//!
//! What stays is the account's own data, not the job's: its suppression list entries (an
//! address that bounced stays listed for its period, and the entry keeps the `jobId` that
//! listed it) and its rate-limit counters (per account and 5-minute window, gone within the
//! hour). A job that is not finished is never erased: its messages, and a secure job's
//! password mails, may still be waiting to go out.

use async_trait::async_trait;

use crate::StoreError;

/// What [`Retention::delete_job`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// Every row of the job is gone.
    Deleted,
    /// No such job in this account (another account's job looks the same).
    NotFound,
    /// The job is queued or being delivered; nothing was erased.
    NotFinished,
}

/// Jobs erased per transaction by the purge: enough to make progress through a backlog,
/// few enough that no transaction (SQLite's single writer, PostgreSQL's row locks) is held
/// long.
pub const PURGE_BATCH: usize = 100;

/// Erasure of finished jobs.
#[async_trait]
pub trait Retention: Send + Sync + 'static {
    /// Erases every row of a finished job of `account`; a job that is not finished is left
    /// alone.
    async fn delete_job(&self, account: &str, job_id: &str) -> Result<DeleteOutcome, StoreError>;
    /// Erases every row of up to `batch` jobs finished before `before_ms`, oldest first;
    /// how many. Safe to run on several nodes at once.
    async fn purge_finished(&self, before_ms: u64, batch: usize) -> Result<u64, StoreError>;
}
