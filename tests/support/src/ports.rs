//! Free TCP ports on `127.0.0.1` for programs that must be told their port before they start
//! (clamd, dnsmasq, PostgreSQL, the sealmail server).
//!
//! A port is picked *below* the kernel's ephemeral range (`net.ipv4.ip_local_port_range`):
//! the kernel hands those out on its own — to every `bind(…:0)` and as the local port of
//! every outgoing connection — so a port probed free there can be gone a moment later (the
//! flaky `free_port_is_bindable`: another test's connection took it). Below the range, only
//! an explicit bind can take the port between the probe and the program's own bind: within
//! this process no port is handed out twice, and other processes (another test run on the
//! machine) start at a random point of the range.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::net::{IpAddr, TcpListener, UdpSocket};
use std::ops::Range;
use std::sync::Mutex;

/// The lowest port handed out: above the well-known and most registered service ports.
const LOWEST: u16 = 10_000;
/// Below this many candidate ports the range is not worth it and the kernel picks instead.
const FEWEST: u16 = 1_000;

/// A TCP (and UDP) port on `127.0.0.1` that was free a moment ago and that this process has
/// not handed out before. See the module documentation for why it stays free.
pub fn free_port() -> u16 {
    static NEXT: Mutex<Option<u16>> = Mutex::new(None);
    let Some(range) = candidates() else { return kernel_port() };
    let span = range.end - range.start;
    let mut next = NEXT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    // A random start per process: two test runs on one machine rarely probe the same ports.
    let offset = next.get_or_insert_with(|| (RandomState::new().hash_one(std::process::id()) % u64::from(span)) as u16);
    for _ in 0..span {
        let port = range.start + *offset;
        *offset = (*offset + 1) % span;
        if bindable(port) {
            return port;
        }
    }
    panic!("no free port in {range:?} on 127.0.0.1");
}

/// A listener on `ip` and a port of [`free_port`], for the tests' own servers: one they stop
/// and restart on the same port stays restartable, because the kernel never gives that port
/// to anything else in between. Non-blocking, ready for `tokio::net::TcpListener::from_std`.
pub fn listen_on_free_port(ip: IpAddr) -> TcpListener {
    let mut last_error = None;
    // Another process may bind the port between the probe and this bind; a fresh one helps.
    for _ in 0..10 {
        match TcpListener::bind((ip, free_port())) {
            Ok(listener) => {
                listener.set_nonblocking(true).expect("a non-blocking listener");
                return listener;
            }
            Err(e) => last_error = Some(e),
        }
    }
    panic!("cannot listen on a free port of {ip}: {last_error:?}");
}

/// The ports below the ephemeral range, if there are enough of them.
fn candidates() -> Option<Range<u16>> {
    let text = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    let low: u16 = text.split_whitespace().next()?.parse().ok()?;
    (low >= LOWEST + FEWEST).then_some(LOWEST..low)
}

/// Whether nothing listens on, or is bound to, `port` for TCP or UDP (dnsmasq needs both).
fn bindable(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok() && UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

/// The fallback where the ephemeral range starts too low: whatever the kernel picks for
/// port 0 (another socket may take it before the caller binds it).
fn kernel_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).expect("binding 127.0.0.1:0").port()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_bindable_and_outside_the_ephemeral_range() {
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
        if let Some(range) = candidates() {
            assert!(ports.iter().all(|p| range.contains(p)), "{ports:?} outside {range:?}");
        }
        for port in ports {
            TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| panic!("port {port}: {e}"));
        }
    }
}
