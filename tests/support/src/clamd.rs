//! A real ClamAV daemon (`clamd`) for antivirus tests — the system tests and the scanner
//! client's unit tests (`host/clamav`) alike — with a private database of test signatures
//! only (freshclam cannot download here, and the tests must not depend on the official
//! database anyway). Each instance lives in its own temporary directory, listens on
//! `127.0.0.1:PORT` and a Unix socket there, and is killed when dropped. A missing clamd fails
//! the test with instructions; it is never skipped.
//!
//! It must never touch the system ClamAV configuration, database or service.

use std::fs::File;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::free_port;

/// Where Debian's `clamav-daemon` installs the daemon.
const CLAMD: &str = "/usr/sbin/clamd";
/// How long a start may take before the test fails (measured: ~0.3 s with test signatures
/// on an idle machine; much longer while the other core compiles or other tests run).
const START_DEADLINE: Duration = Duration::from_secs(60);
/// clamd's `StreamMaxLength` unless a test asks for another: larger than anything the tests
/// send on purpose.
const DEFAULT_STREAM_MAX_LENGTH: &str = "50M";
/// The 68-byte EICAR test file, which every antivirus reports by convention.
pub const EICAR: &[u8] = br"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

/// Which signature database the daemon loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signatures {
    /// Detects EICAR: `test.hdb` (MD5 of the 68-byte file, "Test.EICAR.MD5") and `test.ndb`
    /// (the body string anywhere, "Test.EICAR.Body"). clamd reports them with `.UNOFFICIAL`.
    Eicar,
    /// One signature that matches nothing the tests send: clamd starts but never finds EICAR.
    Unrelated,
}

/// A running clamd; dropping it kills it.
pub struct Clamd {
    dir: TempDir,
    port: u16,
    stream_max_length: String,
    child: Option<Child>,
}

impl Clamd {
    /// Writes the database and configuration, starts clamd and waits until it answers PING.
    pub fn start(signatures: Signatures) -> Clamd {
        Clamd::start_with(signatures, DEFAULT_STREAM_MAX_LENGTH)
    }

    /// Like [`Clamd::start`], with clamd's `StreamMaxLength` (e.g. `"1M"`): a longer INSTREAM
    /// is answered with `INSTREAM size limit exceeded. ERROR`.
    pub fn start_with(signatures: Signatures, stream_max_length: &str) -> Clamd {
        assert!(Path::new(CLAMD).exists(), "{CLAMD} is missing; run `cargo xtask setup` (installs clamav-daemon)");
        let dir = tempfile::Builder::new().prefix("sealmail-clamd-").tempdir().expect("temp dir");
        let db = dir.path().join("db");
        std::fs::create_dir(&db).expect("db dir");
        match signatures {
            Signatures::Eicar => {
                std::fs::write(db.join("test.hdb"), "44d88612fea8a8f36de82e1278abb02f:68:Test.EICAR.MD5\n")
                    .expect("writing test.hdb");
                std::fs::write(
                    db.join("test.ndb"),
                    format!("Test.EICAR.Body:0:*:{}\n", hex(b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE")),
                )
                .expect("writing test.ndb");
            }
            Signatures::Unrelated => {
                std::fs::write(
                    db.join("test.ndb"),
                    format!("Test.Unrelated.Body:0:*:{}\n", hex(b"SEALMAIL-UNRELATED-TEST-SIGNATURE-5c1e")),
                )
                .expect("writing test.ndb");
            }
        }
        // free_port() can race with another process taking the port; a fresh one then helps.
        let mut clamd = Clamd { dir, port: 0, stream_max_length: stream_max_length.to_owned(), child: None };
        let mut last_error = String::new();
        for _ in 0..3 {
            clamd.port = free_port();
            clamd.write_config();
            match clamd.spawn_and_wait() {
                Ok(()) => return clamd,
                Err(e) => last_error = e,
            }
        }
        panic!("clamd did not start: {last_error}");
    }

    /// `tcp://127.0.0.1:PORT`.
    pub fn tcp_address(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// `unix:///…/clamd.sock`.
    pub fn unix_address(&self) -> String {
        format!("unix://{}", self.socket_path().display())
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether clamd answers `PING` with `PONG` over TCP right now.
    pub fn ping(&self) -> bool {
        self.request(b"zPING\0", &[]).is_ok_and(|reply| reply == "PONG")
    }

    /// Scans `data` with INSTREAM over TCP and returns clamd's reply without the terminator,
    /// e.g. `stream: OK` or `stream: Test.EICAR.MD5.UNOFFICIAL FOUND`.
    pub fn scan(&self, data: &[u8]) -> String {
        self.request(b"zINSTREAM\0", data).unwrap_or_else(|e| panic!("INSTREAM to {}: {e}", self.tcp_address()))
    }

    /// Kills clamd and waits for it: connections to the port are then refused.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops clamd if it runs, then starts it again with the same port and configuration.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(e) = self.spawn_and_wait() {
            panic!("clamd did not restart: {e}");
        }
    }

    /// What clamd logged so far, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("clamd.log")).unwrap_or_default()
    }

    fn socket_path(&self) -> PathBuf {
        self.dir.path().join("clamd.sock")
    }

    fn write_config(&self) {
        let d = self.dir.path();
        // No `User`: clamd then keeps the current user (root in the test containers works).
        let config = format!(
            "Foreground yes\nDatabaseDirectory {}\nTCPSocket {}\nTCPAddr 127.0.0.1\nLocalSocket {}\nLogFile {}\nStreamMaxLength {}\n",
            d.join("db").display(),
            self.port,
            self.socket_path().display(),
            d.join("clamd.log").display(),
            self.stream_max_length,
        );
        std::fs::write(d.join("clamd.conf"), config).expect("writing clamd.conf");
    }

    fn spawn_and_wait(&mut self) -> Result<(), String> {
        // A killed clamd leaves its socket file behind; remove it rather than rely on clamd's
        // stale-socket check.
        let _ = std::fs::remove_file(self.socket_path());
        let out = File::create(self.dir.path().join("clamd.out")).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(CLAMD)
            .arg("-c")
            .arg(self.dir.path().join("clamd.conf"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot run {CLAMD}: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if self.ping() {
                return Ok(());
            }
            let exited = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                self.stop();
                let log = self.log();
                let out = std::fs::read_to_string(self.dir.path().join("clamd.out")).unwrap_or_default();
                let why = exited.map_or("no PONG within the deadline".to_string(), |s| format!("exited with {s}"));
                return Err(format!("{why}\n--- clamd.log\n{log}\n--- output\n{}", tail(&out, 2000)));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends a `z`-command (NUL-terminated replies), then `payload` as INSTREAM chunks when
    /// non-empty or the command is INSTREAM.
    fn request(&self, command: &[u8], payload: &[u8]) -> std::io::Result<String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.write_all(command)?;
        if command.starts_with(b"zINSTREAM") {
            for chunk in payload.chunks(64 * 1024) {
                stream.write_all(&(chunk.len() as u32).to_be_bytes())?;
                stream.write_all(chunk)?;
            }
            stream.write_all(&0u32.to_be_bytes())?;
        }
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply)?;
        let reply = reply.strip_suffix(b"\0").unwrap_or(&reply);
        Ok(String::from_utf8_lossy(reply).trim().to_string())
    }
}

impl Drop for Clamd {
    fn drop(&mut self) {
        self.stop();
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}
