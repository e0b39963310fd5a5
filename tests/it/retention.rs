//! Retention and `DELETE /rest/v1/jobs/{jobId}` from outside: the real
//! `sealmail` binary relaying to a real SMTP server, with the DSN listener and a callback
//! receiver; the database is read directly (SQLite through Python's `sqlite3`, PostgreSQL
//! through a client), never through the server.
//!
//! What is proven:
//! - `DELETE` answers `409 JOB_NOT_FINISHED` for a job in flight (a deferred message) and
//!   erases nothing; `404` for another account's job (which stays), `204` for the owner's
//!   finished job, then `404` for `GET` and `DELETE`; afterwards no row of any table holds
//!   the job's id or its message's id, except the account's suppression entry the job's
//!   bounce created (account data, documented); its `Idempotency-Key` makes a new job;
//! - a bounce reported after the job finished and its callbacks were delivered is pushed to
//!   the callback endpoint (the job's callback setup is kept until the job is erased);
//! - a server with a retention of seconds purges a finished job by itself (`GET` → `404`,
//!   no row left, `sealmail_jobs_purged_total`, a log line) and keeps a job in flight;
//! - a DSN for an erased job's message is accepted (`250`) and only logged.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use sealmail_test_support::jobs::{local_callbacks, plain_relay};
use sealmail_test_support::{
    ACCOUNT, OTHER_ACCOUNT, RcptRule, ReceivedMail, Receiver, Sealmail, SmtpServer, SmtpServerConfig, free_port,
};
use serde_json::{Value, json};

/// Long enough for a debug build on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(60);
const VERP_DOMAIN: &str = "bounces.sealmail.test";
const TO: &str = "max@recipient.example";
/// Deferred (451) at every attempt: its job stays in flight.
const HELD: &str = "held@recipient.example";
const HARD_BOUNCE: &str = "DELIVER/FINISHED/BOUNCED/HARD_BOUNCE";

/// Tables a job has rows in; the scan must see each of them.
const JOB_TABLES: [&str; 7] =
    ["jobs", "recipients", "messages", "deliveries", "events", "callback_posts", "idempotency"];

/// A plain mail to `to` with `subject`, pushed to `callback` when given.
fn plain_job(subject: &str, to: &str, callback: Option<&str>) -> Value {
    let mut job = json!({
        "mail": { "from": { "email": "Billing <billing@sender.example>" } },
        "subject": { "content": subject },
        "body": { "contentType": "text/plain", "content": "Your statement is ready." },
        "recipients": [{ "mail": { "to": [{ "email": to }] } }],
    });
    if let Some(url) = callback {
        job["notification"] = json!({ "endPoint": { "url": url } });
    }
    job
}

/// The server's configuration: the relay (deferring [`HELD`]), the DSN listener on
/// `dsn_port`, callbacks to loopback with quick retries, and `extra`.
fn config(smtp: &SmtpServer, dsn_port: u16, extra: &str) -> String {
    format!(
        "{}\n[bounces]\nverp_domain = \"{VERP_DOMAIN}\"\nlisten = \"127.0.0.1:{dsn_port}\"\n\n{}\n{extra}\n",
        plain_relay(smtp.port(), 10),
        local_callbacks(5)
    )
}

fn relay() -> SmtpServerConfig {
    SmtpServerConfig {
        rcpt_rules: vec![RcptRule::permanent(HELD, "451 4.3.0 Try again later")],
        ..SmtpServerConfig::default()
    }
}

/// The `Message-ID` (without brackets) of the mail with `subject`.
fn message_id(smtp: &SmtpServer, subject: &str) -> (String, ReceivedMail) {
    let mail = smtp
        .received()
        .into_iter()
        .find(|m| String::from_utf8_lossy(&m.data).contains(&format!("Subject: {subject}")))
        .unwrap_or_else(|| panic!("no mail {subject:?}"));
    let text = String::from_utf8_lossy(&mail.data).into_owned();
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("message-id:"))
        .unwrap_or_else(|| panic!("no Message-ID in {text}"));
    (line["message-id:".len()..].trim().trim_matches(['<', '>']).to_owned(), mail)
}

/// A real Postfix 3.7 bounce (captured; host/bounces/src/testdata), rewritten for the message
/// `message_id` sent with envelope sender `verp` to `recipient`.
fn postfix_dsn(verp: &str, recipient: &str, message_id: &str) -> String {
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../host/bounces/src/testdata/postfix-3.7.eml"))
        .replace("bounce+0123456789abcdef0123456789abcdef@bounces.example.com", verp)
        .replace("0123456789abcdef0123456789abcdef@sealmail.example", message_id)
        .replace("gone@recipient.example", recipient)
}

/// Sends `dsn` to `verp` at the DSN listener with lettre (the null sender); the reply code.
async fn send_dsn(dsn_port: u16, verp: &str, dsn: &str) -> String {
    let lettre =
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1").port(dsn_port).build();
    let envelope = lettre::address::Envelope::new(None, vec![verp.parse().expect("a VERP address")]).unwrap();
    match lettre::AsyncTransport::send_raw(&lettre, &envelope, dsn.as_bytes()).await {
        Ok(response) => response.code().to_string(),
        Err(e) => format!("refused: {e}"),
    }
}

/// Polls until `done()` holds; panics with `what` and the server's log.
async fn wait_for<F: Future<Output = bool>>(server: &Sealmail, what: &str, mut done: impl FnMut() -> F) {
    let deadline = Instant::now() + DEADLINE;
    while !done().await {
        assert!(Instant::now() < deadline, "{what} not within {DEADLINE:?}\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Per table, how many rows hold one of `needles` in a text or blob column, read from the
/// database itself (every table is listed, with 0 when none does).
async fn rows_mentioning(server: &Sealmail, needles: &[&str]) -> BTreeMap<String, usize> {
    if let Some(database) = server.database() {
        use tokio_postgres::types::Type;
        let client = database.connect().await;
        let tables = client
            .query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename", &[])
            .await
            .expect("list tables");
        let mut out = BTreeMap::new();
        for table in tables {
            let name: String = table.get(0);
            let mut n = 0;
            for row in client.query(&format!("SELECT * FROM \"{name}\""), &[]).await.expect("read table") {
                let mut text = Vec::new();
                for (i, column) in row.columns().iter().enumerate() {
                    match *column.type_() {
                        Type::BYTEA => text.extend(row.get::<_, Option<Vec<u8>>>(i).unwrap_or_default()),
                        Type::TEXT => text.extend(row.get::<_, Option<String>>(i).unwrap_or_default().into_bytes()),
                        _ => {}
                    }
                    text.push(0);
                }
                let text = String::from_utf8_lossy(&text);
                n += usize::from(needles.iter().any(|needle| text.contains(needle)));
            }
            out.insert(name, n);
        }
        return out;
    }
    const SCRIPT: &str = r#"
import sqlite3, sys, json
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
needles = sys.argv[2:]
out = {}
for (name,) in c.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
    n = 0
    for row in c.execute('SELECT * FROM "%s"' % name):
        text = "\0".join(v.decode("latin-1") if isinstance(v, bytes) else str(v) for v in row if v is not None)
        n += any(needle in text for needle in needles)
    out[name] = n
json.dump(out, sys.stdout)
"#;
    let db = server.data_dir().join("sealmail.db");
    let mut args: Vec<&std::ffi::OsStr> = vec![db.as_os_str()];
    args.extend(needles.iter().map(std::ffi::OsStr::new));
    let output = sealmail_test_support::python(SCRIPT, &args, b"").expect("the database scan");
    serde_json::from_str(&output).expect("the scan prints JSON")
}

/// Tables (besides `except`) with rows holding one of `needles`.
fn holding(rows: &BTreeMap<String, usize>, except: &[&str]) -> Vec<String> {
    rows.iter().filter(|(t, n)| **n > 0 && !except.contains(&t.as_str())).map(|(t, n)| format!("{t}: {n}")).collect()
}

/// `DELETE /rest/v1/jobs/{id}` as `account`: status and body.
async fn delete(server: &Sealmail, account: (&str, &str), id: &str) -> (u16, Value) {
    let (code, _, body) = server.call(Method::DELETE, &format!("/rest/v1/jobs/{id}"), account).await;
    (code, body)
}

/// A job whose only recipient is [`HELD`], once its first attempt was deferred (in flight).
async fn held_job(server: &Sealmail) -> String {
    let id = server.submit(&plain_job("Held statement", HELD, None)).await;
    wait_for(server, "the deferral of the held job", || async {
        server.status(&id).await["recipients"][0]["subStatus"] == "DEFERRED"
    })
    .await;
    id
}

#[tokio::test]
async fn deleting_a_finished_job_erases_it_for_its_account_only() {
    let smtp = SmtpServer::start(relay()).await;
    let receiver = Receiver::start().await;
    let dsn_port = free_port();
    let server = Sealmail::start(&config(&smtp, dsn_port, "")).await;

    // A job in flight: 409, and nothing is erased.
    let held = held_job(&server).await;
    let (code, body) = delete(&server, ACCOUNT, &held).await;
    assert_eq!((code, body["code"].as_str()), (409, Some("JOB_NOT_FINISHED")), "{body}");
    assert_eq!(server.status_as(ACCOUNT, &held).await.0, 200);

    // A finished job with a callback endpoint and an Idempotency-Key.
    let request = serde_json::to_vec(&plain_job("Statement", TO, Some(&receiver.url("/cb")))).unwrap();
    let (code, answer, _) = server.submit_raw(ACCOUNT, request.clone(), &[("Idempotency-Key", "statement-7")]).await;
    assert_eq!(code, 202, "{answer}");
    let job = answer["jobId"].as_str().expect("jobId").to_owned();
    server.wait_finished(&job, DEADLINE).await;
    let (message, mail) = message_id(&smtp, "Statement");
    let token = message.split('@').next().unwrap().to_owned();

    // A bounce reported after the job finished and its callbacks went out is pushed too.
    wait_for(&server, "the DELIVERED callback", || async {
        let status = server.status(&job).await;
        status["events"].as_array().is_some_and(|e| e.iter().all(|e| e["notification"]["state"] == "DELIVERED"))
    })
    .await;
    let dsn = postfix_dsn(&mail.mail_from, TO, &message);
    assert_eq!(send_dsn(dsn_port, &mail.mail_from, &dsn).await, "250");
    wait_for(&server, "the HARD_BOUNCE callback", || async {
        receiver.notifications().iter().any(|n| {
            let e = &n["meta"]["event"];
            format!("{}/{}/{}/{}", e["phase"], e["state"], e["type"], e["subType"]).replace('"', "") == HARD_BOUNCE
        })
    })
    .await;

    // Every table the job has rows in is seen by the scan (so its emptiness later means something).
    let before = rows_mentioning(&server, &[&job, &token]).await;
    for table in JOB_TABLES {
        assert!(before.get(table).is_some_and(|n| *n > 0), "{table} holds nothing of the job: {before:?}");
    }

    // Another account: the same 404 as for no job, and the job stays.
    let (code, body) = delete(&server, OTHER_ACCOUNT, &job).await;
    assert_eq!((code, body["code"].as_str()), (404, Some("NOT_FOUND")), "{body}");
    assert_eq!(server.status_as(ACCOUNT, &job).await.0, 200);
    let (code, _) = delete(&server, ACCOUNT, "00000000-0000-4000-8000-000000000000").await;
    assert_eq!(code, 404);

    // The owner: 204, then nothing of it answers or remains.
    let (code, body) = delete(&server, ACCOUNT, &job).await;
    assert_eq!(code, 204, "{body}");
    assert_eq!(server.status_as(ACCOUNT, &job).await.0, 404);
    assert_eq!(delete(&server, ACCOUNT, &job).await.0, 404, "erased already");
    let after = rows_mentioning(&server, &[&job, &token]).await;
    assert_eq!(holding(&after, &["suppressions"]), Vec::<String>::new(), "left of the job: {after:?}");
    // The account's suppression list is the account's: the bounced address stays listed.
    let (_, _, list) = server.call(Method::GET, "/rest/v1/suppressions", ACCOUNT).await;
    assert_eq!(list["suppressions"][0]["email"], TO, "{list}");
    // The job in flight is untouched.
    assert_eq!(server.status_as(ACCOUNT, &held).await.0, 200);
    assert!(rows_mentioning(&server, &[&held]).await.get("recipients").is_some_and(|n| *n > 0));

    // A DSN for the erased message: accepted and only logged.
    assert_eq!(send_dsn(dsn_port, &mail.mail_from, &dsn).await, "250");
    wait_for(&server, "the log of the DSN", || async { server.logs().contains("UnknownMessage") }).await;
    assert_eq!(server.status_as(ACCOUNT, &held).await.0, 200, "still serving");

    // The key went with the job: the same key and body make a new job.
    let (code, answer, headers) = server.submit_raw(ACCOUNT, request, &[("Idempotency-Key", "statement-7")]).await;
    assert_eq!(code, 202, "{answer}");
    assert_ne!(answer["jobId"].as_str(), Some(job.as_str()));
    assert!(headers.get("idempotent-replayed").is_none());

    let metrics = reqwest::get(format!("{}/metrics", server.base_url)).await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "sealmail_jobs_purged_total 1"), "{metrics}");
}

#[tokio::test]
async fn finished_jobs_are_purged_after_the_retention_period_and_jobs_in_flight_kept() {
    let smtp = SmtpServer::start(relay()).await;
    let dsn_port = free_port();
    let server = Sealmail::start(&config(&smtp, dsn_port, "[retention]\nsecs = 2\npurge_interval_secs = 1")).await;

    let held = held_job(&server).await;
    let job = server.submit(&plain_job("Statement", TO, None)).await;
    server.wait_finished(&job, DEADLINE).await;
    let (message, mail) = message_id(&smtp, "Statement");
    let token = message.split('@').next().unwrap().to_owned();

    wait_for(&server, "the purge of the finished job", || async { server.status_as(ACCOUNT, &job).await.0 == 404 })
        .await;
    let after = rows_mentioning(&server, &[&job, &token]).await;
    assert!(JOB_TABLES.iter().all(|t| after.contains_key(*t)), "{after:?}");
    assert_eq!(holding(&after, &[]), Vec::<String>::new(), "left of the purged job: {after:?}");
    assert!(server.logs().contains("retention: erased"), "{}", server.logs());
    let metrics = reqwest::get(format!("{}/metrics", server.base_url)).await.unwrap().text().await.unwrap();
    let purged = metrics
        .lines()
        .find_map(|l| l.strip_prefix("sealmail_jobs_purged_total "))
        .and_then(|n| n.parse::<u64>().ok())
        .unwrap_or_else(|| panic!("{metrics}"));
    assert!(purged >= 1, "{metrics}");

    // The job in flight, older than the period, is kept whole.
    let (code, report) = server.status_as(ACCOUNT, &held).await;
    assert_eq!((code, report["state"].as_str()), (200, Some("IN_PROGRESS")), "{report}");
    assert!(rows_mentioning(&server, &[&held]).await.get("messages").is_some_and(|n| *n > 0));

    // A DSN for the purged message: accepted and only logged.
    let dsn = postfix_dsn(&mail.mail_from, TO, &message);
    assert_eq!(send_dsn(dsn_port, &mail.mail_from, &dsn).await, "250");
    wait_for(&server, "the log of the DSN", || async { server.logs().contains("UnknownMessage") }).await;
    assert_eq!(server.status_as(ACCOUNT, &held).await.0, 200, "still serving");
}
