//! Push notifications to the customer's endpoint (docs/callbacks.md).
//!
//! The workflow's events are committed with an outbox entry (a *post*: up to
//! `max_events_per_post` events of one job) in the same transaction, when the job has an
//! endpoint. The [`dispatcher`] claims due posts from the store with a lease, one job's
//! posts strictly in order, and sends each as one `POST` ([`payload`] builds the Retarus
//! push body, [`signature`] signs it with the Standard Webhooks scheme, [`http`] posts it
//! through the SSRF guard of [`ssrf`]); [`retry`] says whether and when a try is repeated.
//! A post keeps its events, its `webhook-id` and its tags on every try, so a receiver can
//! de-duplicate; the outbox lives in the store, so nothing is lost across restarts.

pub mod config;
pub mod dispatcher;
pub mod http;
pub mod payload;
pub mod retry;
pub mod signature;
pub mod ssrf;

use serde::{Deserialize, Serialize};

pub use config::{CallbacksConfig, EndpointConfig};

/// Where a job's callbacks go: the request's `notification.endPoint`, or the account's
/// default, whole (the two are never mixed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// An absolute http or https URL.
    pub url: String,
    /// Extra HTTP headers.
    pub headers: Vec<(String, String)>,
    /// HTTP Basic user and password.
    pub basic_auth: Option<(String, String)>,
}

impl Endpoint {
    /// An account's default endpoint from the configuration, checked as the validator checks
    /// a request's: an absolute http(s) URL, HTTP header names and values, user and password
    /// together. The error says what is wrong.
    pub fn from_config(config: &EndpointConfig) -> Result<Self, String> {
        let url = url::Url::parse(&config.url).map_err(|e| format!("url {:?}: {e}", config.url))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(format!("url {:?}: must be an absolute http:// or https:// URL", config.url));
        }
        for (name, value) in &config.headers {
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| format!("headers: {name:?} is not an HTTP header name"))?;
            reqwest::header::HeaderValue::from_str(value)
                .map_err(|_| format!("headers: the value of {name:?} is not a valid HTTP header value"))?;
        }
        let basic_auth = match (&config.user, &config.password) {
            (Some(user), Some(password)) if !user.contains(':') => Some((user.clone(), password.clone())),
            (Some(_), Some(_)) => return Err("user: must not contain ':' (RFC 7617)".into()),
            (None, None) => None,
            _ => return Err("user and password go together (HTTP Basic)".into()),
        };
        Ok(Self {
            url: config.url.clone(),
            headers: config.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            basic_auth,
        })
    }
}

/// What every callback of a job needs, fixed at submission: the endpoint and the parts of
/// the body that come from the request and the account. Stored encrypted at rest (the
/// endpoint may carry credentials) until the job's last callback is done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallbackSetup {
    /// Where to post.
    pub endpoint: Endpoint,
    /// The account's `customerNo`.
    pub customer_no: Option<String>,
    /// `job.referenceJob`.
    pub reference_job: Option<String>,
    /// `job.costCenter`.
    pub cost_center: Option<String>,
    /// `job.campaignId`.
    pub campaign_id: Option<String>,
    /// The envelope sender (`mail.from`).
    pub from: String,
    /// The `From` header's address, when it differs from `from` (`mail.mimeFrom`).
    pub mime_from: Option<String>,
}

impl CallbackSetup {
    /// The form the store keeps (JSON; the store seals it at rest and never looks inside).
    pub fn to_stored(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a callback setup is strings only")
    }

    /// A setup as [`CallbackSetup::to_stored`] wrote it.
    pub fn from_stored(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }
}
