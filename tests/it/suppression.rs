//! The suppression list and the rate limit from outside (docs/service.md#suppression-list,
//! docs/service.md#rate-limit): the real `sealmail` binary against a real SMTP server that refuses one address for good.
//!
//! What is proven: a hard bounce lists the address for its account (`GET /rest/v1/suppressions`),
//! the next job's message is not offered to it — the recipient ends `DROPPED` with
//! `PRE_PROCESS/FINISHED/DROPPED/PREVIOUSLY_BOUNCED` and `PASSWORD_MAIL/NOT_TRIGGERED`, while
//! the other recipient of the same block is delivered and gets its password mail — another
//! account sees and can delete nothing of it, and after `DELETE` the address is attempted
//! again. Beyond an account's recipients per hour a submission is a `429 LIMIT_EXCEEDED`
//! with `Retry-After` and stores nothing.

use std::time::Duration;

use reqwest::Method;
use sealmail_test_support::jobs::{plain_relay, secure_statement};
use sealmail_test_support::report::{events_of, recipient};
use sealmail_test_support::{ACCOUNT, OTHER_ACCOUNT, RcptRule, Sealmail, SmtpServer, SmtpServerConfig};
use serde_json::Value;

/// Long enough for a debug build on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(60);
const TO_OK: &str = "max@recipient.example";
/// Refused with 550 at every RCPT.
const TO_BOUNCED: &str = "gone@recipient.example";

const PREVIOUSLY_BOUNCED: &str = "PRE_PROCESS/FINISHED/DROPPED/PREVIOUSLY_BOUNCED";
const HARD_BOUNCE: &str = "DELIVER/FINISHED/BOUNCED/HARD_BOUNCE";
const PASSWORD_OK: &str = "TRIGGER/POST_DELIVERY/PASSWORD_MAIL/OK";
const PASSWORD_NOT_TRIGGERED: &str = "TRIGGER/POST_DELIVERY/PASSWORD_MAIL/NOT_TRIGGERED";

/// How many RCPT commands for `address` the server has seen.
fn rcpts(smtp: &SmtpServer, address: &str) -> usize {
    let wanted = format!("RCPT TO:<{address}>").to_lowercase();
    smtp.commands().iter().filter(|c| c.line.to_lowercase().starts_with(&wanted)).count()
}

#[tokio::test]
async fn a_hard_bounce_suppresses_the_address_until_it_is_removed() {
    let smtp = SmtpServer::start(SmtpServerConfig {
        rcpt_rules: vec![RcptRule::permanent(TO_BOUNCED, "550 5.1.1 <gone@recipient.example>: no such user")],
        ..Default::default()
    })
    .await;
    let config = format!("{}[antivirus]\nallow_insecure_no_antivirus = true\n", plain_relay(smtp.port(), 10));
    let server = Sealmail::start(&config).await;
    let both = [TO_OK.to_owned(), TO_BOUNCED.to_owned()];

    // 1. The bounce lists the address.
    let first = server.submit(&secure_statement("Statement 1", "statement-1", &both)).await;
    let status = server.wait_finished(&first, DEADLINE).await;
    assert!(events_of(&status, TO_BOUNCED).contains(&HARD_BOUNCE.to_owned()), "{status}");
    let (code, _, list) = server.call(Method::GET, "/rest/v1/suppressions", ACCOUNT).await;
    assert_eq!(code, 200, "{list}");
    let entries = list["suppressions"].as_array().expect("suppressions");
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!(entries[0]["email"], TO_BOUNCED);
    assert_eq!(entries[0]["reason"], "HARD_BOUNCE");
    assert_eq!(entries[0]["jobId"], first.as_str());
    assert!(entries[0]["detail"].as_str().unwrap().contains("550 5.1.1"), "{list}");
    let (code, _, one) = server.call(Method::GET, "/rest/v1/suppressions/Gone@Recipient.example", ACCOUNT).await;
    assert_eq!(code, 200, "case-insensitive: {one}");
    let (code, _, other) = server.call(Method::GET, "/rest/v1/suppressions", OTHER_ACCOUNT).await;
    assert_eq!((code, other["suppressions"].as_array().map(Vec::len)), (200, Some(0)), "per account: {other}");
    let path = format!("/rest/v1/suppressions/{TO_BOUNCED}");
    let (code, _, _) = server.call(Method::DELETE, &path, OTHER_ACCOUNT).await;
    assert_eq!(code, 404, "another account cannot remove it");
    let attempts_after_first = rcpts(&smtp, TO_BOUNCED);
    assert_eq!(attempts_after_first, 1);

    // 2. The next job drops the listed recipient before processing; the other is delivered.
    let second = server.submit(&secure_statement("Statement 2", "statement-2", &both)).await;
    let status = server.wait_finished(&second, DEADLINE).await;
    assert_eq!(events_of(&status, TO_BOUNCED), [PREVIOUSLY_BOUNCED, PASSWORD_NOT_TRIGGERED], "{status}");
    let dropped = recipient(&status, TO_BOUNCED);
    assert_eq!((dropped["status"].as_str(), dropped["subStatus"].as_str()), (Some("ERROR"), Some("DROPPED")));
    assert_eq!(dropped["passwordMail"], "NOT_TRIGGERED");
    let description = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subType"] == "PREVIOUSLY_BOUNCED")
        .and_then(|e| e["description"].as_str())
        .unwrap();
    assert!(description.contains(&first) && description.contains("550 5.1.1"), "{description}");
    assert!(events_of(&status, TO_OK).contains(&PASSWORD_OK.to_owned()), "{status}");
    assert_eq!(rcpts(&smtp, TO_BOUNCED), attempts_after_first, "the listed address was not offered");

    // 3. Removed, it is attempted again (and bounces again, listing it anew).
    let (code, _, _) = server.call(Method::DELETE, &path, ACCOUNT).await;
    assert_eq!(code, 204);
    let (code, _, _) = server.call(Method::DELETE, &path, ACCOUNT).await;
    assert_eq!(code, 404, "already removed");
    let third = server.submit(&secure_statement("Statement 3", "statement-3", &both)).await;
    let status = server.wait_finished(&third, DEADLINE).await;
    assert!(events_of(&status, TO_BOUNCED).contains(&HARD_BOUNCE.to_owned()), "{status}");
    assert_eq!(rcpts(&smtp, TO_BOUNCED), attempts_after_first + 1, "offered again after the removal");
}

#[tokio::test]
async fn beyond_the_hourly_limit_submissions_get_429_with_retry_after() {
    let server = Sealmail::start_with_account("[limits]\nrecipients_per_hour = 100\n", "recipients_per_hour = 3").await;
    let two = [TO_OK.to_owned(), "eva@recipient.example".to_owned()];
    let job = |n: u32| {
        let mut job = secure_statement(&format!("Statement {n}"), "statement", &two);
        job["job"]["features"]["antivirus"]["active"] = Value::Bool(false);
        job["job"]["features"]["secureDocument"]["active"] = Value::Bool(false);
        job["attachments"][0]["secureDocument"] = Value::Bool(false);
        serde_json::to_vec(&job).unwrap()
    };
    let (code, body, _) = server.submit_raw(ACCOUNT, job(1), &[]).await;
    assert_eq!(code, 202, "{body}");
    let (code, body, headers) = server.submit_raw(ACCOUNT, job(2), &[]).await;
    assert_eq!(code, 429, "{body}");
    assert_eq!(body["code"], "LIMIT_EXCEEDED");
    assert!(body["message"].as_str().unwrap().contains("3 recipients per hour"), "{body}");
    let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().expect("Retry-After in seconds");
    assert!((1..=3600).contains(&retry_after), "Retry-After {retry_after}");
    // The other account has the server default (100) and its own count.
    let (code, body, _) = server.submit_raw(OTHER_ACCOUNT, job(3), &[]).await;
    assert_eq!(code, 202, "{body}");
}

/// The limit is one per account across nodes: two servers on one PostgreSQL database count
/// together (the counters are in the store, checked in the submission's transaction).
#[tokio::test]
async fn the_hourly_limit_holds_across_two_nodes_on_postgresql() {
    let database = std::sync::Arc::new(sealmail_test_support::postgres::create_database().await);
    let limits = "[limits]\nrecipients_per_hour = 3\n";
    let first = Sealmail::start_on(database.clone(), limits).await;
    let second = Sealmail::start_on(database.clone(), limits).await;
    let job = |n: u32| {
        let mut job = secure_statement(
            &format!("Statement {n}"),
            "statement",
            &[TO_OK.to_owned(), format!("r{n}@recipient.example")],
        );
        job["job"]["features"]["antivirus"]["active"] = Value::Bool(false);
        job["job"]["features"]["secureDocument"]["active"] = Value::Bool(false);
        job["attachments"][0]["secureDocument"] = Value::Bool(false);
        serde_json::to_vec(&job).unwrap()
    };
    let (code, body, _) = first.submit_raw(ACCOUNT, job(1), &[]).await;
    assert_eq!(code, 202, "{body}");
    let (code, body, headers) = second.submit_raw(ACCOUNT, job(2), &[]).await;
    assert_eq!(code, 429, "the second node counts the first node's recipients: {body}");
    assert_eq!(body["code"], "LIMIT_EXCEEDED");
    assert!(headers.contains_key("retry-after"));
    let (code, body, _) = first.submit_raw(ACCOUNT, job(3), &[]).await;
    assert_eq!(code, 429, "{body}");
}
