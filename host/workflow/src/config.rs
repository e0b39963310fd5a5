//! `[queue]`: the workers, the back-pressure bound, the retry schedule and the queue
//! lifetime, and the leases with which nodes share the work.

use std::time::Duration;

use serde::Deserialize;

use sealmail_core::bindings::workflow::Policy;

/// Queue, workers, retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Concurrent workflow calls (start-job and delivery attempts).
    pub workers: usize,
    /// Most jobs accepted but not finished; beyond it `POST /rest/v1/jobs` answers 503.
    pub max_jobs_in_flight: u64,
    /// Delays between delivery attempts of a deferred message, seconds; the last repeats.
    pub retry_delays_secs: Vec<u64>,
    /// How long a message may stay undelivered before it expires (5 days, like Postfix's
    /// `maximal_queue_lifetime`).
    pub max_queue_lifetime_secs: u64,
    /// How long a worker owns claimed work before another may take it over.
    pub lease_secs: u64,
    /// How often idle workers look for due work, milliseconds.
    pub poll_ms: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            // Workflow calls wait on SMTP, clamd and fsync as much as they compute: twice
            // the cores' worth keeps two cores busy (docs/performance.md: 8 beat 4).
            workers: 8,
            max_jobs_in_flight: 10_000,
            // Postfix-like back-off: quick first retries, then hourly.
            retry_delays_secs: vec![60, 300, 900, 1800, 3600],
            max_queue_lifetime_secs: 5 * 24 * 3600,
            lease_secs: 300,
            poll_ms: 250,
        }
    }
}

impl QueueConfig {
    /// The lease duration.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs.max(1))
    }

    /// How often idle workers (and callback dispatchers) look for due work.
    pub fn poll(&self) -> Duration {
        Duration::from_millis(self.poll_ms.max(10))
    }

    /// The delivery policy the workflow is given: the retry schedule and the queue lifetime,
    /// in milliseconds.
    pub fn policy(&self) -> Policy {
        Policy {
            retry_delays_ms: self.retry_delays_secs.iter().map(|s| s.saturating_mul(1000)).collect(),
            max_queue_lifetime_ms: self.max_queue_lifetime_secs.saturating_mul(1000),
        }
    }
}
