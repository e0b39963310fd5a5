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

/// Schema migrations, applied in order; `sealmail_schema.version` records how many ran.
/// Never edit a released entry: add a new one. Mirrors the SQLite schema (same tables and
/// columns), with `BIGSERIAL` where SQLite has `rowid`/`AUTOINCREMENT`: recipients and
/// deliveries are reported in insertion order.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE accounts (
  name TEXT PRIMARY KEY, secret_hash BYTEA NOT NULL, customer_no TEXT, created_ms BIGINT NOT NULL);
CREATE TABLE jobs (
  id TEXT PRIMARY KEY, account TEXT NOT NULL, received_ms BIGINT NOT NULL, request BYTEA,
  secure BOOLEAN NOT NULL, state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms BIGINT, lease_owner TEXT, lease_until BIGINT, finished_ms BIGINT, callbacks BYTEA);
CREATE INDEX jobs_due ON jobs(next_ms) WHERE state = 'queued';
CREATE TABLE recipients (
  seq BIGSERIAL NOT NULL, job_id TEXT NOT NULL, block INTEGER NOT NULL, address TEXT NOT NULL,
  role TEXT NOT NULL, reference TEXT, status TEXT NOT NULL, password TEXT NOT NULL, reply TEXT,
  detail TEXT, updated_ms BIGINT NOT NULL, PRIMARY KEY (job_id, block, address));
CREATE TABLE messages (
  id TEXT PRIMARY KEY, job_id TEXT NOT NULL, block INTEGER NOT NULL, kind TEXT NOT NULL,
  parent TEXT, reverse_path TEXT NOT NULL, content BYTEA, held_secret BYTEA,
  first_attempt_ms BIGINT NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0,
  next_ms BIGINT NOT NULL, lease_owner TEXT, lease_until BIGINT, done BOOLEAN NOT NULL DEFAULT FALSE);
CREATE INDEX messages_due ON messages(next_ms) WHERE NOT done;
CREATE INDEX messages_job ON messages(job_id);
CREATE TABLE deliveries (
  seq BIGSERIAL NOT NULL, message_id TEXT NOT NULL, address TEXT NOT NULL, name TEXT,
  role TEXT NOT NULL, status TEXT NOT NULL, PRIMARY KEY (message_id, address));
CREATE TABLE callback_posts (
  id BIGSERIAL PRIMARY KEY, job_id TEXT NOT NULL, state TEXT NOT NULL,
  tries INTEGER NOT NULL DEFAULT 0, next_ms BIGINT NOT NULL, last_status INTEGER, last_error TEXT,
  lease_owner TEXT, lease_until BIGINT, updated_ms BIGINT NOT NULL);
CREATE INDEX callback_posts_due ON callback_posts(next_ms) WHERE state = 'pending';
CREATE INDEX callback_posts_job ON callback_posts(job_id, id) WHERE state = 'pending';
CREATE TABLE events (
  seq BIGSERIAL PRIMARY KEY, job_id TEXT NOT NULL, block INTEGER NOT NULL, recipient TEXT NOT NULL,
  kind TEXT NOT NULL, description TEXT NOT NULL, ts_ms BIGINT NOT NULL, post BIGINT);
CREATE INDEX events_job ON events(job_id, seq);
CREATE INDEX events_post ON events(post) WHERE post IS NOT NULL;
CREATE TABLE idempotency (
  account TEXT NOT NULL, key TEXT NOT NULL, body_sha256 BYTEA NOT NULL, job_id TEXT NOT NULL,
  created_ms BIGINT NOT NULL, PRIMARY KEY (account, key));
CREATE TABLE suppressions (
  account TEXT NOT NULL, address TEXT NOT NULL, reason TEXT NOT NULL, detail TEXT NOT NULL,
  job_id TEXT NOT NULL, created_ms BIGINT NOT NULL, until_ms BIGINT NOT NULL,
  PRIMARY KEY (account, address));
CREATE TABLE rate_windows (
  account TEXT NOT NULL, window_no BIGINT NOT NULL, recipients BIGINT NOT NULL,
  PRIMARY KEY (account, window_no));
CREATE TABLE sealmail_meta (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
"#,
    // Retention (crate::erase): finding expired jobs, and a job's rows in every table.
    r#"
CREATE INDEX jobs_finished ON jobs(finished_ms) WHERE state = 'finished';
CREATE INDEX callback_posts_of_job ON callback_posts(job_id);
CREATE INDEX idempotency_job ON idempotency(job_id);
"#,
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
