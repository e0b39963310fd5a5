//! Time as the host keeps it: Unix milliseconds (what the WIT's `clock.now` returns and the
//! store records), their RFC 3339 form, and how long an idle polling loop sleeps.

use std::time::Duration;

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// RFC 3339 UTC with milliseconds (the format of Retarus' timestamps), e.g.
/// `2026-11-29T11:41:23.035Z`.
pub fn rfc3339_ms(unix_ms: u64) -> String {
    humantime::format_rfc3339_millis(std::time::UNIX_EPOCH + Duration::from_millis(unix_ms)).to_string()
}

/// How long an idle loop sleeps at `now` when the next work is `due`: until then, but at
/// most `poll` (other nodes or tasks may add work the wake-ups do not announce).
pub fn idle_nap(due: Option<u64>, now: u64, poll: Duration) -> Duration {
    match due {
        Some(due) if due > now => Duration::from_millis(due - now).min(poll),
        _ => poll,
    }
}
