//! [`Accounts`] in PostgreSQL.

use async_trait::async_trait;

use super::connection::PostgresStore;
use crate::{Accounts, StoreError, StoredAccount};

#[async_trait]
impl Accounts for PostgresStore {
    async fn account(&self, name: &str) -> Result<Option<StoredAccount>, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT secret_hash, customer_no FROM accounts WHERE name = $1", &[&name]).await?;
        let Some(row) = row else { return Ok(None) };
        let (hash, customer_no): (Vec<u8>, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
        Ok(hash.as_slice().try_into().ok().map(|secret_hash| StoredAccount { secret_hash, customer_no }))
    }

    async fn add_account(
        &self,
        name: &str,
        secret_hash: [u8; 32],
        customer_no: Option<String>,
    ) -> Result<(), StoreError> {
        let now = sealmail_core::clock::now_ms() as i64;
        let client = self.pool.get().await?;
        let inserted = client
            .execute(
                "INSERT INTO accounts (name, secret_hash, customer_no, created_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO NOTHING",
                &[&name, &secret_hash.as_slice(), &customer_no, &now],
            )
            .await?;
        if inserted == 0 { Err(StoreError::AccountExists(name.to_owned())) } else { Ok(()) }
    }

    async fn rehash_account(&self, name: &str, old: [u8; 32], new: [u8; 32]) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        let updated = client
            .execute(
                "UPDATE accounts SET secret_hash = $3 WHERE name = $1 AND secret_hash = $2",
                &[&name, &old.as_slice(), &new.as_slice()],
            )
            .await?;
        Ok(updated == 1)
    }
}
