//! Upgrades: jobs accepted by the previous release finish after an upgrade.
//!
//! The fixture `tests/fixtures/upgrade/previous-release/` is a data directory (SQLite schema 2,
//! storage key) written by the release before the multi-node store (commit a4d1338) with three jobs caught
//! in flight, made by [`make_fixture`] (ignored; see its doc for the command):
//! - **waiting**: a secure job whose start waits for an unreachable virus scanner (queued,
//!   never started: the new guest renders and seals it);
//! - **deferred**: a secure job whose original was refused with 451 (a queued message with a
//!   held secret written by the previous guest);
//! - **password-pending**: a secure job whose original was delivered and whose password mail
//!   was refused with 451 (the archive went out from the previous release; its password must
//!   come from the previous guest's held secret).
//!
//! The current binary migrates the database (schema 2 → current) and finishes all three. The
//! proof that the previous guest's held secrets still work: every password mail's password
//! opens the archive of its original with pyzipper, including the original the previous
//! release delivered (kept in the fixture). Stored state carries versions: the schema
//! (`PRAGMA user_version`) and the held secret's `v`, which a guest accepts up to its own.

use std::path::PathBuf;
use std::time::Duration;

use mail_parser::MessageParser;
use sealmail_test_support::jobs::{STATEMENT_PDF, plain_relay, secure_statement};
use sealmail_test_support::secure_mail::archive_of;
use sealmail_test_support::{RcptRule, ReceivedMail, Sealmail, SmtpServer, SmtpServerConfig, pyzipper_extract};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);
const WAITING: &str = "waiting@recipient.example";
const DEFERRED: &str = "deferred@recipient.example";
const PASSWORD_PENDING: &str = "pwlater@recipient.example";

fn fixture() -> PathBuf {
    sealmail_test_support::repo_root().join("tests/fixtures/upgrade/previous-release")
}

fn password_of(data: &[u8]) -> Option<String> {
    let message = MessageParser::default().parse(data)?;
    let text = message.body_text(0)?;
    text.lines().find(|l| l.len() == 15 && l.chars().all(|c| c.is_ascii_alphanumeric())).map(str::to_owned)
}

fn to(mail: &ReceivedMail, address: &str) -> bool {
    mail.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(address))
}

fn password_events(status: &Value, email: &str) -> Vec<String> {
    status["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["email"] == email && e["type"] == "PASSWORD_MAIL")
        .map(|e| e["subType"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn jobs_accepted_by_the_previous_release_finish_after_the_upgrade() {
    let jobs: Value = serde_json::from_slice(&std::fs::read(fixture().join("jobs.json")).expect("jobs.json")).unwrap();
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    // Fresh retries; a lifetime long enough that the fixture's old jobs do not expire.
    let config = format!(
        "{}[antivirus]\nallow_insecure_no_antivirus = true\n\n[queue]\nretry_delays_secs = [1]\npoll_ms = 50\n\
         max_queue_lifetime_secs = 3153600000\n",
        plain_relay(smtp.port(), 10)
    );
    let server = Sealmail::start_seeded(&config, &fixture().join("data")).await;

    for (name, email) in [("waiting", WAITING), ("deferred", DEFERRED), ("password-pending", PASSWORD_PENDING)] {
        let id = jobs[name].as_str().expect("job id");
        let status = server.wait_finished(id, DEADLINE).await;
        let recipient = &status["recipients"][0];
        assert_eq!(
            (recipient["status"].as_str(), recipient["passwordMail"].as_str()),
            (Some("OK"), Some("OK")),
            "{name}: {status}"
        );
        assert_eq!(password_events(&status, email), ["OK"], "{name}: exactly one PASSWORD_MAIL event: {status}");
    }

    let received = smtp.received();
    let previous_original = std::fs::read(fixture().join("password-pending-original.eml")).expect("the old original");
    for email in [WAITING, DEFERRED, PASSWORD_PENDING] {
        let mails: Vec<&ReceivedMail> = received.iter().filter(|m| to(m, email)).collect();
        let archive = match email {
            PASSWORD_PENDING => archive_of(&previous_original),
            _ => mails.iter().find_map(|m| archive_of(&m.data)),
        }
        .unwrap_or_else(|| panic!("no original with an archive for {email}"));
        let password =
            mails.iter().find_map(|m| password_of(&m.data)).unwrap_or_else(|| panic!("no password mail to {email}"));
        let files = pyzipper_extract(&archive, &password);
        assert_eq!(files.len(), 1, "{email}");
        assert_eq!(files[0].0, "statement.pdf");
        use base64::Engine as _;
        assert_eq!(files[0].1, base64::engine::general_purpose::STANDARD.decode(STATEMENT_PDF).unwrap(), "{email}");
    }
    let originals_to_pending =
        received.iter().filter(|m| to(m, PASSWORD_PENDING) && archive_of(&m.data).is_some()).count();
    assert_eq!(originals_to_pending, 0, "the delivered original is not sent again");
}

/// Writes the fixture with the previous release's binary:
///
/// ```text
/// git archive a4d1338 | tar -x -C /tmp/prev   # and build it: cargo xtask build-guest, cargo build -p sealmail
/// SEALMAIL_BIN=/tmp/prev-target/debug/sealmail cargo test -p sealmail-tests --test it -- --ignored upgrade::make_fixture
/// ```
#[tokio::test]
#[ignore = "writes tests/fixtures/upgrade with the previous release's binary ($SEALMAIL_BIN)"]
async fn make_fixture() {
    assert!(std::env::var_os("SEALMAIL_BIN").is_some(), "set SEALMAIL_BIN to the previous release's binary");
    let smtp = SmtpServer::start(SmtpServerConfig {
        rcpt_rules: vec![
            RcptRule::permanent(DEFERRED, "451 4.3.0 try again later"),
            // The original is accepted, its password mail deferred.
            RcptRule {
                address: PASSWORD_PENDING.into(),
                replies: vec!["250 2.1.5 Ok".into(), "451 4.3.0 later".into()],
                repeat_last: true,
            },
        ],
        ..Default::default()
    })
    .await;
    let relay = plain_relay(smtp.port(), 10);
    // Retries far enough out not to happen while the fixture is made, near enough to be due
    // whenever the upgrade test runs.
    let queue = "[queue]\nretry_delays_secs = [30]\npoll_ms = 50\n";
    let mut server = Sealmail::start(&format!("{relay}[antivirus]\nallow_insecure_no_antivirus = true\n{queue}")).await;
    let deferred = server.submit(&secure_statement("Deferred", "deferred", &[DEFERRED.to_owned()])).await;
    let pending = server.submit(&secure_statement("Pending", "pending", &[PASSWORD_PENDING.to_owned()])).await;
    // The password mail's 451 makes no event (a deferred password mail is retried quietly):
    // watch the relay for its second RCPT instead.
    let rcpts = |address: &str| {
        let wanted = format!("rcpt to:<{address}>");
        smtp.commands().iter().filter(|c| c.line.to_lowercase().starts_with(&wanted)).count()
    };
    let delivered_original = loop {
        let deferred_status = server.status(&deferred).await;
        if rcpts(PASSWORD_PENDING) >= 2 && deferred_status["recipients"][0]["subStatus"] == "DEFERRED" {
            break smtp.received().into_iter().find(|m| to(m, PASSWORD_PENDING)).expect("the original");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(server.terminate().success());

    // Phase 2, same data: a scanner that answers PING (so the server is ready) but fails every
    // scan keeps a new secure job waiting.
    let scanner = failing_scanner().await;
    let data = server.data_dir();
    let config = format!("{relay}[antivirus]\nscanners = [\"tcp://127.0.0.1:{scanner}\"]\n{queue}");
    let mut second = Sealmail::start_seeded(&config, &data).await;
    let waiting = second.submit(&secure_statement("Waiting", "waiting", &[WAITING.to_owned()])).await;
    loop {
        let status = second.status(&waiting).await;
        if status["state"] == "QUEUED" && second.logs().contains("job waits") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(second.terminate().success());

    let out = fixture();
    std::fs::create_dir_all(out.join("data")).unwrap();
    for file in ["sealmail.db", "storage.key"] {
        std::fs::copy(second.data_dir().join(file), out.join("data").join(file)).unwrap();
    }
    assert!(
        !second.data_dir().join("sealmail.db-wal").exists()
            || std::fs::metadata(second.data_dir().join("sealmail.db-wal")).unwrap().len() == 0,
        "a clean shutdown checkpoints the WAL"
    );
    std::fs::write(out.join("password-pending-original.eml"), &delivered_original.data).unwrap();
    let jobs = json!({ "waiting": waiting, "deferred": deferred, "password-pending": pending, "made-by": "a4d1338" });
    std::fs::write(out.join("jobs.json"), serde_json::to_vec_pretty(&jobs).unwrap()).unwrap();
}

/// A clamd stand-in on a free port: `zPING` gets `PONG`, anything else a closed connection
/// (a scan that cannot be done, so the job waits for a scanner).
async fn failing_scanner() -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("bound").port();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut command = [0u8; 6];
                if stream.read_exact(&mut command).await.is_ok() && &command == b"zPING\0" {
                    let _ = stream.write_all(b"PONG\0").await;
                }
            });
        }
    });
    port
}
