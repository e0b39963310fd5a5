//! The embedded store: one SQLite file in WAL mode (docs/service.md#storage).
//!
//! Durability: every write goes through one writer thread that commits whatever is queued
//! as one transaction (group commit) with `synchronous = FULL`, so the WAL is fsync'd
//! before any caller hears "done" — an accepted job survives a power cut, like an MTA's 250
//! — while many submissions share one fsync. Each operation runs in its own savepoint, so
//! one failing operation does not take its batch-mates down. Reads use a small pool of
//! read connections, which WAL lets run beside the writer.
//!
//! The writer thread is the one serial resource, so it does only SQL: encryption at rest
//! happens in the callers before an operation is queued (and after a read).
//!
//! `secure_delete = FAST` overwrites purged request bodies, messages and secrets where that
//! costs no extra I/O (on pages being written anyway); whole free pages are given back by
//! `incremental_vacuum` and the `-wal` file truncated periodically ([`vacuum`]). It is all
//! encrypted at rest (`at_rest`), so this is defence in depth; full `ON` cost ~290 page
//! writes per delivery commit (docs/performance.md).
//!
//! One file per concern of the store's interface, as in the PostgreSQL backend: [`jobs`],
//! [`queue`], [`messages`], [`outbox`], [`accounts`], [`lists`], [`erase`]; the schema's
//! migrations in [`schema`], key rotation in [`rotate`]. The connection and the writer are
//! in [`connection`], the statements several concerns' commits share in [`commit`].

mod accounts;
mod commit;
mod connection;
mod erase;
mod jobs;
mod lists;
mod messages;
mod outbox;
mod queue;
mod rotate;
mod schema;
mod vacuum;

pub use connection::SqliteStore;

#[cfg(test)]
mod tests {
    //! What only SQLite does: releasing every lease at start-up (one node per database) and
    //! refusing a newer schema. The store's contract itself is `crate::conformance`, run here
    //! and on PostgreSQL.
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use rusqlite::Connection;

    use super::*;
    use crate::at_rest::AtRestKey;
    use crate::conformance::job;
    use crate::{Jobs, Queue, Store};

    fn store(dir: &Path) -> SqliteStore {
        SqliteStore::open(&dir.join("t.db"), AtRestKey::from_bytes([3; 32])).unwrap()
    }

    #[tokio::test]
    async fn leases_of_a_dead_worker_expire_or_are_released_at_start() {
        let dir = tempfile::tempdir().unwrap();
        let s = store(dir.path());
        s.submit(job("j1", None)).await.unwrap();
        assert!(s.claim("dead", 2_000, 1_000).await.unwrap().is_some());
        assert!(s.claim("w", 2_500, 1_000).await.unwrap().is_none());
        assert!(s.claim("w", 3_001, 1_000).await.unwrap().is_some(), "expired lease");
        s.release_leases().await.unwrap();
        assert!(s.claim("w2", 3_002, 1_000).await.unwrap().is_some(), "released");
    }

    #[test]
    fn a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        Connection::open(&path).unwrap().execute_batch("PRAGMA user_version = 99").unwrap();
        let err = SqliteStore::open(&path, AtRestKey::from_bytes([3; 32])).err().unwrap();
        assert!(err.to_string().contains("newer"), "{err}");
    }

    /// The backend-generic contract (`crate::conformance`), which PostgreSQL passes too.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_store_contract_holds() {
        let dir = tempfile::tempdir().unwrap();
        let opened = AtomicUsize::new(0);
        crate::conformance::run_all(async |per_post| {
            let path = dir.path().join(format!("c{}.db", opened.fetch_add(1, Ordering::Relaxed)));
            let s = SqliteStore::open(&path, AtRestKey::from_bytes([3; 32])).unwrap();
            s.set_max_events_per_post(per_post);
            Arc::new(s) as Arc<dyn Store>
        })
        .await;
    }
}
