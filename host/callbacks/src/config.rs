//! `[callbacks]`: the SSRF guard, the retry schedule and the outbox's bounds; and the form of
//! a callback endpoint in the configuration (an account's default).

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::retry::RetryPolicy;
use crate::ssrf::AddressPolicy;

/// Push notifications (docs/callbacks.md): the SSRF guard, the retry schedule and the outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbacksConfig {
    /// Let callback URLs reach every address, loopback, private, link-local and cloud
    /// metadata ones included: only where every customer is trusted.
    pub allow_private_callback_ips: bool,
    /// Special-purpose ranges callback URLs may reach anyway, e.g. `["127.0.0.1/32"]` for a
    /// receiver on the same host.
    pub allowed_callback_ranges: Vec<IpNet>,
    /// Host names resolved from this map instead of DNS (name → addresses), e.g. for tests or
    /// a split-horizon name; the addresses are still checked by the SSRF guard.
    pub resolver_overrides: HashMap<String, Vec<IpAddr>>,
    /// How long one POST may take (connect, send, answer), seconds.
    pub timeout_secs: u64,
    /// Tries per notification, the first included (Retarus: 15).
    pub tries: u32,
    /// The wait between tries in the first half of the tries, seconds (Retarus: ~2 minutes).
    pub early_interval_secs: u64,
    /// The wait between tries in the second half, seconds (Retarus: ~8 minutes).
    pub late_interval_secs: u64,
    /// Each wait varies by up to this fraction either way (0.25: ±25 %).
    pub jitter: f64,
    /// Most events in one POST.
    pub max_events_per_post: usize,
    /// Concurrent POSTs (one per job at a time: a job's events go out in order).
    pub dispatchers: usize,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        let retry = RetryPolicy::default();
        Self {
            allow_private_callback_ips: false,
            allowed_callback_ranges: Vec::new(),
            resolver_overrides: HashMap::new(),
            timeout_secs: 10,
            tries: retry.tries,
            early_interval_secs: retry.early_interval.as_secs(),
            late_interval_secs: retry.late_interval.as_secs(),
            jitter: retry.jitter,
            max_events_per_post: 100,
            dispatchers: 4,
        }
    }
}

impl CallbacksConfig {
    /// The SSRF guard's address policy.
    pub fn address_policy(&self) -> AddressPolicy {
        AddressPolicy { allow_all: self.allow_private_callback_ips, allowed: self.allowed_callback_ranges.clone() }
    }

    /// The retry schedule.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            tries: self.tries.max(1),
            early_interval: Duration::from_secs(self.early_interval_secs),
            late_interval: Duration::from_secs(self.late_interval_secs),
            jitter: self.jitter.clamp(0.0, 1.0),
        }
    }

    /// The per-POST timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// A callback endpoint in the configuration (an account's default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// An absolute http or https URL.
    pub url: String,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// HTTP Basic user (with `password`).
    pub user: Option<String>,
    /// HTTP Basic password.
    pub password: Option<String>,
}
