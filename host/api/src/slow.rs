//! Bounds on slow clients ("slow-loris"): a client must not hold a connection, a worker or
//! memory by sending — or reading — a request as slowly as it likes.
//!
//! Three guards, each with a configured bound ([`SlowClientLimits`]):
//! - the request head: hyper's `header_read_timeout` (set in [`super::connections`]); it also
//!   ends idle keep-alive connections, whose next head never starts;
//! - the request body: [`GuardedBody`] ends a body that makes no progress for `idle` or that
//!   arrives slower than `min_bytes_per_sec` on average (after a first `idle` of grace), and
//!   flags the request so that the answer is `408 Request Timeout` (RFC 9110 §15.5.9) with
//!   `Connection: close`;
//! - the response: [`WriteGuard`] ends a connection whose writes make no progress for `idle`
//!   (a client that stops reading while the server writes).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The bounds of [`GuardedBody`] and [`WriteGuard`].
#[derive(Debug, Clone, Copy)]
pub struct SlowClientLimits {
    /// Longest wait for the next piece of a request body, or for a write to make progress.
    pub idle: Duration,
    /// Slowest average body rate after the first `idle`; 0: no minimum.
    pub min_bytes_per_sec: u64,
}

/// Why a guarded body ended early.
#[derive(Debug, thiserror::Error)]
pub enum SlowBody {
    /// Nothing arrived for the idle timeout.
    #[error("the request body made no progress for {0:?}")]
    Stalled(Duration),
    /// Bytes arrived, but too slowly on average.
    #[error("the request body arrived slower than {0} bytes per second")]
    TooSlow(u64),
}

/// A request body that fails with [`SlowBody`] when its client is too slow, and sets
/// `timed_out` so that the response can say `408`.
pub struct GuardedBody<B> {
    inner: B,
    limits: SlowClientLimits,
    started: Instant,
    received: u64,
    last_progress: Instant,
    sleep: Pin<Box<Sleep>>,
    timed_out: Arc<AtomicBool>,
}

impl<B> GuardedBody<B> {
    /// Guards `inner`; `timed_out` is set when the guard ends it.
    pub fn new(inner: B, limits: SlowClientLimits, timed_out: Arc<AtomicBool>) -> Self {
        let now = Instant::now();
        Self {
            inner,
            limits,
            started: now,
            received: 0,
            last_progress: now,
            sleep: Box::pin(tokio::time::sleep_until(now + limits.idle)),
            timed_out,
        }
    }

    /// When the body is due to have made more progress, and which bound that is.
    fn deadline(&self) -> (Instant, SlowBody) {
        let idle = (self.last_progress + self.limits.idle, SlowBody::Stalled(self.limits.idle));
        if self.limits.min_bytes_per_sec == 0 {
            return idle;
        }
        // `received` bytes at the minimum rate are worth this much time after the grace.
        let earned = Duration::from_secs_f64(self.received as f64 / self.limits.min_bytes_per_sec as f64);
        let rate = self.started + self.limits.idle + earned;
        if rate < idle.0 { (rate, SlowBody::TooSlow(self.limits.min_bytes_per_sec)) } else { idle }
    }
}

impl<B> Body for GuardedBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<axum::BoxError>,
{
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if let Some(Ok(frame)) = &frame
                    && let Some(data) = frame.data_ref()
                {
                    this.received += data.len() as u64;
                    this.last_progress = Instant::now();
                }
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let (deadline, why) = this.deadline();
                if this.sleep.deadline() != deadline {
                    this.sleep.as_mut().reset(deadline);
                }
                ready!(this.sleep.as_mut().poll(cx));
                this.timed_out.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(Box::new(why))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A connection whose writes fail with `TimedOut` after `idle` without progress.
pub struct WriteGuard<IO> {
    inner: IO,
    idle: Duration,
    /// Running while a write (or flush) is pending; `None` after progress.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl<IO> WriteGuard<IO> {
    /// Guards the writes of `inner`.
    pub fn new(inner: IO, idle: Duration) -> Self {
        Self { inner, idle, stalled: None }
    }

    /// `Ready(Err)` when a pending write has waited `idle`; `Pending` otherwise.
    fn poll_stall(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let idle = self.idle;
        let sleep = self.stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(idle)));
        ready!(sleep.as_mut().poll(cx));
        Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "the client stopped reading the response"))
    }

    /// Records the result of a write-side poll: progress clears the timer; `Pending` runs it.
    fn watch<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(result) => {
                self.stalled = None;
                Poll::Ready(result)
            }
            Poll::Pending => self.poll_stall(cx).map(Err),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for WriteGuard<IO> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for WriteGuard<IO> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch(cx, polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch(cx, polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let polled = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.watch(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt as _;

    /// A body fed by a channel: each message is one data frame.
    struct Channel(tokio::sync::mpsc::Receiver<Bytes>);

    impl Body for Channel {
        type Data = Bytes;
        type Error = std::convert::Infallible;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            self.0.poll_recv(cx).map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
        }
    }

    fn limits(idle_ms: u64, min_bytes_per_sec: u64) -> SlowClientLimits {
        SlowClientLimits { idle: Duration::from_millis(idle_ms), min_bytes_per_sec }
    }

    // Real time (tokio's test-util is not in the build): short bounds, loose upper margins.

    #[tokio::test]
    async fn a_stalled_body_ends_after_the_idle_timeout() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let flag = Arc::new(AtomicBool::new(false));
        let mut guarded = GuardedBody::new(Channel(rx), limits(300, 0), flag.clone());
        tx.send(Bytes::from_static(b"abc")).await.unwrap();
        assert_eq!(guarded.frame().await.unwrap().unwrap().into_data().unwrap(), "abc");
        let started = Instant::now();
        let e = guarded.frame().await.unwrap().unwrap_err();
        assert!(e.to_string().contains("no progress"), "{e}");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(1500), "{took:?}");
        assert!(flag.load(Ordering::Relaxed));
        drop(tx);
    }

    #[tokio::test]
    async fn a_trickled_body_ends_at_the_minimum_rate() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let flag = Arc::new(AtomicBool::new(false));
        // 300 ms of grace, then 1000 bytes/s: one byte every 50 ms (20 bytes/s) falls behind
        // although no gap comes near the idle timeout.
        let mut guarded = GuardedBody::new(Channel(rx), limits(300, 1000), flag.clone());
        let feeder = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                if tx.send(Bytes::from_static(b"x")).await.is_err() {
                    break;
                }
            }
        });
        let started = Instant::now();
        let error = loop {
            match guarded.frame().await {
                Some(Ok(_)) => {}
                Some(Err(e)) => break e,
                None => panic!("the body cannot end"),
            }
        };
        assert!(error.to_string().contains("slower than 1000 bytes"), "{error}");
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(300) && took < Duration::from_millis(1500), "{took:?}");
        assert!(flag.load(Ordering::Relaxed));
        feeder.abort();
    }

    #[tokio::test]
    async fn a_steady_body_is_untouched() {
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        let flag = Arc::new(AtomicBool::new(false));
        let guarded = GuardedBody::new(Channel(rx), limits(300, 1000), flag.clone());
        tokio::spawn(async move {
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                tx.send(Bytes::from(vec![b'x'; 1000])).await.unwrap();
            }
        });
        let all = guarded.collect().await.unwrap().to_bytes();
        assert_eq!(all.len(), 10_000);
        assert!(!flag.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn a_write_that_never_progresses_times_out() {
        use tokio::io::AsyncWriteExt as _;
        // A duplex pipe of 16 bytes nobody reads: the write blocks after 16 bytes.
        let (near, _far) = tokio::io::duplex(16);
        let mut guarded = WriteGuard::new(near, Duration::from_millis(300));
        let started = Instant::now();
        let e = guarded.write_all(&[0u8; 64]).await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(250) && took < Duration::from_millis(1500), "{took:?}");
    }
}
