//! [`Messages`] in PostgreSQL: queued messages with their deliveries, the commit of an
//! attempt's outcome and of a bounce reported after delivery, each under the job's row lock.

use async_trait::async_trait;
use deadpool_postgres::GenericClient;

use super::commit::{apply_update, finish_if_done};
use super::connection::{PostgresStore, in_transaction, lock_job};
use super::lists;
use crate::names::{DELIVERY_DEFERRED, DELIVERY_DELIVERED, DELIVERY_QUEUED, DbName, parse};
use crate::suppression::Suppression;
use crate::{
    ClaimedMessage, DeliveryDecision, Effects, MessageKind, Messages, RecipientState, RecipientUpdate, SealedEffects,
    StoreError,
};

/// The recipients of message `id` with their status, in envelope order.
pub(super) async fn deliveries(client: &impl GenericClient, id: &str) -> Result<Vec<RecipientState>, StoreError> {
    let rows = client
        .query("SELECT address, name, role, status FROM deliveries WHERE message_id = $1 ORDER BY seq", &[&id])
        .await?;
    let mut recipients = Vec::with_capacity(rows.len());
    for r in rows {
        recipients.push(RecipientState {
            address: r.try_get(0)?,
            name: r.try_get(1)?,
            role: parse("role", r.try_get(2)?)?,
            status: parse("status", r.try_get(3)?)?,
        });
    }
    Ok(recipients)
}

/// The job and kind of message `id`.
async fn job_and_kind(tx: &impl GenericClient, id: &str) -> Result<(String, MessageKind), StoreError> {
    let row = tx.query_one("SELECT job_id, kind FROM messages WHERE id = $1", &[&id]).await?;
    let (job_id, kind): (String, String) = (row.try_get(0)?, row.try_get(1)?);
    Ok((job_id, parse("message kind", &kind)?))
}

async fn commit_delivery_in(
    tx: &impl GenericClient,
    message_id: &str,
    now_ms: u64,
    decision: &DeliveryDecision,
    effects: &SealedEffects,
    per_post: usize,
) -> Result<bool, StoreError> {
    const OPEN: &str = const_format::formatcp!(
        "SELECT count(*) FROM deliveries WHERE message_id = $1 AND status IN ({DELIVERY_QUEUED}, {DELIVERY_DEFERRED})"
    );
    let (job_id, kind) = job_and_kind(tx, message_id).await?;
    lock_job(tx, &job_id).await?;
    let delivery =
        tx.prepare_cached("UPDATE deliveries SET status = $3 WHERE message_id = $1 AND address = $2").await?;
    for u in &decision.updates {
        tx.execute(&delivery, &[&message_id, &u.address, &u.status.to_db()]).await?;
        apply_update(tx, &job_id, kind, now_ms, u).await?;
    }
    effects.insert_postgres(tx, &job_id, now_ms, per_post).await?;
    for entry in &decision.suppress {
        lists::suppress(tx, &job_id, entry).await?;
    }
    if decision.erase_held_secret {
        tx.execute("UPDATE messages SET held_secret = NULL WHERE id = $1", &[&message_id]).await?;
    }
    let open: i64 = tx.query_one(OPEN, &[&message_id]).await?.try_get(0)?;
    if open == 0 {
        tx.execute(
            "UPDATE messages SET done = TRUE, content = NULL, attempts = attempts + 1,
                 lease_owner = NULL, lease_until = NULL WHERE id = $1",
            &[&message_id],
        )
        .await?;
    } else {
        let next = decision.retry_at.unwrap_or(now_ms) as i64;
        tx.execute(
            "UPDATE messages SET attempts = attempts + 1, next_ms = $2, lease_owner = NULL, lease_until = NULL
             WHERE id = $1",
            &[&message_id, &next],
        )
        .await?;
    }
    finish_if_done(tx, &job_id, now_ms).await
}

async fn commit_late_bounce_in(
    tx: &impl GenericClient,
    message_id: &str,
    now_ms: u64,
    update: &RecipientUpdate,
    effects: &SealedEffects,
    suppress: &[Suppression],
    per_post: usize,
) -> Result<bool, StoreError> {
    const BOUNCE: &str = const_format::formatcp!(
        "UPDATE deliveries SET status = $3 WHERE message_id = $1 AND address = $2 AND status = {DELIVERY_DELIVERED}"
    );
    let (job_id, kind) = job_and_kind(tx, message_id).await?;
    lock_job(tx, &job_id).await?;
    // Only while the delivery is still `delivered`, under the job's lock: a report recorded
    // meanwhile (on any node) wins.
    if tx.execute(BOUNCE, &[&message_id, &update.address, &update.status.to_db()]).await? == 0 {
        return Ok(false);
    }
    apply_update(tx, &job_id, kind, now_ms, update).await?;
    effects.insert_postgres(tx, &job_id, now_ms, per_post).await?;
    for entry in suppress {
        lists::suppress(tx, &job_id, entry).await?;
    }
    Ok(true)
}

#[async_trait]
impl Messages for PostgresStore {
    async fn message_content(&self, message_id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT reverse_path, content FROM messages WHERE id = $1", &[&message_id]).await?;
        let Some(row) = row else { return Ok(None) };
        let (reverse_path, blob): (String, Option<Vec<u8>>) = (row.try_get(0)?, row.try_get(1)?);
        match blob {
            Some(blob) => Ok(Some((reverse_path, self.key.open(&format!("message:{message_id}"), &blob)?))),
            None => Ok(None),
        }
    }

    async fn held_secret(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let client = self.pool.get().await?;
        let row = client.query_opt("SELECT held_secret FROM messages WHERE id = $1", &[&message_id]).await?;
        match row.map(|r| r.try_get::<_, Option<Vec<u8>>>(0)).transpose()?.flatten() {
            Some(blob) => Ok(Some(self.key.open(&format!("secret:{message_id}"), &blob)?)),
            None => Ok(None),
        }
    }

    async fn commit_delivery(
        &self,
        message_id: &str,
        now_ms: u64,
        decision: DeliveryDecision,
        effects: Effects,
    ) -> Result<bool, StoreError> {
        let effects = SealedEffects::seal(&self.key, effects);
        let per_post = self.events_per_post;
        in_transaction!(self, tx => commit_delivery_in(&tx, message_id, now_ms, &decision, &effects, per_post))
    }

    async fn reschedule_message(&self, message_id: &str, at_ms: u64) -> Result<(), StoreError> {
        let client = self.pool.get().await?;
        client
            .execute(
                "UPDATE messages SET next_ms = $2, attempts = attempts + 1, lease_owner = NULL, lease_until = NULL
                 WHERE id = $1",
                &[&message_id, &(at_ms as i64)],
            )
            .await?;
        Ok(())
    }

    async fn find_message(&self, token: &str) -> Result<Option<ClaimedMessage>, StoreError> {
        // Message-IDs are `<token>@<message_id_domain>`; the token alone is unique (128 bits).
        let pattern = format!("{}@%", token.replace(['%', '_', '\\'], ""));
        let client = self.pool.get().await?;
        let Some(row) = client
            .query_opt(
                "SELECT id, job_id, kind, block, parent, first_attempt_ms, attempts FROM messages WHERE id LIKE $1",
                &[&pattern],
            )
            .await?
        else {
            return Ok(None);
        };
        let id: String = row.try_get(0)?;
        let recipients = deliveries(&client, &id).await?;
        Ok(Some(ClaimedMessage {
            job_id: row.try_get(1)?,
            kind: parse("message kind", row.try_get(2)?)?,
            block: row.try_get::<_, i32>(3)? as u32,
            parent: row.try_get(4)?,
            first_attempt_ms: row.try_get::<_, i64>(5)? as u64,
            attempts: row.try_get::<_, i32>(6)? as u32,
            recipients,
            id,
        }))
    }

    async fn commit_late_bounce(
        &self,
        message_id: &str,
        now_ms: u64,
        update: RecipientUpdate,
        effects: Effects,
        suppress: Vec<Suppression>,
    ) -> Result<bool, StoreError> {
        let effects = SealedEffects::seal(&self.key, effects);
        let per_post = self.events_per_post;
        in_transaction!(self, tx => commit_late_bounce_in(&tx, message_id, now_ms, &update, &effects, &suppress, per_post))
    }
}
