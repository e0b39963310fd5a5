//! Tenant isolation from outside: the real `sealmail` binary with two
//! accounts, each with its own callback receiver and webhook secret, a real SMTP server that
//! refuses one address for good, and every API surface probed as the other account. Runs on
//! SQLite, and on PostgreSQL with `SEALMAIL_TEST_DATABASE=postgres` (`cargo xtask test`).
//!
//! What is proven, for accounts A (`acme`) and B (`beta`):
//! - status: A reading B's job gets the same `404` as for a job that does not exist — same
//!   status, headers and body (but for the id it asked for), and the same timing class — and
//!   B reads its own;
//! - erasure: A's `DELETE` of B's job, in progress or finished, is that same `404` and
//!   erases nothing;
//! - replay: the same `Idempotency-Key` with the same bytes in both accounts makes two jobs
//!   (B does not get A's job, nor an `Idempotent-Replayed`); A's key never blocks B's (no
//!   `409` for B's different body), and each account then replays its own job;
//! - suppression: B's bounced address is on B's list only; A's `GET` and `DELETE` of it are
//!   `404`s like any unlisted address, B's entry survives them, and A's next job to that
//!   address is attempted, not dropped as `PREVIOUSLY_BOUNCED`;
//! - callbacks: each receiver gets every event of its own account's jobs and nothing of the
//!   other's, each request says its account and verifies with its account's webhook secret,
//!   never with the other's — also when B's request names A's endpoint;
//! - rate limit: A's hourly limit reached leaves B's submissions untouched;
//! - `/metrics` (public, global) carries no job id, address or account name.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use sealmail_test_support::jobs::{local_callbacks, plain_relay};
use sealmail_test_support::report::events_of;
use sealmail_test_support::{
    ACCOUNT, RcptRule, ReceivedRequest, Receiver, Sealmail, SmtpServer, SmtpServerConfig, verify_webhook,
};
use serde_json::{Value, json};

/// Long enough for a debug build on a busy 2-core machine; a passing run needs seconds.
const DEADLINE: Duration = Duration::from_secs(60);

/// Account A is the harness's [`ACCOUNT`]; B is declared in the test's configuration.
const A: (&str, &str) = ACCOUNT;
const B: (&str, &str) = ("beta", "beta-secret-0123456789abcdef0123456789ab");
const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_B: &str = "whsec_c2VhbG1haWwtdGVzdC1zZWNvbmQtc2VjcmV0LTEyMzQ=";
/// A's recipients per hour: exactly what the test submits as A before probing the limit.
const A_PER_HOUR: u64 = 4;

const TO_A: &str = "anna@recipient.example";
const TO_B: &str = "bert@recipient.example";
/// Refused with 550 at every RCPT.
const TO_BOUNCED: &str = "gone@recipient.example";
const HARD_BOUNCE: &str = "DELIVER/FINISHED/BOUNCED/HARD_BOUNCE";
const PREVIOUSLY_BOUNCED: &str = "PRE_PROCESS/FINISHED/DROPPED/PREVIOUSLY_BOUNCED";

/// A plain job (no scan, no sealing) from `subject` to `to`.
fn job(subject: &str, to: &[&str]) -> Vec<u8> {
    let to: Vec<Value> = to.iter().map(|email| json!({ "email": email })).collect();
    serde_json::to_vec(&json!({
        "mail": { "from": { "email": "billing@sender.example" } },
        "subject": { "content": subject },
        "body": { "contentType": "text/plain", "content": "Hello there" },
        "recipients": [{ "mail": { "to": to } }]
    }))
    .expect("JSON")
}

/// `POST /rest/v1/jobs` as `account`, with `Idempotency-Key: key` if given: status, the
/// `jobId` (if any), whether it was a replay, and the body.
async fn submit(
    server: &Sealmail,
    account: (&str, &str),
    body: Vec<u8>,
    key: Option<&str>,
) -> (u16, String, bool, Value) {
    let headers: Vec<(&str, &str)> = key.map(|k| ("idempotency-key", k)).into_iter().collect();
    let (code, body, headers) = server.submit_raw(account, body, &headers).await;
    let id = body["jobId"].as_str().unwrap_or_default().to_owned();
    let replayed = headers.get("idempotent-replayed").is_some_and(|v| v == "true");
    (code, id, replayed, body)
}

/// Polls `account`'s status report of `id` until the job is finished and every event's
/// callback is `DELIVERED`.
async fn wait_notified(server: &Sealmail, account: (&str, &str), id: &str) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (code, report) = server.status_as(account, id).await;
        assert_eq!(code, 200, "{}'s job {id}: {report}", account.0);
        let events = report["events"].as_array().cloned().unwrap_or_default();
        if report["state"] == "FINISHED" && events.iter().all(|e| e["notification"]["state"] == "DELIVERED") {
            return report;
        }
        assert!(Instant::now() < deadline, "job {id} not finished and notified: {report:#}\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The tags of every event of a status report.
fn report_tags(report: &Value) -> BTreeSet<String> {
    report["events"].as_array().unwrap().iter().map(|e| e["tag"].as_str().unwrap().to_owned()).collect()
}

/// The tags a receiver got.
fn received_tags(requests: &[ReceivedRequest]) -> BTreeSet<String> {
    requests.iter().flat_map(ReceivedRequest::tags).collect()
}

/// `GET path` as `account`: status, `Content-Type`, `Content-Length`, body text, duration.
async fn probe(
    client: &reqwest::Client,
    server: &Sealmail,
    path: &str,
    account: (&str, &str),
) -> (u16, String, String, String, Duration) {
    let started = Instant::now();
    let response = client
        .get(format!("{}{path}", server.base_url))
        .basic_auth(account.0, Some(account.1))
        .send()
        .await
        .expect("GET");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let (code, content_type, length) = (response.status().as_u16(), header("content-type"), header("content-length"));
    let text = response.text().await.expect("body");
    (code, content_type, length, text, started.elapsed())
}

/// A job id no account has.
const UNKNOWN_JOB: &str = "3f2b8c1e-0000-4000-8000-000000000000";

/// `DELETE /rest/v1/jobs/{id}` as `account`: status and body, with the id written `<id>`.
async fn delete_as(server: &Sealmail, account: (&str, &str), id: &str) -> (u16, String) {
    let (code, _, body) = server.call(Method::DELETE, &format!("/rest/v1/jobs/{id}"), account).await;
    (code, body.to_string().replace(id, "<id>"))
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::test]
async fn two_accounts_on_one_server_share_nothing() {
    let smtp = SmtpServer::start(SmtpServerConfig {
        rcpt_rules: vec![RcptRule::permanent(TO_BOUNCED, "550 5.1.1 <gone@recipient.example>: no such user")],
        ..Default::default()
    })
    .await;
    let (hooks_a, hooks_b) = (Receiver::start().await, Receiver::start().await);
    let config = format!("{}\n{}timeout_secs = 5\n", plain_relay(smtp.port(), 10), local_callbacks(5));
    // A's own settings, then account B as a table of its own (the harness's `[[accounts]]`
    // of A ends where B's begins).
    let accounts = format!(
        "recipients_per_hour = {A_PER_HOUR}\nwebhook_secrets = [\"{SECRET_A}\"]\ncallback = {{ url = \"{}\" }}\n\n\
         [[accounts]]\nname = \"{}\"\nsecret = \"{}\"\ncustomer_no = \"2002\"\nwebhook_secrets = [\"{SECRET_B}\"]\n\
         callback = {{ url = \"{}\" }}\n",
        hooks_a.url("/a"),
        B.0,
        B.1,
        hooks_b.url("/b"),
    );
    let server = Sealmail::start_with_account(&config, &accounts).await;
    let client = reqwest::Client::new();

    // --- Replay: one key, the same bytes, two accounts: two jobs.
    let same = job("Statement", &[TO_A]);
    let (code, a1, replayed, body) = submit(&server, A, same.clone(), Some("key-1")).await;
    assert_eq!((code, replayed), (202, false), "{body}");
    let (code, b1, replayed, body) = submit(&server, B, same.clone(), Some("key-1")).await;
    assert_eq!((code, replayed), (202, false), "B's first use of the key is a new job, not A's: {body}");
    assert_ne!(a1, b1, "B got A's job");
    // A's key with a different body in B is B's own first use (no 409 from A's use).
    let (code, a2, _, body) = submit(&server, A, job("Invoice", &[TO_A]), Some("key-2")).await;
    assert_eq!(code, 202, "{body}");
    let (code, b2, replayed, body) = submit(&server, B, job("Reminder", &[TO_B, TO_BOUNCED]), Some("key-2")).await;
    assert_eq!((code, replayed), (202, false), "A's key blocked B's: {body}");
    // Each account replays its own job.
    for (account, body, key, first) in [
        (A, same.clone(), "key-1", &a1),
        (B, same.clone(), "key-1", &b1),
        (A, job("Invoice", &[TO_A]), "key-2", &a2),
        (B, job("Reminder", &[TO_B, TO_BOUNCED]), "key-2", &b2),
    ] {
        let (code, id, replayed, answer) = submit(&server, account, body, Some(key)).await;
        assert_eq!((code, id.as_str(), replayed), (202, first.as_str(), true), "{} {key}: {answer}", account.0);
    }

    // B may name any endpoint in its request, A's too: what arrives there is B's, signed with
    // B's secret, so A's receiver can tell it is not A's.
    let mut spoof: Value = serde_json::from_slice(&job("Aimed at A", &[TO_B])).unwrap();
    spoof["notification"] = json!({ "endPoint": { "url": hooks_a.url("/from-beta") } });
    let (code, b3, _, body) = submit(&server, B, serde_json::to_vec(&spoof).unwrap(), None).await;
    assert_eq!(code, 202, "{body}");
    // Erasure: A's DELETE of B's job in progress is the 404 of no job (not B's 409).
    let no_job = delete_as(&server, A, UNKNOWN_JOB).await;
    assert_eq!(no_job.0, 404, "{no_job:?}");
    assert_eq!(delete_as(&server, A, &b3).await, no_job, "A's DELETE of B's job in progress");

    // --- Status: B's job is a 404 for A, exactly like a job that does not exist.
    let unknown = UNKNOWN_JOB;
    let (code, _, _, own, _) = probe(&client, &server, &format!("/rest/v1/jobs/{b1}"), B).await;
    assert_eq!(code, 200, "{own}");
    let mut theirs = Vec::new();
    let mut nobodys = Vec::new();
    for _ in 0..15 {
        theirs.push(probe(&client, &server, &format!("/rest/v1/jobs/{b1}"), A).await);
        nobodys.push(probe(&client, &server, &format!("/rest/v1/jobs/{unknown}"), A).await);
    }
    let (code, content_type, length, text, _) = &theirs[0];
    assert_eq!(*code, 404, "A read B's job: {text}");
    assert!(!text.contains(TO_A) && !text.contains(TO_B) && !text.contains("Statement"), "{text}");
    let (n_code, n_type, n_length, n_text, _) = &nobodys[0];
    assert_eq!(
        (code, content_type, length, text.replace(&b1, "<id>")),
        (n_code, n_type, n_length, n_text.replace(unknown, "<id>")),
        "another account's job answers differently from a missing one"
    );
    let (their_time, nobody_time) =
        (median(theirs.iter().map(|p| p.4).collect()), median(nobodys.iter().map(|p| p.4).collect()));
    eprintln!("GET of B's job as A: median {their_time:?}; of no job: {nobody_time:?}");
    // The same work (one indexed lookup that finds nothing for A): medians within noise.
    let gap = their_time.abs_diff(nobody_time);
    assert!(gap < Duration::from_millis(25), "timing differs: B's job {their_time:?}, no job {nobody_time:?}");

    // --- Callbacks: each receiver gets all of its account's events and nothing else.
    let (mut tags_a, mut tags_b) = (BTreeSet::new(), BTreeSet::new());
    for id in [&a1, &a2] {
        tags_a.extend(report_tags(&wait_notified(&server, A, id).await));
    }
    for id in [&b1, &b2] {
        let report = wait_notified(&server, B, id).await;
        tags_b.extend(report_tags(&report));
        if id == &b2 {
            assert!(events_of(&report, TO_BOUNCED).contains(&HARD_BOUNCE.to_owned()), "{report}");
        }
    }
    let tags_spoof = report_tags(&wait_notified(&server, B, &b3).await);
    let at = |path: &'static str| move |r: &ReceivedRequest| r.path == path;
    let everything_at_a: BTreeSet<String> = tags_a.union(&tags_spoof).cloned().collect();
    let received = hooks_a.wait_for(|r| received_tags(r).is_superset(&everything_at_a), DEADLINE).await;
    let (got_a, to_a_from_b): (Vec<_>, Vec<_>) = received.into_iter().partition(at("/a"));
    assert!(to_a_from_b.iter().all(at("/from-beta")), "{to_a_from_b:#?}");
    assert_eq!(received_tags(&to_a_from_b), tags_spoof);
    for r in &to_a_from_b {
        assert_eq!(r.json()["meta"]["account"], B.0);
        verify_webhook(&[SECRET_B], &r.headers, &r.body).expect("signed by B");
        assert!(verify_webhook(&[SECRET_A], &r.headers, &r.body).is_err(), "B's callback verifies as A's");
    }
    let got_b = hooks_b.wait_for(|r| received_tags(r).is_superset(&tags_b), DEADLINE).await;
    assert_eq!(received_tags(&got_a), tags_a, "A's receiver got something that is not A's");
    assert_eq!(received_tags(&got_b), tags_b, "B's receiver got something that is not B's");
    for (requests, account, jobs, own, other) in
        [(&got_a, A.0, [&a1, &a2], SECRET_A, SECRET_B), (&got_b, B.0, [&b1, &b2], SECRET_B, SECRET_A)]
    {
        for r in requests {
            let body = r.json();
            assert_eq!(body["meta"]["account"], account, "{body:#}");
            assert!(jobs.iter().any(|j| body["meta"]["jobId"] == j.as_str()), "{body:#}");
            verify_webhook(&[own], &r.headers, &r.body)
                .unwrap_or_else(|e| panic!("{account}'s callback is not signed with its secret: {e}"));
            assert!(
                verify_webhook(&[other], &r.headers, &r.body).is_err(),
                "{account}'s callback verifies with the other's secret"
            );
        }
    }

    // --- Erasure of finished jobs: A's DELETE is the 404 of no job and erases nothing of B's.
    for id in [&b1, &b2, &b3] {
        assert_eq!(delete_as(&server, A, id).await, no_job, "A's DELETE of B's finished job {id}");
        assert_eq!(server.status_as(B, id).await.0, 200, "A's DELETE erased B's job {id}");
    }

    // --- Suppression: B's entry is invisible and untouchable for A.
    let entry = format!("/rest/v1/suppressions/{TO_BOUNCED}");
    let (code, _, list) = server.call(Method::GET, "/rest/v1/suppressions", B).await;
    assert_eq!(code, 200, "{list}");
    let listed: Vec<&str> =
        list["suppressions"].as_array().unwrap().iter().filter_map(|e| e["email"].as_str()).collect();
    assert_eq!(listed, [TO_BOUNCED], "{list}");
    let (code, _, list) = server.call(Method::GET, "/rest/v1/suppressions", A).await;
    assert_eq!((code, list["suppressions"].as_array().map(Vec::len)), (200, Some(0)), "A sees B's list: {list}");
    let never = "never-listed@recipient.example";
    for method in [Method::GET, Method::DELETE] {
        let (code, _, body) = server.call(method.clone(), &entry, A).await;
        let (n_code, _, n_body) = server.call(method.clone(), &format!("/rest/v1/suppressions/{never}"), A).await;
        assert_eq!(code, 404, "{method} of B's entry as A: {body}");
        assert_eq!(
            (code, body.to_string().replace(TO_BOUNCED, "<a>")),
            (n_code, n_body.to_string().replace(never, "<a>")),
            "{method}: B's entry answers differently from an unlisted address"
        );
    }
    let (code, _, kept) = server.call(Method::GET, &entry, B).await;
    assert_eq!((code, kept["email"].as_str()), (200, Some(TO_BOUNCED)), "A's DELETE removed B's entry: {kept}");
    // A's job to that address is attempted (and bounces for A), not dropped for B's bounce.
    let (code, a3, _, body) = submit(&server, A, job("Notice", &[TO_BOUNCED]), None).await;
    assert_eq!(code, 202, "{body}");
    let report = wait_notified(&server, A, &a3).await;
    let events = events_of(&report, TO_BOUNCED);
    assert!(events.contains(&HARD_BOUNCE.to_owned()) && !events.contains(&PREVIOUSLY_BOUNCED.to_owned()), "{report}");

    // --- Rate limit: A has counted 3 recipients (a1, a2, a3; replays count nothing).
    let (code, _, _, body) = submit(&server, A, job("One more", &[TO_A]), None).await;
    assert_eq!(code, 202, "the 4th of A's {A_PER_HOUR} recipients: {body}");
    let (code, _, _, body) = submit(&server, A, job("Too many", &[TO_A]), None).await;
    assert_eq!((code, body["code"].as_str()), (429, Some("LIMIT_EXCEEDED")), "{body}");
    let (code, _, _, body) = submit(&server, B, job("B goes on", &[TO_B]), None).await;
    assert_eq!(code, 202, "A's limit held B back: {body}");

    // --- /metrics: counts only.
    let metrics = client.get(format!("{}/metrics", server.base_url)).send().await.expect("GET /metrics");
    assert_eq!(metrics.status().as_u16(), 200);
    let metrics = metrics.text().await.expect("body");
    assert!(metrics.contains("sealmail_jobs_accepted"), "{metrics}");
    for secret in [&a1, &a2, &a3, &b1, &b2, &b3] {
        assert!(!metrics.contains(secret.as_str()), "/metrics names job {secret}");
    }
    for word in ["recipient.example", "sender.example", "@", A.0, B.0, "key-1"] {
        assert!(!metrics.contains(word), "/metrics contains {word:?}:\n{metrics}");
    }
}
