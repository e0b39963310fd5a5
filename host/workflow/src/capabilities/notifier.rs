//! `notifier` import: events are buffered and committed with the call's result, in
//! emission order; the store's sequence numbers then order them for the status API (and,
//! with the Callbacks issue, for delivery to endpoints).

use crate::runtime::Capabilities;
use sealmail_core::bindings::notifier::{self, Event};

impl notifier::Host for Capabilities<'_> {
    async fn emit(&mut self, event: Event) -> wasmtime::Result<()> {
        self.host.effects.events.push(event);
        Ok(())
    }
}
