//! The `smtp` transport: hands a message to a relay and reports the outcome per recipient.
//!
//! lettre's `send` (high- and low-level alike) aborts the whole transaction when one RCPT is
//! rejected, so this module drives lettre's [`AsyncSmtpConnection`] command by command
//! (RFC 5321 §3.3): EHLO, STARTTLS, AUTH, `MAIL FROM`, one `RCPT TO` per recipient (each
//! reply recorded for that recipient), then `DATA` once for the accepted ones; the reply to
//! the end of data applies to every accepted recipient.
//!
//! Never sends anything but QUIT in clear text when TLS is required, never logs the dialogue
//! (lettre's `tracing` feature stays off) and never puts the message into an outcome.

use std::error::Error as _;
use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;

use super::reply::{format_reply, outcome_for_reply, temporary, temporary_with_reply};
use super::{
    Envelope, RecipientOutcome, RecipientResult, TlsMode, TransportConfig, TransportConfigError, invalid_recipient,
    parse_mailbox, parse_reverse_path,
};

/// An SMTP relay (the `smtp` transport). Cheap to clone: one connection per `send`.
#[derive(Clone)]
pub struct SmtpRelay {
    host: String,
    port: u16,
    tls: TlsMode,
    /// Built once from the configuration (roots loaded, `ca_file` parsed); `None` for
    /// `tls = "none"`.
    tls_parameters: Option<TlsParameters>,
    ca_file: Option<PathBuf>,
    credentials: Option<(String, Credentials)>,
    client_id: ClientId,
    timeout: Duration,
}

// By hand: lettre's types have no useful Debug and the credentials must not be printed.
impl std::fmt::Debug for SmtpRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpRelay")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("ca_file", &self.ca_file)
            .field("username", &self.credentials.as_ref().map(|(user, _)| user))
            .field("client_id", &self.client_id)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// How one SMTP step failed.
enum StepError {
    /// The server answered with a negative reply; the session is still usable.
    Reply { code: u16, text: String },
    /// No usable reply (I/O error, timeout, garbage): the session is unusable.
    Broken(String),
}

/// Where each recipient stands during one transaction.
enum Slot {
    /// Valid address, RCPT not yet accepted.
    Pending(lettre::Address),
    /// RCPT accepted; waits for the reply to the end of data.
    Accepted,
    /// Final for this attempt.
    Done(RecipientOutcome),
}

impl SmtpRelay {
    /// Builds the relay from a [`TransportConfig::Smtp`]; reads and checks `ca_file`.
    pub fn from_config(cfg: &TransportConfig) -> Result<Self, TransportConfigError> {
        let TransportConfig::Smtp { host, port, tls, username, password, ca_file, helo_name, timeout_secs } = cfg
        else {
            unreachable!("SmtpRelay::from_config is only called with TransportConfig::Smtp")
        };
        if host.trim().is_empty() {
            return Err(TransportConfigError::EmptyHost);
        }
        if *port == 0 {
            return Err(TransportConfigError::ZeroPort);
        }
        if *timeout_secs == 0 {
            return Err(TransportConfigError::ZeroTimeout);
        }
        let credentials = match (username, password) {
            (Some(user), Some(pass)) => Some((user.clone(), Credentials::new(user.clone(), pass.clone()))),
            (None, None) => None,
            _ => return Err(TransportConfigError::IncompleteCredentials),
        };
        let client_id = match helo_name {
            Some(name) => parse_helo_name(name)?,
            None => ClientId::Ipv4(std::net::Ipv4Addr::LOCALHOST),
        };
        let tls_parameters = match (tls, ca_file) {
            (TlsMode::None, Some(_)) => return Err(TransportConfigError::CaFileWithoutTls),
            (TlsMode::None, None) => None,
            (_, ca_file) => Some(build_tls_parameters(host, ca_file.as_deref())?),
        };
        Ok(Self {
            host: host.clone(),
            port: *port,
            tls: *tls,
            tls_parameters,
            ca_file: ca_file.clone(),
            credentials,
            client_id,
            timeout: Duration::from_secs(*timeout_secs),
        })
    }

    /// The configured TLS mode.
    pub fn tls_mode(&self) -> TlsMode {
        self.tls
    }

    /// One line for the start-up banner.
    pub fn describe(&self) -> String {
        let mut parts = vec![match self.tls {
            TlsMode::Starttls => "STARTTLS required".to_owned(),
            TlsMode::Tls => "implicit TLS".to_owned(),
            TlsMode::None => "NO TLS: mail and credentials travel in clear text".to_owned(),
        }];
        if let Some((user, _)) = &self.credentials {
            parts.push(format!("AUTH as {user}"));
        }
        if let Some(ca_file) = &self.ca_file {
            parts.push(format!("trusting only the CAs in {}", ca_file.display()));
        }
        format!("smtp relay {} ({})", self.address(), parts.join(", "))
    }

    /// `host:port`, IPv6 literals in brackets.
    fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Sends `message` to every envelope recipient; one result per recipient, in order.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Vec<RecipientResult> {
        let mut slots: Vec<Slot> = envelope
            .recipients
            .iter()
            .map(|r| parse_mailbox(r).map_or_else(|| Slot::Done(invalid_recipient()), Slot::Pending))
            .collect();
        match parse_reverse_path(&envelope.reverse_path) {
            Ok(reverse_path) => {
                if slots.iter().any(|s| matches!(s, Slot::Pending(_))) {
                    self.transaction(reverse_path, &mut slots, message).await;
                }
            }
            Err(outcome) => settle(&mut slots, &outcome),
        }
        envelope
            .recipients
            .iter()
            .zip(slots)
            .map(|(recipient, slot)| RecipientResult {
                recipient: recipient.clone(),
                outcome: match slot {
                    Slot::Done(outcome) => outcome,
                    // Unreachable by construction; a retry is the safe reading.
                    Slot::Pending(_) | Slot::Accepted => temporary("internal: no outcome recorded for this recipient"),
                },
            })
            .collect()
    }

    /// One SMTP session: every slot is `Done` when this returns.
    async fn transaction(&self, reverse_path: Option<lettre::Address>, slots: &mut [Slot], message: &[u8]) {
        let mut conn = match self.open().await {
            Ok(conn) => conn,
            Err(outcome) => return settle(slots, &outcome),
        };

        let mut parameters = Vec::new();
        // RFC 6152 §3: 8-bit data only to a server that offers 8BITMIME (and then declared).
        if !message.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                let outcome = RecipientOutcome::Permanent {
                    code: 554,
                    enhanced: Some("5.6.3".into()),
                    reply: format!(
                        "local: 554 5.6.3 the message has 8-bit content but {} does not offer \
                         8BITMIME (RFC 6152); not sent",
                        self.address()
                    ),
                };
                settle(slots, &outcome);
                return self.quit(conn).await;
            }
            parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        // RFC 6531: non-ASCII addresses only to a server that offers SMTPUTF8, declared on MAIL.
        let smtputf8 = conn.server_info().supports_feature(Extension::SmtpUtfEight);
        let non_ascii = |a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii();
        if reverse_path.as_ref().is_some_and(non_ascii) && !smtputf8 {
            settle(slots, &no_smtputf8(&self.address()));
            return self.quit(conn).await;
        }
        for slot in slots.iter_mut() {
            if matches!(slot, Slot::Pending(a) if non_ascii(a) && !smtputf8) {
                *slot = Slot::Done(no_smtputf8(&self.address()));
            }
        }
        let any_non_ascii = reverse_path.as_ref().is_some_and(non_ascii)
            || slots.iter().any(|s| matches!(s, Slot::Pending(a) if non_ascii(a)));
        if any_non_ascii {
            parameters.push(MailParameter::SmtpUtfEight);
        }
        if !slots.iter().any(|s| matches!(s, Slot::Pending(_))) {
            return self.quit(conn).await;
        }

        // MAIL FROM. A 5yz here refuses this message from this sender (RFC 5321 §4.1.1.2):
        // every recipient bounces; a 4yz asks to try again.
        match self.step(conn.command(Mail::new(reverse_path, parameters))).await {
            Ok(_) => {}
            Err(StepError::Reply { code, text }) => {
                settle(slots, &outcome_for_reply(code, &text));
                return self.quit(conn).await;
            }
            Err(StepError::Broken(reason)) => {
                return settle(slots, &temporary(format!("MAIL FROM: {reason}")));
            }
        }

        // RCPT TO, one per recipient; a rejection leaves the session usable (RFC 5321 §4.1.1.3).
        for index in 0..slots.len() {
            let Slot::Pending(address) = &slots[index] else { continue };
            match self.step(conn.command(Rcpt::new(address.clone(), Vec::new()))).await {
                Ok(response) => {
                    let (code, text) = code_and_text(&response);
                    // 250 or 251 (RFC 5321 §4.2.2); a 3yz here is a protocol error.
                    slots[index] =
                        if code / 100 == 2 { Slot::Accepted } else { Slot::Done(outcome_for_reply(code, &text)) };
                }
                Err(StepError::Reply { code, text }) => {
                    slots[index] = Slot::Done(outcome_for_reply(code, &text));
                }
                Err(StepError::Broken(reason)) => {
                    return settle(slots, &temporary(format!("RCPT TO: {reason}")));
                }
            }
        }
        if !slots.iter().any(|s| matches!(s, Slot::Accepted)) {
            // Nothing to transmit: end the session without DATA (RFC 5321 §3.3).
            return self.quit(conn).await;
        }

        // DATA must be answered with 354 before the content may follow (RFC 5321 §4.1.1.4).
        match self.step(conn.command(Data)).await {
            Ok(response) if response.has_code(354) => {}
            Ok(response) => {
                let (code, text) = code_and_text(&response);
                settle(slots, &temporary(format!("DATA: unexpected reply {}", format_reply(code, &text))));
                return self.quit(conn).await;
            }
            Err(StepError::Reply { code, text }) => {
                settle(slots, &outcome_for_reply(code, &text));
                return self.quit(conn).await;
            }
            Err(StepError::Broken(reason)) => {
                return settle(slots, &temporary(format!("DATA: {reason}")));
            }
        }

        // lettre dot-stuffs the content (RFC 5321 §4.5.2) and always appends <CRLF>.<CRLF>,
        // whose first CRLF ends the last line (RFC 5321 §4.1.1.4): drop the message's own
        // final CRLF, or the relay would receive an extra empty line.
        let content = message.strip_suffix(b"\r\n").unwrap_or(message);
        match self.step(conn.message(content)).await {
            Ok(response) => {
                let (code, text) = code_and_text(&response);
                settle(slots, &outcome_for_reply(code, &text));
            }
            Err(StepError::Reply { code, text }) => settle(slots, &outcome_for_reply(code, &text)),
            Err(StepError::Broken(reason)) => {
                // RFC 5321 §6.1: the relay may have taken responsibility before the reply was
                // lost. Retrying risks a duplicate; not retrying risks a loss. Retry.
                return settle(slots, &temporary(format!("end of data: {reason} (the relay may still deliver it)")));
            }
        }
        self.quit(conn).await;
    }

    /// Connects, reads the greeting, says EHLO, starts TLS if configured and authenticates.
    /// A failure is a [`RecipientOutcome::Temporary`] for everyone: it says nothing about any
    /// recipient, and the operator can fix it (relay down, certificate, password).
    async fn open(&self) -> Result<AsyncSmtpConnection, RecipientOutcome> {
        let address = self.address();
        // Implicit TLS (RFC 8314 §3.3): the handshake happens before the greeting.
        let implicit_tls = match self.tls {
            TlsMode::Tls => self.tls_parameters.clone(),
            TlsMode::None | TlsMode::Starttls => None,
        };
        let connect = async {
            match implicit_tls {
                Some(tls) => Ok(AsyncSmtpConnection::connect_tokio1(
                    (self.host.as_str(), self.port),
                    Some(self.timeout),
                    &self.client_id,
                    Some(tls),
                    None,
                )
                .await),
                None => match self.tcp_connect().await {
                    Ok(stream) => {
                        Ok(AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.client_id).await)
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        Err(temporary(format!("connection to {address} refused")))
                    }
                    Err(e) => Err(temporary(format!("cannot connect to {address}: {e}"))),
                },
            }
        };
        let mut conn = match tokio::time::timeout(self.timeout, connect).await {
            Ok(Ok(Ok(conn))) => conn,
            Ok(Ok(Err(err))) => return Err(self.connect_failure(&err)),
            Ok(Err(outcome)) => return Err(outcome),
            Err(_) => {
                return Err(temporary(format!(
                    "connection to {address} timed out after {}s (no greeting or EHLO reply)",
                    self.timeout.as_secs()
                )));
            }
        };

        if self.tls == TlsMode::Starttls {
            // RFC 3207 §4: a client that requires TLS must not continue when the server does
            // not offer STARTTLS; a MITM can strip the keyword, so "opportunistic" would leak.
            if !conn.server_info().supports_feature(Extension::StartTls) {
                self.quit(conn).await;
                return Err(temporary(format!(
                    "{address} does not offer STARTTLS, which tls = \"starttls\" requires \
                     (RFC 3207); nothing was sent"
                )));
            }
            let Some(parameters) = self.tls_parameters.clone() else {
                return Err(temporary("internal: TLS parameters missing"));
            };
            // lettre sends EHLO again after the handshake (RFC 3207 §4.2: forget what was
            // learnt in clear text).
            match self.step(conn.starttls(parameters, &self.client_id)).await {
                Ok(()) => {}
                Err(StepError::Reply { code, text }) => {
                    self.quit(conn).await;
                    return Err(temporary_with_reply(&format!("STARTTLS at {address}"), code, &text));
                }
                Err(StepError::Broken(reason)) => {
                    return Err(temporary(format!("STARTTLS with {address} failed: {reason}")));
                }
            }
        }

        if let Some((user, credentials)) = &self.credentials {
            // PLAIN (RFC 4616) and LOGIN, both only ever over TLS unless tls = "none".
            let mechanisms = [Mechanism::Plain, Mechanism::Login];
            match self.step(conn.auth(&mechanisms, credentials)).await {
                Ok(_) => {}
                Err(StepError::Reply { code, text }) => {
                    self.quit(conn).await;
                    return Err(temporary_with_reply(&format!("AUTH as {user} at {address} failed"), code, &text));
                }
                Err(StepError::Broken(reason)) => {
                    return Err(temporary(format!("AUTH as {user} at {address} failed: {reason}")));
                }
            }
        }
        Ok(conn)
    }

    /// A TCP connection to the relay with Nagle's algorithm off. lettre writes the message
    /// and the end-of-data marker (`CRLF.CRLF`, RFC 5321 §4.1.1.4) separately; with Nagle on,
    /// the 5-byte marker waits for the ACK of the message, which the receiver delays by up to
    /// 40 ms (delayed ACK) — a stall on every message (docs/performance.md).
    async fn tcp_connect(&self) -> std::io::Result<tokio::net::TcpStream> {
        let mut last = None;
        for address in tokio::net::lookup_host((self.host.as_str(), self.port)).await? {
            match tokio::net::TcpStream::connect(address).await {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    return Ok(stream);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("the relay's name resolves to no address")))
    }

    /// A clear text for a failed connect (TCP, TLS handshake, greeting, EHLO).
    fn connect_failure(&self, err: &lettre::transport::smtp::Error) -> RecipientOutcome {
        let address = self.address();
        if let Some(code) = err.status() {
            // A 554 greeting or a refused EHLO (RFC 5321 §3.1, §4.1.1.1).
            return temporary_with_reply(&format!("{address} refused the session"), code.into(), &source_text(err));
        }
        match io_error_kind(err) {
            Some(std::io::ErrorKind::ConnectionRefused) => temporary(format!("connection to {address} refused")),
            Some(std::io::ErrorKind::TimedOut) => {
                temporary(format!("connection to {address} timed out after {}s", self.timeout.as_secs()))
            }
            _ => temporary(format!("cannot open an SMTP session with {address}: {}", root_cause(err))),
        }
    }

    /// Runs one command with the per-command timeout and sorts its failure.
    async fn step<T>(
        &self,
        command: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
    ) -> Result<T, StepError> {
        match tokio::time::timeout(self.timeout, command).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(match err.status() {
                Some(code) => StepError::Reply { code: code.into(), text: source_text(&err) },
                None => StepError::Broken(root_cause(&err)),
            }),
            Err(_) => Err(StepError::Broken(format!("no reply within {}s", self.timeout.as_secs()))),
        }
    }

    /// Ends the session politely (RFC 5321 §4.1.1.10); its outcome changes nothing.
    async fn quit(&self, mut conn: AsyncSmtpConnection) {
        let _ = tokio::time::timeout(self.timeout, conn.quit()).await;
    }
}

/// Gives every recipient that has no final outcome yet this one. Outcomes already final (a 5yz
/// to its RCPT) stay: they are true whatever happens to the session afterwards.
fn settle(slots: &mut [Slot], outcome: &RecipientOutcome) {
    for slot in slots.iter_mut() {
        if !matches!(slot, Slot::Done(_)) {
            *slot = Slot::Done(outcome.clone());
        }
    }
}

/// RFC 6531 has a server refuse non-ASCII addresses with 553 and X.6.7 "Non-ASCII addresses
/// not permitted" (RFC 5248); without SMTPUTF8 that is what would happen, so it is decided
/// locally without asking.
fn no_smtputf8(address: &str) -> RecipientOutcome {
    RecipientOutcome::Permanent {
        code: 553,
        enhanced: Some("5.6.7".into()),
        reply: format!(
            "local: 553 5.6.7 non-ASCII address but {address} does not offer SMTPUTF8 \
             (RFC 6531); not sent"
        ),
    }
}

/// The numeric code and the text (lines joined by a space) of a positive reply.
fn code_and_text(response: &Response) -> (u16, String) {
    (response.code().into(), response.message().collect::<Vec<_>>().join(" "))
}

/// The server's reply text carried by a lettre error for a negative reply.
fn source_text(err: &lettre::transport::smtp::Error) -> String {
    err.source().map(ToString::to_string).unwrap_or_default()
}

/// The innermost cause's text: lettre nests "Connection error: Connection error: invalid peer
/// certificate: UnknownIssuer"; the last link is the informative one.
fn root_cause(err: &lettre::transport::smtp::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The kind of the I/O error behind a lettre error, if there is one.
fn io_error_kind(err: &lettre::transport::smtp::Error) -> Option<std::io::ErrorKind> {
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = cause.source();
    }
    None
}

/// The EHLO argument: a host name or an address literal (RFC 5321 §4.1.3). Checked strictly
/// because it is written verbatim into the command line (no CR/LF injection).
fn parse_helo_name(name: &str) -> Result<ClientId, TransportConfigError> {
    let literal = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')).unwrap_or(name);
    match literal.strip_prefix("IPv6:").unwrap_or(literal).parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => return Ok(ClientId::Ipv4(ip)),
        Ok(IpAddr::V6(ip)) => return Ok(ClientId::Ipv6(ip)),
        Err(_) => {}
    }
    let valid = !name.is_empty()
        && name.len() <= 255
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid {
        Ok(ClientId::Domain(name.to_owned()))
    } else {
        Err(TransportConfigError::InvalidHeloName(name.to_owned()))
    }
}

/// TLS client settings for `host`: the system roots, or only the CAs in `ca_file`.
fn build_tls_parameters(host: &str, ca_file: Option<&std::path::Path>) -> Result<TlsParameters, TransportConfigError> {
    let mut builder = TlsParameters::builder(host.to_owned());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|source| TransportConfigError::CaFileUnreadable { path: path.to_owned(), source })?;
        let invalid = |reason: String| TransportConfigError::CaFileInvalid { path: path.to_owned(), reason };
        // lettre accepts a PEM without any certificate (an empty trust store that fails every
        // handshake later); refuse it now.
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(invalid("no BEGIN CERTIFICATE block".into()));
        }
        let certificate = Certificate::from_pem(&pem).map_err(|e| invalid(e.to_string()))?;
        builder = builder.certificate_store(CertificateStore::None).add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|e| match ca_file {
        Some(path) => TransportConfigError::CaFileInvalid { path: path.to_owned(), reason: e.to_string() },
        None => TransportConfigError::Tls(e.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::super::Transport;
    use super::super::test_smtp_server::{Script, ScriptedSmtpServer, TEST_CA, UNRELATED_CA};
    use super::*;

    const MESSAGE: &[u8] = b"From: sender@example.com\r\nTo: ok@example.com\r\n\
        Subject: per-recipient\r\n\r\nline one\r\n.starts with a dot\r\n";

    fn relay(port: u16, extra: serde_json::Value) -> Transport {
        let mut cfg = serde_json::json!({
            "kind": "smtp", "host": "127.0.0.1", "port": port, "tls": "none", "timeout_secs": 5
        });
        if let (Some(cfg), Some(extra)) = (cfg.as_object_mut(), extra.as_object()) {
            cfg.extend(extra.clone());
        }
        let cfg: TransportConfig = serde_json::from_value(cfg).expect("valid config");
        Transport::from_config(&cfg).expect("transport builds")
    }

    fn envelope(recipients: &[&str]) -> Envelope {
        Envelope {
            reverse_path: "bounces@example.com".into(),
            recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    fn scripted() -> Script {
        Script::default()
            .reply_to("reject-perm@example.com", "550 5.1.1 User unknown")
            .reply_to("reject-temp@example.com", "451 4.3.0 Try again")
    }

    fn assert_all_temporary(results: &[RecipientResult], needle: &str) {
        for result in results {
            let RecipientOutcome::Temporary { reply, .. } = &result.outcome else {
                panic!("expected Temporary for {}, got {:?}", result.recipient, result.outcome);
            };
            assert!(reply.contains(needle), "{reply:?} should mention {needle:?}");
        }
    }

    #[tokio::test]
    async fn each_recipient_gets_its_own_outcome() {
        let server = ScriptedSmtpServer::start(scripted()).await;
        let recipients = ["ok@example.com", "reject-perm@example.com", "reject-temp@example.com", "ok2@example.com"];
        let results = relay(server.addr().port(), serde_json::json!({})).send(&envelope(&recipients), MESSAGE).await;

        let got: Vec<&str> = results.iter().map(|r| r.recipient.as_str()).collect();
        assert_eq!(got, recipients, "one result per recipient, in envelope order");
        let delivered = RecipientOutcome::Delivered { reply: "250 2.0.0 Ok: queued as TEST".into() };
        assert_eq!(results[0].outcome, delivered);
        assert_eq!(
            results[1].outcome,
            RecipientOutcome::Permanent {
                code: 550,
                enhanced: Some("5.1.1".into()),
                reply: "550 5.1.1 User unknown".into()
            }
        );
        assert_eq!(
            results[2].outcome,
            RecipientOutcome::Temporary {
                code: Some(451),
                enhanced: Some("4.3.0".into()),
                reply: "451 4.3.0 Try again".into()
            }
        );
        assert_eq!(results[3].outcome, delivered);

        let messages = server.messages();
        assert_eq!(messages.len(), 1, "DATA exactly once");
        assert_eq!(messages[0].mail_from, "<bounces@example.com>");
        assert_eq!(messages[0].recipients, ["ok@example.com", "ok2@example.com"]);
        assert_eq!(messages[0].data, MESSAGE, "the exact bytes arrive (dot-stuffing undone)");
        let commands: Vec<String> = server.commands().into_iter().map(|c| c.line).collect();
        assert_eq!(commands.iter().filter(|c| *c == "DATA").count(), 1, "{commands:?}");
        assert_eq!(commands.last().map(String::as_str), Some("QUIT"), "{commands:?}");
    }

    #[tokio::test]
    async fn refusal_at_end_of_data_bounces_every_accepted_recipient() {
        let server = ScriptedSmtpServer::start(Script {
            end_of_data_reply: "554 5.7.1 Message rejected by policy".into(),
            ..scripted()
        })
        .await;
        let results = relay(server.addr().port(), serde_json::json!({}))
            .send(&envelope(&["ok@example.com", "reject-perm@example.com", "ok2@example.com"]), MESSAGE)
            .await;
        let data_refusal = RecipientOutcome::Permanent {
            code: 554,
            enhanced: Some("5.7.1".into()),
            reply: "554 5.7.1 Message rejected by policy".into(),
        };
        assert_eq!(results[0].outcome, data_refusal);
        assert!(
            matches!(results[1].outcome, RecipientOutcome::Permanent { code: 550, .. }),
            "the RCPT refusal stays: {:?}",
            results[1].outcome
        );
        assert_eq!(results[2].outcome, data_refusal);
    }

    #[tokio::test]
    async fn refusal_of_the_data_command_bounces_every_accepted_recipient() {
        let server = ScriptedSmtpServer::start(Script {
            data_command_reply: Some("554 5.3.4 Transaction failed".into()),
            ..scripted()
        })
        .await;
        let results = relay(server.addr().port(), serde_json::json!({}))
            .send(&envelope(&["ok@example.com", "reject-temp@example.com", "ok2@example.com"]), MESSAGE)
            .await;
        let refusal = RecipientOutcome::Permanent {
            code: 554,
            enhanced: Some("5.3.4".into()),
            reply: "554 5.3.4 Transaction failed".into(),
        };
        assert_eq!(results[0].outcome, refusal);
        assert!(matches!(results[1].outcome, RecipientOutcome::Temporary { code: Some(451), .. }));
        assert_eq!(results[2].outcome, refusal);
        assert!(server.messages().is_empty(), "no content after a refused DATA");
    }

    #[tokio::test]
    async fn temporary_refusal_at_end_of_data_is_temporary() {
        let server =
            ScriptedSmtpServer::start(Script { end_of_data_reply: "451 4.7.1 Greylisted".into(), ..Script::default() })
                .await;
        let results =
            relay(server.addr().port(), serde_json::json!({})).send(&envelope(&["ok@example.com"]), MESSAGE).await;
        assert_eq!(
            results[0].outcome,
            RecipientOutcome::Temporary {
                code: Some(451),
                enhanced: Some("4.7.1".into()),
                reply: "451 4.7.1 Greylisted".into()
            }
        );
    }

    #[tokio::test]
    async fn no_accepted_recipient_means_no_data() {
        let server = ScriptedSmtpServer::start(scripted()).await;
        let results = relay(server.addr().port(), serde_json::json!({}))
            .send(&envelope(&["reject-perm@example.com", "reject-temp@example.com"]), MESSAGE)
            .await;
        assert!(matches!(results[0].outcome, RecipientOutcome::Permanent { code: 550, .. }));
        assert!(matches!(results[1].outcome, RecipientOutcome::Temporary { code: Some(451), .. }));
        assert!(server.messages().is_empty());
        assert!(!server.commands().iter().any(|c| c.line == "DATA"));
    }

    #[tokio::test]
    async fn connection_refused_is_temporary_for_everyone() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let results =
            relay(port, serde_json::json!({})).send(&envelope(&["a@example.com", "b@example.com"]), MESSAGE).await;
        assert_eq!(results.len(), 2);
        assert_all_temporary(&results, &format!("connection to 127.0.0.1:{port} refused"));
        assert!(matches!(results[0].outcome, RecipientOutcome::Temporary { code: None, .. }));
    }

    #[tokio::test]
    async fn required_starttls_missing_sends_nothing() {
        let server = ScriptedSmtpServer::start(Script::default()).await;
        let transport = relay(server.addr().port(), serde_json::json!({"tls": "starttls"}));
        let results = transport.send(&envelope(&["a@example.com", "b@example.com"]), MESSAGE).await;
        assert_all_temporary(&results, "does not offer STARTTLS");
        let commands: Vec<String> = server.commands().into_iter().map(|c| c.line).collect();
        assert!(
            !commands.iter().any(|c| c.starts_with("MAIL") || c.starts_with("RCPT")),
            "nothing but EHLO/QUIT in clear text: {commands:?}"
        );
        assert!(server.messages().is_empty());
    }

    #[tokio::test]
    async fn starttls_with_ca_file_then_auth_over_tls() {
        let server = ScriptedSmtpServer::start(Script { starttls: true, auth: true, ..scripted() }).await;
        let transport = relay(
            server.addr().port(),
            serde_json::json!({
                "tls": "starttls", "ca_file": TEST_CA, "username": "user", "password": "secret"
            }),
        );
        assert!(transport.describe().contains("STARTTLS required, AUTH as user"));
        let results = transport.send(&envelope(&["ok@example.com", "reject-perm@example.com"]), MESSAGE).await;
        assert!(results[0].outcome.is_delivered(), "{results:?}");
        assert!(matches!(results[1].outcome, RecipientOutcome::Permanent { code: 550, .. }));

        let commands = server.commands();
        let clear: Vec<&str> = commands.iter().filter(|c| !c.encrypted).map(|c| c.line.as_str()).collect();
        assert_eq!(clear, ["EHLO [127.0.0.1]", "STARTTLS"], "only these in clear text");
        assert!(commands.iter().any(|c| c.encrypted && c.line.starts_with("AUTH PLAIN")));
        assert_eq!(server.messages()[0].data, MESSAGE);
    }

    #[tokio::test]
    async fn implicit_tls_with_ca_file() {
        let server = ScriptedSmtpServer::start(Script { implicit_tls: true, ..Script::default() }).await;
        let transport = relay(server.addr().port(), serde_json::json!({"tls": "tls", "ca_file": TEST_CA}));
        let results = transport.send(&envelope(&["ok@example.com"]), MESSAGE).await;
        assert!(results[0].outcome.is_delivered(), "{results:?}");
        assert!(server.commands().iter().all(|c| c.encrypted));
    }

    #[tokio::test]
    async fn untrusted_certificate_is_temporary_and_sends_nothing() {
        let server = ScriptedSmtpServer::start(Script { starttls: true, ..Script::default() }).await;
        let transport = relay(server.addr().port(), serde_json::json!({"tls": "starttls", "ca_file": UNRELATED_CA}));
        let results = transport.send(&envelope(&["ok@example.com"]), MESSAGE).await;
        assert_all_temporary(&results, "STARTTLS with 127.0.0.1");
        assert_all_temporary(&results, "invalid peer certificate");
        assert!(!server.commands().iter().any(|c| c.line.starts_with("MAIL")));
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let server = ScriptedSmtpServer::start(Script { silent: true, ..Script::default() }).await;
        let transport = relay(server.addr().port(), serde_json::json!({"timeout_secs": 1}));
        let started = std::time::Instant::now();
        let results = transport.send(&envelope(&["ok@example.com"]), MESSAGE).await;
        assert_all_temporary(&results, "timed out");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn invalid_addresses_are_refused_locally() {
        let server = ScriptedSmtpServer::start(Script::default()).await;
        let transport = relay(server.addr().port(), serde_json::json!({}));
        let results =
            transport.send(&envelope(&["ok@example.com", "x@example.com>\r\nDATA", "no-at-sign"]), MESSAGE).await;
        assert!(results[0].outcome.is_delivered(), "{results:?}");
        for result in &results[1..] {
            assert!(
                matches!(&result.outcome, RecipientOutcome::Permanent { code: 553, enhanced: Some(e), .. } if e == "5.1.3"),
                "{result:?}"
            );
        }
        assert_eq!(server.messages()[0].recipients, ["ok@example.com"]);

        let bad_sender = Envelope { reverse_path: "not an address".into(), ..envelope(&["ok@example.com"]) };
        let results = transport.send(&bad_sender, MESSAGE).await;
        assert!(
            matches!(&results[0].outcome, RecipientOutcome::Permanent { enhanced: Some(e), .. } if e == "5.1.7"),
            "{results:?}"
        );
    }

    #[tokio::test]
    async fn null_sender_and_empty_envelope() {
        let server = ScriptedSmtpServer::start(Script::default()).await;
        let transport = relay(server.addr().port(), serde_json::json!({}));
        let null_sender = Envelope { reverse_path: String::new(), ..envelope(&["ok@example.com"]) };
        assert!(transport.send(&null_sender, MESSAGE).await[0].outcome.is_delivered());
        assert_eq!(server.messages()[0].mail_from, "<>");

        let before = server.commands().len();
        assert!(transport.send(&envelope(&[]), MESSAGE).await.is_empty());
        assert_eq!(server.commands().len(), before, "no connection for no recipients");
    }

    #[test]
    fn helo_names() {
        assert_eq!(parse_helo_name("mail.example.com").ok(), Some(ClientId::Domain("mail.example.com".into())));
        assert_eq!(parse_helo_name("[192.0.2.1]").ok(), Some(ClientId::Ipv4([192, 0, 2, 1].into())));
        assert!(parse_helo_name("evil\r\nMAIL FROM:<x@y>").is_err());
        assert!(parse_helo_name("").is_err());
        assert!(parse_helo_name("-bad.example").is_err());
    }
}
