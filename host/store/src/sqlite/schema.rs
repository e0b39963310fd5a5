//! The SQLite schema: the migrations in `migrations/sqlite/`, applied in order at start-up;
//! `PRAGMA user_version` records how many ran. A database whose schema is newer than this
//! binary is refused (an old binary must not write into a schema it does not know).

use rusqlite::Connection;

use crate::StoreError;

/// The migrations, in order. Never edit a released one: add a file.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/sqlite/0001_initial.sql"),
    include_str!("../../migrations/sqlite/0002_callbacks.sql"),
    include_str!("../../migrations/sqlite/0003_lists.sql"),
    include_str!("../../migrations/sqlite/0004_retention.sql"),
];

/// Applies the pending migrations, each in its own transaction.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let done: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if done > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database has schema version {done}, newer than this sealmail ({}); upgrade sealmail",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", i + 1))?;
        tx.commit()?;
    }
    Ok(())
}
