//! The per-account lists in SQLite: the suppression list ([`crate::suppression`]) and
//! the rate-limit counters ([`crate::rate`]). Both are written inside the caller's
//! transaction — a bounce's listing with the delivery that bounced, a submission's count with
//! the job it admits — so neither can be lost or counted without the other.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::connection::{SqliteStore, execute};
use crate::rate::{self, Exceeded};
use crate::suppression::{Reason, Suppression};
use crate::{Lists, StoreError};

#[async_trait]
impl Lists for SqliteStore {
    async fn job_suppressions(&self, job_id: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
        let job_id = job_id.to_owned();
        self.read(move |conn, _| match job_account(conn, &job_id)? {
            Some(account) => list(conn, &account, Some(&job_id), now_ms),
            None => Ok(Vec::new()),
        })
        .await
    }

    async fn suppressions(&self, account: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
        let account = account.to_owned();
        self.read(move |conn, _| list(conn, &account, None, now_ms)).await
    }

    async fn remove_suppression(&self, account: &str, address: &str) -> Result<bool, StoreError> {
        let (account, address) = (account.to_owned(), address.to_owned());
        self.write(move |conn| unsuppress(conn, &account, &address)).await
    }
}

/// Lists `entry` for the account of `job_id`. An address listed already keeps the later of
/// the two end times, and the reason and detail of the entry that ends later.
pub(super) fn suppress(conn: &Connection, job_id: &str, entry: &Suppression) -> Result<(), StoreError> {
    execute(
        conn,
        "INSERT INTO suppressions (account, address, reason, detail, job_id, created_ms, until_ms)
         SELECT account, ?2, ?3, ?4, ?1, ?5, ?6 FROM jobs WHERE id = ?1
         ON CONFLICT (account, address) DO UPDATE SET
             reason = excluded.reason, detail = excluded.detail, job_id = excluded.job_id,
             created_ms = excluded.created_ms, until_ms = excluded.until_ms
         WHERE excluded.until_ms >= suppressions.until_ms",
        params![
            job_id,
            entry.address.to_lowercase(),
            entry.reason.as_str(),
            entry.detail,
            entry.created_ms as i64,
            entry.until_ms as i64
        ],
    )?;
    Ok(())
}

/// The entries in force at `now_ms`: of the account, or only those of the job's recipients.
fn list(conn: &Connection, account: &str, job_id: Option<&str>, now_ms: u64) -> Result<Vec<Suppression>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT address, reason, detail, job_id, created_ms, until_ms FROM suppressions
         WHERE account = ?1 AND until_ms > ?2
           AND (?3 IS NULL OR address IN (SELECT lower(address) FROM recipients WHERE job_id = ?3))
         ORDER BY address",
    )?;
    let rows = stmt.query_map(params![account, now_ms as i64, job_id], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get::<_, i64>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (address, reason, detail, job_id, created_ms, until_ms) = row?;
        let reason = Reason::parse(&reason)
            .ok_or_else(|| StoreError::Database(format!("unknown suppression reason {reason:?} in the database")))?;
        out.push(Suppression {
            address,
            reason,
            detail,
            job_id,
            created_ms: created_ms as u64,
            until_ms: until_ms as u64,
        });
    }
    Ok(out)
}

/// The account of a job.
fn job_account(conn: &Connection, job_id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn.query_row("SELECT account FROM jobs WHERE id = ?1", params![job_id], |r| r.get(0)).optional()?)
}

/// Takes `address` off the account's list.
fn unsuppress(conn: &Connection, account: &str, address: &str) -> Result<bool, StoreError> {
    let removed = execute(
        conn,
        "DELETE FROM suppressions WHERE account = ?1 AND address = ?2",
        params![account, address.to_lowercase()],
    )?;
    Ok(removed > 0)
}

/// Counts `recipients` for the account at `now_ms` if they fit under `per_hour`. (The
/// single writer thread serialises submissions, so the read and the add cannot interleave.)
pub(super) fn admit(
    conn: &Connection,
    account: &str,
    per_hour: u64,
    now_ms: u64,
    recipients: u64,
) -> Result<Result<(), Exceeded>, StoreError> {
    let oldest = rate::oldest_counted(now_ms) as i64;
    execute(conn, "DELETE FROM rate_windows WHERE account = ?1 AND window < ?2", params![account, oldest])?;
    let mut stmt = conn.prepare_cached("SELECT window, recipients FROM rate_windows WHERE account = ?1")?;
    let counted: Vec<(u64, u64)> = stmt
        .query_map(params![account], |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)))?
        .collect::<Result<_, _>>()?;
    if let Err(exceeded) = rate::check(per_hour, now_ms, recipients, &counted) {
        return Ok(Err(exceeded));
    }
    execute(
        conn,
        "INSERT INTO rate_windows (account, window, recipients) VALUES (?1, ?2, ?3)
         ON CONFLICT (account, window) DO UPDATE SET recipients = recipients + excluded.recipients",
        params![account, rate::window_of(now_ms) as i64, recipients as i64],
    )?;
    Ok(Ok(()))
}
