//! When a push notification is retried (docs/callbacks.md, the Retarus rule): a `2xx` answer
//! delivers it; `301`–`308` and `400`–`406` are final rejections (the endpoint moved or
//! refuses this request, so repeating it cannot help); every other answer, a timeout or a
//! connection error is retried — by default 15 tries over about an hour, the first half
//! about 2 minutes apart, the second half about 8, each wait varied by ±25 % so that many
//! notifications failing together do not come back together.

use std::time::Duration;

use rand::Rng;

/// What an attempt's outcome means for the notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered: the endpoint answered `2xx`.
    Delivered,
    /// Rejected for good: no further tries.
    Final,
    /// Try again later (if tries are left).
    Retry,
}

/// Classifies an HTTP status code (`None`: no answer — timeout or connection error).
pub fn classify(status: Option<u16>) -> Verdict {
    match status {
        Some(200..=299) => Verdict::Delivered,
        Some(301..=308 | 400..=406) => Verdict::Final,
        _ => Verdict::Retry,
    }
}

/// The retry schedule.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Tries in all, the first included.
    pub tries: u32,
    /// The wait between tries in the first half.
    pub early_interval: Duration,
    /// The wait between tries in the second half.
    pub late_interval: Duration,
    /// Each wait is varied by up to this fraction either way (0.25 = ±25 %).
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// 15 tries: 7 waits of 2 minutes, then 7 of 8 minutes (70 minutes without jitter).
    fn default() -> Self {
        Self {
            tries: 15,
            early_interval: Duration::from_secs(120),
            late_interval: Duration::from_secs(480),
            jitter: 0.25,
        }
    }
}

impl RetryPolicy {
    /// The wait before the next try after `tried` tries have failed, or `None` when no try
    /// is left.
    pub fn next_delay<R: Rng + ?Sized>(&self, tried: u32, rng: &mut R) -> Option<Duration> {
        if tried == 0 || tried >= self.tries {
            return (tried == 0).then_some(Duration::ZERO);
        }
        // Waits 1 ..= tries − 1; the first half of them uses the early interval.
        let waits = self.tries - 1;
        let base = if tried <= waits / 2 { self.early_interval } else { self.late_interval };
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = if jitter > 0.0 { rng.random_range(1.0 - jitter..=1.0 + jitter) } else { 1.0 };
        Some(base.mul_f64(factor))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn status_codes_follow_the_retarus_classes() {
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(classify(Some(code)), Verdict::Delivered, "{code}");
        }
        for code in [301, 302, 303, 307, 308, 400, 401, 403, 404, 405, 406] {
            assert_eq!(classify(Some(code)), Verdict::Final, "{code}");
        }
        for code in [100, 300, 309, 407, 408, 409, 410, 413, 429, 500, 502, 503, 504] {
            assert_eq!(classify(Some(code)), Verdict::Retry, "{code}");
        }
        assert_eq!(classify(None), Verdict::Retry, "timeouts and connection errors are retried");
    }

    #[test]
    fn the_default_schedule_is_15_tries_over_about_an_hour() {
        let policy = RetryPolicy { jitter: 0.0, ..RetryPolicy::default() };
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(policy.next_delay(0, &mut rng), Some(Duration::ZERO), "the first try is immediate");
        let waits: Vec<Duration> = (1..15).map(|n| policy.next_delay(n, &mut rng).unwrap()).collect();
        assert_eq!(waits.len(), 14);
        assert!(waits[..7].iter().all(|w| *w == Duration::from_secs(120)), "{waits:?}");
        assert!(waits[7..].iter().all(|w| *w == Duration::from_secs(480)), "{waits:?}");
        assert_eq!(waits.iter().sum::<Duration>(), Duration::from_secs(70 * 60));
        assert_eq!(policy.next_delay(15, &mut rng), None, "no 16th try");
    }

    #[test]
    fn jitter_stays_within_a_quarter_either_way_and_varies() {
        let policy = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        let waits: Vec<Duration> = (0..500).map(|_| policy.next_delay(1, &mut rng).unwrap()).collect();
        let (low, high) = (Duration::from_secs(90), Duration::from_secs(150));
        assert!(waits.iter().all(|w| (low..=high).contains(w)), "a wait left 90..=150 s");
        assert!(waits.iter().any(|w| *w < Duration::from_secs(105)), "no wait in the lower quarter");
        assert!(waits.iter().any(|w| *w > Duration::from_secs(135)), "no wait in the upper quarter");
    }

    #[test]
    fn short_test_schedules_work_too() {
        let policy = RetryPolicy {
            tries: 3,
            early_interval: Duration::from_millis(50),
            late_interval: Duration::from_millis(200),
            jitter: 0.0,
        };
        let mut rng = StdRng::seed_from_u64(3);
        assert_eq!(policy.next_delay(1, &mut rng), Some(Duration::from_millis(50)));
        assert_eq!(policy.next_delay(2, &mut rng), Some(Duration::from_millis(200)));
        assert_eq!(policy.next_delay(3, &mut rng), None);
    }
}
