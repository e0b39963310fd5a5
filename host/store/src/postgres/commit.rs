//! The statements several concerns' commits share: a recipient's new state, the messages and
//! events a workflow call queued (with their callback posts), a job becoming delivering or
//! finished, and reading events back.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::names::{DbName, JOB_DELIVERING, JOB_FINISHED, JOB_QUEUED, POST_PENDING, parse};
use crate::{
    DeliveryStatus, Event, MessageKind, NotificationState, OutgoingMessage, PostState, RecipientUpdate, SealedEffects,
    StoreError, StoredEvent,
};

/// An event from the columns `seq, block, recipient, kind, description, ts_ms` (the first
/// six of the row), without its notification state.
pub(super) fn event_row(r: &Row) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        seq: r.try_get(0)?,
        block: r.try_get::<_, i32>(1)? as u32,
        recipient: r.try_get(2)?,
        kind: parse("event kind", r.try_get(3)?)?,
        description: r.try_get(4)?,
        ts_ms: r.try_get::<_, i64>(5)? as u64,
        notification: None,
    })
}

impl SealedEffects {
    /// Inserts the enqueued messages (with their recipients) and the events (with their
    /// callback posts, at most `per_post` events each).
    pub(super) async fn insert_postgres(
        &self,
        tx: &impl GenericClient,
        job_id: &str,
        now_ms: u64,
        per_post: usize,
    ) -> Result<(), StoreError> {
        insert_messages(tx, job_id, now_ms, &self.effects.enqueued, &self.blobs).await?;
        insert_events(tx, job_id, now_ms, &self.effects.events, per_post).await
    }
}

/// Applies a recipient's new state, decided for its original or its password mail.
pub(super) async fn apply_update(
    tx: &impl GenericClient,
    job_id: &str,
    kind: MessageKind,
    now_ms: u64,
    u: &RecipientUpdate,
) -> Result<(), StoreError> {
    let password = u.password.map(DbName::to_db);
    let (block, now) = (u.block as i32, now_ms as i64);
    match kind {
        MessageKind::Original => {
            tx.execute(
                "UPDATE recipients SET status = $4, password = COALESCE($5, password), reply = COALESCE($6, reply),
                     detail = $7, updated_ms = $8
                 WHERE job_id = $1 AND block = $2 AND address = $3",
                &[&job_id, &block, &u.address, &u.status.to_db(), &password, &u.reply, &u.detail, &now],
            )
            .await?
        }
        // A password mail's own delivery status lives in `deliveries`; the recipient's row
        // keeps its original's status and reply, and gets the password state.
        MessageKind::PasswordMail => {
            tx.execute(
                "UPDATE recipients SET password = COALESCE($4, password), updated_ms = $5
                 WHERE job_id = $1 AND block = $2 AND address = $3",
                &[&job_id, &block, &u.address, &password, &now],
            )
            .await?
        }
    };
    Ok(())
}

/// Marks the job finished and purges its secrets when no message is left undone. The
/// caller holds the job's row lock.
pub(super) async fn finish_if_done(tx: &impl GenericClient, job_id: &str, now_ms: u64) -> Result<bool, StoreError> {
    const OPEN: &str = const_format::formatcp!(
        "SELECT (SELECT count(*) FROM messages WHERE job_id = $1 AND NOT done)
              + (SELECT count(*) FROM jobs WHERE id = $1 AND state = {JOB_QUEUED})"
    );
    const FINISH: &str = const_format::formatcp!(
        "UPDATE jobs SET state = {JOB_FINISHED}, finished_ms = $2, request = NULL, lease_owner = NULL,
             lease_until = NULL
         WHERE id = $1 AND state != {JOB_FINISHED}"
    );
    let open: i64 = tx.query_one(OPEN, &[&job_id]).await?.try_get(0)?;
    if open > 0 {
        return Ok(false);
    }
    // The callback setup (sealed) stays until the job is erased (retention or DELETE):
    // a bounce reported after delivery is pushed like every other event.
    let changed = tx.execute(FINISH, &[&job_id, &(now_ms as i64)]).await?;
    tx.execute("UPDATE messages SET content = NULL, held_secret = NULL WHERE job_id = $1", &[&job_id]).await?;
    Ok(changed > 0)
}

/// Marks a started job as delivering (its messages, if any, are queued).
pub(super) async fn start_delivering(tx: &impl GenericClient, job_id: &str) -> Result<(), StoreError> {
    const SQL: &str = const_format::formatcp!(
        "UPDATE jobs SET state = {JOB_DELIVERING}, lease_owner = NULL, lease_until = NULL WHERE id = $1"
    );
    tx.execute(SQL, &[&job_id]).await?;
    Ok(())
}

/// Inserts `enqueued` (sealed as `blobs`) with one queued delivery per recipient.
async fn insert_messages(
    tx: &impl GenericClient,
    job_id: &str,
    now_ms: u64,
    enqueued: &[OutgoingMessage],
    blobs: &[(Vec<u8>, Option<Vec<u8>>)],
) -> Result<(), StoreError> {
    let message = tx
        .prepare_cached(
            "INSERT INTO messages (id, job_id, block, kind, parent, reverse_path, content, held_secret, next_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .await?;
    let delivery = tx
        .prepare_cached("INSERT INTO deliveries (message_id, address, name, role, status) VALUES ($1, $2, $3, $4, $5)")
        .await?;
    let queued = DeliveryStatus::Queued.to_db();
    for (m, (content, secret)) in enqueued.iter().zip(blobs) {
        let block = m.block as i32;
        tx.execute(
            &message,
            &[
                &m.message_id,
                &job_id,
                &block,
                &m.kind.to_db(),
                &m.parent,
                &m.reverse_path,
                content,
                secret,
                &(now_ms as i64),
            ],
        )
        .await?;
        for r in &m.recipients {
            tx.execute(&delivery, &[&m.message_id, &r.address, &r.name, &r.role.to_db(), &queued]).await?;
        }
    }
    Ok(())
}

/// Inserts `events` for `job_id` and, when the job has a callback setup, their posts: the
/// events in call order, at most `per_post` to a post. The caller holds the job's row lock.
async fn insert_events(
    tx: &impl GenericClient,
    job_id: &str,
    now_ms: u64,
    events: &[Event],
    per_post: usize,
) -> Result<(), StoreError> {
    const INSERT_POST: &str = const_format::formatcp!(
        "INSERT INTO callback_posts (job_id, state, next_ms, updated_ms) VALUES ($1, {POST_PENDING}, $2, $2) RETURNING id"
    );
    if events.is_empty() {
        return Ok(());
    }
    let now = now_ms as i64;
    let pushed = tx
        .query_opt("SELECT callbacks IS NOT NULL FROM jobs WHERE id = $1", &[&job_id])
        .await?
        .map(|r| r.try_get::<_, bool>(0))
        .transpose()?
        .unwrap_or(false);
    let insert_post = tx.prepare_cached(INSERT_POST).await?;
    let insert_event = tx
        .prepare_cached(
            "INSERT INTO events (job_id, block, recipient, kind, description, ts_ms, post)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .await?;
    for chunk in events.chunks(per_post.max(1)) {
        let post: Option<i64> =
            if pushed { Some(tx.query_one(&insert_post, &[&job_id, &now]).await?.try_get(0)?) } else { None };
        for e in chunk {
            let block = e.block as i32;
            tx.execute(&insert_event, &[&job_id, &block, &e.recipient, &e.kind.to_db(), &e.description, &now, &post])
                .await?;
        }
    }
    Ok(())
}

/// Reads a notification state from the columns `state, tries, last_status, last_error`
/// starting at `first` (all NULL for an event without a post).
pub(super) fn notification(row: &Row, first: usize) -> Result<Option<NotificationState>, StoreError> {
    let Some(state) = row.try_get::<_, Option<String>>(first)? else { return Ok(None) };
    Ok(Some(NotificationState {
        state: parse::<PostState>("post state", &state)?,
        tries: row.try_get::<_, i32>(first + 1)? as u32,
        http_status: row.try_get::<_, Option<i32>>(first + 2)?.and_then(|s| u16::try_from(s).ok()),
        error: row.try_get(first + 3)?,
    }))
}
