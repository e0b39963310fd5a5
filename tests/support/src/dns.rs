//! A real DNS server for the tests: Debian's `dnsmasq` on `127.0.0.1:PORT` (UDP and TCP),
//! serving only the MX, A and TXT records a test gives it ([`DnsRecord`]). Each record's
//! top-level domain is made local (`--local=/test/`), so names dnsmasq does not know get
//! NXDOMAIN and known names get empty answers for other types, like an authoritative server.
//!
//! It never forwards a query (`--no-resolv`), never reads `/etc/hosts` or a configuration
//! file, and is killed when dropped.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::free_port;

/// Where Debian's `dnsmasq-base` installs the server.
const DNSMASQ: &str = "/usr/sbin/dnsmasq";
/// How long a start may take (it needs milliseconds; the other core may be compiling).
const START_DEADLINE: Duration = Duration::from_secs(20);
/// The longest string in a TXT record (RFC 1035 §3.3: a length octet); longer values, such
/// as a 2048-bit DKIM key, are split into several strings (RFC 6376 §3.6.2.2 joins them).
const TXT_CHUNK: usize = 250;

/// One record to serve.
#[derive(Clone, Debug)]
pub enum DnsRecord {
    /// `domain MX preference host`.
    Mx {
        /// The mail domain.
        domain: String,
        /// The exchange.
        host: String,
        /// Lower is preferred.
        preference: u16,
    },
    /// RFC 7505 null MX: `domain MX 0 .`.
    NullMx {
        /// The domain that accepts no mail.
        domain: String,
    },
    /// `name A ip` (or AAAA for an IPv6 address).
    Address {
        /// The host name.
        name: String,
        /// Its address.
        ip: IpAddr,
    },
    /// `name TXT "value"` (split into strings of at most 250 bytes).
    Txt {
        /// The owner name, e.g. `sel._domainkey.example.test`.
        name: String,
        /// The text; must not contain a comma (dnsmasq's separator).
        value: String,
    },
}

impl DnsRecord {
    /// An MX record.
    pub fn mx(domain: &str, preference: u16, host: &str) -> Self {
        Self::Mx { domain: domain.into(), host: host.into(), preference }
    }

    /// An A/AAAA record.
    pub fn address(name: &str, ip: impl Into<IpAddr>) -> Self {
        Self::Address { name: name.into(), ip: ip.into() }
    }

    /// The owner name.
    fn name(&self) -> &str {
        match self {
            Self::Mx { domain, .. } | Self::NullMx { domain } => domain,
            Self::Address { name, .. } | Self::Txt { name, .. } => name,
        }
    }

    /// The dnsmasq option that serves it.
    fn option(&self) -> String {
        match self {
            Self::Mx { domain, host, preference } => format!("--mx-host={domain},{host},{preference}"),
            Self::NullMx { domain } => format!("--mx-host={domain},.,0"),
            Self::Address { name, ip } => format!("--host-record={name},{ip}"),
            Self::Txt { name, value } => {
                assert!(!value.contains(','), "dnsmasq separates TXT strings with commas: {value:?}");
                let chunks: Vec<&str> = value
                    .as_bytes()
                    .chunks(TXT_CHUNK)
                    .map(|c| std::str::from_utf8(c).expect("ASCII TXT value"))
                    .collect();
                format!("--txt-record={name},{}", chunks.join(","))
            }
        }
    }
}

/// A running dnsmasq; dropping it kills it.
pub struct DnsServer {
    dir: TempDir,
    port: u16,
    child: Option<Child>,
}

impl DnsServer {
    /// Starts dnsmasq serving `records` and waits until it accepts TCP connections.
    pub fn start(records: &[DnsRecord]) -> DnsServer {
        assert!(Path::new(DNSMASQ).exists(), "{DNSMASQ} is missing; run `cargo xtask setup` (installs dnsmasq-base)");
        let dir = tempfile::Builder::new().prefix("sealmail-dns-").tempdir().expect("temp dir");
        let mut server = DnsServer { dir, port: 0, child: None };
        let mut last_error = String::new();
        // free_port() can race with another process taking the port; a fresh one then helps.
        for _ in 0..3 {
            server.port = free_port();
            match server.spawn_and_wait(records) {
                Ok(()) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("dnsmasq did not start: {last_error}");
    }

    /// `127.0.0.1:PORT`, for `nameservers = ["…"]`.
    pub fn address(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// What dnsmasq logged (queries included), for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dnsmasq.log")).unwrap_or_default()
    }

    fn spawn_and_wait(&mut self, records: &[DnsRecord]) -> Result<(), String> {
        let mut tlds: Vec<&str> = records.iter().filter_map(|r| r.name().rsplit('.').next()).collect();
        tlds.sort_unstable();
        tlds.dedup();
        let log = std::fs::File::create(self.dir.path().join("dnsmasq.log")).map_err(|e| e.to_string())?;
        let mut command = Command::new(DNSMASQ);
        command
            .args(["--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null", "--bind-interfaces"])
            .args(["--listen-address=127.0.0.1", "--log-queries", "--log-facility=-"])
            .arg(format!("--port={}", self.port))
            .arg(format!("--pid-file={}", self.dir.path().join("dnsmasq.pid").display()))
            .args(tlds.iter().map(|tld| format!("--local=/{tld}/")))
            .args(records.iter().map(DnsRecord::option))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        let mut child = command.spawn().map_err(|e| format!("cannot run {DNSMASQ}: {e}"))?;
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("dnsmasq exited ({status}): {}", self.log()));
            }
            if TcpStream::connect_timeout(&self.address(), Duration::from_millis(200)).is_ok() {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("not listening after {START_DEADLINE:?}: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
