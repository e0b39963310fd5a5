//! Bounces reported after delivery, recorded for the bounce listener and `sealmail bounce`
//! ([`LateBounces`], a [`Recorder`]): the store finds the message by its VERP token, the
//! workflow component decides what the bounce changes (`late-bounce`), and the store commits
//! that — the recipient's new state, its event and its suppression entry — in one
//! transaction, only if the delivery is still `delivered` then.

use std::sync::Arc;

use async_trait::async_trait;

use sealmail_bounces::{LateBounce, LateBounceOutcome, RecordError, Recorder};
use sealmail_core::bindings::workflow::{self, BounceReport, MessageState};
use sealmail_store::{MessageKind, SuppressionPolicy};

use crate::runtime::{Called, ServiceRuntime, Services};

/// The workflow's recorder of late bounces.
pub struct LateBounces {
    runtime: ServiceRuntime,
    services: Arc<Services>,
    suppression: SuppressionPolicy,
}

impl LateBounces {
    /// Decides with `runtime` over `services`' store, listing bounced addresses by
    /// `suppression`.
    pub fn new(runtime: ServiceRuntime, services: Arc<Services>, suppression: SuppressionPolicy) -> Self {
        Self { runtime, services, suppression }
    }
}

#[async_trait]
impl Recorder for LateBounces {
    async fn record(&self, bounce: LateBounce) -> Result<LateBounceOutcome, RecordError> {
        let store = &self.services.store;
        let Some(message) = store.find_message(&bounce.message_token).await? else {
            return Ok(LateBounceOutcome::UnknownMessage);
        };
        let report = BounceReport {
            message: MessageState {
                message_id: message.id.clone(),
                kind: message.kind,
                block: message.block,
                parent: message.parent.clone(),
                first_attempt_ms: message.first_attempt_ms,
                attempts: message.attempts,
                recipients: message.recipients.clone(),
            },
            address: bounce.address,
            status: bounce.status,
            description: bounce.description,
        };
        let called = self.runtime.late_bounce(self.services.clone(), report).await;
        let Called { result, effects } = called.map_err(|e| RecordError::Workflow(e.to_string()))?;
        match result {
            workflow::LateBounceOutcome::Bounced(update) => {
                let suppress = crate::suppress::entries_for(
                    &self.suppression,
                    MessageKind::Original,
                    std::slice::from_ref(&update),
                    &message.job_id,
                    bounce.now_ms,
                );
                let recorded = store.commit_late_bounce(&message.id, bounce.now_ms, update, effects, suppress).await?;
                Ok(if recorded {
                    LateBounceOutcome::Recorded { job_id: message.job_id }
                } else {
                    LateBounceOutcome::NotDelivered
                })
            }
            workflow::LateBounceOutcome::NotDelivered => Ok(LateBounceOutcome::NotDelivered),
            workflow::LateBounceOutcome::PasswordMail => Ok(LateBounceOutcome::PasswordMail),
        }
    }
}
