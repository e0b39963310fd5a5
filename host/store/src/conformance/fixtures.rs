//! What the conformance cases share: a job, messages, decisions, and a late bounce decided
//! as the workflow decides it.

use crate::suppression::{Reason, Suppression};
use crate::{
    DeliveryDecision, DeliveryStatus, Effects, Event, EventKind, MessageKind, NewJob, NewRecipient, OutgoingMessage,
    PasswordState, RecipientUpdate, Role, Store,
};

/// A `To` recipient without a display name.
pub(crate) fn delivery_recipient(address: &str) -> sealmail_core::bindings::delivery::Recipient {
    sealmail_core::bindings::delivery::Recipient { address: address.to_owned(), name: None, role: Role::To }
}

/// A secure job of account `acme` to a@ (To) and b@ (Bcc), accepted at 1,000 ms.
pub fn job(id: &str, idempotency: Option<(&str, u8)>) -> NewJob {
    NewJob {
        id: id.into(),
        account: "acme".into(),
        received_ms: 1_000,
        request: b"{\"secret\":\"request body\"}".to_vec(),
        recipients: vec![
            NewRecipient { block: 0, address: "a@x.example".into(), role: Role::To, reference: Some("r1".into()) },
            NewRecipient { block: 0, address: "b@x.example".into(), role: Role::Bcc, reference: None },
        ],
        secure: true,
        idempotency: idempotency.map(|(k, b)| (k.to_owned(), [b; 32])),
        callbacks: None,
        recipients_per_hour: None,
    }
}

/// The callback setup of [`with_callbacks`]: bytes the store must hand back unchanged.
pub(crate) const CALLBACK_SETUP: &[u8] =
    br#"{"endpoint":{"url":"https://hooks.example/cb","basicAuth":["u","endpoint password"]}}"#;

/// `job` with a callback endpoint (and basic auth).
pub(crate) fn with_callbacks(mut job: NewJob) -> NewJob {
    // The store keeps the setup opaque; these bytes stand for the callbacks crate's JSON.
    job.callbacks = Some(CALLBACK_SETUP.to_vec());
    job
}

pub(crate) fn events(kinds: &[EventKind]) -> Effects {
    let events = kinds
        .iter()
        .map(|&kind| Event { block: 0, recipient: "a@x.example".into(), kind, description: "d".into() })
        .collect();
    Effects { enqueued: vec![], events }
}

pub(crate) fn message(id: &str, recipients: &[&str]) -> OutgoingMessage {
    use sealmail_core::bindings::delivery::Recipient;
    OutgoingMessage {
        message_id: id.into(),
        kind: MessageKind::Original,
        block: 0,
        parent: None,
        reverse_path: "s@x.example".into(),
        recipients: recipients
            .iter()
            .map(|a| Recipient { address: (*a).to_owned(), name: None, role: Role::To })
            .collect(),
        content: b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
        held_secret: Some(b"held password".to_vec()),
    }
}

pub(crate) fn update(address: &str, status: DeliveryStatus, password: PasswordState) -> RecipientUpdate {
    RecipientUpdate { block: 0, address: address.into(), status, password: Some(password), reply: None, detail: None }
}

pub(crate) fn decision(
    updates: Vec<RecipientUpdate>,
    retry_at: Option<u64>,
    erase_held_secret: bool,
) -> DeliveryDecision {
    DeliveryDecision { updates, retry_at, erase_held_secret, suppress: Vec::new() }
}

/// What [`late_bounce`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LateBounced {
    /// The recipient of the job is a hard bounce now.
    Recorded(String),
    /// No delivered recipient of that address (or recorded already).
    NotDelivered,
    /// No message has the token.
    UnknownMessage,
    /// The token is a password mail's.
    PasswordMail,
}

/// A bounce of `address` reported after delivery of the message `token` at `now_ms`,
/// decided as the workflow decides it (a delivered recipient of an original becomes a hard
/// bounce with its event, listed for `suppress_for_ms`) and committed through the store's
/// primitives.
pub(crate) async fn late_bounce(
    s: &dyn Store,
    token: &str,
    address: &str,
    now_ms: u64,
    suppress_for_ms: Option<u64>,
) -> LateBounced {
    let Some(m) = s.find_message(token).await.unwrap() else { return LateBounced::UnknownMessage };
    if m.kind == MessageKind::PasswordMail {
        return LateBounced::PasswordMail;
    }
    let delivered =
        m.recipients.iter().find(|r| r.status == DeliveryStatus::Delivered && r.address.eq_ignore_ascii_case(address));
    let Some(stored) = delivered.map(|r| &r.address) else { return LateBounced::NotDelivered };
    let description = "bounced after delivery: 5.1.1 (smtp; 550 5.1.1 mailbox gone)";
    let update = RecipientUpdate {
        block: m.block,
        address: stored.clone(),
        status: DeliveryStatus::Bounced,
        password: None,
        reply: Some(description.into()),
        detail: Some("5.1.1".into()),
    };
    let event = Event {
        block: m.block,
        recipient: stored.clone(),
        kind: EventKind::HardBounce,
        description: description.into(),
    };
    let suppress = suppress_for_ms
        .map(|period| Suppression::for_period(Reason::HardBounce, stored, description, &m.job_id, now_ms, period));
    let effects = Effects { enqueued: vec![], events: vec![event] };
    match s.commit_late_bounce(&m.id, now_ms, update, effects, suppress.into_iter().collect()).await.unwrap() {
        true => LateBounced::Recorded(m.job_id),
        false => LateBounced::NotDelivered,
    }
}
