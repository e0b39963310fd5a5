//! Key rotation in SQLite ([`crate::rotation`]): batches read on a read connection,
//! re-sealed outside the writer thread, and written back compare-and-set in one group
//! commit each.

use async_trait::async_trait;
use rusqlite::params;

use super::connection::SqliteStore;
use crate::StoreError;
use crate::at_rest::AtRestKey;
use crate::rotation::{BatchOutcome, Reseal, SealedColumn};

#[async_trait]
impl Reseal for SqliteStore {
    async fn reseal_batch(
        &self,
        key: &AtRestKey,
        column: SealedColumn,
        after: &str,
        limit: usize,
    ) -> Result<BatchOutcome, StoreError> {
        let SealedColumn { table, column: col, context } = column;
        let after = after.to_owned();
        let rows: Vec<(String, Vec<u8>)> = self
            .read(move |conn, _| {
                let mut stmt = conn.prepare(&format!(
                    "SELECT id, {col} FROM {table} WHERE id > ?1 AND {col} IS NOT NULL ORDER BY id LIMIT ?2"
                ))?;
                let rows = stmt
                    .query_map(params![after, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(rows)
            })
            .await?;
        let mut outcome =
            BatchOutcome { last_id: rows.last().map(|(id, _)| id.clone()), examined: rows.len(), resealed: 0 };
        let mut updates = Vec::new();
        for (id, blob) in rows {
            if let Some(new) = key.reseal(&format!("{context}:{id}"), &blob)? {
                updates.push((id, blob, new));
            }
        }
        if !updates.is_empty() {
            outcome.resealed = self
                .write(move |conn| {
                    let mut stmt =
                        conn.prepare_cached(&format!("UPDATE {table} SET {col} = ?3 WHERE id = ?1 AND {col} = ?2"))?;
                    let mut n = 0;
                    for (id, old, new) in &updates {
                        n += stmt.execute(params![id, old, new])?;
                    }
                    Ok(n)
                })
                .await?;
        }
        Ok(outcome)
    }

    async fn finish_rotation(&self, _key: &AtRestKey) -> Result<(), StoreError> {
        self.checkpoint().await
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use rusqlite::OptionalExtension;

    use super::*;
    use crate::rotation::{self, SEALED_COLUMNS};

    fn b64(key: [u8; 32]) -> String {
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    async fn blob(store: &SqliteStore, column: SealedColumn, id: &str) -> Option<Vec<u8>> {
        let id = id.to_owned();
        let SealedColumn { table, column, .. } = column;
        store
            .read(move |conn, _| {
                Ok(conn
                    .query_row(&format!("SELECT {column} FROM {table} WHERE id = ?1"), params![id], |r| r.get(0))
                    .optional()?
                    .flatten())
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn every_sealed_column_is_resealed_in_batches_and_then_opens_with_the_new_key_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let old = AtRestKey::from_bytes([1; 32]);
        let ring = AtRestKey::from_bytes([2; 32]).with_previous(&[b64([1; 32])]).unwrap();
        let store = SqliteStore::open(&path, ring.clone()).unwrap();
        // More rows than a batch, half of them sealed under the new key already.
        let n = rotation::BATCH + 7;
        let rows: Vec<(String, [Vec<u8>; 4])> = (0..n)
            .map(|i| {
                let id = format!("r{i:04}");
                let key = if i % 2 == 0 { &old } else { &ring };
                let blobs: [Vec<u8>; 4] =
                    std::array::from_fn(|c| key.seal(&format!("{}:{id}", SEALED_COLUMNS[c].context), id.as_bytes()));
                (id, blobs)
            })
            .collect();
        store
            .write(move |conn| {
                for (id, [request, callbacks, content, secret]) in &rows {
                    conn.execute(
                        "INSERT INTO jobs (id, account, received_ms, request, secure, state, callbacks)
                         VALUES (?1, 'a', 0, ?2, 1, 'queued', ?3)",
                        params![id, request, callbacks],
                    )?;
                    conn.execute(
                        "INSERT INTO messages (id, job_id, block, kind, reverse_path, content, held_secret, next_ms)
                         VALUES (?1, ?1, 0, 'original', '', ?2, ?3, 0)",
                        params![id, content, secret],
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();

        let mut batches = 0;
        let total = rotation::rotate(&store, &ring, |_, _| batches += 1).await.unwrap();
        assert_eq!(total.examined, 4 * n);
        assert_eq!(total.resealed, 4 * n.div_ceil(2));
        assert_eq!(batches, 4 * 2, "two batches per column");
        drop(store);

        let store = SqliteStore::open(&path, AtRestKey::from_bytes([2; 32])).unwrap();
        for i in [0, 1, n - 1] {
            let id = format!("r{i:04}");
            for column in SEALED_COLUMNS {
                let blob = blob(&store, *column, &id).await.expect("a blob");
                let plain = AtRestKey::from_bytes([2; 32]).open(&format!("{}:{id}", column.context), &blob).unwrap();
                assert_eq!(plain, id.as_bytes(), "{}.{} of {id}", column.table, column.column);
            }
        }
        let again = rotation::rotate(&store, &AtRestKey::from_bytes([2; 32]), |_, _| {}).await.unwrap();
        assert_eq!((again.examined, again.resealed), (4 * n, 0));
    }

    #[tokio::test]
    async fn a_blob_no_key_opens_stops_the_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db"), AtRestKey::from_bytes([2; 32])).unwrap();
        let foreign = AtRestKey::from_bytes([9; 32]).seal("request:j", b"x");
        store
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO jobs (id, account, received_ms, request, secure, state) VALUES ('j', 'a', 0, ?1, 1, 'queued')",
                    params![foreign],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        let err = rotation::rotate(&store, &AtRestKey::from_bytes([2; 32]), |_, _| {}).await.unwrap_err();
        assert!(matches!(err, StoreError::AtRest(_)), "{err}");
    }
}
