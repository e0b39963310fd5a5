//! One SMTP mail transaction on an open session, shared by the transports that speak SMTP
//! (`smtp` relay and `mx` direct delivery): `MAIL FROM`, one `RCPT TO` per recipient (each
//! reply recorded for that recipient), then `DATA` once for the accepted ones; the reply to
//! the end of data applies to every accepted recipient (RFC 5321 §3.3).
//!
//! lettre's `send` (high- and low-level alike) aborts the whole transaction when one RCPT is
//! rejected, so this drives lettre's [`AsyncSmtpConnection`] command by command. Opening the
//! session (where to connect, TLS, AUTH) is the transport's business. Never logs the dialogue
//! and never puts the message into an outcome.

use std::error::Error as _;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;

use super::reply::{format_reply, outcome_for_reply, temporary};
use crate::envelope::{RecipientOutcome, RecipientResult, invalid_recipient, parse_mailbox};

/// How one SMTP step failed.
pub(super) enum StepError {
    /// The server answered with a negative reply; the session is still usable.
    Reply { code: u16, text: String },
    /// No usable reply (I/O error, timeout, garbage): the session is unusable.
    Broken(String),
}

/// Where each recipient stands during one transaction.
pub(super) enum Slot {
    /// Valid address, RCPT not yet accepted.
    Pending(lettre::Address),
    /// RCPT accepted; waits for the reply to the end of data.
    Accepted,
    /// Final for this attempt.
    Done(RecipientOutcome),
}

/// One slot per recipient: `Pending` for an address, `Done` (553 5.1.3) for anything else.
pub(super) fn slots_for(recipients: &[String]) -> Vec<Slot> {
    recipients.iter().map(|r| parse_mailbox(r).map_or_else(|| Slot::Done(invalid_recipient()), Slot::Pending)).collect()
}

/// The results of a finished transaction, in the order of `recipients`.
pub(super) fn results(recipients: &[String], slots: Vec<Slot>) -> Vec<RecipientResult> {
    recipients
        .iter()
        .zip(slots)
        .map(|(recipient, slot)| RecipientResult { recipient: recipient.clone(), outcome: final_outcome(slot) })
        .collect()
}

/// The outcome of a slot after a transaction.
pub(super) fn final_outcome(slot: Slot) -> RecipientOutcome {
    match slot {
        Slot::Done(outcome) => outcome,
        // Unreachable by construction; a retry is the safe reading.
        Slot::Pending(_) | Slot::Accepted => temporary("internal: no outcome recorded for this recipient"),
    }
}

/// One mail transaction on the open session `conn` with `server` (its name for local
/// verdicts); every slot is `Done` when this returns, and the session is closed.
pub(super) async fn transaction(
    mut conn: AsyncSmtpConnection,
    timeout: Duration,
    server: &str,
    reverse_path: Option<lettre::Address>,
    slots: &mut [Slot],
    message: &[u8],
) {
    let mut parameters = Vec::new();
    // RFC 6152 §3: 8-bit data only to a server that offers 8BITMIME (and then declared).
    if !message.is_ascii() {
        if !conn.server_info().supports_feature(Extension::EightBitMime) {
            let outcome = RecipientOutcome::Permanent {
                code: 554,
                enhanced: Some("5.6.3".into()),
                reply: format!(
                    "local: 554 5.6.3 the message has 8-bit content but {server} does not offer \
                     8BITMIME (RFC 6152); not sent"
                ),
            };
            settle(slots, &outcome);
            return quit(timeout, conn).await;
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    // RFC 6531: non-ASCII addresses only to a server that offers SMTPUTF8, declared on MAIL.
    let smtputf8 = conn.server_info().supports_feature(Extension::SmtpUtfEight);
    let non_ascii = |a: &lettre::Address| !AsRef::<str>::as_ref(a).is_ascii();
    if reverse_path.as_ref().is_some_and(non_ascii) && !smtputf8 {
        settle(slots, &no_smtputf8(server));
        return quit(timeout, conn).await;
    }
    for slot in slots.iter_mut() {
        if matches!(slot, Slot::Pending(a) if non_ascii(a) && !smtputf8) {
            *slot = Slot::Done(no_smtputf8(server));
        }
    }
    let any_non_ascii = reverse_path.as_ref().is_some_and(non_ascii)
        || slots.iter().any(|s| matches!(s, Slot::Pending(a) if non_ascii(a)));
    if any_non_ascii {
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !slots.iter().any(|s| matches!(s, Slot::Pending(_))) {
        return quit(timeout, conn).await;
    }

    // MAIL FROM. A 5yz here refuses this message from this sender (RFC 5321 §4.1.1.2):
    // every recipient bounces; a 4yz asks to try again.
    match step(timeout, conn.command(Mail::new(reverse_path, parameters))).await {
        Ok(_) => {}
        Err(StepError::Reply { code, text }) => {
            settle(slots, &outcome_for_reply(code, &text));
            return quit(timeout, conn).await;
        }
        Err(StepError::Broken(reason)) => {
            return settle(slots, &temporary(format!("MAIL FROM: {reason}")));
        }
    }

    // RCPT TO, one per recipient; a rejection leaves the session usable (RFC 5321 §4.1.1.3).
    for index in 0..slots.len() {
        let Slot::Pending(address) = &slots[index] else { continue };
        match step(timeout, conn.command(Rcpt::new(address.clone(), Vec::new()))).await {
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
        return quit(timeout, conn).await;
    }

    // DATA must be answered with 354 before the content may follow (RFC 5321 §4.1.1.4).
    match step(timeout, conn.command(Data)).await {
        Ok(response) if response.has_code(354) => {}
        Ok(response) => {
            let (code, text) = code_and_text(&response);
            settle(slots, &temporary(format!("DATA: unexpected reply {}", format_reply(code, &text))));
            return quit(timeout, conn).await;
        }
        Err(StepError::Reply { code, text }) => {
            settle(slots, &outcome_for_reply(code, &text));
            return quit(timeout, conn).await;
        }
        Err(StepError::Broken(reason)) => {
            return settle(slots, &temporary(format!("DATA: {reason}")));
        }
    }

    // lettre dot-stuffs the content (RFC 5321 §4.5.2) and always appends <CRLF>.<CRLF>,
    // whose first CRLF ends the last line (RFC 5321 §4.1.1.4): drop the message's own
    // final CRLF, or the server would receive an extra empty line.
    let content = message.strip_suffix(b"\r\n").unwrap_or(message);
    match step(timeout, conn.message(content)).await {
        Ok(response) => {
            let (code, text) = code_and_text(&response);
            settle(slots, &outcome_for_reply(code, &text));
        }
        Err(StepError::Reply { code, text }) => settle(slots, &outcome_for_reply(code, &text)),
        Err(StepError::Broken(reason)) => {
            // RFC 5321 §6.1: the server may have taken responsibility before the reply was
            // lost. Retrying risks a duplicate; not retrying risks a loss. Retry.
            return settle(slots, &temporary(format!("end of data: {reason} (the server may still deliver it)")));
        }
    }
    quit(timeout, conn).await;
}

/// A TCP connection to an SMTP server with Nagle's algorithm off. lettre writes the message
/// and the end-of-data marker (`CRLF.CRLF`, RFC 5321 §4.1.1.4) separately; with Nagle on,
/// the 5-byte marker waits for the ACK of the message, which the receiver delays by up to
/// 40 ms (delayed ACK) — a stall on every message (docs/performance.md).
pub(super) async fn connect(address: SocketAddr) -> std::io::Result<tokio::net::TcpStream> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// Runs one command with the per-command timeout and sorts its failure.
pub(super) async fn step<T>(
    timeout: Duration,
    command: impl Future<Output = Result<T, lettre::transport::smtp::Error>>,
) -> Result<T, StepError> {
    match tokio::time::timeout(timeout, command).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(match err.status() {
            Some(code) => StepError::Reply { code: code.into(), text: source_text(&err) },
            None => StepError::Broken(root_cause(&err)),
        }),
        Err(_) => Err(StepError::Broken(format!("no reply within {}s", timeout.as_secs()))),
    }
}

/// Ends the session politely (RFC 5321 §4.1.1.10); its outcome changes nothing.
pub(super) async fn quit(timeout: Duration, mut conn: AsyncSmtpConnection) {
    let _ = tokio::time::timeout(timeout, conn.quit()).await;
}

/// Gives every recipient that has no final outcome yet this one. Outcomes already final (a 5yz
/// to its RCPT) stay: they are true whatever happens to the session afterwards.
pub(super) fn settle(slots: &mut [Slot], outcome: &RecipientOutcome) {
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
pub(super) fn source_text(err: &lettre::transport::smtp::Error) -> String {
    err.source().map(ToString::to_string).unwrap_or_default()
}

/// The innermost cause's text: lettre nests "Connection error: Connection error: invalid peer
/// certificate: UnknownIssuer"; the last link is the informative one.
pub(super) fn root_cause(err: &lettre::transport::smtp::Error) -> String {
    let mut cause: &dyn std::error::Error = err;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The kind of the I/O error behind a lettre error, if there is one.
pub(super) fn io_error_kind(err: &lettre::transport::smtp::Error) -> Option<std::io::ErrorKind> {
    let mut source = err.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        source = cause.source();
    }
    None
}
