//! Why a store operation failed ([`StoreError`]), whichever backend and concern.

use crate::at_rest;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(String),
    /// Stored data could not be decrypted.
    #[error(transparent)]
    AtRest(#[from] at_rest::AtRestError),
    /// The account exists already.
    #[error("account {0:?} exists already")]
    AccountExists(String),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// The database was set up with another storage key (PostgreSQL: one key for all nodes).
    #[error(
        "the database was set up with a different storage_key: every node sharing a database must use the same \
         storage_key (with another key it could not read the jobs the others stored)"
    )]
    KeyMismatch,
    /// A concurrent transaction conflicted (PostgreSQL: serialization failure or deadlock);
    /// the operation changed nothing and may be repeated.
    #[error("transaction conflict: {0}")]
    Conflict(String),
}
