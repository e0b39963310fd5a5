//! What every handler shares ([`AppState`]): the library component, the store, the account
//! directory, the limits and the node's gauges. Built once by the node
//! (`AppState::from_config`, in `sections`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::Notify;

use crate::accounts::{Accounts, RateLimits};
use crate::throttle;
use sealmail_callbacks::Endpoint;
use sealmail_callbacks::ssrf::AddressPolicy;
use sealmail_clamav::Scanners;
use sealmail_core::bindings::validation::Limits;
use sealmail_sandbox::Library;
use sealmail_store::Store;

/// What the handlers share.
pub struct AppState {
    /// The `library` component (validation).
    pub library: Library,
    /// Where jobs, accounts and suppressions are kept.
    pub store: Arc<dyn Store>,
    /// The accounts of the configuration file and the store, for authentication.
    pub accounts: Accounts,
    /// Request limits.
    pub limits: Limits,
    /// Jobs accepted and not finished.
    pub unfinished: Arc<AtomicU64>,
    /// Most unfinished jobs before `503`.
    pub max_unfinished: u64,
    /// Wakes a worker when a job is stored.
    pub wake: Arc<Notify>,
    /// Configured scanners (none: `None`).
    pub scanners: Option<Scanners>,
    /// `allow_insecure_no_antivirus`.
    pub allow_insecure_no_antivirus: bool,
    /// Which addresses callback URLs may reach.
    pub callback_policy: AddressPolicy,
    /// Accounts' default callback endpoints (for requests that name none).
    pub default_callbacks: HashMap<String, Endpoint>,
    /// Accounts' limits of recipients per hour.
    pub rate_limits: RateLimits,
    /// The node's metrics.
    pub metrics: Arc<sealmail_core::metrics::Metrics>,
    /// The failed-authentication throttle ([`throttle`]).
    pub auth_throttle: throttle::AuthThrottle,
}
