//! Secrets stay secret: a full run of secure jobs with the server logging at
//! `trace`, callbacks with Basic credentials and a relay that is down at first (so the
//! passwords are held), then up. The archive passwords (learnt from the password mails, and
//! proven by opening the archives with pyzipper), the callback password and the account's API
//! secret must appear in none of: the files of the data directory (`sealmail.db`, `-wal`,
//! `-shm`, keys, …) while the jobs are held and after they are resolved, the server's stdout
//! and stderr, the callback bodies and the status API's answers — in clear, base64 (every
//! alignment), quoted-printable, hex or UTF-16. The password mail in the SMTP sink is the one place the
//! archive password may be; the test finds it there (and a planted needle in a buffer), so
//! its search can fail. After resolution the held secrets are erased (`held_secret` NULL).
//!
//! On PostgreSQL (`SEALMAIL_TEST_DATABASE=postgres`) the database's files are the server's,
//! not in reach: the data directory, logs, callbacks and status answers are still searched.

use std::path::Path;
use std::time::Duration;

use base64::Engine as _;
use sealmail_test_support::jobs::{secure_statement, unscanned_relay_with_callbacks};
use sealmail_test_support::receiver::Receiver;
use sealmail_test_support::secure_mail::{archive_of, password_of};
use sealmail_test_support::{ACCOUNT, ReceivedMail, Sealmail, SmtpServer, SmtpServerConfig, python, pyzipper_extract};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);
/// The callback endpoint's Basic password: caller-given, kept sealed with the job.
const CALLBACK_PASSWORD: &str = "cb-Pa55word-7Qx9Zr4Kw2";

/// `(recipient, password type)` of the secure jobs.
const JOBS: [(&str, &str); 3] = [
    ("medium@recipient.example", "medium"),
    ("default@recipient.example", "very_high"),
    ("maximum@recipient.example", "maximum"),
];

/// Every form in which `secret` could leak, named: clear, base64 and base64url at the three
/// alignments (the encoding of a secret inside a longer text depends on its offset modulo 3:
/// each form keeps only the characters that depend on the secret alone), quoted-printable,
/// hex and UTF-16.
fn forms(secret: &str) -> Vec<(String, Vec<u8>)> {
    let bytes = secret.as_bytes();
    let mut out = vec![("clear".to_owned(), bytes.to_vec())];
    for (name, engine) in [
        ("base64", &base64::engine::general_purpose::STANDARD),
        ("base64url", &base64::engine::general_purpose::URL_SAFE),
    ] {
        for offset in 0..3 {
            let mut text = vec![0u8; offset];
            text.extend_from_slice(bytes);
            let encoded = engine.encode(&text);
            let start = if offset == 0 { 0 } else { 4 };
            let end = 4 * (text.len() / 3);
            out.push((format!("{name}@{offset}"), encoded.as_bytes()[start..end].to_vec()));
        }
    }
    let qp: String = bytes
        .iter()
        .map(|&b| if b.is_ascii_graphic() && b != b'=' { (b as char).to_string() } else { format!("={b:02X}") })
        .collect();
    out.push(("quoted-printable".into(), qp.into_bytes()));
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    out.push(("hex".into(), hex.clone().into_bytes()));
    out.push(("HEX".into(), hex.to_uppercase().into_bytes()));
    out.push(("utf-16le".into(), bytes.iter().flat_map(|&b| [b, 0]).collect()));
    out.push(("utf-16be".into(), bytes.iter().flat_map(|&b| [0, b]).collect()));
    out
}

/// The forms of `secrets` found in `haystack`, as `"<secret> as <form>"`.
fn leaks(haystack: &[u8], secrets: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for secret in secrets {
        for (form, needle) in forms(secret) {
            if haystack.windows(needle.len()).any(|w| w == needle.as_slice()) {
                found.push(format!("{secret} as {form}"));
            }
        }
    }
    found
}

/// Every file under `dir`, with its contents (none when it does not exist: on PostgreSQL
/// the server may write nothing there).
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return out };
    for entry in entries {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            out.extend(files(&path));
        } else if let Ok(data) = std::fs::read(&path) {
            out.push((path.display().to_string(), data));
        }
    }
    out
}

/// A named copy of everything the secrets must not be in, at one moment.
fn snapshot(server: &Sealmail, receiver: &Receiver, statuses: &[Value]) -> Vec<(String, Vec<u8>)> {
    let mut out = files(&server.data_dir());
    out.push(("server logs".into(), server.logs().into_bytes()));
    for (i, request) in receiver.requests().iter().enumerate() {
        out.push((format!("callback body {i}"), request.body.clone()));
    }
    for (i, status) in statuses.iter().enumerate() {
        out.push((format!("status answer {i}"), status.to_string().into_bytes()));
    }
    out
}

fn to(mail: &ReceivedMail, address: &str) -> bool {
    mail.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(address))
}

#[tokio::test]
async fn passwords_appear_only_in_the_password_mails() {
    let mut smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let receiver = Receiver::start().await;
    let config = unscanned_relay_with_callbacks(smtp.port(), 5);
    let server = Sealmail::start(&config).await;

    // Held: the relay is down, so every original is deferred with its password held.
    smtp.stop().await;
    let mut ids = Vec::new();
    for (i, (address, strength)) in JOBS.iter().enumerate() {
        let mut job = secure_statement(&format!("Statement {i}"), &format!("statement-{i}"), &[address.to_string()]);
        job["job"]["features"]["secureDocument"]["password"] = json!({ "type": strength });
        job["notification"] = json!({ "endPoint": {
            "url": receiver.url("/hook"),
            "authentication": { "method": "BASIC", "user": "hook", "password": CALLBACK_PASSWORD },
        } });
        ids.push(server.submit(&job).await);
    }
    let started = std::time::Instant::now();
    let mut statuses = Vec::new();
    for id in &ids {
        loop {
            let status = server.status(id).await;
            if status.to_string().contains("DEFERRED") {
                statuses.push(status);
                break;
            }
            assert!(started.elapsed() < DEADLINE, "job {id} was never deferred: {status}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let held = snapshot(&server, &receiver, &statuses);
    assert!(server.logs().contains("TRACE"), "the server logs at trace level");
    if server.database().is_none() {
        let held_secrets =
            sqlite_count(&server.data_dir(), "SELECT count(*) FROM messages WHERE held_secret IS NOT NULL");
        assert_eq!(held_secrets, JOBS.len() as i64, "each deferred original holds its password");
    }

    // Resolved: the relay is back; originals, then password mails, go out.
    smtp.restart().await;
    let mut events = 0;
    for id in &ids {
        let status = server.wait_finished(id, DEADLINE).await;
        events += status["events"].as_array().map_or(0, Vec::len);
        statuses.push(status);
    }
    let mails = smtp.wait_for(2 * JOBS.len(), DEADLINE).await;
    receiver
        .wait_for(
            |requests| {
                requests.iter().filter(|r| r.accepted()).map(|r| r.notifications().len()).sum::<usize>() >= events
            },
            DEADLINE,
        )
        .await;

    // The passwords, each proven by opening its archive.
    let mut passwords = Vec::new();
    for (address, strength) in JOBS {
        let mine: Vec<&ReceivedMail> = mails.iter().filter(|m| to(m, address)).collect();
        let archive = mine.iter().find_map(|m| archive_of(&m.data)).expect("the original with its archive");
        let (mail, password) = mine
            .iter()
            .find_map(|m| password_of(&m.data).map(|p| (m, p)))
            .unwrap_or_else(|| panic!("no password mail to {address}"));
        let length = match strength {
            "medium" => 8,
            "very_high" => 15,
            _ => 20,
        };
        assert_eq!(password.len(), length, "{strength}: {password:?}");
        let entries = pyzipper_extract(&archive, &password);
        assert_eq!(entries.len(), 1, "the password opens the archive");
        // Positive control: the search finds the password where it belongs.
        assert!(!leaks(&mail.data, std::slice::from_ref(&password)).is_empty(), "the search misses the password mail");
        passwords.push(password);
    }
    let planted = format!("xx{}", base64::engine::general_purpose::STANDARD.encode(format!("ab{}cd", passwords[0])));
    assert!(!leaks(planted.as_bytes(), &passwords[..1]).is_empty(), "the search misses a planted needle");
    assert!(
        receiver.requests().iter().any(|r| r.header("authorization").is_some()),
        "the callbacks carried the Basic credentials"
    );

    let mut secrets = passwords.clone();
    secrets.push(CALLBACK_PASSWORD.to_owned());
    // The API secret the test submits with (HTTP Basic): not logged either.
    secrets.push(ACCOUNT.1.to_owned());
    let after = snapshot(&server, &receiver, &statuses);
    let mut found = Vec::new();
    for (phase, items) in [("held", &held), ("resolved", &after)] {
        for (name, data) in items.iter() {
            for leak in leaks(data, &secrets) {
                found.push(format!("{phase}: {name}: {leak}"));
            }
        }
    }
    assert!(found.is_empty(), "secrets leaked:\n{}", found.join("\n"));
    assert!(after.iter().any(|(n, _)| n.ends_with("sealmail.db")) || server.database().is_some());

    if server.database().is_none() {
        let held_secrets =
            sqlite_count(&server.data_dir(), "SELECT count(*) FROM messages WHERE held_secret IS NOT NULL");
        assert_eq!(held_secrets, 0, "resolved secrets are erased");
        let blobs = sqlite_count(
            &server.data_dir(),
            "SELECT count(*) FROM messages WHERE content IS NOT NULL UNION ALL SELECT count(*) FROM jobs WHERE request \
             IS NOT NULL",
        );
        assert_eq!(blobs, 0, "finished jobs keep no request or message");
    }
}

/// The sum of the counts `sql` returns, from the SQLite store in `data_dir` (read with
/// Python's sqlite3 beside the running server; WAL lets it).
fn sqlite_count(data_dir: &Path, sql: &str) -> i64 {
    let script = "import sqlite3, sys\n\
                  c = sqlite3.connect(sys.argv[1])\n\
                  print(sum(r[0] for r in c.execute(sys.argv[2])))\n";
    let db = data_dir.join("sealmail.db");
    let out = python(script, &[db.as_os_str(), std::ffi::OsStr::new(sql)], b"").expect("python sqlite3");
    out.trim().parse().unwrap_or_else(|_| panic!("not a count: {out}"))
}
