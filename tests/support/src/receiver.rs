//! A real HTTP callback receiver for the push-notification tests: an axum server on
//! `127.0.0.1` that records every request it gets (method, path, headers, raw body, arrival
//! time, the status it answered) and answers from a script, so tests can make the sender
//! retry (5xx), give up (404), meet a redirect or wait for a slow answer.
//!
//! It never follows, forwards or interprets anything it receives beyond recording it, and it
//! stops listening when stopped or dropped, so a test can take it down and bring it back on
//! the same port to play an endpoint that is temporarily away.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Largest request body accepted: a full batch of 100 events is a few tens of KiB; more
/// room so a sender that exceeds its own bound is recorded, not cut off.
const MAX_BODY: usize = 32 * 1024 * 1024;
/// How long [`Receiver::start_on`] keeps trying to bind a port that is still taken (by a
/// receiver just stopped, or by whoever raced for a port from `free_port`).
const BIND_PATIENCE: Duration = Duration::from_secs(5);
/// How long [`Receiver::stop`] lets answers in progress finish before cutting them off.
const STOP_PATIENCE: Duration = Duration::from_secs(5);

/// Header names (lower case, as HTTP/1.1 is case-insensitive) to every value received under
/// that name, in order: duplicates are kept.
pub type Headers = BTreeMap<String, Vec<String>>;

/// How the receiver answers one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// Answer at once with this status and an empty body.
    Status(u16),
    /// Answer with this status (301–308) and `Location: <url>`.
    Redirect(u16, String),
    /// Wait this long, then answer with the status (the sender may give up first).
    Delay(Duration, u16),
}

impl Reply {
    /// The status this reply answers with.
    pub fn status(&self) -> u16 {
        match self {
            Reply::Status(code) | Reply::Redirect(code, _) | Reply::Delay(_, code) => *code,
        }
    }
}

/// One request as it arrived.
#[derive(Clone)]
pub struct ReceivedRequest {
    /// `POST`, `GET`, …
    pub method: String,
    /// The request target: path and query, e.g. `/hook?x=1`.
    pub path: String,
    /// Every header, names lower-cased.
    pub headers: Headers,
    /// The body, byte for byte.
    pub body: Vec<u8>,
    /// When the request (headers and body) had arrived.
    pub at: Instant,
    /// The status the receiver answered (or, for [`Reply::Delay`], will answer) with.
    pub answered: u16,
}

impl ReceivedRequest {
    /// The first value of header `name` (any case), if it was sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(&name.to_ascii_lowercase()).and_then(|v| v.first()).map(String::as_str)
    }

    /// Whether the receiver answered with a 2xx status.
    pub fn accepted(&self) -> bool {
        (200..300).contains(&self.answered)
    }

    /// The body as text (invalid UTF-8 replaced), for messages.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body parsed as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("callback body is not JSON ({e}): {:?}", self.body_text()))
    }

    /// The body's `notifications` items (empty when it has none).
    pub fn notifications(&self) -> Vec<Value> {
        self.json()["notifications"].as_array().cloned().unwrap_or_default()
    }

    /// The `notifications[].meta.tag` values, in body order (`"?"` for an item without one).
    pub fn tags(&self) -> Vec<String> {
        self.notifications().iter().map(|n| n["meta"]["tag"].as_str().unwrap_or("?").to_owned()).collect()
    }
}

impl std::fmt::Debug for ReceivedRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceivedRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field("answered", &self.answered)
            .field("headers", &self.headers)
            .field("body", &self.body_text())
            .finish()
    }
}

/// What the server task and the test share.
struct Shared {
    log: Mutex<Log>,
}

struct Log {
    requests: Vec<ReceivedRequest>,
    script: VecDeque<Reply>,
    default: Reply,
}

impl Shared {
    fn log(&self) -> MutexGuard<'_, Log> {
        // A panicking handler must not hide what was recorded before it.
        self.log.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The listening server: a signal to stop and the task serving.
struct Running {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

/// A running receiver; dropping it stops it.
pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    running: Option<Running>,
}

impl Receiver {
    /// Starts a receiver on `127.0.0.1` on a free port ([`crate::ports::listen_on_free_port`]:
    /// still free for a [`Receiver::restart`] after a [`Receiver::stop`]).
    pub async fn start() -> Receiver {
        let listener = crate::ports::listen_on_free_port(std::net::Ipv4Addr::LOCALHOST.into());
        Self::serve_on(TcpListener::from_std(listener).expect("a tokio listener"), Arc::new(Shared::new()))
    }

    /// Starts a receiver on `127.0.0.1:port`, retrying the bind for a few seconds while the
    /// port is still taken.
    pub async fn start_on(port: u16) -> Receiver {
        let listener = bind_with_patience(port).await;
        Self::serve_on(listener, Arc::new(Shared::new()))
    }

    fn serve_on(listener: TcpListener, shared: Arc<Shared>) -> Receiver {
        let port = listener.local_addr().expect("bound").port();
        let running = Some(serve(listener, Arc::clone(&shared)));
        Receiver { port, shared, running }
    }

    /// The port it listens on (also after [`Receiver::stop`]).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT{path}`; `path` starts with `/`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Answers the next requests with `replies`, one each, in order; after them, with the
    /// default reply.
    pub fn set_script(&self, replies: Vec<Reply>) {
        self.shared.log().script = replies.into();
    }

    /// The reply once the script is used up (initially `Reply::Status(200)`).
    pub fn set_default(&self, reply: Reply) {
        self.shared.log().default = reply;
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<ReceivedRequest> {
        self.shared.log().requests.clone()
    }

    /// Every `notifications[]` item of every request answered with a 2xx status, in arrival
    /// order: what a receiver that answered would have taken in.
    pub fn notifications(&self) -> Vec<Value> {
        self.requests().iter().filter(|r| r.accepted()).flat_map(ReceivedRequest::notifications).collect()
    }

    /// Polls until `done(requests so far)` holds and returns the requests; panics with them
    /// when `timeout` passes first.
    pub async fn wait_for(&self, done: impl Fn(&[ReceivedRequest]) -> bool, timeout: Duration) -> Vec<ReceivedRequest> {
        let deadline = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if done(&requests) {
                return requests;
            }
            if Instant::now() > deadline {
                panic!(
                    "the callback receiver on port {} did not get what was expected within {timeout:?}; \
                     it got {} request(s): {requests:#?}",
                    self.port,
                    requests.len()
                );
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Stops listening and closes every connection (idle keep-alive ones at once, answers in
    /// progress after at most a few seconds): connections are refused until
    /// [`Receiver::restart`], and the port is free for another listener. Records are kept.
    pub async fn stop(&mut self) {
        if let Some(Running { stop, mut task }) = self.running.take() {
            let _ = stop.send(());
            // Graceful shutdown drops the listener first, then waits for open connections.
            if tokio::time::timeout(STOP_PATIENCE, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
    }

    /// Listens again on the same port, with the same records, script and default.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = bind_with_patience(self.port).await;
        self.running = Some(serve(listener, Arc::clone(&self.shared)));
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        if let Some(Running { stop, task }) = self.running.take() {
            let _ = stop.send(());
            // Aborting the serving future drops the listener now; connections still open end
            // with their runtime.
            task.abort();
        }
    }
}

impl Shared {
    fn new() -> Shared {
        Shared { log: Mutex::new(Log { requests: Vec::new(), script: VecDeque::new(), default: Reply::Status(200) }) }
    }
}

async fn bind_with_patience(port: u16) -> TcpListener {
    let deadline = Instant::now() + BIND_PATIENCE;
    loop {
        match TcpListener::bind(("127.0.0.1", port)).await {
            Ok(listener) => return listener,
            Err(e) if Instant::now() > deadline => panic!("cannot bind 127.0.0.1:{port} for the receiver: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

fn serve(listener: TcpListener, shared: Arc<Shared>) -> Running {
    let app = Router::new().fallback(record_and_answer).layer(DefaultBodyLimit::max(MAX_BODY)).with_state(shared);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let server = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.await;
        });
        // The listener is local; an accept error on it ends the test's receiver only.
        let _ = server.await;
    });
    Running { stop, task }
}

/// Records the request, then answers with the next scripted reply.
async fn record_and_answer(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut recorded = Headers::new();
    for (name, value) in &headers {
        recorded
            .entry(name.as_str().to_owned())
            .or_default()
            .push(String::from_utf8_lossy(value.as_bytes()).into_owned());
    }
    let reply = {
        let mut log = shared.log();
        let reply = log.script.pop_front().unwrap_or_else(|| log.default.clone());
        log.requests.push(ReceivedRequest {
            method: method.as_str().to_owned(),
            path: uri.path_and_query().map_or_else(|| uri.path().to_owned(), |p| p.as_str().to_owned()),
            headers: recorded,
            body: body.to_vec(),
            at: Instant::now(),
            answered: reply.status(),
        });
        reply
    };
    let status = |code: u16| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match reply {
        Reply::Status(code) => status(code).into_response(),
        Reply::Redirect(code, location) => (status(code), [(header::LOCATION, location)]).into_response(),
        Reply::Delay(wait, code) => {
            tokio::time::sleep(wait).await;
            status(code).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .expect("client")
    }

    async fn post(client: &reqwest::Client, url: &str, body: &str) -> reqwest::Response {
        client
            .post(url)
            .header("content-type", "application/json")
            .header("x-twice", "one")
            .header("x-twice", "two")
            .body(body.to_owned())
            .send()
            .await
            .expect("POST")
    }

    const BODY: &str = r#"{"meta":{"jobId":"j"},"notifications":[{"meta":{"tag":"j.1"}},{"meta":{"tag":"j.2"}}]}"#;

    #[tokio::test]
    async fn scripted_replies_then_default_and_everything_recorded() {
        let receiver = Receiver::start().await;
        receiver.set_script(vec![Reply::Status(500)]);
        let client = client();
        let url = receiver.url("/hook?x=1");
        assert_eq!(post(&client, &url, BODY).await.status().as_u16(), 500);
        assert_eq!(post(&client, &url, BODY).await.status().as_u16(), 200);
        receiver.set_default(Reply::Status(404));
        assert_eq!(post(&client, &url, "not json").await.status().as_u16(), 404);

        let requests = receiver.wait_for(|r| r.len() == 3, Duration::from_secs(5)).await;
        assert_eq!(requests.iter().map(|r| r.answered).collect::<Vec<_>>(), [500, 200, 404]);
        let first = &requests[0];
        assert_eq!((first.method.as_str(), first.path.as_str()), ("POST", "/hook?x=1"));
        assert_eq!(first.header("Content-Type"), Some("application/json"));
        assert_eq!(first.headers["x-twice"], ["one", "two"], "duplicates kept in order");
        assert_eq!(first.body, BODY.as_bytes());
        assert_eq!(first.tags(), ["j.1", "j.2"]);
        assert!(requests[0].at <= requests[1].at && requests[1].at <= requests[2].at);
        // Only the 2xx-answered request counts as taken in.
        let taken: Vec<Value> = receiver.notifications().into_iter().map(|n| n["meta"]["tag"].clone()).collect();
        assert_eq!(taken, ["j.1", "j.2"]);
    }

    #[tokio::test]
    async fn redirects_and_delays_are_answered_as_scripted() {
        let receiver = Receiver::start().await;
        let target = Receiver::start().await;
        receiver.set_script(vec![
            Reply::Redirect(302, target.url("/elsewhere")),
            Reply::Delay(Duration::from_millis(300), 201),
        ]);
        let client = client();
        let redirected = post(&client, &receiver.url("/r"), BODY).await;
        assert_eq!(redirected.status().as_u16(), 302);
        assert_eq!(redirected.headers()["location"], target.url("/elsewhere").as_str());
        let started = Instant::now();
        assert_eq!(post(&client, &receiver.url("/slow"), BODY).await.status().as_u16(), 201);
        assert!(started.elapsed() >= Duration::from_millis(300), "the delayed answer came early");
        assert_eq!(receiver.requests().len(), 2);
        assert!(target.requests().is_empty(), "a client without redirects must not reach the target");
    }

    #[tokio::test]
    async fn wait_for_panics_with_what_arrived() {
        let receiver = Receiver::start().await;
        post(&client(), &receiver.url("/x"), BODY).await;
        let waited = tokio::spawn(async move { receiver.wait_for(|r| r.len() > 1, Duration::from_millis(200)).await });
        let panic = waited.await.expect_err("must panic on timeout").into_panic();
        let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(message.contains("1 request(s)") && message.contains("j.1"), "{message}");
    }

    #[tokio::test]
    async fn stop_frees_the_port_and_a_restart_listens_again() {
        let mut receiver = Receiver::start().await;
        let port = receiver.port();
        let client = client();
        // A kept-alive connection must not survive the stop.
        assert_eq!(post(&client, &receiver.url("/a"), BODY).await.status().as_u16(), 200);
        receiver.stop().await;
        assert!(client.post(receiver.url("/b")).body(BODY).send().await.is_err(), "a stopped receiver answered");

        // Another receiver can take the port, and after it is gone the first comes back.
        let other = Receiver::start_on(port).await;
        assert_eq!(post(&client, &other.url("/c"), BODY).await.status().as_u16(), 200);
        drop(other);
        receiver.restart().await;
        assert_eq!(post(&client, &receiver.url("/d"), BODY).await.status().as_u16(), 200);
        let paths: Vec<String> = receiver.requests().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/a", "/d"], "records survive a restart");
    }
}
