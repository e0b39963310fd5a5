//! [`Transport`]: the configured way out (relay, MX or outbox), built from its
//! configuration, with what the banner and the start-up warnings say of it.

use crate::config::{TlsMode, TransportConfig, TransportConfigError};
use crate::envelope::{Envelope, RecipientResult};
use crate::{MxDelivery, Outbox, SmtpRelay};

/// A configured transport, built once at start-up and cloned into workers.
#[derive(Clone, Debug)]
pub enum Transport {
    /// Hand mail to an SMTP relay.
    Smtp(SmtpRelay),
    /// Write mail to a folder.
    Outbox(Outbox),
    /// Deliver to the recipients' MX hosts.
    Mx(MxDelivery),
}

impl Transport {
    /// Builds the transport described by `cfg`; reads `ca_file` now, so a bad file stops the
    /// start-up instead of failing every delivery.
    pub fn from_config(cfg: &TransportConfig) -> Result<Self, TransportConfigError> {
        match cfg {
            TransportConfig::Outbox { dir } => Ok(Self::Outbox(Outbox::new(dir.clone()))),
            TransportConfig::Smtp { .. } => SmtpRelay::from_config(cfg).map(Self::Smtp),
            TransportConfig::Mx { .. } => MxDelivery::from_config(cfg).map(Self::Mx),
        }
    }

    /// Sends `message` (complete RFC 5322 bytes, CRLF) to every envelope recipient; returns
    /// one result per recipient in envelope order. Never panics; never returns early without
    /// a result for each recipient.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Vec<RecipientResult> {
        match self {
            Self::Smtp(relay) => relay.send(envelope, message).await,
            Self::Outbox(outbox) => outbox.send(envelope, message).await,
            Self::Mx(mx) => mx.send(envelope, message).await,
        }
    }

    /// One line for the start-up banner, e.g. "smtp relay 127.0.0.1:2525 (STARTTLS required,
    /// AUTH as user)" or "outbox /path (files, counted as delivered)".
    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(relay) => relay.describe(),
            Self::Outbox(outbox) => outbox.describe(),
            Self::Mx(mx) => mx.describe(),
        }
    }

    /// true when mail may leave in clear text (relay without TLS) — the server warns at start.
    pub fn is_insecure(&self) -> bool {
        match self {
            Self::Smtp(relay) => relay.tls_mode() == TlsMode::None,
            Self::Outbox(_) => false,
            // Opportunistic STARTTLS is what MX delivery can do (RFC 7435): no relay whose
            // certificate could be pinned, and the banner says how TLS is used.
            Self::Mx(_) => false,
        }
    }

    /// The start-up warnings of this transport's settings, each naming the setting: a relay
    /// in clear text, and MX delivery that falls back to clear text.
    pub fn warnings(&self) -> Vec<String> {
        match self {
            Self::Smtp(relay) if relay.tls_mode() == TlsMode::None => vec![format!(
                "transport.allow_insecure_smtp is set and transport.tls is \"none\": mail and the relay \
                 password travel in clear text to {}",
                relay.address()
            )],
            Self::Mx(mx) if !mx.requires_tls() => vec![
                "transport.require_tls is not set (kind = \"mx\"): mail travels in clear text to MX hosts \
                 that do not offer STARTTLS, and MX certificates are not checked (RFC 7435 opportunistic TLS)"
                    .to_owned(),
            ],
            Self::Smtp(_) | Self::Mx(_) | Self::Outbox(_) => Vec::new(),
        }
    }
}
