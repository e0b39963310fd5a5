//! [`Messages`] in SQLite: queued messages with their deliveries (one row per envelope
//! recipient), the commit of an attempt's outcome, and of a bounce reported after delivery.

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, params};

use super::commit::{apply_update, finish_if_done};
use super::connection::{SqliteStore, execute, query_row};
use super::lists;
use crate::names::{DELIVERY_DEFERRED, DELIVERY_DELIVERED, DELIVERY_QUEUED, DbName, parse};
use crate::suppression::Suppression;
use crate::{
    ClaimedMessage, DeliveryDecision, Effects, MessageKind, Messages, RecipientState, RecipientUpdate, SealedEffects,
    StoreError,
};

/// The recipients of message `id` with their status, in envelope order.
pub(super) fn deliveries(conn: &Connection, id: &str) -> Result<Vec<RecipientState>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT address, name, role, status FROM deliveries WHERE message_id = ?1 ORDER BY rowid")?;
    let mut rows = stmt.query(params![id])?;
    let mut recipients = Vec::new();
    while let Some(r) = rows.next()? {
        recipients.push(RecipientState {
            address: r.get(0)?,
            name: r.get(1)?,
            role: parse("role", &r.get::<_, String>(2)?)?,
            status: parse("status", &r.get::<_, String>(3)?)?,
        });
    }
    Ok(recipients)
}

/// The job and kind of message `id`.
fn job_and_kind(conn: &Connection, id: &str) -> Result<(String, MessageKind), StoreError> {
    let (job_id, kind): (String, String) =
        query_row(conn, "SELECT job_id, kind FROM messages WHERE id = ?1", params![id], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    Ok((job_id, parse("message kind", &kind)?))
}

#[async_trait]
impl Messages for SqliteStore {
    async fn message_content(&self, message_id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let message_id = message_id.to_owned();
        self.read(move |conn, key| {
            let row: Option<(String, Option<Vec<u8>>)> = conn
                .query_row("SELECT reverse_path, content FROM messages WHERE id = ?1", params![message_id], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            match row {
                Some((reverse_path, Some(blob))) => {
                    Ok(Some((reverse_path, key.open(&format!("message:{message_id}"), &blob)?)))
                }
                _ => Ok(None),
            }
        })
        .await
    }

    async fn held_secret(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let message_id = message_id.to_owned();
        self.read(move |conn, key| {
            let blob: Option<Option<Vec<u8>>> = conn
                .query_row("SELECT held_secret FROM messages WHERE id = ?1", params![message_id], |r| r.get(0))
                .optional()?;
            match blob.flatten() {
                Some(blob) => Ok(Some(key.open(&format!("secret:{message_id}"), &blob)?)),
                None => Ok(None),
            }
        })
        .await
    }

    async fn commit_delivery(
        &self,
        message_id: &str,
        now_ms: u64,
        decision: DeliveryDecision,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        const OPEN: &str = const_format::formatcp!(
            "SELECT count(*) FROM deliveries WHERE message_id = ?1 AND status IN ({DELIVERY_QUEUED}, {DELIVERY_DEFERRED})"
        );
        let message_id = message_id.to_owned();
        let effects = SealedEffects::seal(self.key(), effects);
        let per_post = self.events_per_post();
        self.write(move |conn| {
            let (job_id, kind) = job_and_kind(conn, &message_id)?;
            let mut delivery =
                conn.prepare_cached("UPDATE deliveries SET status = ?3 WHERE message_id = ?1 AND address = ?2")?;
            for u in &decision.updates {
                delivery.execute(params![message_id, u.address, u.status.to_db()])?;
                apply_update(conn, &job_id, kind, now_ms, u)?;
            }
            effects.insert_sqlite(conn, &job_id, now_ms, per_post)?;
            for entry in &decision.suppress {
                lists::suppress(conn, &job_id, entry)?;
            }
            if decision.erase_held_secret {
                execute(conn, "UPDATE messages SET held_secret = NULL WHERE id = ?1", params![message_id])?;
            }
            let open: i64 = query_row(conn, OPEN, params![message_id], |r| r.get(0))?;
            if open == 0 {
                execute(
                    conn,
                    "UPDATE messages SET done = 1, content = NULL, attempts = attempts + 1,
                         lease_owner = NULL, lease_until = NULL WHERE id = ?1",
                    params![message_id],
                )?;
            } else {
                let next = decision.retry_at.unwrap_or(now_ms) as i64;
                execute(
                    conn,
                    "UPDATE messages SET attempts = attempts + 1, next_ms = ?2, lease_owner = NULL, lease_until = NULL
                     WHERE id = ?1",
                    params![message_id, next],
                )?;
            }
            finish_if_done(conn, &job_id, now_ms)
        })
        .await
    }

    async fn reschedule_message(&self, message_id: &str, at_ms: u64) -> Result<(), StoreError> {
        let message_id = message_id.to_owned();
        self.write(move |conn| {
            execute(
                conn,
                "UPDATE messages SET next_ms = ?2, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL
                 WHERE id = ?1",
                params![message_id, at_ms as i64],
            )?;
            Ok(())
        })
        .await
    }

    async fn find_message(&self, token: &str) -> Result<Option<ClaimedMessage>, StoreError> {
        // Message-IDs are `<token>@<message_id_domain>`; the token alone is unique (128 bits).
        let pattern = format!("{}@%", token.replace(['%', '_'], ""));
        self.read(move |conn, _| {
            let found: Option<(String, String, String, u32, Option<String>, i64, u32)> = conn
                .query_row(
                    "SELECT id, job_id, kind, block, parent, first_attempt_ms, attempts FROM messages WHERE id LIKE ?1",
                    params![pattern],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
                )
                .optional()?;
            let Some((id, job_id, kind, block, parent, first_attempt_ms, attempts)) = found else { return Ok(None) };
            let recipients = deliveries(conn, &id)?;
            Ok(Some(ClaimedMessage {
                id,
                job_id,
                kind: parse("message kind", &kind)?,
                block,
                parent,
                first_attempt_ms: first_attempt_ms as u64,
                attempts,
                recipients,
            }))
        })
        .await
    }

    async fn commit_late_bounce(
        &self,
        message_id: &str,
        now_ms: u64,
        update: RecipientUpdate,
        effects: Effects,
        suppress: Vec<Suppression>,
    ) -> Result<bool, StoreError> {
        const BOUNCE: &str = const_format::formatcp!(
            "UPDATE deliveries SET status = ?3 WHERE message_id = ?1 AND address = ?2 AND status = {DELIVERY_DELIVERED}"
        );
        let message_id = message_id.to_owned();
        let effects = SealedEffects::seal(self.key(), effects);
        let per_post = self.events_per_post();
        self.write(move |conn| {
            let (job_id, kind) = job_and_kind(conn, &message_id)?;
            // Only while the delivery is still `delivered`: the check and the change are one
            // statement in the writer's transaction, so a report recorded meanwhile wins.
            if execute(conn, BOUNCE, params![message_id, update.address, update.status.to_db()])? == 0 {
                return Ok(false);
            }
            apply_update(conn, &job_id, kind, now_ms, &update)?;
            effects.insert_sqlite(conn, &job_id, now_ms, per_post)?;
            for entry in &suppress {
                lists::suppress(conn, &job_id, entry)?;
            }
            Ok(true)
        })
        .await
    }
}
