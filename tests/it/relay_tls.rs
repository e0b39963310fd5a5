//! The `smtp` transport against a relay that requires STARTTLS and AUTH (docs/service.md#delivery), through
//! the real `sealmail serve` process: with the relay's CA configured as `ca_file` a secure job
//! is delivered over TLS and authenticated, and nothing sensitive ever crosses in clear text;
//! with another CA the certificate is refused, nothing is sent (not even MAIL FROM), the
//! message is deferred with a reply naming the certificate, and it expires at the end of its
//! queue lifetime without a password mail (docs/secure-documents.md#delivery-outcome-and-password-mail).

use std::path::Path;
use std::time::{Duration, Instant};

use sealmail_test_support::{CommandLine, Sealmail, SmtpServer, SmtpServerConfig, TestCa, jobs};
use serde_json::Value;

const USER: &str = "relay-user";
const PASSWORD: &str = "relay-pass-7f3a9c";
/// Generous: two cores shared with the server and the other test of this file.
const FINISH: Duration = Duration::from_secs(40);

/// A secure job (one archive, one password) for one block with two recipients.
fn secure_job() -> Value {
    let to = ["Max <max@recipient.example>".to_owned(), "anna@recipient.example".to_owned()];
    jobs::secure_statement("Your statement", "statement", &to)
}

/// The server's configuration: the relay with STARTTLS, AUTH and `ca_file`; secure jobs
/// without clamd; fast retries and the given queue lifetime.
fn config(port: u16, ca_file: &Path, lifetime_secs: u64) -> String {
    format!(
        r#"[transport]
kind = "smtp"
host = "127.0.0.1"
port = {port}
tls = "starttls"
username = "{USER}"
password = "{PASSWORD}"
ca_file = "{ca}"
timeout_secs = 10

[antivirus]
allow_insecure_no_antivirus = true

[queue]
retry_delays_secs = [1]
max_queue_lifetime_secs = {lifetime_secs}
poll_ms = 50
lease_secs = 30
"#,
        ca = ca_file.display()
    )
}

fn relay_config(ca: &TestCa) -> SmtpServerConfig {
    SmtpServerConfig {
        tls: Some(ca.issue_server()),
        require_tls: true,
        auth: Some((USER.to_string(), PASSWORD.to_string())),
        ..SmtpServerConfig::default()
    }
}

fn verb(line: &CommandLine) -> String {
    line.line.split([' ', ':']).next().unwrap_or_default().to_ascii_uppercase()
}

fn transcript(commands: &[CommandLine]) -> String {
    commands.iter().map(|c| format!("{} {} {}\n", c.session, if c.tls { "TLS  " } else { "CLEAR" }, c.line)).collect()
}

fn events(report: &Value, email: &str) -> Vec<String> {
    report["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["email"] == email)
        .map(|e| format!("{}/{}/{}/{}", e["phase"], e["state"], e["type"], e["subType"]).replace('"', ""))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_and_auth_with_the_configured_ca_deliver_everything_encrypted() {
    let ca = TestCa::new();
    let smtp = SmtpServer::start(relay_config(&ca)).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = ca.write_ca_file(dir.path());
    let server = Sealmail::start(&config(smtp.port(), &ca_file, 3600)).await;

    let id = server.submit(&secure_job()).await;
    let report = server.wait_finished(&id, FINISH).await;
    let recipients = report["recipients"].as_array().cloned().unwrap_or_default();
    assert_eq!(recipients.len(), 2, "{report:#}");
    for r in &recipients {
        assert_eq!((r["status"].as_str(), r["subStatus"].as_str()), (Some("OK"), Some("DELIVERED")), "{report:#}");
        assert_eq!(r["passwordMail"], "OK", "{report:#}");
    }

    // The original (one transaction, both recipients) and one password mail per recipient.
    let received = smtp.wait_for(3, FINISH).await;
    assert_eq!(received.len(), 3, "{:?}", received.iter().map(|m| &m.rcpt_to).collect::<Vec<_>>());
    for mail in &received {
        assert!(mail.tls, "mail {} arrived in clear text", mail.seq);
        assert_eq!(mail.authenticated_as.as_deref(), Some(USER), "mail {}", mail.seq);
    }
    let mut all: Vec<&String> = received.iter().flat_map(|m| &m.rcpt_to).collect();
    all.sort();
    assert_eq!(
        all,
        ["anna@recipient.example", "anna@recipient.example", "max@recipient.example", "max@recipient.example"]
    );

    let commands = smtp.commands();
    assert!(commands.iter().any(|c| verb(c) == "STARTTLS" && !c.tls), "{}", transcript(&commands));
    for c in &commands {
        let v = verb(c);
        if matches!(v.as_str(), "MAIL" | "RCPT" | "AUTH" | "DATA") {
            assert!(c.tls, "{v} outside TLS:\n{}", transcript(&commands));
        }
        // Before STARTTLS only the greeting exchange happens (AUTH continuation lines, which
        // carry the credentials, included).
        if !c.tls {
            assert!(
                matches!(v.as_str(), "EHLO" | "STARTTLS" | "QUIT"),
                "clear-text line {:?}:\n{}",
                c.line,
                transcript(&commands)
            );
        }
    }
    assert!(commands.iter().any(|c| verb(c) == "AUTH" && c.tls), "{}", transcript(&commands));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_sends_nothing_and_the_message_expires() {
    let relay_ca = TestCa::new();
    let smtp = SmtpServer::start(relay_config(&relay_ca)).await;
    // The server trusts another CA only.
    let other_ca = TestCa::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = other_ca.write_ca_file(dir.path());
    let server = Sealmail::start(&config(smtp.port(), &ca_file, 4)).await;

    let id = server.submit(&secure_job()).await;

    // While it lives, the message is deferred with the reason.
    let deadline = Instant::now() + FINISH;
    let deferred = loop {
        let report = server.status(&id).await;
        let recipients = report["recipients"].as_array().cloned().unwrap_or_default();
        let mentions_certificate =
            |r: &Value| r["lastReply"].as_str().is_some_and(|t| t.to_lowercase().contains("certificate"));
        if recipients.len() == 2
            && recipients
                .iter()
                .all(|r| r["status"] == "PENDING" && r["subStatus"] == "DEFERRED" && mentions_certificate(r))
        {
            break report;
        }
        assert!(
            report["state"] != "FINISHED",
            "the job finished without a deferral naming the certificate: {report:#}"
        );
        assert!(Instant::now() < deadline, "no deferral: {report:#}\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for r in deferred["recipients"].as_array().into_iter().flatten() {
        assert_eq!(r["passwordMail"], "PENDING", "{deferred:#}");
    }

    // After max_queue_lifetime_secs it expires: a soft bounce, and no password mail.
    let report = server.wait_finished(&id, FINISH).await;
    for r in report["recipients"].as_array().into_iter().flatten() {
        let email = r["email"].as_str().unwrap_or_default();
        assert_eq!((r["status"].as_str(), r["subStatus"].as_str()), (Some("ERROR"), Some("BOUNCED")), "{report:#}");
        assert_eq!(r["passwordMail"], "NOT_TRIGGERED", "{report:#}");
        assert!(r["lastReply"].as_str().is_some_and(|t| t.to_lowercase().contains("certificate")), "{report:#}");
        let ev = events(&report, email);
        assert!(ev.contains(&"DELIVER/INTERMEDIATE/DEFERRED/SOFT_BOUNCE".to_string()), "{email}: {ev:?}");
        assert_eq!(ev.iter().filter(|e| *e == "DELIVER/FINISHED/BOUNCED/SOFT_BOUNCE").count(), 1, "{email}: {ev:?}");
        assert_eq!(
            ev.iter().filter(|e| e.starts_with("TRIGGER/POST_DELIVERY/PASSWORD_MAIL/")).count(),
            1,
            "{email}: {ev:?}"
        );
        assert!(ev.contains(&"TRIGGER/POST_DELIVERY/PASSWORD_MAIL/NOT_TRIGGERED".to_string()), "{email}: {ev:?}");
        assert!(!ev.iter().any(|e| e == "DELIVER/FINISHED/DELIVERED/OK"), "{email}: {ev:?}");
    }

    assert!(smtp.received().is_empty(), "nothing may be accepted: {:?}", smtp.received());
    let commands = smtp.commands();
    // It did try (several times) and stopped at the handshake each time.
    let attempts = commands.iter().filter(|c| verb(c) == "STARTTLS").count();
    assert!(attempts >= 2, "expected retries:\n{}", transcript(&commands));
    for c in &commands {
        assert!(!c.tls, "no TLS session can have been established:\n{}", transcript(&commands));
        assert!(
            matches!(verb(c).as_str(), "EHLO" | "STARTTLS" | "QUIT"),
            "sent in clear text after a failed handshake: {:?}\n{}",
            c.line,
            transcript(&commands)
        );
        assert!(!c.line.contains(PASSWORD) && !c.line.contains(USER), "credentials on the wire: {:?}", c.line);
    }
}
