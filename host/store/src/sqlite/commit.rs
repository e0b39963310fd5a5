//! The statements several concerns' commits share: a recipient's new state, the messages and
//! events a workflow call queued (with their callback posts), a job becoming delivering or
//! finished, and reading events back.

use rusqlite::{Connection, OptionalExtension, params};

use super::connection::{execute, query_row};
use crate::names::{DbName, JOB_DELIVERING, JOB_FINISHED, JOB_QUEUED, POST_PENDING, parse};
use crate::{
    DeliveryStatus, Event, MessageKind, NotificationState, OutgoingMessage, PostState, RecipientUpdate, SealedEffects,
    StoreError, StoredEvent,
};

impl SealedEffects {
    /// Inserts the enqueued messages (with their recipients) and the events (with their
    /// callback posts, at most `per_post` events each).
    pub(super) fn insert_sqlite(
        &self,
        conn: &Connection,
        job_id: &str,
        now_ms: u64,
        per_post: usize,
    ) -> Result<(), StoreError> {
        insert_messages(conn, job_id, now_ms, &self.effects.enqueued, &self.blobs)?;
        insert_events(conn, job_id, now_ms, &self.effects.events, per_post)
    }
}

/// An event from the columns `seq, block, recipient, kind, description, ts_ms` (the first
/// six of the row), without its notification state.
pub(super) fn event_row(r: &rusqlite::Row<'_>) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: r.get(0)?,
        block: r.get(1)?,
        recipient: r.get(2)?,
        kind: parse("event kind", &r.get::<_, String>(3)?)?,
        description: r.get(4)?,
        ts_ms: r.get::<_, i64>(5)? as u64,
        notification: None,
    })
}

/// Applies a recipient's new state, decided for its original or its password mail.
pub(super) fn apply_update(
    conn: &Connection,
    job_id: &str,
    kind: MessageKind,
    now_ms: u64,
    u: &RecipientUpdate,
) -> Result<(), StoreError> {
    let password = u.password.map(DbName::to_db);
    match kind {
        MessageKind::Original => execute(
            conn,
            "UPDATE recipients SET status = ?4, password = COALESCE(?5, password), reply = COALESCE(?6, reply),
                 detail = ?7, updated_ms = ?8
             WHERE job_id = ?1 AND block = ?2 AND address = ?3",
            params![job_id, u.block, u.address, u.status.to_db(), password, u.reply, u.detail, now_ms as i64],
        )?,
        // A password mail's own delivery status lives in `deliveries`; the recipient's row
        // keeps its original's status and reply, and gets the password state.
        MessageKind::PasswordMail => execute(
            conn,
            "UPDATE recipients SET password = COALESCE(?4, password), updated_ms = ?5
             WHERE job_id = ?1 AND block = ?2 AND address = ?3",
            params![job_id, u.block, u.address, password, now_ms as i64],
        )?,
    };
    Ok(())
}

/// Marks the job finished and purges its secrets when no message is left undone.
pub(super) fn finish_if_done(conn: &Connection, job_id: &str, now_ms: u64) -> Result<bool, StoreError> {
    const OPEN: &str = const_format::formatcp!(
        "SELECT (SELECT count(*) FROM messages WHERE job_id = ?1 AND done = 0)
              + (SELECT count(*) FROM jobs WHERE id = ?1 AND state = {JOB_QUEUED})"
    );
    let open: i64 = query_row(conn, OPEN, params![job_id], |r| r.get(0))?;
    if open > 0 {
        return Ok(false);
    }
    // The callback setup (sealed) stays until the job is erased (retention or DELETE):
    // a bounce reported after delivery is pushed like every other event.
    const FINISH: &str = const_format::formatcp!(
        "UPDATE jobs SET state = {JOB_FINISHED}, finished_ms = ?2, request = NULL, lease_owner = NULL,
             lease_until = NULL
         WHERE id = ?1 AND state != {JOB_FINISHED}"
    );
    let changed = execute(conn, FINISH, params![job_id, now_ms as i64])?;
    execute(conn, "UPDATE messages SET content = NULL, held_secret = NULL WHERE job_id = ?1", params![job_id])?;
    Ok(changed > 0)
}

/// Marks a started job as delivering (its messages, if any, are queued).
pub(super) fn start_delivering(conn: &Connection, job_id: &str) -> Result<(), StoreError> {
    const SQL: &str = const_format::formatcp!(
        "UPDATE jobs SET state = {JOB_DELIVERING}, lease_owner = NULL, lease_until = NULL WHERE id = ?1"
    );
    execute(conn, SQL, params![job_id])?;
    Ok(())
}

/// Inserts `enqueued` (sealed as `blobs`) with one queued delivery per recipient.
fn insert_messages(
    conn: &Connection,
    job_id: &str,
    now_ms: u64,
    enqueued: &[OutgoingMessage],
    blobs: &[(Vec<u8>, Option<Vec<u8>>)],
) -> Result<(), StoreError> {
    let mut message = conn.prepare_cached(
        "INSERT INTO messages (id, job_id, block, kind, parent, reverse_path, content, held_secret, next_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?;
    let mut delivery = conn.prepare_cached(
        "INSERT INTO deliveries (message_id, address, name, role, status) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for (m, (content, secret)) in enqueued.iter().zip(blobs) {
        message.execute(params![
            m.message_id,
            job_id,
            m.block,
            m.kind.to_db(),
            m.parent,
            m.reverse_path,
            content,
            secret,
            now_ms as i64
        ])?;
        for r in &m.recipients {
            delivery.execute(params![
                m.message_id,
                r.address,
                r.name,
                r.role.to_db(),
                DeliveryStatus::Queued.to_db()
            ])?;
        }
    }
    Ok(())
}

/// Inserts `events` for `job_id` and, when the job has a callback setup, their posts: the
/// events in call order, at most `per_post` to a post.
fn insert_events(
    conn: &Connection,
    job_id: &str,
    now_ms: u64,
    events: &[Event],
    per_post: usize,
) -> Result<(), StoreError> {
    const INSERT_POST: &str = const_format::formatcp!(
        "INSERT INTO callback_posts (job_id, state, next_ms, updated_ms) VALUES (?1, {POST_PENDING}, ?2, ?2)"
    );
    if events.is_empty() {
        return Ok(());
    }
    let pushed: bool =
        query_row(conn, "SELECT callbacks IS NOT NULL FROM jobs WHERE id = ?1", params![job_id], |r| r.get(0))
            .optional()?
            .unwrap_or(false);
    let mut event = conn.prepare_cached(
        "INSERT INTO events (job_id, block, recipient, kind, description, ts_ms, post)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for chunk in events.chunks(per_post.max(1)) {
        let post: Option<i64> = if pushed {
            execute(conn, INSERT_POST, params![job_id, now_ms as i64])?;
            Some(conn.last_insert_rowid())
        } else {
            None
        };
        for e in chunk {
            event.execute(params![job_id, e.block, e.recipient, e.kind.to_db(), e.description, now_ms as i64, post])?;
        }
    }
    Ok(())
}

/// Reads a notification state from the columns `state, tries, last_status, last_error`
/// starting at `first` (all NULL for an event without a post).
pub(super) fn notification(row: &rusqlite::Row<'_>, first: usize) -> Result<Option<NotificationState>, StoreError> {
    let Some(state) = row.get::<_, Option<String>>(first)? else { return Ok(None) };
    Ok(Some(NotificationState {
        state: parse::<PostState>("post state", &state)?,
        tries: row.get(first + 1)?,
        http_status: row.get(first + 2)?,
        error: row.get(first + 3)?,
    }))
}
