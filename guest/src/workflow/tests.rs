//! The workflow's decisions, against a scripted host.

use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use super::fake::{FakeHost, reply};
use super::*;
use crate::request::Limits;

const SECURE: &str = r#"{
  "mail": {"from": {"email": "Sender <sender@example.com>"}},
  "subject": {"content": "Vertrag"},
  "body": {"contentType": "text/plain", "content": "see attachment"},
  "attachments": [
    {"name": "a.txt", "contentType": "text/plain", "content": "aGVsbG8gd29ybGQ=", "secureDocument": true},
    {"name": "plain.txt", "contentType": "text/plain", "content": "aGk="}
  ],
  "recipients": [{"mail": {"to": [{"email": "To One <to@example.org>"}], "cc": [{"email": "cc@example.org"}],
                           "bcc": [{"email": "bcc@example.org"}]}}],
  "job": {"features": {"antivirus": {"active": true}, "secureDocument": {"active": true}}}
}"#;

fn ctx() -> JobContext {
    JobContext {
        job_id: "j1".into(),
        received_ms: 1_000,
        message_id_domain: "mx.example".into(),
        attempts: 0,
        suppressed: Vec::new(),
    }
}

fn policy() -> Policy {
    Policy { retry_delays_ms: vec![1_000, 5_000], max_queue_lifetime_ms: 60_000 }
}

fn rng() -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(7)
}

fn state(message: &OutgoingMessage, first_attempt_ms: u64, attempts: u32) -> MessageState {
    MessageState {
        message_id: message.message_id.clone(),
        kind: message.kind,
        block: message.block,
        parent: message.parent.clone(),
        first_attempt_ms,
        attempts,
        recipients: message
            .recipients
            .iter()
            .map(|r| RecipientState {
                address: r.address.clone(),
                name: r.name.clone(),
                role: r.role,
                status: DeliveryStatus::Queued,
            })
            .collect(),
    }
}

fn start(host: &mut FakeHost) -> StartOutcome {
    start_job(host, &mut rng(), &ctx(), SECURE.as_bytes(), &Limits::default(), &policy()).unwrap()
}

#[test]
fn a_secure_job_becomes_one_message_with_a_held_password_and_only_the_flagged_file_scanned() {
    let mut host = FakeHost { now: 2_000, ..Default::default() };
    assert_eq!(start(&mut host), StartOutcome::Queued(Vec::new()));
    assert_eq!(host.scanned, ["a.txt", "plain.txt"], "antivirus active: every attachment is scanned");
    assert_eq!(host.enqueued.len(), 1);
    let m = &host.enqueued[0];
    assert_eq!(m.kind, MessageKind::Original);
    assert!(m.message_id.ends_with("@mx.example"));
    assert_eq!(m.reverse_path, "sender@example.com");
    let roles: Vec<_> = m.recipients.iter().map(|r| (r.address.as_str(), r.role)).collect();
    assert_eq!(roles, [("to@example.org", Role::To), ("cc@example.org", Role::Cc), ("bcc@example.org", Role::Bcc)]);
    let held = secret::HeldSecret::from_bytes(m.held_secret.as_ref().unwrap()).unwrap();
    assert_eq!(held.password.len(), 15, "very_high is the default strength");
    let text = String::from_utf8_lossy(&m.content);
    assert!(!text.contains(&held.password), "the original never carries the password");
    assert!(text.contains("documents.zip"));
    assert_eq!(host.kinds("bcc@example.org"), [EventKind::ProcessingStarted, EventKind::ProcessingFinished]);
}

#[test]
fn password_mails_follow_delivery_only_and_the_secret_is_erased_when_all_are_resolved() {
    let mut host = FakeHost { now: 2_000, ..Default::default() };
    start(&mut host);
    let original = host.enqueued[0].clone();
    let held = secret::HeldSecret::from_bytes(original.held_secret.as_ref().unwrap()).unwrap();
    host.outcomes
        .insert("cc@example.org".into(), [Outcome::Permanent(reply(550, Some("5.1.1"), "User unknown"))].into());
    host.outcomes.insert("bcc@example.org".into(), [Outcome::Temporary(reply(451, Some("4.3.0"), "Try again"))].into());

    let first = deliver(&mut host, &mut rng(), &state(&original, 2_000, 0), &policy()).unwrap();
    let statuses: Vec<_> = first.updates.iter().map(|u| (u.address.as_str(), u.status, u.password)).collect();
    assert_eq!(
        statuses,
        [
            ("to@example.org", DeliveryStatus::Delivered, Some(PasswordState::Queued)),
            ("cc@example.org", DeliveryStatus::Bounced, Some(PasswordState::NotTriggered)),
            ("bcc@example.org", DeliveryStatus::Deferred, None),
        ]
    );
    assert_eq!(first.updates[1].detail.as_deref(), Some("5.1.1"));
    assert_eq!(first.retry_at, Some(3_000));
    assert!(!first.erase_held_secret, "bcc is still deferred");
    // Exactly one password mail so far, to the delivered recipient only.
    assert_eq!(host.enqueued.len(), 2);
    let pw = &host.enqueued[1];
    assert_eq!(pw.kind, MessageKind::PasswordMail);
    assert_eq!(pw.parent.as_deref(), Some(original.message_id.as_str()));
    assert_eq!(pw.recipients.len(), 1);
    assert_eq!(pw.recipients[0].address, "to@example.org");
    assert!(String::from_utf8_lossy(&pw.content).contains(&held.password));
    assert_eq!(host.kinds("cc@example.org")[2..], [EventKind::HardBounce, EventKind::PasswordMailNotTriggered]);

    // The retry reaches bcc: its password mail follows, and now everyone is resolved.
    let mut retry = state(&original, 2_000, 1);
    for r in &mut retry.recipients {
        r.status = first.updates.iter().find(|u| u.address == r.address).unwrap().status;
    }
    host.now = 3_000;
    let second = deliver(&mut host, &mut rng(), &retry, &policy()).unwrap();
    assert_eq!(host.sent.last().unwrap().1, ["bcc@example.org"], "only the deferred recipient is attempted");
    assert_eq!(second.updates.len(), 1);
    assert_eq!(second.updates[0].status, DeliveryStatus::Delivered);
    assert!(second.erase_held_secret);
    assert_eq!(second.retry_at, None);
    assert_eq!(host.enqueued.len(), 3);
    assert_eq!(host.enqueued[2].recipients[0].role, Role::Bcc);

    // The password mail's own outcome is reported for the original's recipient.
    let pw_state = state(&host.enqueued[1].clone(), 3_000, 0);
    let done = deliver(&mut host, &mut rng(), &pw_state, &policy()).unwrap();
    assert_eq!(done.updates[0].password, Some(PasswordState::Ok));
    assert!(!done.erase_held_secret, "only an original's outcome erases its secret");
    assert_eq!(host.kinds("to@example.org").last(), Some(&EventKind::PasswordMailOk));
}

#[test]
fn a_deferred_recipient_expires_as_a_soft_bounce_and_its_password_mail_is_never_sent() {
    let mut host = FakeHost { now: 2_000, ..Default::default() };
    start(&mut host);
    let original = host.enqueued[0].clone();
    for a in ["to@example.org", "cc@example.org", "bcc@example.org"] {
        host.outcomes.insert(a.into(), [Outcome::Temporary(reply(451, None, "busy"))].into());
    }
    host.now = 2_000 + 60_000;
    let outcome = deliver(&mut host, &mut rng(), &state(&original, 2_000, 5), &policy()).unwrap();
    assert!(outcome.updates.iter().all(|u| u.status == DeliveryStatus::Expired));
    assert!(outcome.updates.iter().all(|u| u.password == Some(PasswordState::NotTriggered)));
    assert!(outcome.erase_held_secret);
    assert_eq!(host.enqueued.len(), 1, "no password mail");
    assert_eq!(host.kinds("to@example.org")[2..], [EventKind::SoftBounce, EventKind::PasswordMailNotTriggered]);
}

#[test]
fn a_virus_drops_the_whole_job_before_anything_is_sealed() {
    let mut host = FakeHost::default();
    host.verdicts.push_back(Verdict::Infected("clamd: Eicar-Signature".into()));
    let StartOutcome::Dropped(updates) = start(&mut host) else { panic!("not dropped") };
    assert!(host.enqueued.is_empty());
    assert_eq!(updates.len(), 3);
    assert!(
        updates.iter().all(|u| u.status == DeliveryStatus::Dropped && u.password == Some(PasswordState::NotTriggered))
    );
    for a in ["to@example.org", "cc@example.org", "bcc@example.org"] {
        assert_eq!(
            host.kinds(a),
            [EventKind::ProcessingStarted, EventKind::VirusDetected, EventKind::PasswordMailNotTriggered]
        );
    }
}

#[test]
fn an_unreachable_scanner_means_retry_with_nothing_emitted_until_the_lifetime_ends() {
    let mut host = FakeHost { now: 5_000, ..Default::default() };
    host.verdicts.push_back(Verdict::Unavailable("clamd 127.0.0.1:3310: connection refused".into()));
    assert_eq!(start(&mut host), StartOutcome::Retry(6_000, "clamd 127.0.0.1:3310: connection refused".into()));
    assert!(host.events.is_empty() && host.enqueued.is_empty());

    host.now = 1_000 + 60_000;
    host.verdicts.push_back(Verdict::Unavailable("down".into()));
    let StartOutcome::Dropped(updates) = start(&mut host) else { panic!("not dropped") };
    assert_eq!(updates.len(), 3);
    assert!(host.kinds("to@example.org").contains(&EventKind::ProcessingFailed));
}

#[test]
fn an_invalid_stored_request_is_an_error_not_a_panic() {
    let mut host = FakeHost::default();
    let err = start_job(&mut host, &mut rng(), &ctx(), b"{", &Limits::default(), &policy()).unwrap_err();
    assert!(matches!(err, WorkflowError::Invalid(p) if !p.is_empty()));
}

fn suppressed(address: &str, bounced: bool) -> SuppressedAddress {
    SuppressedAddress { address: address.into(), bounced, description: format!("{address} is suppressed") }
}

#[test]
fn a_suppressed_recipient_is_dropped_before_processing_and_left_out_of_the_envelope() {
    let mut host = FakeHost { now: 2_000, ..Default::default() };
    let ctx = JobContext { suppressed: vec![suppressed("CC@example.org", true)], ..ctx() };
    let outcome = start_job(&mut host, &mut rng(), &ctx, SECURE.as_bytes(), &Limits::default(), &policy()).unwrap();
    let StartOutcome::Queued(updates) = outcome else { panic!("expected queued, got {outcome:?}") };
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].address, "cc@example.org");
    assert_eq!(updates[0].status, DeliveryStatus::Dropped);
    assert_eq!(updates[0].password, Some(PasswordState::NotTriggered));
    assert_eq!(host.kinds("cc@example.org"), [EventKind::PreviouslyBounced, EventKind::PasswordMailNotTriggered]);
    assert_eq!(host.kinds("to@example.org"), [EventKind::ProcessingStarted, EventKind::ProcessingFinished]);
    let envelope: Vec<_> = host.enqueued[0].recipients.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(envelope, ["to@example.org", "bcc@example.org"]);
}

#[test]
fn a_job_whose_recipients_are_all_suppressed_is_dropped_unscanned() {
    let mut host = FakeHost { now: 2_000, ..Default::default() };
    let everyone = ["to@example.org", "cc@example.org", "bcc@example.org"];
    let ctx = JobContext { suppressed: everyone.iter().map(|a| suppressed(a, false)).collect(), ..ctx() };
    let outcome = start_job(&mut host, &mut rng(), &ctx, SECURE.as_bytes(), &Limits::default(), &policy()).unwrap();
    let StartOutcome::Dropped(updates) = outcome else { panic!("expected dropped, got {outcome:?}") };
    assert_eq!(updates.len(), 3);
    assert!(host.scanned.is_empty() && host.enqueued.is_empty());
    for address in everyone {
        assert_eq!(host.kinds(address), [EventKind::Suppressed, EventKind::PasswordMailNotTriggered]);
    }
}
