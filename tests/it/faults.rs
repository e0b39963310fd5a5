//! Fault runs: the real server under a stream of secure jobs while the next hop or
//! the callback endpoint is down, with real SMTP and HTTP peers the test starts and stops.
//!
//! - **SMTP outage**: the relay stops accepting connections mid-run; messages are
//!   `DEFERRED` and retried, and when it returns everything is delivered — every job
//!   terminal, every recipient delivered with its one password mail, nothing lost.
//! - **Callback endpoint down**: the receiver is down for the whole run; once it is back,
//!   every event arrives, each message's events in order, and every `tag` is acknowledged
//!   exactly once.
//!
//! Two profiles: the small one runs in the test command (seconds); `SEALMAIL_FAULT_PROFILE=full`
//! (run by `cargo xtask fault-run`, which prints the figures) uses 500 jobs and a 60 s outage.
//! Figures are printed either way (`--nocapture` shows them).

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use sealmail_test_support::jobs::{local_callbacks, plain_relay, secure_statement};
use sealmail_test_support::{Receiver, Sealmail, SmtpServer, SmtpServerConfig};
use serde_json::Value;

/// The run's size.
struct Profile {
    name: &'static str,
    jobs: usize,
    outage: Duration,
    /// How long everything may take to finish after the fault ends.
    drain: Duration,
}

fn profile() -> Profile {
    match std::env::var("SEALMAIL_FAULT_PROFILE").as_deref() {
        Ok("full") => {
            Profile { name: "full", jobs: 500, outage: Duration::from_secs(60), drain: Duration::from_secs(600) }
        }
        _ => Profile { name: "small", jobs: 20, outage: Duration::from_secs(4), drain: Duration::from_secs(90) },
    }
}

fn recipients(n: usize) -> Vec<String> {
    vec![format!("job{n}-a@recipient.example"), format!("job{n}-b@recipient.example")]
}

/// Submits the jobs as fast as the server accepts them; their ids in order.
async fn submit_all(server: &Sealmail, range: std::ops::Range<usize>) -> Vec<String> {
    let mut ids = Vec::new();
    for n in range {
        ids.push(
            server
                .submit(&secure_statement(&format!("Statement {n}"), &format!("statement-{n}"), &recipients(n)))
                .await,
        );
    }
    ids
}

/// Waits until every job is finished (or the deadline passes) and returns the reports.
async fn wait_all(server: &Sealmail, ids: &[String], deadline: Duration) -> Vec<Value> {
    let mut reports = Vec::new();
    let until = Instant::now() + deadline;
    for id in ids {
        let left = until.saturating_duration_since(Instant::now()).max(Duration::from_secs(1));
        reports.push(server.wait_finished(id, left).await);
    }
    reports
}

fn event_codes(report: &Value) -> Vec<(String, String)> {
    report["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (e["email"].as_str().unwrap_or_default().to_owned(), e["subType"].as_str().unwrap_or_default().to_owned())
        })
        .collect()
}

fn config(smtp_port: u16, extra: &str) -> String {
    format!(
        "{}[antivirus]\nallow_insecure_no_antivirus = true\n\n[queue]\nworkers = 4\nretry_delays_secs = [1]\npoll_ms = 50\n{extra}",
        plain_relay(smtp_port, 5)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_smtp_outage_defers_and_everything_is_delivered_when_it_returns() {
    let p = profile();
    let mut smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Sealmail::start(&config(smtp.port(), "")).await;
    let half = p.jobs / 2;
    let started = Instant::now();
    let mut ids = submit_all(&server, 0..half).await;
    smtp.stop().await;
    let down_at = Instant::now();
    ids.extend(submit_all(&server, half..p.jobs).await);
    tokio::time::sleep(p.outage.saturating_sub(down_at.elapsed())).await;
    // While down: the jobs still in flight are deferred, none is lost or bounced.
    let mut deferred_events = 0;
    for id in &ids {
        let report = server.status(id).await;
        deferred_events += event_codes(&report).iter().filter(|(_, sub)| sub == "SOFT_BOUNCE").count();
        for (_, sub) in event_codes(&report) {
            assert_ne!(sub, "HARD_BOUNCE", "an outage is temporary: {report}");
        }
    }
    assert!(deferred_events > 0, "messages attempted during the outage are deferred");
    smtp.restart().await;
    let back_at = Instant::now();
    let reports = wait_all(&server, &ids, p.drain).await;
    let drained = back_at.elapsed();

    let mut password_mails = 0;
    for report in &reports {
        assert_eq!(report["state"], "FINISHED", "{report}");
        for r in report["recipients"].as_array().unwrap() {
            assert_eq!(
                (r["subStatus"].as_str(), r["passwordMail"].as_str()),
                (Some("DELIVERED"), Some("OK")),
                "{report}"
            );
        }
        password_mails += event_codes(report).iter().filter(|(_, sub)| sub == "OK").count();
    }
    let received = smtp.received();
    let mut originals: BTreeMap<String, usize> = BTreeMap::new();
    for mail in &received {
        let text = String::from_utf8_lossy(&mail.data);
        if !text.contains("Subject: Password for:") {
            *originals.entry(mail.rcpt_to.join(",")).or_default() += 1;
        }
    }
    let duplicates: usize = originals.values().map(|n| n - 1).sum();
    assert_eq!(originals.len(), p.jobs, "every job's original arrived");
    println!(
        "fault run [{}] SMTP outage: {} jobs ({} recipients), relay down {:.1} s; {deferred_events} DEFERRED events \
         while down; all delivered {:.1} s after it returned ({:.1} s in all); {} messages received, {duplicates} \
         duplicate originals; 0 lost",
        p.name,
        p.jobs,
        p.jobs * 2,
        back_at.duration_since(down_at).as_secs_f64(),
        drained.as_secs_f64(),
        started.elapsed().as_secs_f64(),
        received.len(),
    );
    assert!(password_mails >= p.jobs * 2, "every recipient's DELIVERED and PASSWORD_MAIL/OK events are there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_held_while_the_callback_endpoint_is_down_arrive_in_order_each_acknowledged_once() {
    let p = profile();
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let mut receiver = Receiver::start().await;
    let url = receiver.url("/hooks");
    receiver.stop().await;
    // Tries and intervals that outlast the outage: 1 s apart, plenty of them.
    let tries = p.outage.as_secs() * 4 + 600;
    let callbacks = format!("\n{}timeout_secs = 5\n", local_callbacks(tries));
    let server =
        Sealmail::start_with_account(&config(smtp.port(), &callbacks), &format!("callback = {{ url = \"{url}\" }}"))
            .await;
    let started = Instant::now();
    let ids = submit_all(&server, 0..p.jobs).await;
    let reports = wait_all(&server, &ids, p.drain).await;
    tokio::time::sleep(p.outage.saturating_sub(started.elapsed())).await;
    // Down all along: nothing was acknowledged, every event is pending.
    let total_events: usize = reports.iter().map(|r| r["events"].as_array().unwrap().len()).sum();
    let pending = reports
        .iter()
        .flat_map(|r| r["events"].as_array().unwrap().iter())
        .filter(|e| e["notification"]["state"] == "PENDING")
        .count();
    assert_eq!(pending, total_events, "no event can have been delivered yet");

    receiver.restart().await;
    let back_at = Instant::now();
    let expected: BTreeSet<String> = reports
        .iter()
        .flat_map(|r| r["events"].as_array().unwrap().iter().map(|e| e["tag"].as_str().unwrap().to_owned()))
        .collect();
    receiver
        .wait_for(
            |requests| {
                let acked: BTreeSet<String> = requests.iter().filter(|r| r.accepted()).flat_map(|r| r.tags()).collect();
                acked.len() >= expected.len()
            },
            p.drain,
        )
        .await;
    let drained = back_at.elapsed();
    let requests = receiver.requests();
    let accepted: Vec<_> = requests.iter().filter(|r| r.accepted()).collect();

    // Each tag acknowledged exactly once, and exactly the status API's events.
    let mut acked: BTreeMap<String, usize> = BTreeMap::new();
    for request in &accepted {
        for tag in request.tags() {
            *acked.entry(tag).or_default() += 1;
        }
    }
    let twice: Vec<_> = acked.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "tags acknowledged more than once: {twice:?}");
    assert_eq!(acked.keys().cloned().collect::<BTreeSet<_>>(), expected, "every event, and nothing else");

    // Per recipient message, the events arrive in the order the status API lists them.
    for (id, report) in ids.iter().zip(&reports) {
        let order = |email: &str| -> Vec<String> {
            report["events"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["email"] == email)
                .map(|e| e["tag"].as_str().unwrap().to_owned())
                .collect()
        };
        for email in report["recipients"].as_array().unwrap().iter().map(|r| r["email"].as_str().unwrap()) {
            let arrived: Vec<String> = accepted
                .iter()
                .flat_map(|r| r.notifications())
                .filter(|n| {
                    n["meta"]["mail"]["email"] == email
                        && n["meta"]["tag"].as_str().is_some_and(|t| t.starts_with(id.as_str()))
                })
                .map(|n| n["meta"]["tag"].as_str().unwrap().to_owned())
                .collect();
            assert_eq!(arrived, order(email), "job {id}, {email}: events out of order");
        }
    }
    let refused = requests.len() - accepted.len();
    println!(
        "fault run [{}] callback endpoint down: {} jobs, {} events in {} accepted POSTs ({refused} answered \
         otherwise); all acknowledged {:.1} s after the endpoint returned, each tag once, per-message order kept",
        p.name,
        p.jobs,
        expected.len(),
        accepted.len(),
        drained.as_secs_f64(),
    );
}
