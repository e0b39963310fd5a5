//! Bounces after delivery from outside (docs/service.md#bounces-after-delivery): the real `sealmail` binary
//! with `[bounces]` relays through a real SMTP server that accepts everything, as a relay
//! does; then a DSN (a real one of Postfix 3.7, captured, with this test's addresses) comes
//! back to the VERP address.
//!
//! What is proven: every message (original and password mail) leaves with its own envelope
//! sender `bounce+<Message-ID local part>@<verp_domain>`; the DSN listener refuses other
//! addresses with 550; a DSN for one recipient turns it from DELIVERED into
//! `ERROR/BOUNCED` with `DELIVER/FINISHED/BOUNCED/HARD_BOUNCE` after its
//! `DELIVER/FINISHED/DELIVERED/OK`, lists the address on the suppression list and leaves
//! the other recipient delivered; a DSN sent twice is recorded once; the pipe command
//! `sealmail bounce` records the same way and answers with sysexits codes.

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::Method;
use sealmail_test_support::jobs::{plain_relay, secure_statement};
use sealmail_test_support::report::{events_of, recipient};
use sealmail_test_support::{ACCOUNT, ReceivedMail, Sealmail, SmtpServer, SmtpServerConfig, free_port};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Long enough for a debug build on a busy 2-core machine.
const DEADLINE: Duration = Duration::from_secs(60);
const VERP_DOMAIN: &str = "bounces.sealmail.test";
const TO_OK: &str = "max@recipient.example";
/// Accepted by the relay, bounced later by "the recipient's MX".
const TO_GONE: &str = "gone@recipient.example";

const DELIVERED: &str = "DELIVER/FINISHED/DELIVERED/OK";
const HARD_BOUNCE: &str = "DELIVER/FINISHED/BOUNCED/HARD_BOUNCE";

/// A recipient's `(status, subStatus)`.
fn state_of(status: &Value, email: &str) -> (String, String) {
    let r = recipient(status, email);
    (r["status"].as_str().unwrap_or("").to_owned(), r["subStatus"].as_str().unwrap_or("").to_owned())
}

/// The `Message-ID` of a received message, without angle brackets.
fn message_id(mail: &ReceivedMail) -> String {
    mail.header("Message-ID").expect("Message-ID").trim_start_matches('<').trim_end_matches('>').to_owned()
}

/// A real Postfix 3.7 bounce (captured; host/bounces/src/testdata): the relay accepted the
/// message, then the next hop refused the recipient with 550 5.1.1.
const POSTFIX_DSN: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../host/bounces/src/testdata/postfix-3.7.eml"));

/// [`POSTFIX_DSN`] as Postfix would have written it for the message `message_id` sent with
/// envelope sender `verp` and refused for `recipient`.
fn postfix_dsn(verp: &str, recipient: &str, message_id: &str) -> String {
    POSTFIX_DSN
        .replace("bounce+0123456789abcdef0123456789abcdef@bounces.example.com", verp)
        .replace("0123456789abcdef0123456789abcdef@sealmail.example", message_id)
        .replace("gone@recipient.example", recipient)
}

/// A minimal SMTP client: one command, one (possibly multi-line) reply.
struct SmtpClient {
    io: BufReader<TcpStream>,
}

impl SmtpClient {
    async fn connect(port: u16) -> (Self, String) {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.expect("connect to the DSN listener");
        let mut client = Self { io: BufReader::new(stream) };
        let greeting = client.reply().await;
        (client, greeting)
    }

    async fn reply(&mut self) -> String {
        let mut all = String::new();
        loop {
            let mut line = String::new();
            let n = tokio::time::timeout(DEADLINE, self.io.read_line(&mut line)).await.expect("reply in time").unwrap();
            assert!(n > 0, "connection closed after {all:?}");
            all.push_str(&line);
            if line.as_bytes().get(3) != Some(&b'-') {
                return all;
            }
        }
    }

    async fn send(&mut self, line: &str) -> String {
        self.io.get_mut().write_all(format!("{line}\r\n").as_bytes()).await.unwrap();
        self.reply().await
    }

    /// MAIL, RCPT to `to`, DATA with `message` dot-stuffed; the reply to the end of data.
    async fn deliver(&mut self, to: &str, message: &str) -> String {
        assert!(self.send("MAIL FROM:<>").await.starts_with("250"));
        let rcpt = self.send(&format!("RCPT TO:<{to}>")).await;
        assert!(rcpt.starts_with("250"), "{rcpt}");
        assert!(self.send("DATA").await.starts_with("354"));
        let stuffed: String = message
            .split_inclusive('\n')
            .map(|l| if l.starts_with('.') { format!(".{l}") } else { l.to_owned() })
            .collect();
        self.send(&format!("{stuffed}.")).await
    }
}

/// Runs `sealmail bounce --config CONFIG` with `message` on stdin; exit code and output.
fn pipe(server: &Sealmail, message: &str) -> (i32, String) {
    let mut child = Command::new(sealmail_test_support::server::binary())
        .args(["bounce", "--config"])
        .arg(server.config_path())
        .env_remove("SEALMAIL_TEST_DATABASE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sealmail bounce runs");
    child.stdin.take().unwrap().write_all(message.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

/// Polls the job's report until `done` holds.
async fn wait_until(server: &Sealmail, id: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let status = server.status(id).await;
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "{what}: {status:#}\n{}", server.logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_dsn_after_delivery_becomes_a_hard_bounce_and_suppresses_the_address() {
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let dsn_port = free_port();
    let config = format!(
        "{}[antivirus]\nallow_insecure_no_antivirus = true\n\n[bounces]\nverp_domain = \"{VERP_DOMAIN}\"\nlisten = \
         \"127.0.0.1:{dsn_port}\"\n",
        plain_relay(smtp.port(), 10)
    );
    let server = Sealmail::start(&config).await;
    assert!(server.logs().contains(&format!("DSNs received on smtp://127.0.0.1:{dsn_port}")), "{}", server.logs());

    let job = server
        .submit(&secure_statement("Late bounce statement", "statement", &[TO_OK.to_owned(), TO_GONE.to_owned()]))
        .await;
    let status = server.wait_finished(&job, DEADLINE).await;
    for to in [TO_OK, TO_GONE] {
        assert_eq!(state_of(&status, to), ("OK".into(), "DELIVERED".into()), "{status:#}");
    }

    // 1. Every message, originals and password mails, left with its own VERP sender.
    let received = smtp.received();
    assert!(received.len() >= 3, "an original and two password mails: {received:#?}");
    for mail in &received {
        let token = message_id(mail).split('@').next().unwrap().to_owned();
        assert_eq!(mail.mail_from, format!("bounce+{token}@{VERP_DOMAIN}"), "{mail:#?}");
    }
    let original = received
        .iter()
        .find(|m| {
            m.rcpt_to.iter().any(|r| r == TO_GONE) && m.header("Subject").as_deref() == Some("Late bounce statement")
        })
        .expect("the original to TO_GONE");
    let verp = original.mail_from.clone();
    let dsn = postfix_dsn(&verp, TO_GONE, &message_id(original));

    // 2. The listener takes only VERP addresses of its domain.
    let (mut client, greeting) = SmtpClient::connect(dsn_port).await;
    assert!(greeting.starts_with("220 "), "{greeting}");
    assert!(client.send("EHLO relay.example.net").await.starts_with("250"));
    assert!(client.send("MAIL FROM:<>").await.starts_with("250"));
    for other in [format!("postmaster@{VERP_DOMAIN}"), TO_OK.to_owned(), verp.replace(VERP_DOMAIN, "elsewhere.test")] {
        let reply = client.send(&format!("RCPT TO:<{other}>")).await;
        assert!(reply.starts_with("550 5.1.1"), "{other}: {reply}");
    }
    assert!(client.send("RSET").await.starts_with("250"));

    // 3. The DSN turns the delivered recipient into a hard bounce, after its DELIVERED.
    let reply = client.deliver(&verp, &dsn).await;
    assert!(reply.starts_with("250"), "{reply}");
    let status = wait_until(&server, &job, "the late bounce", |s| state_of(s, TO_GONE).1 == "BOUNCED").await;
    assert_eq!(state_of(&status, TO_GONE), ("ERROR".into(), "BOUNCED".into()));
    let events = events_of(&status, TO_GONE);
    let delivered = events.iter().position(|e| e == DELIVERED).unwrap_or_else(|| panic!("{events:?}"));
    let bounced = events.iter().position(|e| e == HARD_BOUNCE).unwrap_or_else(|| panic!("{events:?}"));
    assert!(delivered < bounced, "{events:?}");
    assert_eq!(state_of(&status, TO_OK), ("OK".into(), "DELIVERED".into()), "{status:#}");
    assert!(!events_of(&status, TO_OK).contains(&HARD_BOUNCE.to_owned()), "{status:#}");
    let description = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["subType"] == "HARD_BOUNCE")
        .and_then(|e| e["description"].as_str())
        .unwrap_or_default()
        .to_owned();
    assert!(description.contains("550 5.1.1") && description.contains("relay.example.net"), "{description}");

    // 4. The address is on the account's suppression list.
    let (code, _, list) = server.call(Method::GET, "/rest/v1/suppressions", ACCOUNT).await;
    assert_eq!(code, 200, "{list}");
    let entries = list["suppressions"].as_array().expect("suppressions");
    assert_eq!(entries.len(), 1, "{list}");
    assert_eq!((entries[0]["email"].as_str(), entries[0]["reason"].as_str()), (Some(TO_GONE), Some("HARD_BOUNCE")));
    assert_eq!(entries[0]["jobId"], job.as_str());

    // 5. The same DSN again (an MTA retrying), in another session and from lettre, an SMTP
    //    client we did not write, with the null sender: accepted and recorded once.
    assert!(client.send("QUIT").await.starts_with("221"));
    let lettre =
        lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1").port(dsn_port).build();
    let envelope = lettre::address::Envelope::new(None, vec![verp.parse().expect("a VERP address")]).unwrap();
    let response = lettre::AsyncTransport::send_raw(&lettre, &envelope, dsn.as_bytes()).await.expect("lettre sends");
    assert_eq!(response.code().to_string(), "250", "{response:?}");
    let status = server.status(&job).await;
    assert_eq!(events_of(&status, TO_GONE).iter().filter(|e| *e == HARD_BOUNCE).count(), 1, "{status:#}");

    // 6. The pipe command: the same DSN is recognised as recorded, a non-DSN is EX_DATAERR, a
    //    non-VERP recipient EX_NOUSER, and a DSN for the other recipient is recorded.
    let (code, output) = pipe(&server, &dsn);
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("NotDelivered"), "{output}");
    let (code, output) = pipe(&server, &format!("To: {verp}\r\nSubject: Out of office\r\n\r\nBack Monday.\r\n"));
    assert_eq!(code, 65, "{output}");
    let (code, output) = pipe(&server, &dsn.replace(&verp, "someone@else.example"));
    assert_eq!(code, 67, "{output}");
    let (code, output) = pipe(&server, &postfix_dsn(&verp, TO_OK, &message_id(original)));
    assert_eq!(code, 0, "{output}");
    assert!(output.contains("Recorded"), "{output}");
    let status = wait_until(&server, &job, "the piped bounce", |s| state_of(s, TO_OK).1 == "BOUNCED").await;
    assert_eq!(events_of(&status, TO_GONE).iter().filter(|e| *e == HARD_BOUNCE).count(), 1, "{status:#}");
    assert_eq!(events_of(&status, TO_OK).iter().filter(|e| *e == HARD_BOUNCE).count(), 1, "{status:#}");
}
