//! The inbound SMTP server for DSNs (`[bounces] listen`): the MX of the VERP domain. It
//! speaks the subset of RFC 5321 that MTAs need to hand over a message — greeting, EHLO/HELO,
//! MAIL, RCPT, DATA, RSET, NOOP, QUIT — and accepts mail only for VERP addresses of our
//! domain (anything else: `550 5.1.1`), so it is no relay and no mailbox.
//!
//! It must never crash or grow without bound on what a stranger sends: lines and messages are
//! bounded, every read has a timeout, sessions are limited in number, and too many bad
//! commands end a session. It answers `250` after DATA only once what the DSN says is
//! committed (`451` when that failed, so the sender keeps the DSN and retries), and
//! never logs a message body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;

use super::{Recorder, Verp, any_recorded, dsn, record_report};

/// Longest command line, CRLF included. RFC 5321 §4.5.3.1.4 sets 512 octets; parameters
/// (SIZE, BODY, ENVID, ORCPT) fit easily.
const MAX_COMMAND_LINE: usize = 2048;
/// Longest line inside DATA. RFC 5321 §4.5.3.1.6 says 1000 octets, but DSNs quote messages
/// with longer lines often enough; the bound only has to stop a line without end.
const MAX_DATA_LINE: usize = 64 * 1024;
/// Recipients per transaction. A DSN goes to one VERP address; RFC 5321 §4.5.3.1.8 asks
/// servers to take at least 100, which bounds the work of one DATA.
const MAX_RECIPIENTS: usize = 100;
/// Bad commands before the session is closed: a client this confused is no MTA.
const MAX_ERRORS: u32 = 10;
/// Concurrent sessions; beyond them a connection gets `421` at once.
const MAX_SESSIONS: usize = 64;
/// How long the listener waits for a command or a DATA line: RFC 5321 §4.5.3.2.7 asks
/// servers to wait at least 5 minutes.
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a reply may take to be written before the client is given up.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long one session may last in all: a client sending one line just before each read
/// timeout would otherwise hold a session slot for days.
const MAX_SESSION_TIME: Duration = Duration::from_secs(30 * 60);

/// The listener: what it accepts and where DSNs go.
pub struct BounceListener {
    /// Which addresses are ours.
    pub verp: Verp,
    /// Where late bounces are decided and recorded.
    pub recorder: Arc<dyn Recorder>,
    /// Notified after a late bounce was recorded (wakes the callback dispatcher).
    pub events: Arc<Notify>,
    /// Largest message accepted (`SIZE`; more: `552`).
    pub max_message_bytes: usize,
    /// The per-read timeout ([`READ_TIMEOUT`] unless a test shortens it).
    pub read_timeout: Duration,
}

impl BounceListener {
    /// A listener with the standard timeout.
    pub fn new(verp: Verp, recorder: Arc<dyn Recorder>, events: Arc<Notify>, max_message_bytes: u64) -> Self {
        Self {
            verp,
            recorder,
            events,
            max_message_bytes: usize::try_from(max_message_bytes).unwrap_or(usize::MAX),
            read_timeout: READ_TIMEOUT,
        }
    }

    /// Accepts connections on `listener` until `stop` turns true; each session runs on its own
    /// task (a session in progress finishes on its own).
    pub fn spawn(self: Arc<Self>, listener: TcpListener, mut stop: watch::Receiver<bool>) -> JoinHandle<()> {
        let sessions = Arc::new(Semaphore::new(MAX_SESSIONS));
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    _ = stop.changed() => break,
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            // EMFILE and friends: wait instead of spinning.
                            tracing::warn!(error = %e, "DSN listener: accept failed");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                };
                let this = self.clone();
                let permit = sessions.clone().try_acquire_owned();
                tokio::spawn(async move {
                    let mut stream = stream;
                    let Ok(_permit) = permit else {
                        let _ = write_reply(&mut stream, "421 4.3.2 Too many connections, try again later").await;
                        return;
                    };
                    match tokio::time::timeout(MAX_SESSION_TIME, this.session(stream, peer)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "DSN listener: session ended"),
                        Err(_) => tracing::info!(%peer, "DSN listener: session too long, closed"),
                    }
                });
            }
        })
    }

    /// One SMTP session on `stream`.
    pub async fn session<S: AsyncRead + AsyncWrite + Unpin>(&self, stream: S, peer: SocketAddr) -> std::io::Result<()> {
        let mut io = BufReader::new(stream);
        let domain = self.verp.domain().to_owned();
        write_reply(io.get_mut(), &format!("220 {domain} ESMTP sealmail DSN receiver")).await?;
        let mut greeted = false;
        let mut transaction: Option<Vec<String>> = None;
        let mut errors = 0u32;
        loop {
            let line = match tokio::time::timeout(self.read_timeout, read_line(&mut io, MAX_COMMAND_LINE)).await {
                Err(_) => {
                    write_reply(io.get_mut(), &format!("421 4.4.2 {domain} Timeout, closing connection")).await?;
                    return Ok(());
                }
                Ok(line) => line?,
            };
            let line = match line {
                Line::Eof => return Ok(()),
                Line::TooLong => {
                    errors += 1;
                    Err("500 5.5.6 Line too long")
                }
                Line::Text(bytes) => match std::str::from_utf8(&bytes) {
                    Ok(text) => Ok(text.trim_end_matches(['\r', '\n']).to_owned()),
                    Err(_) => {
                        errors += 1;
                        Err("500 5.5.2 Syntax error: not ASCII")
                    }
                },
            };
            let reply: String = match line {
                Err(reply) => reply.to_owned(),
                Ok(line) => {
                    let (verb, argument) = line.split_once(' ').unwrap_or((&line, ""));
                    let argument = argument.trim();
                    match verb.to_ascii_uppercase().as_str() {
                        "EHLO" | "HELO" if argument.is_empty() => "501 5.5.4 Syntax: EHLO hostname".into(),
                        "EHLO" => {
                            greeted = true;
                            transaction = None;
                            format!(
                                "250-{domain}\r\n250-SIZE {}\r\n250-8BITMIME\r\n250 ENHANCEDSTATUSCODES",
                                self.max_message_bytes
                            )
                        }
                        "HELO" => {
                            greeted = true;
                            transaction = None;
                            format!("250 {domain}")
                        }
                        "MAIL" if !greeted => "503 5.5.1 Send EHLO first".into(),
                        "MAIL" if transaction.is_some() => "503 5.5.1 Nested MAIL command".into(),
                        "MAIL" => match path(argument, "FROM:") {
                            None => "501 5.5.4 Syntax: MAIL FROM:<address>".into(),
                            Some((_, parameters)) if self.too_big(parameters) => {
                                format!("552 5.3.4 Message size exceeds {} bytes", self.max_message_bytes)
                            }
                            Some(_) => {
                                transaction = Some(Vec::new());
                                "250 2.1.0 Ok".into()
                            }
                        },
                        "RCPT" => match (&mut transaction, path(argument, "TO:")) {
                            (None, _) => "503 5.5.1 Send MAIL first".into(),
                            (Some(_), None) => "501 5.5.4 Syntax: RCPT TO:<address>".into(),
                            (Some(tokens), Some((address, _))) => match self.verp.token(address) {
                                None => "550 5.1.1 No such bounce address here".into(),
                                Some(_) if tokens.len() >= MAX_RECIPIENTS => "452 4.5.3 Too many recipients".into(),
                                Some(token) => {
                                    if !tokens.contains(&token) {
                                        tokens.push(token);
                                    }
                                    "250 2.1.5 Ok".into()
                                }
                            },
                        },
                        "DATA" if !argument.is_empty() => "501 5.5.4 Syntax: DATA".into(),
                        "DATA" => match transaction.take() {
                            Some(tokens) if !tokens.is_empty() => {
                                write_reply(io.get_mut(), "354 End data with <CR><LF>.<CR><LF>").await?;
                                match self.read_data(&mut io).await? {
                                    Data::Closed => return Ok(()),
                                    Data::TimedOut => {
                                        write_reply(io.get_mut(), &format!("421 4.4.2 {domain} Timeout, closing"))
                                            .await?;
                                        return Ok(());
                                    }
                                    Data::TooBig => {
                                        format!("552 5.3.4 Message size exceeds {} bytes", self.max_message_bytes)
                                    }
                                    Data::Message(message) => self.deliver(&tokens, &message, peer).await,
                                }
                            }
                            other => {
                                transaction = other;
                                "503 5.5.1 No valid recipients".into()
                            }
                        },
                        "RSET" => {
                            transaction = None;
                            "250 2.0.0 Ok".into()
                        }
                        "NOOP" => "250 2.0.0 Ok".into(),
                        "QUIT" => {
                            write_reply(io.get_mut(), &format!("221 2.0.0 {domain} Bye")).await?;
                            return Ok(());
                        }
                        "VRFY" | "EXPN" | "HELP" | "STARTTLS" | "AUTH" | "BDAT" | "ETRN" | "TURN" => {
                            "502 5.5.1 Command not implemented".into()
                        }
                        _ => {
                            errors += 1;
                            "500 5.5.2 Command not recognized".into()
                        }
                    }
                }
            };
            if errors >= MAX_ERRORS {
                write_reply(io.get_mut(), "421 4.7.0 Too many errors, closing connection").await?;
                return Ok(());
            }
            write_reply(io.get_mut(), &reply).await?;
        }
    }

    /// Whether MAIL's `SIZE=` parameter (RFC 1870) announces more than we take.
    fn too_big(&self, parameters: &str) -> bool {
        parameters.split_whitespace().any(|p| {
            p.get(..5).is_some_and(|k| k.eq_ignore_ascii_case("SIZE="))
                && p[5..].parse::<u64>().is_ok_and(|n| n > self.max_message_bytes as u64)
        })
    }

    /// Reads the message after `354`, dot-unstuffed (RFC 5321 §4.5.2), up to the `.` line.
    async fn read_data<S: AsyncRead + Unpin>(&self, io: &mut BufReader<S>) -> std::io::Result<Data> {
        let mut message = Vec::new();
        let mut too_big = false;
        loop {
            let line = match tokio::time::timeout(self.read_timeout, read_line(io, MAX_DATA_LINE)).await {
                Err(_) => return Ok(Data::TimedOut),
                Ok(line) => line?,
            };
            let line = match line {
                Line::Eof => return Ok(Data::Closed),
                // Cannot be kept whole; the end of data is still awaited.
                Line::TooLong => {
                    too_big = true;
                    continue;
                }
                Line::Text(line) => line,
            };
            if line == b".\r\n" || line == b".\n" {
                return Ok(if too_big { Data::TooBig } else { Data::Message(message) });
            }
            let line = line.strip_prefix(b".").unwrap_or(&line);
            if message.len() + line.len() > self.max_message_bytes {
                too_big = true;
            } else if !too_big {
                message.extend_from_slice(line);
            }
        }
    }

    /// Records the DSN `message` for each VERP token; the reply to the end of DATA.
    async fn deliver(&self, tokens: &[String], message: &[u8], peer: SocketAddr) -> String {
        let report = match dsn::parse(message) {
            Ok(report) => report,
            Err(e) => {
                tracing::warn!(%peer, tokens = ?tokens, error = %e, "DSN listener: refused a message that is no DSN");
                return format!("554 5.6.0 Not a delivery status notification (RFC 3464): {e}");
            }
        };
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let mut recorded = false;
        let mut failure = None;
        for token in tokens {
            match record_report(self.recorder.as_ref(), token, &report, now_ms).await {
                Ok(results) => recorded |= any_recorded(&results),
                Err(e) if e.is_temporary() => failure = Some(e),
                Err(_) => {}
            }
        }
        if recorded {
            self.events.notify_one();
        }
        match failure {
            // Whatever was recorded before the failure is found as already bounced when the
            // sender retries (`NotDelivered`), so a retry records nothing twice.
            Some(e) => {
                tracing::warn!(%peer, error = %e, "DSN listener: recording failed, the sender will retry");
                "451 4.3.0 Temporary failure, try again later".into()
            }
            None => "250 2.0.0 Ok: DSN received".into(),
        }
    }
}

/// The result of reading DATA.
enum Data {
    /// The whole message.
    Message(Vec<u8>),
    /// It ended, but was over the size limit (discarded).
    TooBig,
    /// The client went away.
    Closed,
    /// The client stopped sending.
    TimedOut,
}

/// One line read with a bound.
#[derive(Debug, PartialEq, Eq)]
enum Line {
    /// The line with its terminator (LF, normally CRLF).
    Text(Vec<u8>),
    /// Longer than the bound: read to its end and dropped.
    TooLong,
    /// The connection closed (a partial last line is dropped).
    Eof,
}

/// Reads one line of at most `max` bytes without ever holding more.
async fn read_line<R: AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> std::io::Result<Line> {
    let mut line = Vec::new();
    let mut overflow = false;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(Line::Eof);
        }
        let (chunk, done) = match buffer.iter().position(|&b| b == b'\n') {
            Some(i) => (&buffer[..=i], true),
            None => (buffer, false),
        };
        let taken = chunk.len();
        if line.len() + chunk.len() > max {
            overflow = true;
        } else if !overflow {
            line.extend_from_slice(chunk);
        }
        reader.consume(taken);
        if done {
            return Ok(if overflow { Line::TooLong } else { Line::Text(line) });
        }
    }
}

/// `FROM:<address> parameters` → (address, parameters) (RFC 5321 §4.1.2; a space after the
/// colon and a missing pair of brackets are tolerated, as most servers do).
fn path<'a>(argument: &'a str, keyword: &str) -> Option<(&'a str, &'a str)> {
    let head = argument.get(..keyword.len())?;
    if !head.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = argument[keyword.len()..].trim_start();
    if let Some(inner) = rest.strip_prefix('<') {
        let end = inner.find('>')?;
        Some((&inner[..end], inner[end + 1..].trim()))
    } else {
        let (address, parameters) = rest.split_once(' ').unwrap_or((rest, ""));
        (!address.is_empty()).then_some((address, parameters.trim()))
    }
}

/// Writes a reply (lines joined by CRLF already) and its final CRLF.
async fn write_reply<W: AsyncWrite + Unpin>(writer: &mut W, reply: &str) -> std::io::Result<()> {
    let write = async {
        writer.write_all(reply.as_bytes()).await?;
        writer.write_all(b"\r\n").await?;
        writer.flush().await
    };
    tokio::time::timeout(WRITE_TIMEOUT, write)
        .await
        .unwrap_or_else(|_| Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "reply not written")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LateBounce, LateBounceOutcome, RecordError};
    use tokio::io::{AsyncReadExt, DuplexStream};

    const TOKEN: &str = "0123456789abcdef0123456789abcdef";

    /// A recorder that knows no message: every DSN is about an unknown one.
    struct NoMessages;

    #[async_trait::async_trait]
    impl Recorder for NoMessages {
        async fn record(&self, _bounce: LateBounce) -> Result<LateBounceOutcome, RecordError> {
            Ok(LateBounceOutcome::UnknownMessage)
        }
    }

    fn listener(max: u64) -> Arc<BounceListener> {
        let mut l = BounceListener::new(
            Verp::new("bounces.example.com").unwrap(),
            Arc::new(NoMessages),
            Arc::new(Notify::new()),
            max,
        );
        l.read_timeout = Duration::from_millis(300);
        Arc::new(l)
    }

    /// Runs a session against `input` (sent at once: the listener must cope with pipelined
    /// clients too) and returns the reply lines.
    async fn converse(listener: Arc<BounceListener>, input: &[u8]) -> Vec<String> {
        let (mut client, server): (DuplexStream, DuplexStream) = tokio::io::duplex(1 << 20);
        let session = tokio::spawn(async move { listener.session(server, "127.0.0.1:1".parse().unwrap()).await });
        client.write_all(input).await.unwrap();
        let mut out = Vec::new();
        client.read_to_end(&mut out).await.unwrap();
        session.await.unwrap().unwrap();
        String::from_utf8(out).unwrap().lines().map(str::to_owned).collect()
    }

    fn codes(replies: &[String]) -> Vec<&str> {
        replies.iter().filter(|l| l.as_bytes().get(3) != Some(&b'-')).map(|l| &l[..3]).collect()
    }

    #[tokio::test]
    async fn only_verp_addresses_of_the_domain_are_accepted() {
        let replies = converse(
            listener(1_000_000),
            format!(
                "EHLO mta.example\r\nMAIL FROM:<>\r\nRCPT TO:<postmaster@bounces.example.com>\r\n\
                 RCPT TO:<bounce+{TOKEN}@elsewhere.example>\r\nRCPT TO:<bounce+{TOKEN}@Bounces.Example.com>\r\nQUIT\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(codes(&replies), ["220", "250", "250", "550", "550", "250", "221"], "{replies:?}");
        assert!(replies.iter().any(|l| l == "250-SIZE 1000000"), "{replies:?}");
    }

    #[tokio::test]
    async fn a_dsn_for_an_unknown_message_is_accepted_and_recorded_nowhere() {
        let dsn = crate::dsn::tests::POSTFIX_DSN.replace("\r\n.", "\r\n..");
        let replies = converse(
            listener(1_000_000),
            format!(
                "HELO m\r\nMAIL FROM:<>\r\nRCPT TO:<bounce+{TOKEN}@bounces.example.com>\r\nDATA\r\n{dsn}.\r\nQUIT\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(codes(&replies), ["220", "250", "250", "250", "354", "250", "221"], "{replies:?}");
    }

    #[tokio::test]
    async fn a_message_that_is_no_dsn_is_refused_and_dots_are_unstuffed() {
        let replies = converse(
            listener(1_000_000),
            format!(
                "EHLO m\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<bounce+{TOKEN}@bounces.example.com>\r\nDATA\r\n\
                 Subject: Out of office\r\n\r\n..leading dot\r\n.\r\nQUIT\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(codes(&replies), ["220", "250", "250", "250", "354", "554", "221"], "{replies:?}");
    }

    #[tokio::test]
    async fn oversized_messages_get_552_and_the_session_goes_on() {
        let body = "x".repeat(200);
        let replies = converse(
            listener(100),
            format!(
                "EHLO m\r\nMAIL FROM:<> SIZE=101\r\nMAIL FROM:<> SIZE=50\r\nRCPT TO:<bounce+{TOKEN}@bounces.example.com>\r\n\
                 DATA\r\n{body}\r\n.\r\nNOOP\r\nQUIT\r\n"
            )
            .as_bytes(),
        )
        .await;
        assert_eq!(codes(&replies), ["220", "250", "552", "250", "250", "354", "552", "250", "221"], "{replies:?}");
    }

    #[tokio::test]
    async fn out_of_order_unknown_and_overlong_commands_are_answered_not_fatal() {
        let long = "A".repeat(MAX_COMMAND_LINE + 10);
        let mut input = format!(
            "MAIL FROM:<>\r\nEHLO\r\nHELO m\r\nRCPT TO:<x@y>\r\nDATA\r\nMAIL FROM:<>\r\nMAIL FROM:<>\r\nDATA\r\n\
             RSET\r\nVRFY root\r\nSTARTTLS\r\nFOO\r\n{long}\r\n"
        )
        .into_bytes();
        input.extend_from_slice(b"\xff\xfe\r\nMAIL FROM <x>\r\nNOOP\r\nQUIT\r\n");
        let replies = converse(listener(1_000), &input).await;
        assert_eq!(
            codes(&replies),
            [
                "220", "503", "501", "250", "503", "503", "250", "503", "503", "250", "502", "502", "500", "500",
                "500", "501", "250", "221"
            ],
            "{replies:?}"
        );
    }

    #[tokio::test]
    async fn a_silent_client_is_timed_out_and_a_babbling_one_cut_off() {
        // Nothing follows EHLO: after the read timeout the listener says 421 and hangs up.
        let replies = converse(listener(1_000), b"EHLO m\r\n").await;
        assert_eq!(codes(&replies), ["220", "250", "421"], "{replies:?}");
        assert!(replies.last().unwrap().starts_with("421 4.4.2"), "{replies:?}");

        let replies = converse(listener(1_000), "JUNK\r\n".repeat(20).as_bytes()).await;
        assert_eq!(replies.last().map(|l| &l[..3]), Some("421"), "{replies:?}");
        assert_eq!(replies.len(), 1 + MAX_ERRORS as usize, "{replies:?}");
    }

    #[tokio::test]
    async fn lines_are_bounded_and_split_at_lf() {
        let mut input: &[u8] = b"short\r\nbare lf\nxxxxxxxxxxxxxxxxxxxx\r\nlast";
        assert_eq!(read_line(&mut input, 10).await.unwrap(), Line::Text(b"short\r\n".to_vec()));
        assert_eq!(read_line(&mut input, 10).await.unwrap(), Line::Text(b"bare lf\n".to_vec()));
        assert_eq!(read_line(&mut input, 10).await.unwrap(), Line::TooLong);
        assert_eq!(read_line(&mut input, 10).await.unwrap(), Line::Eof);
    }

    #[test]
    fn paths_are_read_leniently() {
        assert_eq!(path("FROM:<> SIZE=10", "FROM:"), Some(("", "SIZE=10")));
        assert_eq!(path("from: <a@b.example>", "FROM:"), Some(("a@b.example", "")));
        assert_eq!(path("TO:a@b.example", "TO:"), Some(("a@b.example", "")));
        assert_eq!(path("TO:<a@b.example", "TO:"), None);
        assert_eq!(path("FROM <a@b>", "FROM:"), None);
        assert_eq!(path("", "TO:"), None);
    }
}
