//! Key rotation in PostgreSQL ([`crate::rotation`]): each batch is read, re-sealed in
//! this process (the database never sees a key or a plain blob) and written back
//! compare-and-set, so it may run while the nodes serve. When every blob is re-sealed the
//! key check moves to the new key, which from then on refuses a node that has only an old
//! one ([`schema::check_key`]).

use async_trait::async_trait;

use super::connection::PostgresStore;
use super::schema;
use crate::StoreError;
use crate::at_rest::AtRestKey;
use crate::rotation::{BatchOutcome, Reseal, SealedColumn};

#[async_trait]
impl Reseal for PostgresStore {
    async fn reseal_batch(
        &self,
        key: &AtRestKey,
        column: SealedColumn,
        after: &str,
        limit: usize,
    ) -> Result<BatchOutcome, StoreError> {
        let SealedColumn { table, column: col, context } = column;
        let client = self.pool.get().await?;
        let rows = client
            .query(
                &format!("SELECT id, {col} FROM {table} WHERE id > $1 AND {col} IS NOT NULL ORDER BY id LIMIT $2"),
                &[&after, &(limit as i64)],
            )
            .await?;
        let mut outcome = BatchOutcome { last_id: None, examined: rows.len(), resealed: 0 };
        let update = client.prepare(&format!("UPDATE {table} SET {col} = $3 WHERE id = $1 AND {col} = $2")).await?;
        for row in rows {
            let id: String = row.try_get(0)?;
            let blob: Vec<u8> = row.try_get(1)?;
            if let Some(new) = key.reseal(&format!("{context}:{id}"), &blob)? {
                outcome.resealed += client.execute(&update, &[&id, &blob, &new]).await? as usize;
            }
            outcome.last_id = Some(id);
        }
        Ok(outcome)
    }

    async fn finish_rotation(&self, key: &AtRestKey) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        schema::record_rotated_key(&client, key).await
    }
}
