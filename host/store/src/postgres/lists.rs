//! The per-account lists in PostgreSQL, as in SQLite (`sqlite/lists.rs`): the suppression
//! list ([`crate::suppression`]) and the rate-limit counters ([`crate::rate`]),
//! both written inside the caller's transaction.
//!
//! The rate check reads the hour's counters and then adds to one: two nodes admitting the
//! same account at once could both see room for the last places. A transaction-scoped
//! advisory lock per account serialises them; it is held only until the submission commits.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::StoreError;
use crate::rate::{self, Exceeded};
use crate::suppression::{Reason, Suppression};

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
pub(super) async fn of_account(
    client: &impl GenericClient,
    account: &str,
    now_ms: u64,
) -> Result<Vec<Suppression>, StoreError> {
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
pub(super) async fn of_job(
    client: &impl GenericClient,
    job_id: &str,
    now_ms: u64,
) -> Result<Vec<Suppression>, StoreError> {
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
pub(super) async fn unsuppress(client: &impl GenericClient, account: &str, address: &str) -> Result<bool, StoreError> {
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

/// [`crate::Store::late_bounce`] in a transaction (the same steps as in SQLite,
/// `sqlite/lists.rs`); the job's row is locked first, as every commit of a job does.
pub(super) async fn late_bounce(
    tx: &impl GenericClient,
    bounce: &crate::LateBounce,
    per_post: usize,
) -> Result<crate::LateBounceOutcome, StoreError> {
    use crate::{Effects, Event, EventKind, LateBounceOutcome};
    // Message-IDs are `<token>@<message_id_domain>`; the token alone is unique (128 bits).
    let pattern = format!("{}@%", bounce.message_token.replace(['%', '_', '\\'], ""));
    let Some(row) = tx.query_opt("SELECT id, job_id, kind, block FROM messages WHERE id LIKE $1", &[&pattern]).await?
    else {
        return Ok(LateBounceOutcome::UnknownMessage);
    };
    let (message_id, job_id, kind): (String, String, String) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
    let block = row.try_get::<_, i32>(3)? as u32;
    if kind != "original" {
        return Ok(LateBounceOutcome::PasswordMail);
    }
    super::lock_job(tx, &job_id).await?;
    let Some(row) = tx
        .query_opt(
            "UPDATE deliveries SET status = 'bounced'
             WHERE message_id = $1 AND lower(address) = lower($2) AND status = 'delivered' RETURNING address",
            &[&message_id, &bounce.address],
        )
        .await?
    else {
        return Ok(LateBounceOutcome::NotDelivered);
    };
    let address: String = row.try_get(0)?;
    tx.execute(
        "UPDATE recipients SET status = 'bounced', reply = $4, detail = $5, updated_ms = $6
         WHERE job_id = $1 AND block = $2 AND address = $3",
        &[&job_id, &(block as i32), &address, &bounce.description, &bounce.status, &(bounce.now_ms as i64)],
    )
    .await?;
    let event = Event {
        block,
        recipient: address.clone(),
        kind: EventKind::HardBounce,
        description: bounce.description.clone(),
    };
    let effects = Effects { enqueued: vec![], events: vec![event] };
    super::outbox::insert_events(tx, &job_id, bounce.now_ms, &effects, per_post).await?;
    if let Some(period) = bounce.suppress_for_ms {
        let entry =
            Suppression::for_period(Reason::HardBounce, &address, &bounce.description, &job_id, bounce.now_ms, period);
        suppress(tx, &job_id, &entry).await?;
    }
    Ok(LateBounceOutcome::Recorded { job_id })
}
