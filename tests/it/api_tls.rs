//! Transport security, from outside, with the real `sealmail serve`:
//!
//! - the API over HTTPS (`[api] tls_cert_file`/`tls_key_file`) with a throwaway CA: a client
//!   trusting it submits a job and reads its status; one that does not, fails the handshake;
//!   plain HTTP to the TLS port is refused cleanly; bad or mismatched files stop the start
//!   with an error naming the file;
//! - slow clients over TLS: a handshake that never starts or stalls halfway, and a request
//!   that stalls after the handshake, all end in bounded time;
//! - a relay with `tls = "none"` needs `transport.allow_insecure_smtp = true` to start;
//! - every insecure setting prints a `WARNING:` line naming it; a secure configuration none.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sealmail_test_support::jobs::{plain_relay, secure_statement};
use sealmail_test_support::server::binary;
use sealmail_test_support::slow_client::{SlowScript, probe};
use sealmail_test_support::{ACCOUNT, SmtpServer, SmtpServerConfig, TestCa, free_port, wait_ready};
use serde_json::Value;
use tokio_rustls::rustls;

/// A case must end within this (the configured bound is 1 s).
const BOUND: Duration = Duration::from_secs(4);
const CAP: Duration = Duration::from_secs(10);
const STORAGE_KEY: &str = "c2VhbG1haWwtdGVzdC1zdG9yYWdlLWtleS0zMmJ5dGU=";

/// A `sealmail serve` process on a configuration of our own (the harness' `Sealmail` speaks
/// plain HTTP only). Killed on drop.
struct Process {
    dir: tempfile::TempDir,
    child: Child,
    port: u16,
}

impl Process {
    /// Writes `config` (with `listen` on `ip` and a data directory prepended) and starts.
    fn spawn(ip: &str, config: &str) -> Process {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let full = format!("listen = \"{ip}:{port}\"\ndata_dir = \"{}\"\n{config}", dir.path().join("data").display());
        std::fs::write(dir.path().join("sealmail.toml"), full).expect("config");
        let log = |name: &str| std::fs::File::create(dir.path().join(name)).expect("log file");
        let child = Command::new(binary())
            .args(["serve", "--config"])
            .arg(dir.path().join("sealmail.toml"))
            .env_remove("SEALMAIL_TEST_DATABASE")
            .env_remove("SEALMAIL_FAULT_PROFILE")
            .env(
                "SEALMAIL_CACHE_DIR",
                binary().parent().and_then(Path::parent).expect("target").join("test-component-cache"),
            )
            .stdin(Stdio::null())
            .stdout(log("stdout.log"))
            .stderr(log("stderr.log"))
            .spawn()
            .expect("start sealmail");
        Process { dir, child, port }
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stdout.log")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }

    /// Waits until `/readyz` answers through `client` at `scheme://127.0.0.1:PORT`.
    async fn ready(&mut self, client: &reqwest::Client, scheme: &str) -> String {
        let base = format!("{scheme}://127.0.0.1:{}", self.port);
        if let Err(why) = wait_ready(&mut self.child, client, &base, Duration::from_secs(120)).await {
            panic!("{why}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.stdout(), self.stderr());
        }
        base
    }

    /// Waits for the process to exit (it must, within a minute); its exit code.
    fn exit_code(&mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            assert!(Instant::now() < deadline, "sealmail did not exit:\n{}", self.stdout());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn accounts() -> String {
    format!("[[accounts]]\nname = \"{}\"\nsecret = \"{}\"\n", ACCOUNT.0, ACCOUNT.1)
}

/// A certificate and key for 127.0.0.1 from `ca`, written to `dir`.
fn write_identity(ca: &TestCa, dir: &Path) -> (PathBuf, PathBuf) {
    let identity = ca.issue_server();
    let (cert, key) = (dir.join("api.pem"), dir.join("api.key"));
    std::fs::write(&cert, identity.cert_chain_pem).expect("cert");
    std::fs::write(&key, identity.key_pem).expect("key");
    (cert, key)
}

fn tls_section(cert: &Path, key: &Path) -> String {
    format!(
        "[api]\ntls_cert_file = \"{}\"\ntls_key_file = \"{}\"\nheader_read_timeout_secs = 1\nidle_timeout_secs = 1\n",
        cert.display(),
        key.display()
    )
}

fn https_client(ca: &TestCa) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca.ca_pem.as_bytes()).expect("CA"))
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A raw TLS client trusting `ca`, for the slow cases after the handshake.
fn connector(ca: &TestCa) -> tokio_rustls::TlsConnector {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls::pki_types::CertificateDer::pem_slice_iter(ca.ca_pem.as_bytes()) {
        roots.add(cert.expect("CA PEM")).expect("CA");
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_api_over_https_serves_trusting_clients_and_cuts_off_slow_ones() {
    let ca = TestCa::new();
    let files = tempfile::tempdir().expect("tempdir");
    let (cert, key) = write_identity(&ca, files.path());
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let mut server = Process::spawn(
        "127.0.0.1",
        &format!(
            "storage_key = \"{STORAGE_KEY}\"\n{}\n{}\n[antivirus]\nallow_insecure_no_antivirus = true\n\
             [queue]\nretry_delays_secs = [1]\npoll_ms = 50\n\n{}",
            tls_section(&cert, &key),
            plain_relay(smtp.port(), 5),
            accounts()
        ),
    );
    let client = https_client(&ca);
    let base = server.ready(&client, "https").await;
    let banner = server.stdout();
    assert!(banner.contains(&format!("listening on https://127.0.0.1:{}", server.port)), "{banner}");

    // A job over HTTPS, its status too.
    let job = secure_statement("over https", "statement", &["tls@recipient.example".to_owned()]);
    let response = client
        .post(format!("{base}/rest/v1/jobs"))
        .basic_auth(ACCOUNT.0, Some(ACCOUNT.1))
        .json(&job)
        .send()
        .await
        .expect("POST over https");
    assert_eq!(response.status().as_u16(), 202);
    let id = response.json::<Value>().await.expect("json")["jobId"].as_str().expect("jobId").to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let report: Value = client
            .get(format!("{base}/rest/v1/jobs/{id}"))
            .basic_auth(ACCOUNT.0, Some(ACCOUNT.1))
            .send()
            .await
            .expect("GET over https")
            .json()
            .await
            .expect("json");
        if report["state"] == "FINISHED" {
            break;
        }
        assert!(Instant::now() < deadline, "{report:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(smtp.wait_for(2, Duration::from_secs(30)).await.len(), 2);

    // A client without the CA: the handshake fails (and says so), nothing hangs.
    let stranger = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let e = stranger.get(format!("{base}/healthz")).send().await.expect_err("untrusted certificate");
    assert!(!e.is_timeout(), "{e:?}");

    // Plain HTTP to the TLS port: refused cleanly, in bounded time, with no HTTP answer.
    let address = format!("127.0.0.1:{}", server.port);
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
    let e = plain.get(format!("http://{address}/healthz")).send().await.expect_err("http to an https port");
    assert!(!e.is_timeout(), "{e:?}");
    let stream = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let result = probe(stream, SlowScript::stall("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), CAP).await;
    assert!(result.closed && result.after < BOUND, "{}", result.describe());
    assert!(!result.received.starts_with(b"HTTP/"), "{}", result.describe());

    // Slow clients over TLS.
    let mut failures = Vec::new();
    println!("slow clients over TLS (bound 1 s; a case must end within {BOUND:?}):");
    let silent = tokio::net::TcpStream::connect(&address).await.expect("connect");
    // The first bytes of a TLS record (handshake, TLS 1.0 record version, length 512).
    let half_hello = tokio::net::TcpStream::connect(&address).await.expect("connect");
    let tls = connector(&ca);
    let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
    let after_handshake =
        tls.connect(name.clone(), tokio::net::TcpStream::connect(&address).await.expect("connect")).await.expect("tls");
    let stalled_body =
        tls.connect(name, tokio::net::TcpStream::connect(&address).await.expect("connect")).await.expect("tls");
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", ACCOUNT.0, ACCOUNT.1));
    let cases = [
        ("TCP connection, no ClientHello", tokio::spawn(probe(silent, SlowScript::stall(Vec::new()), CAP))),
        (
            "half a ClientHello, then silence",
            tokio::spawn(probe(half_hello, SlowScript::stall(vec![0x16, 3, 1, 2, 0, 1]), CAP)),
        ),
        (
            "handshake done, headers trickled",
            tokio::spawn(probe(
                after_handshake,
                SlowScript::trickle("GET /healthz HTTP/1.1\r\n", "X-Slow: abc\r\n", Duration::from_millis(100)),
                CAP,
            )),
        ),
        (
            "handshake done, body stalls",
            tokio::spawn(probe(
                stalled_body,
                SlowScript::stall(format!(
                    "POST /rest/v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {token}\r\n\
                     Content-Type: application/json\r\nContent-Length: 900\r\n\r\n{{\"job\":"
                )),
                CAP,
            )),
        ),
    ];
    let health = Instant::now();
    client.get(format!("{base}/healthz")).send().await.expect("healthz meanwhile");
    let health = health.elapsed();
    for (name, task) in cases {
        let result = task.await.expect("probe");
        println!("  {name:<40} {}", result.describe());
        if !result.closed || result.after > BOUND || result.status().is_some_and(|c| c >= 500) {
            failures.push(format!("{name}: {}", result.describe()));
        }
        if name.ends_with("body stalls") && result.status() != Some(408) {
            failures.push(format!("{name}: expected 408, {}", result.describe()));
        }
    }
    println!("  normal HTTPS client meanwhile: /healthz in {:.0} ms", health.as_secs_f64() * 1000.0);
    assert!(failures.is_empty(), "{failures:#?}\n{}", server.stderr());
    assert!(health < Duration::from_secs(2), "{health:?}");
}

#[tokio::test]
async fn bad_tls_files_stop_the_start_naming_the_file() {
    let ca = TestCa::new();
    let files = tempfile::tempdir().expect("tempdir");
    let (cert, _) = write_identity(&ca, files.path());
    let (_, other_key) = write_identity(&ca, &{
        let d = files.path().join("other");
        std::fs::create_dir_all(&d).expect("dir");
        d
    });
    let missing = files.path().join("missing.key");
    let cases = [
        ("a missing key file", tls_section(&cert, &missing), vec!["api.tls_key_file", "missing.key"]),
        ("a key file holding a certificate", tls_section(&cert, &cert), vec!["api.tls_key_file", "api.pem"]),
        ("the key of another certificate", tls_section(&cert, &other_key), vec!["does not fit", "other/api.key"]),
        (
            "a certificate without its key",
            format!("[api]\ntls_cert_file = \"{}\"\n", cert.display()),
            vec!["api.tls_cert_file and api.tls_key_file must be set together"],
        ),
    ];
    for (what, section, needles) in cases {
        let mut server = Process::spawn("127.0.0.1", &format!("{section}\n{}", accounts()));
        let code = server.exit_code();
        let stderr = server.stderr();
        assert_ne!(code, Some(0), "{what}: started\n{stderr}");
        for needle in needles {
            assert!(stderr.contains(needle), "{what}: {needle:?} not in:\n{stderr}");
        }
        println!("{what}: refused: {}", stderr.lines().last().unwrap_or_default());
    }
}

#[tokio::test]
async fn a_clear_text_relay_needs_allow_insecure_smtp() {
    let relay = "[transport]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = 2525\ntls = \"none\"\n";
    let mut refused = Process::spawn("127.0.0.1", &format!("{relay}\n{}", accounts()));
    assert_ne!(refused.exit_code(), Some(0));
    let stderr = refused.stderr();
    assert!(stderr.contains("transport.allow_insecure_smtp = true"), "{stderr}");

    let mut allowed = Process::spawn("127.0.0.1", &format!("{relay}allow_insecure_smtp = true\n\n{}", accounts()));
    let client = reqwest::Client::new();
    allowed.ready(&client, "http").await;
    let stdout = allowed.stdout();
    assert!(
        stdout
            .lines()
            .any(|l| l.contains("WARNING: transport.allow_insecure_smtp is set") && l.contains("127.0.0.1:2525")),
        "{stdout}"
    );
}

/// The `WARNING:` lines of a started server's banner.
fn warnings(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| l.contains("WARNING:")).map(|l| l.trim().to_owned()).collect()
}

#[tokio::test]
async fn every_insecure_setting_warns_at_start_and_a_secure_configuration_does_not() {
    let insecure = "[transport]\nkind = \"mx\"\nnameservers = [\"127.0.0.1:9\"]\n\n\
        [antivirus]\nallow_insecure_no_antivirus = true\n\n\
        [callbacks]\nallow_private_callback_ips = true\n\n\
        [[accounts]]\nname = \"weak\"\nsecret = \"short-secret\"\n\
        callback = { url = \"http://hooks.example/events\" }\n";
    // On every address, plain HTTP: the API warning too.
    let mut server = Process::spawn("0.0.0.0", insecure);
    server.ready(&reqwest::Client::new(), "http").await;
    let found = warnings(&server.stdout());
    let expected = [
        "plain HTTP on 0.0.0.0",
        "transport.require_tls",
        "allow_insecure_no_antivirus",
        "allow_private_callback_ips",
        "storage_key is not set",
        "accounts.secret of account \"weak\"",
        "accounts.callback.url of account \"weak\" is http://",
    ];
    println!("insecure configuration, {} warnings:", found.len());
    for line in &found {
        println!("  {line}");
    }
    for needle in expected {
        assert!(found.iter().any(|l| l.contains(needle)), "no warning about {needle:?}: {found:#?}");
    }
    assert!(!server.stdout().contains("short-secret"), "the secret itself is never printed");
    drop(server);

    let ca = TestCa::new();
    let files = tempfile::tempdir().expect("tempdir");
    let (cert, key) = write_identity(&ca, files.path());
    let secure = format!(
        "storage_key = \"{STORAGE_KEY}\"\n{}\n[transport]\nkind = \"mx\"\nnameservers = [\"127.0.0.1:9\"]\n\
         require_tls = true\n\n[[accounts]]\nname = \"strong\"\nsecret = \"{}\"\n\
         callback = {{ url = \"https://hooks.example/events\" }}\n",
        tls_section(&cert, &key),
        ACCOUNT.1
    );
    let mut server = Process::spawn("0.0.0.0", &secure);
    server.ready(&https_client(&ca), "https").await;
    let found = warnings(&server.stdout());
    assert!(found.is_empty(), "a secure configuration warns: {found:#?}");
    println!("secure configuration: no warnings");
}
