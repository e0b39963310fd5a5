//! Queued messages: their content for the transport, their held secrets for the workflow,
//! and the commit of what a delivery attempt (or a bounce reported after it) decided
//! ([`Messages`]).

use async_trait::async_trait;

use crate::suppression::Suppression;
use crate::{Effects, MessageKind, RecipientState, RecipientUpdate, StoreError};

/// A message with its recipients' current states: claimed for an attempt, or found for a
/// bounce reported after delivery.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    /// Its `Message-ID` (the store key).
    pub id: String,
    /// Its job.
    pub job_id: String,
    /// Original or password mail.
    pub kind: MessageKind,
    /// Its recipient block.
    pub block: u32,
    /// A password mail's original.
    pub parent: Option<String>,
    /// When its first attempt began, ms (the expiry clock).
    pub first_attempt_ms: u64,
    /// Attempts before this one.
    pub attempts: u32,
    /// Its recipients with their current status.
    pub recipients: Vec<RecipientState>,
}

/// What a `deliver` call decided.
#[derive(Debug, Clone)]
pub struct DeliveryDecision {
    /// One update per attempted recipient.
    pub updates: Vec<RecipientUpdate>,
    /// When to attempt the still-deferred recipients again.
    pub retry_at: Option<u64>,
    /// Every recipient of the original is resolved: erase its held secret.
    pub erase_held_secret: bool,
    /// Addresses to put on the job's account's suppression list (bounces).
    pub suppress: Vec<Suppression>,
}

/// Queued messages and their outcomes.
#[async_trait]
pub trait Messages: Send + Sync + 'static {
    /// A queued message's reverse-path and content.
    async fn message_content(&self, message_id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError>;
    /// The held secret of a message, if not erased.
    async fn held_secret(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Commits a `deliver` call's decision and effects; returns whether the message's job is
    /// now finished.
    async fn commit_delivery(
        &self,
        message_id: &str,
        now_ms: u64,
        decision: DeliveryDecision,
        effects: Effects,
    ) -> Result<bool, StoreError>;
    /// Gives a claimed message back without an outcome, to be attempted at `at_ms`.
    async fn reschedule_message(&self, message_id: &str, at_ms: u64) -> Result<(), StoreError>;
    /// The message whose `Message-ID` has the local part `token` (its VERP token), with its
    /// recipients; none when no message has it (forged, or erased by retention).
    async fn find_message(&self, token: &str) -> Result<Option<ClaimedMessage>, StoreError>;
    /// Commits a bounce reported after delivery, decided by the workflow: if `update`'s
    /// recipient of `message_id` is still delivered, it becomes `update`, with `effects`
    /// (its event) and the `suppress` entries, in one transaction. Returns false, changing
    /// nothing, when the delivery is no longer `delivered` (a report that arrives twice, or
    /// two at once, is recorded once).
    async fn commit_late_bounce(
        &self,
        message_id: &str,
        now_ms: u64,
        update: RecipientUpdate,
        effects: Effects,
        suppress: Vec<Suppression>,
    ) -> Result<bool, StoreError>;
}
