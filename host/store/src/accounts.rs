//! Accounts added with `sealmail account add` ([`Accounts`]): a name and a keyed hash of the
//! secret; the secret itself is never stored.

use async_trait::async_trait;

use crate::StoreError;

/// An account as stored.
#[derive(Debug, Clone)]
pub struct StoredAccount {
    /// HMAC-SHA256 of the secret under the server's account key.
    pub secret_hash: [u8; 32],
    /// Retarus' `customerNo`.
    pub customer_no: Option<String>,
}

/// The account directory.
#[async_trait]
pub trait Accounts: Send + Sync + 'static {
    /// Looks up an account.
    async fn account(&self, name: &str) -> Result<Option<StoredAccount>, StoreError>;
    /// Adds an account; [`StoreError::AccountExists`] when the name is taken.
    async fn add_account(
        &self,
        name: &str,
        secret_hash: [u8; 32],
        customer_no: Option<String>,
    ) -> Result<(), StoreError>;
    /// Replaces a stored account's secret hash, if it is still `old`: an account that logs in
    /// with a hash under a previous storage key is re-hashed under the current one, so the old
    /// key can be retired (docs/service.md, "Storage key and rotation"). false when the hash
    /// had changed meanwhile (another node re-hashed it first).
    async fn rehash_account(&self, name: &str, old: [u8; 32], new: [u8; 32]) -> Result<bool, StoreError>;
}
