//! Mail transports: how a finished message (RFC 5322 bytes rendered by the component) leaves
//! sealmail, and what happened to **each recipient** (docs/service.md#delivery: the password mail is released
//! per recipient, so one rejected address must not hide the fate of the others).
//!
//! - [`SmtpRelay`] hands the message to a relay over SMTP (RFC 5321), STARTTLS (RFC 3207) or
//!   implicit TLS (RFC 8314), optionally with AUTH (RFC 4954).
//! - [`MxDelivery`] delivers directly to each recipient domain's MX hosts (RFC 5321 §5.1),
//!   with opportunistic STARTTLS (RFC 7435).
//! - [`Outbox`] writes `.eml` files to a folder (the local default; counted as delivered).
//!
//! [`dkim`] signs every message on its way out, whatever the transport.
//!
//! A transport never logs, prints or returns message bodies: they carry the archive and, in
//! password mails, the password. Outcomes carry only server replies and local error texts.

#![warn(missing_docs)]

pub mod dkim;
mod mx;
mod outbox;
mod relay;
pub mod reply;
mod session;
#[cfg(test)]
pub(crate) mod test_smtp_server;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use serde::Deserialize;

pub use dkim::{DkimConfig, DkimSigners};
pub use mx::MxDelivery;
pub use outbox::Outbox;
pub use relay::SmtpRelay;

/// One delivery attempt's envelope (RFC 5321 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The MAIL FROM reverse-path: where bounces go; `""` for the null sender (RFC 5321 §4.5.5).
    pub reverse_path: String,
    /// The RCPT TO forward-paths, one per recipient (To, Cc and Bcc alike).
    pub recipients: Vec<String>,
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// RCPT accepted and 250 after DATA.
    Delivered {
        /// The server's final reply, e.g. `"250 2.0.0 Ok: queued as 4F2A"`.
        reply: String,
    },
    /// 5xx at RCPT or at DATA/end of data: bounced.
    ///
    /// Also used, with the code a server would have sent and a reply starting with `local:`,
    /// when sealmail itself can tell that no retry can succeed (an address that is not an
    /// address, 8-bit content for a server without 8BITMIME).
    Permanent {
        /// The reply code, 5yz.
        code: u16,
        /// The RFC 3463 enhanced status code, e.g. `"5.1.1"`, when the server sent one.
        enhanced: Option<String>,
        /// The reply as the server sent it (code and text).
        reply: String,
    },
    /// 4xx, connection refused/reset, timeout, TLS failure: try again later.
    Temporary {
        /// The reply code when a server replied (4yz, or a session-level 5yz such as a failed
        /// AUTH, which says nothing about the recipient); `None` when no reply was read.
        code: Option<u16>,
        /// The RFC 3463 enhanced status code, when the server sent one.
        enhanced: Option<String>,
        /// The server's reply, or what went wrong locally.
        reply: String,
    },
}

impl RecipientOutcome {
    /// The reply text: the server's reply or the local reason.
    pub fn reply(&self) -> &str {
        match self {
            Self::Delivered { reply } | Self::Permanent { reply, .. } | Self::Temporary { reply, .. } => reply,
        }
    }

    /// True for [`RecipientOutcome::Delivered`].
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered { .. })
    }
}

/// The outcome for one envelope recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient exactly as given in [`Envelope::recipients`].
    pub recipient: String,
    /// What happened to it.
    pub outcome: RecipientOutcome,
}

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

/// How the connection to an SMTP relay is protected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// Clear text throughout: message and credentials readable on the wire.
    None,
    /// Plain connection upgraded with STARTTLS (RFC 3207), which is **required**: a server that
    /// does not offer it gets nothing (no downgrade to clear text).
    #[default]
    Starttls,
    /// TLS from the first byte ("implicit TLS", RFC 8314 §3.3; usually port 465).
    Tls,
}

impl fmt::Display for TlsMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Starttls => "starttls",
            Self::Tls => "tls",
        })
    }
}

/// The `[transport]` section of the configuration.
#[derive(Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TransportConfig {
    /// Write `.eml` files to `dir` (created if missing).
    Outbox {
        /// Destination folder.
        dir: PathBuf,
    },
    /// Relay through an SMTP server.
    Smtp {
        /// Relay host name or IP address (also the name its TLS certificate must carry).
        host: String,
        /// Relay port (587 submission with STARTTLS, 465 implicit TLS, 25 relay).
        port: u16,
        /// `"none"` | `"starttls"` (default) | `"tls"`.
        #[serde(default)]
        tls: TlsMode,
        /// Accept `tls = "none"`: without it such a relay is refused at start-up, since mail
        /// (password mails too) and the AUTH password would cross the network in clear text.
        /// Only for a relay on the same host or a trusted network; the server warns at start.
        #[serde(default)]
        allow_insecure_smtp: bool,
        /// AUTH user name; set together with `password`.
        username: Option<String>,
        /// AUTH password; set together with `username`. Never printed (see the `Debug` impl).
        password: Option<String>,
        /// PEM file of CA certificates trusted INSTEAD of the system roots when set.
        ca_file: Option<PathBuf>,
        /// EHLO name; default the address literal `[127.0.0.1]` (RFC 5321 §4.1.4 allows an
        /// address literal when there is no meaningful host name).
        helo_name: Option<String>,
        /// Seconds allowed for the connection, for each command's reply, and for sending the
        /// content with its final reply (RFC 5321 §4.5.3.2 suggests minutes for a queueing
        /// MTA; raise it for large messages over slow links).
        #[serde(default = "default_timeout_secs")]
        timeout_secs: u64,
    },
    /// Deliver directly to each recipient domain's MX hosts (RFC 5321 §5.1).
    Mx {
        /// DNS servers as `ip:port`; default (empty) the servers of `/etc/resolv.conf`.
        #[serde(default)]
        nameservers: Vec<std::net::SocketAddr>,
        /// EHLO name; default the machine's host name (when it has a dot), else `[127.0.0.1]`.
        /// Receiving servers check it: use the name the sending address's PTR record gives.
        helo_name: Option<String>,
        /// Seconds allowed for each connection, command reply and the content's final reply.
        #[serde(default = "default_timeout_secs")]
        timeout_secs: u64,
        /// Sessions per recipient domain at the same time (receivers throttle bursts).
        #[serde(default = "default_max_connections_per_domain")]
        max_connections_per_domain: usize,
        /// The SMTP port of the MX hosts: 25 (RFC 5321 §4.5.4.2); another value only for
        /// tests and special setups.
        #[serde(default = "default_mx_port")]
        port: u16,
        /// Refuse clear text: a host that does not offer STARTTLS, or whose STARTTLS fails,
        /// gets nothing and the message is deferred (retried, then expired). Certificates are
        /// still not checked (see `mx.rs`). Default `false`: opportunistic STARTTLS (RFC 7435),
        /// as MX delivery works on the Internet (RFC 3207 §4), with a start-up warning.
        #[serde(default)]
        require_tls: bool,
    },
}

/// Two sessions per domain: parallel enough for a job, far from what receivers throttle.
fn default_max_connections_per_domain() -> usize {
    2
}

/// RFC 5321 §4.5.4.2: servers listen on the SMTP port, 25.
fn default_mx_port() -> u16 {
    25
}

/// A relay under the operator's control answers in milliseconds; a stuck one is better
/// retried later than waited for.
fn default_timeout_secs() -> u64 {
    60
}

// Written by hand so that the password never reaches a log line.
impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Outbox { dir } => f.debug_struct("Outbox").field("dir", dir).finish(),
            Self::Smtp {
                host,
                port,
                tls,
                allow_insecure_smtp,
                username,
                password,
                ca_file,
                helo_name,
                timeout_secs,
            } => f
                .debug_struct("Smtp")
                .field("host", host)
                .field("port", port)
                .field("tls", tls)
                .field("allow_insecure_smtp", allow_insecure_smtp)
                .field("username", username)
                .field("password", &password.as_ref().map(|_| "<redacted>"))
                .field("ca_file", ca_file)
                .field("helo_name", helo_name)
                .field("timeout_secs", timeout_secs)
                .finish(),
            Self::Mx { nameservers, helo_name, timeout_secs, max_connections_per_domain, port, require_tls } => f
                .debug_struct("Mx")
                .field("nameservers", nameservers)
                .field("helo_name", helo_name)
                .field("timeout_secs", timeout_secs)
                .field("max_connections_per_domain", max_connections_per_domain)
                .field("port", port)
                .field("require_tls", require_tls)
                .finish(),
        }
    }
}

/// Why a [`TransportConfig`] cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TransportConfigError {
    /// `host` is empty.
    #[error("transport.host is empty")]
    EmptyHost,
    /// `port` is 0.
    #[error("transport.port must not be 0")]
    ZeroPort,
    /// `timeout_secs` is 0.
    #[error("transport.timeout_secs must be at least 1")]
    ZeroTimeout,
    /// Only one of `username` and `password` is set.
    #[error("transport.username and transport.password must be set together")]
    IncompleteCredentials,
    /// `helo_name` is not usable as an EHLO argument.
    #[error("transport.helo_name {0:?} is not a host name (letters, digits, '-', '.') or an IP address")]
    InvalidHeloName(String),
    /// `tls = "none"` without `allow_insecure_smtp = true`.
    #[error(
        "transport.tls is \"none\": mail and the relay password would cross the network in clear text; \
         use tls = \"starttls\" or \"tls\", or set transport.allow_insecure_smtp = true to accept that"
    )]
    InsecureSmtp,
    /// `ca_file` with `tls = "none"` would be silently ignored.
    #[error("transport.ca_file is set but transport.tls is \"none\"; set tls to \"starttls\" or \"tls\"")]
    CaFileWithoutTls,
    /// `ca_file` cannot be read.
    #[error("cannot read transport.ca_file {path}: {source}")]
    CaFileUnreadable {
        /// The configured path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `ca_file` holds no usable PEM certificate.
    #[error("transport.ca_file {path} holds no usable PEM certificate: {reason}")]
    CaFileInvalid {
        /// The configured path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// `max_connections_per_domain` is 0.
    #[error("transport.max_connections_per_domain must be at least 1")]
    ZeroConnectionsPerDomain,
    /// The DNS resolver could not be set up.
    #[error("transport (mx): {0}")]
    Dns(String),
    /// The TLS client configuration could not be built.
    #[error("cannot set up TLS for the relay: {0}")]
    Tls(String),
}

/// A mailbox that is safe to put on the wire or into a header line: lettre's syntax check,
/// which in particular rejects CR and LF (no command or header injection).
fn parse_mailbox(address: &str) -> Option<lettre::Address> {
    lettre::Address::from_str(address).ok()
}

/// The local verdict on a recipient that is not an address: no server could accept it.
/// RFC 5321 §4.2.2 553 "mailbox name not allowed", RFC 3463 X.1.3 "bad destination mailbox
/// address syntax".
fn invalid_recipient() -> RecipientOutcome {
    RecipientOutcome::Permanent {
        code: 553,
        enhanced: Some("5.1.3".into()),
        reply: "local: 553 5.1.3 not a valid recipient address; not sent".into(),
    }
}

/// The local verdict on every recipient when the reverse-path is not an address: RFC 3463
/// X.1.7 "bad sender's mailbox address syntax".
fn invalid_reverse_path() -> RecipientOutcome {
    RecipientOutcome::Permanent {
        code: 553,
        enhanced: Some("5.1.7".into()),
        reply: "local: 553 5.1.7 the reverse-path (MAIL FROM) is not a valid address; not sent".into(),
    }
}

/// The reverse-path as lettre wants it: `None` for the null sender `<>`.
fn parse_reverse_path(reverse_path: &str) -> Result<Option<lettre::Address>, RecipientOutcome> {
    if reverse_path.is_empty() {
        return Ok(None);
    }
    parse_mailbox(reverse_path).map(Some).ok_or_else(invalid_reverse_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_config_defaults_and_redacted_debug() {
        let cfg: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "127.0.0.1", "port": 2525,
            "username": "user", "password": "hunter2"
        }))
        .expect("valid config");
        let TransportConfig::Smtp { tls, timeout_secs, .. } = &cfg else { panic!("smtp") };
        assert_eq!(*tls, TlsMode::Starttls);
        assert_eq!(*timeout_secs, 60);
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");

        let transport = Transport::from_config(&cfg).expect("builds");
        assert_eq!(transport.describe(), "smtp relay 127.0.0.1:2525 (STARTTLS required, AUTH as user)");
        assert!(!transport.is_insecure());
        assert!(!format!("{transport:?}").contains("hunter2"));
    }

    #[test]
    fn config_rejects_typos_and_half_credentials() {
        let typo = serde_json::from_value::<TransportConfig>(serde_json::json!({
            "kind": "smtp", "host": "h", "port": 25, "passwrod": "x"
        }));
        assert!(typo.is_err(), "unknown field must be refused");

        let half: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "h", "port": 25, "username": "u"
        }))
        .expect("parses");
        assert!(matches!(Transport::from_config(&half), Err(TransportConfigError::IncompleteCredentials)));
    }

    #[test]
    fn clear_text_relay_is_refused_unless_allowed_and_then_insecure() {
        let refused: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "relay.example", "port": 25, "tls": "none"
        }))
        .expect("parses");
        let e = Transport::from_config(&refused).expect_err("clear text needs the opt-in");
        assert!(matches!(e, TransportConfigError::InsecureSmtp));
        assert!(e.to_string().contains("transport.allow_insecure_smtp = true"), "{e}");

        let cfg: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "relay.example", "port": 25, "tls": "none", "allow_insecure_smtp": true
        }))
        .expect("parses");
        let transport = Transport::from_config(&cfg).expect("builds");
        assert!(transport.is_insecure());
        assert!(transport.describe().contains("NO TLS"), "{}", transport.describe());
        let warnings = transport.warnings();
        assert!(
            warnings.len() == 1
                && warnings[0].contains("allow_insecure_smtp")
                && warnings[0].contains("relay.example:25"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_tls_relay_has_no_warnings() {
        let cfg: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "relay.example", "port": 587, "allow_insecure_smtp": true
        }))
        .expect("parses");
        assert!(Transport::from_config(&cfg).expect("builds").warnings().is_empty());
    }

    #[test]
    fn ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let cfg: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "h", "port": 465, "tls": "tls", "ca_file": path
        }))
        .expect("parses");
        assert!(matches!(Transport::from_config(&cfg), Err(TransportConfigError::CaFileInvalid { .. })));
        let missing: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "h", "port": 465, "tls": "tls",
            "ca_file": dir.path().join("missing.pem")
        }))
        .expect("parses");
        assert!(matches!(Transport::from_config(&missing), Err(TransportConfigError::CaFileUnreadable { .. })));
    }

    #[test]
    fn outbox_config() {
        let cfg: TransportConfig =
            serde_json::from_value(serde_json::json!({"kind": "outbox", "dir": "/var/mail/out"})).expect("parses");
        let transport = Transport::from_config(&cfg).expect("builds");
        assert_eq!(transport.describe(), "outbox /var/mail/out (files, counted as delivered)");
        assert!(!transport.is_insecure());
    }
}
