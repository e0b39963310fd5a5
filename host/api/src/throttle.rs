//! The failed-authentication throttle: after too many wrong credentials from one client
//! address, or for one account name, requests with credentials are answered `429
//! AUTH_THROTTLED` with `Retry-After` for a window — before the secret is even looked at.
//!
//! Account secrets are 256 random bits (`accounts`), so guessing one is hopeless; what the
//! throttle buys is a bound on the work and the log noise a client can cause, and a brake on
//! configured secrets that are weaker than they should be. Two counters, each with its own
//! limit (`[limits] failed_auths_per_client`, `failed_auths_per_account`, per
//! `failed_auth_window_secs`): one per client address, which stops one machine trying many
//! names or secrets; one per account name, which slows an attack on one account from many
//! addresses. The account counter's default limit is higher, so that one machine cannot lock
//! an account out for everyone else. Unknown names count like known ones: a throttle that
//! only trips for existing accounts would tell which names exist.
//!
//! The client address is the TCP peer, from the request extension `ConnectInfo<SocketAddr>`
//! that the server's accept loop provides; without it every request shares one "unknown
//! client" counter (safe, but one bad client then throttles all). IPv6 clients are counted
//! per /64, the smallest block a single site is usually given — per address, one host could
//! walk through 2^64 counters.
//!
//! Memory is bounded under a flood of distinct addresses or names: each table holds at most
//! [`MAX_ENTRIES`] counters and forgets the least recently failed one to make room.
//!
//! It must never throttle requests without credentials (health checks, the preview page)
//! and never inspect the secret: that is `auth`'s job, whose `401` is what counts here.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Most counters per table. An entry is ~100 bytes, so both tables stay under ~10 MB however
/// many addresses or names a flood uses; an evicted counter only means that client starts
/// again from zero, after it has stayed quiet longer than every other one.
pub const MAX_ENTRIES: usize = 50_000;

/// Longest account name that gets its own counter: no account name is longer
/// (`accounts::valid_name`), and longer ones must not make entries large.
const MAX_NAME: usize = 64;

/// The throttle's settings (`[limits]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleConfig {
    /// Failures from one client (address, IPv6 /64) per window before it is throttled; 0: off.
    pub per_client: u32,
    /// Failures for one account name per window before it is throttled; 0: off.
    pub per_account: u32,
    /// How long failures are counted, and how long a throttle lasts.
    pub window: Duration,
}

/// Whom a counter is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    /// An IPv4 address, or an IPv6 /64 prefix (IPv4-mapped IPv6 counts as IPv4).
    Ip(IpAddr),
    /// A request without `ConnectInfo`: all of them share this counter.
    Unknown,
}

impl Client {
    fn of(peer: Option<IpAddr>) -> Self {
        match peer {
            None => Self::Unknown,
            Some(IpAddr::V4(v4)) => Self::Ip(IpAddr::V4(v4)),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::Ip(IpAddr::V4(v4)),
                None => {
                    let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                    Self::Ip(IpAddr::V6(Ipv6Addr::from(prefix)))
                }
            },
        }
    }
}

/// One counter.
#[derive(Debug)]
struct Entry {
    /// Failures since `since`.
    failures: u32,
    /// The first failure of the current window.
    since: Instant,
    /// Throttled until then.
    until: Option<Instant>,
    /// Its position in the eviction order (higher: failed more recently).
    seq: u64,
}

/// Counters of one kind, bounded, least recently failed evicted first.
#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
    order: BTreeMap<u64, K>,
    next_seq: u64,
    cap: usize,
}

impl<K: Clone + Eq + Hash> Table<K> {
    fn new(cap: usize) -> Self {
        Self { entries: HashMap::new(), order: BTreeMap::new(), next_seq: 0, cap: cap.max(1) }
    }

    /// How long `key` is still throttled at `now`.
    fn throttled(&self, key: &K, now: Instant) -> Option<Duration> {
        let until = self.entries.get(key)?.until?;
        (until > now).then(|| until - now)
    }

    /// Counts a failure of `key` at `now`; whether it is now throttled (newly: the moment to log).
    fn fail(&mut self, key: &K, now: Instant, limit: u32, window: Duration) -> bool {
        if !self.entries.contains_key(key)
            && self.entries.len() >= self.cap
            && let Some((_, oldest)) = self.order.pop_first()
        {
            self.entries.remove(&oldest);
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = self.entries.entry(key.clone()).or_insert(Entry { failures: 0, since: now, until: None, seq });
        self.order.remove(&entry.seq);
        entry.seq = seq;
        self.order.insert(seq, key.clone());
        // A failure while throttled (a request that was let through before the throttle
        // began) does not lengthen it: the window is counted from the failure that tripped it.
        if entry.until.is_some_and(|until| until > now) {
            return false;
        }
        if now.duration_since(entry.since) >= window {
            entry.failures = 0;
            entry.since = now;
            entry.until = None;
        }
        entry.failures += 1;
        if entry.failures >= limit {
            entry.until = Some(now + window);
            return true;
        }
        false
    }
}

#[derive(Debug)]
struct Tables {
    clients: Table<Client>,
    accounts: Table<String>,
}

/// The throttle (shared by every request; the critical sections are a few map operations).
#[derive(Debug)]
pub struct AuthThrottle {
    config: ThrottleConfig,
    tables: Mutex<Tables>,
}

impl AuthThrottle {
    /// A throttle with `config`, each table holding at most [`MAX_ENTRIES`] counters.
    pub fn new(config: ThrottleConfig) -> Self {
        Self::with_capacity(config, MAX_ENTRIES)
    }

    fn with_capacity(config: ThrottleConfig, cap: usize) -> Self {
        Self { config, tables: Mutex::new(Tables { clients: Table::new(cap), accounts: Table::new(cap) }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Tables> {
        // A panic while holding the lock leaves consistent maps (no operation is left halfway
        // in a way that breaks them), so a poisoned lock is still usable.
        self.tables.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How long a request from `peer` for `name` must wait, if it is throttled.
    pub fn check(&self, peer: Option<IpAddr>, name: Option<&str>, now: Instant) -> Option<Duration> {
        let tables = self.lock();
        let client = (self.config.per_client > 0).then(|| tables.clients.throttled(&Client::of(peer), now)).flatten();
        let account = match name.filter(|n| self.config.per_account > 0 && n.len() <= MAX_NAME) {
            Some(n) => tables.accounts.throttled(&n.to_owned(), now),
            None => None,
        };
        client.max(account)
    }

    /// Counts a failed authentication from `peer` for `name`.
    pub fn failed(&self, peer: Option<IpAddr>, name: Option<&str>, now: Instant) {
        let window = self.config.window;
        let mut tables = self.lock();
        if self.config.per_client > 0 && tables.clients.fail(&Client::of(peer), now, self.config.per_client, window) {
            tracing::warn!(client = ?peer, limit = self.config.per_client, window_secs = window.as_secs(),
                "too many failed authentications from this client: throttled");
        }
        if let Some(n) = name.filter(|n| self.config.per_account > 0 && n.len() <= MAX_NAME)
            && tables.accounts.fail(&n.to_owned(), now, self.config.per_account, window)
        {
            tracing::warn!(account = ?n, limit = self.config.per_account, window_secs = window.as_secs(),
                "too many failed authentications for this account name: throttled");
        }
    }

    /// Counters held (clients, account names).
    #[cfg(test)]
    fn sizes(&self) -> (usize, usize) {
        let tables = self.lock();
        (tables.clients.entries.len(), tables.accounts.entries.len())
    }
}

/// The middleware: a request carrying `Authorization` is refused while its client or its
/// account name is throttled, and its `401` counts as a failure. Requests without
/// credentials pass untouched.
pub(crate) async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    if !request.headers().contains_key(header::AUTHORIZATION) {
        return next.run(request).await;
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let name = crate::basic::basic_name(request.headers());
    if let Some(wait) = state.auth_throttle.check(peer, name.as_deref(), Instant::now()) {
        return throttled(wait);
    }
    let response = next.run(request).await;
    if response.status() == StatusCode::UNAUTHORIZED {
        state.auth_throttle.failed(peer, name.as_deref(), Instant::now());
    }
    response
}

/// `429 AUTH_THROTTLED` with `Retry-After` in whole seconds, rounded up.
fn throttled(wait: Duration) -> Response {
    let secs = wait.as_millis().div_ceil(1000).max(1);
    let secs = u64::try_from(secs).unwrap_or(u64::MAX);
    ApiError::new(
        ErrorCode::AuthThrottled,
        format!("too many failed authentications from this client or for this account; retry in {secs} s"),
    )
    .retry_after(secs)
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WINDOW: Duration = Duration::from_secs(60);

    fn throttle(per_client: u32, per_account: u32) -> AuthThrottle {
        AuthThrottle::new(ThrottleConfig { per_client, per_account, window: WINDOW })
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn a_client_is_throttled_after_its_limit_for_one_window() {
        let t = throttle(3, 100);
        let t0 = Instant::now();
        for i in 0..3 {
            assert_eq!(t.check(ip("192.0.2.1"), Some("acme"), t0), None, "failure {i} is not yet throttled");
            t.failed(ip("192.0.2.1"), Some("acme"), t0 + Duration::from_secs(i));
        }
        let tripped = t0 + Duration::from_secs(2);
        assert_eq!(t.check(ip("192.0.2.1"), Some("acme"), tripped), Some(WINDOW));
        // Any name from that client, and no other client.
        assert!(t.check(ip("192.0.2.1"), Some("other"), tripped).is_some());
        assert!(t.check(ip("192.0.2.1"), None, tripped).is_some());
        assert_eq!(t.check(ip("192.0.2.2"), Some("acme"), tripped), None);
        assert!(t.check(ip("192.0.2.1"), Some("acme"), tripped + WINDOW - Duration::from_millis(1)).is_some());
        assert_eq!(t.check(ip("192.0.2.1"), Some("acme"), tripped + WINDOW), None, "over after one window");
    }

    #[test]
    fn failures_spread_over_more_than_a_window_do_not_add_up() {
        let t = throttle(3, 100);
        let t0 = Instant::now();
        t.failed(ip("192.0.2.1"), None, t0);
        t.failed(ip("192.0.2.1"), None, t0 + Duration::from_secs(30));
        t.failed(ip("192.0.2.1"), None, t0 + Duration::from_secs(61));
        assert_eq!(t.check(ip("192.0.2.1"), None, t0 + Duration::from_secs(61)), None);
    }

    #[test]
    fn failures_while_throttled_do_not_lengthen_it() {
        let t = throttle(1, 100);
        let t0 = Instant::now();
        t.failed(ip("192.0.2.1"), None, t0);
        t.failed(ip("192.0.2.1"), None, t0 + Duration::from_secs(30));
        assert_eq!(t.check(ip("192.0.2.1"), None, t0 + Duration::from_secs(30)), Some(Duration::from_secs(30)));
        assert_eq!(t.check(ip("192.0.2.1"), None, t0 + WINDOW), None);
    }

    #[test]
    fn an_account_name_is_throttled_for_every_client_after_its_own_limit() {
        let t = throttle(100, 3);
        let t0 = Instant::now();
        for i in 0..3 {
            t.failed(ip(&format!("198.51.100.{i}")), Some("acme"), t0);
        }
        assert!(t.check(ip("203.0.113.9"), Some("acme"), t0).is_some(), "from any client");
        assert_eq!(t.check(ip("203.0.113.9"), Some("other"), t0), None, "another account is not");
        // Names no account can have get no counter of their own (the client's still counts).
        let long = "x".repeat(MAX_NAME + 1);
        for _ in 0..5 {
            t.failed(ip("203.0.113.10"), Some(&long), t0);
        }
        assert_eq!(t.check(ip("203.0.113.11"), Some(&long), t0), None);
    }

    #[test]
    fn zero_switches_a_counter_off() {
        let t = throttle(0, 0);
        let t0 = Instant::now();
        for _ in 0..100 {
            t.failed(ip("192.0.2.1"), Some("acme"), t0);
        }
        assert_eq!(t.check(ip("192.0.2.1"), Some("acme"), t0), None);
        assert_eq!(t.sizes(), (0, 0));
    }

    #[test]
    fn ipv6_counts_per_64_and_mapped_ipv4_as_ipv4() {
        let t = throttle(2, 100);
        let t0 = Instant::now();
        t.failed(ip("2001:db8:1:2::1"), None, t0);
        t.failed(ip("2001:db8:1:2:ffff::9"), None, t0);
        assert!(t.check(ip("2001:db8:1:2::abcd"), None, t0).is_some(), "same /64");
        assert_eq!(t.check(ip("2001:db8:1:3::1"), None, t0), None, "another /64");
        t.failed(ip("::ffff:192.0.2.7"), None, t0);
        t.failed(ip("192.0.2.7"), None, t0);
        assert!(t.check(ip("192.0.2.7"), None, t0).is_some());
    }

    #[test]
    fn without_a_peer_address_all_requests_share_one_counter() {
        let t = throttle(2, 100);
        let t0 = Instant::now();
        t.failed(None, Some("a"), t0);
        t.failed(None, Some("b"), t0);
        assert!(t.check(None, Some("c"), t0).is_some());
        assert_eq!(t.check(ip("192.0.2.1"), Some("c"), t0), None);
    }

    #[test]
    fn a_flood_of_distinct_clients_and_names_stays_bounded_and_forgets_the_oldest() {
        let t = AuthThrottle::with_capacity(ThrottleConfig { per_client: 2, per_account: 2, window: WINDOW }, 100);
        let t0 = Instant::now();
        // A throttled client that keeps failing stays most recent, so it is not evicted.
        t.failed(ip("192.0.2.1"), Some("acme"), t0);
        t.failed(ip("192.0.2.1"), Some("acme"), t0);
        for i in 0..10_000u32 {
            let addr = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            t.failed(Some(addr), Some(&format!("name-{i}")), t0);
            if i % 50 == 0 {
                t.failed(ip("192.0.2.1"), Some("acme"), t0);
            }
        }
        assert_eq!(t.sizes(), (100, 100));
        assert!(t.check(ip("192.0.2.1"), None, t0).is_some(), "the recently failing client is remembered");
        assert!(t.check(ip("192.0.2.1"), Some("acme"), t0).is_some());
        // The earliest of the flood are gone; the latest are there.
        let first = Some(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000u32)));
        t.failed(first, None, t0);
        assert_eq!(t.check(first, None, t0), None, "counted from zero again after eviction");
        let last = Some(IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000u32 + 9_999)));
        t.failed(last, None, t0);
        assert!(t.check(last, None, t0).is_some(), "its earlier failure was still counted");
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        let r = throttled(Duration::from_millis(1_200));
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        assert_eq!(throttled(Duration::from_millis(1)).headers()[header::RETRY_AFTER], "1");
    }
}
