//! Proves the test harness (`sealmail_test_support`) before other tests rely on it: the SMTP
//! server against lettre (the client the host uses), STARTTLS and AUTH with the test CA, the
//! scripted RCPT replies, a real clamd through stop and restart, and the pyzipper helper.

use std::time::Duration;

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use sealmail_test_support::{
    Clamd, EICAR, RcptRule, Signatures, SmtpServer, SmtpServerConfig, TestCa, free_port, pyzipper_extract,
    pyzipper_try_extract,
};

const WAIT: Duration = Duration::from_secs(5);

fn plain_transport(port: u16) -> AsyncSmtpTransport<Tokio1Executor> {
    AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1").port(port).timeout(Some(WAIT)).build()
}

fn tls_transport(port: u16, ca_pem: &str, credentials: Option<(&str, &str)>) -> AsyncSmtpTransport<Tokio1Executor> {
    let parameters = TlsParameters::builder("127.0.0.1".to_string())
        .add_root_certificate(Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM"))
        .build_rustls()
        .expect("TLS parameters");
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
        .port(port)
        .timeout(Some(WAIT))
        .tls(Tls::Required(parameters));
    if let Some((user, password)) = credentials {
        builder = builder.credentials(Credentials::new(user.to_string(), password.to_string()));
    }
    builder.build()
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope::new(Some(from.parse().expect("from")), to.iter().map(|t| t.parse().expect("to")).collect())
        .expect("envelope")
}

#[tokio::test]
async fn plain_session_delivers_in_order_with_sequence_numbers() {
    let server = SmtpServer::start(SmtpServerConfig::default()).await;
    let smtp = plain_transport(server.port());
    // lettre sends the bytes, then CRLF.CRLF: the last line gets its CRLF from the terminator.
    let first = b"Subject: one\r\n\r\nfirst body\r\n.leading dot";
    smtp.send_raw(&envelope("a@sender.example", &["x@rcpt.example", "y@rcpt.example"]), first).await.expect("first");
    smtp.send_raw(&envelope("b@sender.example", &["z@rcpt.example"]), b"Subject: two\r\n\r\nsecond\r\n")
        .await
        .expect("second");

    let mails = server.wait_for(2, WAIT).await;
    assert_eq!(mails.len(), 2);
    assert_eq!((mails[0].seq, mails[1].seq), (1, 2));
    assert_eq!(mails[0].mail_from, "a@sender.example");
    assert_eq!(mails[0].rcpt_to, ["x@rcpt.example", "y@rcpt.example"]);
    assert_eq!(mails[1].rcpt_to, ["z@rcpt.example"]);
    // lettre dot-stuffs ".leading dot"; the server must undo it.
    assert_eq!(mails[0].data, [&first[..], b"\r\n"].concat());
    assert!(!mails[0].tls && mails[0].authenticated_as.is_none());

    let commands = server.commands();
    let verbs: Vec<&str> =
        commands.iter().filter(|c| c.session == 1).map(|c| c.line.split([' ', ':']).next().unwrap_or("")).collect();
    assert_eq!(verbs, ["EHLO", "MAIL", "RCPT", "RCPT", "DATA", "QUIT"]);
    assert!(commands.iter().any(|c| c.session == 2 && c.line == "MAIL FROM:<b@sender.example>"));
}

#[tokio::test]
async fn rcpt_rules_defer_once_and_reject_forever() {
    let config = SmtpServerConfig {
        rcpt_rules: vec![
            RcptRule::new("Later@Rcpt.Example", ["451 4.3.0 Try again"]),
            RcptRule::permanent("gone@rcpt.example", "550 5.1.1 User unknown"),
        ],
        ..SmtpServerConfig::default()
    };
    let server = SmtpServer::start(config).await;
    let smtp = plain_transport(server.port());
    let message = b"Subject: t\r\n\r\nbody\r\n";

    let deferred = smtp.send_raw(&envelope("a@s.example", &["later@rcpt.example"]), message).await.expect_err("451");
    assert!(deferred.is_transient(), "{deferred}");
    assert_eq!(deferred.status().map(|c| c.to_string()).as_deref(), Some("451"));
    smtp.send_raw(&envelope("a@s.example", &["later@rcpt.example"]), message).await.expect("250 on the second try");

    for _ in 0..2 {
        let bounced = smtp.send_raw(&envelope("a@s.example", &["gone@rcpt.example"]), message).await.expect_err("550");
        assert!(bounced.is_permanent(), "{bounced}");
        assert_eq!(bounced.status().map(|c| c.to_string()).as_deref(), Some("550"));
    }
    let mails = server.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].rcpt_to, ["later@rcpt.example"]);
}

#[tokio::test]
async fn starttls_and_auth_with_the_test_ca() {
    let ca = TestCa::new();
    let config = SmtpServerConfig {
        tls: Some(ca.issue_server()),
        require_tls: true,
        auth: Some(("relay-user".into(), "relay-secret".into())),
        ..SmtpServerConfig::default()
    };
    let server = SmtpServer::start(config).await;
    let message = b"Subject: secure\r\n\r\nbody\r\n";

    tls_transport(server.port(), &ca.ca_pem, Some(("relay-user", "relay-secret")))
        .send_raw(&envelope("a@s.example", &["x@r.example"]), message)
        .await
        .expect("STARTTLS + AUTH delivery");
    let mails = server.wait_for(1, WAIT).await;
    assert_eq!(mails.len(), 1);
    assert!(mails[0].tls);
    assert_eq!(mails[0].authenticated_as.as_deref(), Some("relay-user"));
    let commands = server.commands();
    assert!(commands.iter().filter(|c| !c.tls).all(|c| c.line.starts_with("EHLO ") || c.line == "STARTTLS"));
    assert!(commands.iter().any(|c| c.tls && c.line.starts_with("AUTH ")), "{commands:?}");

    // Wrong password: 535, nothing delivered.
    let refused = tls_transport(server.port(), &ca.ca_pem, Some(("relay-user", "wrong")))
        .send_raw(&envelope("a@s.example", &["x@r.example"]), message)
        .await
        .expect_err("535");
    assert!(refused.is_permanent(), "{refused}");

    // No credentials: the server refuses MAIL with 530.
    let refused = tls_transport(server.port(), &ca.ca_pem, None)
        .send_raw(&envelope("a@s.example", &["x@r.example"]), message)
        .await;
    assert_eq!(refused.expect_err("530").status().map(|c| c.to_string()).as_deref(), Some("530"));
    assert_eq!(server.received().len(), 1);
}

#[tokio::test]
async fn untrusted_certificate_stops_the_client_before_mail() {
    let server_ca = TestCa::new();
    let other_ca = TestCa::new();
    let config = SmtpServerConfig {
        tls: Some(server_ca.issue_server()),
        auth: Some(("relay-user".into(), "relay-secret".into())),
        ..SmtpServerConfig::default()
    };
    let server = SmtpServer::start(config).await;
    let result = tls_transport(server.port(), &other_ca.ca_pem, Some(("relay-user", "relay-secret")))
        .send_raw(&envelope("a@s.example", &["x@r.example"]), b"Subject: t\r\n\r\nsecret\r\n")
        .await;
    assert!(result.is_err(), "the handshake must fail with an untrusted CA");
    let commands = server.commands();
    assert!(commands.iter().any(|c| c.line == "STARTTLS"), "{commands:?}");
    assert!(!commands.iter().any(|c| c.line.starts_with("MAIL") || c.line.starts_with("AUTH")), "{commands:?}");
    assert!(commands.iter().all(|c| !c.tls));
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn smtp_server_stop_refuses_and_restart_serves_again() {
    let mut server = SmtpServer::start(SmtpServerConfig::default()).await;
    let port = server.port();
    server.stop().await;
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err(), "stopped server still accepts");
    server.restart().await;
    plain_transport(port).send_raw(&envelope("a@s.example", &["x@r.example"]), b"\r\nbody\r\n").await.expect("sent");
    assert_eq!(server.wait_for(1, WAIT).await.len(), 1);
}

#[test]
fn clamd_detects_eicar_and_survives_stop_and_restart() {
    let mut clamd = Clamd::start(Signatures::Eicar);
    assert!(clamd.ping());
    assert!(clamd.tcp_address().starts_with("tcp://127.0.0.1:"));
    let socket = clamd.unix_address();
    assert!(std::path::Path::new(socket.strip_prefix("unix://").expect("unix://")).exists(), "{socket}");
    let verdict = clamd.scan(EICAR);
    assert!(verdict.starts_with("stream: Test.EICAR.") && verdict.ends_with(" FOUND"), "{verdict}");
    assert_eq!(clamd.scan(b"harmless text"), "stream: OK");

    clamd.stop();
    assert!(!clamd.ping());
    let refused = std::net::TcpStream::connect(("127.0.0.1", clamd.port()));
    assert_eq!(refused.map(|_| ()).expect_err("refused").kind(), std::io::ErrorKind::ConnectionRefused);

    clamd.restart();
    assert!(clamd.ping());
    assert!(clamd.scan(EICAR).ends_with(" FOUND"));
}

#[test]
fn clamd_with_unrelated_signatures_finds_nothing() {
    let clamd = Clamd::start(Signatures::Unrelated);
    assert_eq!(clamd.scan(EICAR), "stream: OK");
}

#[test]
fn free_port_is_bindable() {
    let port = free_port();
    std::net::TcpListener::bind(("127.0.0.1", port)).expect("the port is free");
}

#[test]
fn test_ca_issues_a_chain_and_writes_the_ca_file() {
    let ca = TestCa::new();
    let identity = ca.issue_server();
    assert_eq!(identity.cert_chain_pem.matches("BEGIN CERTIFICATE").count(), 2);
    assert!(identity.cert_chain_pem.ends_with(&ca.ca_pem));
    let dir = tempfile::tempdir().expect("temp dir");
    let path = ca.write_ca_file(dir.path());
    assert_eq!(std::fs::read_to_string(path).expect("written"), ca.ca_pem);
}

#[test]
fn pyzipper_extracts_an_aes_zip() {
    // A WinZip AES-256 archive written by pyzipper itself, so the test needs no sealmail code.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("a.zip");
    let script = r#"
import sys, pyzipper
with pyzipper.AESZipFile(sys.argv[1], "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES) as z:
    z.setpassword(b"Pa55word")
    z.writestr("Rechnung-Müller.txt", b"Betrag: 42,00 EUR\n" * 100)
    z.writestr("b.bin", bytes(range(256)))
"#;
    let status = std::process::Command::new("python3").args(["-c", script]).arg(&path).status().expect("python3 runs");
    assert!(status.success());
    let zip = std::fs::read(&path).expect("archive");

    let entries = pyzipper_extract(&zip, "Pa55word");
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].0, "Rechnung-Müller.txt");
    assert_eq!(entries[0].1, b"Betrag: 42,00 EUR\n".repeat(100));
    assert_eq!(entries[1], ("b.bin".to_string(), (0..=255u8).collect::<Vec<u8>>()));
    let wrong = pyzipper_try_extract(&zip, "wrong").expect_err("a wrong password fails");
    assert!(wrong.contains("password") || wrong.contains("Bad"), "{wrong}");
}

/// A minimal line client for what lettre never sends (AUTH LOGIN, bad commands, long lines).
struct RawClient {
    reader: tokio::io::BufReader<tokio::net::TcpStream>,
}

impl RawClient {
    async fn connect(port: u16) -> RawClient {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.expect("connect");
        let mut client = RawClient { reader: tokio::io::BufReader::new(stream) };
        assert!(client.reply().await.starts_with("220 "));
        client
    }

    /// The last line of the next (possibly multi-line) reply.
    async fn reply(&mut self) -> String {
        use tokio::io::AsyncBufReadExt as _;
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line).await.expect("read");
            if line.len() < 4 || line.as_bytes()[3] != b'-' {
                return line.trim_end().to_string();
            }
        }
    }

    async fn send(&mut self, line: &str) -> String {
        use tokio::io::AsyncWriteExt as _;
        self.reader.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.expect("write");
        self.reply().await
    }
}

#[tokio::test]
async fn raw_dialogue_covers_auth_login_data_reply_and_limits() {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let config = SmtpServerConfig {
        auth: Some(("u".into(), "p".into())),
        data_reply: Some("554 5.7.1 Rejected by policy".into()),
        ..SmtpServerConfig::default()
    };
    let server = SmtpServer::start(config).await;
    let mut c = RawClient::connect(server.port()).await;
    assert!(c.send("MAIL FROM:<a@s.example>").await.starts_with("503 "), "MAIL before EHLO");
    assert_eq!(c.send("EHLO client.example").await, "250 AUTH PLAIN LOGIN");
    assert!(c.send("MAIL FROM:<a@s.example>").await.starts_with("530 5.7.0"), "MAIL before AUTH");
    assert_eq!(c.send("AUTH LOGIN").await, "334 VXNlcm5hbWU6");
    assert_eq!(c.send(&b64("u")).await, "334 UGFzc3dvcmQ6");
    assert!(c.send(&b64("p")).await.starts_with("235 "));
    assert!(c.send("NOOP").await.starts_with("250 "));
    assert!(c.send("VRFY someone").await.starts_with("500 "));
    assert!(c.send("RCPT TO:<x@r.example>").await.starts_with("503 "), "RCPT before MAIL");
    assert!(c.send("MAIL FROM:<> BODY=8BITMIME").await.starts_with("250 "));
    assert!(c.send("RCPT TO:<x@r.example>").await.starts_with("250 "));
    assert!(c.send("DATA").await.starts_with("354 "));
    assert_eq!(c.send("Subject: x\r\n\r\nbody\r\n.").await, "554 5.7.1 Rejected by policy");
    assert!(server.received().is_empty(), "a refused DATA records nothing");
    assert!(c.send("RSET").await.starts_with("250 "));
    assert!(c.send(&"A".repeat(70 * 1024)).await.starts_with("500 5.5.6"), "over-long line");
    assert!(server.commands().iter().any(|l| l.line == "AUTH LOGIN" && l.session == 1 && !l.tls));
}
