//! Backend-generic tests of erasing jobs ([`crate::erase`]): `delete_job` and
//! `purge_finished`, run by [`super::run_all`] on SQLite and PostgreSQL.
//!
//! Test code: it panics on the first broken expectation.

use super::fixtures::{LateBounced, job, late_bounce};
use crate::{
    DeleteOutcome, DeliveryDecision, DeliveryStatus, Effects, Event, EventKind, JobState, MessageKind, OutgoingMessage,
    PasswordState, PostOutcome, RecipientUpdate, StartDecision, Store, Submitted, Work,
};

/// A message of block 0 to `a@` and `b@` with a held secret.
fn message(id: &str) -> OutgoingMessage {
    OutgoingMessage {
        message_id: id.into(),
        kind: MessageKind::Original,
        block: 0,
        parent: None,
        reverse_path: "s@x.example".into(),
        recipients: ["a@x.example", "b@x.example"].iter().map(|a| super::fixtures::delivery_recipient(a)).collect(),
        content: b"Subject: hi\r\n\r\nbody\r\n".to_vec(),
        held_secret: Some(b"held password".to_vec()),
    }
}

fn delivered(address: &str) -> RecipientUpdate {
    RecipientUpdate {
        block: 0,
        address: address.into(),
        status: DeliveryStatus::Delivered,
        password: Some(PasswordState::Queued),
        reply: Some("250 2.0.0 Ok".into()),
        detail: None,
    }
}

/// A bounce of `a@` reported after delivery of `token`'s message, listing it for 1,000 s.
async fn bounce(s: &dyn Store, token: &str, now_ms: u64) -> LateBounced {
    late_bounce(s, token, "a@x.example", now_ms, Some(1_000_000)).await
}

/// Submits `id` (with `setup`'s callbacks), starts it with one message `<id>m@x` and
/// delivers that to both recipients at `finish_ms`: a finished job with events, posts (when
/// it has callbacks), a message and its deliveries.
async fn finished_job(s: &dyn Store, mut new: crate::NewJob, finish_ms: u64) -> String {
    let id = new.id.clone();
    new.received_ms = finish_ms.saturating_sub(500);
    assert_eq!(s.submit(new).await.unwrap(), Submitted::Created);
    let Some(Work::Start(_)) = s.claim("w", finish_ms, 60_000).await.unwrap() else { panic!("no job {id}") };
    let started = Event {
        block: 0,
        recipient: "a@x.example".into(),
        kind: EventKind::ProcessingStarted,
        description: "started".into(),
    };
    let effects = Effects { enqueued: vec![message(&format!("{id}m@x"))], events: vec![started] };
    assert!(!s.commit_start(&id, finish_ms, StartDecision::Queued(vec![]), effects).await.unwrap());
    let Some(Work::Deliver(m)) = s.claim("w", finish_ms, 60_000).await.unwrap() else { panic!("no message of {id}") };
    let decision = DeliveryDecision {
        updates: vec![delivered("a@x.example"), delivered("b@x.example")],
        retry_at: None,
        erase_held_secret: true,
        suppress: vec![],
    };
    assert!(s.commit_delivery(&m.id, finish_ms, decision, Effects::default()).await.unwrap(), "{id} finished");
    id
}

/// `DELETE` of a job: refused while it is in flight, invisible to another account, and
/// afterwards nothing of it answers — status, message, secret, posts, idempotency key, late
/// bounce. Before that, a bounce reported after the job finished is still pushed to its
/// callback endpoint (its setup is kept until the job is erased).
pub async fn a_finished_job_is_deleted_whole_and_only_by_its_account(s: &dyn Store) {
    let mut new = super::fixtures::with_callbacks(job("j1", Some(("key", 1))));
    new.received_ms = 1_000;
    s.submit(new).await.unwrap();
    assert_eq!(s.delete_job("acme", "j1").await.unwrap(), DeleteOutcome::NotFinished, "queued");
    let Some(Work::Start(_)) = s.claim("w", 2_000, 60_000).await.unwrap() else { panic!("no job") };
    let effects = Effects { enqueued: vec![message("j1m@x")], events: vec![] };
    s.commit_start("j1", 2_000, StartDecision::Queued(vec![]), effects).await.unwrap();
    assert_eq!(s.delete_job("acme", "j1").await.unwrap(), DeleteOutcome::NotFinished, "delivering");
    assert_eq!(s.held_secret("j1m@x").await.unwrap().as_deref(), Some(&b"held password"[..]), "nothing erased");
    let Some(Work::Deliver(m)) = s.claim("w", 3_000, 60_000).await.unwrap() else { panic!("no message") };
    let decision = DeliveryDecision {
        updates: vec![delivered("a@x.example"), delivered("b@x.example")],
        retry_at: None,
        erase_held_secret: true,
        suppress: vec![],
    };
    let event =
        Event { block: 0, recipient: "a@x.example".into(), kind: EventKind::Delivered, description: "250".into() };
    let effects = Effects { enqueued: vec![], events: vec![event] };
    assert!(s.commit_delivery(&m.id, 3_000, decision, effects).await.unwrap());
    let post = s.claim_post("d", 3_000, 60_000).await.unwrap().expect("the DELIVERED post");
    s.commit_post(post.id, 3_100, PostOutcome::Delivered { http_status: 200 }).await.unwrap();

    // A bounce after the job finished and its last post was delivered: pushed all the same.
    assert_eq!(bounce(s, "j1m", 50_000).await, LateBounced::Recorded("j1".into()));
    let late = s.claim_post("d", 50_000, 60_000).await.unwrap().expect("the late bounce is pushed");
    assert_eq!(late.events.iter().map(|e| e.event.kind).collect::<Vec<_>>(), [EventKind::HardBounce]);
    assert_eq!(late.setup.as_slice(), super::fixtures::CALLBACK_SETUP);

    // Another account: the same answer as for no job, and nothing happens.
    assert_eq!(s.delete_job("other", "j1").await.unwrap(), DeleteOutcome::NotFound);
    assert!(s.job_status("acme", "j1").await.unwrap().is_some());
    assert_eq!(s.delete_job("acme", "nope").await.unwrap(), DeleteOutcome::NotFound);

    // Erased while its post is leased: the post's result has nothing left to update.
    assert_eq!(s.delete_job("acme", "j1").await.unwrap(), DeleteOutcome::Deleted);
    s.commit_post(late.id, 50_100, PostOutcome::Delivered { http_status: 200 }).await.unwrap();
    assert!(s.job_status("acme", "j1").await.unwrap().is_none());
    assert_eq!(s.delete_job("acme", "j1").await.unwrap(), DeleteOutcome::NotFound, "gone");
    assert!(s.message_content("j1m@x").await.unwrap().is_none());
    assert!(s.held_secret("j1m@x").await.unwrap().is_none());
    assert!(s.claim_post("d", 200_000, 60_000).await.unwrap().is_none());
    assert_eq!(s.next_post_due().await.unwrap(), None);
    assert_eq!(bounce(s, "j1m", 60_000).await, LateBounced::UnknownMessage);
    // The key is forgotten with the job: the same key and body make a new job.
    assert_eq!(s.submit(job("j2", Some(("key", 1)))).await.unwrap(), Submitted::Created);
    // The account's suppression list is the account's, not the job's: it stays.
    assert_eq!(s.suppressions("acme", 60_000).await.unwrap().len(), 1);
}

/// The purge erases jobs finished before the cutoff, oldest first, in bounded batches,
/// and never a job in flight.
pub async fn the_purge_erases_finished_jobs_before_the_cutoff_only(s: &dyn Store) {
    for (id, at) in [("old1", 2_000), ("old2", 3_000), ("old3", 4_000), ("recent", 9_000)] {
        finished_job(s, job(id, None), at).await;
    }
    let mut flying = job("flying", None);
    flying.received_ms = 1_500;
    s.submit(flying).await.unwrap();
    let Some(Work::Start(_)) = s.claim("w", 1_600, 60_000).await.unwrap() else { panic!("no job") };
    let effects = Effects { enqueued: vec![message("flyingm@x")], events: vec![] };
    s.commit_start("flying", 1_600, StartDecision::Queued(vec![]), effects).await.unwrap();

    assert_eq!(s.purge_finished(2_000, 10).await.unwrap(), 0, "finished at the cutoff: kept");
    assert_eq!(s.purge_finished(5_000, 2).await.unwrap(), 2, "one batch");
    assert!(s.job_status("acme", "old1").await.unwrap().is_none());
    assert!(s.job_status("acme", "old2").await.unwrap().is_none());
    assert!(s.job_status("acme", "old3").await.unwrap().is_some(), "beyond the batch");
    assert_eq!(s.purge_finished(5_000, 2).await.unwrap(), 1);
    assert_eq!(s.purge_finished(5_000, 2).await.unwrap(), 0, "idempotent");
    assert!(s.job_status("acme", "recent").await.unwrap().is_some());
    assert_eq!(bounce(s, "old1m", 6_000).await, LateBounced::UnknownMessage);
    assert_eq!(bounce(s, "recentm", 10_000).await, LateBounced::Recorded("recent".into()));

    assert_eq!(s.purge_finished(u64::MAX, 100).await.unwrap(), 1, "only the finished one");
    let report = s.job_status("acme", "flying").await.unwrap().expect("a job in flight is never purged");
    assert_eq!(report.state, JobState::Delivering);
    assert_eq!(s.held_secret("flyingm@x").await.unwrap().as_deref(), Some(&b"held password"[..]));
    assert_eq!(s.unfinished_jobs().await.unwrap(), 1);
}
