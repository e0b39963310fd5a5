//! Push notifications from outside (docs/callbacks.md): the real `sealmail` binary delivers
//! every event of a job as HTTP callbacks to a receiver the test starts
//! (`sealmail_test_support::Receiver`), and the tests read what arrived like a customer's endpoint would.
//!
//! What is proven: per recipient message, exactly the expected events in order (including the
//! one PASSWORD_MAIL event of a secure message), each body in the documented shape
//! (`docs/callbacks.schema.json`, checked with Python's `jsonschema`) and field by field; the
//! status API shows the same tags and each notification's delivery state; 5xx is retried
//! with the same tags, 404 is final, an endpoint that is down across a server restart still
//! gets everything; BASIC auth and custom headers arrive, the account's default endpoint is
//! used only when a request gives none; the Standard Webhooks signature verifies with the
//! `standardwebhooks` Python package (every secret of a rotation) and fails for a tampered
//! body; the SSRF guard refuses names that resolve to private addresses at delivery, does
//! not follow redirects and connects to the address it checked; and no callback carries the
//! password of a secure message or the endpoint's own password.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use mail_parser::MessageParser;
use sealmail_test_support::jobs::local_callbacks;
use sealmail_test_support::{
    ACCOUNT, Clamd, EICAR, OTHER_ACCOUNT, RcptRule, ReceivedRequest, Receiver, Reply, Sealmail, Signatures, SmtpServer,
    SmtpServerConfig, check_callback_schema, free_port, verify_webhook,
};
use serde_json::{Value, json};

/// Long enough for a debug build on a busy 2-core machine; a passing run needs seconds.
const DEADLINE: Duration = Duration::from_secs(60);
/// How long to watch for something that must not happen (more tries, a redirect target
/// being reached): a few retry intervals of the test configuration (1 s).
const QUIET_WINDOW: Duration = Duration::from_secs(3);

const SENDER: &str = "billing@sender.example";
/// The `From` header address, different from the envelope sender: `mail.mimeFrom`.
const MIME_FROM: &str = "invoices@sender.example";
/// Accepted at once.
const TO_OK: &str = "max@recipient.example";
/// Refused with 550 at every RCPT.
const TO_BOUNCED: &str = "gone@recipient.example";
const BLOCK_REFERENCE: &str = "block-ref-7";
const REFERENCE_JOB: &str = "ref-2026-11-0042";
const COST_CENTER: &str = "finance";
const CAMPAIGN_ID: &str = "invoices-nov";
const SUBJECT_PREFIX: &str = "Password for: ";
/// `very_high` (docs/secure-documents.md#password-types).
const PASSWORD_LEN: usize = 15;

/// Two Standard Webhooks secrets (a rotation) and one the server does not know.
const SECRET_A: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SECRET_B: &str = "whsec_c2VhbG1haWwtdGVzdC1zZWNvbmQtc2VjcmV0LTEyMzQ=";
const SECRET_UNKNOWN: &str = "whsec_dW5rbm93bi10by10aGUtc2VydmVyLTAxMjM0NTY3";

/// The BASIC credentials of a request's endpoint: the password must reach the endpoint in
/// `Authorization` only.
const HOOK_USER: &str = "hook-user";
const HOOK_PASSWORD: &str = "cb-Pa55word-7Qz9xK";

const STARTED: &str = "PROCESS/INITIAL/STARTED/PROCESSING_STARTED";
const FINISHED: &str = "PROCESS/INTERMEDIATE/PROCESSED/PROCESSING_FINISHED";
const DELIVERED: &str = "DELIVER/FINISHED/DELIVERED/OK";
const HARD_BOUNCE: &str = "DELIVER/FINISHED/BOUNCED/HARD_BOUNCE";
const VIRUS: &str = "PROCESS/FINISHED/DROPPED/VIRUS_DETECTED";
const PASSWORD_OK: &str = "TRIGGER/POST_DELIVERY/PASSWORD_MAIL/OK";
const PASSWORD_NOT_TRIGGERED: &str = "TRIGGER/POST_DELIVERY/PASSWORD_MAIL/NOT_TRIGGERED";

// ---------------------------------------------------------------------------------------
// Configuration and requests.

/// `[callbacks]` allow-listing the receivers' loopback address, with a fast, exact retry
/// schedule (5 tries, 1 s apart, no jitter), then `extra` lines of the same table.
fn callbacks(extra: &str) -> String {
    format!("{}timeout_secs = 5\n{extra}\n", local_callbacks(5))
}

/// `[transport]` to the test SMTP server in clear text and `[antivirus]` with one clamd.
fn relay_and_scanner(smtp: &SmtpServer, clamd: &Clamd) -> String {
    format!(
        "[transport]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nallow_insecure_smtp = true\n\n\
         [antivirus]\nscanners = [{:?}]\n\n",
        smtp.port(),
        clamd.tcp_address()
    )
}

/// `notification.endPoint` with only a URL.
fn endpoint(url: &str) -> Value {
    json!({ "url": url })
}

/// A secure job: one flagged attachment, one block `to` [`TO_OK`], [`TO_BOUNCED`] with a
/// reference, the job references, a `mimeFrom` and the callback `endpoint`.
fn secure_job(flagged: &[u8], endpoint: Value) -> Value {
    json!({
        "job": {
            "referenceJob": REFERENCE_JOB,
            "costCenter": COST_CENTER,
            "campaignId": CAMPAIGN_ID,
            "features": {
                "antivirus": { "active": true },
                "secureDocument": {
                    "active": true,
                    "filename": "Unterlagen",
                    "subjectPrefix": SUBJECT_PREFIX,
                    "password": { "type": "very_high" }
                }
            }
        },
        "mail": {
            "from": { "email": format!("Abrechnung <{SENDER}>") },
            "mimeFrom": { "email": format!("Rechnungen <{MIME_FROM}>") }
        },
        "subject": { "content": "Ihre Unterlagen" },
        "body": { "contentType": "text/plain", "content": "Anbei Ihre Unterlagen." },
        "attachments": [{
            "name": "Kontoauszug.txt",
            "contentType": "text/plain",
            "content": STANDARD.encode(flagged),
            "secureDocument": true
        }],
        "recipients": [{
            "mail": { "to": [{ "email": format!("Max Müller <{TO_OK}>") }, { "email": TO_BOUNCED }] },
            "reference": BLOCK_REFERENCE
        }],
        "notification": { "endPoint": endpoint }
    })
}

/// A plain job (no antivirus, no sealing) to `to`, with a callback endpoint when given; the
/// tests that use it deliver through the default outbox transport.
fn plain_job(to: &[&str], endpoint: Option<Value>) -> Value {
    let to: Vec<Value> = to.iter().map(|email| json!({ "email": email })).collect();
    let mut job = json!({
        "mail": { "from": { "email": SENDER } },
        "subject": { "content": "Hello" },
        "body": { "contentType": "text/plain", "content": "Hello there" },
        "recipients": [{ "mail": { "to": to } }]
    });
    if let Some(endpoint) = endpoint {
        job["notification"] = json!({ "endPoint": endpoint });
    }
    job
}

// ---------------------------------------------------------------------------------------
// Reading events: the status API's and the callbacks'.

/// `PHASE/STATE/TYPE/SUBTYPE` of an event object.
fn code(event: &Value) -> String {
    let field = |k: &str| event[k].as_str().unwrap_or("?").to_owned();
    format!("{}/{}/{}/{}", field("phase"), field("state"), field("type"), field("subType"))
}

/// The `tag` of a callback notification.
fn tag(notification: &Value) -> &str {
    notification["meta"]["tag"].as_str().unwrap_or_else(|| panic!("notification without a tag: {notification}"))
}

/// The recipient of a callback notification.
fn email(notification: &Value) -> &str {
    notification["meta"]["mail"]["email"].as_str().unwrap_or("?")
}

/// The event codes of one recipient's callback notifications, in arrival order.
fn codes_of(notifications: &[Value], recipient: &str) -> Vec<String> {
    notifications.iter().filter(|n| email(n) == recipient).map(|n| code(&n["meta"]["event"])).collect()
}

/// Every notification of every request answered with 2xx, in arrival order.
fn accepted_notifications(requests: &[ReceivedRequest]) -> Vec<Value> {
    requests.iter().filter(|r| r.accepted()).flat_map(ReceivedRequest::notifications).collect()
}

/// How many requests carried each tag (whatever they were answered).
fn tag_counts(requests: &[ReceivedRequest]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for tag in requests.iter().flat_map(ReceivedRequest::tags) {
        *counts.entry(tag).or_insert(0) += 1;
    }
    counts
}

/// The status report's events.
fn status_events(report: &Value) -> Vec<Value> {
    report["events"].as_array().unwrap_or_else(|| panic!("no events in the status report: {report:#}")).clone()
}

/// The status report's event with `tag`.
fn status_event<'a>(events: &'a [Value], tag: &str) -> &'a Value {
    events.iter().find(|e| e["tag"] == tag).unwrap_or_else(|| panic!("no status event with tag {tag}: {events:#?}"))
}

/// The job is finished and every one of its events has a notification in `state`.
fn all_notified(report: &Value, state: &str) -> bool {
    let events = report["events"].as_array().map(Vec::as_slice).unwrap_or_default();
    report["state"] == "FINISHED" && !events.is_empty() && events.iter().all(|e| e["notification"]["state"] == state)
}

/// Polls `GET /rest/v1/jobs/{id}` (as `account`) until `done(report)`; panics with the last
/// report and the end of the server log otherwise.
async fn wait_status(
    server: &Sealmail,
    account: (&str, &str),
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (code, report) = server.status_as(account, id).await;
        assert_eq!(code, 200, "status of {id}: {report}");
        if done(&report) {
            return report;
        }
        if Instant::now() > deadline {
            let logs = server.logs();
            let tail: Vec<&str> = logs.lines().rev().take(80).collect::<Vec<_>>().into_iter().rev().collect();
            panic!(
                "job {id}: not {what} after {DEADLINE:?}: {report:#}\n--- server log (end) ---\n{}",
                tail.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the job is finished and every event's notification is DELIVERED.
async fn wait_all_delivered(server: &Sealmail, account: (&str, &str), id: &str) -> Value {
    wait_status(server, account, id, "finished with every notification DELIVERED", |r| all_notified(r, "DELIVERED"))
        .await
}

/// What every callback request must be: a JSON POST to `path` in the documented shape, for
/// job `id`.
fn assert_well_formed(requests: &[ReceivedRequest], path: &str, id: &str) {
    assert!(!requests.is_empty(), "no callback arrived");
    for r in requests {
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", path), "{r:#?}");
        let content_type = r.header("content-type").unwrap_or_default();
        assert!(content_type.starts_with("application/json"), "Content-Type {content_type:?}: {r:#?}");
        let body = r.json();
        if let Err(why) = check_callback_schema(&body) {
            panic!("a callback body does not match docs/callbacks.schema.json:\n{why}\nbody: {body:#}");
        }
        assert_eq!(body["meta"]["jobId"], id, "{body:#}");
    }
}

/// Every callback notification matches the status API's event with the same tag (recipient,
/// code, time, description), and the two hold the same set of tags.
fn assert_match_status_events(notifications: &[Value], report: &Value) {
    let events = status_events(report);
    let job = report["jobId"].as_str().expect("jobId");
    for n in notifications {
        let t = tag(n);
        assert!(t.starts_with(&format!("{job}.")), "tag {t} is not <jobId>.<n>");
        let e = status_event(&events, t);
        let event = &n["meta"]["event"];
        assert_eq!(
            (email(n), code(event), event["ts"].as_str(), event["description"].as_str()),
            (e["email"].as_str().unwrap_or("?"), code(e), e["ts"].as_str(), e["description"].as_str()),
            "callback {n:#} differs from the status event {e:#}"
        );
    }
    let sent: BTreeSet<&str> = notifications.iter().map(tag).collect();
    let recorded: BTreeSet<&str> = events.iter().filter_map(|e| e["tag"].as_str()).collect();
    assert_eq!(sent, recorded, "the callbacks and the status API name different events");
    assert_eq!(recorded.len(), events.len(), "status events without a tag or with duplicate tags: {events:#?}");
}

/// Absence needs a window: waits [`QUIET_WINDOW`], then returns what the receiver has.
async fn after_quiet_window(receiver: &Receiver) -> Vec<ReceivedRequest> {
    tokio::time::sleep(QUIET_WINDOW).await;
    receiver.requests()
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

// ---------------------------------------------------------------------------------------
/// An SMTP server that refuses [`TO_BOUNCED`] for good (550) and accepts everyone else.
async fn smtp_refusing_bounced() -> SmtpServer {
    SmtpServer::start(SmtpServerConfig {
        rcpt_rules: vec![RcptRule::permanent(TO_BOUNCED, "550 5.1.1 User unknown")],
        ..SmtpServerConfig::default()
    })
    .await
}

// Tests.

/// A secure job with one delivered and one 550-rejected recipient: exactly the expected
/// events per recipient, in order, in the documented shape, field by field.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_job_sends_every_event_in_order_in_the_documented_shape() {
    let clamd = Clamd::start(Signatures::Eicar);
    let smtp = smtp_refusing_bounced().await;
    let receiver = Receiver::start().await;
    let server = Sealmail::start(&format!("{}{}", relay_and_scanner(&smtp, &clamd), callbacks(""))).await;
    let id = server.submit(&secure_job(b"Kontoauszug 4711", endpoint(&receiver.url("/hooks/acme")))).await;

    // Four events per recipient; then the status API must say every one was delivered.
    receiver.wait_for(|r| accepted_notifications(r).len() >= 8, DEADLINE).await;
    let report = wait_all_delivered(&server, ACCOUNT, &id).await;
    let requests = receiver.requests();
    assert_well_formed(&requests, "/hooks/acme", &id);
    assert!(requests.iter().all(|r| r.answered == 200), "the receiver answered 200 to all: {requests:#?}");

    // Exactly the expected events per recipient, in order, each once.
    let notifications = receiver.notifications();
    assert_eq!(
        codes_of(&notifications, TO_OK),
        [STARTED, FINISHED, DELIVERED, PASSWORD_OK],
        "{TO_OK}: {notifications:#?}"
    );
    assert_eq!(
        codes_of(&notifications, TO_BOUNCED),
        [STARTED, FINISHED, HARD_BOUNCE, PASSWORD_NOT_TRIGGERED],
        "{TO_BOUNCED}: {notifications:#?}"
    );
    assert_eq!(notifications.len(), 8, "events of nobody else: {notifications:#?}");
    for rcpt in [TO_OK, TO_BOUNCED] {
        let password_mail = codes_of(&notifications, rcpt).iter().filter(|c| c.contains("/PASSWORD_MAIL/")).count();
        assert_eq!(password_mail, 1, "{rcpt}: exactly one PASSWORD_MAIL event");
    }
    let bounce = notifications.iter().find(|n| code(&n["meta"]["event"]) == HARD_BOUNCE).expect("the bounce");
    let description = bounce["meta"]["event"]["description"].as_str().unwrap_or_default();
    assert!(description.contains("550"), "the bounce's description gives the server's reply: {description:?}");

    // `meta`, field by field: the same for every POST of the job.
    let expected_meta = json!({
        "version": "1.0",
        "jobId": id,
        "account": ACCOUNT.0,
        "customerNo": "1001",
        "receivedTs": report["receivedTs"],
        "referenceJob": REFERENCE_JOB,
        "costCenter": COST_CENTER,
        "campaignId": CAMPAIGN_ID,
    });
    for r in &requests {
        assert_eq!(r.json()["meta"], expected_meta, "the job's meta");
    }

    // `mail`, field by field; `mail.id` stable per recipient message, distinct across them.
    let mut ids = BTreeMap::new();
    for n in &notifications {
        let mail = &n["meta"]["mail"];
        let rcpt = email(n);
        let expected = json!({
            "id": mail["id"],
            "email": rcpt,
            "from": SENDER,
            "mimeFrom": MIME_FROM,
            "reference": BLOCK_REFERENCE,
        });
        assert_eq!(mail, &expected, "mail of {rcpt}");
        let mail_id = mail["id"].as_str().expect("mail.id").to_owned();
        let first = ids.entry(rcpt.to_owned()).or_insert_with(|| mail_id.clone());
        assert_eq!(*first, mail_id, "mail.id of {rcpt} changed");
    }
    assert_eq!(ids.len(), 2, "{ids:?}");
    assert_ne!(ids[TO_OK], ids[TO_BOUNCED], "mail.id must differ between recipients");

    // Tags unique; the status API holds the same events with the same tags, and shows each
    // notification delivered at the first try.
    let counts = tag_counts(&requests);
    assert!(counts.values().all(|&n| n == 1), "a tag was sent twice: {counts:?}");
    assert_match_status_events(&notifications, &report);
    for e in status_events(&report) {
        let n = &e["notification"];
        assert_eq!((n["state"].as_str(), n["tries"].as_u64()), (Some("DELIVERED"), Some(1)), "{e:#}");
        assert!(n["error"].is_null(), "{e:#}");
    }
}

/// EICAR → per recipient VIRUS_DETECTED then PASSWORD_MAIL/NOT_TRIGGERED, no DELIVER events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eicar_sends_virus_detected_then_not_triggered_and_no_delivery_events() {
    let clamd = Clamd::start(Signatures::Eicar);
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let receiver = Receiver::start().await;
    let server = Sealmail::start(&format!("{}{}", relay_and_scanner(&smtp, &clamd), callbacks(""))).await;
    let id = server.submit(&secure_job(EICAR, endpoint(&receiver.url("/virus")))).await;

    receiver.wait_for(|r| accepted_notifications(r).len() >= 6, DEADLINE).await;
    let report = wait_all_delivered(&server, ACCOUNT, &id).await;
    let requests = receiver.requests();
    assert_well_formed(&requests, "/virus", &id);
    let notifications = receiver.notifications();
    for rcpt in [TO_OK, TO_BOUNCED] {
        let codes = codes_of(&notifications, rcpt);
        assert_eq!(codes, [STARTED, VIRUS, PASSWORD_NOT_TRIGGERED], "{rcpt}: {notifications:#?}");
        assert!(!codes.iter().any(|c| c.starts_with("DELIVER/")), "{rcpt}: delivery events for a dropped job");
    }
    assert_eq!(notifications.len(), 6, "{notifications:#?}");
    for n in notifications.iter().filter(|n| code(&n["meta"]["event"]) == VIRUS) {
        let description = n["meta"]["event"]["description"].as_str().unwrap_or_default();
        assert!(description.contains("EICAR"), "the signature is named: {description:?}");
    }
    assert_match_status_events(&notifications, &report);
    assert!(smtp.received().is_empty(), "mail was sent for an infected job");
}

/// 500, 500, 500, then 200: the same POST (same tags, same `webhook-id`) four times, one
/// accepted; the status says DELIVERED after 4 tries. 404: final, one request per tag.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_are_retried_with_the_same_tags_and_404_is_final() {
    let retried = Receiver::start().await;
    retried.set_script(vec![Reply::Status(500), Reply::Status(500), Reply::Status(500)]);
    let refusing = Receiver::start().await;
    refusing.set_default(Reply::Status(404));
    let server = Sealmail::start_with_account(&callbacks(""), &format!("webhook_secrets = [\"{SECRET_A}\"]")).await;

    // --- 500 three times, then 200 ---------------------------------------------------------
    let id = server.submit(&plain_job(&[TO_OK], Some(endpoint(&retried.url("/flaky"))))).await;
    let requests = retried.wait_for(|r| r.len() >= 4, DEADLINE).await;
    let first_four = &requests[..4];
    assert_eq!(first_four.iter().map(|r| r.answered).collect::<Vec<_>>(), [500, 500, 500, 200]);
    let first_tags = first_four[0].tags();
    let webhook_id = first_four[0].header("webhook-id").map(str::to_owned);
    assert!(webhook_id.is_some(), "the account has a secret, so the POST is signed: {:#?}", first_four[0]);
    for r in first_four {
        assert_eq!(r.tags(), first_tags, "a retry must carry the same events: {requests:#?}");
        assert_eq!(r.header("webhook-id").map(str::to_owned), webhook_id, "webhook-id is stable across retries");
        verify_webhook(&[SECRET_A], &r.headers, &r.body).unwrap_or_else(|e| panic!("signature of a retry: {e}"));
    }
    let timestamps: Vec<u64> = first_four
        .iter()
        .map(|r| r.header("webhook-timestamp").and_then(|t| t.parse().ok()).expect("timestamp"))
        .collect();
    assert!(timestamps.windows(2).all(|w| w[0] <= w[1]), "each attempt is signed at its own time: {timestamps:?}");

    let report = wait_all_delivered(&server, ACCOUNT, &id).await;
    let requests = after_quiet_window(&retried).await;
    assert_well_formed(&requests, "/flaky", &id);
    let notifications = accepted_notifications(&requests);
    assert_eq!(codes_of(&notifications, TO_OK), [STARTED, FINISHED, DELIVERED], "{requests:#?}");
    assert_match_status_events(&notifications, &report);
    for t in &first_tags {
        let accepted = requests.iter().filter(|r| r.accepted() && r.tags().contains(t)).count();
        assert_eq!(accepted, 1, "{t} must be accepted exactly once: {requests:#?}");
        let sent = requests.iter().filter(|r| r.tags().contains(t)).count();
        assert_eq!(sent, 4, "{t}: three failures and one success, nothing after: {requests:#?}");
        let events = status_events(&report);
        let n = &status_event(&events, t)["notification"];
        assert_eq!((n["state"].as_str(), n["tries"].as_u64()), (Some("DELIVERED"), Some(4)), "{t}: {n}");
    }
    // A job without references: those keys are absent, not null.
    assert_eq!(
        requests[0].json()["meta"],
        json!({
            "version": "1.0", "jobId": id, "account": ACCOUNT.0, "customerNo": "1001",
            "receivedTs": report["receivedTs"]
        })
    );

    // --- 404: final at once -----------------------------------------------------------------
    let id = server.submit(&plain_job(&[TO_OK], Some(endpoint(&refusing.url("/gone"))))).await;
    let report =
        wait_status(&server, ACCOUNT, &id, "finished with every notification FAILED", |r| all_notified(r, "FAILED"))
            .await;
    let requests = after_quiet_window(&refusing).await;
    assert_well_formed(&requests, "/gone", &id);
    assert!(requests.iter().all(|r| r.answered == 404));
    let counts = tag_counts(&requests);
    for e in status_events(&report) {
        let t = e["tag"].as_str().unwrap_or_else(|| panic!("status event without a tag: {e:#}"));
        assert_eq!(counts.get(t), Some(&1), "{t} must be tried exactly once after a 404: {counts:?}");
        let n = &e["notification"];
        assert_eq!(
            (n["state"].as_str(), n["tries"].as_u64(), n["httpStatus"].as_u64()),
            (Some("FAILED"), Some(1), Some(404)),
            "{e:#}"
        );
    }
    assert_eq!(counts.len(), status_events(&report).len(), "{counts:?}");
}

/// The endpoint is down while the server is killed and restarted: the durable outbox
/// delivers everything afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn callbacks_survive_a_down_endpoint_and_a_server_crash() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}/later");
    let mut server = Sealmail::start(&callbacks("")).await;
    let id = server.submit(&plain_job(&[TO_OK], Some(endpoint(&url)))).await;
    wait_status(&server, ACCOUNT, &id, "showing a failed try of a PENDING notification", |report| {
        report["events"].as_array().is_some_and(|events| {
            events
                .iter()
                .any(|e| e["notification"]["state"] == "PENDING" && e["notification"]["tries"].as_u64() >= Some(1))
        })
    })
    .await;
    server.kill9();
    let receiver = Receiver::start_on(port).await;
    assert!(receiver.requests().is_empty());
    server.restart().await;

    let report = wait_all_delivered(&server, ACCOUNT, &id).await;
    let requests = receiver.requests();
    assert_well_formed(&requests, "/later", &id);
    let notifications = accepted_notifications(&requests);
    assert_eq!(codes_of(&notifications, TO_OK), [STARTED, FINISHED, DELIVERED], "{requests:#?}");
    assert_match_status_events(&notifications, &report);
    let counts = tag_counts(&requests);
    assert!(counts.values().all(|&n| n == 1), "each event once: {counts:?}");
}

/// BASIC auth and custom headers; two webhook secrets → two signatures, each verifying with
/// an independent implementation, none for a tampered body; the account's default endpoint
/// only for requests that give none, never mixed with a request's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_auth_headers_signatures_and_the_account_default() {
    let given = Receiver::start().await;
    let default = Receiver::start().await;
    let unsigned = Receiver::start().await;
    let account = format!(
        "webhook_secrets = [\"{SECRET_A}\", \"{SECRET_B}\"]\n\
         callback = {{ url = \"{}\", headers = {{ \"X-Default\" = \"d\" }}, user = \"default-user\", password = \"default-Pw-81\" }}",
        default.url("/default")
    );
    let server = Sealmail::start_with_account(&callbacks(""), &account).await;

    let with_endpoint = plain_job(
        &[TO_OK],
        Some(json!({
            "url": given.url("/given"),
            "headers": { "X-Api-Key": "k-123" },
            "authentication": { "method": "BASIC", "user": HOOK_USER, "password": HOOK_PASSWORD }
        })),
    );
    let id_given = server.submit(&with_endpoint).await;
    let id_default = server.submit(&plain_job(&[TO_OK], None)).await;
    // The other account has no secret and no customer number.
    let (status, body, _) = server
        .submit_raw(
            OTHER_ACCOUNT,
            serde_json::to_vec(&plain_job(&[TO_OK], Some(endpoint(&unsigned.url("/unsigned"))))).unwrap(),
            &[],
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let id_other = body["jobId"].as_str().expect("jobId").to_owned();

    wait_all_delivered(&server, ACCOUNT, &id_given).await;
    wait_all_delivered(&server, ACCOUNT, &id_default).await;
    wait_all_delivered(&server, OTHER_ACCOUNT, &id_other).await;

    // --- The request's endpoint: its auth and headers only, signed with both secrets --------
    let requests = given.requests();
    assert_well_formed(&requests, "/given", &id_given);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs();
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(basic(HOOK_USER, HOOK_PASSWORD).as_str()), "{r:#?}");
        assert_eq!(r.header("x-api-key"), Some("k-123"), "{r:#?}");
        assert_eq!(r.header("x-default"), None, "the account default's headers leaked in: {r:#?}");
        let signature = r.header("webhook-signature").unwrap_or_else(|| panic!("unsigned: {r:#?}"));
        let entries: Vec<&str> = signature.split(' ').collect();
        assert_eq!(entries.len(), 2, "one signature per secret: {signature:?}");
        assert!(entries.iter().all(|e| e.starts_with("v1,")), "{signature:?}");
        let timestamp: u64 = r.header("webhook-timestamp").and_then(|t| t.parse().ok()).expect("webhook-timestamp");
        assert!(timestamp.abs_diff(now) < 300, "webhook-timestamp {timestamp} is not the time of sending ({now})");
        verify_webhook(&[SECRET_A, SECRET_B], &r.headers, &r.body)
            .unwrap_or_else(|e| panic!("standardwebhooks does not verify the signature: {e}\n{r:#?}"));
        // The verifier can say no: a secret the server does not have, and one byte changed.
        let unknown = verify_webhook(&[SECRET_UNKNOWN], &r.headers, &r.body).expect_err("an unknown secret verifies");
        assert!(unknown.contains("No matching signature"), "{unknown}");
        let mut tampered = r.body.clone();
        let at = r.body_text().find("\"jobId\"").expect("jobId in the body") + 1;
        tampered[at] = b'J';
        let error = verify_webhook(&[SECRET_A], &r.headers, &tampered).expect_err("a tampered body verifies");
        assert!(error.contains("No matching signature"), "{error}");
    }
    let webhook_ids: Vec<&str> = requests.iter().filter_map(|r| r.header("webhook-id")).collect();
    let distinct: BTreeSet<&&str> = webhook_ids.iter().collect();
    assert_eq!(distinct.len(), webhook_ids.len(), "each POST has its own webhook-id: {webhook_ids:?}");

    // --- The account's default endpoint, whole, for the job without one ---------------------
    let requests = default.requests();
    assert_well_formed(&requests, "/default", &id_default);
    for r in &requests {
        assert_eq!(r.header("authorization"), Some(basic("default-user", "default-Pw-81").as_str()), "{r:#?}");
        assert_eq!(r.header("x-default"), Some("d"), "{r:#?}");
        assert_eq!(r.header("x-api-key"), None, "{r:#?}");
        verify_webhook(&[SECRET_A, SECRET_B], &r.headers, &r.body)
            .unwrap_or_else(|e| panic!("default endpoint: the signature does not verify: {e}"));
    }
    let codes = codes_of(&accepted_notifications(&requests), TO_OK);
    assert_eq!(codes, [STARTED, FINISHED, DELIVERED]);

    // --- An account without secrets: no signature headers; no customer number: null --------
    let requests = unsigned.requests();
    assert_well_formed(&requests, "/unsigned", &id_other);
    for r in &requests {
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature", "authorization", "x-default"] {
            assert_eq!(r.header(name), None, "{name} for an account without secrets or default: {r:#?}");
        }
        let meta = &r.json()["meta"];
        assert_eq!((meta["account"].as_str(), meta.get("customerNo")), (Some(OTHER_ACCOUNT.0), Some(&Value::Null)));
    }
}

/// On a server that allow-lists nothing, names that resolve to refused addresses are refused
/// when the callback is delivered: `localhost` by the system resolver, and a name the
/// resolver override maps to 10.0.0.1. The receiver listening there gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_resolving_to_refused_addresses_fail_at_delivery() {
    let receiver = Receiver::start().await;
    let server = Sealmail::start(
        "[callbacks]\ntries = 3\nearly_interval_secs = 1\nlate_interval_secs = 1\njitter = 0.0\ntimeout_secs = 2\n\
         resolver_overrides = { \"private.hooks.invalid\" = [\"10.0.0.1\"] }\n",
    )
    .await;
    let port = receiver.port();
    let cases = [
        (format!("http://localhost:{port}/local"), ["127.0.0.1", "::1"].as_slice()),
        (format!("http://private.hooks.invalid:{port}/private"), ["10.0.0.1"].as_slice()),
    ];
    for (url, refused) in cases {
        let id = server.submit(&plain_job(&[TO_OK], Some(endpoint(&url)))).await;
        let report = wait_status(&server, ACCOUNT, &id, "finished with every notification FAILED", |r| {
            all_notified(r, "FAILED")
        })
        .await;
        for e in status_events(&report) {
            let n = &e["notification"];
            let error = n["error"].as_str().unwrap_or_default();
            assert!(refused.iter().any(|a| error.contains(a)), "{url}: the error must name the refused address: {e:#}");
            assert!(n["httpStatus"].is_null(), "{url}: nothing answered: {e:#}");
            assert!(n["tries"].as_u64().is_some_and(|t| t <= 1), "{url}: a refused address is not retried: {e:#}");
        }
    }
    let requests = after_quiet_window(&receiver).await;
    assert!(requests.is_empty(), "the refused endpoint was reached: {requests:#?}");
}

/// On a server that allow-lists loopback: a redirect is not followed (FAILED with 302, the
/// target gets nothing), and a name mapped to 127.0.0.1 by the resolver override is
/// delivered there — `.invalid` never resolves, so the connection went to the checked
/// override address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed_and_the_checked_address_is_the_one_connected_to() {
    let named = Receiver::start().await;
    let redirecting = Receiver::start().await;
    let target = Receiver::start().await;
    redirecting.set_default(Reply::Redirect(302, target.url("/stolen")));
    let server = Sealmail::start(&callbacks("resolver_overrides = { \"hooks.invalid\" = [\"127.0.0.1\"] }")).await;

    let url = format!("http://hooks.invalid:{}/named", named.port());
    let id = server.submit(&plain_job(&[TO_OK], Some(endpoint(&url)))).await;
    let report = wait_all_delivered(&server, ACCOUNT, &id).await;
    let requests = named.requests();
    assert_well_formed(&requests, "/named", &id);
    let host = format!("hooks.invalid:{}", named.port());
    assert!(requests.iter().all(|r| r.header("host") == Some(host.as_str())), "Host {host}: {requests:#?}");
    assert_match_status_events(&accepted_notifications(&requests), &report);

    let id = server.submit(&plain_job(&[TO_OK], Some(endpoint(&redirecting.url("/redirect"))))).await;
    let report =
        wait_status(&server, ACCOUNT, &id, "finished with every notification FAILED", |r| all_notified(r, "FAILED"))
            .await;
    for e in status_events(&report) {
        assert_eq!(e["notification"]["httpStatus"], 302, "{e:#}");
    }
    let requests = after_quiet_window(&redirecting).await;
    assert_well_formed(&requests, "/redirect", &id);
    let counts = tag_counts(&requests);
    assert!(counts.values().all(|&n| n == 1), "a redirect is final: {counts:?}");
    assert!(target.requests().is_empty(), "the redirect was followed: {:#?}", target.requests());
}

// ---------------------------------------------------------------------------------------
// No password in any callback.

/// Plain and base64 (standard and URL-safe, at each of the three alignments inside a longer
/// text) forms of a secret, as `pipeline.rs` searches for them.
fn secret_forms(secret: &str) -> Vec<(String, String)> {
    let mut forms = vec![("plain".to_owned(), secret.to_owned())];
    for lead in 0..3usize {
        let mut bytes = vec![0u8; lead];
        bytes.extend_from_slice(secret.as_bytes());
        // Base64 character i carries bits [6i, 6i + 6); the secret holds [8 * lead, 8 * len).
        let start = (8 * lead).div_ceil(6);
        let end = 8 * bytes.len() / 6;
        for (alphabet, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
            forms.push((format!("{alphabet} after {lead} byte(s)"), engine.encode(&bytes)[start..end].to_owned()));
        }
    }
    forms
}

fn find_secret<'a>(haystack: &[u8], forms: &'a [(String, String)]) -> Option<&'a str> {
    forms
        .iter()
        .find(|(_, needle)| haystack.windows(needle.len()).any(|w| w == needle.as_bytes()))
        .map(|(form, _)| form.as_str())
}

/// The password of a password mail: the one line of its text that is a
/// [`PASSWORD_LEN`]-character alphanumeric token (docs/secure-documents.md#the-password-mail).
fn password_of(mail: &[u8]) -> String {
    let message = MessageParser::default().parse(mail).expect("mail-parser reads the password mail");
    let text = message.body_text(0).expect("the password mail has text");
    let tokens: Vec<&str> =
        text.lines().filter(|l| l.len() == PASSWORD_LEN && l.chars().all(|c| c.is_ascii_alphanumeric())).collect();
    assert_eq!(tokens.len(), 1, "one password line expected:\n{text}");
    tokens[0].to_owned()
}

/// Neither the password of the password mail nor the endpoint's BASIC password appears in
/// any callback body or header (but `Authorization`), retried ones included.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_callback_contains_a_password() {
    let clamd = Clamd::start(Signatures::Eicar);
    let smtp = smtp_refusing_bounced().await;
    let receiver = Receiver::start().await;
    receiver.set_script(vec![Reply::Status(500)]);
    let server = Sealmail::start_with_account(
        &format!("{}{}", relay_and_scanner(&smtp, &clamd), callbacks("")),
        &format!("webhook_secrets = [\"{SECRET_A}\"]"),
    )
    .await;
    let job = secure_job(
        b"Kontoauszug 4711",
        json!({
            "url": receiver.url("/secret"),
            "headers": { "X-Api-Key": "k-123" },
            "authentication": { "method": "BASIC", "user": HOOK_USER, "password": HOOK_PASSWORD }
        }),
    );
    let id = server.submit(&job).await;
    receiver.wait_for(|r| accepted_notifications(r).len() >= 8, DEADLINE).await;
    let report = wait_all_delivered(&server, ACCOUNT, &id).await;

    let mails = smtp.received();
    let password_mail = mails
        .iter()
        .find(|m| {
            let parsed = MessageParser::default().parse(&m.data);
            parsed.is_some_and(|p| p.subject().is_some_and(|s| s.starts_with(SUBJECT_PREFIX)))
        })
        .unwrap_or_else(|| panic!("no password mail among {} messages", mails.len()));
    let password = password_of(&password_mail.data);
    let password_forms = secret_forms(&password);
    let endpoint_forms = secret_forms(HOOK_PASSWORD);
    // The search can succeed: it finds each password where it belongs.
    assert!(find_secret(&password_mail.data, &password_forms).is_some(), "the search misses the password mail");

    let requests = receiver.requests();
    assert!(requests.iter().any(|r| r.answered == 500), "a retried POST is among those checked");
    assert_well_formed(&requests, "/secret", &id);
    for (i, r) in requests.iter().enumerate() {
        for (what, forms) in [("the mail password", &password_forms), ("the endpoint password", &endpoint_forms)] {
            if let Some(form) = find_secret(&r.body, forms) {
                panic!("{what} ({form}) is in the body of callback {i}: {}", r.body_text());
            }
            for (name, values) in &r.headers {
                if name == "authorization" {
                    continue;
                }
                for value in values {
                    if let Some(form) = find_secret(value.as_bytes(), forms) {
                        panic!("{what} ({form}) is in header {name} of callback {i}: {value:?}");
                    }
                }
            }
        }
        let authorization = r.header("authorization").unwrap_or_default();
        assert!(find_secret(authorization.as_bytes(), &endpoint_forms).is_some(), "the search misses Authorization");
    }
    // Nor does the status report or the log give the endpoint's password away.
    let report = serde_json::to_vec(&report).expect("JSON");
    assert_eq!(find_secret(&report, &endpoint_forms), None, "the endpoint password is in the status report");
    assert_eq!(find_secret(server.logs().as_bytes(), &endpoint_forms), None, "the endpoint password is in the log");
}
