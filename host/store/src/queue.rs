//! Due work: jobs to start and messages to attempt, claimed with a lease so that a crashed
//! worker's step is taken over once the lease runs out ([`Queue`]).

use async_trait::async_trait;

use crate::StoreError;
use crate::messages::ClaimedMessage;

/// Work a worker claimed (with a lease).
#[derive(Debug, Clone)]
pub enum Work {
    /// Start a job.
    Start(ClaimedJob),
    /// Attempt a message.
    Deliver(ClaimedMessage),
}

/// A job to start.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// The job's id.
    pub id: String,
    /// When it was accepted, ms.
    pub received_ms: u64,
    /// Earlier starts that asked to retry.
    pub attempts: u32,
    /// The decrypted request.
    pub request: Vec<u8>,
    /// Secure Document Handling is active.
    pub secure: bool,
}

/// Claiming due work.
#[async_trait]
pub trait Queue: Send + Sync + 'static {
    /// Claims the most overdue job or message for `lease_ms`: oldest first, jobs and
    /// messages alike, so a burst of submissions cannot starve the deliveries (and password
    /// mails) of the jobs before it.
    async fn claim(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<Work>, StoreError>;
    /// The earliest time any work becomes due.
    async fn next_due(&self) -> Result<Option<u64>, StoreError>;
    /// Drops every lease: at start-up of the only node using an SQLite store. A no-op on a
    /// shared PostgreSQL database, where other nodes' leases are live.
    async fn release_leases(&self) -> Result<(), StoreError>;
}
