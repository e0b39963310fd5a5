//! The REST API from outside (docs/service.md#the-api): the real `sealmail serve` process answered over
//! HTTP like a client would see it — authentication (401 with a Basic challenge), account
//! isolation (404, never 403), `Idempotency-Key` replays and conflicts, content type (415),
//! body size (413), validation problems with JSON paths (400), health endpoints, and
//! back-pressure (503 with `Retry-After` once too many jobs are in flight), and the SSRF
//! guard's check of literal callback addresses at submission.

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::header::{HeaderMap, WWW_AUTHENTICATE};
use sealmail_test_support::{ACCOUNT, OTHER_ACCOUNT, Sealmail, SmtpServer, SmtpServerConfig, jobs};
use serde_json::{Value, json};

/// Generous: two cores shared with the server and the other tests of this file.
const FINISH: Duration = Duration::from_secs(30);

/// A plain (non-secure) job to one recipient.
fn plain_job(subject: &str, to: &str) -> Value {
    json!({
        "mail": { "from": { "email": "Sender <sender@sender.example>" } },
        "subject": { "content": subject },
        "body": { "contentType": "text/plain", "content": "Hello there" },
        "recipients": [ { "mail": { "to": [ { "email": format!("Recipient <{to}>") } ] } } ],
    })
}

/// `[transport]` for a plain SMTP relay on `port` (no TLS: a local test server).
fn relay(port: u16) -> String {
    jobs::plain_relay(port, 5)
}

/// A raw HTTP client, for requests the harness' helpers cannot express (other content types,
/// broken credentials).
fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client")
}

/// `Authorization: Basic base64(user:secret)` built by hand, for schemes reqwest will not send.
fn basic(user: &str, secret: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{secret}")))
}

async fn response_parts(response: reqwest::Response) -> (u16, HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, headers, body)
}

/// The sorted keys of a JSON object (the "shape" of an error body).
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

fn assert_challenge(what: &str, status: u16, headers: &HeaderMap, body: &Value) {
    assert_eq!(status, 401, "{what}: {body}");
    let challenge = headers.get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(challenge.starts_with("Basic "), "{what}: WWW-Authenticate is {challenge:?}");
    assert!(challenge.contains("realm="), "{what}: WWW-Authenticate is {challenge:?}");
    assert_eq!(body["code"], "UNAUTHORIZED", "{what}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_get_401_with_a_basic_challenge() {
    let server = Sealmail::start("").await;
    let body = serde_json::to_vec(&plain_job("Hello", "rcpt@recipient.example")).unwrap();
    let jobs = format!("{}/rest/v1/jobs", server.base_url);
    let status_url = format!("{}/rest/v1/jobs/00000000-0000-4000-8000-000000000000", server.base_url);
    let cases: [(&str, Option<String>); 6] = [
        ("bad secret", Some(basic(ACCOUNT.0, "not-the-secret-0123456789abcdef0123456"))),
        ("other account's secret", Some(basic(ACCOUNT.0, OTHER_ACCOUNT.1))),
        ("unknown account", Some(basic("nobody", ACCOUNT.1))),
        ("no header", None),
        ("bearer scheme", Some(format!("Bearer {}", ACCOUNT.1))),
        ("basic without a colon", Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("acme")))),
    ];
    let http = client();
    for (what, authorization) in &cases {
        let mut post = http.post(&jobs).header("content-type", "application/json").body(body.clone());
        let mut get = http.get(&status_url);
        if let Some(a) = authorization {
            post = post.header("authorization", a);
            get = get.header("authorization", a);
        }
        let (status, headers, reply) = response_parts(post.send().await.expect("POST")).await;
        assert_challenge(&format!("POST, {what}"), status, &headers, &reply);
        let (status, headers, reply) = response_parts(get.send().await.expect("GET")).await;
        assert_challenge(&format!("GET, {what}"), status, &headers, &reply);
    }
    // The right credentials pass, so the refusals above were about the credentials.
    let (status, _, reply) = response_parts(
        http.post(&jobs)
            .header("content-type", "application/json")
            .header("authorization", basic(ACCOUNT.0, ACCOUNT.1))
            .body(body)
            .send()
            .await
            .expect("POST"),
    )
    .await;
    assert_eq!(status, 202, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_job_is_404_exactly_like_a_missing_one() {
    let server = Sealmail::start("").await;
    let id = server.submit(&plain_job("Private", "rcpt@recipient.example")).await;

    let (own, report) = server.status_as(ACCOUNT, &id).await;
    assert_eq!(own, 200, "{report}");
    assert_eq!(report["jobId"], id.as_str());

    let (foreign, foreign_body) = server.status_as(OTHER_ACCOUNT, &id).await;
    assert_eq!(foreign, 404, "another account's job must be 404: {foreign_body}");
    let (missing, missing_body) = server.status_as(OTHER_ACCOUNT, "3f2b8c1e-0000-4000-8000-000000000000").await;
    assert_eq!(missing, 404, "{missing_body}");
    let (garbage, garbage_body) = server.status_as(ACCOUNT, "not-a-job-id").await;
    assert_eq!(garbage, 404, "{garbage_body}");

    assert_eq!(keys(&foreign_body), keys(&missing_body), "{foreign_body} vs {missing_body}");
    assert_eq!(foreign_body["code"], missing_body["code"]);
    assert_eq!(foreign_body["code"], "NOT_FOUND");
    // Nothing of the job leaks into the refusal.
    let text = foreign_body.to_string();
    for leak in ["recipient.example", "Private", "state", "recipients"] {
        assert!(!text.contains(leak), "the 404 body reveals {leak:?}: {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_key_replays_conflicts_and_is_per_account() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Sealmail::start(&relay(smtp.port())).await;
    let body = serde_json::to_vec(&plain_job("Once only", "once@recipient.example")).unwrap();
    let key = [("Idempotency-Key", "order-4711")];

    let (first, first_body, first_headers) = server.submit_raw(ACCOUNT, body.clone(), &key).await;
    assert_eq!(first, 202, "{first_body}");
    let id = first_body["jobId"].as_str().expect("jobId").to_owned();
    assert_eq!(first_body["meta"]["jobId"], id.as_str());
    let location = first_headers.get("location").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(location.ends_with(&format!("/rest/v1/jobs/{id}")), "Location {location:?}");

    let (replay, replay_body, _) = server.submit_raw(ACCOUNT, body.clone(), &key).await;
    assert_eq!(replay, 202, "{replay_body}");
    assert_eq!(replay_body["jobId"], id.as_str(), "an identical replay returns the first jobId");

    let mut other_body = plain_job("Once only", "once@recipient.example");
    other_body["subject"]["content"] = json!("Something else");
    let (conflict, conflict_body, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&other_body).unwrap(), &key).await;
    assert_eq!(conflict, 409, "same key, different body: {conflict_body}");
    // Byte-level identity: the same JSON with other whitespace is a different body too.
    let mut spaced = body.clone();
    spaced.push(b'\n');
    let (conflict, conflict_body, _) = server.submit_raw(ACCOUNT, spaced, &key).await;
    assert_eq!(conflict, 409, "the body hash covers the raw bytes: {conflict_body}");

    let (other, other_account_body, _) = server.submit_raw(OTHER_ACCOUNT, body.clone(), &key).await;
    assert_eq!(other, 202, "the other account's key space is its own: {other_account_body}");
    let other_id = other_account_body["jobId"].as_str().expect("jobId").to_owned();
    assert_ne!(other_id, id);
    // The conflict did not disturb the first registration.
    let (again, again_body, _) = server.submit_raw(ACCOUNT, body, &key).await;
    assert_eq!((again, again_body["jobId"].as_str()), (202, Some(id.as_str())), "{again_body}");

    let report = server.wait_finished(&id, FINISH).await;
    assert_eq!(report["recipients"].as_array().map(Vec::len), Some(1), "{report:#}");
    assert_eq!(report["recipients"][0]["status"], "OK", "{report:#}");
    let (code, other_report) = server.status_as(OTHER_ACCOUNT, &other_id).await;
    assert_eq!(code, 200, "{other_report}");
    // Exactly two jobs exist (one per account): two mails arrive, and no third one follows.
    smtp.wait_for(2, FINISH).await;
    let deadline = Instant::now() + FINISH;
    while server.status_as(OTHER_ACCOUNT, &other_id).await.1["state"] != "FINISHED" {
        assert!(Instant::now() < deadline, "the other account's job did not finish:\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = smtp.received();
    assert_eq!(received.len(), 2, "one mail per account, replays send nothing: {:?}", rcpts(&received));
}

fn rcpts(mails: &[sealmail_test_support::ReceivedMail]) -> Vec<(u64, Vec<String>)> {
    mails.iter().map(|m| (m.seq, m.rcpt_to.clone())).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_content_type_is_415() {
    let server = Sealmail::start("").await;
    let body = serde_json::to_vec(&plain_job("Hello", "rcpt@recipient.example")).unwrap();
    let http = client();
    let jobs = format!("{}/rest/v1/jobs", server.base_url);
    for content_type in [Some("text/plain"), Some("application/x-www-form-urlencoded"), None] {
        let mut request = http.post(&jobs).basic_auth(ACCOUNT.0, Some(ACCOUNT.1)).body(body.clone());
        if let Some(ct) = content_type {
            request = request.header("content-type", ct);
        }
        let (status, _, reply) = response_parts(request.send().await.expect("POST")).await;
        assert_eq!(status, 415, "Content-Type {content_type:?}: {reply}");
    }
    // The same bytes as JSON are fine, also with an explicit UTF-8 charset.
    let request = http
        .post(&jobs)
        .basic_auth(ACCOUNT.0, Some(ACCOUNT.1))
        .header("content-type", "application/json; charset=utf-8")
        .body(body);
    let (status, _, reply) = response_parts(request.send().await.expect("POST")).await;
    assert_eq!(status, 202, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_over_the_limit_is_413() {
    let server = Sealmail::start("[limits]\nmax_request_bytes = 100000\n").await;
    // 200 kB of valid JSON: the size alone is the problem.
    let mut job = plain_job("Big", "rcpt@recipient.example");
    job["body"]["content"] = json!("x".repeat(200_000));
    let body = serde_json::to_vec(&job).unwrap();
    assert!(body.len() > 200_000);
    let (status, reply, _) = server.submit_raw(ACCOUNT, body, &[]).await;
    assert_eq!(status, 413, "{reply}");
    // Just under the limit is accepted.
    job["body"]["content"] = json!("x".repeat(90_000));
    let (status, reply, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&job).unwrap(), &[]).await;
    assert_eq!(status, 202, "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_are_400_with_json_paths() {
    let server = Sealmail::start("").await;

    let (status, reply, _) = server.submit_raw(ACCOUNT, b"{\"subject\": {\"content\": \"Hi\"".to_vec(), &[]).await;
    assert_eq!(status, 400, "{reply}");
    let problems = reply["problems"].as_array().cloned().unwrap_or_default();
    assert!(!problems.is_empty(), "malformed JSON names a problem: {reply}");
    assert!(problems.iter().all(|p| p["path"].is_string() && p["message"].is_string()), "{reply}");
    assert!(problems.iter().any(|p| p["kind"] == "malformed-json"), "{reply}");

    let mut job = plain_job("Hello", "rcpt@recipient.example");
    job["recipients"][0]["mail"]["to"][0]["email"] = json!("Name <not an address>");
    job["recipients"][0]["mail"]["cc"] = json!([{ "email": "ok@recipient.example" }, { "email": "also@@bad" }]);
    let (status, reply, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&job).unwrap(), &[]).await;
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["code"], "INVALID_REQUEST", "{reply}");
    let problems = reply["problems"].as_array().cloned().unwrap_or_default();
    let paths: Vec<&str> = problems.iter().filter_map(|p| p["path"].as_str()).collect();
    // Every problem is listed, not only the first.
    assert!(paths.contains(&"/recipients/0/mail/to/0/email"), "{reply:#}");
    assert!(paths.contains(&"/recipients/0/mail/cc/1/email"), "{reply:#}");
    let to = problems.iter().find(|p| p["path"] == "/recipients/0/mail/to/0/email").unwrap();
    assert_eq!(to["kind"], "invalid-address", "{to}");
    assert!(to["message"].as_str().is_some_and(|m| !m.is_empty()), "{to}");

    // A missing mandatory field and a null value name their paths too.
    let mut job = plain_job("Hello", "rcpt@recipient.example");
    job.as_object_mut().unwrap().remove("subject");
    job["body"]["contentType"] = Value::Null;
    let (status, reply, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&job).unwrap(), &[]).await;
    assert_eq!(status, 400, "{reply}");
    let paths: Vec<&str> =
        reply["problems"].as_array().into_iter().flatten().filter_map(|p| p["path"].as_str()).collect();
    assert!(paths.iter().any(|p| p.starts_with("/subject")), "{reply:#}");
    assert!(paths.contains(&"/body/contentType"), "{reply:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_readiness_are_200() {
    let server = Sealmail::start("").await;
    let http = client();
    for path in ["/healthz", "/readyz"] {
        let response = http.get(format!("{}{path}", server.base_url)).send().await.expect("GET");
        assert_eq!(response.status().as_u16(), 200, "{path}");
    }
    let response = http.get(format!("{}/no/such/thing", server.base_url)).send().await.expect("GET");
    assert_eq!(response.status().as_u16(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_many_jobs_in_flight_is_503_with_retry_after() {
    let mut smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    // The relay is down: accepted jobs stay deferred, in flight.
    smtp.stop().await;
    let config = format!(
        "{}\n[queue]\nmax_jobs_in_flight = 2\nretry_delays_secs = [1]\npoll_ms = 50\nlease_secs = 30\n",
        relay(smtp.port())
    );
    let server = Sealmail::start(&config).await;
    let first = server.submit(&plain_job("One", "one@recipient.example")).await;
    let second = server.submit(&plain_job("Two", "two@recipient.example")).await;

    let third = serde_json::to_vec(&plain_job("Three", "three@recipient.example")).unwrap();
    let (status, reply, headers) = server.submit_raw(ACCOUNT, third.clone(), &[]).await;
    assert_eq!(status, 503, "the third job must be refused: {reply}");
    let retry_after = headers.get("retry-after").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    assert!(retry_after.is_some_and(|s| s > 0), "Retry-After in seconds: {headers:?}");
    assert_ne!(server.status(&first).await["state"], "FINISHED", "the relay is down");

    // Once the relay is back and the jobs finish, submissions are accepted again.
    smtp.restart().await;
    for id in [&first, &second] {
        let report = server.wait_finished(id, FINISH).await;
        assert_eq!(report["recipients"][0]["status"], "OK", "{report:#}");
    }
    let (status, reply, _) = server.submit_raw(ACCOUNT, third, &[]).await;
    assert_eq!(status, 202, "after the drain: {reply}");
    smtp.wait_for(3, FINISH).await;
    // The refused submission was not stored behind the client's back: `three@` gets one mail,
    // from the accepted resubmission, and nothing else follows.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let received = smtp.received();
    assert_eq!(received.len(), 3, "{:?}", rcpts(&received));
    let to_three = received.iter().filter(|m| m.rcpt_to.iter().any(|r| r == "three@recipient.example")).count();
    assert_eq!(to_three, 1, "{:?}", rcpts(&received));
}

/// `plain_job` with a callback endpoint.
fn job_with_callback(url: &str) -> Value {
    let mut job = plain_job("callback", "r@rcpt.example");
    job["notification"] = json!({ "endPoint": { "url": url } });
    job
}

#[tokio::test]
async fn callback_urls_with_refused_literal_addresses_are_400_and_names_wait_for_delivery() {
    let strict = Sealmail::start("").await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
    ] {
        let body = serde_json::to_vec(&job_with_callback(url)).unwrap();
        let (status, body, _) = strict.submit_raw(ACCOUNT, body, &[]).await;
        assert_eq!(status, 400, "{url}: {body}");
        let problem = &body["problems"][0];
        assert_eq!(problem["path"], "/notification/endPoint/url", "{url}: {body}");
        assert_eq!(problem["kind"], "refused-address", "{url}: {body}");
        assert!(problem["message"].as_str().unwrap_or_default().contains("allow-list"), "{url}: {body}");
    }
    // A name is checked when it is resolved for delivery, not at submission.
    strict.submit(&job_with_callback("http://localhost:9/hook")).await;

    // The operator's allow-list opens exactly its ranges.
    let allowing = Sealmail::start("[callbacks]\nallowed_callback_ranges = [\"127.0.0.1/32\"]\n").await;
    allowing.submit(&job_with_callback("http://127.0.0.1:9/hook")).await;
    let (status, body, _) = allowing
        .submit_raw(ACCOUNT, serde_json::to_vec(&job_with_callback("http://10.0.0.1/hook")).unwrap(), &[])
        .await;
    assert_eq!(status, 400, "{body}");
}
