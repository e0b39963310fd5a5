//! Phase B and scale-out: throughput in a closed loop, accepted and end-to-end jobs/s, on
//! SQLite or on PostgreSQL with one or more nodes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sealmail_test_support::postgres::Database;

use crate::accept::count_refusal;
use crate::job::{JobBody, MESSAGES_PER_JOB, next_body};
use crate::measure::progress;
use crate::measure::{CpuShares, Percentiles, Snapshot, child_pid_named, peak_rss_kib};
use crate::options::{Options, Setup};
use crate::server::{Launch, Server, warm_up};
use crate::sink::Sink;

pub struct ThroughputPhase {
    pub setup: Setup,
    /// `[queue] workers` of each node.
    pub workers: usize,
    pub jobs: usize,
    pub accepted: usize,
    pub refused: Vec<(String, usize)>,
    /// First submission to last response.
    pub submit_time: Duration,
    pub latency: Percentiles,
    /// First submission to the sink's last expected message; `None` if the drain timed out.
    pub end_to_end: Option<Duration>,
    /// Messages the sink received from this run's jobs (all of them unless timed out).
    pub delivered: u64,
    /// When the sink stopped counting (end-to-end or the deadline), from the first submission.
    pub measured_for: Duration,
    pub cpu: CpuShares,
    pub server_peak_rss_kib: Option<u64>,
}

impl ThroughputPhase {
    pub fn accepted_per_sec(&self) -> f64 {
        self.accepted as f64 / self.submit_time.as_secs_f64()
    }

    /// Jobs whose three messages all arrived per second; with a timed-out drain, the
    /// delivered messages / 3 over the time measured (a lower bound of the rate).
    pub fn end_to_end_jobs_per_sec(&self) -> f64 {
        self.delivered as f64 / MESSAGES_PER_JOB as f64 / self.measured_for.as_secs_f64()
    }

    pub fn messages_per_sec(&self) -> f64 {
        self.delivered as f64 / self.measured_for.as_secs_f64()
    }

    /// Jobs whose messages all arrived (at least 1, to divide by).
    pub fn jobs_delivered(&self) -> u32 {
        (self.delivered / MESSAGES_PER_JOB).max(1) as u32
    }
}

/// One closed-loop run of `setup`: `database` is the (fresh) PostgreSQL database its nodes
/// share, `None` for SQLite. With several nodes, job `i` goes to node `i mod nodes`.
pub async fn phase_throughput(
    launch: &Launch,
    bodies: &Arc<JobBody>,
    options: &Options,
    workers: usize,
    setup: Setup,
    database: Option<&Database>,
) -> Result<ThroughputPhase> {
    let sink = Sink::start()?;
    let url = database.map(|d| d.url.as_str());
    let mut nodes = Vec::with_capacity(setup.nodes());
    for _ in 0..setup.nodes() {
        nodes.push(Server::start(launch, sink.port, workers, url).await?);
    }
    let nodes = Arc::new(nodes);
    let pids: Vec<u32> = nodes.iter().map(Server::pid).collect();
    progress(&format!("  server pid {pids:?} (for perf: `perf record -g -p PID`)"));
    for node in nodes.iter() {
        warm_up(node, &sink, bodies).await?;
    }
    let baseline = sink.messages();
    let clamd_pid = child_pid_named("clamd");
    let postmaster = database.and_then(Database::postmaster_pid);
    if database.is_some() && postmaster.is_none() {
        bail!("cannot find PostgreSQL's postmaster.pid (its CPU time would be missing)");
    }
    let before = Snapshot::take(&pids, clamd_pid, postmaster, &sink);

    let next = Arc::new(AtomicUsize::new(0));
    let accepted_count = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut submitters = tokio::task::JoinSet::new();
    for _ in 0..options.concurrency {
        let (nodes, bodies, next, accepted_count) =
            (Arc::clone(&nodes), Arc::clone(bodies), Arc::clone(&next), Arc::clone(&accepted_count));
        let jobs = options.jobs;
        submitters.spawn(async move {
            let mut results = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= jobs {
                    break;
                }
                let body = next_body(&bodies);
                let sent = Instant::now();
                let outcome = nodes[i % nodes.len()].submit(body).await;
                if outcome == Ok(202) {
                    accepted_count.fetch_add(1, Ordering::Relaxed);
                }
                results.push((outcome, sent.elapsed()));
            }
            results
        });
    }
    let mut reporter = tokio::time::interval(Duration::from_secs(2));
    reporter.tick().await;
    let mut results = Vec::with_capacity(options.jobs);
    loop {
        tokio::select! {
            joined = submitters.join_next() => match joined {
                Some(joined) => results.extend(joined.context("a submitter panicked")?),
                None => break,
            },
            _ = reporter.tick() => progress(&format!(
                "  t={:>3.0} s: accepted {}, sink has {} msgs",
                started.elapsed().as_secs_f64(),
                accepted_count.load(Ordering::Relaxed),
                sink.messages() - baseline
            )),
        }
    }
    let submit_time = started.elapsed();
    let mut accepted = 0;
    let mut refused = Vec::new();
    let mut latencies = Vec::with_capacity(results.len());
    for (outcome, latency) in results {
        latencies.push(latency);
        match outcome {
            Ok(202) => accepted += 1,
            other => count_refusal(&mut refused, other),
        }
    }
    progress(&format!(
        "  all submitted in {:.1} s ({accepted} accepted); waiting for the sink",
        submit_time.as_secs_f64()
    ));
    let target = baseline + accepted as u64 * MESSAGES_PER_JOB;
    let deadline = Instant::now() + options.drain;
    let finished = loop {
        let step = (Instant::now() + Duration::from_secs(2)).min(deadline);
        if let Some(at) = sink.wait_for(target, step).await {
            break Some(at);
        }
        if Instant::now() >= deadline {
            break None;
        }
        progress(&format!(
            "  t={:>3.0} s: sink has {} of {} msgs",
            started.elapsed().as_secs_f64(),
            sink.messages() - baseline,
            target - baseline
        ));
    };
    let measured_until = finished.unwrap_or_else(Instant::now);
    let after = Snapshot::take(&pids, clamd_pid, postmaster, &sink);
    if finished.is_none() {
        progress(&format!(
            "  the sink did not get everything within {:?}: {} of {} msgs",
            options.drain,
            sink.messages() - baseline,
            target - baseline
        ));
    }
    let server_peak_rss_kib = pids.iter().filter_map(|&pid| peak_rss_kib(pid)).max();
    Ok(ThroughputPhase {
        setup,
        workers,
        jobs: options.jobs,
        accepted,
        refused,
        submit_time,
        latency: Percentiles::of(latencies),
        end_to_end: finished.map(|at| at - started),
        delivered: (sink.messages() - baseline).min(target - baseline),
        measured_for: measured_until - started,
        cpu: after.since(&before),
        server_peak_rss_kib,
    })
}
