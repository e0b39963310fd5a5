//! The per-account rate limit (docs/service.md#rate-limit): recipients per hour, counted at submission.
//!
//! Retarus allows 5,000 mails per hour by default and enforces it in 5-minute windows. Here
//! the hour is the current 5-minute window and the eleven before it: a submission passes when
//! the recipients counted in those twelve windows plus its own stay within the limit. A burst
//! can use the whole hour's allowance at once — a nightly run of 4,000 invoices is legitimate
//! — and the allowance comes back window by window as the hour slides on, never all at once.
//!
//! The stores keep one counter per account and window and decide inside the submission's
//! transaction, so concurrent submissions — on several nodes, with PostgreSQL — cannot both
//! take the last places.

/// The length of one counting window (Retarus: 5 minutes).
pub const WINDOW_MS: u64 = 5 * 60 * 1000;
/// Windows per hour.
pub const WINDOWS: u64 = 12;

/// The window `now_ms` falls in.
pub fn window_of(now_ms: u64) -> u64 {
    now_ms / WINDOW_MS
}

/// The oldest window still inside the hour ending in `now_ms`'s window.
pub fn oldest_counted(now_ms: u64) -> u64 {
    window_of(now_ms).saturating_sub(WINDOWS - 1)
}

/// A submission refused by the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exceeded {
    /// When a submission of the same size would pass (`Retry-After`), ms from now; for a
    /// job larger than the whole limit, when the hour is empty again (it never passes).
    pub retry_after_ms: u64,
    /// The job alone is larger than the limit.
    pub never: bool,
}

/// Whether `recipients` more fit under `per_hour` at `now_ms`, given the counted windows
/// (window, recipients) of the hour — any order; windows outside the hour are ignored.
pub fn check(per_hour: u64, now_ms: u64, recipients: u64, counted: &[(u64, u64)]) -> Result<(), Exceeded> {
    let oldest = oldest_counted(now_ms);
    let mut windows: Vec<(u64, u64)> = counted.iter().copied().filter(|(w, _)| *w >= oldest).collect();
    windows.sort_unstable();
    let used: u64 = windows.iter().map(|(_, n)| n).sum();
    if used.saturating_add(recipients) <= per_hour {
        return Ok(());
    }
    let leaves = |window: u64| ((window + WINDOWS) * WINDOW_MS).saturating_sub(now_ms);
    if recipients > per_hour {
        let last = windows.last().map_or(window_of(now_ms), |(w, _)| *w);
        return Err(Exceeded { retry_after_ms: leaves(last), never: true });
    }
    // The earliest moment enough windows have left the hour.
    let mut left = used;
    for (window, n) in windows {
        left -= n;
        if left + recipients <= per_hour {
            return Err(Exceeded { retry_after_ms: leaves(window), never: false });
        }
    }
    unreachable!("with every window gone, `recipients <= per_hour` fits")
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_000 * WINDOW_MS + 60_000; // one minute into window 1000

    #[test]
    fn a_submission_fits_while_the_hour_has_room() {
        assert_eq!(check(100, T, 100, &[]), Ok(()));
        assert_eq!(check(100, T, 40, &[(1_000, 30), (995, 30)]), Ok(()));
        // Window 988 left the hour when window 1000 began.
        assert_eq!(check(100, T, 50, &[(988, 90), (1_000, 50)]), Ok(()));
    }

    #[test]
    fn a_refusal_says_when_enough_windows_have_left_the_hour() {
        // 60 in window 990, 40 in 1000: 10 more fit once window 990 leaves, at the start of
        // window 1002, i.e. 2 windows minus the minute already gone.
        let refused = check(100, T, 10, &[(990, 60), (1_000, 40)]).unwrap_err();
        assert_eq!(refused, Exceeded { retry_after_ms: 2 * WINDOW_MS - 60_000, never: false });
        // 70 more need window 1000 gone too.
        let refused = check(100, T, 70, &[(990, 60), (1_000, 40)]).unwrap_err();
        assert_eq!(refused.retry_after_ms, 12 * WINDOW_MS - 60_000);
    }

    #[test]
    fn a_job_larger_than_the_limit_never_fits() {
        let refused = check(100, T, 101, &[]).unwrap_err();
        assert!(refused.never);
        assert_eq!(refused.retry_after_ms, 12 * WINDOW_MS - 60_000);
    }
}
