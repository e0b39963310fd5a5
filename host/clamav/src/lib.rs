//! Antivirus scanning with ClamAV's `clamd` (docs/service.md#virus-scanning): the attachments of a
//! job that asks for antivirus are streamed
//! to every configured scanner with the INSTREAM command before they are encrypted (after
//! encryption no scanner can look inside), and all scanners must pass.
//!
//! The protocol is clamd(8)'s, spoken directly over TCP or a unix socket: `zINSTREAM\0`, then
//! chunks each prefixed with its length as a 4-byte big-endian integer, a zero-length chunk to
//! end the stream, and one `\0`-terminated reply (`stream: OK`, `stream: <signature> FOUND`,
//! or an `... ERROR`).
//!
//! This module never answers [`Verdict::Clean`] unless every scanner replied `OK` for the whole
//! data: no scanner, a timeout, an error or a reply it does not understand is
//! [`Verdict::Unavailable`], which makes the job wait and retry, never go out unscanned. It
//! never logs or returns the scanned data.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinSet;

/// `[antivirus]`: the scanners and what to do without one.
#[derive(Debug, Clone, serde::Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AntivirusConfig {
    /// clamd addresses, `tcp://HOST:PORT` or `unix:///PATH`; all must pass.
    pub scanners: Vec<String>,
    /// Accept jobs that ask for antivirus when no scanner is configured (loud warning; the
    /// skip is recorded as an event of every such job).
    pub allow_insecure_no_antivirus: bool,
    /// Per-scan timeout, seconds (default 60).
    pub timeout_secs: Option<u64>,
}

impl AntivirusConfig {
    /// The configured scanners; none when the list is empty.
    pub fn scanners(&self) -> Result<Option<Scanners>, ScannerAddressError> {
        if self.scanners.is_empty() {
            return Ok(None);
        }
        let addresses = self.scanners.iter().map(|s| s.parse::<ScannerAddress>()).collect::<Result<Vec<_>, _>>()?;
        Ok(Some(Scanners::new(addresses, Duration::from_secs(self.timeout_secs.unwrap_or(60)))))
    }
}

/// Bytes per INSTREAM chunk. clamd accepts any size up to `StreamMaxLength`; 64 KiB keeps
/// writes efficient without one huge frame.
const CHUNK_SIZE: usize = 64 * 1024;

/// Longest reply read from a scanner: real replies are one short line.
const MAX_REPLY: usize = 4096;

/// Where a clamd listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScannerAddress {
    /// `host:port` (`TCPSocket`/`TCPAddr` in clamd.conf).
    Tcp(String),
    /// Path of a unix socket (`LocalSocket` in clamd.conf).
    Unix(PathBuf),
}

/// Why a scanner address could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScannerAddressError {
    /// Neither `tcp://` nor `unix://`.
    #[error(
        "scanner address {0:?} must be tcp://HOST:PORT or unix:///ABSOLUTE/PATH \
         (e.g. tcp://127.0.0.1:3310 or unix:///run/clamav/clamd.ctl)"
    )]
    UnknownScheme(String),
    /// `tcp://` without a usable host and port.
    #[error("scanner address {0:?} needs a host and a port from 1 to 65535, e.g. tcp://127.0.0.1:3310")]
    BadTcp(String),
    /// `unix://` with a relative path.
    #[error("scanner address {0:?} needs an absolute socket path, e.g. unix:///run/clamav/clamd.ctl")]
    BadUnix(String),
}

impl FromStr for ScannerAddress {
    type Err = ScannerAddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(rest) = s.strip_prefix("tcp://") {
            let (host, port) = rest.rsplit_once(':').ok_or_else(|| ScannerAddressError::BadTcp(s.into()))?;
            let host_ok = !host.is_empty()
                && !host.contains(['/', ' '])
                // An IPv6 literal must be bracketed, or its colons would be ambiguous.
                && (host.starts_with('[') == host.ends_with(']'))
                && (host.starts_with('[') || !host.contains(':'));
            match port.parse::<u16>() {
                Ok(p) if p != 0 && host_ok => Ok(Self::Tcp(rest.to_owned())),
                _ => Err(ScannerAddressError::BadTcp(s.into())),
            }
        } else if let Some(path) = s.strip_prefix("unix://") {
            if path.starts_with('/') && path.len() > 1 {
                Ok(Self::Unix(PathBuf::from(path)))
            } else {
                Err(ScannerAddressError::BadUnix(s.into()))
            }
        } else {
            Err(ScannerAddressError::UnknownScheme(s.into()))
        }
    }
}

impl fmt::Display for ScannerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(host_port) => write!(f, "tcp://{host_port}"),
            Self::Unix(path) => write!(f, "unix://{}", path.display()),
        }
    }
}

// From the same text as `FromStr`, so a configuration file says `"tcp://127.0.0.1:3310"`.
impl<'de> serde::Deserialize<'de> for ScannerAddress {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The combined answer of the scanners for one piece of data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every scanner replied `OK`.
    Clean,
    /// A scanner found something: the job is dropped (`VIRUS_DETECTED`).
    Infected {
        /// The scanner that said so (its address).
        scanner: String,
        /// The signature name it reported, e.g. `Win.Test.EICAR_HDB-1`.
        signature: String,
    },
    /// No verdict from this scanner (unreachable, timeout, error, size limit): retry later.
    Unavailable {
        /// The scanner (its address), or `"none"` when none is configured.
        scanner: String,
        /// What went wrong.
        reason: String,
    },
}

/// The configured clamd instances ("x2": several, all must pass). Cheap to clone.
#[derive(Debug, Clone)]
pub struct Scanners {
    addresses: Arc<[ScannerAddress]>,
    timeout: Duration,
}

impl Scanners {
    /// Scanners at `addresses`, each given `timeout` for a whole scan or ping.
    pub fn new(addresses: Vec<ScannerAddress>, timeout: Duration) -> Self {
        Self { addresses: addresses.into(), timeout }
    }

    /// True when no scanner is configured.
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty()
    }

    /// The configured addresses.
    pub fn addresses(&self) -> &[ScannerAddress] {
        &self.addresses
    }

    /// One line for the start-up banner.
    pub fn describe(&self) -> String {
        if self.addresses.is_empty() {
            return "no antivirus scanner configured".to_owned();
        }
        let list: Vec<String> = self.addresses.iter().map(ToString::to_string).collect();
        format!("clamd INSTREAM at {} (all must pass, {}s per scan)", list.join(", "), self.timeout.as_secs_f32())
    }

    /// Streams `data` to every scanner with INSTREAM (clamd(8)). Infected from any scanner
    /// wins over Unavailable from another; all must say Clean for Clean. With no scanner
    /// configured the answer is Unavailable, never Clean. Per-scanner timeout.
    pub async fn scan(&self, data: &[u8]) -> Verdict {
        if self.addresses.is_empty() {
            return Verdict::Unavailable {
                scanner: "none".into(),
                reason: "no antivirus scanner is configured".into(),
            };
        }
        // One copy so that the scanners run concurrently on their own tasks.
        let data: Arc<[u8]> = Arc::from(data);
        let mut tasks = JoinSet::new();
        for (index, address) in self.addresses.iter().enumerate() {
            let (address, data, timeout) = (address.clone(), Arc::clone(&data), self.timeout);
            tasks.spawn(async move { (index, scan_one(&address, &data, timeout).await) });
        }
        let mut verdicts: Vec<Option<Verdict>> = vec![None; self.addresses.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, verdict)) = joined {
                if matches!(verdict, Verdict::Infected { .. }) {
                    // Decided: the job is dropped whatever the others say (dropping the
                    // JoinSet cancels the remaining scans).
                    return verdict;
                }
                verdicts[index] = Some(verdict);
            }
        }
        combine(&self.addresses, verdicts)
    }

    /// PING → PONG on every scanner, for /readyz. `Err` lists the scanners that did not
    /// answer; with no scanner configured there is nothing to wait for: `Ok`.
    pub async fn ping(&self) -> Result<(), String> {
        let mut tasks = JoinSet::new();
        for address in self.addresses.iter() {
            let (address, timeout) = (address.clone(), self.timeout);
            tasks.spawn(async move {
                let result = match tokio::time::timeout(timeout, ping_one(&address)).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("no PONG within {}s", timeout.as_secs_f32())),
                };
                result.map_err(|reason| format!("{address}: {reason}"))
            });
        }
        let mut failures = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok(Ok(())) => {}
                Ok(Err(failure)) => failures.push(failure),
                Err(err) => failures.push(format!("ping task failed: {err}")),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            failures.sort();
            Err(failures.join("; "))
        }
    }
}

/// All verdicts in, none Infected: the first Unavailable (in configuration order), else Clean.
/// A scanner without a verdict (its task failed) counts as Unavailable.
fn combine(addresses: &[ScannerAddress], verdicts: Vec<Option<Verdict>>) -> Verdict {
    if let Some(infected) = verdicts.iter().flatten().find(|v| matches!(v, Verdict::Infected { .. })) {
        return infected.clone();
    }
    for (address, verdict) in addresses.iter().zip(verdicts) {
        match verdict {
            Some(Verdict::Clean) => {}
            Some(other) => return other,
            None => {
                return Verdict::Unavailable { scanner: address.to_string(), reason: "the scan task failed".into() };
            }
        }
    }
    Verdict::Clean
}

/// One scanner's verdict on `data`, within `timeout`.
async fn scan_one(address: &ScannerAddress, data: &[u8], timeout: Duration) -> Verdict {
    let scanner = address.to_string();
    let reply = match tokio::time::timeout(timeout, exchange(address, data)).await {
        Ok(Ok(reply)) => reply,
        Ok(Err(reason)) => return Verdict::Unavailable { scanner, reason },
        Err(_) => {
            return Verdict::Unavailable { scanner, reason: format!("no verdict within {}s", timeout.as_secs_f32()) };
        }
    };
    parse_scan_reply(scanner, &reply)
}

/// Connects and runs one INSTREAM exchange; returns the raw reply.
async fn exchange(address: &ScannerAddress, data: &[u8]) -> Result<String, String> {
    match address {
        ScannerAddress::Tcp(host_port) => {
            let stream =
                tokio::net::TcpStream::connect(host_port.as_str()).await.map_err(|e| format!("cannot connect: {e}"))?;
            instream(stream, data).await
        }
        #[cfg(unix)]
        ScannerAddress::Unix(path) => {
            let stream = tokio::net::UnixStream::connect(path).await.map_err(|e| format!("cannot connect: {e}"))?;
            instream(stream, data).await
        }
        #[cfg(not(unix))]
        ScannerAddress::Unix(_) => Err("unix sockets are not available on this platform".into()),
    }
}

/// The INSTREAM exchange on an open connection.
async fn instream<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, data: &[u8]) -> Result<String, String> {
    let sent = send_instream(&mut stream, data).await;
    // clamd answers "INSTREAM size limit exceeded. ERROR" and closes while the client is still
    // writing; the write then fails, but the reply explains why. Read it either way.
    let reply = read_reply(&mut stream).await;
    match (sent, reply) {
        (_, Ok(reply)) if !reply.is_empty() => Ok(reply),
        (Err(e), _) => Err(format!("sending the data failed: {e}")),
        (Ok(()), Err(e)) => Err(format!("reading the reply failed: {e}")),
        (Ok(()), Ok(_)) => Err("the connection closed without a reply".into()),
    }
}

async fn send_instream<S: AsyncWrite + Unpin>(stream: &mut S, data: &[u8]) -> std::io::Result<()> {
    // The "z" prefix asks for a \0-terminated reply (clamd(8), "COMMANDS").
    stream.write_all(b"zINSTREAM\0").await?;
    for chunk in data.chunks(CHUNK_SIZE) {
        let length = u32::try_from(chunk.len()).unwrap_or(u32::MAX); // ≤ CHUNK_SIZE
        stream.write_all(&length.to_be_bytes()).await?;
        stream.write_all(chunk).await?;
    }
    // A zero-length chunk ends the stream.
    stream.write_all(&0u32.to_be_bytes()).await?;
    stream.flush().await
}

/// Reads up to the terminating `\0` (or the end of the connection), at most [`MAX_REPLY`].
async fn read_reply<S: AsyncRead + Unpin>(stream: &mut S) -> std::io::Result<String> {
    let mut reply = Vec::new();
    let mut buf = [0u8; 512];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        if let Some(end) = reply.iter().position(|&b| b == 0) {
            reply.truncate(end);
            break;
        }
        if reply.len() > MAX_REPLY {
            reply.truncate(MAX_REPLY);
            break;
        }
    }
    Ok(String::from_utf8_lossy(&reply).trim().to_owned())
}

/// The verdict in one INSTREAM reply.
fn parse_scan_reply(scanner: String, reply: &str) -> Verdict {
    let reply = reply.trim_end_matches('\0').trim();
    if let Some(result) = reply.strip_prefix("stream:").map(str::trim) {
        if result == "OK" {
            return Verdict::Clean;
        }
        if let Some(signature) = result.strip_suffix(" FOUND") {
            return Verdict::Infected { scanner, signature: signature.trim().to_owned() };
        }
    }
    let reason = if reply.ends_with("ERROR") {
        if reply.contains("size limit exceeded") {
            format!("{reply} (the data is larger than StreamMaxLength in clamd.conf)")
        } else {
            reply.to_owned()
        }
    } else if reply.is_empty() {
        "empty reply".to_owned()
    } else {
        format!("unexpected reply {reply:?}")
    };
    Verdict::Unavailable { scanner, reason }
}

/// `zPING\0` → `PONG`.
async fn ping_one(address: &ScannerAddress) -> Result<(), String> {
    async fn ping<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> Result<(), String> {
        stream.write_all(b"zPING\0").await.map_err(|e| format!("sending PING failed: {e}"))?;
        let reply = read_reply(&mut stream).await.map_err(|e| format!("reading the reply failed: {e}"))?;
        if reply == "PONG" { Ok(()) } else { Err(format!("unexpected reply {reply:?}")) }
    }
    match address {
        ScannerAddress::Tcp(host_port) => {
            ping(tokio::net::TcpStream::connect(host_port.as_str()).await.map_err(|e| format!("cannot connect: {e}"))?)
                .await
        }
        #[cfg(unix)]
        ScannerAddress::Unix(path) => {
            ping(tokio::net::UnixStream::connect(path).await.map_err(|e| format!("cannot connect: {e}"))?).await
        }
        #[cfg(not(unix))]
        ScannerAddress::Unix(_) => Err("unix sockets are not available on this platform".into()),
    }
}

#[cfg(test)]
mod tests {
    use sealmail_test_support::{Clamd, EICAR, Signatures};

    use super::*;

    const SECOND: Duration = Duration::from_secs(1);

    /// The address of a test clamd's TCP socket, as an operator would configure it.
    fn tcp(clamd: &Clamd) -> ScannerAddress {
        clamd.tcp_address().parse().expect("tcp://127.0.0.1:PORT")
    }

    /// The address of a test clamd's unix socket.
    fn unix(clamd: &Clamd) -> ScannerAddress {
        clamd.unix_address().parse().expect("unix:///PATH")
    }

    #[test]
    fn addresses_parse_and_print() {
        for text in
            ["tcp://127.0.0.1:3310", "tcp://[::1]:3310", "tcp://clamd.internal:3310", "unix:///run/clamav/clamd.ctl"]
        {
            let address: ScannerAddress = text.parse().expect(text);
            assert_eq!(address.to_string(), text);
        }
        assert_eq!("unix:///run/clamav/clamd.ctl".parse(), Ok(ScannerAddress::Unix("/run/clamav/clamd.ctl".into())));
        let bad = [
            ("127.0.0.1:3310", "tcp://HOST:PORT"),
            ("http://127.0.0.1:3310", "tcp://HOST:PORT"),
            ("tcp://127.0.0.1", "needs a host and a port"),
            ("tcp://:3310", "needs a host and a port"),
            ("tcp://127.0.0.1:0", "needs a host and a port"),
            ("tcp://::1:3310", "needs a host and a port"),
            ("unix://run/clamd.ctl", "absolute socket path"),
        ];
        for (text, message) in bad {
            let err = text.parse::<ScannerAddress>().expect_err(text);
            assert!(err.to_string().contains(message), "{text}: {err}");
        }
        let from_json: ScannerAddress = serde_json::from_str("\"tcp://127.0.0.1:3310\"").expect("json");
        assert_eq!(from_json, ScannerAddress::Tcp("127.0.0.1:3310".into()));
    }

    #[test]
    fn replies_parse_into_verdicts() {
        let s = || "tcp://127.0.0.1:3310".to_owned();
        assert_eq!(parse_scan_reply(s(), "stream: OK"), Verdict::Clean);
        assert_eq!(
            parse_scan_reply(s(), "stream: Win.Test.EICAR_HDB-1 FOUND"),
            Verdict::Infected { scanner: s(), signature: "Win.Test.EICAR_HDB-1".into() }
        );
        let Verdict::Unavailable { reason, .. } = parse_scan_reply(s(), "INSTREAM size limit exceeded. ERROR") else {
            panic!("size limit must not be Clean");
        };
        assert!(reason.starts_with("INSTREAM size limit exceeded. ERROR"), "{reason}");
        for reply in ["stream: Can't allocate memory ERROR", "", "stream: ", "OK", "PONG", "stream: OKAY"] {
            assert!(
                matches!(parse_scan_reply(s(), reply), Verdict::Unavailable { .. }),
                "{reply:?} must be Unavailable"
            );
        }
    }

    #[test]
    fn infected_wins_then_unavailable_then_clean() {
        let a = ScannerAddress::Tcp("a:1".into());
        let b = ScannerAddress::Tcp("b:1".into());
        let addresses = [a.clone(), b.clone()];
        let infected = Verdict::Infected { scanner: b.to_string(), signature: "X".into() };
        let unavailable = Verdict::Unavailable { scanner: a.to_string(), reason: "down".into() };
        assert_eq!(combine(&addresses, vec![Some(unavailable.clone()), Some(infected.clone())]), infected);
        assert_eq!(combine(&addresses, vec![Some(unavailable.clone()), Some(Verdict::Clean)]), unavailable);
        assert!(matches!(
            combine(&addresses, vec![Some(Verdict::Clean), None]),
            Verdict::Unavailable { scanner, .. } if scanner == "tcp://b:1"
        ));
        assert_eq!(combine(&addresses, vec![Some(Verdict::Clean), Some(Verdict::Clean)]), Verdict::Clean);
    }

    #[tokio::test]
    async fn no_scanner_is_never_clean() {
        let none = Scanners::new(Vec::new(), SECOND);
        assert!(none.is_empty());
        assert!(matches!(none.scan(b"anything").await, Verdict::Unavailable { .. }));
        assert_eq!(none.ping().await, Ok(()));
    }

    #[tokio::test]
    async fn unreachable_and_silent_scanners_are_unavailable() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let refused = ScannerAddress::Tcp(listener.local_addr().expect("addr").to_string());
        drop(listener);
        let silent_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let silent = ScannerAddress::Tcp(silent_listener.local_addr().expect("addr").to_string());
        let _hold = tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((stream, _)) = silent_listener.accept().await {
                open.push(stream); // accept, read nothing, answer nothing
            }
        });

        let verdict = Scanners::new(vec![refused.clone()], SECOND).scan(b"data").await;
        assert!(
            matches!(&verdict, Verdict::Unavailable { scanner, reason } if *scanner == refused.to_string() && reason.contains("cannot connect")),
            "{verdict:?}"
        );
        let scanners = Scanners::new(vec![silent.clone()], Duration::from_millis(300));
        let verdict = scanners.scan(b"data").await;
        assert!(
            matches!(&verdict, Verdict::Unavailable { reason, .. } if reason.contains("no verdict within")),
            "{verdict:?}"
        );
        let ping = scanners.ping().await.expect_err("silent scanner is not ready");
        assert!(ping.contains(&silent.to_string()), "{ping}");
    }

    #[tokio::test]
    async fn real_clamd_detects_eicar_over_tcp_and_unix() {
        assert_eq!(EICAR.len(), 68);
        let clamd = Clamd::start_with(Signatures::Eicar, "1M");
        let over_tcp = Scanners::new(vec![tcp(&clamd)], Duration::from_secs(30));
        let over_unix = Scanners::new(vec![unix(&clamd)], Duration::from_secs(30));
        assert_eq!(over_tcp.ping().await, Ok(()));
        assert_eq!(over_unix.ping().await, Ok(()));

        for scanners in [&over_tcp, &over_unix] {
            match scanners.scan(EICAR).await {
                Verdict::Infected { scanner, signature } => {
                    assert_eq!(scanner, scanners.addresses()[0].to_string());
                    assert!(signature.contains("EICAR"), "{signature}");
                }
                other => panic!("EICAR not detected: {other:?}\n{}", clamd.log()),
            }
            assert_eq!(scanners.scan(b"Hello, this is a clean attachment.\n").await, Verdict::Clean);
        }
        // Several chunks: the marker straddles the 64 KiB chunk boundary.
        let mut big = vec![b'a'; CHUNK_SIZE - 10];
        big.extend_from_slice(b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE");
        big.extend(std::iter::repeat_n(b'b', 100_000));
        assert!(matches!(over_tcp.scan(&big).await, Verdict::Infected { .. }));
        assert_eq!(over_tcp.scan(&vec![b'c'; 200_000]).await, Verdict::Clean);

        // Over StreamMaxLength (1M here): an error, never Clean.
        let verdict = over_tcp.scan(&vec![b'x'; 3 * 1024 * 1024]).await;
        assert!(
            matches!(&verdict, Verdict::Unavailable { reason, .. } if reason.contains("size limit exceeded")),
            "{verdict:?}"
        );
    }

    #[tokio::test]
    async fn real_clamd_all_scanners_must_pass() {
        let knows_eicar = Clamd::start(Signatures::Eicar);
        let other = Clamd::start(Signatures::Unrelated);

        // The first scanner alone would let EICAR through; the second one catches it.
        let first_only = Scanners::new(vec![tcp(&other)], Duration::from_secs(30));
        assert_eq!(first_only.scan(EICAR).await, Verdict::Clean);
        let both = Scanners::new(vec![tcp(&other), unix(&knows_eicar)], Duration::from_secs(30));
        assert!(both.describe().contains("all must pass"), "{}", both.describe());
        assert_eq!(both.ping().await, Ok(()));
        match both.scan(EICAR).await {
            Verdict::Infected { scanner, signature } => {
                assert_eq!(scanner, unix(&knows_eicar).to_string());
                assert!(signature.contains("EICAR"), "{signature}");
            }
            other => panic!("expected Infected, got {other:?}"),
        }
        assert_eq!(both.scan(b"clean").await, Verdict::Clean);

        // One scanner unreachable: clean data is not Clean, infected data is still Infected.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let gone = ScannerAddress::Tcp(listener.local_addr().expect("addr").to_string());
        drop(listener);
        let with_gone = Scanners::new(vec![gone.clone(), tcp(&knows_eicar)], Duration::from_secs(30));
        assert!(matches!(
            with_gone.scan(b"clean").await,
            Verdict::Unavailable { scanner, .. } if scanner == gone.to_string()
        ));
        assert!(matches!(with_gone.scan(EICAR).await, Verdict::Infected { .. }));
        assert!(with_gone.ping().await.is_err());
    }
}
