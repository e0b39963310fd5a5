//! The per-account lists in PostgreSQL, as in SQLite (`sqlite/lists.rs`): the suppression
//! list ([`crate::suppression`]) and the rate-limit counters ([`crate::rate`]),
//! both written inside the caller's transaction.
//!
//! The rate check reads the hour's counters and then adds to one: two nodes admitting the
//! same account at once could both see room for the last places. A transaction-scoped
//! advisory lock per account serialises them; it is held only until the submission commits.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::connection::PostgresStore;
use crate::rate::{self, Exceeded};
use crate::suppression::{Reason, Suppression};
use crate::{Lists, StoreError};

#[async_trait]
impl Lists for PostgresStore {
    async fn job_suppressions(&self, job_id: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
        let client = self.pool.get().await?;
        of_job(&client, job_id, now_ms).await
    }

    async fn suppressions(&self, account: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
        let client = self.pool.get().await?;
        of_account(&client, account, now_ms).await
    }

    async fn remove_suppression(&self, account: &str, address: &str) -> Result<bool, StoreError> {
        let client = self.pool.get().await?;
        unsuppress(&client, account, address).await
    }
}

/// The first key of the accounts' advisory locks (the second is the account's hash); the
/// two-key form never collides with the schema lock's one-key form.
const RATE_LOCK_CLASS: i32 = 0x7261_7465; // "rate"

/// Lists `entry` for the account of `job_id`. An address listed already keeps the later of
/// the two end times, and the reason and detail of the entry that ends later.
pub(super) async fn suppress(tx: &impl GenericClient, job_id: &str, entry: &Suppression) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO suppressions (account, address, reason, detail, job_id, created_ms, until_ms)
         SELECT account, $2, $3, $4, $1, $5, $6 FROM jobs WHERE id = $1
         ON CONFLICT (account, address) DO UPDATE SET
             reason = excluded.reason, detail = excluded.detail, job_id = excluded.job_id,
             created_ms = excluded.created_ms, until_ms = excluded.until_ms
         WHERE excluded.until_ms >= suppressions.until_ms",
        &[
            &job_id,
            &entry.address.to_lowercase(),
            &entry.reason.as_str(),
            &entry.detail,
            &(entry.created_ms as i64),
            &(entry.until_ms as i64),
        ],
    )
    .await?;
    Ok(())
}

/// The entries in force at `now_ms` of the account.
async fn of_account(client: &impl GenericClient, account: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
    let rows = client
        .query(
            "SELECT address, reason, detail, job_id, created_ms, until_ms FROM suppressions
             WHERE account = $1 AND until_ms > $2 ORDER BY address",
            &[&account, &(now_ms as i64)],
        )
        .await?;
    rows.iter().map(entry).collect()
}

/// The entries in force at `now_ms` for the recipients of a job, in its account.
async fn of_job(client: &impl GenericClient, job_id: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
    let rows = client
        .query(
            "SELECT s.address, s.reason, s.detail, s.job_id, s.created_ms, s.until_ms
             FROM suppressions s JOIN jobs j ON j.account = s.account
             WHERE j.id = $1 AND s.until_ms > $2
               AND s.address IN (SELECT lower(address) FROM recipients WHERE job_id = $1)
             ORDER BY s.address",
            &[&job_id, &(now_ms as i64)],
        )
        .await?;
    rows.iter().map(entry).collect()
}

fn entry(row: &Row) -> Result<Suppression, StoreError> {
    let reason: String = row.try_get(1)?;
    Ok(Suppression {
        address: row.try_get(0)?,
        reason: Reason::parse(&reason)
            .ok_or_else(|| StoreError::Database(format!("unknown suppression reason {reason:?} in the database")))?,
        detail: row.try_get(2)?,
        job_id: row.try_get(3)?,
        created_ms: row.try_get::<_, i64>(4)? as u64,
        until_ms: row.try_get::<_, i64>(5)? as u64,
    })
}

/// Takes `address` off the account's list.
async fn unsuppress(client: &impl GenericClient, account: &str, address: &str) -> Result<bool, StoreError> {
    let removed = client
        .execute("DELETE FROM suppressions WHERE account = $1 AND address = $2", &[&account, &address.to_lowercase()])
        .await?;
    Ok(removed > 0)
}

/// Counts `recipients` for the account at `now_ms` if they fit under `per_hour`.
pub(super) async fn admit(
    tx: &impl GenericClient,
    account: &str,
    per_hour: u64,
    now_ms: u64,
    recipients: u64,
) -> Result<Result<(), Exceeded>, StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", &[&RATE_LOCK_CLASS, &account]).await?;
    let oldest = rate::oldest_counted(now_ms) as i64;
    tx.execute("DELETE FROM rate_windows WHERE account = $1 AND window_no < $2", &[&account, &oldest]).await?;
    let counted = tx
        .query("SELECT window_no, recipients FROM rate_windows WHERE account = $1", &[&account])
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<_, i64>(0)? as u64, r.try_get::<_, i64>(1)? as u64)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    if let Err(exceeded) = rate::check(per_hour, now_ms, recipients, &counted) {
        return Ok(Err(exceeded));
    }
    tx.execute(
        "INSERT INTO rate_windows (account, window_no, recipients) VALUES ($1, $2, $3)
         ON CONFLICT (account, window_no) DO UPDATE SET recipients = rate_windows.recipients + excluded.recipients",
        &[&account, &(rate::window_of(now_ms) as i64), &(recipients as i64)],
    )
    .await?;
    Ok(Ok(()))
}
