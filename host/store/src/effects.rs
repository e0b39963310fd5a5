//! What a workflow call asked the host to do, as the store commits it with the call's
//! decision: the messages to queue and the events to record (and push), in call order.

use crate::at_rest::AtRestKey;
use crate::{Event, OutgoingMessage};

/// Everything a workflow call did, to commit atomically with its result.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// Messages to queue.
    pub enqueued: Vec<OutgoingMessage>,
    /// Events, in emission order.
    pub events: Vec<Event>,
}

/// A workflow call's effects with their messages encrypted at rest, sealed by the caller
/// before the transaction: SQLite's writer thread then does no cryptography, and PostgreSQL
/// repeats a conflicting transaction with the same blobs.
pub(crate) struct SealedEffects {
    /// What the call decided; the content of its messages is in `blobs`, sealed.
    pub(crate) effects: Effects,
    /// Per enqueued message: its content and held secret, sealed.
    pub(crate) blobs: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl SealedEffects {
    /// Seals every enqueued message's content and held secret under `key`, each bound to
    /// its message id.
    pub(crate) fn seal(key: &AtRestKey, effects: Effects) -> Self {
        let blobs = effects
            .enqueued
            .iter()
            .map(|m| {
                let content = key.seal(&format!("message:{}", m.message_id), &m.content);
                let secret = m.held_secret.as_ref().map(|s| key.seal(&format!("secret:{}", m.message_id), s));
                (content, secret)
            })
            .collect();
        Self { effects, blobs }
    }
}
