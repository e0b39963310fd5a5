//! A tiny scripted SMTP server for tests: listens on `127.0.0.1:0`, answers each RCPT as the
//! script says, optionally speaks STARTTLS or implicit TLS with the test certificates in
//! `testdata/`, and records every command line and every message it accepted.
//!
//! Test code only: it trusts its peer, keeps everything in memory and implements just enough
//! of RFC 5321 for the transport's client side.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::{self, pki_types::pem::PemObject};

/// The CA that signed the test relay's certificate (for `ca_file`).
pub(crate) const TEST_CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/testdata/ca.pem");
/// A CA that did not sign it (for "wrong CA" tests).
pub(crate) const UNRELATED_CA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/testdata/unrelated-ca.pem");
const RELAY_CERT: &[u8] = include_bytes!("testdata/relay.pem");
const RELAY_KEY: &[u8] = include_bytes!("testdata/relay.key");

/// How the server behaves.
#[derive(Clone)]
pub(crate) struct Script {
    /// Full reply lines for particular recipients, e.g. `"550 5.1.1 User unknown"`; every other
    /// recipient gets `250 2.1.5 Ok`.
    pub rcpt_replies: HashMap<String, String>,
    /// Reply to the DATA command instead of 354 (a refusal before any content).
    pub data_command_reply: Option<String>,
    /// Reply to the end of data.
    pub end_of_data_reply: String,
    /// Advertise and accept STARTTLS.
    pub starttls: bool,
    /// Answer STARTTLS with 220, then close the connection instead of the TLS handshake.
    pub broken_tls: bool,
    /// TLS from the first byte (RFC 8314).
    pub implicit_tls: bool,
    /// Advertise `AUTH PLAIN LOGIN` and accept any credentials.
    pub auth: bool,
    /// Accept the connection but never send the greeting (timeout tests).
    pub silent: bool,
}

impl Default for Script {
    fn default() -> Self {
        Self {
            rcpt_replies: HashMap::new(),
            data_command_reply: None,
            end_of_data_reply: "250 2.0.0 Ok: queued as TEST".into(),
            starttls: false,
            broken_tls: false,
            implicit_tls: false,
            auth: false,
            silent: false,
        }
    }
}

impl Script {
    /// Adds a scripted reply for `recipient`.
    pub fn reply_to(mut self, recipient: &str, reply: &str) -> Self {
        self.rcpt_replies.insert(recipient.to_owned(), reply.to_owned());
        self
    }
}

/// One command line as received.
#[derive(Debug, Clone)]
pub(crate) struct CommandLine {
    /// The line without CRLF (AUTH lines cut after the mechanism: no secrets in test output).
    pub line: String,
    /// Whether it arrived over TLS.
    pub encrypted: bool,
}

/// One message accepted after DATA.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    /// The MAIL FROM argument, e.g. `<bounces@example.com>`.
    pub mail_from: String,
    /// The recipients whose RCPT got a 2yz.
    pub recipients: Vec<String>,
    /// The content with dot-stuffing undone and without the final `.` line.
    pub data: Vec<u8>,
}

/// What the server saw.
#[derive(Debug, Default)]
pub(crate) struct Recording {
    /// Every command line, in order, across connections.
    pub commands: Vec<CommandLine>,
    /// Every message the server accepted (including ones it then refused at end of data).
    pub messages: Vec<Received>,
}

/// A running server; stops when dropped.
pub(crate) struct ScriptedSmtpServer {
    addr: SocketAddr,
    recording: Arc<Mutex<Recording>>,
    task: JoinHandle<()>,
}

impl ScriptedSmtpServer {
    /// Starts a server on `127.0.0.1:0` following `script`.
    pub async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind test SMTP server");
        let addr = listener.local_addr().expect("local addr");
        let recording = Arc::new(Mutex::new(Recording::default()));
        let script = Arc::new(script);
        let acceptor = TlsAcceptor::from(Arc::new(server_tls_config()));
        let rec = Arc::clone(&recording);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (script, rec, acceptor) = (Arc::clone(&script), Arc::clone(&rec), acceptor.clone());
                tokio::spawn(async move { serve(stream, &script, &rec, &acceptor).await });
            }
        });
        Self { addr, recording, task }
    }

    /// The listening address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of what the server saw so far.
    pub fn commands(&self) -> Vec<CommandLine> {
        self.recording.lock().expect("lock").commands.clone()
    }

    /// The messages accepted so far.
    pub fn messages(&self) -> Vec<Received> {
        self.recording.lock().expect("lock").messages.clone()
    }
}

impl Drop for ScriptedSmtpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn server_tls_config() -> rustls::ServerConfig {
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(RELAY_CERT)
        .collect::<Result<Vec<_>, _>>()
        .expect("test certificate");
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(RELAY_KEY).expect("test key");
    rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server config")
}

async fn serve(stream: TcpStream, script: &Script, rec: &Mutex<Recording>, acceptor: &TlsAcceptor) {
    if script.silent {
        // Hold the connection open without a greeting until the client gives up.
        let mut buf = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut { stream }, &mut buf).await;
        return;
    }
    if script.implicit_tls {
        if let Ok(tls) = acceptor.accept(stream).await {
            session(tls, script, rec, true, true).await;
        }
        return;
    }
    if let Some(plain) = session(stream, script, rec, false, true).await
        && !script.broken_tls
        && let Ok(tls) = acceptor.accept(plain).await
    {
        // No new greeting after STARTTLS (RFC 3207 §4.2): the client sends EHLO.
        session(tls, script, rec, true, false).await;
    }
}

/// Runs the dialogue; returns the stream when the client asked for STARTTLS and got 220.
async fn session<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    script: &Script,
    rec: &Mutex<Recording>,
    encrypted: bool,
    greet: bool,
) -> Option<S> {
    let mut stream = BufReader::new(stream);
    if greet && stream.write_all(b"220 test.invalid ESMTP scripted\r\n").await.is_err() {
        return None;
    }
    let mut mail_from: Option<String> = None;
    let mut recipients: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        match stream.read_line(&mut line).await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        let upper = line.to_ascii_uppercase();
        let recorded = if upper.starts_with("AUTH") {
            line.split_whitespace().take(2).collect::<Vec<_>>().join(" ")
        } else {
            line.clone()
        };
        rec.lock().expect("lock").commands.push(CommandLine { line: recorded, encrypted });

        let reply: String = if upper.starts_with("EHLO") {
            let mut r = String::from("250-test.invalid\r\n250-8BITMIME\r\n");
            if script.starttls && !encrypted {
                r.push_str("250-STARTTLS\r\n");
            }
            if script.auth {
                r.push_str("250-AUTH PLAIN LOGIN\r\n");
            }
            r.push_str("250 SMTPUTF8\r\n");
            r
        } else if upper == "STARTTLS" && script.starttls && !encrypted {
            if stream.write_all(b"220 2.0.0 Ready to start TLS\r\n").await.is_err() {
                return None;
            }
            return Some(stream.into_inner());
        } else if upper.starts_with("AUTH") && script.auth {
            "235 2.7.0 Authentication successful\r\n".into()
        } else if upper.starts_with("MAIL FROM:") {
            mail_from = Some(line["MAIL FROM:".len()..].split(' ').next().unwrap_or("").to_owned());
            recipients.clear();
            "250 2.1.0 Ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            let address = line["RCPT TO:".len()..].split(' ').next().unwrap_or("").trim_matches(['<', '>']).to_owned();
            match script.rcpt_replies.get(&address) {
                Some(reply) => format!("{reply}\r\n"),
                None => {
                    recipients.push(address);
                    "250 2.1.5 Ok\r\n".into()
                }
            }
        } else if upper == "DATA" {
            if mail_from.is_none() || recipients.is_empty() {
                "554 5.5.1 No valid recipients\r\n".into()
            } else if let Some(reply) = &script.data_command_reply {
                format!("{reply}\r\n")
            } else {
                if stream.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n").await.is_err() {
                    return None;
                }
                let data = read_data(&mut stream).await?;
                rec.lock().expect("lock").messages.push(Received {
                    mail_from: mail_from.take().unwrap_or_default(),
                    recipients: std::mem::take(&mut recipients),
                    data,
                });
                format!("{}\r\n", script.end_of_data_reply)
            }
        } else if upper == "RSET" || upper == "NOOP" {
            mail_from = None;
            recipients.clear();
            "250 2.0.0 Ok\r\n".into()
        } else if upper == "QUIT" {
            let _ = stream.write_all(b"221 2.0.0 Bye\r\n").await;
            return None;
        } else {
            "502 5.5.2 Command not recognized\r\n".into()
        };
        if stream.write_all(reply.as_bytes()).await.is_err() {
            return None;
        }
    }
}

/// Reads the content up to the `.` line, undoing dot-stuffing (RFC 5321 §4.5.2).
async fn read_data<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut BufReader<S>) -> Option<Vec<u8>> {
    let mut data = Vec::new();
    loop {
        let mut line = Vec::new();
        if stream.read_until(b'\n', &mut line).await.ok()? == 0 {
            return None;
        }
        if line == b".\r\n" {
            return Some(data);
        }
        let unstuffed = if line.starts_with(b".") { &line[1..] } else { &line[..] };
        data.extend_from_slice(unstuffed);
    }
}
