//! The `mx` transport: direct delivery to each recipient domain's own mail servers, so
//! "delivered" means the recipient's server accepted the message (docs/service.md#delivery).
//!
//! Recipients are grouped by domain, one SMTP transaction per domain (RFC 5321 §3.3), the
//! groups in order of their first recipient; results come back per recipient in envelope
//! order. For each domain ([`resolve`]): the MX hosts in preference order, each of their
//! addresses in turn, until one accepts the session (a refused connection, a timeout or a
//! negative greeting moves on to the next, RFC 5321 §5.1); the first session decides. A null
//! MX (RFC 7505) and a domain that does not exist bounce; a DNS failure or no host accepting
//! the session defers.
//!
//! TLS is opportunistic (RFC 7435, RFC 3207): STARTTLS whenever the server offers it, without
//! certificate checks (MX host names are unauthenticated DNS data: a check would only prove
//! the name an attacker chose, and most MX certificates would fail it); clear text only when
//! the server does not offer STARTTLS, or when STARTTLS fails (then once more, in a new
//! session without it). With `require_tls = true` there is no clear text: a host that does not
//! offer STARTTLS, or whose STARTTLS fails, counts as a host that gave no session, so the
//! message is deferred (certificates are still not checked: that would need MTA-STS or DANE,
//! RFC 8461, RFC 7672). At most `max_connections_per_domain` sessions per
//! domain run at once, so a large job does not look like an attack to the receiving server.
//!
//! Never logs the dialogue and never puts the message into an outcome.

mod resolve;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use lettre::transport::smtp::client::{AsyncSmtpConnection, CertificateStore, TlsParameters};
use lettre::transport::smtp::extension::{ClientId, Extension};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::relay::parse_helo_name;
use super::reply::{format_reply, temporary};
use super::session::{self, Slot, StepError, io_error_kind, root_cause, settle, source_text};
use crate::config::{TransportConfig, TransportConfigError};
use crate::envelope::{Envelope, RecipientOutcome, RecipientResult, parse_reverse_path};
use resolve::{Dns, Route};

/// Direct delivery to the recipients' MX hosts (the `mx` transport). Cheap to clone; clones
/// share the DNS cache and the per-domain connection limits.
#[derive(Clone)]
pub struct MxDelivery {
    dns: Dns,
    nameservers: Vec<SocketAddr>,
    port: u16,
    client_id: ClientId,
    timeout: Duration,
    max_connections_per_domain: usize,
    /// No clear-text fallback (`require_tls`).
    require_tls: bool,
    /// One semaphore per domain with sessions running; entries go when their last user does.
    domains: Arc<Mutex<HashMap<String, Arc<Semaphore>>>>,
}

impl std::fmt::Debug for MxDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MxDelivery")
            .field("nameservers", &self.nameservers)
            .field("port", &self.port)
            .field("client_id", &self.client_id)
            .field("timeout", &self.timeout)
            .field("max_connections_per_domain", &self.max_connections_per_domain)
            .field("require_tls", &self.require_tls)
            .finish_non_exhaustive()
    }
}

/// Why [`MxDelivery::open`] gave no session.
enum OpenFailure {
    /// Connect, greeting or EHLO failed: the address is no good (the next one is tried).
    NoSession(String),
    /// The server offered STARTTLS, but it was refused or the handshake failed.
    Tls(String),
}

/// Why one MX host address did not give a session.
struct HostFailure {
    /// `mx1.example.com (192.0.2.1)`.
    host: String,
    /// What went wrong.
    reason: String,
}

impl MxDelivery {
    /// Builds the transport from a [`TransportConfig::Mx`]; sets up the DNS resolver.
    pub fn from_config(cfg: &TransportConfig) -> Result<Self, TransportConfigError> {
        let TransportConfig::Mx { nameservers, helo_name, timeout_secs, max_connections_per_domain, port, require_tls } =
            cfg
        else {
            unreachable!("MxDelivery::from_config is only called with TransportConfig::Mx")
        };
        if *port == 0 {
            return Err(TransportConfigError::ZeroPort);
        }
        if *timeout_secs == 0 {
            return Err(TransportConfigError::ZeroTimeout);
        }
        if *max_connections_per_domain == 0 {
            return Err(TransportConfigError::ZeroConnectionsPerDomain);
        }
        let client_id = match helo_name {
            Some(name) => parse_helo_name(name)?,
            None => default_helo_name(),
        };
        let timeout = Duration::from_secs(*timeout_secs);
        let dns = Dns::new(nameservers, timeout).map_err(TransportConfigError::Dns)?;
        Ok(Self {
            dns,
            nameservers: nameservers.clone(),
            port: *port,
            client_id,
            timeout,
            max_connections_per_domain: *max_connections_per_domain,
            require_tls: *require_tls,
            domains: Arc::default(),
        })
    }

    /// true with `require_tls`: no delivery in clear text.
    pub fn requires_tls(&self) -> bool {
        self.require_tls
    }

    /// One line for the start-up banner.
    pub fn describe(&self) -> String {
        let dns = if self.nameservers.is_empty() {
            "DNS from /etc/resolv.conf".to_owned()
        } else {
            let servers: Vec<String> = self.nameservers.iter().map(ToString::to_string).collect();
            format!("DNS from {}", servers.join(", "))
        };
        let tls = if self.require_tls {
            "STARTTLS required (no clear text), without certificate checks"
        } else {
            "opportunistic STARTTLS without certificate checks (RFC 7435)"
        };
        format!(
            "direct MX delivery to port {} ({dns}, {tls}, at most {} connections per domain, EHLO {})",
            self.port, self.max_connections_per_domain, self.client_id
        )
    }

    /// Sends `message` to every envelope recipient; one result per recipient, in order.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Vec<RecipientResult> {
        let mut slots = session::slots_for(&envelope.recipients);
        let reverse_path = match parse_reverse_path(&envelope.reverse_path) {
            Ok(reverse_path) => reverse_path,
            Err(outcome) => {
                settle(&mut slots, &outcome);
                return session::results(&envelope.recipients, slots);
            }
        };
        for (domain, indices) in by_domain(&slots) {
            let mut group: Vec<Slot> =
                indices.iter().map(|&i| std::mem::replace(&mut slots[i], Slot::Accepted)).collect();
            let permit = self.permit(&domain).await;
            self.deliver(&domain, reverse_path.clone(), &mut group, message).await;
            drop(permit);
            self.release(&domain);
            for (&i, slot) in indices.iter().zip(group) {
                slots[i] = slot;
            }
        }
        session::results(&envelope.recipients, slots)
    }

    /// One domain's transaction: every slot of `group` is `Done` when this returns.
    async fn deliver(&self, domain: &str, reverse_path: Option<lettre::Address>, group: &mut [Slot], message: &[u8]) {
        let addresses = match self.dns.route(domain).await {
            Ok(Route::Exchangers(hosts)) => {
                let mut failures = Vec::new();
                for host in hosts {
                    match self.dns.addresses(&host).await {
                        Ok(ips) => {
                            if let Some((conn, server)) = self.first_session(&host, &ips, &mut failures).await {
                                return session::transaction(conn, self.timeout, &server, reverse_path, group, message)
                                    .await;
                            }
                        }
                        Err(reason) => failures.push(HostFailure { host, reason }),
                    }
                }
                return settle(group, &no_session(domain, &failures));
            }
            Ok(Route::Addresses(ips)) => ips,
            Ok(Route::NullMx) => return settle(group, &null_mx(domain)),
            Ok(Route::NoSuchDomain) => return settle(group, &no_such_domain(domain, "does not exist (NXDOMAIN)")),
            Ok(Route::NoAddress) => {
                return settle(group, &no_such_domain(domain, "has neither MX nor A/AAAA records"));
            }
            Err(reason) => return settle(group, &temporary(reason)),
        };
        let mut failures = Vec::new();
        match self.first_session(domain, &addresses, &mut failures).await {
            Some((conn, server)) => {
                session::transaction(conn, self.timeout, &server, reverse_path, group, message).await;
            }
            None => settle(group, &no_session(domain, &failures)),
        }
    }

    /// The first of `ips` that gives a session, with its name for messages; failures are
    /// added to `failures`.
    async fn first_session(
        &self,
        host: &str,
        ips: &[IpAddr],
        failures: &mut Vec<HostFailure>,
    ) -> Option<(AsyncSmtpConnection, String)> {
        for ip in ips {
            let server = format!("{host} ({ip})");
            let address = SocketAddr::new(*ip, self.port);
            let opened = match self.open(host, address, true).await {
                Ok(conn) => Ok(conn),
                Err(OpenFailure::NoSession(reason)) => Err(reason),
                Err(OpenFailure::Tls(tls)) if self.require_tls => Err(format!("{tls}; require_tls: no clear text")),
                // Opportunistic security (RFC 7435 §3): a server whose STARTTLS fails gets the
                // message in clear text, like one that does not offer it (whoever can break
                // the handshake could as well strip the offer). One new session without it.
                Err(OpenFailure::Tls(tls)) => {
                    tracing::warn!(%server, reason = %tls, "STARTTLS failed; trying once more without TLS");
                    self.open(host, address, false).await.map_err(|failure| {
                        let (OpenFailure::NoSession(reason) | OpenFailure::Tls(reason)) = failure;
                        format!("{tls}; then without TLS: {reason}")
                    })
                }
            };
            match opened {
                Ok(conn) => return Some((conn, server)),
                Err(reason) => failures.push(HostFailure { host: server, reason }),
            }
        }
        None
    }

    /// Connects to `address`, reads the greeting, says EHLO and, with `starttls`, upgrades
    /// with STARTTLS when offered.
    async fn open(&self, host: &str, address: SocketAddr, starttls: bool) -> Result<AsyncSmtpConnection, OpenFailure> {
        let connect = async {
            let stream = session::connect(address).await.map_err(|e| match e.kind() {
                std::io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                _ => format!("cannot connect: {e}"),
            })?;
            AsyncSmtpConnection::connect_with_transport(Box::new(stream), &self.client_id)
                .await
                .map_err(|e| session_refused(&e))
        };
        let mut conn = match tokio::time::timeout(self.timeout, connect).await {
            Ok(result) => result.map_err(OpenFailure::NoSession)?,
            Err(_) => {
                let reason = format!("timed out after {}s (no greeting or EHLO reply)", self.timeout.as_secs());
                return Err(OpenFailure::NoSession(reason));
            }
        };
        if !starttls || !conn.server_info().supports_feature(Extension::StartTls) {
            if self.require_tls {
                session::quit(self.timeout, conn).await;
                return Err(OpenFailure::NoSession("does not offer STARTTLS; require_tls: no clear text".into()));
            }
            return Ok(conn);
        }
        let parameters = match opportunistic_tls(host) {
            Ok(parameters) => parameters,
            Err(reason) => {
                session::quit(self.timeout, conn).await;
                return Err(OpenFailure::Tls(reason));
            }
        };
        // lettre sends EHLO again after the handshake (RFC 3207 §4.2).
        match session::step(self.timeout, conn.starttls(parameters, &self.client_id)).await {
            Ok(()) => Ok(conn),
            Err(StepError::Reply { code, text }) => {
                session::quit(self.timeout, conn).await;
                Err(OpenFailure::Tls(format!("STARTTLS: {}", format_reply(code, &text))))
            }
            Err(StepError::Broken(reason)) => Err(OpenFailure::Tls(format!("STARTTLS failed: {reason}"))),
        }
    }

    /// Waits for one of the domain's connection slots.
    async fn permit(&self, domain: &str) -> Option<OwnedSemaphorePermit> {
        let semaphore = {
            let mut domains = self.domains.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            Arc::clone(
                domains
                    .entry(domain.to_owned())
                    .or_insert_with(|| Arc::new(Semaphore::new(self.max_connections_per_domain))),
            )
        };
        // The semaphore is never closed; `None` would only mean no limit.
        semaphore.acquire_owned().await.ok()
    }

    /// Forgets the domain's semaphore when nobody holds or waits for it (the map would
    /// otherwise grow with every domain ever seen). Clones are only made under the lock, so
    /// a count of 1 (the map's own) under the lock cannot change.
    fn release(&self, domain: &str) {
        let mut domains = self.domains.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if domains.get(domain).is_some_and(|s| Arc::strong_count(s) == 1) {
            domains.remove(domain);
        }
    }
}

/// Indices of the recipients still pending, grouped by lower-cased domain, groups in order of
/// their first recipient.
fn by_domain(slots: &[Slot]) -> Vec<(String, Vec<usize>)> {
    let mut groups: Vec<(String, Vec<usize>)> = Vec::new();
    for (index, slot) in slots.iter().enumerate() {
        let Slot::Pending(address) = slot else { continue };
        let domain = address.domain().to_ascii_lowercase();
        match groups.iter_mut().find(|(d, _)| *d == domain) {
            Some((_, indices)) => indices.push(index),
            None => groups.push((domain, vec![index])),
        }
    }
    groups
}

/// TLS settings that accept any certificate (see the module documentation). `host` is an MX
/// host name or an address literal (`[192.0.2.1]`), whose bare address goes into SNI.
fn opportunistic_tls(host: &str) -> Result<TlsParameters, String> {
    let literal = host.strip_prefix('[').and_then(|h| h.strip_suffix(']'));
    let name = literal.map_or(host, |l| l.strip_prefix("IPv6:").unwrap_or(l));
    TlsParameters::builder(name.to_owned())
        .certificate_store(CertificateStore::None)
        .dangerous_accept_invalid_certs(true)
        .dangerous_accept_invalid_hostnames(true)
        .build_rustls()
        .map_err(|e| format!("cannot set up TLS: {e}"))
}

/// Why a connect, greeting or EHLO failed.
fn session_refused(err: &lettre::transport::smtp::Error) -> String {
    if let Some(code) = err.status() {
        // A 554 or 421 greeting, or a refused EHLO (RFC 5321 §3.1, §4.1.1.1).
        return format!("refused the session: {}", format_reply(code.into(), &source_text(err)));
    }
    match io_error_kind(err) {
        Some(std::io::ErrorKind::ConnectionRefused) => "connection refused".to_owned(),
        _ => format!("no SMTP session: {}", root_cause(err)),
    }
}

/// The EHLO name when none is configured: the machine's host name when it is a usable
/// domain name, else the address literal `[127.0.0.1]` (RFC 5321 §4.1.4). Receiving servers
/// judge senders by it: configure the name the sending address's PTR record gives.
fn default_helo_name() -> ClientId {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .and_then(|name| parse_helo_name(name.trim()).ok())
        .filter(|id| matches!(id, ClientId::Domain(name) if name.contains('.')))
        .unwrap_or(ClientId::Ipv4(std::net::Ipv4Addr::LOCALHOST))
}

/// A null MX domain accepts no mail (RFC 7505): 556 "domain does not accept mail" (RFC 7504)
/// with X.1.10 "recipient address has null MX" (registered by RFC 7505 §6).
fn null_mx(domain: &str) -> RecipientOutcome {
    RecipientOutcome::Permanent {
        code: 556,
        enhanced: Some("5.1.10".into()),
        reply: format!("local: 556 5.1.10 {domain} accepts no mail (null MX, RFC 7505); not sent"),
    }
}

/// RFC 3463 X.1.2 "bad destination system address": the domain cannot receive mail.
fn no_such_domain(domain: &str, why: &str) -> RecipientOutcome {
    RecipientOutcome::Permanent {
        code: 550,
        enhanced: Some("5.1.2".into()),
        reply: format!("local: 550 5.1.2 the recipient domain {domain} {why}; not sent"),
    }
}

/// Every host failed: temporary (RFC 5321 §4.5.4.1, the queue retries), naming each attempt.
fn no_session(domain: &str, failures: &[HostFailure]) -> RecipientOutcome {
    let attempts: Vec<String> = failures.iter().map(|f| format!("{}: {}", f.host, f.reason)).collect();
    temporary(format!("no mail server of {domain} accepted a session: {}", attempts.join("; ")))
}

#[cfg(test)]
mod tests {
    use sealmail_test_support::{SmtpServer, SmtpServerConfig, TestCa};

    use super::super::Transport;
    use super::*;

    const MESSAGE: &[u8] = b"From: sender@example.com\r\nTo: a@example.com\r\nSubject: mx\r\n\r\nbody\r\n";

    /// An `mx` transport whose DNS server answers nothing (port 9, discard): only address
    /// literals can be delivered to.
    fn mx(port: u16, extra: serde_json::Value) -> Transport {
        let mut cfg = serde_json::json!({
            "kind": "mx", "nameservers": ["127.0.0.1:9"], "port": port, "timeout_secs": 5,
            "helo_name": "sender.example"
        });
        if let (Some(cfg), Some(extra)) = (cfg.as_object_mut(), extra.as_object()) {
            cfg.extend(extra.clone());
        }
        Transport::from_config(&serde_json::from_value(cfg).expect("valid config")).expect("builds")
    }

    /// A next hop offering STARTTLS with a certificate no client trusts (a fresh test CA's).
    fn starttls() -> SmtpServerConfig {
        SmtpServerConfig { tls: Some(TestCa::new().issue_server()), ..SmtpServerConfig::default() }
    }

    /// A next hop whose STARTTLS breaks: it answers 220, then closes the connection.
    fn broken_starttls() -> SmtpServerConfig {
        SmtpServerConfig { broken_starttls: true, ..SmtpServerConfig::default() }
    }

    fn envelope(recipients: &[&str]) -> Envelope {
        Envelope {
            reverse_path: "sender@example.com".into(),
            recipients: recipients.iter().map(|r| (*r).to_owned()).collect(),
        }
    }

    #[test]
    fn config_defaults_and_banner() {
        let cfg: TransportConfig = serde_json::from_value(serde_json::json!({"kind": "mx"})).expect("parses");
        let TransportConfig::Mx { nameservers, port, max_connections_per_domain, timeout_secs, .. } = &cfg else {
            panic!("mx")
        };
        assert!(nameservers.is_empty());
        assert_eq!((*port, *max_connections_per_domain, *timeout_secs), (25, 2, 60));
        let transport = mx(2525, serde_json::json!({}));
        assert!(!transport.is_insecure(), "opportunistic TLS is the norm for MX delivery");
        let banner = transport.describe();
        assert!(banner.starts_with("direct MX delivery to port 2525 (DNS from 127.0.0.1:9"), "{banner}");
        assert!(banner.contains("EHLO sender.example"), "{banner}");
        let zero = serde_json::json!({"kind": "mx", "max_connections_per_domain": 0});
        assert!(matches!(
            Transport::from_config(&serde_json::from_value(zero).expect("parses")),
            Err(TransportConfigError::ZeroConnectionsPerDomain)
        ));
        let typo = serde_json::json!({"kind": "mx", "nameserver": ["127.0.0.1:53"]});
        assert!(serde_json::from_value::<TransportConfig>(typo).is_err());
    }

    #[test]
    fn recipients_are_grouped_by_domain_in_order() {
        let slots = session::slots_for(&[
            "a@one.example".into(),
            "b@TWO.example".into(),
            "not an address".into(),
            "c@One.Example".into(),
        ]);
        assert_eq!(by_domain(&slots), [("one.example".to_owned(), vec![0, 3]), ("two.example".to_owned(), vec![1])]);
    }

    #[tokio::test]
    async fn address_literal_with_starttls_offered_uses_it_without_checking_the_certificate() {
        let server = SmtpServer::start(starttls()).await;
        let transport = mx(server.port(), serde_json::json!({}));
        let results = transport.send(&envelope(&["ok@[127.0.0.1]", "ok2@[127.0.0.1]"]), MESSAGE).await;
        assert!(results.iter().all(|r| r.outcome.is_delivered()), "{results:?}");
        let commands = server.commands();
        let clear: Vec<&str> = commands.iter().filter(|c| !c.tls).map(|c| c.line.as_str()).collect();
        assert_eq!(clear, ["EHLO sender.example", "STARTTLS"], "everything else inside TLS");
        assert_eq!(server.received().len(), 1, "one transaction for the domain");
        assert_eq!(server.received()[0].rcpt_to, ["ok@[127.0.0.1]", "ok2@[127.0.0.1]"]);
    }

    #[tokio::test]
    async fn plain_text_when_starttls_is_not_offered() {
        let server = SmtpServer::start(SmtpServerConfig::default()).await;
        let transport = mx(server.port(), serde_json::json!({}));
        let results = transport.send(&envelope(&["ok@[127.0.0.1]"]), MESSAGE).await;
        assert!(results[0].outcome.is_delivered(), "{results:?}");
        assert!(server.commands().iter().all(|c| !c.tls));
    }

    #[tokio::test]
    async fn failing_starttls_falls_back_to_a_new_session_in_clear_text() {
        let server = SmtpServer::start(broken_starttls()).await;
        let transport = mx(server.port(), serde_json::json!({}));
        let results = transport.send(&envelope(&["ok@[127.0.0.1]"]), MESSAGE).await;
        assert!(results[0].outcome.is_delivered(), "{results:?}");
        let lines: Vec<String> = server.commands().into_iter().map(|c| c.line).collect();
        assert_eq!(lines[..3], ["EHLO sender.example", "STARTTLS", "EHLO sender.example"], "{lines:?}");
        assert!(!lines[3..].iter().any(|l| l == "STARTTLS"), "no second STARTTLS: {lines:?}");
        assert_eq!(server.received().len(), 1);
    }

    #[tokio::test]
    async fn require_tls_defers_instead_of_clear_text() {
        let plain = SmtpServer::start(SmtpServerConfig::default()).await;
        let transport = mx(plain.port(), serde_json::json!({"require_tls": true}));
        assert!(transport.warnings().is_empty(), "{:?}", transport.warnings());
        assert!(transport.describe().contains("STARTTLS required"), "{}", transport.describe());
        let results = transport.send(&envelope(&["ok@[127.0.0.1]"]), MESSAGE).await;
        let RecipientOutcome::Temporary { reply, .. } = &results[0].outcome else { panic!("{results:?}") };
        assert!(reply.contains("does not offer STARTTLS"), "{reply}");
        assert!(plain.received().is_empty(), "nothing sent in clear text");

        let broken = SmtpServer::start(broken_starttls()).await;
        let transport = mx(broken.port(), serde_json::json!({"require_tls": true}));
        let results = transport.send(&envelope(&["ok@[127.0.0.1]"]), MESSAGE).await;
        assert!(matches!(results[0].outcome, RecipientOutcome::Temporary { .. }), "{results:?}");
        assert!(broken.received().is_empty(), "no clear-text retry");
        assert_eq!(broken.commands().iter().filter(|c| c.line.starts_with("EHLO")).count(), 1, "one session only");

        let warned = mx(plain.port(), serde_json::json!({}));
        assert!(warned.warnings().iter().any(|w| w.contains("require_tls")), "{:?}", warned.warnings());
    }

    #[tokio::test]
    async fn refused_connection_is_temporary_and_names_the_attempt() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let results = mx(port, serde_json::json!({})).send(&envelope(&["a@[127.0.0.1]"]), MESSAGE).await;
        let RecipientOutcome::Temporary { code: None, reply, .. } = &results[0].outcome else { panic!("{results:?}") };
        assert!(reply.contains("[127.0.0.1] (127.0.0.1): connection refused"), "{reply}");
    }

    #[tokio::test]
    async fn unanswered_dns_is_temporary() {
        let transport = mx(25, serde_json::json!({"timeout_secs": 1}));
        let results = transport.send(&envelope(&["a@example.com", "bad address"]), MESSAGE).await;
        assert!(matches!(results[0].outcome, RecipientOutcome::Temporary { .. }), "{results:?}");
        assert!(matches!(results[1].outcome, RecipientOutcome::Permanent { code: 553, .. }), "{results:?}");
    }

    #[tokio::test]
    async fn semaphores_are_forgotten_after_use() {
        let server = SmtpServer::start(SmtpServerConfig::default()).await;
        let Transport::Mx(delivery) = mx(server.port(), serde_json::json!({})) else { panic!("mx") };
        delivery.send(&envelope(&["ok@[127.0.0.1]"]), MESSAGE).await;
        assert!(delivery.domains.lock().expect("lock").is_empty());
    }
}
