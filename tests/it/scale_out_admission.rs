//! Admission on several nodes: each node counts the unfinished jobs against
//! `max_jobs_in_flight` in memory, and on a shared PostgreSQL database it also finishes jobs
//! that other nodes accepted. Its count must not wrap below zero: the node would then refuse
//! every submission with `503 QUEUE_FULL` (found by the load benchmark's 2-node run).

use std::sync::Arc;
use std::time::Duration;

use sealmail_test_support::postgres::create_database;
use sealmail_test_support::{Sealmail, SmtpServer, SmtpServerConfig, jobs};

/// Jobs submitted to the node that hardly works.
const JOBS: usize = 8;
/// Two cores shared by two servers, the relay, PostgreSQL and the other tests.
const FINISH: Duration = Duration::from_secs(90);

fn config(port: u16, workers: usize, poll_ms: u64) -> String {
    format!(
        "{}\n[antivirus]\nallow_insecure_no_antivirus = true\n\n\
         [queue]\nworkers = {workers}\nretry_delays_secs = [1]\npoll_ms = {poll_ms}\nlease_secs = 30\n\
         max_jobs_in_flight = 100\n",
        jobs::plain_relay(port, 10)
    )
}

fn job(n: usize) -> serde_json::Value {
    jobs::secure_statement(&format!("Statement {n}"), &format!("statement-{n}"), &[format!("r{n}@recipient.example")])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_finishes_other_nodes_jobs_keeps_accepting() {
    let database = Arc::new(create_database().await);
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    // A accepts and works slowly (one worker, rare polling); B polls often with more workers,
    // so B finishes jobs that A accepted.
    let a = Sealmail::start_on(database.clone(), &config(smtp.port(), 1, 5_000)).await;
    let b = Sealmail::start_on(database.clone(), &config(smtp.port(), 4, 50)).await;
    let mut ids = Vec::new();
    for n in 0..JOBS {
        ids.push(a.submit(&job(n)).await);
    }
    for id in &ids {
        a.wait_finished(id, FINISH).await;
    }
    let finished_by_b = b.logs().matches("job finished").count();
    assert!(finished_by_b > 0, "B finished none of A's jobs, so the test proves nothing:\n{}", b.logs());

    // B's count went down once per job it finished without having accepted any: it must
    // still admit work (and A too).
    for n in JOBS..JOBS + 3 {
        b.submit(&job(n)).await;
        a.submit(&job(n + 100)).await;
    }
}
