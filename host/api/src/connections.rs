//! The API's accept loop: plain HTTP/1.1, or HTTPS when `[api] tls_cert_file` and
//! `tls_key_file` are set, with bounds on slow clients ([`super::slow`]) and on the number of
//! connections. `axum::serve` has neither header nor body timeouts, so connections are
//! served with hyper's http1 builder directly, over the same router.
//!
//! Per connection: a TLS handshake must finish within `header_read_timeout_secs`; each
//! request head likewise (hyper's `header_read_timeout`, which also closes idle keep-alive
//! connections); a request body that stalls for `idle_timeout_secs` or arrives slower than
//! `min_body_bytes_per_sec` is answered `408` and the connection closed; a response the
//! client stops reading ends the connection after `idle_timeout_secs`. At most
//! `max_connections` connections are served at once; further ones wait in the listen backlog.
//!
//! Every request carries the peer address as axum's `ConnectInfo<SocketAddr>` extension.
//! On shutdown the listener closes, idle connections end, and requests in progress may
//! finish for [`SHUTDOWN_GRACE`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt as _;

use super::slow::{GuardedBody, SlowClientLimits, WriteGuard};
use super::tls::ApiTlsError;
use crate::error::{ApiError, ErrorCode};

/// How long requests in progress may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// The `[api]` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// PEM file with the server certificate (leaf first, then intermediates): with
    /// `tls_key_file`, the API speaks HTTPS only.
    pub tls_cert_file: Option<PathBuf>,
    /// PEM file with the certificate's private key (PKCS#8, PKCS#1 or SEC1).
    pub tls_key_file: Option<PathBuf>,
    /// Longest time for a TLS handshake and for each request head (request line and
    /// headers), seconds; also how long an idle keep-alive connection stays open.
    pub header_read_timeout_secs: u64,
    /// Longest wait for the next piece of a request body, or for a client to take the next
    /// piece of a response, seconds.
    pub idle_timeout_secs: u64,
    /// Slowest average request body, bytes per second, after the first `idle_timeout_secs`
    /// (0: no minimum).
    pub min_body_bytes_per_sec: u64,
    /// Most connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
}

impl Default for ApiConfig {
    fn default() -> Self {
        Self {
            tls_cert_file: None,
            tls_key_file: None,
            // Long enough for a client on a poor mobile link, short enough that a few
            // hundred slow-loris connections free their slots quickly.
            header_read_timeout_secs: 10,
            idle_timeout_secs: 20,
            // A 28 MB request at this rate takes 8 hours: no real client is slower.
            min_body_bytes_per_sec: 1024,
            max_connections: 1024,
        }
    }
}

impl ApiConfig {
    /// What [`serve`] needs; reads and checks the TLS files now, so a bad one stops the
    /// start-up with an error naming it.
    pub fn settings(&self) -> Result<ServeSettings, ApiTlsError> {
        let tls = match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some(TlsAcceptor::from(super::tls::server_config(cert, key)?)),
            (None, None) => None,
            _ => return Err(ApiTlsError::Incomplete),
        };
        Ok(ServeSettings {
            tls,
            header_read_timeout: Duration::from_secs(self.header_read_timeout_secs.max(1)),
            limits: SlowClientLimits {
                idle: Duration::from_secs(self.idle_timeout_secs.max(1)),
                min_bytes_per_sec: self.min_body_bytes_per_sec,
            },
            max_connections: self.max_connections.max(1),
        })
    }
}

/// The checked form of [`ApiConfig`].
#[derive(Clone)]
pub struct ServeSettings {
    tls: Option<TlsAcceptor>,
    header_read_timeout: Duration,
    limits: SlowClientLimits,
    max_connections: usize,
}

impl ServeSettings {
    /// `"https"` with TLS, else `"http"`: for the banner.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// The start-up warning of an API that serves `scheme` on `listen`: plain HTTP beyond
/// loopback carries account secrets and documents in clear text. Without the `WARNING: `
/// prefix.
pub fn plain_http_warning(scheme: &str, listen: SocketAddr) -> Option<String> {
    (scheme == "http" && !listen.ip().is_loopback()).then(|| {
        format!(
            "the API serves plain HTTP on {listen} (not loopback): account secrets and documents cross the network \
             in clear text; set api.tls_cert_file and api.tls_key_file (or keep listen on loopback behind a \
             TLS proxy)"
        )
    })
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in progress
/// finish (at most [`SHUTDOWN_GRACE`]).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    settings: ServeSettings,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(settings.max_connections));
    let settings = Arc::new(settings);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning (as
                    // axum::serve does).
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let (app, settings, watcher) = (app.clone(), settings.clone(), graceful.watcher());
        tokio::spawn(async move {
            match &settings.tls {
                None => connection(stream, peer, app, &settings, watcher).await,
                Some(acceptor) => {
                    // A handshake that stalls holds a slot like a slow request head.
                    match tokio::time::timeout(settings.header_read_timeout, acceptor.accept(stream)).await {
                        Ok(Ok(tls)) => connection(tls, peer, app, &settings, watcher).await,
                        Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                }
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        tracing::warn!("requests still in progress after {SHUTDOWN_GRACE:?}; closing them");
    }
    Ok(())
}

/// Serves one connection's requests.
async fn connection<IO>(io: IO, peer: SocketAddr, app: Router, settings: &ServeSettings, watcher: Watcher)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let limits = settings.limits;
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(handle(app, request, peer, limits).await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(settings.header_read_timeout);
    let conn = builder.serve_connection(TokioIo::new(WriteGuard::new(io, limits.idle)), service);
    if let Err(e) = watcher.watch(conn).await {
        // Timeouts, resets and malformed requests: the client's problem, not the server's.
        tracing::debug!(%peer, error = %e, "connection ended");
    }
}

/// One request through the router, its body guarded; `408` when the guard ended it.
async fn handle(app: Router, request: Request<Incoming>, peer: SocketAddr, limits: SlowClientLimits) -> Response {
    let timed_out = Arc::new(AtomicBool::new(false));
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(ConnectInfo(peer));
    let body = axum::body::Body::new(GuardedBody::new(body, limits, timed_out.clone()));
    let Ok(response) = app.oneshot(Request::from_parts(parts, body)).await;
    if timed_out.load(Ordering::Relaxed) {
        tracing::debug!(%peer, "request body too slow; answered 408");
        let mut response =
            ApiError::new(ErrorCode::RequestTimeout, "the request body arrived too slowly; the connection is closed")
                .into_response();
        // RFC 9110 §15.5.9: the server closes the connection after a 408.
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    response
}
