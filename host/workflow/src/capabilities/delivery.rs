//! `delivery` import: the job store as the workflow sees it. `enqueue` is buffered and
//! committed with the call's result (see `world service`); `held-secret` reads the store.

use std::time::Instant;

use crate::runtime::Capabilities;
use sealmail_core::bindings::delivery::{self, OutgoingMessage};

impl delivery::Host for Capabilities<'_> {
    async fn enqueue(&mut self, message: OutgoingMessage) {
        self.host.effects.enqueued.push(message);
    }

    async fn held_secret(&mut self, message_id: String) -> Option<Vec<u8>> {
        let started = Instant::now();
        let secret = match self.host.services.store.held_secret(&message_id).await {
            Ok(secret) => secret,
            Err(e) => {
                // Without the secret no password mail can be written; failing the call makes
                // the host retry it later rather than let the workflow decide without it.
                self.host.failure = Some(format!("held secret of {message_id}: {e}"));
                None
            }
        };
        self.clock.add_host_wait(started.elapsed());
        secret
    }
}
