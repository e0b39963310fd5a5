//! Several nodes on one PostgreSQL database (docs/service.md#storage): two `sealmail serve` processes
//! share the queue, one is SIGKILLed mid-run, and the other finishes everything once the
//! dead node's leases expire — every job terminal, none lost, no password mail to a
//! recipient whose original was refused. Duplicates (work in flight at the kill, repeated
//! by the survivor) are allowed and counted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sealmail_test_support::postgres::create_database;
use sealmail_test_support::{ACCOUNT, RcptRule, Sealmail, SmtpServer, SmtpServerConfig, jobs};
use serde_json::Value;
use tokio::task::JoinSet;

/// Jobs in the run: 60 in the test command; the full fault profile (`cargo xtask fault-run`,
/// `SEALMAIL_FAULT_PROFILE=full`) runs 500.
fn job_count() -> usize {
    if std::env::var("SEALMAIL_FAULT_PROFILE").as_deref() == Ok("full") { 500 } else { 60 }
}
/// Short, so the survivor takes the dead node's work over within seconds.
const LEASE_SECS: u64 = 5;
/// Two cores shared by two servers, the relay, PostgreSQL and the other tests.
const FINISH: Duration = Duration::from_secs(600);

fn recipient(n: usize, which: char) -> String {
    format!("job{n}-{which}@recipient.example")
}

/// Every fifth job's second recipient is refused for good (550): it must never get a
/// password mail.
fn refused(n: usize) -> bool {
    n.is_multiple_of(5)
}

fn config(port: u16) -> String {
    format!(
        "{}\n[antivirus]\nallow_insecure_no_antivirus = true\n\n\
         [queue]\nworkers = 2\nretry_delays_secs = [1]\npoll_ms = 50\nlease_secs = {LEASE_SECS}\n",
        jobs::plain_relay(port, 10)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_node_s_work_is_finished_by_the_other() {
    let total = job_count();
    let database = Arc::new(create_database().await);
    let rules =
        (0..total).filter(|n| refused(*n)).map(|n| RcptRule::permanent(recipient(n, 'b'), "550 5.1.1 No such user"));
    let smtp = SmtpServer::start(SmtpServerConfig { rcpt_rules: rules.collect(), ..Default::default() }).await;
    let mut a = Sealmail::start_on(database.clone(), &config(smtp.port())).await;
    let b = Sealmail::start_on(database.clone(), &config(smtp.port())).await;
    for node in [&a, &b] {
        let logs = node.logs();
        assert!(
            logs.contains("database:  postgres://postgres:***@127.0.0.1:"),
            "the banner names the database:\n{logs}"
        );
        assert!(!logs.contains(&database.url), "the banner shows the database password:\n{logs}");
    }

    // Round-robin over the two nodes, all at once.
    let mut submissions = JoinSet::new();
    for n in 0..total {
        let node = if n.is_multiple_of(2) { &a } else { &b };
        let (url, job) = (
            format!("{}/rest/v1/jobs", node.base_url),
            jobs::secure_statement(
                &format!("Statement {n}"),
                &format!("statement-{n}"),
                &[recipient(n, 'a'), recipient(n, 'b')],
            ),
        );
        submissions.spawn(async move {
            let response = reqwest::Client::new()
                .post(url)
                .basic_auth(ACCOUNT.0, Some(ACCOUNT.1))
                .json(&job)
                .send()
                .await
                .expect("POST /rest/v1/jobs");
            assert_eq!(response.status().as_u16(), 202, "job {n} refused");
            let body: Value = response.json().await.expect("JSON");
            (n, body["jobId"].as_str().expect("jobId").to_owned())
        });
    }
    let mut ids = BTreeMap::new();
    while let Some(done) = submissions.join_next().await {
        let (n, id) = done.expect("submission");
        ids.insert(n, id);
    }

    // Kill node A mid-run: some mail out, most still to go.
    let received = smtp.wait_for(total / 3, FINISH).await;
    assert!(received.len() >= total / 3, "only {} mails arrived:\n{}\n{}", received.len(), a.logs(), b.logs());
    a.kill9();
    let killed_at = Instant::now();
    let mark = smtp.received().len();

    // Node B finishes everything, node A's share included, and reports it.
    for (n, id) in &ids {
        let report = b.wait_finished(id, FINISH).await;
        let recipients = report["recipients"].as_array().cloned().unwrap_or_default();
        assert_eq!(recipients.len(), 2, "{report:#}");
        for r in &recipients {
            let bounced = refused(*n) && r["email"] == recipient(*n, 'b');
            let want = if bounced { ("ERROR", "BOUNCED", "NOT_TRIGGERED") } else { ("OK", "DELIVERED", "OK") };
            let got = (r["status"].as_str(), r["subStatus"].as_str(), r["passwordMail"].as_str());
            assert_eq!(got, (Some(want.0), Some(want.1), Some(want.2)), "job {n}: {report:#}");
        }
    }
    let finished_after = killed_at.elapsed();

    // What the relay saw: every deliverable recipient its original and a password mail that
    // refers to it; no password mail for a refused recipient.
    let mail = smtp.received();
    let mut originals: BTreeMap<String, BTreeSet<String>> = BTreeMap::new(); // recipient → Message-IDs
    let mut passwords: BTreeMap<String, Vec<String>> = BTreeMap::new(); // recipient → In-Reply-To
    let mut copies: BTreeMap<(String, String), usize> = BTreeMap::new();
    for m in &mail {
        let message_id = m.header("Message-ID").expect("Message-ID");
        for rcpt in &m.rcpt_to {
            *copies.entry((message_id.clone(), rcpt.clone())).or_default() += 1;
            match m.header("In-Reply-To") {
                Some(original) => passwords.entry(rcpt.clone()).or_default().push(original),
                None => {
                    originals.entry(rcpt.clone()).or_default().insert(message_id.clone());
                }
            }
        }
    }
    for n in 0..total {
        for which in ['a', 'b'] {
            let rcpt = recipient(n, which);
            if refused(n) && which == 'b' {
                assert!(!passwords.contains_key(&rcpt), "{rcpt} was refused but got a password mail");
                assert!(!originals.contains_key(&rcpt), "{rcpt} was refused but the relay recorded its original");
                continue;
            }
            let got = originals.get(&rcpt).unwrap_or_else(|| panic!("{rcpt}: no original"));
            let refers = passwords.get(&rcpt).unwrap_or_else(|| panic!("{rcpt}: no password mail"));
            assert!(refers.iter().all(|o| got.contains(o)), "{rcpt}: password mail for {refers:?}, originals {got:?}");
        }
    }
    let duplicates: usize = copies.values().map(|c| c - 1).sum();
    println!(
        "fault run: {total} secure jobs on two nodes (PostgreSQL), one SIGKILLed after {mark} of {} mails; the \
         survivor finished {:.1} s later; every job terminal, 0 lost, 0 password mails to refused recipients; \
         {duplicates} duplicate deliveries (work in flight at the kill)",
        mail.len(),
        finished_after.as_secs_f64()
    );
}

/// Runs `sealmail serve` with `storage_key` (or none) on `database_url` until it exits;
/// its stderr. It must exit: a refused start.
fn refused_start(database_url: &str, storage_key: Option<&str>) -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let key = storage_key.map(|k| format!("storage_key = \"{k}\"\n")).unwrap_or_default();
    let config = format!(
        "listen = \"127.0.0.1:{}\"\ndata_dir = \"{}\"\ndatabase_url = \"{database_url}\"\n{key}",
        sealmail_test_support::free_port(),
        dir.path().join("data").display()
    );
    std::fs::write(dir.path().join("sealmail.toml"), config).expect("config");
    let mut child = std::process::Command::new(sealmail_test_support::server::binary())
        .args(["serve", "--config"])
        .arg(dir.path().join("sealmail.toml"))
        // The tests' switches are not configuration keys (see sealmail_test_support::server).
        .env_remove("SEALMAIL_TEST_DATABASE")
        .env_remove("SEALMAIL_FAULT_PROFILE")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start sealmail");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("sealmail started, but it must refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("output");
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn a_node_without_the_shared_storage_key_is_refused_at_start() {
    let database = create_database().await;
    let stderr = refused_start(&database.url, None);
    assert!(stderr.contains("set storage_key in the configuration"), "{stderr}");
    // The first node records its key; one with another key is refused, and says why.
    let b = Sealmail::start_on(Arc::new(database), "").await;
    let database = b.database().expect("on PostgreSQL");
    let other_key = "b3RoZXItdGVzdC1zdG9yYWdlLWtleS0zMmJ5dGVzISE=";
    let stderr = refused_start(&database.url, Some(other_key));
    assert!(stderr.contains("different storage_key"), "{stderr}");
    assert!(!stderr.contains(&database.url), "the error shows the database password: {stderr}");
}
