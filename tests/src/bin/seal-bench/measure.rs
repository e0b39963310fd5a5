//! Timing and sampling: repeated runs, their percentiles, and the units the figures use.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{Value, json};

pub const MIB: f64 = 1024.0 * 1024.0;

/// Durations of repeated runs, sorted.
#[derive(Debug, Clone)]
pub struct Samples {
    pub sorted: Vec<Duration>,
}

impl Samples {
    pub fn new(mut runs: Vec<Duration>) -> Samples {
        assert!(!runs.is_empty(), "at least one run is timed");
        runs.sort();
        Samples { sorted: runs }
    }

    /// Nearest-rank percentile (`p` in 0..=100).
    pub fn percentile(&self, p: f64) -> Duration {
        let n = self.sorted.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.sorted[rank.clamp(1, n) - 1]
    }

    pub fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    pub fn best(&self) -> Duration {
        self.sorted[0]
    }

    pub fn mean(&self) -> Duration {
        self.sorted.iter().sum::<Duration>() / self.sorted.len() as u32
    }

    pub fn secs(&self) -> f64 {
        self.median().as_secs_f64()
    }

    pub fn json(&self) -> Value {
        json!({
            "runs": self.sorted.len(),
            "median_s": self.median().as_secs_f64(),
            "best_s": self.best().as_secs_f64(),
            "mean_s": self.mean().as_secs_f64(),
            "p99_s": self.percentile(99.0).as_secs_f64(),
        })
    }
}

/// Runs `f` `warmups` times untimed, then `runs` times timed; returns the times and the
/// last result.
pub fn time_sync<T>(warmups: usize, runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<(Samples, T)> {
    for _ in 0..warmups {
        f()?;
    }
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f()?;
        times.push(start.elapsed());
        last = Some(value);
    }
    Ok((Samples::new(times), last.context("no run was timed")?))
}

/// [`time_sync`] for async work (calls into the component).
pub async fn time_async<T>(warmups: usize, runs: usize, mut f: impl AsyncFnMut() -> Result<T>) -> Result<(Samples, T)> {
    for _ in 0..warmups {
        f().await?;
    }
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f().await?;
        times.push(start.elapsed());
        last = Some(value);
    }
    Ok((Samples::new(times), last.context("no run was timed")?))
}

/// Times one run of `work` (an async block does nothing until awaited, so creating it first
/// costs nothing).
pub async fn timed<T>(work: impl Future<Output = Result<T>>) -> Result<(Duration, T)> {
    let start = Instant::now();
    let value = work.await?;
    Ok((start.elapsed(), value))
}

/// Keeps `value` unless the round was a warm-up.
pub fn record<T>(series: &mut Vec<T>, value: T, measured: bool) {
    if measured {
        series.push(value);
    }
}

pub fn timed_sync<T>(work: impl FnOnce() -> Result<T>) -> Result<(Duration, T)> {
    let start = Instant::now();
    let value = work()?;
    Ok((start.elapsed(), value))
}

/// `n` with `separator` between groups of three digits.
pub fn group_digits(n: u64, separator: char) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}

/// A progress line on stderr: the report itself goes to stdout.
pub fn progress(message: &str) {
    eprintln!("[seal-bench] {message}");
}
