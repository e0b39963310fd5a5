//! Slow clients ("slow-loris"): the real server with short `[api]` bounds
//! (1 s for a request head, 1 s of body idleness, 1000 bytes/s minimum body rate) against
//! raw-socket clients that send a request — or nothing — too slowly. Each case must end in a
//! bounded time: the connection closed, at most after a `408`, never a 5xx, never left open.
//!
//! While all of them hang at once (with 40 more silent connections), a normal client is
//! served promptly, and afterwards the server still accepts and delivers a job: no worker
//! or connection slot stays stuck. Two more: `max_connections` caps the connections served
//! at once and the head timeout frees its slots; a client that stops reading the answers it
//! asked for is cut off (the server's writes stall for longer than the idle bound).

use std::time::{Duration, Instant};

use base64::Engine as _;
use sealmail_test_support::jobs::{plain_relay, secure_statement};
use sealmail_test_support::slow_client::{ProbeResult, SlowScript, probe};
use sealmail_test_support::{ACCOUNT, Sealmail, SmtpServer, SmtpServerConfig};

/// The `[api]` bounds under test.
const API: &str = "[api]\nheader_read_timeout_secs = 1\nidle_timeout_secs = 1\nmin_body_bytes_per_sec = 1000\n";
/// The longest a case may stay open: the 1 s bound plus generous scheduling slack on a busy
/// 2-core CI machine (a stuck connection would stay open for the whole cap).
const BOUND: Duration = Duration::from_secs(4);
/// When a probe gives up and reports the connection as still open.
const CAP: Duration = Duration::from_secs(10);

fn auth() -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ACCOUNT.0, ACCOUNT.1));
    format!("Authorization: Basic {token}\r\n")
}

/// A job request head for a body of `length` bytes (not sent here).
fn job_head(extra: &str) -> String {
    format!("POST /rest/v1/jobs HTTP/1.1\r\nHost: sealmail\r\n{}Content-Type: application/json\r\n{extra}\r\n", auth())
}

/// The cases: name, what the client does.
fn cases() -> Vec<(&'static str, SlowScript)> {
    let ms = Duration::from_millis;
    vec![
        ("connects and sends nothing", SlowScript::stall(Vec::new())),
        ("half a request line, then silence", SlowScript::stall("POST /rest/v1/jo")),
        (
            "headers trickled one byte per 100 ms, never ending",
            SlowScript::trickle("GET /healthz HTTP/1.1\r\nHost: x\r\n", "X-Slow: abcdefgh\r\n", ms(100)),
        ),
        ("complete headers but no blank line", SlowScript::stall("GET /healthz HTTP/1.1\r\nHost: sealmail\r\n")),
        (
            "body stalls after 100 of 5000 bytes",
            SlowScript::stall(format!("{}{}", job_head("Content-Length: 5000\r\n"), "{\"job\":".repeat(14))),
        ),
        (
            "body trickled at 20 bytes/s (minimum 1000)",
            SlowScript::trickle(job_head("Content-Length: 100000\r\n"), " ", ms(50)),
        ),
        (
            "chunked body stalls inside a chunk",
            SlowScript::stall(format!("{}40\r\n{{\"job\":", job_head("Transfer-Encoding: chunked\r\n"))),
        ),
        (
            "Expect: 100-continue, then no body",
            SlowScript::stall(job_head("Content-Length: 2000\r\nExpect: 100-continue\r\n")),
        ),
        (
            "idle keep-alive connection after one request",
            SlowScript::stall("GET /healthz HTTP/1.1\r\nHost: sealmail\r\n\r\n"),
        ),
    ]
}

/// Every case must close in bounded time, with at most a 4xx (for bodies: 408).
fn check(name: &str, result: &ProbeResult) -> Result<(), String> {
    if !result.closed {
        return Err(format!("{name}: still open after {:?}", result.after));
    }
    if result.after > BOUND {
        return Err(format!("{name}: closed only after {:.2} s", result.after.as_secs_f64()));
    }
    match result.status() {
        Some(code) if code >= 500 => Err(format!("{name}: answered {code}")),
        _ => Ok(()),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_are_cut_off_in_bounded_time_while_others_are_served() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Sealmail::start(&format!(
        "{API}\n{}\n[antivirus]\nallow_insecure_no_antivirus = true\n",
        plain_relay(smtp.port(), 5)
    ))
    .await;
    let address = format!("127.0.0.1:{}", server.port());

    // Every case at once, plus a crowd of silent connections.
    let mut running = Vec::new();
    for (name, script) in cases() {
        let stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
        running.push((name, tokio::spawn(probe(stream, script, CAP))));
    }
    let mut crowd = Vec::new();
    for _ in 0..40 {
        let stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
        crowd.push(tokio::spawn(probe(stream, SlowScript::stall(Vec::new()), CAP)));
    }

    // Meanwhile a normal client is served promptly.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
    let started = Instant::now();
    let health = client.get(format!("{}/healthz", server.base_url)).send().await.expect("healthz");
    let health_latency = started.elapsed();
    assert!(health.status().is_success(), "{}", health.status());
    assert!(health_latency < Duration::from_secs(1), "healthz took {health_latency:?} while slow clients hang");
    let started = Instant::now();
    let to = ["slow-loris@recipient.example".to_owned()];
    let during = server.submit(&secure_statement("during", "during", &to)).await;
    let submit_latency = started.elapsed();

    let mut failures = Vec::new();
    println!("slow clients (bounds: head 1 s, body idle 1 s, body ≥ 1000 B/s; a case must end within {BOUND:?}):");
    for (name, task) in running {
        let result = task.await.expect("probe task");
        println!("  {name:<52} {}", result.describe());
        if let Err(e) = check(name, &result) {
            failures.push(e);
        }
        // The body cases are answered 408 (RFC 9110 §15.5.9).
        let body_case = name.starts_with("body") || name.starts_with("chunked") || name.starts_with("Expect");
        if body_case && result.status() != Some(408) {
            failures.push(format!("{name}: expected a 408, got {}", result.describe()));
        }
    }
    let mut slowest = Duration::ZERO;
    for task in crowd {
        let result = task.await.expect("probe task");
        slowest = slowest.max(result.after);
        if let Err(e) = check("silent crowd", &result) {
            failures.push(e);
        }
    }
    println!("  {:<52} all closed, the last after {:.2} s", "40 more silent connections", slowest.as_secs_f64());
    println!(
        "  normal client meanwhile: /healthz in {:.0} ms, a job accepted in {:.0} ms",
        health_latency.as_secs_f64() * 1000.0,
        submit_latency.as_secs_f64() * 1000.0
    );
    assert!(failures.is_empty(), "{failures:#?}\n{}", server.logs());

    // Afterwards: the job accepted during the attack and a new one are delivered.
    let after = server.submit(&secure_statement("after", "after", &to)).await;
    for id in [during, after] {
        let report = server.wait_finished(&id, Duration::from_secs(60)).await;
        assert_eq!(report["state"], "FINISHED", "{report:#}");
    }
    let mails = smtp.wait_for(4, Duration::from_secs(30)).await;
    assert!(mails.len() >= 4, "two jobs, each a document mail and a password mail: {}", mails.len());
    let logs = server.logs();
    assert!(!logs.contains("panicked"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_cap_holds_and_frees_its_slots() {
    // 8 connections at most: 8 silent clients fill every slot; a ninth client waits in the
    // backlog until the head timeout frees a slot (1 s), then is served.
    let server = Sealmail::start(&format!("{API}max_connections = 8\n")).await;
    let address = format!("127.0.0.1:{}", server.port());
    // A first request, so that the server is surely accepting, on a connection of its own.
    let client = || reqwest::Client::builder().pool_max_idle_per_host(0).build().expect("client");
    client().get(format!("{}/healthz", server.base_url)).send().await.expect("healthz");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut silent = Vec::new();
    for _ in 0..8 {
        let stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
        silent.push(tokio::spawn(probe(stream, SlowScript::stall(Vec::new()), CAP)));
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let health = client().get(format!("{}/healthz", server.base_url)).send().await.expect("healthz");
    let waited = started.elapsed();
    assert!(health.status().is_success());
    for task in silent {
        let result = task.await.expect("probe");
        assert!(result.closed && result.after < BOUND, "{}", result.describe());
    }
    println!("with 8 of 8 slots held by silent clients, a ninth was served after {:.2} s", waited.as_secs_f64());
    assert!(
        waited > Duration::from_millis(500) && waited < BOUND,
        "the ninth connection waited {waited:?}: the cap is not 8, or its slots are not freed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_off() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = Sealmail::start(API).await;
    let document = reqwest::get(format!("{}/openapi.json", server.base_url)).await.expect("GET").bytes().await;
    let size = document.expect("body").len().max(1);
    // Enough pipelined requests that their answers (≥ 16 MB) cannot all sit in socket buffers;
    // the client's receive buffer is made small, which also turns off its autotuning.
    let requests = (16 << 20) / size + 1;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let mut stream =
        socket.connect(format!("127.0.0.1:{}", server.port()).parse().expect("address")).await.expect("connect");
    let request = "GET /openapi.json HTTP/1.1\r\nHost: sealmail\r\n\r\n".repeat(requests.min(4000));
    stream.write_all(request.as_bytes()).await.expect("send the requests");
    // Read nothing for 3 s (the idle bound is 1 s), then everything that is left.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut received = Vec::new();
    let drained = tokio::time::timeout(CAP, async {
        let mut buf = vec![0u8; 1 << 16];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let answered = received.windows(15).filter(|w| w == b"HTTP/1.1 200 OK").count();
    println!(
        "a client that stopped reading after sending {} requests: the connection ended with {answered} answers \
         still readable ({} KiB; {size} bytes each)",
        requests.min(4000),
        received.len() >> 10
    );
    assert!(drained.is_ok(), "the connection stayed open");
    assert!(answered < requests.min(4000), "every answer was written: the stalled writes were not cut off");
    let health = reqwest::get(format!("{}/healthz", server.base_url)).await.expect("healthz");
    assert!(health.status().is_success());
}
