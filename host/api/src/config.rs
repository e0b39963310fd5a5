//! The API's configuration sections: `[limits]` (request size limits, the hourly recipient
//! limit, the failed-authentication throttle). `[api]` (TLS, slow clients) is
//! [`crate::connections::ApiConfig`]; accounts (`[[accounts]]`) are [`crate::accounts`].

use std::time::Duration;

use serde::Deserialize;

use sealmail_core::bindings::validation::Limits;

/// `[limits]`: request limits, the accounts' hourly recipient limit, and the failed-
/// authentication throttle.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body, bytes. Unset: the component's `default-limits` (28 MiB), as
    /// for the three below.
    pub max_request_bytes: Option<u64>,
    /// Largest rendered message, bytes (default 20 MB).
    pub max_message_bytes: Option<u64>,
    /// Most addresses per request (default 1,000).
    pub max_addresses: Option<u32>,
    /// With templating: largest subject + body + alternative of one block after rendering,
    /// bytes (default 1 MB, Retarus' limit).
    pub max_rendered_bytes: Option<u64>,
    /// Recipients an account may submit per hour, counted in 5-minute windows (Retarus'
    /// default: 5,000); an account's own `recipients_per_hour` overrides it. 0: no limit.
    pub recipients_per_hour: u64,
    /// Failed authentications from one client address (IPv6: one /64) per
    /// `failed_auth_window_secs` before its requests get `429 AUTH_THROTTLED` for a window
    /// (`throttle`). 0: no limit.
    pub failed_auths_per_client: u32,
    /// Failed authentications for one account name, from anywhere, per window before it is
    /// throttled. Higher than the client limit, so one client cannot lock an account out. 0:
    /// no limit.
    pub failed_auths_per_account: u32,
    /// The throttle's window, seconds: how long failures count, and how long a throttle lasts.
    pub failed_auth_window_secs: u64,
}

impl LimitsConfig {
    /// The request limits: `defaults` (the component's `default-limits`) with what this
    /// section sets.
    pub fn request_limits(&self, defaults: Limits) -> Limits {
        Limits {
            max_request_bytes: self.max_request_bytes.unwrap_or(defaults.max_request_bytes),
            max_message_bytes: self.max_message_bytes.unwrap_or(defaults.max_message_bytes),
            max_addresses: self.max_addresses.unwrap_or(defaults.max_addresses),
            max_rendered_bytes: self.max_rendered_bytes.unwrap_or(defaults.max_rendered_bytes),
        }
    }

    /// The failed-authentication throttle's settings.
    pub fn auth_throttle(&self) -> crate::throttle::ThrottleConfig {
        crate::throttle::ThrottleConfig {
            per_client: self.failed_auths_per_client,
            per_account: self.failed_auths_per_account,
            window: Duration::from_secs(self.failed_auth_window_secs.max(1)),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_request_bytes: None,
            max_message_bytes: None,
            max_addresses: None,
            max_rendered_bytes: None,
            recipients_per_hour: 5_000,
            // A client with a wrong secret fails every request; 20 a minute leaves room for a
            // few clients behind one NAT address, and the account limit for 5 such addresses.
            failed_auths_per_client: 20,
            failed_auths_per_account: 100,
            failed_auth_window_secs: 60,
        }
    }
}
