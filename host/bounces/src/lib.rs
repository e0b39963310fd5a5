//! Bounces after acceptance (docs/service.md#bounces-after-delivery): "delivered" means the
//! next hop accepted the message, but a relay or the recipient's own server may still give up
//! later and say so in a delivery status notification (DSN, RFC 3464) sent to the envelope
//! sender.
//!
//! To tell which message and recipient a DSN is about without trusting its text, every
//! message leaves with its own envelope sender (VERP, "variable envelope return path"):
//! `bounce+<token>@<verp_domain>`, where the token is the local part of the message's
//! `Message-ID` (128 random bits, so it cannot be guessed). DSNs come back by SMTP to the
//! [`smtp_server`] or through the pipe command `sealmail bounce`; [`dsn`] reads them and
//! [`record_dsn`] hands every hard failure to a [`Recorder`] — the workflow, where the
//! component decides what it changes (a late `HARD_BOUNCE`) and the store records it.
//!
//! Nothing here logs or stores a message body: a DSN usually quotes the original message,
//! which may hold a password mail's text.

pub mod dsn;
pub mod smtp_server;

use std::net::SocketAddr;

use serde::Deserialize;

use async_trait::async_trait;
use dsn::{DeliveryReport, DsnError};
use sealmail_store::StoreError;

/// The local-part prefix of VERP addresses: what makes an address of the VERP domain ours.
const VERP_PREFIX: &str = "bounce+";
/// Longest token accepted. The component's tokens are 32 hex digits; the slack is for
/// other Message-ID generators, the bound keeps RCPT parsing and store lookups cheap.
const MAX_TOKEN: usize = 64;

/// `[bounces]` in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BouncesConfig {
    /// The domain of the VERP envelope senders, e.g. `bounces.example.com`; its MX must lead
    /// to the listener (or to an MTA that pipes to `sealmail bounce`). Unset: messages keep
    /// the reverse-path the component chose and late bounces are not tracked.
    pub verp_domain: Option<String>,
    /// Where the inbound SMTP listener for DSNs listens, e.g. `0.0.0.0:25` (needs
    /// `verp_domain`). Unset: no listener; another MTA may hand DSNs to `sealmail bounce`.
    pub listen: Option<SocketAddr>,
    /// Largest DSN accepted, bytes (more: `552` at DATA). DSNs quote at most the original
    /// message, and many MTAs quote only its headers.
    pub max_message_bytes: u64,
}

impl Default for BouncesConfig {
    fn default() -> Self {
        Self { verp_domain: None, listen: None, max_message_bytes: 10_000_000 }
    }
}

impl BouncesConfig {
    /// The VERP scheme, when `verp_domain` is set; refuses a `listen` without one (the
    /// listener would have no address to accept).
    pub fn verp(&self) -> Result<Option<Verp>, VerpError> {
        match (&self.verp_domain, self.listen) {
            (Some(domain), _) => Verp::new(domain).map(Some),
            (None, Some(_)) => Err(VerpError::ListenWithoutDomain),
            (None, None) => Ok(None),
        }
    }
}

/// Why the `[bounces]` configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VerpError {
    /// `verp_domain` is not a domain name.
    #[error("[bounces] verp_domain {0:?} is not a domain name (letters, digits, `-` and `.`)")]
    InvalidDomain(String),
    /// `listen` is set but `verp_domain` is not.
    #[error("[bounces] listen needs verp_domain: without VERP addresses there is nothing to receive")]
    ListenWithoutDomain,
}

/// The VERP scheme: per-message envelope senders of one domain, and their inverse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verp {
    domain: String,
}

impl Verp {
    /// The scheme for `domain` (stored lower-case; DNS names are case-insensitive).
    pub fn new(domain: &str) -> Result<Self, VerpError> {
        let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
        let label_ok = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if domain.len() > 253 || !domain.contains('.') && domain != "localhost" || !domain.split('.').all(label_ok) {
            return Err(VerpError::InvalidDomain(domain));
        }
        Ok(Self { domain })
    }

    /// The domain of the envelope senders (`bounce+<token>@domain`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The envelope sender of the message whose `Message-ID` is `message_id` (with or
    /// without its angle brackets): `bounce+<local part>@<domain>`.
    pub fn reverse_path(&self, message_id: &str) -> String {
        let id = message_id.trim().trim_start_matches('<').trim_end_matches('>');
        let token = id.rsplit_once('@').map_or(id, |(local, _)| local);
        format!("{VERP_PREFIX}{token}@{}", self.domain)
    }

    /// The token of a VERP address of this scheme (angle brackets allowed), lower-cased; `None`
    /// for any other address. The prefix and the domain compare case-insensitively (RFC 5321
    /// §2.4 lets the local part be case-sensitive, but MTAs on the way do fold it, and the
    /// component's tokens are lower-case hex).
    pub fn token(&self, address: &str) -> Option<String> {
        let address = address.trim();
        let address = address.strip_prefix('<').and_then(|a| a.strip_suffix('>')).unwrap_or(address);
        let (local, domain) = address.rsplit_once('@')?;
        if !domain.trim_end_matches('.').eq_ignore_ascii_case(&self.domain) {
            return None;
        }
        let prefix = local.get(..VERP_PREFIX.len())?;
        let token = &local[VERP_PREFIX.len()..];
        let valid = prefix.eq_ignore_ascii_case(VERP_PREFIX)
            && !token.is_empty()
            && token.len() <= MAX_TOKEN
            && token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        valid.then(|| token.to_ascii_lowercase())
    }
}

/// A hard failure a DSN reports after delivery, as the notification states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateBounce {
    /// The local part of the bounced message's `Message-ID` (its VERP token).
    pub message_token: String,
    /// The recipient the DSN reports (`Final-Recipient`).
    pub address: String,
    /// What the event and the recipient's status say: the DSN's status and diagnostic.
    pub description: String,
    /// The RFC 3463 status code, e.g. `5.1.1`.
    pub status: String,
    /// When it arrived, ms.
    pub now_ms: u64,
}

/// What recording a late bounce did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LateBounceOutcome {
    /// The recipient's delivery became a hard bounce (event, status, suppression).
    Recorded {
        /// The message's job.
        job_id: String,
    },
    /// No message of ours has this token (forged, or erased by retention).
    UnknownMessage,
    /// The message had no delivered recipient with this address (unknown, or already
    /// recorded as bounced: a DSN that arrives twice is recorded once).
    NotDelivered,
    /// It is a password mail: its recipient already has its PASSWORD_MAIL event, which is
    /// final, so nothing is recorded (the bounce is only logged).
    PasswordMail,
}

/// Where a late bounce is decided and recorded. The server's is the workflow's: the component
/// decides what the bounce changes and the store commits it in one transaction.
#[async_trait]
pub trait Recorder: Send + Sync {
    /// Decides and records `bounce`.
    async fn record(&self, bounce: LateBounce) -> Result<LateBounceOutcome, RecordError>;
}

/// What became of one recipient block of a DSN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The `Final-Recipient` address.
    pub address: String,
    /// The DSN's `Action` and `Status`, e.g. `failed 5.1.1`.
    pub reported: String,
    /// What the store did; `None` when the report is no hard bounce (a delay, a success) and
    /// was only logged.
    pub outcome: Option<LateBounceOutcome>,
}

/// Why a DSN could not be recorded.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The message is not a DSN sealmail can read: permanent (SMTP 554, `EX_DATAERR`).
    #[error("not a delivery status notification: {0}")]
    NotADsn(#[from] DsnError),
    /// The store failed: temporary (SMTP 451, `EX_TEMPFAIL`), the sender tries again; what
    /// was recorded before the failure is recognised then and not recorded twice.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The workflow component could not decide (it failed in its sandbox): temporary, like
    /// a store failure.
    #[error("the workflow failed: {0}")]
    Workflow(String),
}

impl RecordError {
    /// Whether the sender should try again later (SMTP 451, `EX_TEMPFAIL`).
    pub fn is_temporary(&self) -> bool {
        !matches!(self, Self::NotADsn(_))
    }
}

/// Parses `message` as a DSN about the message of `token` and hands each hard failure it
/// reports ([`dsn::RecipientReport::is_hard_bounce`]) to `recorder` as a late bounce; each
/// outcome is logged (addresses, status and outcome only). Returns what became of each
/// recipient group ([`any_recorded`] says whether there are new events to push).
pub async fn record_dsn(
    recorder: &dyn Recorder,
    token: &str,
    message: &[u8],
    now_ms: u64,
) -> Result<Vec<RecipientResult>, RecordError> {
    let report = dsn::parse(message)?;
    record_report(recorder, token, &report, now_ms).await
}

/// [`record_dsn`] for a parsed report.
pub async fn record_report(
    recorder: &dyn Recorder,
    token: &str,
    report: &DeliveryReport,
    now_ms: u64,
) -> Result<Vec<RecipientResult>, RecordError> {
    let mut results = Vec::with_capacity(report.recipients.len());
    for recipient in &report.recipients {
        let reported = format!("{} {}", recipient.action.as_str(), recipient.status);
        if !recipient.is_hard_bounce() {
            tracing::info!(token, recipient = %recipient.final_recipient, %reported, "DSN: not a hard bounce, logged only");
            results.push(RecipientResult { address: recipient.final_recipient.clone(), reported, outcome: None });
            continue;
        }
        let bounce = LateBounce {
            message_token: token.to_owned(),
            address: recipient.final_recipient.clone(),
            description: recipient.description(report.reporting_mta.as_deref()),
            status: recipient.status.clone(),
            now_ms,
        };
        let outcome = match recorder.record(bounce).await {
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(token, recipient = %recipient.final_recipient, error = %e, "DSN: recording failed");
                return Err(e);
            }
        };
        match &outcome {
            LateBounceOutcome::Recorded { job_id } => {
                tracing::info!(token, recipient = %recipient.final_recipient, %reported, job_id, "DSN: late hard bounce recorded")
            }
            other => {
                tracing::info!(token, recipient = %recipient.final_recipient, %reported, outcome = ?other, "DSN: nothing to record")
            }
        }
        results.push(RecipientResult { address: recipient.final_recipient.clone(), reported, outcome: Some(outcome) });
    }
    Ok(results)
}

/// Whether any of `results` recorded a late bounce (new events to push).
pub fn any_recorded(results: &[RecipientResult]) -> bool {
    results.iter().any(|r| matches!(r.outcome, Some(LateBounceOutcome::Recorded { .. })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_id_becomes_its_verp_address_and_back() {
        let verp = Verp::new("Bounces.Example.COM.").unwrap();
        let token = "0123456789abcdef0123456789abcdef";
        let address = verp.reverse_path(&format!("<{token}@sealmail.example>"));
        assert_eq!(address, format!("bounce+{token}@bounces.example.com"));
        assert_eq!(verp.reverse_path(&format!("{token}@x")), address);
        assert_eq!(verp.token(&address).as_deref(), Some(token));
        assert_eq!(
            verp.token(&format!("<BOUNCE+{}@BOUNCES.example.com>", token.to_uppercase())).as_deref(),
            Some(token)
        );
    }

    #[test]
    fn anything_but_a_verp_address_of_the_domain_is_refused() {
        let verp = Verp::new("bounces.example.com").unwrap();
        for address in [
            "bounce+abc@other.example",
            "bounce+abc@sub.bounces.example.com",
            "postmaster@bounces.example.com",
            "bounce+@bounces.example.com",
            "bounce@bounces.example.com",
            "bounce+a%b@bounces.example.com",
            "bounce+a_b@bounces.example.com",
            "bounce+abc",
            "",
            "<>",
            &format!("bounce+{}@bounces.example.com", "a".repeat(65)),
        ] {
            assert_eq!(verp.token(address), None, "{address}");
        }
    }

    #[test]
    fn the_section_parses_with_its_defaults_and_names_unknown_keys() {
        #[derive(Deserialize)]
        struct File {
            #[serde(default)]
            bounces: BouncesConfig,
        }
        let load = |text: &str| toml::from_str::<File>(text).map(|f| f.bounces);
        let c = load("[bounces]\nverp_domain = \"bounces.example.com\"\nlisten = \"127.0.0.1:2525\"\n").unwrap();
        assert_eq!(c.max_message_bytes, 10_000_000);
        assert_eq!(c.listen, Some("127.0.0.1:2525".parse().unwrap()));
        assert_eq!(c.verp().unwrap().unwrap().domain(), "bounces.example.com");
        assert!(load("").unwrap().verp().unwrap().is_none());
        let e = load("[bounces]\nverp_domian = \"x.example\"\n").unwrap_err().to_string();
        assert!(e.contains("verp_domian"), "{e}");
    }

    #[test]
    fn the_configuration_needs_a_domain_for_a_listener() {
        assert!(BouncesConfig::default().verp().unwrap().is_none());
        let listen_only = BouncesConfig { listen: Some("127.0.0.1:2525".parse().unwrap()), ..Default::default() };
        assert!(matches!(listen_only.verp(), Err(VerpError::ListenWithoutDomain)));
        for bad in ["", "bounces", "a..b", "-a.example", "a b.example", "x@y.example"] {
            let c = BouncesConfig { verp_domain: Some(bad.into()), ..Default::default() };
            assert!(matches!(c.verp(), Err(VerpError::InvalidDomain(_))), "{bad}");
        }
    }
}
