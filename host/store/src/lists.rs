//! The per-account suppression list ([`Lists`]; what an entry is: [`crate::suppression`]).
//! The rate-limit windows ([`crate::rate`]) are counted inside [`crate::Jobs::submit`].

use async_trait::async_trait;

use crate::StoreError;
use crate::suppression::Suppression;

/// The suppression list.
#[async_trait]
pub trait Lists: Send + Sync + 'static {
    /// The entries of the job's account's list in force at `now_ms` for the job's
    /// recipients.
    async fn job_suppressions(&self, job_id: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError>;
    /// An account's list in force at `now_ms`, by address.
    async fn suppressions(&self, account: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError>;
    /// Takes `address` off an account's list; whether it was listed.
    async fn remove_suppression(&self, account: &str, address: &str) -> Result<bool, StoreError>;
}
