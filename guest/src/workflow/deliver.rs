//! `deliver`: one delivery attempt of a due message, and what each recipient's outcome
//! means (docs/secure-documents.md#delivery-outcome-and-password-mail).
//!
//! - original, accepted → DELIVERED; for a secure message the recipient's password mail is
//!   rendered and queued *now*, in the same commit that records the delivery, so it can
//!   never go out for an undelivered original;
//! - original, refused for good → HARD_BOUNCE and PASSWORD_MAIL/NOT_TRIGGERED;
//! - original, refused for now → DEFERRED and retried, until `max-queue-lifetime` is over:
//!   then a final SOFT_BOUNCE and NOT_TRIGGERED;
//! - password mail, accepted → PASSWORD_MAIL/OK; refused for good or expired → FAILED.

use rand::{CryptoRng, RngCore};

use super::secret::HeldSecret;
use super::start::{event, random_token};
use super::{
    DeliverOutcome, DeliveryStatus, EventKind, Host, MessageKind, MessageState, Outcome, OutgoingMessage,
    PasswordState, Policy, Recipient, RecipientState, RecipientUpdate, Reply, WorkflowError,
};
use crate::mime;
use crate::request::address::Mailbox;

/// Attempts `message` for its queued and deferred recipients and decides what follows.
pub fn deliver<H: Host, R: RngCore + CryptoRng>(
    host: &mut H,
    rng: &mut R,
    message: &MessageState,
    policy: &Policy,
) -> Result<DeliverOutcome, WorkflowError> {
    let pending: Vec<&RecipientState> = message.recipients.iter().filter(|r| !r.status.is_final()).collect();
    let mut outcome = DeliverOutcome::default();
    if !pending.is_empty() {
        let addresses: Vec<String> = pending.iter().map(|r| r.address.clone()).collect();
        let results = host.send(&message.message_id, &addresses);
        if results.len() != addresses.len() || results.iter().zip(&addresses).any(|((a, _), b)| a != b) {
            return Err(WorkflowError::Internal("transport.send returned results for other recipients".into()));
        }
        let now = host.now();
        let expired = now.saturating_sub(message.first_attempt_ms) >= policy.max_queue_lifetime_ms;
        let mut secret: Option<HeldSecret> = None;
        for (recipient, (_, result)) in pending.iter().zip(results) {
            let update = match message.kind {
                MessageKind::Original => {
                    original_outcome(host, rng, message, recipient, result, expired, now, &mut secret)?
                }
                MessageKind::PasswordMail => password_mail_outcome(host, message, recipient, result, expired),
            };
            outcome.updates.push(update);
        }
        if outcome.updates.iter().any(|u| u.status == DeliveryStatus::Deferred) {
            outcome.retry_at = Some(now + policy.delay(message.attempts));
        }
    }
    // Resolved: every recipient final, counting this attempt's updates.
    let resolved = message.recipients.iter().all(|r| {
        let status = outcome.updates.iter().find(|u| u.address == r.address).map_or(r.status, |u| u.status);
        status.is_final()
    });
    outcome.erase_held_secret = message.kind == MessageKind::Original && resolved;
    Ok(outcome)
}

#[expect(
    clippy::too_many_arguments,
    reason = "one outcome needs the host, randomness, the message, the recipient, its reply, the expiry, the clock and the held secret; a struct would only rename them"
)]
fn original_outcome<H: Host, R: RngCore + CryptoRng>(
    host: &mut H,
    rng: &mut R,
    message: &MessageState,
    recipient: &RecipientState,
    result: Outcome,
    expired: bool,
    now: u64,
    secret: &mut Option<HeldSecret>,
) -> Result<RecipientUpdate, WorkflowError> {
    let block = message.block;
    let address = recipient.address.as_str();
    // A held secret exists exactly for secure messages; read it at most once per attempt.
    let secure = secret.is_some() || load_secret(host, message, secret)?;
    let (status, password, reply) = match result {
        Outcome::Delivered(reply) => {
            host.emit(event(block, address, EventKind::Delivered, &describe("accepted", &reply)));
            if let Some(held) = secret.as_ref() {
                host.enqueue(password_mail(message, recipient, held, now, rng));
            }
            (DeliveryStatus::Delivered, secure.then_some(PasswordState::Queued), reply)
        }
        Outcome::Permanent(reply) => {
            host.emit(event(block, address, EventKind::HardBounce, &describe("refused", &reply)));
            not_triggered(host, block, address, secure, "the message bounced");
            (DeliveryStatus::Bounced, secure.then_some(PasswordState::NotTriggered), reply)
        }
        Outcome::Temporary(reply) if expired => {
            let why = describe("not delivered within the queue lifetime; last attempt", &reply);
            host.emit(event(block, address, EventKind::SoftBounce, &why));
            not_triggered(host, block, address, secure, "the message expired undelivered");
            (DeliveryStatus::Expired, secure.then_some(PasswordState::NotTriggered), reply)
        }
        Outcome::Temporary(reply) => {
            host.emit(event(block, address, EventKind::Deferred, &describe("deferred", &reply)));
            (DeliveryStatus::Deferred, None, reply)
        }
    };
    Ok(update(block, address, status, password, reply))
}

fn password_mail_outcome<H: Host>(
    host: &mut H,
    message: &MessageState,
    recipient: &RecipientState,
    result: Outcome,
    expired: bool,
) -> RecipientUpdate {
    let (block, address) = (message.block, recipient.address.as_str());
    let (status, password, reply) = match result {
        Outcome::Delivered(reply) => {
            host.emit(event(block, address, EventKind::PasswordMailOk, &describe("password mail accepted", &reply)));
            (DeliveryStatus::Delivered, Some(PasswordState::Ok), reply)
        }
        Outcome::Permanent(reply) => {
            host.emit(event(block, address, EventKind::PasswordMailFailed, &describe("password mail refused", &reply)));
            (DeliveryStatus::Bounced, Some(PasswordState::Failed), reply)
        }
        Outcome::Temporary(reply) if expired => {
            let why = describe("password mail not delivered within the queue lifetime; last attempt", &reply);
            host.emit(event(block, address, EventKind::PasswordMailFailed, &why));
            (DeliveryStatus::Expired, Some(PasswordState::Failed), reply)
        }
        // A deferred password mail is retried quietly: its recipient already has the
        // original, and the PASSWORD_MAIL event comes once, when it is final.
        Outcome::Temporary(reply) => (DeliveryStatus::Deferred, None, reply),
    };
    update(block, address, status, password, reply)
}

fn load_secret<H: Host>(
    host: &mut H,
    message: &MessageState,
    slot: &mut Option<HeldSecret>,
) -> Result<bool, WorkflowError> {
    match host.held_secret(&message.message_id) {
        None => Ok(false),
        Some(bytes) => {
            let held = HeldSecret::from_bytes(&bytes).map_err(|e| WorkflowError::Internal(e.to_string()))?;
            *slot = Some(held);
            Ok(true)
        }
    }
}

fn not_triggered<H: Host>(host: &mut H, block: u32, address: &str, secure: bool, why: &str) {
    if secure {
        host.emit(event(block, address, EventKind::PasswordMailNotTriggered, why));
    }
}

/// The password mail of one delivered recipient, addressed to that recipient only
/// (docs/secure-documents.md#the-password-mail), replying to the original.
fn password_mail<R: RngCore>(
    original: &MessageState,
    recipient: &RecipientState,
    held: &HeldSecret,
    now: u64,
    rng: &mut R,
) -> OutgoingMessage {
    let token = random_token(rng);
    let message_id = format!("{token}@{}", domain_of(&original.message_id));
    let from = held.from();
    let to = Mailbox { name: recipient.name.clone(), address: recipient.address.clone() };
    let mail = mime::PasswordMail {
        from: &from,
        to: &to,
        subject: &held.subject,
        password: &held.password,
        archive_name: &held.archive_name,
        original_message_id: &original.message_id,
    };
    let envelope = mime::Envelope { message_id: &message_id, date_unix_ms: now, boundary_seed: &token };
    OutgoingMessage {
        content: mime::render_password_mail(&mail, &envelope),
        message_id,
        kind: MessageKind::PasswordMail,
        block: original.block,
        parent: Some(original.message_id.clone()),
        reverse_path: held.reverse_path.clone(),
        recipients: vec![Recipient {
            address: recipient.address.clone(),
            name: recipient.name.clone(),
            role: recipient.role,
        }],
        held_secret: None,
    }
}

fn domain_of(message_id: &str) -> &str {
    message_id.rsplit_once('@').map_or("sealmail.invalid", |(_, d)| d)
}

fn describe(what: &str, reply: &Reply) -> String {
    match reply.code {
        Some(code) if !reply.text.starts_with(&code.to_string()) => format!("{what}: {code} {}", reply.text),
        _ => format!("{what}: {}", reply.text),
    }
}

fn update(
    block: u32,
    address: &str,
    status: DeliveryStatus,
    password: Option<PasswordState>,
    reply: Reply,
) -> RecipientUpdate {
    let text = match reply.code {
        Some(code) if !reply.text.starts_with(&code.to_string()) => format!("{code} {}", reply.text),
        _ => reply.text,
    };
    RecipientUpdate { block, address: address.to_owned(), status, password, reply: Some(text), detail: reply.enhanced }
}
