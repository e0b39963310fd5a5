//! The API's sections of the node's configuration ([`ApiSections`]), what the node shares
//! with the API ([`Shared`]), and the [`AppState`] built from both. It checks the accounts'
//! callback settings once, at start-up; it never reads a configuration file itself (the
//! binary composes the sections).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::Notify;

use crate::accounts::{self, AccountConfig, Accounts, CallbackSettingsError, RateLimits};
use crate::config::LimitsConfig;
use crate::state::AppState;
use crate::throttle;
use sealmail_callbacks::CallbacksConfig;
use sealmail_callbacks::signature::Secret;
use sealmail_clamav::Scanners;
use sealmail_core::bindings::validation::Limits;
use sealmail_sandbox::Library;
use sealmail_store::Store;
use sealmail_store::at_rest::AtRestKey;

/// The API's sections of the node's configuration.
pub struct ApiSections<'c> {
    /// `[limits]`: request limits, rates and the failed-authentication throttle.
    pub limits: &'c LimitsConfig,
    /// `[[accounts]]`.
    pub accounts: &'c [AccountConfig],
    /// `[callbacks]`: which addresses a callback URL may reach.
    pub callbacks: &'c CallbacksConfig,
    /// `[queue] max_jobs_in_flight`: unfinished jobs before submissions get `503`.
    pub max_unfinished: u64,
    /// `[antivirus] allow_insecure_no_antivirus`.
    pub allow_insecure_no_antivirus: bool,
}

/// What the API shares with the rest of the node.
pub struct Shared<'n> {
    /// The `library` component.
    pub library: Library,
    /// The request limits: the component's defaults with `[limits]` applied.
    pub limits: Limits,
    /// The store.
    pub store: Arc<dyn Store>,
    /// The storage key, from which the account-secret subkeys derive.
    pub key: &'n AtRestKey,
    /// The configured scanners.
    pub scanners: Option<Scanners>,
    /// Jobs accepted and not finished (the workers count them down).
    pub unfinished: Arc<AtomicU64>,
    /// Wakes a worker when a job is stored.
    pub wake: Arc<Notify>,
    /// The node's metrics.
    pub metrics: Arc<sealmail_core::metrics::Metrics>,
}

impl AppState {
    /// The API's state, and the configured accounts' webhook secrets for the callback
    /// dispatcher. Fails on an account whose callback settings cannot be used — a malformed
    /// webhook secret, an unusable default endpoint, or one the SSRF guard refuses: a
    /// configuration mistake is reported at start-up, not in a callback's failure hours later.
    pub fn from_config(
        sections: ApiSections<'_>,
        shared: Shared<'_>,
    ) -> Result<(Self, HashMap<String, Vec<Secret>>), CallbackSettingsError> {
        let callback_policy = sections.callbacks.address_policy();
        let mut webhook_secrets = HashMap::new();
        let mut default_callbacks = HashMap::new();
        for (account, settings) in accounts::callback_settings(sections.accounts)? {
            if let Some(endpoint) = settings.default_endpoint {
                if let Ok(url) = url::Url::parse(&endpoint.url)
                    && let Err(refused) = callback_policy.check_literal_host(&url)
                {
                    return Err(CallbackSettingsError::Endpoint { account, why: refused.to_string() });
                }
                default_callbacks.insert(account.clone(), endpoint);
            }
            webhook_secrets.insert(account, settings.secrets);
        }
        let directory =
            Accounts::new(shared.key.derive(accounts::KEY_PURPOSE), sections.accounts, shared.store.clone())
                .with_previous_keys(shared.key.derive_previous(accounts::KEY_PURPOSE));
        let state = Self {
            library: shared.library,
            store: shared.store,
            accounts: directory,
            limits: shared.limits,
            unfinished: shared.unfinished,
            max_unfinished: sections.max_unfinished,
            wake: shared.wake,
            scanners: shared.scanners,
            allow_insecure_no_antivirus: sections.allow_insecure_no_antivirus,
            callback_policy,
            default_callbacks,
            rate_limits: RateLimits::new(sections.limits.recipients_per_hour, sections.accounts),
            metrics: shared.metrics,
            auth_throttle: throttle::AuthThrottle::new(sections.limits.auth_throttle()),
        };
        Ok((state, webhook_secrets))
    }
}
