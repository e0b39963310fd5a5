//! Phase A: accept latency at a fixed offered rate (open loop: requests leave on a schedule,
//! and latency counts from the scheduled time).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::job::{JobBody, next_body};
use crate::measure::progress;
use crate::measure::tail;
use crate::measure::{MachineTicks, Percentiles};
use crate::options::Options;
use crate::server::{Launch, Server, warm_up};
use crate::sink::Sink;

pub struct AcceptPhase {
    pub workers: usize,
    pub offered: usize,
    pub offered_rate: f64,
    pub accepted: usize,
    pub refused: Vec<(String, usize)>,
    pub latency: Percentiles,
    /// Messages the sink had when the last response arrived, of 3 × accepted.
    pub delivered_during: u64,
    pub elapsed: Duration,
    pub machine_busy_percent: f64,
}

pub async fn phase_accept(launch: &Launch, bodies: &Arc<JobBody>, options: &Options) -> Result<AcceptPhase> {
    let workers = options.workers[0];
    let sink = Sink::start()?;
    let server = Arc::new(Server::start(launch, sink.port, workers, None).await?);
    warm_up(&server, &sink, bodies).await?;
    let baseline = sink.messages();
    let ticks_before = MachineTicks::read();

    let total = (options.rate * options.rate_secs) as usize;
    let interval = Duration::from_secs_f64(1.0 / f64::from(options.rate));
    let started = tokio::time::Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    let mut next_report = Duration::from_secs(2);
    for k in 0..total {
        let scheduled = started + interval * k as u32;
        tokio::time::sleep_until(scheduled).await;
        let body = next_body(bodies);
        let server = Arc::clone(&server);
        tasks.spawn(async move {
            let outcome = server.submit(body).await;
            // From the scheduled time, not the actual send: a late send is the server's delay
            // too (it holds the client's threads), so it must not vanish from the figures.
            (outcome, scheduled.elapsed())
        });
        if started.elapsed() >= next_report {
            progress(&format!(
                "  t={:>2} s: sent {}, sink has {} msgs",
                next_report.as_secs(),
                k + 1,
                sink.messages() - baseline
            ));
            next_report += Duration::from_secs(2);
        }
    }
    let mut latencies = Vec::with_capacity(total);
    let mut accepted = 0;
    let mut refused: Vec<(String, usize)> = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (outcome, latency) = joined.context("a submitter panicked")?;
        latencies.push(latency);
        match outcome {
            Ok(202) => accepted += 1,
            other => count_refusal(&mut refused, other),
        }
    }
    let elapsed = started.elapsed();
    let delivered_during = sink.messages() - baseline;
    let machine_busy_percent = MachineTicks::busy_percent(ticks_before.as_ref(), MachineTicks::read().as_ref());
    Ok(AcceptPhase {
        workers,
        offered: total,
        offered_rate: total as f64 / (interval * total as u32).as_secs_f64(),
        accepted,
        refused,
        latency: Percentiles::of(latencies),
        delivered_during,
        elapsed,
        machine_busy_percent,
    })
}

pub fn count_refusal(refused: &mut Vec<(String, usize)>, outcome: Result<u16, String>) {
    let key = match outcome {
        Ok(code) => format!("HTTP {code}"),
        Err(e) => format!("client error: {}", tail(&e, 80)),
    };
    match refused.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => refused.push((key, 1)),
    }
}
