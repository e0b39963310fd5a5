//! The ceiling: the sink's raw message rate with Postfix's `smtp-source`, for messages of the
//! sizes sealmail sends.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sealmail_tests::machine::children_cpu;

use crate::measure::progress;
use crate::probe::Sizes;
use crate::sink::{Sink, postfix_version};

/// Postfix's test SMTP client: the raw rate of the sink.
pub const SMTP_SOURCE: &str = "/usr/sbin/smtp-source";

/// Parallel sessions of `smtp-source` (the figure sealmail's own concurrency stays under).
pub const RAW_SESSIONS: u32 = 20;

/// Messages per raw-rate measurement.
pub const RAW_MESSAGES: u32 = 2000;

pub struct RawRate {
    pub label: String,
    pub messages: u32,
    pub per_sec: f64,
    pub sink_cpu: Duration,
    pub source_cpu: Duration,
    pub elapsed: Duration,
}

pub struct RawRates {
    pub sink_version: String,
    /// Original size, 2 RCPT, a new connection per message (as sealmail's transport does).
    pub original: RawRate,
    /// Original size, 2 RCPT, connections reused (`-d`).
    pub original_reuse: RawRate,
    /// Password-mail size, 1 RCPT, a new connection per message.
    pub password: RawRate,
}

impl RawRates {
    pub fn measure(sizes: &Sizes) -> Result<RawRates> {
        Ok(RawRates {
            sink_version: postfix_version(),
            original: raw_rate("original size, 2 RCPT, new connection per message", sizes.original, 2, false)?,
            original_reuse: raw_rate("original size, 2 RCPT, connections reused (-d)", sizes.original, 2, true)?,
            password: raw_rate("password-mail size, 1 RCPT, new connection per message", sizes.password, 1, false)?,
        })
    }
}

/// `smtp-source -s 20 -m 2000 -l SIZE -r RCPTS` against a fresh sink. `-l` counts the payload
/// only; smtp-source adds ~150 bytes of headers.
pub fn raw_rate(label: &str, size: usize, recipients: u32, reuse: bool) -> Result<RawRate> {
    let sink = Sink::start()?;
    let children_before = children_cpu();
    let sink_before = sink.cpu();
    let started = Instant::now();
    let mut command = Command::new(SMTP_SOURCE);
    command.args(["-s", &RAW_SESSIONS.to_string(), "-m", &RAW_MESSAGES.to_string()]);
    command.args(["-l", &size.to_string(), "-r", &recipients.to_string()]);
    command.args(["-f", "billing@sender.example", "-t", "rcpt@recipient.example", "-M", "sealmail.bench"]);
    if reuse {
        command.arg("-d");
    }
    let output = command
        .arg(format!("127.0.0.1:{}", sink.port))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {SMTP_SOURCE}"))?;
    if !output.status.success() {
        bail!("smtp-source failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
    }
    let elapsed = started.elapsed();
    // smtp-source exits after the last reply; the counter line follows within milliseconds.
    let deadline = Instant::now() + Duration::from_secs(5);
    while sink.messages() < u64::from(RAW_MESSAGES) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    let received = sink.messages();
    if received < u64::from(RAW_MESSAGES) {
        bail!("the sink counted {received} of {RAW_MESSAGES} messages from smtp-source");
    }
    let source_cpu = children_cpu().unwrap_or_default().saturating_sub(children_before.unwrap_or_default());
    let rate = RawRate {
        label: label.to_owned(),
        messages: RAW_MESSAGES,
        per_sec: f64::from(RAW_MESSAGES) / elapsed.as_secs_f64(),
        sink_cpu: sink.cpu().saturating_sub(sink_before),
        source_cpu,
        elapsed,
    };
    progress(&format!("  {label}: {:.0} msgs/s", rate.per_sec));
    Ok(rate)
}
