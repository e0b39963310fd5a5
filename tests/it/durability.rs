//! Crash safety of the real `sealmail serve` process (ARCHITECTURE.md#the-durability-contract):
//! a `202` means the job is on disk, so SIGKILL right after it loses nothing; a SIGKILL in the middle of
//! deliveries may repeat the messages that were in flight, but never loses one and never
//! sends a password mail for an original the recipient has not received; SIGTERM drains and
//! exits cleanly.
//!
//! The SMTP relay is the harness' in-process server; in the in-flight test a small TCP proxy
//! in front of it holds back every server reply for a moment, so that SMTP sessions are
//! caught half-way (and a message the relay has accepted can still lack its `250` at the
//! sealmail side — the classic duplicate window of RFC 5321 §6.1).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sealmail_test_support::{ACCOUNT, ReceivedMail, Sealmail, SmtpServer, SmtpServerConfig, jobs};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Generous: two cores shared by the server, the relay and the other tests of this file.
const FINISH: Duration = Duration::from_secs(45);
/// The worker count the in-flight test configures (bounds how many messages can be in flight).
const WORKERS: usize = 4;

/// A small secure job for one block with two recipients, unique to `n`.
fn secure_job(n: usize) -> Value {
    let to = [format!("First <{}>", address(n, 'a')), address(n, 'b')];
    jobs::secure_statement(&format!("Statement {n}"), &format!("statement-{n}"), &to)
}

fn address(n: usize, which: char) -> String {
    format!("job{n}-{which}@recipient.example")
}

/// `[transport]` (plain relay on `port`), `[antivirus]` (secure jobs without clamd), `[queue]`.
fn config(port: u16) -> String {
    let relay = jobs::plain_relay(port, 10);
    format!(
        "{relay}\n\
         [antivirus]\nallow_insecure_no_antivirus = true\n\n\
         [queue]\nworkers = {WORKERS}\nretry_delays_secs = [1]\npoll_ms = 50\nlease_secs = 30\n"
    )
}

/// Submits every job at once (one task each) and returns the jobIds in job order; every
/// submission must be acknowledged with `202`.
async fn submit_concurrently(server: &Sealmail, jobs: Vec<Value>) -> Vec<String> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
    let url = format!("{}/rest/v1/jobs", server.base_url);
    let mut tasks = JoinSet::new();
    for (n, job) in jobs.into_iter().enumerate() {
        let request = client.post(&url).basic_auth(ACCOUNT.0, Some(ACCOUNT.1)).json(&job);
        tasks.spawn(async move {
            let response = request.send().await.expect("POST /rest/v1/jobs");
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            assert_eq!(status, 202, "job {n} refused: {body}");
            (n, body["jobId"].as_str().expect("jobId").to_owned())
        });
    }
    let mut ids = BTreeMap::new();
    while let Some(done) = tasks.join_next().await {
        let (n, id) = done.expect("submission task");
        ids.insert(n, id);
    }
    ids.into_values().collect()
}

/// Waits for every job and checks that each recipient was delivered and got its password mail.
async fn assert_all_delivered(server: &Sealmail, ids: &[String]) {
    for id in ids {
        let report = server.wait_finished(id, FINISH).await;
        let recipients = report["recipients"].as_array().cloned().unwrap_or_default();
        assert_eq!(recipients.len(), 2, "{report:#}");
        for r in &recipients {
            assert_eq!((r["status"].as_str(), r["subStatus"].as_str()), (Some("OK"), Some("DELIVERED")), "{report:#}");
            assert_eq!(r["passwordMail"], "OK", "{report:#}");
        }
    }
}

/// What a received mail is, by its headers.
#[derive(Debug, Clone)]
struct Seen {
    seq: u64,
    message_id: String,
    /// The original's Message-ID for a password mail (`In-Reply-To`), `None` for an original.
    replies_to: Option<String>,
    rcpt_to: Vec<String>,
}

fn classify(mail: &ReceivedMail) -> Seen {
    let message_id = mail.header("Message-ID").unwrap_or_else(|| panic!("mail {} has no Message-ID", mail.seq));
    let replies_to = mail.header("In-Reply-To");
    if replies_to.is_some() {
        let subject = mail.header("Subject").unwrap_or_default();
        assert!(
            subject.starts_with("Password for: "),
            "mail {} replies but is no password mail: {subject:?}",
            mail.seq
        );
        assert_eq!(mail.rcpt_to.len(), 1, "a password mail goes to one recipient only: {:?}", mail.rcpt_to);
    }
    Seen { seq: mail.seq, message_id, replies_to, rcpt_to: mail.rcpt_to.clone() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_jobs_survive_sigkill() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let mut server = Sealmail::start(&config(smtp.port())).await;
    const JOBS: usize = 40;

    let ids = submit_concurrently(&server, (0..JOBS).map(secure_job).collect()).await;
    server.kill9();
    let received_before_restart = smtp.received().len();
    server.restart().await;

    for id in &ids {
        let (code, body) = server.status_as(ACCOUNT, id).await;
        assert_eq!(code, 200, "acknowledged job {id} lost in the crash: {body}");
    }
    assert_all_delivered(&server, &ids).await;

    // Every recipient has its original and its password mail at the relay.
    let received = smtp.wait_for(JOBS * 3, FINISH).await;
    let seen: Vec<Seen> = received.iter().map(classify).collect();
    for n in 0..JOBS {
        for rcpt in [address(n, 'a'), address(n, 'b')] {
            let originals = seen.iter().filter(|s| s.replies_to.is_none() && s.rcpt_to.contains(&rcpt)).count();
            let passwords = seen.iter().filter(|s| s.replies_to.is_some() && s.rcpt_to.contains(&rcpt)).count();
            assert!(originals >= 1 && passwords >= 1, "{rcpt}: {originals} original(s), {passwords} password mail(s)");
        }
    }
    eprintln!("{JOBS} jobs acknowledged; {received_before_restart} mails had left before the kill");
}

/// A TCP proxy in front of the relay that delays every chunk the relay sends back, so SMTP
/// sessions take a while and a crash catches them in the middle.
struct SlowProxy {
    port: u16,
    delay_ms: Arc<AtomicU64>,
    /// Connections with at least one direction still open.
    active: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl SlowProxy {
    async fn start(target: u16, delay: Duration) -> SlowProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("binding the proxy");
        let port = listener.local_addr().expect("bound").port();
        let delay_ms = Arc::new(AtomicU64::new(delay.as_millis() as u64));
        let active = Arc::new(AtomicUsize::new(0));
        let (d, a) = (delay_ms.clone(), active.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(upstream) = TcpStream::connect(("127.0.0.1", target)).await else { continue };
                a.fetch_add(1, Ordering::SeqCst);
                let (d, a) = (d.clone(), a.clone());
                tokio::spawn(async move {
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut upstream_read, mut upstream_write) = upstream.into_split();
                    // Client to relay: as is. At the client's end (EOF or a reset when it was
                    // killed) everything it sent has been passed on; then end the relay side.
                    let forward = async {
                        let _ = tokio::io::copy(&mut client_read, &mut upstream_write).await;
                        let _ = upstream_write.shutdown().await;
                    };
                    // Relay to client: each chunk held back for the current delay.
                    let backward = async {
                        let mut buf = vec![0u8; 16 * 1024];
                        loop {
                            let n = match upstream_read.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            tokio::time::sleep(Duration::from_millis(d.load(Ordering::SeqCst))).await;
                            if client_write.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = client_write.shutdown().await;
                    };
                    tokio::join!(forward, backward);
                    a.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        SlowProxy { port, delay_ms, active, accept }
    }

    fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, Ordering::SeqCst);
    }

    fn active(&self) -> usize {
        self.active.load(Ordering::SeqCst)
    }
}

impl Drop for SlowProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_in_flight_loses_nothing_and_never_releases_a_password_early() {
    const JOBS: usize = 30;
    // Every job: one original to both recipients, then one password mail per recipient.
    const MAILS: usize = JOBS * 3;
    /// Kill once at least this many mails arrived (well before the end).
    const KILL_AFTER: usize = 20;

    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let proxy = SlowProxy::start(smtp.port(), Duration::from_millis(60)).await;
    let mut server = Sealmail::start(&config(proxy.port)).await;
    let ids = submit_concurrently(&server, (0..JOBS).map(secure_job).collect()).await;

    // Kill right after the relay accepted an original: its `250` is still held in the proxy,
    // so sealmail cannot have recorded the delivery — the worst moment.
    let deadline = Instant::now() + FINISH;
    let mut want = KILL_AFTER;
    loop {
        let received = smtp.wait_for(want, deadline.saturating_duration_since(Instant::now())).await;
        assert!(received.len() >= want, "only {} mails before the deadline:\n{}", received.len(), server.logs());
        if received.last().is_some_and(|m| m.header("In-Reply-To").is_none()) {
            break;
        }
        want = received.len() + 1;
    }
    let sessions_at_kill = proxy.active();
    server.kill9();
    // Let what the dead process had already written reach the relay: every proxied session
    // closed, and the relay's record quiet for a moment.
    let settle = Instant::now() + Duration::from_secs(15);
    let mut last = (smtp.received().len(), Instant::now());
    while proxy.active() > 0 || last.1.elapsed() < Duration::from_millis(500) {
        assert!(Instant::now() < settle, "the proxy did not drain ({} sessions open)", proxy.active());
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = smtp.received().len();
        if now != last.0 {
            last = (now, Instant::now());
        }
    }
    let kill_mark = smtp.received().len() as u64;
    assert!(
        kill_mark > 0 && (kill_mark as usize) < MAILS,
        "the kill must catch the deliveries half-way: {kill_mark} of {MAILS} mails had arrived"
    );

    proxy.set_delay(Duration::ZERO);
    server.restart().await;
    for id in &ids {
        let (code, body) = server.status_as(ACCOUNT, id).await;
        assert_eq!(code, 200, "acknowledged job {id} lost in the crash: {body}");
    }
    assert_all_delivered(&server, &ids).await;
    // Every job is finished, so every mail was accepted before its commit.
    let seen: Vec<Seen> = smtp.received().iter().map(classify).collect();

    let originals: Vec<&Seen> = seen.iter().filter(|s| s.replies_to.is_none()).collect();
    let passwords: Vec<&Seen> = seen.iter().filter(|s| s.replies_to.is_some()).collect();

    // A password mail only ever follows its original, received by the same recipient earlier.
    for p in &passwords {
        let original = p.replies_to.as_deref().unwrap_or_default();
        let rcpt = &p.rcpt_to[0];
        let before = originals.iter().any(|o| o.message_id == original && o.rcpt_to.contains(rcpt) && o.seq < p.seq);
        assert!(before, "password mail {} to {rcpt} (In-Reply-To {original}) before or without its original", p.seq);
    }

    // Copies: at most two of anything, and only of what was in flight at the kill.
    let mut copies: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for s in &seen {
        for rcpt in &s.rcpt_to {
            copies.entry((s.message_id.clone(), rcpt.clone())).or_default().push(s.seq);
        }
    }
    let mut duplicated = BTreeSet::new();
    for ((message_id, rcpt), seqs) in &copies {
        assert!(seqs.len() <= 2, "{rcpt} got {message_id} {} times (seq {seqs:?})", seqs.len());
        if seqs.len() == 2 {
            assert!(
                seqs[0] <= kill_mark && seqs[1] > kill_mark,
                "{rcpt} got {message_id} twice (seq {seqs:?}) but only a copy in flight at the kill \
                 (mail {kill_mark} was the last before it) may be repeated"
            );
            duplicated.insert(message_id.clone());
        }
    }
    assert!(
        duplicated.len() <= WORKERS,
        "{} messages repeated, but at most {WORKERS} (one per worker) can be in flight: {duplicated:?}",
        duplicated.len()
    );

    // Nothing lost, nothing invented: each recipient got one original (maybe twice) and one
    // password mail that refers to it.
    for n in 0..JOBS {
        for rcpt in [address(n, 'a'), address(n, 'b')] {
            let orig_ids: BTreeSet<&str> =
                originals.iter().filter(|o| o.rcpt_to.contains(&rcpt)).map(|o| o.message_id.as_str()).collect();
            let pw: Vec<&&Seen> = passwords.iter().filter(|p| p.rcpt_to.contains(&rcpt)).collect();
            let pw_ids: BTreeSet<&str> = pw.iter().map(|p| p.message_id.as_str()).collect();
            assert_eq!(orig_ids.len(), 1, "{rcpt}: originals {orig_ids:?}");
            assert_eq!(pw_ids.len(), 1, "{rcpt}: password mails {pw_ids:?}");
            assert!(pw.iter().all(|p| p.replies_to.as_deref() == orig_ids.first().copied()), "{rcpt}: {pw:?}");
        }
    }
    // No password mail for anyone who is not a recipient of its original.
    let all_recipients: BTreeSet<String> = (0..JOBS).flat_map(|n| [address(n, 'a'), address(n, 'b')]).collect();
    for s in &seen {
        assert!(s.rcpt_to.iter().all(|r| all_recipients.contains(r)), "unexpected recipients {:?}", s.rcpt_to);
    }
    eprintln!(
        "killed with {sessions_at_kill} SMTP session(s) open after mail {kill_mark} of {MAILS}; \
         {} mails in all, {} message(s) repeated: {duplicated:?}",
        seen.len(),
        duplicated.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_and_exits_cleanly() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let mut server = Sealmail::start(&config(smtp.port())).await;
    let ids = submit_concurrently(&server, (0..3).map(secure_job).collect()).await;
    assert_all_delivered(&server, &ids).await;
    let before: Vec<Value> = {
        let mut reports = Vec::new();
        for id in &ids {
            reports.push(server.status(id).await);
        }
        reports
    };

    let started = Instant::now();
    let status = server.terminate();
    assert!(status.success(), "SIGTERM while idle must exit with success, got {status}:\n{}", server.logs());
    assert!(started.elapsed() < Duration::from_secs(30), "the idle drain took {:?}", started.elapsed());

    server.restart().await;
    for (id, old) in ids.iter().zip(&before) {
        let report = server.status(id).await;
        assert_eq!(report["state"], "FINISHED", "{report:#}");
        assert_eq!(report["recipients"], old["recipients"], "job {id} changed across the restart");
        assert_eq!(report["events"], old["events"], "job {id} changed across the restart");
    }
    // The restarted server works: a new job is delivered too.
    let id = server.submit(&secure_job(99)).await;
    assert_all_delivered(&server, &[id]).await;
    assert_eq!(smtp.wait_for(12, FINISH).await.len(), 12, "3 + 1 jobs, 3 mails each");
}
