//! `clock` import: the host's wall clock in Unix milliseconds.

use sealmail_core::bindings::clock;
use sealmail_core::clock::now_ms;

use crate::runtime::Capabilities;

impl clock::Host for Capabilities<'_> {
    async fn now(&mut self) -> wasmtime::Result<u64> {
        Ok(now_ms())
    }
}
