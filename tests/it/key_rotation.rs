//! Storage-key rotation: secure jobs held in the queue (relay down) survive a
//! change of `storage_key`. The server stops; the configuration gets a new `storage_key` with
//! the old one in `previous_storage_keys`; `sealmail rotate-key` re-seals every blob (request
//! bodies, callback setups, rendered messages, held passwords); the server serves with both
//! keys and takes a new job; then the old key is removed — a second rotation finds nothing
//! to do — and with only the new key every job finishes: the originals go out, the password
//! mails carry passwords that open the archives (pyzipper), and the callbacks arrive. Were a
//! single blob left under the old key, its job could not finish.
//!
//! On PostgreSQL (`SEALMAIL_TEST_DATABASE=postgres`), the key check follows the rotation: a
//! node with only the old key is refused afterwards.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use base64::Engine as _;
use rand::TryRngCore;
use sealmail_test_support::jobs::{secure_statement, unscanned_relay_with_callbacks};
use sealmail_test_support::receiver::Receiver;
use sealmail_test_support::secure_mail::{archive_of, password_of};
use sealmail_test_support::server::{TEST_STORAGE_KEY, binary};
use sealmail_test_support::{ReceivedMail, Sealmail, SmtpServer, SmtpServerConfig, pyzipper_extract};
use serde_json::{Value, json};

const DEADLINE: Duration = Duration::from_secs(60);
const HELD: [&str; 2] = ["first@recipient.example", "second@recipient.example"];
const DURING: &str = "during@recipient.example";

/// `sealmail rotate-key` with the server's configuration.
fn rotate(config: &Path) -> Output {
    Command::new(binary())
        .args(["rotate-key", "--config"])
        .arg(config)
        .env_remove("SEALMAIL_TEST_DATABASE")
        .env_remove("SEALMAIL_FAULT_PROFILE")
        .output()
        .expect("sealmail rotate-key runs")
}

/// The re-sealed count of rotate-key's last line (`done: N blobs read, M re-sealed`).
fn resealed(output: &Output) -> usize {
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "rotate-key failed:\n{stdout}{}", String::from_utf8_lossy(&output.stderr));
    let done = stdout.lines().find(|l| l.starts_with("done: ")).unwrap_or_else(|| panic!("no summary:\n{stdout}"));
    done.rsplit(", ").next().and_then(|s| s.split(' ').next()).and_then(|n| n.parse().ok()).expect(done)
}

/// The configuration with `storage_key = key` and `previous_storage_keys = previous` (top
/// level: right after the first line, before any table).
fn with_keys(config: &str, key: &str, previous: &[&str]) -> String {
    let mut lines: Vec<String> = config
        .lines()
        .filter(|l| !l.starts_with("storage_key =") && !l.starts_with("previous_storage_keys ="))
        .map(str::to_owned)
        .collect();
    let previous: Vec<String> = previous.iter().map(|k| format!("{k:?}")).collect();
    lines.insert(1, format!("previous_storage_keys = [{}]", previous.join(", ")));
    lines.insert(1, format!("storage_key = {key:?}"));
    lines.join("\n") + "\n"
}

fn job(i: usize, address: &str, receiver: &Receiver) -> Value {
    let mut job = secure_statement(&format!("Statement {i}"), &format!("statement-{i}"), &[address.to_owned()]);
    job["notification"] = json!({ "endPoint": { "url": receiver.url("/hook") } });
    job
}

async fn wait_deferred(server: &Sealmail, id: &str) {
    let started = std::time::Instant::now();
    loop {
        let status = server.status(id).await;
        if status.to_string().contains("DEFERRED") {
            return;
        }
        assert!(started.elapsed() < DEADLINE, "job {id} was never deferred: {status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn held_jobs_finish_after_a_key_rotation_and_the_old_key_is_no_longer_needed() {
    let mut smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let receiver = Receiver::start().await;
    let config = unscanned_relay_with_callbacks(smtp.port(), 10);
    let mut server = Sealmail::start(&config).await;
    let on_postgres = server.database().is_some();

    // Held under the old key: request, callback setup, original and password all sealed.
    smtp.stop().await;
    let mut ids = Vec::new();
    for (i, address) in HELD.iter().enumerate() {
        ids.push(server.submit(&job(i, address, &receiver)).await);
    }
    for id in &ids {
        wait_deferred(&server, id).await;
    }
    assert!(server.terminate().success());

    let old = if on_postgres {
        TEST_STORAGE_KEY.to_owned()
    } else {
        std::fs::read_to_string(server.data_dir().join("storage.key")).expect("the generated key").trim().to_owned()
    };
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("OS random");
    let new = base64::engine::general_purpose::STANDARD.encode(bytes);
    let original = std::fs::read_to_string(server.config_path()).expect("config");
    std::fs::write(server.config_path(), with_keys(&original, &new, &[&old])).expect("config");

    // Per held job: request, callbacks, original's content and held secret.
    let n = resealed(&rotate(&server.config_path()));
    assert!(n >= 4 * HELD.len(), "{n} blobs re-sealed");

    // Both keys: the server reads everything and seals new work under the new key.
    server.restart().await;
    let during = server.submit(&job(HELD.len(), DURING, &receiver)).await;
    wait_deferred(&server, &during).await;
    for id in &ids {
        assert_ne!(server.status(id).await["state"], "FINISHED", "{id} is still held");
    }
    assert!(server.terminate().success());
    ids.push(during);

    if on_postgres {
        // The key check moved to the new key: a node with only the old key is refused.
        std::fs::write(server.config_path(), with_keys(&original, &old, &[])).expect("config");
        let refused = rotate(&server.config_path());
        assert!(!refused.status.success(), "a node with only the old key is refused");
        assert!(String::from_utf8_lossy(&refused.stderr).contains("different storage_key"), "{refused:?}");
    }

    // Only the new key: nothing is left to re-seal, and every job finishes.
    std::fs::write(server.config_path(), with_keys(&original, &new, &[])).expect("config");
    assert_eq!(resealed(&rotate(&server.config_path())), 0, "everything is under the new key");
    smtp.restart().await;
    server.restart().await;
    let mut events = 0;
    for id in &ids {
        let status = server.wait_finished(id, DEADLINE).await;
        events += status["events"].as_array().map_or(0, Vec::len);
    }
    let mails = smtp.wait_for(2 * ids.len(), DEADLINE).await;
    for address in HELD.iter().chain([&DURING]) {
        let mine: Vec<&ReceivedMail> =
            mails.iter().filter(|m| m.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(address))).collect();
        let archive = mine.iter().find_map(|m| archive_of(&m.data)).expect("the original with its archive");
        let password = mine.iter().find_map(|m| password_of(&m.data)).expect("the password mail");
        assert_eq!(pyzipper_extract(&archive, &password).len(), 1, "{address}: the password opens the archive");
    }
    receiver
        .wait_for(
            |requests| {
                requests.iter().filter(|r| r.accepted()).map(|r| r.notifications().len()).sum::<usize>() >= events
            },
            DEADLINE,
        )
        .await;
}
