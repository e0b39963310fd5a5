//! `clock` import: the host's wall clock in Unix milliseconds.

use super::CallData;
use super::bindings::clock;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

impl clock::Host for CallData {
    async fn now(&mut self) -> u64 {
        now_ms()
    }
}
