//! The one in-process SMTP server of the tests: the next hop the host delivers to, in the
//! system tests and in the SMTP client's unit tests (`host/smtp`). It speaks enough RFC 5321
//! for lettre (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), STARTTLS (RFC 3207) or
//! implicit TLS (RFC 8314) with a [`TlsIdentity`] from the test CA, and AUTH PLAIN/LOGIN
//! (RFC 4954). Per-recipient replies are scripted with [`RcptRule`]s so tests can produce
//! deferrals (4xx) and bounces (5xx); the replies to DATA and to its end can be scripted too,
//! and so can a next hop that misbehaves (one that never greets, one whose STARTTLS breaks).
//! Every accepted message and every command line is recorded.
//!
//! It listens on loopback addresses only (`127.0.0.1` unless told another), never relays or
//! stores anything on disk, and stops when dropped. Lines are bounded (64 KiB) and messages
//! too (64 MiB), so a misbehaving client cannot exhaust the test machine.

use std::collections::HashMap;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use crate::tls::TlsIdentity;

/// Longest command or DATA line accepted, terminator included. RFC 5321 §4.5.3.1 allows
/// 512/1000 octets; more room for sloppy clients, still bounded.
const MAX_LINE: usize = 64 * 1024;
/// Largest message accepted (advertised as `SIZE`); beyond it DATA ends in 552.
const MAX_MESSAGE: usize = 64 * 1024 * 1024;
/// The name the server gives itself in its greeting and EHLO reply.
const SERVER_NAME: &str = "127.0.0.1";

/// How the server behaves.
#[derive(Clone, Debug, Default)]
pub struct SmtpServerConfig {
    /// Offer STARTTLS with this certificate.
    pub tls: Option<TlsIdentity>,
    /// Refuse MAIL before STARTTLS (`530 5.7.0`).
    pub require_tls: bool,
    /// Offer AUTH PLAIN and LOGIN (only after STARTTLS when `tls` is set) with this
    /// `(user, password)` and require it before MAIL (`530 5.7.0`).
    pub auth: Option<(String, String)>,
    /// Scripted replies per recipient; recipients without a rule get 250.
    pub rcpt_rules: Vec<RcptRule>,
    /// Reply to the end of DATA instead of `250`; only a 2xx reply records the message.
    pub data_reply: Option<String>,
    /// Reply to the DATA command itself instead of `354` (a refusal before any content).
    pub data_command_reply: Option<String>,
    /// TLS from the first byte (RFC 8314 implicit TLS, as on port 465) with the certificate of
    /// `tls`, instead of STARTTLS.
    pub implicit_tls: bool,
    /// Offer STARTTLS, answer it with `220`, then close the connection instead of the
    /// handshake: a next hop whose TLS is broken (no `tls` needed).
    pub broken_starttls: bool,
    /// Accept connections but never send the greeting: a next hop that hangs.
    pub silent: bool,
}

/// Replies for one recipient address (case-insensitive match), used in order, one per RCPT
/// attempt over all connections; after the list is exhausted, 250 (or the last reply again
/// when `repeat_last`). E.g. `["451 4.3.0 Try again"]` → the first RCPT gets 451, later ones 250.
#[derive(Clone, Debug)]
pub struct RcptRule {
    /// The recipient address, without angle brackets.
    pub address: String,
    /// Complete reply lines (`"550 5.1.1 User unknown"`), in order of the attempts.
    pub replies: Vec<String>,
    /// Keep answering with the last reply once the list is used up.
    pub repeat_last: bool,
}

impl RcptRule {
    /// `replies` for the first attempts, then 250.
    pub fn new(address: impl Into<String>, replies: impl IntoIterator<Item = impl Into<String>>) -> RcptRule {
        RcptRule { address: address.into(), replies: replies.into_iter().map(Into::into).collect(), repeat_last: false }
    }

    /// `reply` for every attempt, forever (a hard bounce, or a deferral that never ends).
    pub fn permanent(address: impl Into<String>, reply: impl Into<String>) -> RcptRule {
        RcptRule { address: address.into(), replies: vec![reply.into()], repeat_last: true }
    }
}

/// A message the server accepted (250 after DATA).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReceivedMail {
    /// Position in acceptance order over all connections, from 1.
    pub seq: u64,
    /// The reverse path (`""` for the null sender `<>`).
    pub mail_from: String,
    /// The recipients whose RCPT was accepted, in order.
    pub rcpt_to: Vec<String>,
    /// The message, dot-unstuffed, lines as the client sent them (CRLF), without the final
    /// `.` line. lettre always ends DATA with `CRLF.CRLF`, so bytes that already ended in CRLF
    /// arrive with one empty line more (RFC 5321 §4.1.1.4: that CRLF is part of the message).
    pub data: Vec<u8>,
    /// Whether the message came over TLS.
    pub tls: bool,
    /// The user that authenticated on this connection, if any.
    pub authenticated_as: Option<String>,
}

impl ReceivedMail {
    /// The value of header `name` (matched case-insensitively), unfolded (RFC 5322 §2.2.3)
    /// and trimmed; the first one when there are several. Enough for the tests' own
    /// headers; the MIME checks use a real parser (`secure_mail`, `strict_mime`).
    pub fn header(&self, name: &str) -> Option<String> {
        let text = String::from_utf8_lossy(&self.data);
        let head = text.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n ", " ").replace("\r\n\t", " ");
        head.split("\r\n").find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }
}

/// One command line as received (no CRLF; AUTH continuation lines included as-is).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandLine {
    /// The command line as received, without its CRLF.
    pub line: String,
    /// Whether it arrived inside TLS.
    pub tls: bool,
    /// The connection it came on, numbered from 1 in order of acceptance.
    pub session: u64,
}

/// A running server; dropping it stops it and closes every connection.
pub struct SmtpServer {
    ip: std::net::IpAddr,
    port: u16,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

/// State shared by the accept loop, the sessions and the test.
struct Shared {
    config: SmtpServerConfig,
    acceptor: Option<TlsAcceptor>,
    log: Mutex<Log>,
    /// How many messages were accepted, for [`SmtpServer::wait_for`].
    accepted: watch::Sender<usize>,
}

#[derive(Default)]
struct Log {
    received: Vec<ReceivedMail>,
    commands: Vec<CommandLine>,
    /// RCPT attempts so far per lower-cased address, to pick the next scripted reply.
    rcpt_attempts: HashMap<String, usize>,
    sessions: u64,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Log> {
        // A panicking session must not hide what was recorded before it.
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl SmtpServer {
    /// Starts a server on `127.0.0.1` and a free port.
    pub async fn start(config: SmtpServerConfig) -> SmtpServer {
        Self::start_at(std::net::Ipv4Addr::LOCALHOST.into(), 0, config).await
    }

    /// Starts a server on `ip:port`, e.g. one of several MX hosts on distinct loopback
    /// addresses (`127.0.0.2`, … all reach `lo` on Linux) sharing one port. Port 0: a free
    /// port ([`crate::ports::listen_on_free_port`]: still free for a [`SmtpServer::restart`]
    /// after a [`SmtpServer::stop`]).
    pub async fn start_at(ip: std::net::IpAddr, port: u16, config: SmtpServerConfig) -> SmtpServer {
        let acceptor = config.tls.as_ref().map(|id| TlsAcceptor::from(id.server_config()));
        let shared =
            Arc::new(Shared { config, acceptor, log: Mutex::new(Log::default()), accepted: watch::Sender::new(0) });
        let listener = if port == 0 {
            TcpListener::from_std(crate::ports::listen_on_free_port(ip)).expect("a tokio listener")
        } else {
            TcpListener::bind((ip, port)).await.unwrap_or_else(|e| panic!("binding {ip}:{port}: {e}"))
        };
        let port = listener.local_addr().expect("bound").port();
        let accept = Some(tokio::spawn(accept_loop(listener, Arc::clone(&shared))));
        SmtpServer { ip, port, shared, accept }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message accepted (250 after DATA), in acceptance order.
    pub fn received(&self) -> Vec<ReceivedMail> {
        self.shared.log().received.clone()
    }

    /// Waits until `n` messages were received or the timeout passes; returns what arrived.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let mut accepted = self.shared.accepted.subscribe();
        // The sender lives in `shared`, so the channel cannot close; a timeout is the only other end.
        let _ = tokio::time::timeout(timeout, accepted.wait_for(|count| *count >= n)).await;
        self.received()
    }

    /// Transcript of every command line received, over all connections, in arrival order.
    pub fn commands(&self) -> Vec<CommandLine> {
        self.shared.log().commands.clone()
    }

    /// Stops listening and drops every connection: new connections are refused until
    /// [`SmtpServer::restart`]. Recorded mail, commands and rule counters are kept.
    pub async fn stop(&mut self) {
        if let Some(accept) = self.accept.take() {
            accept.abort();
            // Awaiting the cancelled task guarantees the listener is closed when this returns.
            let _ = accept.await;
        }
    }

    /// Listens again on the same port, with the same configuration and records.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind((self.ip, self.port)).await.expect("rebinding the same port");
        self.accept = Some(tokio::spawn(accept_loop(listener, Arc::clone(&self.shared))));
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        if let Some(accept) = self.accept.take() {
            // The accept task owns the sessions' JoinSet: aborting it aborts them all.
            accept.abort();
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // A failed accept (e.g. the client reset first) concerns that client only.
                if let Ok((stream, _)) = accepted {
                    let id = {
                        let mut log = shared.log();
                        log.sessions += 1;
                        log.sessions
                    };
                    sessions.spawn(run_session(stream, id, Arc::clone(&shared)));
                }
            }
            // Reap finished sessions so the set does not grow for the server's lifetime.
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
        }
    }
}

/// What a dialogue ends with.
enum Flow {
    Continue,
    Close,
    StartTls,
}

/// One connection's state (RFC 5321 §4.1.4 command order).
struct Session {
    id: u64,
    shared: Arc<Shared>,
    tls: bool,
    greeted: bool,
    authenticated: Option<String>,
    mail_from: Option<String>,
    rcpt_to: Vec<String>,
}

fn greeting() -> String {
    format!("220 {SERVER_NAME} ESMTP sealmail test server")
}

async fn run_session(stream: TcpStream, id: u64, shared: Arc<Shared>) {
    let mut session = Session {
        id,
        shared: Arc::clone(&shared),
        tls: false,
        greeted: false,
        authenticated: None,
        mail_from: None,
        rcpt_to: Vec::new(),
    };
    if shared.config.silent {
        // Hold the connection open, reading and answering nothing, until the client gives up.
        let _ = tokio::io::copy(&mut { stream }, &mut tokio::io::sink()).await;
        return;
    }
    if shared.config.implicit_tls {
        let acceptor = shared.acceptor.clone().expect("implicit_tls needs a `tls` identity");
        let Ok(stream) = acceptor.accept(stream).await else { return };
        session.tls = true;
        let mut io = BufReader::new(stream);
        if reply(&mut io, &greeting()).await.is_ok() {
            let _ = session.dialogue(&mut io).await;
        }
        return;
    }
    let mut plain = BufReader::new(stream);
    if reply(&mut plain, &greeting()).await.is_err() {
        return;
    }
    if !matches!(session.dialogue(&mut plain).await, Ok(Flow::StartTls)) {
        return;
    }
    if shared.config.broken_starttls {
        return;
    }
    let Some(acceptor) = shared.acceptor.clone() else { return };
    // Dropping the buffer discards anything the client pipelined after STARTTLS in clear
    // (RFC 3207 §4.2; the CVE-2011-0411 command injection).
    let Ok(stream) = acceptor.accept(plain.into_inner()).await else { return };
    // RFC 3207 §4.2: the client must start over with EHLO; nothing from before TLS counts.
    session.tls = true;
    session.greeted = false;
    session.authenticated = None;
    session.reset_transaction();
    let _ = session.dialogue(&mut BufReader::new(stream)).await;
}

impl Session {
    /// Serves commands until QUIT, EOF, an I/O error, or STARTTLS (which the caller performs).
    async fn dialogue<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut BufReader<S>) -> io::Result<Flow> {
        loop {
            let Some(line) = self.command_line(io).await? else { return Ok(Flow::Close) };
            let (verb, arg) = line.split_once(' ').unwrap_or((&line, ""));
            let arg = arg.trim();
            let flow = match verb.to_ascii_uppercase().as_str() {
                "EHLO" => self.ehlo(io, arg).await?,
                "HELO" if arg.is_empty() => reply(io, "501 5.5.4 HELO requires a domain").await?,
                "HELO" => {
                    self.greeted = true;
                    self.reset_transaction();
                    reply(io, &format!("250 {SERVER_NAME}")).await?
                }
                "STARTTLS" => self.starttls(io, arg).await?,
                "AUTH" => self.auth(io, arg).await?,
                "MAIL" => self.mail(io, arg).await?,
                "RCPT" => self.rcpt(io, arg).await?,
                "DATA" => self.data(io).await?,
                "RSET" => {
                    self.reset_transaction();
                    reply(io, "250 2.0.0 Ok").await?
                }
                "NOOP" => reply(io, "250 2.0.0 Ok").await?,
                "QUIT" => {
                    reply(io, "221 2.0.0 Bye").await?;
                    Flow::Close
                }
                _ => reply(io, "500 5.5.2 Command not recognized").await?,
            };
            match flow {
                Flow::Continue => {}
                end => return Ok(end),
            }
        }
    }

    /// Reads one line and records it in the transcript; `None` at EOF or after refusing an
    /// over-long line (the connection then closes: there is no safe way to resynchronise).
    async fn command_line<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
    ) -> io::Result<Option<String>> {
        let raw = match read_line(io).await? {
            Line::Complete(raw) => raw,
            Line::Eof => return Ok(None),
            Line::TooLong => {
                reply(io, "500 5.5.6 Line too long").await?;
                return Ok(None);
            }
        };
        let line = String::from_utf8_lossy(trim_eol(&raw)).into_owned();
        self.shared.log().commands.push(CommandLine { line: line.clone(), tls: self.tls, session: self.id });
        Ok(Some(line))
    }

    fn reset_transaction(&mut self) {
        self.mail_from = None;
        self.rcpt_to.clear();
    }

    /// AUTH is offered when configured, and only inside TLS when TLS is configured.
    fn auth_offered(&self) -> bool {
        self.shared.config.auth.is_some() && (self.shared.acceptor.is_none() || self.tls)
    }

    /// STARTTLS is offered in clear text when there is a certificate for it (or a broken
    /// STARTTLS to play).
    fn starttls_offered(&self) -> bool {
        !self.tls && (self.shared.acceptor.is_some() || self.shared.config.broken_starttls)
    }

    async fn ehlo<W: AsyncWrite + Unpin>(&mut self, io: &mut W, arg: &str) -> io::Result<Flow> {
        if arg.is_empty() {
            return reply(io, "501 5.5.4 EHLO requires a domain").await;
        }
        self.greeted = true;
        self.reset_transaction();
        let mut lines = vec![format!("{SERVER_NAME} greets {arg}"), format!("SIZE {MAX_MESSAGE}"), "8BITMIME".into()];
        // Postfix advertises it too; lettre refuses non-ASCII addresses without it.
        lines.push("SMTPUTF8".into());
        if self.starttls_offered() {
            lines.push("STARTTLS".into());
        }
        if self.auth_offered() {
            lines.push("AUTH PLAIN LOGIN".into());
        }
        let last = lines.len() - 1;
        let text: Vec<String> =
            lines.iter().enumerate().map(|(i, l)| format!("250{}{l}", if i == last { ' ' } else { '-' })).collect();
        reply(io, &text.join("\r\n")).await
    }

    async fn starttls<W: AsyncWrite + Unpin>(&mut self, io: &mut W, arg: &str) -> io::Result<Flow> {
        if self.tls {
            return reply(io, "503 5.5.1 TLS already active").await;
        }
        if !self.starttls_offered() {
            return reply(io, "502 5.5.1 STARTTLS not offered").await;
        }
        if !arg.is_empty() {
            return reply(io, "501 5.5.4 STARTTLS takes no parameters").await;
        }
        reply(io, "220 2.0.0 Ready to start TLS").await?;
        Ok(Flow::StartTls)
    }

    async fn auth<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut BufReader<S>, arg: &str) -> io::Result<Flow> {
        let Some((user, password)) = self.shared.config.auth.clone() else {
            return reply(io, "502 5.5.1 AUTH not offered").await;
        };
        if !self.auth_offered() {
            // RFC 4954 §6: the mechanism needs an encrypted channel.
            return reply(io, "538 5.7.11 Encryption required for requested authentication mechanism").await;
        }
        if !self.greeted {
            return reply(io, "503 5.5.1 Send EHLO first").await;
        }
        if self.authenticated.is_some() || self.mail_from.is_some() {
            return reply(io, "503 5.5.1 AUTH not allowed now").await;
        }
        let (mechanism, initial) = arg.split_once(' ').unwrap_or((arg, ""));
        let credentials = match mechanism.to_ascii_uppercase().as_str() {
            "PLAIN" => {
                let Some(response) = self.auth_response(io, initial, "334 ").await? else { return Ok(Flow::Close) };
                // RFC 4616: [authzid] NUL authcid NUL passwd.
                response.and_then(|r| {
                    let mut parts = r.split(|b| *b == 0);
                    let (_authzid, authcid, passwd) = (parts.next()?, parts.next()?, parts.next()?);
                    Some((authcid.to_vec(), passwd.to_vec()))
                })
            }
            "LOGIN" => {
                // The prompts are base64 of "Username:" and "Password:" (draft-murchison-sasl-login).
                let Some(name) = self.auth_response(io, initial, "334 VXNlcm5hbWU6").await? else {
                    return Ok(Flow::Close);
                };
                let Some(name) = name else { return reply(io, "501 5.5.2 Cannot decode response").await };
                let Some(pass) = self.auth_response(io, "", "334 UGFzc3dvcmQ6").await? else { return Ok(Flow::Close) };
                pass.map(|pass| (name, pass))
            }
            _ => return reply(io, "504 5.5.4 Unrecognized authentication type").await,
        };
        match credentials {
            None => reply(io, "501 5.5.2 Cannot decode response").await,
            Some((name, pass)) if name == user.as_bytes() && pass == password.as_bytes() => {
                self.authenticated = Some(user);
                reply(io, "235 2.7.0 Authentication successful").await
            }
            Some(_) => reply(io, "535 5.7.8 Authentication credentials invalid").await,
        }
    }

    /// The decoded SASL response: the initial response when given, else one read after
    /// `prompt`. Outer `None`: the connection ended; inner `None`: not base64 or cancelled.
    async fn auth_response<S: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        io: &mut BufReader<S>,
        initial: &str,
        prompt: &str,
    ) -> io::Result<Option<Option<Vec<u8>>>> {
        let line = if initial.is_empty() {
            reply(io, prompt).await?;
            match self.command_line(io).await? {
                Some(line) => line,
                None => return Ok(None),
            }
        } else {
            initial.to_string()
        };
        let line = line.trim();
        // RFC 4954 §4: "*" cancels; "=" is an empty initial response.
        Ok(Some(match line {
            "*" => None,
            "=" => Some(Vec::new()),
            _ => base64::engine::general_purpose::STANDARD.decode(line).ok(),
        }))
    }

    async fn mail<W: AsyncWrite + Unpin>(&mut self, io: &mut W, arg: &str) -> io::Result<Flow> {
        if !self.greeted {
            return reply(io, "503 5.5.1 Send HELO/EHLO first").await;
        }
        if self.shared.config.require_tls && !self.tls {
            return reply(io, "530 5.7.0 Must issue a STARTTLS command first").await;
        }
        if self.shared.config.auth.is_some() && self.authenticated.is_none() {
            return reply(io, "530 5.7.0 Authentication required").await;
        }
        if self.mail_from.is_some() {
            return reply(io, "503 5.5.1 Nested MAIL command").await;
        }
        let Some(from) = path_argument(arg, "FROM:") else {
            return reply(io, "501 5.5.4 Syntax: MAIL FROM:<address>").await;
        };
        self.mail_from = Some(from);
        reply(io, "250 2.1.0 Ok").await
    }

    async fn rcpt<W: AsyncWrite + Unpin>(&mut self, io: &mut W, arg: &str) -> io::Result<Flow> {
        if self.mail_from.is_none() {
            return reply(io, "503 5.5.1 Need MAIL before RCPT").await;
        }
        let Some(to) = path_argument(arg, "TO:") else {
            return reply(io, "501 5.5.4 Syntax: RCPT TO:<address>").await;
        };
        let answer = self.scripted_rcpt_reply(&to).unwrap_or_else(|| "250 2.1.5 Ok".to_string());
        if answer.starts_with('2') {
            self.rcpt_to.push(to);
        }
        reply(io, &answer).await
    }

    /// The next scripted reply for `to`, counting this attempt; `None` means 250.
    fn scripted_rcpt_reply(&self, to: &str) -> Option<String> {
        let rule = self.shared.config.rcpt_rules.iter().find(|r| r.address.to_lowercase() == to.to_lowercase())?;
        let mut log = self.shared.log();
        let attempts = log.rcpt_attempts.entry(to.to_lowercase()).or_default();
        let attempt = *attempts;
        *attempts += 1;
        match rule.replies.get(attempt) {
            Some(answer) => Some(answer.clone()),
            None if rule.repeat_last => rule.replies.last().cloned(),
            None => None,
        }
    }

    async fn data<S: AsyncRead + AsyncWrite + Unpin>(&mut self, io: &mut BufReader<S>) -> io::Result<Flow> {
        let Some(mail_from) = self.mail_from.clone() else {
            return reply(io, "503 5.5.1 Need MAIL command").await;
        };
        if self.rcpt_to.is_empty() {
            return reply(io, "554 5.5.1 No valid recipients").await;
        }
        if let Some(refusal) = self.shared.config.data_command_reply.clone() {
            self.reset_transaction();
            return reply(io, &refusal).await;
        }
        reply(io, "354 End data with <CR><LF>.<CR><LF>").await?;
        let mut data = Vec::new();
        let mut too_big = false;
        loop {
            let mut raw = match read_line(io).await? {
                Line::Complete(raw) => raw,
                Line::Eof => return Ok(Flow::Close),
                Line::TooLong => {
                    reply(io, "500 5.5.6 Line too long").await?;
                    return Ok(Flow::Close);
                }
            };
            if trim_eol(&raw) == b"." {
                break;
            }
            // RFC 5321 §4.5.2: remove the leading dot the client added.
            if raw.first() == Some(&b'.') {
                raw.remove(0);
            }
            too_big |= data.len() + raw.len() > MAX_MESSAGE;
            if !too_big {
                data.extend_from_slice(&raw);
            }
        }
        let rcpt_to = std::mem::take(&mut self.rcpt_to);
        self.reset_transaction();
        if too_big {
            return reply(io, "552 5.3.4 Message size exceeds fixed limit").await;
        }
        let data_reply = self.shared.config.data_reply.clone();
        if let Some(refusal) = data_reply.as_ref().filter(|r| !r.starts_with('2')) {
            return reply(io, refusal).await;
        }
        let seq = {
            let mut log = self.shared.log();
            let seq = log.received.len() as u64 + 1;
            let authenticated_as = self.authenticated.clone();
            log.received.push(ReceivedMail { seq, mail_from, rcpt_to, data, tls: self.tls, authenticated_as });
            self.shared.accepted.send_replace(log.received.len());
            seq
        };
        reply(io, &data_reply.unwrap_or_else(|| format!("250 2.0.0 Ok: queued as {seq}"))).await
    }
}

/// The address in `FROM:<a@b> PARAMS` / `TO:<a@b>`; ESMTP parameters are ignored.
fn path_argument(arg: &str, keyword: &str) -> Option<String> {
    let head = arg.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let path = match rest.strip_prefix('<') {
        Some(inner) => &inner[..inner.find('>')?],
        // Not RFC 5321, but accepted by most servers.
        None => rest.split(' ').next().filter(|p| !p.is_empty())?,
    };
    Some(path.to_string())
}

enum Line {
    Complete(Vec<u8>),
    Eof,
    TooLong,
}

/// One line including its terminator (LF or CRLF), at most [`MAX_LINE`] bytes.
async fn read_line<R: AsyncBufRead + Unpin>(io: &mut R) -> io::Result<Line> {
    let mut raw = Vec::new();
    (&mut *io).take(MAX_LINE as u64).read_until(b'\n', &mut raw).await?;
    Ok(if raw.ends_with(b"\n") {
        Line::Complete(raw)
    } else if raw.len() >= MAX_LINE {
        // Read the rest of the line (bounded) before the caller replies and closes: closing
        // with unread input makes the kernel send RST, which can destroy the reply in flight.
        skip_line(io).await?;
        Line::TooLong
    } else {
        // EOF, possibly after a partial line that was never terminated.
        Line::Eof
    })
}

/// Discards input up to and including the next LF (at most [`MAX_MESSAGE`] bytes).
async fn skip_line<R: AsyncBufRead + Unpin>(io: &mut R) -> io::Result<()> {
    let mut skipped = 0;
    loop {
        let buf = io.fill_buf().await?;
        if buf.is_empty() {
            return Ok(());
        }
        let (n, end_of_line) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (buf.len(), false),
        };
        io.consume(n);
        skipped += n;
        if end_of_line || skipped >= MAX_MESSAGE {
            return Ok(());
        }
    }
}

fn trim_eol(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

/// Sends `text` (one or more lines joined by CRLF) and flushes (needed under TLS).
async fn reply<W: AsyncWrite + Unpin>(io: &mut W, text: &str) -> io::Result<Flow> {
    io.write_all(format!("{text}\r\n").as_bytes()).await?;
    io.flush().await?;
    Ok(Flow::Continue)
}
