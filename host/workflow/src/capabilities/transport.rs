//! `transport` import: sends a stored message with the configured transport
//! (`sealmail_smtp`) and reports per recipient. The message bytes never pass through
//! the guest again; the guest names the message and the recipients to attempt.

use std::time::Instant;

use crate::runtime::Capabilities;
use sealmail_core::bindings::transport::{self, Outcome, RecipientResult, Reply};
use sealmail_smtp::{Envelope, RecipientOutcome};

impl transport::Host for Capabilities<'_> {
    async fn send(&mut self, message_id: String, recipients: Vec<String>) -> wasmtime::Result<Vec<RecipientResult>> {
        let started = Instant::now();
        let results = match self.host.services.store.message_content(&message_id).await {
            Ok(Some((reverse_path, content))) => {
                // The one place the reverse-path reaches a transport: with VERP, every message
                // (original or password mail) gets its own, so a DSN names its message.
                let reverse_path = match &self.host.services.verp {
                    Some(verp) => verp.reverse_path(&message_id),
                    None => reverse_path,
                };
                let envelope = Envelope { reverse_path, recipients: recipients.clone() };
                // Wiped once sent: a password mail carries its password (the transports'
                // own buffers are not covered; docs/service.md).
                let content = zeroize::Zeroizing::new(content);
                // Signed here, the one place every message (original or password mail) passes
                // on its way to any transport.
                let signed = self.host.services.dkim.sign(&content);
                let sent = self.host.services.transport.send(&envelope, &signed).await;
                if let std::borrow::Cow::Owned(mut signed) = signed {
                    zeroize::Zeroize::zeroize(&mut signed);
                }
                sent.into_iter()
                    .map(|r| RecipientResult { address: r.recipient, outcome: outcome(r.outcome) })
                    .collect()
            }
            // The store failing is temporary by nature; the workflow defers and retries.
            Ok(None) => temporary_for_all(&recipients, format!("message {message_id} is not in the store")),
            Err(e) => temporary_for_all(&recipients, format!("store: {e}")),
        };
        self.clock.add_host_wait(started.elapsed());
        Ok(results)
    }
}

fn temporary_for_all(recipients: &[String], text: String) -> Vec<RecipientResult> {
    recipients
        .iter()
        .map(|a| RecipientResult {
            address: a.clone(),
            outcome: Outcome::Temporary(Reply { code: None, enhanced: None, text: text.clone() }),
        })
        .collect()
}

fn outcome(o: RecipientOutcome) -> Outcome {
    match o {
        RecipientOutcome::Delivered { reply } => {
            let code = reply_code(&reply);
            let enhanced = code.and_then(|c| sealmail_smtp::reply::enhanced_status(c, reply.get(4..)?));
            Outcome::Delivered(Reply { code, enhanced, text: reply })
        }
        RecipientOutcome::Permanent { code, enhanced, reply } => {
            Outcome::Permanent(Reply { code: Some(code), enhanced, text: reply })
        }
        RecipientOutcome::Temporary { code, enhanced, reply } => {
            Outcome::Temporary(Reply { code, enhanced, text: reply })
        }
    }
}

fn reply_code(text: &str) -> Option<u16> {
    text.get(..3).and_then(|c| c.parse().ok())
}
