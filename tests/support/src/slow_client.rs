//! Slow clients ("slow-loris") over raw sockets, for the transport tests: a client that sends
//! a prefix at once, then trickles bytes one at a time (or nothing), while the test watches
//! when — and how — the server ends the connection.
//!
//! A probe never hangs a test: after its `cap` it reports the connection as still open.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// What a slow client does after connecting.
#[derive(Clone, Debug)]
pub struct SlowScript {
    /// Sent at once.
    pub prefix: Vec<u8>,
    /// Then these bytes, one every `interval`, over and over (empty: nothing more).
    pub trickle: Vec<u8>,
    /// The pause between trickled bytes.
    pub interval: Duration,
}

impl SlowScript {
    /// Sends `prefix`, then nothing.
    pub fn stall(prefix: impl Into<Vec<u8>>) -> SlowScript {
        SlowScript { prefix: prefix.into(), trickle: Vec::new(), interval: Duration::from_secs(1) }
    }

    /// Sends `prefix`, then `trickle` byte by byte every `interval`, forever.
    pub fn trickle(prefix: impl Into<Vec<u8>>, trickle: impl Into<Vec<u8>>, interval: Duration) -> SlowScript {
        SlowScript { prefix: prefix.into(), trickle: trickle.into(), interval }
    }
}

/// How a probe ended.
#[derive(Clone, Debug)]
pub struct ProbeResult {
    /// The server closed (EOF or reset) before the cap.
    pub closed: bool,
    /// From the end of the prefix to the close (or to the cap).
    pub after: Duration,
    /// Everything the server sent.
    pub received: Vec<u8>,
}

impl ProbeResult {
    /// The HTTP status of the server's answer, if it sent one.
    pub fn status(&self) -> Option<u16> {
        let text = std::str::from_utf8(&self.received).ok()?;
        let line = text.lines().find(|l| l.starts_with("HTTP/1.1 ") && !l.starts_with("HTTP/1.1 100"))?;
        line.get(9..12)?.parse().ok()
    }

    /// One line for a summary: `closed after 1.02 s (408)`.
    pub fn describe(&self) -> String {
        let how = match self.status() {
            Some(code) => format!("answered {code}, then closed"),
            None if self.received.is_empty() => "closed without an answer".to_owned(),
            None => format!("closed after {} bytes that are no HTTP answer", self.received.len()),
        };
        if self.closed {
            format!("{how} after {:.2} s", self.after.as_secs_f64())
        } else {
            format!("STILL OPEN after {:.2} s", self.after.as_secs_f64())
        }
    }
}

/// Runs `script` on `stream` until the server ends the connection or `cap` passes.
pub async fn probe<S>(stream: S, script: SlowScript, cap: Duration) -> ProbeResult
where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let _ = writer.write_all(&script.prefix).await;
    let _ = writer.flush().await;
    let started = Instant::now();
    let trickler = tokio::spawn(async move {
        if script.trickle.is_empty() {
            // Hold the write half open: dropping it would half-close the connection.
            std::future::pending::<()>().await;
        }
        for byte in script.trickle.iter().cycle() {
            tokio::time::sleep(script.interval).await;
            if writer.write_all(&[*byte]).await.is_err() || writer.flush().await.is_err() {
                break;
            }
        }
        std::future::pending::<()>().await;
    });
    let mut received = Vec::new();
    let closed = tokio::time::timeout(cap, async {
        let mut buf = [0u8; 4096];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    trickler.abort();
    ProbeResult { closed, after: started.elapsed(), received }
}
