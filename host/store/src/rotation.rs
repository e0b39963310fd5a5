//! Storage-key rotation: re-sealing every stored blob under the current key (the first of
//! the key ring, [`super::at_rest`]), in bounded batches, so that the previous keys can be
//! removed from the configuration afterwards (`sealmail rotate-key`, docs/service.md).
//!
//! Each re-sealed blob is written back only if the row still holds the blob that was read
//! (compare-and-set), so a rotation may run beside live nodes: a blob the server purged or
//! replaced meanwhile is left alone. Each backend implements [`Reseal`]; [`rotate`] drives
//! it over [`SEALED_COLUMNS`] and then lets the backend record the completed rotation
//! (PostgreSQL moves its key check to the new key; SQLite checkpoints its WAL, so the old
//! blobs leave the `-wal` file).

use async_trait::async_trait;

use super::StoreError;
use super::at_rest::AtRestKey;

/// A column that holds sealed blobs; each blob's associated data is `"{context}:{row id}"`.
#[derive(Debug, Clone, Copy)]
pub struct SealedColumn {
    /// The table; its primary key is the text column `id`.
    pub table: &'static str,
    /// The blob column.
    pub column: &'static str,
    /// The context prefix the blob was sealed with.
    pub context: &'static str,
}

/// Every sealed column of the schema. A new sealed column must be added here, or a rotation
/// leaves its blobs under the old key.
pub const SEALED_COLUMNS: &[SealedColumn] = &[
    SealedColumn { table: "jobs", column: "request", context: "request" },
    SealedColumn { table: "jobs", column: "callbacks", context: "callbacks" },
    SealedColumn { table: "messages", column: "content", context: "message" },
    SealedColumn { table: "messages", column: "held_secret", context: "secret" },
];

/// Rows per batch: one short transaction each, so live nodes barely notice.
pub const BATCH: usize = 200;

/// What one batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// The greatest row id seen (where the next batch starts); `None` when there were no rows.
    pub last_id: Option<String>,
    /// Blobs read.
    pub examined: usize,
    /// Blobs sealed again and written back.
    pub resealed: usize,
}

/// A store whose blobs can be re-sealed.
#[async_trait]
pub trait Reseal: Send + Sync {
    /// Re-seals, under `key`'s current key, up to `limit` non-null blobs of `column` whose
    /// row id is greater than `after`, in id order.
    async fn reseal_batch(
        &self,
        key: &AtRestKey,
        column: SealedColumn,
        after: &str,
        limit: usize,
    ) -> Result<BatchOutcome, StoreError>;

    /// Records that every blob is under `key`'s current key.
    async fn finish_rotation(&self, key: &AtRestKey) -> Result<(), StoreError>;
}

/// Totals of a rotation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rotated {
    /// Blobs read.
    pub examined: usize,
    /// Blobs sealed again.
    pub resealed: usize,
}

/// Re-seals every blob of `store` under `key`'s current key, calling `progress(column,
/// totals so far)` after each batch, then records the completed rotation. Stops at the
/// first blob no key of the ring opens (nothing is recorded then: the previous keys are
/// still needed).
pub async fn rotate(
    store: &dyn Reseal,
    key: &AtRestKey,
    mut progress: impl FnMut(SealedColumn, &Rotated),
) -> Result<Rotated, StoreError> {
    let mut total = Rotated::default();
    for &column in SEALED_COLUMNS {
        let mut after = String::new();
        loop {
            let batch = store.reseal_batch(key, column, &after, BATCH).await?;
            total.examined += batch.examined;
            total.resealed += batch.resealed;
            progress(column, &total);
            match batch.last_id {
                Some(id) if batch.examined >= BATCH => after = id,
                _ => break,
            }
        }
    }
    store.finish_rotation(key).await?;
    Ok(total)
}
