//! `[transport]`: where mail goes (relay, direct MX delivery or the outbox) and how (TLS,
//! AUTH, timeouts).

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;

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
