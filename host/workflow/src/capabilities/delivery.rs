//! `delivery` import: the job store as the workflow sees it. `enqueue` is buffered and
//! committed with the call's result (see `world service`); `held-secret` reads the store,
//! and a store failure ends the call as a [`HostFailure`].

use std::time::Instant;

use crate::runtime::Capabilities;
use sealmail_core::bindings::delivery::{self, OutgoingMessage};
use sealmail_sandbox::HostFailure;

impl delivery::Host for Capabilities<'_> {
    async fn enqueue(&mut self, message: OutgoingMessage) -> wasmtime::Result<()> {
        self.host.effects.enqueued.push(message);
        Ok(())
    }

    async fn held_secret(&mut self, message_id: String) -> wasmtime::Result<Option<Vec<u8>>> {
        let started = Instant::now();
        let secret = self.host.services.store.held_secret(&message_id).await;
        self.clock.add_host_wait(started.elapsed());
        // Without the secret no password mail can be written: the call ends with a host
        // failure, and the attempt is made again later, rather than let the workflow decide
        // without it.
        secret.map_err(|e| HostFailure(format!("held secret of {message_id}: {e}")).into())
    }
}
