//! A bounce reported after delivery (`late-bounce` in `wit/workflow.wit`): "delivered"
//! means the next hop accepted the message, and a relay or the recipient's own server may
//! still give up later and say so in a delivery status notification (RFC 3464). The host
//! reads the notification and finds the message by its VERP token; what it changes is
//! decided here.
//!
//! Only a delivered recipient of an original can bounce late: it becomes `bounced`, with a
//! `DELIVER/FINISHED/BOUNCED/HARD_BOUNCE` event after its `DELIVERED` (pushed to the job's
//! endpoint like every event). A password mail's recipient already has its final
//! PASSWORD_MAIL event and the password cannot be recalled, so its bounce changes nothing.
//! A notification that arrives twice finds the recipient bounced and changes nothing.

use super::start::event;
use super::{DeliveryStatus, EventKind, Host, MessageKind, MessageState, RecipientUpdate};

/// One recipient of a notification (`workflow.late-bounce`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateBounce {
    /// The message it is about, with its recipients' states.
    pub message: MessageState,
    /// The recipient it reports, as it spells it.
    pub address: String,
    /// The RFC 3463 status code.
    pub status: String,
    /// Status and diagnostic in words.
    pub description: String,
}

/// What a late bounce changes (`workflow.late-bounce-outcome`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LateBounceOutcome {
    /// The recipient is a hard bounce now.
    Bounced(RecipientUpdate),
    /// No delivered recipient of that address.
    NotDelivered,
    /// A password mail: nothing changes.
    PasswordMail,
}

/// Decides what `bounce` changes, emitting the event it causes.
pub fn late_bounce<H: Host>(host: &mut H, bounce: &LateBounce) -> LateBounceOutcome {
    let message = &bounce.message;
    if message.kind == MessageKind::PasswordMail {
        return LateBounceOutcome::PasswordMail;
    }
    // Addresses compare case-insensitively here (the local part is the receiving server's
    // to interpret, RFC 5321 §2.4, but notifications commonly re-case it); the update
    // names the recipient as the job spelled it.
    let Some(recipient) = message
        .recipients
        .iter()
        .find(|r| r.status == DeliveryStatus::Delivered && r.address.eq_ignore_ascii_case(&bounce.address))
    else {
        return LateBounceOutcome::NotDelivered;
    };
    host.emit(event(message.block, &recipient.address, EventKind::HardBounce, &bounce.description));
    LateBounceOutcome::Bounced(RecipientUpdate {
        block: message.block,
        address: recipient.address.clone(),
        status: DeliveryStatus::Bounced,
        password: None,
        reply: Some(bounce.description.clone()),
        detail: Some(bounce.status.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::fake::FakeHost;
    use crate::workflow::{RecipientState, Role};

    fn message(kind: MessageKind, statuses: &[(&str, DeliveryStatus)]) -> MessageState {
        MessageState {
            message_id: "t0k3n@x.example".into(),
            kind,
            block: 2,
            parent: None,
            first_attempt_ms: 1_000,
            attempts: 1,
            recipients: statuses
                .iter()
                .map(|(address, status)| RecipientState {
                    address: (*address).into(),
                    name: None,
                    role: Role::To,
                    status: *status,
                })
                .collect(),
        }
    }

    fn bounce(message: MessageState, address: &str) -> LateBounce {
        LateBounce {
            message,
            address: address.into(),
            status: "5.1.1".into(),
            description: "failed: 5.1.1 (smtp; 550 5.1.1 <Bob@x.example>: User unknown)".into(),
        }
    }

    #[test]
    fn a_delivered_recipient_of_an_original_becomes_a_hard_bounce_named_as_the_job_spelled_it() {
        let mut host = FakeHost::default();
        let m = message(
            MessageKind::Original,
            &[("a@x.example", DeliveryStatus::Delivered), ("Bob@x.example", DeliveryStatus::Delivered)],
        );
        let LateBounceOutcome::Bounced(update) = late_bounce(&mut host, &bounce(m, "bob@X.EXAMPLE")) else {
            panic!("bounced")
        };
        assert_eq!(
            (update.block, update.address.as_str(), update.status),
            (2, "Bob@x.example", DeliveryStatus::Bounced)
        );
        assert_eq!((update.detail.as_deref(), update.password), (Some("5.1.1"), None));
        assert!(update.reply.as_deref().is_some_and(|r| r.contains("User unknown")));
        assert_eq!(host.kinds("Bob@x.example"), [EventKind::HardBounce]);
    }

    #[test]
    fn a_recipient_that_was_not_delivered_or_a_password_mail_changes_nothing() {
        let mut host = FakeHost::default();
        let bounced = message(MessageKind::Original, &[("bob@x.example", DeliveryStatus::Bounced)]);
        assert_eq!(late_bounce(&mut host, &bounce(bounced, "bob@x.example")), LateBounceOutcome::NotDelivered);
        let other = message(MessageKind::Original, &[("a@x.example", DeliveryStatus::Delivered)]);
        assert_eq!(late_bounce(&mut host, &bounce(other, "bob@x.example")), LateBounceOutcome::NotDelivered);
        let password = message(MessageKind::PasswordMail, &[("bob@x.example", DeliveryStatus::Delivered)]);
        assert_eq!(late_bounce(&mut host, &bounce(password, "bob@x.example")), LateBounceOutcome::PasswordMail);
        assert!(host.events.is_empty());
    }
}
