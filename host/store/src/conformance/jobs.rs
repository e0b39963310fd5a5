//! Backend-generic cases of a job's life: submission and idempotency, claims and leases,
//! commits, callback posts, and what concurrent nodes do.

use std::collections::HashSet;
use std::sync::Arc;

use super::fixtures::{CALLBACK_SETUP, decision, events, job, message, update, with_callbacks};
use crate::{
    ClaimedPost, DeliveryStatus, Effects, Event, EventKind, JobState, PasswordState, PostOutcome, PostState,
    RecipientUpdate, StartDecision, Store, Submitted, Work,
};

/// Replays and conflicts of `Idempotency-Key`s, scoped by account.
pub async fn idempotency_keys_replay_or_conflict_per_account(s: &dyn Store) {
    assert_eq!(s.submit(job("j1", Some(("k", 1)))).await.unwrap(), Submitted::Created);
    assert_eq!(s.submit(job("j2", Some(("k", 1)))).await.unwrap(), Submitted::Replay("j1".into()));
    assert_eq!(s.submit(job("j3", Some(("k", 2)))).await.unwrap(), Submitted::Conflict);
    let mut other = job("j4", Some(("k", 2)));
    other.account = "other".into();
    assert_eq!(s.submit(other).await.unwrap(), Submitted::Created);
    assert_eq!(s.unfinished_jobs().await.unwrap(), 2);
    assert!(s.job_status("other", "j1").await.unwrap().is_none(), "scoped by account");
    let report = s.job_status("acme", "j1").await.unwrap().unwrap();
    let addresses: Vec<_> = report.recipients.iter().map(|r| r.address.as_str()).collect();
    assert_eq!(addresses, ["a@x.example", "b@x.example"], "in submission order");
}

/// Claims, leases, a deferral and a bounce; secrets gone once the job is finished.
pub async fn a_job_runs_through_claims_and_commits_and_its_secrets_are_purged(s: &dyn Store) {
    s.submit(job("j1", None)).await.unwrap();
    let Some(Work::Start(claimed)) = s.claim("w1", 2_000, 60_000).await.unwrap() else { panic!("no job") };
    assert_eq!(claimed.request, b"{\"secret\":\"request body\"}");
    assert!(s.claim("w2", 2_001, 60_000).await.unwrap().is_none(), "leased");

    let event = Event {
        block: 0,
        recipient: "a@x.example".into(),
        kind: EventKind::ProcessingFinished,
        description: "q".into(),
    };
    let effects = Effects { enqueued: vec![message("m1@x", &["a@x.example", "b@x.example"])], events: vec![event] };
    assert!(!s.commit_start("j1", 2_000, StartDecision::Queued(vec![]), effects).await.unwrap());
    assert_eq!(s.held_secret("m1@x").await.unwrap().unwrap(), b"held password");
    assert_eq!(s.message_content("m1@x").await.unwrap().unwrap().0, "s@x.example");

    let Some(Work::Deliver(m)) = s.claim("w1", 3_000, 60_000).await.unwrap() else { panic!("no message") };
    assert_eq!((m.first_attempt_ms, m.recipients.len()), (3_000, 2));
    assert_eq!(m.recipients[0].address, "a@x.example", "recipients in order");
    let first = decision(
        vec![
            update("a@x.example", DeliveryStatus::Delivered, PasswordState::Queued),
            update("b@x.example", DeliveryStatus::Deferred, PasswordState::Pending),
        ],
        Some(10_000),
        false,
    );
    assert!(!s.commit_delivery("m1@x", 3_000, first, Effects::default()).await.unwrap());
    assert_eq!(s.next_due().await.unwrap(), Some(10_000));
    assert!(s.claim("w1", 9_999, 60_000).await.unwrap().is_none(), "not due before retry_at");
    let Some(Work::Deliver(m)) = s.claim("w1", 10_000, 60_000).await.unwrap() else { panic!("not due") };
    assert_eq!((m.attempts, m.first_attempt_ms), (1, 3_000));
    let last = decision(vec![update("b@x.example", DeliveryStatus::Bounced, PasswordState::NotTriggered)], None, true);
    assert!(s.commit_delivery("m1@x", 10_000, last, Effects::default()).await.unwrap(), "finished");
    assert!(s.held_secret("m1@x").await.unwrap().is_none());
    assert!(s.message_content("m1@x").await.unwrap().is_none());
    let report = s.job_status("acme", "j1").await.unwrap().unwrap();
    assert_eq!((report.state, report.finished_ms), (JobState::Finished, Some(10_000)));
    assert_eq!(report.events.len(), 1);
    assert_eq!(report.recipients[0].status, DeliveryStatus::Delivered);
    assert_eq!(report.recipients[1].password, PasswordState::NotTriggered);
    assert_eq!(s.unfinished_jobs().await.unwrap(), 0);
    assert_eq!(s.next_due().await.unwrap(), None);
}

/// A job's events go out in posts of at most the configured size, one job's posts in order.
pub async fn events_go_out_in_bounded_posts_one_job_in_order(s: &dyn Store) {
    s.submit(with_callbacks(job("j1", None))).await.unwrap();
    s.submit(job("j2", None)).await.unwrap();
    for id in ["j1", "j2"] {
        let Some(Work::Start(_)) = s.claim("w", 2_000, 60_000).await.unwrap() else { panic!("no job") };
        let kinds = [EventKind::ProcessingStarted, EventKind::ProcessingFailed, EventKind::PasswordMailNotTriggered];
        s.commit_start(id, 2_000, StartDecision::Dropped(vec![]), events(&kinds)).await.unwrap();
    }
    // Three events, two to a post: posts of 2 and 1; the job without an endpoint has none.
    assert_eq!(s.next_post_due().await.unwrap(), Some(2_000));
    let first = s.claim_post("d1", 2_000, 60_000).await.unwrap().expect("the first post");
    assert_eq!((first.job_id.as_str(), first.events.len(), first.tries), ("j1", 2, 0));
    assert_eq!(first.events[0].reference.as_deref(), Some("r1"), "the block's reference");
    assert_eq!(first.setup.as_slice(), CALLBACK_SETUP, "the setup comes back as it was stored");
    assert!(s.claim_post("d2", 2_000, 60_000).await.unwrap().is_none(), "the second post waits for the first");
    let retry = PostOutcome::Retry { at_ms: 5_000, http_status: Some(500), error: None };
    s.commit_post(first.id, 2_100, retry).await.unwrap();
    assert!(s.claim_post("d2", 4_999, 60_000).await.unwrap().is_none(), "nor while it waits for its retry");
    let again = s.claim_post("d1", 5_000, 60_000).await.unwrap().expect("retried");
    assert_eq!((again.id, again.tries), (first.id, 1));
    let seqs = |p: &ClaimedPost| p.events.iter().map(|e| e.event.seq).collect::<Vec<_>>();
    assert_eq!(seqs(&again), seqs(&first), "a post keeps its events");

    let report = s.job_status("acme", "j1").await.unwrap().unwrap();
    let n = report.events[0].notification.clone().expect("pushed");
    assert_eq!((n.state, n.tries, n.http_status), (PostState::Pending, 1, Some(500)));
    assert!(s.job_status("acme", "j2").await.unwrap().unwrap().events[0].notification.is_none());

    s.commit_post(again.id, 5_100, PostOutcome::Delivered { http_status: 204 }).await.unwrap();
    let last = s.claim_post("d1", 5_100, 60_000).await.unwrap().expect("the second post");
    assert_eq!(last.events.len(), 1);
    assert!(last.events[0].event.seq > *seqs(&first).last().unwrap());
    let failed = PostOutcome::Failed { http_status: Some(404), error: Some("gone".into()) };
    s.commit_post(last.id, 5_200, failed).await.unwrap();
    assert_eq!(s.next_post_due().await.unwrap(), None);
    let report = s.job_status("acme", "j1").await.unwrap().unwrap();
    let states: Vec<_> = report.events.iter().map(|e| e.notification.clone().unwrap().state).collect();
    assert_eq!(states, [PostState::Delivered, PostState::Delivered, PostState::Failed]);
    assert_eq!(report.events[2].notification.as_ref().unwrap().error.as_deref(), Some("gone"));
}

/// A start that drops every recipient (as the workflow's recovery decides for a job it could
/// not process): the recipients come back as submitted, in block order; the decision's final
/// states and events are recorded, and the job is finished.
pub async fn a_dropped_start_records_every_recipients_final_state_and_events(s: &dyn Store) {
    s.submit(job("j1", None)).await.unwrap();
    s.claim("w1", 2_000, 60_000).await.unwrap();
    let recipients = s.job_recipients("j1").await.unwrap();
    let addresses: Vec<_> = recipients.iter().map(|r| (r.block, r.address.as_str())).collect();
    assert_eq!(addresses, [(0, "a@x.example"), (0, "b@x.example")]);
    let mut effects = Effects::default();
    let mut updates = Vec::new();
    for r in &recipients {
        for kind in [EventKind::ProcessingFailed, EventKind::PasswordMailNotTriggered] {
            effects.events.push(Event {
                block: r.block,
                recipient: r.address.clone(),
                kind,
                description: "boom".into(),
            });
        }
        updates.push(RecipientUpdate {
            block: r.block,
            address: r.address.clone(),
            status: DeliveryStatus::Dropped,
            password: Some(PasswordState::NotTriggered),
            reply: None,
            detail: None,
        });
    }
    let finished = s.commit_start("j1", 2_000, StartDecision::Dropped(updates), effects).await.unwrap();
    assert!(finished);
    let report = s.job_status("acme", "j1").await.unwrap().unwrap();
    assert_eq!(report.state, JobState::Finished);
    assert!(report.recipients.iter().all(|r| r.status == DeliveryStatus::Dropped));
    assert!(report.recipients.iter().all(|r| r.password == PasswordState::NotTriggered));
    let kinds: Vec<_> = report.events.iter().map(|e| (e.recipient.as_str(), e.kind)).collect();
    assert_eq!(
        kinds,
        [
            ("a@x.example", EventKind::ProcessingFailed),
            ("a@x.example", EventKind::PasswordMailNotTriggered),
            ("b@x.example", EventKind::ProcessingFailed),
            ("b@x.example", EventKind::PasswordMailNotTriggered)
        ]
    );
}

/// A lease outlives its holder only until `lease_until`.
pub async fn leases_of_a_dead_worker_expire(s: &dyn Store) {
    s.submit(job("j1", None)).await.unwrap();
    assert!(s.claim("dead", 2_000, 1_000).await.unwrap().is_some());
    assert!(s.claim("w", 2_500, 1_000).await.unwrap().is_none());
    assert!(s.claim("w", 3_001, 1_000).await.unwrap().is_some(), "expired lease");
}

/// Many workers claiming at once (several nodes, with PostgreSQL) each get different work,
/// and together all of it.
pub async fn concurrent_claims_never_hand_out_the_same_work(s: Arc<dyn Store>) {
    const JOBS: usize = 40;
    for i in 0..JOBS {
        s.submit(job(&format!("j{i:02}"), None)).await.unwrap();
    }
    let workers: Vec<_> = (0..8)
        .map(|w| {
            let s = s.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                while let Some(work) = s.claim(&format!("w{w}"), 2_000, 60_000).await.unwrap() {
                    let Work::Start(job) = work else { panic!("only jobs are queued") };
                    got.push(job.id);
                }
                got
            })
        })
        .collect();
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await.unwrap());
    }
    let distinct: HashSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "a job was claimed twice: {all:?}");
    assert_eq!(all.len(), JOBS, "every job was claimed");
}

/// Two messages of one job completing at once: the job is finished by exactly one of them.
pub async fn concurrent_completions_finish_a_job_exactly_once(s: Arc<dyn Store>) {
    for round in 0..5 {
        let id = format!("j{round}");
        s.submit(job(&id, None)).await.unwrap();
        let Some(Work::Start(_)) = s.claim("w", 2_000, 60_000).await.unwrap() else { panic!("no job") };
        let (m1, m2) = (format!("{id}-1@x"), format!("{id}-2@x"));
        let effects =
            Effects { enqueued: vec![message(&m1, &["a@x.example"]), message(&m2, &["b@x.example"])], events: vec![] };
        s.commit_start(&id, 2_000, StartDecision::Queued(vec![]), effects).await.unwrap();
        for _ in 0..2 {
            let Some(Work::Deliver(_)) = s.claim("w", 2_000, 60_000).await.unwrap() else { panic!("no message") };
        }
        let commit = |m: String, address: &'static str| {
            let s = s.clone();
            tokio::spawn(async move {
                let done =
                    decision(vec![update(address, DeliveryStatus::Delivered, PasswordState::Queued)], None, false);
                s.commit_delivery(&m, 3_000, done, Effects::default()).await.unwrap()
            })
        };
        let (a, b) = (commit(m1, "a@x.example"), commit(m2, "b@x.example"));
        let finished = [a.await.unwrap(), b.await.unwrap()];
        assert_eq!(finished.iter().filter(|f| **f).count(), 1, "round {round}: {finished:?}");
        assert_eq!(s.job_status("acme", &id).await.unwrap().unwrap().state, JobState::Finished);
    }
}

/// Clients retrying one submission at once (to several nodes, with PostgreSQL): one job is
/// stored, every other submission replays it.
pub async fn concurrent_submissions_with_one_key_store_one_job(s: Arc<dyn Store>) {
    let submissions: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.submit(job(&format!("j{i}"), Some(("retried", 7)))).await.unwrap() })
        })
        .collect();
    let mut outcomes = Vec::new();
    for submission in submissions {
        outcomes.push(submission.await.unwrap());
    }
    let created = outcomes.iter().filter(|o| **o == Submitted::Created).count();
    assert_eq!(created, 1, "{outcomes:?}");
    assert_eq!(s.unfinished_jobs().await.unwrap(), 1, "{outcomes:?}");
    let stored =
        (0..8).map(|i| format!("j{i}")).find(|id| outcomes.iter().any(|o| *o == Submitted::Replay(id.clone())));
    let stored = stored.expect("the others replay the stored job");
    assert!(
        outcomes.iter().all(|o| *o == Submitted::Created || *o == Submitted::Replay(stored.clone())),
        "{outcomes:?}"
    );
}
