//! Backend-generic tests of the suppression list, the rate limit ([`crate::suppression`],
//! [`crate::rate`]) and bounces reported after delivery, run by [`super::run_all`] on every
//! store.
//!
//! Test code: it panics on the first broken expectation, and is never part of a server.

use super::fixtures::{LateBounced, late_bounce};
use crate::rate::{WINDOW_MS, WINDOWS};
use crate::suppression::{Reason, Suppression, SuppressionPolicy};
use crate::{
    DeliveryDecision, DeliveryStatus, Effects, MessageKind, NewJob, NewRecipient, OutgoingMessage, RecipientUpdate,
    Role, StartDecision, Store, Submitted, Work,
};

fn job(id: &str, account: &str, addresses: &[&str], per_hour: Option<u64>) -> NewJob {
    NewJob {
        id: id.into(),
        account: account.into(),
        received_ms: 1_000,
        request: b"{}".to_vec(),
        recipients: addresses
            .iter()
            .map(|a| NewRecipient { block: 0, address: (*a).into(), role: Role::To, reference: None })
            .collect(),
        secure: false,
        idempotency: None,
        callbacks: None,
        recipients_per_hour: per_hour,
    }
}

/// Submits `id` to a@ and b@, queues its message and commits a bounce of a@ (listed until
/// `until_ms`) and a delivery to b@.
async fn bounce_a(store: &dyn Store, id: &str, until_ms: u64) {
    assert_eq!(store.submit(job(id, "acme", &["a@x.example", "b@x.example"], None)).await.unwrap(), Submitted::Created);
    let Some(Work::Start(_)) = store.claim("w", 2_000, 60_000).await.unwrap() else { panic!("no start for {id}") };
    let message = OutgoingMessage {
        message_id: format!("m-{id}"),
        kind: MessageKind::Original,
        block: 0,
        parent: None,
        reverse_path: "s@x.example".into(),
        recipients: ["a@x.example", "b@x.example"].iter().map(|a| super::fixtures::delivery_recipient(a)).collect(),
        content: b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
        held_secret: None,
    };
    let effects = Effects { enqueued: vec![message], events: vec![] };
    store.commit_start(id, 2_000, StartDecision::Queued(Vec::new()), effects).await.unwrap();
    let Some(Work::Deliver(m)) = store.claim("w", 3_000, 60_000).await.unwrap() else { panic!("no message of {id}") };
    let update = |address: &str, status| RecipientUpdate {
        block: 0,
        address: address.into(),
        status,
        password: None,
        reply: Some("550 5.1.1 no such user".into()),
        detail: Some("5.1.1".into()),
    };
    let policy = SuppressionPolicy::default();
    let mut entry =
        Suppression::after_bounce(&policy, Reason::HardBounce, "A@x.example", "550 5.1.1 no such user", id, 3_000);
    entry.until_ms = until_ms;
    let decision = DeliveryDecision {
        updates: vec![update("a@x.example", DeliveryStatus::Bounced), update("b@x.example", DeliveryStatus::Delivered)],
        retry_at: None,
        erase_held_secret: true,
        suppress: vec![entry],
    };
    assert!(store.commit_delivery(&m.id, 3_000, decision, Effects::default()).await.unwrap());
}

/// A bounce lists its address for its account until the entry ends or is removed; a later
/// job sees the entry whatever the address's case; other accounts never see it.
pub async fn a_bounce_suppresses_its_address_for_the_account_until_it_ends_or_is_removed(store: &dyn Store) {
    bounce_a(store, "j1", 100_000).await;

    let listed = store.suppressions("acme", 4_000).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].address.as_str(), listed[0].reason, listed[0].job_id.as_str()),
        ("a@x.example", Reason::HardBounce, "j1")
    );
    assert!(store.suppressions("other", 4_000).await.unwrap().is_empty(), "lists are per account");
    assert!(store.suppressions("acme", 100_000).await.unwrap().is_empty(), "an ended entry is not in force");

    store.submit(job("j2", "acme", &["A@X.example", "c@x.example"], None)).await.unwrap();
    store.submit(job("j3", "other", &["a@x.example"], None)).await.unwrap();
    let for_j2 = store.job_suppressions("j2", 5_000).await.unwrap();
    assert_eq!(for_j2.iter().map(|s| s.address.as_str()).collect::<Vec<_>>(), ["a@x.example"]);
    assert!(store.job_suppressions("j3", 5_000).await.unwrap().is_empty(), "another account's job");

    assert!(!store.remove_suppression("other", "a@x.example").await.unwrap(), "not another account's entry");
    assert!(store.remove_suppression("acme", "A@X.EXAMPLE").await.unwrap());
    assert!(store.job_suppressions("j2", 5_000).await.unwrap().is_empty());
    assert!(!store.remove_suppression("acme", "a@x.example").await.unwrap());
}

/// Listed twice, an address keeps the entry that ends later.
pub async fn a_listed_address_keeps_the_entry_that_ends_later(store: &dyn Store) {
    bounce_a(store, "j1", 900_000).await;
    bounce_a(store, "j2", 500_000).await;
    let listed = store.suppressions("acme", 4_000).await.unwrap();
    assert_eq!((listed[0].job_id.as_str(), listed[0].until_ms), ("j1", 900_000));
}

/// Beyond the hourly limit a submission is refused, says when to retry, and stores nothing;
/// a replayed idempotency key costs nothing; accounts are counted apart.
pub async fn submissions_beyond_the_hourly_limit_are_refused_and_not_stored(store: &dyn Store) {
    let two = ["a@x.example", "b@x.example"];
    let keyed = |id: &str| NewJob { idempotency: Some(("k1".into(), [7; 32])), ..job(id, "acme", &two, Some(3)) };
    assert_eq!(store.submit(keyed("j1")).await.unwrap(), Submitted::Created);
    assert_eq!(store.submit(keyed("j1-again")).await.unwrap(), Submitted::Replay("j1".into()), "a replay is free");
    let refused = match store.submit(job("j2", "acme", &two, Some(3))).await.unwrap() {
        Submitted::RateLimited(refused) => refused,
        other => panic!("the second job must be refused, got {other:?}"),
    };
    assert!(!refused.never);
    assert_eq!(refused.retry_after_ms, WINDOWS * WINDOW_MS - 1_000, "when j1's window leaves the hour");
    assert_eq!(store.unfinished_jobs().await.unwrap(), 1, "a refused job is not stored");
    assert_eq!(store.submit(job("j3", "acme", &["c@x.example"], Some(3))).await.unwrap(), Submitted::Created);
    assert_eq!(store.submit(job("j4", "other", &two, Some(3))).await.unwrap(), Submitted::Created, "per account");
    let later = NewJob { received_ms: 1_000 + WINDOWS * WINDOW_MS, ..job("j5", "acme", &two, Some(3)) };
    assert_eq!(store.submit(later).await.unwrap(), Submitted::Created, "an hour later the room is back");
    let too_big = job("j6", "acme", &["a@y.example", "b@y.example", "c@y.example", "d@y.example"], Some(3));
    match store.submit(too_big).await.unwrap() {
        Submitted::RateLimited(refused) => assert!(refused.never, "a job larger than the limit never fits"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// A DSN after delivery turns the recipient's delivery into a hard bounce with an event
/// after its DELIVERED and lists the address; a second DSN (also one decided at the same
/// time), an unknown token and a password mail's token change nothing.
pub async fn a_late_bounce_turns_a_delivery_into_a_hard_bounce_once(store: &dyn Store) {
    use crate::EventKind;
    assert_eq!(
        store.submit(job("j1", "acme", &["a@x.example", "b@x.example"], None)).await.unwrap(),
        Submitted::Created
    );
    let Some(Work::Start(_)) = store.claim("w", 2_000, 60_000).await.unwrap() else { panic!("no start") };
    let message = |id: &str, kind| OutgoingMessage {
        message_id: id.into(),
        kind,
        block: 0,
        parent: None,
        reverse_path: "s@x.example".into(),
        recipients: ["a@x.example", "b@x.example"].iter().map(|a| super::fixtures::delivery_recipient(a)).collect(),
        content: b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
        held_secret: None,
    };
    let effects = Effects { enqueued: vec![message("0a1b@sealmail.test", MessageKind::Original)], events: vec![] };
    store.commit_start("j1", 2_000, StartDecision::Queued(Vec::new()), effects).await.unwrap();
    let Some(Work::Deliver(m)) = store.claim("w", 3_000, 60_000).await.unwrap() else { panic!("no message") };
    let delivered = |address: &str| RecipientUpdate {
        block: 0,
        address: address.into(),
        status: DeliveryStatus::Delivered,
        password: None,
        reply: Some("250 2.0.0 Ok".into()),
        detail: None,
    };
    let decision = DeliveryDecision {
        updates: vec![delivered("a@x.example"), delivered("b@x.example")],
        retry_at: None,
        erase_held_secret: true,
        suppress: vec![],
    };
    let delivered_event = crate::Event {
        block: 0,
        recipient: "a@x.example".into(),
        kind: EventKind::Delivered,
        description: "250".into(),
    };
    let effects = Effects {
        enqueued: vec![message("9f8e@sealmail.test", MessageKind::PasswordMail)],
        events: vec![delivered_event],
    };
    store.commit_delivery(&m.id, 3_000, decision, effects).await.unwrap();

    let bounce =
        |token: &'static str, address: &'static str| late_bounce(store, token, address, 10_000, Some(1_000_000));
    assert_eq!(bounce("0a1b", "A@X.example").await, LateBounced::Recorded("j1".into()));
    assert_eq!(bounce("0a1b", "a@x.example").await, LateBounced::NotDelivered);
    assert_eq!(bounce("ffff", "a@x.example").await, LateBounced::UnknownMessage);
    assert_eq!(bounce("9f8e", "b@x.example").await, LateBounced::PasswordMail);
    // Two reports decided on the same state: the second commit finds the delivery bounced
    // already and records nothing.
    let message = store.find_message("0a1b").await.unwrap().expect("the original");
    let again = RecipientUpdate {
        block: 0,
        address: "a@x.example".into(),
        status: DeliveryStatus::Bounced,
        password: None,
        reply: Some("again".into()),
        detail: Some("5.1.1".into()),
    };
    assert!(!store.commit_late_bounce(&message.id, 10_500, again, Effects::default(), vec![]).await.unwrap());
    assert_eq!(message.recipients.len(), 2);

    let status = store.job_status("acme", "j1").await.unwrap().expect("the job");
    let a = status.recipients.iter().find(|r| r.address == "a@x.example").unwrap();
    assert_eq!((a.status, a.detail.as_deref()), (DeliveryStatus::Bounced, Some("5.1.1")));
    let b = status.recipients.iter().find(|r| r.address == "b@x.example").unwrap();
    assert_eq!(b.status, DeliveryStatus::Delivered);
    let kinds: Vec<EventKind> = status.events.iter().filter(|e| e.recipient == "a@x.example").map(|e| e.kind).collect();
    assert_eq!(kinds, [EventKind::Delivered, EventKind::HardBounce], "the bounce follows the delivery");
    let listed = store.suppressions("acme", 10_001).await.unwrap();
    assert_eq!((listed.len(), listed[0].until_ms), (1, 1_010_000));
}
