//! Real neighbours for sealmail's tests, started and stopped by the tests themselves on
//! `127.0.0.1`: one SMTP server for every test that needs a next hop ([`smtp`]: recording,
//! per-recipient rules, STARTTLS/implicit TLS and AUTH, or a scripted misbehaviour), a
//! throwaway TLS CA ([`tls`]), a ClamAV daemon with test signatures ([`clamd`]), a DNS server
//! ([`dns`]), a private PostgreSQL cluster ([`postgres`]), an HTTP callback receiver
//! ([`receiver`]), the sealmail server itself as a process ([`server`]), Debian's Chromium
//! driven by playwright-core ([`browser`]), slow clients ([`slow_client`]), free ports
//! ([`ports`]), and the third-party checkers that judge sealmail's output (pyzipper and
//! 7-Zip in [`archive_tools`], Python's strict MIME parser in [`strict_mime`], the Standard
//! Webhooks verifier and a JSON Schema validator in [`webhooks`]).
//!
//! It depends on no sealmail crate, so every host crate can use it in its unit tests. Nothing
//! here may outlive its test: every server stops when its handle is dropped, and files live
//! in temporary directories. A tool that is missing fails the test with instructions — the
//! README's test command installs them all (`cargo xtask setup`) — it never skips silently.

pub mod archive_tools;
pub mod browser;
pub mod clamd;
pub mod dns;
pub mod jobs;
pub mod ports;
pub mod postgres;
pub mod python;
pub mod receiver;
pub mod report;
pub mod secure_mail;
pub mod server;
pub mod slow_client;
pub mod smtp;
pub mod strict_mime;
pub mod tls;
pub mod webhooks;

use std::path::{Path, PathBuf};

pub use archive_tools::{pyzipper_extract, pyzipper_try_extract, sevenzip_extract};
pub use clamd::{Clamd, EICAR, Signatures};
pub use dns::{DnsRecord, DnsServer};
pub use ports::free_port;
pub use python::python;
pub use receiver::{Headers, ReceivedRequest, Receiver, Reply};
pub use server::{ACCOUNT, OTHER_ACCOUNT, Sealmail, wait_ready};
pub use smtp::{CommandLine, RcptRule, ReceivedMail, SmtpServer, SmtpServerConfig};
pub use tls::{TestCa, TlsIdentity};
pub use webhooks::{callback_schema_path, check_callback_schema, verify_webhook};

/// A DKIM key in the PKCS #1 RSA form, the one test key that is a file rather than made at
/// test time (`ring`, and so rcgen, cannot generate RSA keys). See `testdata/README.md`.
pub const DKIM_RSA_PKCS1_PEM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/dkim-rsa-pkcs1.pem");

/// The repository root.
pub fn repo_root() -> PathBuf {
    let support = Path::new(env!("CARGO_MANIFEST_DIR"));
    support.parent().and_then(Path::parent).expect("tests/support lives in the workspace").to_path_buf()
}

/// Fails with instructions when a third-party tool the tests need is missing: a test that
/// skips silently would hide a broken setup.
pub fn require_tool(program: &str) {
    let found = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found, "{program} is not installed; run `cargo xtask setup` (the README's test command does)");
}
