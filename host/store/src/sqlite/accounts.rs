//! [`Accounts`] in SQLite.

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};

use super::connection::{SqliteStore, execute};
use crate::{Accounts, StoreError, StoredAccount};

#[async_trait]
impl Accounts for SqliteStore {
    async fn account(&self, name: &str) -> Result<Option<StoredAccount>, StoreError> {
        let name = name.to_owned();
        self.read(move |conn, _| {
            let row: Option<(Vec<u8>, Option<String>)> = conn
                .query_row("SELECT secret_hash, customer_no FROM accounts WHERE name = ?1", params![name], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            Ok(row.and_then(|(hash, customer_no)| {
                Some(StoredAccount { secret_hash: hash.as_slice().try_into().ok()?, customer_no })
            }))
        })
        .await
    }

    async fn add_account(
        &self,
        name: &str,
        secret_hash: [u8; 32],
        customer_no: Option<String>,
    ) -> Result<(), StoreError> {
        let name = name.to_owned();
        let now = sealmail_core::clock::now_ms();
        self.write(move |conn| {
            let inserted = execute(
                conn,
                "INSERT OR IGNORE INTO accounts (name, secret_hash, customer_no, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![name, secret_hash.as_slice(), customer_no, now as i64],
            )?;
            if inserted == 0 { Err(StoreError::AccountExists(name)) } else { Ok(()) }
        })
        .await
    }

    async fn rehash_account(&self, name: &str, old: [u8; 32], new: [u8; 32]) -> Result<bool, StoreError> {
        let name = name.to_owned();
        self.write(move |conn| {
            let updated = execute(
                conn,
                "UPDATE accounts SET secret_hash = ?3 WHERE name = ?1 AND secret_hash = ?2",
                params![name, old.as_slice(), new.as_slice()],
            )?;
            Ok(updated == 1)
        })
        .await
    }
}
