//! Erasure in SQLite: what purges delete must leave the files, not only the tables.
//!
//! - `secure_delete = FAST` (set on every connection) overwrites deleted cells on the pages a
//!   delete writes anyway.
//! - New databases are created with `auto_vacuum = INCREMENTAL`; every
//!   [`MAINTENANCE_INTERVAL`] an `incremental_vacuum` gives whole free pages back to the file
//!   system (truncating the file), so freed pages do not keep old blobs. A database created
//!   before (`auto_vacuum = NONE`) keeps its free pages until reused; `VACUUM` it offline to
//!   convert it (docs/service.md).
//! - Then `wal_checkpoint(TRUNCATE)` copies the WAL into the database and truncates the
//!   `-wal` file: WAL frames are copies of pages as they were written, so until then a
//!   purged blob survives in the `-wal` file. A rotation ends with one too
//!   ([`SqliteStore::checkpoint`]).
//!
//! Every blob is sealed ([`crate::at_rest`]) anyway: this is defence in depth.

use std::sync::Weak;
use std::time::Duration;

use super::connection::{Inner, SqliteStore};
use crate::StoreError;

/// How often free pages are vacuumed and the WAL truncated.
pub(super) const MAINTENANCE_INTERVAL: Duration = Duration::from_secs(60);

impl SqliteStore {
    /// Gives free pages back (`incremental_vacuum`) and truncates the `-wal` file
    /// (`wal_checkpoint(TRUNCATE)`).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        // A write, so it queues behind the writer's batches instead of fighting them for
        // the lock; a no-op on a database without auto_vacuum.
        self.write(|conn| {
            // Each step frees one page: step it to the end.
            let mut stmt = conn.prepare("PRAGMA incremental_vacuum")?;
            let mut rows = stmt.query([])?;
            while rows.next()?.is_some() {}
            Ok(())
        })
        .await?;
        // Outside any transaction (a checkpoint cannot run inside one), on a read
        // connection: it waits (busy timeout) for readers of older snapshots to finish.
        self.read(|conn, _| {
            let (busy, _, _): (i64, i64, i64) =
                conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            if busy != 0 {
                tracing::debug!("the WAL checkpoint could not complete (busy); the next one will");
            }
            Ok(())
        })
        .await
    }
}

/// Runs [`SqliteStore::checkpoint`] every [`MAINTENANCE_INTERVAL`] until the store is
/// dropped, on its own thread (the store opens without a runtime).
pub(super) fn spawn_maintenance(inner: Weak<Inner>) {
    let _ = std::thread::Builder::new().name("sealmail-vacuum".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!("no WAL maintenance: {e}");
                return;
            }
        };
        loop {
            std::thread::sleep(MAINTENANCE_INTERVAL);
            let Some(inner) = inner.upgrade() else { return };
            let store = SqliteStore { inner };
            if let Err(e) = runtime.block_on(store.checkpoint()) {
                tracing::debug!("WAL maintenance failed: {e}");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use rusqlite::params;

    use super::*;
    use crate::at_rest::AtRestKey;

    #[tokio::test]
    async fn new_databases_vacuum_incrementally_and_a_checkpoint_empties_the_wal() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let store = SqliteStore::open(&path, AtRestKey::from_bytes([3; 32])).unwrap();
        let mode: i64 =
            store.read(|conn, _| Ok(conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(mode, 2, "INCREMENTAL");
        let marker = b"erase-me-".repeat(2000);
        store
            .write(move |conn| {
                conn.execute(
                    "INSERT INTO jobs (id, account, received_ms, request, secure, state) VALUES ('j', 'a', 0, ?1, 1, 'queued')",
                    params![marker],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        store
            .write(|conn| {
                conn.execute("DELETE FROM jobs", [])?;
                Ok(())
            })
            .await
            .unwrap();
        let wal = dir.path().join("t.db-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 0);
        store.checkpoint().await.unwrap();
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0, "the -wal file is truncated");
        let free: i64 =
            store.read(|conn, _| Ok(conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?)).await.unwrap();
        assert_eq!(free, 0, "free pages are given back");
        let file = std::fs::read(&path).unwrap();
        assert!(!file.windows(9).any(|w| w == b"erase-me-"), "the deleted row left the file");
    }
}
