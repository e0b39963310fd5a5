//! The PostgreSQL schema: migrations recorded in a version table, and the storage-key check
//! that keeps nodes with different keys off one database.
//!
//! Every node runs [`migrate`] at start-up. A transaction-scoped advisory lock serialises
//! nodes starting at the same time, so each migration runs exactly once; a database whose
//! schema is newer than this binary is refused (an old node must not write into a schema
//! it does not know).

use deadpool_postgres::Client;

use crate::StoreError;
use crate::at_rest::AtRestKey;

/// The migrations in `migrations/postgres/`, applied in order; `sealmail_schema.version`
/// records how many ran. Never edit a released one: add a file. The schema mirrors SQLite's
/// (same tables and columns).
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/0001_initial.sql"),
    include_str!("../../migrations/postgres/0002_retention.sql"),
];

/// The advisory lock of schema changes (any constant; it only has to be the same in every
/// node): "sealmail" in ASCII.
const MIGRATION_LOCK: i64 = 0x7365_616c_6d61_696c;

/// What [`AtRestKey::derive`] is asked for to make the key check value. Any purpose string
/// no other use of the key has: the value reveals nothing of the key (HMAC-SHA256).
const KEY_CHECK_PURPOSE: &str = "sealmail store key check v1";

/// Applies pending migrations (once, whichever node gets there first) and refuses a schema
/// newer than this binary.
pub(super) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS sealmail_schema (version INTEGER NOT NULL)").await?;
    let done: i32 = match tx.query_opt("SELECT version FROM sealmail_schema", &[]).await? {
        Some(row) => row.try_get(0)?,
        None => {
            tx.execute("INSERT INTO sealmail_schema (version) VALUES (0)", &[]).await?;
            0
        }
    };
    let done = usize::try_from(done).unwrap_or(0);
    if done > MIGRATIONS.len() {
        return Err(StoreError::Database(format!(
            "the database has schema version {done}, newer than this sealmail ({}); upgrade sealmail",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        tx.batch_execute(sql).await?;
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute("UPDATE sealmail_schema SET version = $1", &[&version]).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records the key check value on first start and refuses a key whose value differs: every
/// node must seal with the same key, or one node could not read what another stored. During
/// a rotation the recorded value is still the previous key's, which a node accepts when that
/// key is among its `previous_storage_keys`; [`record_rotated_key`] moves the value to the
/// new key once everything is re-sealed, after which a node with only the old key is refused.
pub(super) async fn check_key(client: &Client, key: &AtRestKey) -> Result<(), StoreError> {
    let value = key.derive(KEY_CHECK_PURPOSE).to_vec();
    client
        .execute(
            "INSERT INTO sealmail_meta (name, value) VALUES ('storage_key_check', $1) ON CONFLICT (name) DO NOTHING",
            &[&value],
        )
        .await?;
    let stored: Vec<u8> =
        client.query_one("SELECT value FROM sealmail_meta WHERE name = 'storage_key_check'", &[]).await?.try_get(0)?;
    let previous = key.derive_previous(KEY_CHECK_PURPOSE);
    if stored == value || previous.iter().any(|p| p[..] == stored[..]) { Ok(()) } else { Err(StoreError::KeyMismatch) }
}

/// Records the current key as the database's key (a rotation is complete).
pub(super) async fn record_rotated_key(client: &Client, key: &AtRestKey) -> Result<(), StoreError> {
    let value = key.derive(KEY_CHECK_PURPOSE).to_vec();
    client.execute("UPDATE sealmail_meta SET value = $1 WHERE name = 'storage_key_check'", &[&value]).await?;
    Ok(())
}
