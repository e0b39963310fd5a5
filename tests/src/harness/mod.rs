//! Real neighbours for the integration tests, started and stopped by the tests themselves on
//! `127.0.0.1`: a scriptable SMTP server ([`smtp`]), a throwaway TLS CA ([`tls`]), a ClamAV
//! daemon with test signatures ([`clamd`]), the sealmail server itself as a
//! process ([`server`]), plus small helpers (free ports, pyzipper).
//!
//! Nothing here may outlive its test: every server stops when its handle is dropped, and
//! files live in temporary directories.

pub mod clamd;
pub mod jobs;
pub mod server;
pub mod smtp;
pub mod tls;

use std::net::TcpListener;
use std::process::Command;

use base64::Engine as _;

pub use clamd::{Clamd, EICAR, Signatures};
pub use server::{ACCOUNT, OTHER_ACCOUNT, Sealmail, wait_ready};
pub use smtp::{CommandLine, RcptRule, ReceivedMail, SmtpServer, SmtpServerConfig};
pub use tls::{TestCa, TlsIdentity};

/// A TCP port on `127.0.0.1` that was free a moment ago (bound to port 0, then released), for
/// programs that must be told their port. Another process may take it in between: callers
/// that can retry should.
pub fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0)).and_then(|l| l.local_addr()).expect("binding 127.0.0.1:0").port()
}

/// Reads an AES ZIP with Python's pyzipper and prints `[[name, base64(bytes)], …]`.
const PYZIPPER_EXTRACT: &str = r#"
import sys, json, base64, pyzipper
with pyzipper.AESZipFile(sys.argv[1]) as z:
    z.setpassword(sys.argv[2].encode())
    json.dump([[i.filename, base64.b64encode(z.read(i)).decode()] for i in z.infolist()], sys.stdout)
"#;

/// Every entry (name and bytes, in archive order) of `zip_bytes` as pyzipper extracts it with
/// `password`; panics with pyzipper's error when it cannot (see [`pyzipper_try_extract`]).
pub fn pyzipper_extract(zip_bytes: &[u8], password: &str) -> Vec<(String, Vec<u8>)> {
    pyzipper_try_extract(zip_bytes, password).unwrap_or_else(|e| panic!("pyzipper could not extract: {e}"))
}

/// Like [`pyzipper_extract`], but pyzipper's failure (e.g. a wrong password) is an `Err` with
/// its message.
pub fn pyzipper_try_extract(zip_bytes: &[u8], password: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    crate::require_tool("python3");
    let dir = tempfile::tempdir().expect("temp dir");
    let archive = dir.path().join("archive.zip");
    std::fs::write(&archive, zip_bytes).expect("writing the archive");
    let output = Command::new("python3")
        .args(["-c", PYZIPPER_EXTRACT])
        .arg(&archive)
        .arg(password)
        .output()
        .expect("python3 runs");
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let entries: Vec<(String, String)> = serde_json::from_slice(&output.stdout).expect("the script prints JSON");
    Ok(entries
        .into_iter()
        .map(|(name, data)| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(data).expect("the script prints base64");
            (name, bytes)
        })
        .collect())
}
