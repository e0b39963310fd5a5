//! The `smtp` transport: hands a message to a relay and reports the outcome per recipient.
//!
//! This module opens the session (RFC 5321 §3.1): connect, EHLO, STARTTLS or implicit TLS,
//! AUTH; the mail transaction itself, with one outcome per recipient, is in
//! [`super::session`], shared with the `mx` transport.
//!
//! Never sends anything but QUIT in clear text when TLS is required, never logs the dialogue
//! (lettre's `tracing` feature stays off) and never puts the message into an outcome.

use std::future::Future;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, CertificateStore, TlsParameters};
use lettre::transport::smtp::extension::{ClientId, Extension};

use super::reply::{temporary, temporary_with_reply};
use super::session::{self, Slot, StepError, io_error_kind, root_cause, settle, source_text};
use crate::config::{TlsMode, TransportConfig, TransportConfigError};
use crate::envelope::{Envelope, RecipientOutcome, RecipientResult, parse_reverse_path};

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

impl SmtpRelay {
    /// Builds the relay from a [`TransportConfig::Smtp`]; reads and checks `ca_file`.
    pub fn from_config(cfg: &TransportConfig) -> Result<Self, TransportConfigError> {
        let TransportConfig::Smtp {
            host,
            port,
            tls,
            allow_insecure_smtp,
            username,
            password,
            ca_file,
            helo_name,
            timeout_secs,
        } = cfg
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
            // Clear text only when the operator said so: mail carries passwords
            // (docs/service.md#tls-and-transport-security).
            (TlsMode::None, None) if !allow_insecure_smtp => return Err(TransportConfigError::InsecureSmtp),
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
    pub(super) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Sends `message` to every envelope recipient; one result per recipient, in order.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Vec<RecipientResult> {
        let mut slots = session::slots_for(&envelope.recipients);
        match parse_reverse_path(&envelope.reverse_path) {
            Ok(reverse_path) => {
                if slots.iter().any(|s| matches!(s, Slot::Pending(_))) {
                    self.transaction(reverse_path, &mut slots, message).await;
                }
            }
            Err(outcome) => settle(&mut slots, &outcome),
        }
        session::results(&envelope.recipients, slots)
    }

    /// One SMTP session: every slot is `Done` when this returns.
    async fn transaction(&self, reverse_path: Option<lettre::Address>, slots: &mut [Slot], message: &[u8]) {
        match self.open().await {
            Ok(conn) => session::transaction(conn, self.timeout, &self.address(), reverse_path, slots, message).await,
            Err(outcome) => settle(slots, &outcome),
        }
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

    /// A TCP connection to the first of the relay's addresses that answers (Nagle's algorithm
    /// off, see [`session::connect`]).
    async fn tcp_connect(&self) -> std::io::Result<tokio::net::TcpStream> {
        let mut last = None;
        for address in tokio::net::lookup_host((self.host.as_str(), self.port)).await? {
            match session::connect(address).await {
                Ok(stream) => return Ok(stream),
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
        session::step(self.timeout, command).await
    }

    /// Ends the session politely (RFC 5321 §4.1.1.10).
    async fn quit(&self, conn: AsyncSmtpConnection) {
        session::quit(self.timeout, conn).await
    }
}

/// The EHLO argument: a host name or an address literal (RFC 5321 §4.1.3). Checked strictly
/// because it is written verbatim into the command line (no CR/LF injection).
pub(super) fn parse_helo_name(name: &str) -> Result<ClientId, TransportConfigError> {
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
    use std::path::PathBuf;

    use sealmail_test_support::{RcptRule, SmtpServer, SmtpServerConfig, TestCa, TlsIdentity};

    use super::super::Transport;
    use super::*;

    const MESSAGE: &[u8] = b"From: sender@example.com\r\nTo: ok@example.com\r\n\
        Subject: per-recipient\r\n\r\nline one\r\n.starts with a dot\r\n";

    fn relay(port: u16, extra: serde_json::Value) -> Transport {
        let mut cfg = serde_json::json!({
            "kind": "smtp", "host": "127.0.0.1", "port": port, "tls": "none", "timeout_secs": 5,
            "allow_insecure_smtp": true
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

    /// A refusal for ever for one recipient and a deferral for ever for another.
    fn scripted() -> SmtpServerConfig {
        SmtpServerConfig {
            rcpt_rules: vec![
                RcptRule::permanent("reject-perm@example.com", "550 5.1.1 User unknown"),
                RcptRule::permanent("reject-temp@example.com", "451 4.3.0 Try again"),
            ],
            ..SmtpServerConfig::default()
        }
    }

    /// A relay's TLS: a certificate for 127.0.0.1 from a fresh test CA, and that CA's file
    /// (in `dir`) for `ca_file`.
    fn relay_tls(dir: &tempfile::TempDir) -> (Option<TlsIdentity>, PathBuf) {
        let ca = TestCa::new();
        (Some(ca.issue_server()), ca.write_ca_file(dir.path()))
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
        let server = SmtpServer::start(scripted()).await;
        let recipients = ["ok@example.com", "reject-perm@example.com", "reject-temp@example.com", "ok2@example.com"];
        let results = relay(server.port(), serde_json::json!({})).send(&envelope(&recipients), MESSAGE).await;

        let got: Vec<&str> = results.iter().map(|r| r.recipient.as_str()).collect();
        assert_eq!(got, recipients, "one result per recipient, in envelope order");
        let delivered = RecipientOutcome::Delivered { reply: "250 2.0.0 Ok: queued as 1".into() };
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

        let messages = server.received();
        assert_eq!(messages.len(), 1, "DATA exactly once");
        assert_eq!(messages[0].mail_from, "bounces@example.com");
        assert_eq!(messages[0].rcpt_to, ["ok@example.com", "ok2@example.com"]);
        assert_eq!(messages[0].data, MESSAGE, "the exact bytes arrive (dot-stuffing undone)");
        let commands: Vec<String> = server.commands().into_iter().map(|c| c.line).collect();
        assert_eq!(commands.iter().filter(|c| *c == "DATA").count(), 1, "{commands:?}");
        assert_eq!(commands.last().map(String::as_str), Some("QUIT"), "{commands:?}");
    }

    #[tokio::test]
    async fn refusal_at_end_of_data_bounces_every_accepted_recipient() {
        let server = SmtpServer::start(SmtpServerConfig {
            data_reply: Some("554 5.7.1 Message rejected by policy".into()),
            ..scripted()
        })
        .await;
        let results = relay(server.port(), serde_json::json!({}))
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
        let server = SmtpServer::start(SmtpServerConfig {
            data_command_reply: Some("554 5.3.4 Transaction failed".into()),
            ..scripted()
        })
        .await;
        let results = relay(server.port(), serde_json::json!({}))
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
        assert!(server.received().is_empty(), "no content after a refused DATA");
    }

    #[tokio::test]
    async fn temporary_refusal_at_end_of_data_is_temporary() {
        let server = SmtpServer::start(SmtpServerConfig {
            data_reply: Some("451 4.7.1 Greylisted".into()),
            ..SmtpServerConfig::default()
        })
        .await;
        let results = relay(server.port(), serde_json::json!({})).send(&envelope(&["ok@example.com"]), MESSAGE).await;
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
        let server = SmtpServer::start(scripted()).await;
        let results = relay(server.port(), serde_json::json!({}))
            .send(&envelope(&["reject-perm@example.com", "reject-temp@example.com"]), MESSAGE)
            .await;
        assert!(matches!(results[0].outcome, RecipientOutcome::Permanent { code: 550, .. }));
        assert!(matches!(results[1].outcome, RecipientOutcome::Temporary { code: Some(451), .. }));
        assert!(server.received().is_empty());
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
        let server = SmtpServer::start(SmtpServerConfig::default()).await;
        let transport = relay(server.port(), serde_json::json!({"tls": "starttls"}));
        let results = transport.send(&envelope(&["a@example.com", "b@example.com"]), MESSAGE).await;
        assert_all_temporary(&results, "does not offer STARTTLS");
        let commands: Vec<String> = server.commands().into_iter().map(|c| c.line).collect();
        assert!(
            !commands.iter().any(|c| c.starts_with("MAIL") || c.starts_with("RCPT")),
            "nothing but EHLO/QUIT in clear text: {commands:?}"
        );
        assert!(server.received().is_empty());
    }

    #[tokio::test]
    async fn starttls_with_ca_file_then_auth_over_tls() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tls, ca_file) = relay_tls(&dir);
        let auth = Some(("user".to_owned(), "secret".to_owned()));
        let server = SmtpServer::start(SmtpServerConfig { tls, auth, ..scripted() }).await;
        let transport = relay(
            server.port(),
            serde_json::json!({
                "tls": "starttls", "ca_file": ca_file, "username": "user", "password": "secret"
            }),
        );
        assert!(transport.describe().contains("STARTTLS required, AUTH as user"));
        let results = transport.send(&envelope(&["ok@example.com", "reject-perm@example.com"]), MESSAGE).await;
        assert!(results[0].outcome.is_delivered(), "{results:?}");
        assert!(matches!(results[1].outcome, RecipientOutcome::Permanent { code: 550, .. }));

        let commands = server.commands();
        let clear: Vec<&str> = commands.iter().filter(|c| !c.tls).map(|c| c.line.as_str()).collect();
        assert_eq!(clear, ["EHLO [127.0.0.1]", "STARTTLS"], "only these in clear text");
        assert!(commands.iter().any(|c| c.tls && c.line.starts_with("AUTH PLAIN")));
        assert_eq!(server.received()[0].authenticated_as.as_deref(), Some("user"));
        assert_eq!(server.received()[0].data, MESSAGE);
    }

    #[tokio::test]
    async fn implicit_tls_with_ca_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tls, ca_file) = relay_tls(&dir);
        let server =
            SmtpServer::start(SmtpServerConfig { tls, implicit_tls: true, ..SmtpServerConfig::default() }).await;
        let transport = relay(server.port(), serde_json::json!({"tls": "tls", "ca_file": ca_file}));
        let results = transport.send(&envelope(&["ok@example.com"]), MESSAGE).await;
        assert!(results[0].outcome.is_delivered(), "{results:?}");
        assert!(server.commands().iter().all(|c| c.tls));
    }

    #[tokio::test]
    async fn untrusted_certificate_is_temporary_and_sends_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (tls, _) = relay_tls(&dir);
        let server = SmtpServer::start(SmtpServerConfig { tls, ..SmtpServerConfig::default() }).await;
        // A CA that did not sign the relay's certificate.
        let unrelated_ca = TestCa::new().write_ca_file(dir.path());
        let transport = relay(server.port(), serde_json::json!({"tls": "starttls", "ca_file": unrelated_ca}));
        let results = transport.send(&envelope(&["ok@example.com"]), MESSAGE).await;
        assert_all_temporary(&results, "STARTTLS with 127.0.0.1");
        assert_all_temporary(&results, "invalid peer certificate");
        assert!(!server.commands().iter().any(|c| c.line.starts_with("MAIL")));
    }

    #[tokio::test]
    async fn silent_server_times_out() {
        let server = SmtpServer::start(SmtpServerConfig { silent: true, ..SmtpServerConfig::default() }).await;
        let transport = relay(server.port(), serde_json::json!({"timeout_secs": 1}));
        let started = std::time::Instant::now();
        let results = transport.send(&envelope(&["ok@example.com"]), MESSAGE).await;
        assert_all_temporary(&results, "timed out");
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn invalid_addresses_are_refused_locally() {
        let server = SmtpServer::start(SmtpServerConfig::default()).await;
        let transport = relay(server.port(), serde_json::json!({}));
        let results =
            transport.send(&envelope(&["ok@example.com", "x@example.com>\r\nDATA", "no-at-sign"]), MESSAGE).await;
        assert!(results[0].outcome.is_delivered(), "{results:?}");
        for result in &results[1..] {
            assert!(
                matches!(&result.outcome, RecipientOutcome::Permanent { code: 553, enhanced: Some(e), .. } if e == "5.1.3"),
                "{result:?}"
            );
        }
        assert_eq!(server.received()[0].rcpt_to, ["ok@example.com"]);

        let bad_sender = Envelope { reverse_path: "not an address".into(), ..envelope(&["ok@example.com"]) };
        let results = transport.send(&bad_sender, MESSAGE).await;
        assert!(
            matches!(&results[0].outcome, RecipientOutcome::Permanent { enhanced: Some(e), .. } if e == "5.1.7"),
            "{results:?}"
        );
    }

    #[tokio::test]
    async fn null_sender_and_empty_envelope() {
        let server = SmtpServer::start(SmtpServerConfig::default()).await;
        let transport = relay(server.port(), serde_json::json!({}));
        let null_sender = Envelope { reverse_path: String::new(), ..envelope(&["ok@example.com"]) };
        assert!(transport.send(&null_sender, MESSAGE).await[0].outcome.is_delivered());
        assert_eq!(server.received()[0].mail_from, "", "the null reverse-path <>");

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
