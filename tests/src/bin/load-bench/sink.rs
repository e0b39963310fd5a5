//! The next hop: Postfix's `smtp-sink`, which counts and discards what it receives and never
//! touches the disk; its counters say when every message has arrived.

use std::io::Read as _;
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use sealmail_test_support::free_port;
use sealmail_tests::machine::process_cpu;

/// Postfix's test SMTP server: counts and discards, never touches the disk.
pub const SMTP_SINK: &str = "/usr/sbin/smtp-sink";

/// Postfix's `smtp-sink` in its own process, counting messages (`-c` prints
/// `sess=N quit=N mesg=N` after each one; a reader thread keeps the last `mesg`).
pub struct Sink {
    pub child: Child,
    pub port: u16,
    pub messages: Arc<AtomicU64>,
}

impl Sink {
    pub fn start() -> Result<Sink> {
        let mut last_error = String::new();
        // free_port() can race with another process taking the port: a fresh one then helps.
        for _ in 0..3 {
            let port = free_port();
            let mut command = Command::new(SMTP_SINK);
            command.arg("-c");
            if is_root() {
                // smtp-sink refuses to run as root without dropping privileges.
                command.args(["-u", "nobody"]);
            }
            // 1024: the listen backlog.
            let mut child = command
                .arg(format!("127.0.0.1:{port}"))
                .arg("1024")
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("cannot start {SMTP_SINK}"))?;
            let messages = Arc::new(AtomicU64::new(0));
            let mut stdout = child.stdout.take().context("smtp-sink stdout")?;
            let counter = Arc::clone(&messages);
            std::thread::spawn(move || {
                let mut buffer = [0u8; 4096];
                let mut pending = Vec::new();
                while let Ok(n) = stdout.read(&mut buffer) {
                    if n == 0 {
                        break;
                    }
                    pending.extend_from_slice(&buffer[..n]);
                    while let Some(end) = pending.iter().position(|b| *b == b'\r' || *b == b'\n') {
                        let line: Vec<u8> = pending.drain(..=end).collect();
                        let line = String::from_utf8_lossy(&line);
                        if let Some(count) = line.split_whitespace().find_map(|f| f.strip_prefix("mesg="))
                            && let Ok(count) = count.parse::<u64>()
                        {
                            counter.fetch_max(count, Ordering::Relaxed);
                        }
                    }
                }
            });
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Sink { child, port, messages });
                }
                if let Some(status) = child.try_wait()? {
                    let mut err = String::new();
                    if let Some(mut stderr) = child.stderr.take() {
                        let _ = stderr.read_to_string(&mut err);
                    }
                    last_error = format!("smtp-sink exited ({status}): {err}");
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = "smtp-sink did not listen within 5 s".to_owned();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        bail!("{last_error}")
    }

    /// Messages received so far (the "." of DATA answered).
    pub fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    pub fn cpu(&self) -> Duration {
        process_cpu(self.child.id()).unwrap_or_default()
    }

    /// Waits until the sink has `target` messages or `deadline` passes; the time it got there.
    pub async fn wait_for(&self, target: u64, deadline: Instant) -> Option<Instant> {
        loop {
            if self.messages() >= target {
                return Some(Instant::now());
            }
            if Instant::now() > deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn postfix_version() -> String {
    Command::new("/usr/sbin/postconf")
        .args(["-d", "-h", "mail_version"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "unknown version".to_owned())
}

pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("Uid:").map(|u| u.split_whitespace().nth(1) == Some("0"))))
        .unwrap_or(false)
}
