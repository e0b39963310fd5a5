//! The whole pipeline from outside, as a customer and a mail server see it: the real
//! `sealmail` binary takes JobRequests over HTTP, scans with real `clamd` daemons and
//! delivers to the scriptable SMTP server of the harness; the tests read what arrived with a
//! MIME parser we did not write (`mail-parser`), decrypt the archive with pyzipper, and check
//! the status report, the logs and every file the server wrote.
//!
//! What is proven (docs/secure-documents.md): originals first, then one password mail per
//! accepted recipient and to that recipient only; nothing for a bounced recipient; a deferred
//! recipient waits for its retry; an infected attachment (any scanner of several) drops the
//! whole job; an unreachable scanner holds it; no scanner at all refuses antivirus jobs; and
//! the password never shows up in logs, the API or the data directory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use mail_parser::{Message, MessageParser, MimeHeaders};
use sealmail_test_support::{
    ACCOUNT, Clamd, EICAR, RcptRule, ReceivedMail, Sealmail, Signatures, SmtpServer, SmtpServerConfig, pyzipper_extract,
};
use serde_json::{Value, json};

/// Long enough for a debug build on a busy 2-core machine; a passing run needs seconds.
const DEADLINE: Duration = Duration::from_secs(90);

const SENDER: &str = "billing@sender.example";
/// `To`, accepted at once.
const TO_OK: &str = "max@recipient.example";
/// `To`, refused with 550 at every RCPT.
const TO_BOUNCED: &str = "gone@recipient.example";
/// `Cc`, refused with 451 once, accepted on the retry.
const CC_DEFERRED: &str = "later@recipient.example";
/// `Bcc`, accepted at once; must never appear in the original's header.
const BCC_OK: &str = "hidden@recipient.example";

/// Non-ASCII, so it travels as RFC 2047 encoded words and must round-trip.
const SUBJECT: &str = "Ihre Unterlagen für März – Übersicht ✓";
const SUBJECT_PREFIX: &str = "Passwort für: ";
const ARCHIVE_STEM: &str = "Unterlagen";
const HTML: &str = "<html><body><p>Grüße aus der Buchhaltung.</p></body></html>";
const TEXT: &str = "Grüße aus der Buchhaltung.";
const UNFLAGGED_NAME: &str = "preisliste.pdf";
const FLAGGED_NAME: &str = "Kontoauszug Müller März.txt";
/// Ignored on a flagged attachment (docs/secure-documents.md#flagging-attachments): must not reach any part.
const FLAGGED_CONTENT_ID: &str = "kontoauszug-7731@sender.example";
/// A string only the flagged file holds: if it shows up decoded in any MIME part, the file
/// travelled in the clear.
const FLAGGED_MARKER: &str = "SEALMAIL-FLAGGED-MARKER-93f1c2";
/// `very_high` (docs/secure-documents.md#password-types).
const PASSWORD_LEN: usize = 15;

/// The flagged file: compressible text, so the archive deflates it.
fn flagged_bytes() -> Vec<u8> {
    let mut text = format!("{FLAGGED_MARKER}\nKontoauszug für Max Müller\n");
    for i in 0..200 {
        text.push_str(&format!("Buchung {i:03}: Überweisung 1.234,{:02} €\n", i % 100));
    }
    text.into_bytes()
}

/// The unflagged attachment: every byte value, so any transfer-encoding slip shows.
fn unflagged_bytes() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    bytes.extend((0..=255u8).cycle().take(3000));
    bytes
}

/// A secure job with one block: two `to` (one bounces), one `cc` (deferred once), one `bcc`.
fn secure_job(flagged: &[u8]) -> Value {
    json!({
        "job": {
            "features": {
                "antivirus": { "active": true },
                "secureDocument": {
                    "active": true,
                    "filename": ARCHIVE_STEM,
                    "subjectPrefix": SUBJECT_PREFIX,
                    "password": { "type": "very_high" }
                }
            }
        },
        "mail": { "from": { "email": format!("Abrechnung Müller <{SENDER}>") } },
        "subject": { "content": SUBJECT },
        "body": { "contentType": "text/html", "content": HTML },
        "alternative": { "content": TEXT },
        "attachments": [
            {
                "name": UNFLAGGED_NAME,
                "contentType": "application/pdf",
                "content": STANDARD.encode(unflagged_bytes())
            },
            {
                "name": FLAGGED_NAME,
                "contentType": "text/plain",
                "contentId": FLAGGED_CONTENT_ID,
                "content": STANDARD.encode(flagged),
                "secureDocument": true
            }
        ],
        "recipients": [{
            "mail": {
                "to": [{ "email": format!("Max Müller <{TO_OK}>") }, { "email": TO_BOUNCED }],
                "cc": [{ "email": format!("Später <{CC_DEFERRED}>") }],
                "bcc": [{ "email": BCC_OK }]
            },
            "reference": "block-ref-1"
        }]
    })
}

/// Every recipient of [`secure_job`], in envelope order.
const ALL_RECIPIENTS: [&str; 4] = [TO_OK, TO_BOUNCED, CC_DEFERRED, BCC_OK];

/// `[transport]` to the test SMTP server in clear text and `[antivirus]` with `scanners`.
fn config(smtp: &SmtpServer, scanners: &[String]) -> String {
    let scanners: Vec<String> = scanners.iter().map(|s| format!("{s:?}")).collect();
    format!(
        "[transport]\nkind = \"smtp\"\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\nallow_insecure_smtp = true\n\n\
         [antivirus]\nscanners = [{}]\n",
        smtp.port(),
        scanners.join(", ")
    )
}

// ---------------------------------------------------------------------------------------
// Reading the status report.

fn recipient<'a>(report: &'a Value, email: &str) -> &'a Value {
    report["recipients"]
        .as_array()
        .expect("recipients")
        .iter()
        .find(|r| r["email"] == email)
        .unwrap_or_else(|| panic!("no recipient {email} in {report:#}"))
}

/// `(seq, "PHASE/STATE/TYPE/SUBTYPE")` of one recipient's events, in `seq` order.
fn events(report: &Value, email: &str) -> Vec<(u64, String)> {
    let mut list: Vec<(u64, String)> = report["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["email"] == email)
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or("?").to_owned();
            let code = format!("{}/{}/{}/{}", field("phase"), field("state"), field("type"), field("subType"));
            (e["seq"].as_u64().expect("seq"), code)
        })
        .collect();
    list.sort();
    list
}

/// The `seq` of the one event `code` of `email`; panics unless there is exactly one.
fn seq_of(report: &Value, email: &str, code: &str) -> u64 {
    let found: Vec<u64> = events(report, email).into_iter().filter(|(_, c)| c == code).map(|(s, _)| s).collect();
    assert_eq!(found.len(), 1, "{email}: expected one {code} event, got {:?}", events(report, email));
    found[0]
}

/// How many events of `email` have type `PASSWORD_MAIL`.
fn password_mail_events(report: &Value, email: &str) -> usize {
    events(report, email).iter().filter(|(_, c)| c.contains("/PASSWORD_MAIL/")).count()
}

fn assert_recipient(report: &Value, email: &str, status: &str, sub_status: &str, password_mail: &str) {
    let r = recipient(report, email);
    assert_eq!(
        (r["status"].as_str(), r["subStatus"].as_str(), r["passwordMail"].as_str()),
        (Some(status), Some(sub_status), Some(password_mail)),
        "{email}: {r:#}\nevents: {:?}",
        events(report, email)
    );
}

// ---------------------------------------------------------------------------------------
// Reading the mail that arrived.

/// One message the SMTP server accepted, parsed.
struct Arrived {
    smtp: ReceivedMail,
    message: Message<'static>,
}

impl Arrived {
    fn parse(smtp: ReceivedMail) -> Arrived {
        let message = MessageParser::default()
            .parse(&smtp.data)
            .unwrap_or_else(|| panic!("mail-parser cannot parse message {}", smtp.seq))
            .into_owned();
        Arrived { smtp, message }
    }

    fn subject(&self) -> &str {
        self.message.subject().unwrap_or_default()
    }

    /// The addresses of a header (`To`, `Cc`, `Bcc`), lower-cased.
    fn addresses(&self, header: &str) -> Vec<String> {
        let list = match header {
            "To" => self.message.to(),
            "Cc" => self.message.cc(),
            "Bcc" => self.message.bcc(),
            _ => unreachable!("not an address header the tests read"),
        };
        list.map(|a| a.iter().filter_map(|m| m.address()).map(str::to_lowercase).collect()).unwrap_or_default()
    }

    /// The raw header section (up to the first empty line).
    fn header_section(&self) -> String {
        let raw = String::from_utf8_lossy(&self.smtp.data).into_owned();
        raw.split("\r\n\r\n").next().unwrap_or_default().to_owned()
    }

    /// The decoded bytes of the attachment named `name`, if there is one.
    fn attachment(&self, name: &str) -> Option<Vec<u8>> {
        self.message.parts.iter().find(|p| p.attachment_name() == Some(name)).map(|p| p.contents().to_vec())
    }

    /// The password: the one line of the text part that is a `PASSWORD_LEN`-character
    /// alphanumeric token (docs/secure-documents.md#the-password-mail: one unbroken token
    /// on a line of its own).
    fn password(&self) -> String {
        let text = self.message.body_text(0).unwrap_or_else(|| panic!("password mail {} has no text", self.smtp.seq));
        let tokens: Vec<&str> =
            text.lines().filter(|l| l.len() == PASSWORD_LEN && l.chars().all(|c| c.is_ascii_alphanumeric())).collect();
        assert_eq!(tokens.len(), 1, "one password line expected in password mail {}:\n{text}", self.smtp.seq);
        tokens[0].to_owned()
    }
}

/// Polls `smtp` until `n` messages arrived; panics with what did arrive otherwise.
async fn wait_for_mail(smtp: &SmtpServer, n: usize) -> Vec<ReceivedMail> {
    let received = smtp.wait_for(n, DEADLINE).await;
    assert!(received.len() >= n, "expected {n} messages, got {}: {:?}", received.len(), envelopes(&received));
    received
}

fn envelopes(mails: &[ReceivedMail]) -> Vec<(u64, Vec<String>)> {
    mails.iter().map(|m| (m.seq, m.rcpt_to.clone())).collect()
}

/// The transaction commands the SMTP server saw (connections and EHLO alone send nothing).
fn mail_transactions(smtp: &SmtpServer) -> Vec<String> {
    smtp.commands()
        .into_iter()
        .map(|c| c.line)
        .filter(|l| ["MAIL", "RCPT", "DATA"].iter().any(|v| l.to_ascii_uppercase().starts_with(v)))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Looking for the password.

/// The forms the password could be written in: plain, and base64 (standard and URL-safe
/// alphabets) at each of the three alignments it can have inside a longer encoded text —
/// the password preceded by 0, 1 or 2 bytes — keeping only the characters that depend on
/// the password's bits alone. Quoted-printable needs no entry of its own: the password is
/// ASCII letters and digits, which QP leaves as they are, so the plain form covers it (and
/// JSON escaping, for the same reason).
fn password_forms(password: &str) -> Vec<(String, String)> {
    let mut forms = vec![("plain".to_owned(), password.to_owned())];
    for lead in 0..3usize {
        let mut bytes = vec![0u8; lead];
        bytes.extend_from_slice(password.as_bytes());
        // Base64 character i carries bits [6i, 6i + 6); the password holds bits
        // [8 * lead, 8 * len).
        let start = (8 * lead).div_ceil(6);
        let end = 8 * bytes.len() / 6;
        for (alphabet, engine) in [("base64", &STANDARD), ("base64url", &URL_SAFE)] {
            let encoded = engine.encode(&bytes);
            forms.push((format!("{alphabet} after {lead} byte(s)"), encoded[start..end].to_owned()));
        }
    }
    forms
}

/// The first form of the password found in `haystack`, with its offset.
fn find_password<'a>(haystack: &[u8], forms: &'a [(String, String)]) -> Option<(&'a str, &'a str, usize)> {
    forms.iter().find_map(|(form, needle)| {
        let at = haystack.windows(needle.len()).position(|w| w == needle.as_bytes())?;
        Some((form.as_str(), needle.as_str(), at))
    })
}

fn assert_password_absent(what: &str, haystack: &[u8], forms: &[(String, String)]) {
    if let Some((form, needle, at)) = find_password(haystack, forms) {
        panic!("the password ({form}: {needle:?}) appears in {what} at byte {at}");
    }
}

/// Every file under `dir`, recursively, except in `outbox/` (mail the outbox transport
/// would deliver; unused here anyway).
fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            if path.file_name().is_none_or(|n| n != "outbox") {
                files_under(&path, out);
            }
        } else {
            out.push(path);
        }
    }
}

/// Counts in the SQLite database, read by Python's `sqlite3` (read-only): the server's own
/// view is not evidence.
fn sqlite_counts(db: &Path) -> Value {
    const SCRIPT: &str = r#"
import sqlite3, sys, json
c = sqlite3.connect("file:" + sys.argv[1] + "?mode=ro", uri=True)
q = lambda s: c.execute(s).fetchone()[0]
json.dump({
    "messages": q("SELECT count(*) FROM messages"),
    "held_secret": q("SELECT count(*) FROM messages WHERE held_secret IS NOT NULL"),
    "content": q("SELECT count(*) FROM messages WHERE content IS NOT NULL"),
    "request": q("SELECT count(*) FROM jobs WHERE request IS NOT NULL"),
}, sys.stdout)
"#;
    sealmail_test_support::require_tool("python3");
    let output = Command::new("python3").args(["-c", SCRIPT]).arg(db).output().expect("python3 runs");
    assert!(output.status.success(), "sqlite3 query failed: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("the script prints JSON")
}

/// [`sqlite_counts`] on PostgreSQL.
async fn postgres_counts(database: &sealmail_test_support::postgres::Database) -> Value {
    let client = database.connect().await;
    let mut counts = serde_json::Map::new();
    for (name, query) in [
        ("messages", "SELECT count(*) FROM messages"),
        ("held_secret", "SELECT count(*) FROM messages WHERE held_secret IS NOT NULL"),
        ("content", "SELECT count(*) FROM messages WHERE content IS NOT NULL"),
        ("request", "SELECT count(*) FROM jobs WHERE request IS NOT NULL"),
    ] {
        let n: i64 = client.query_one(query, &[]).await.expect(query).get(0);
        counts.insert(name.to_owned(), json!(n));
    }
    Value::Object(counts)
}

// ---------------------------------------------------------------------------------------
// Tests.

/// One run (one server start, one retry cycle) checks three things: the delivery order and
/// the status report; the messages as a real MIME parser reads them
/// ([`assert_received_original_parses`]); and that the password is nowhere but in the
/// password mails (logs, API, every file in the data directory, the purged database rows).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secure_job_delivers_originals_then_password_mails_only_to_accepted_recipients() {
    let clamd = Clamd::start(Signatures::Eicar);
    let smtp = SmtpServer::start(SmtpServerConfig {
        rcpt_rules: vec![
            RcptRule::permanent(TO_BOUNCED, "550 5.1.1 User unknown"),
            RcptRule::new(CC_DEFERRED, ["451 4.3.0 Try again"]),
        ],
        ..SmtpServerConfig::default()
    })
    .await;
    let server = Sealmail::start(&config(&smtp, &[clamd.tcp_address()])).await;

    let flagged = flagged_bytes();
    let (code, accepted, _) =
        server.submit_raw(ACCOUNT, serde_json::to_vec(&secure_job(&flagged)).expect("JSON"), &[]).await;
    assert_eq!(code, 202, "{accepted:#}");
    let job_id = accepted["jobId"].as_str().expect("jobId").to_owned();
    // docs/secure-documents.md#flagging-attachments: the ignored contentId is named in a warning.
    let warnings = accepted["warnings"].as_array().cloned().unwrap_or_default();
    assert!(warnings.iter().any(|w| w["path"] == "/attachments/1/contentId"), "warnings: {accepted:#}");

    // Two originals (the first transaction, then the retry for the deferred Cc) and one
    // password mail per accepted recipient.
    wait_for_mail(&smtp, 5).await;
    let report = server.wait_finished(&job_id, DEADLINE).await;
    let received = smtp.received();
    assert_eq!(received.len(), 5, "nothing more once finished: {:?}", envelopes(&received));
    let arrived: Vec<Arrived> = received.into_iter().map(Arrived::parse).collect();

    // --- Envelopes and order (docs/secure-documents.md#the-password-mail) ---------------------
    let password_subject = format!("{SUBJECT_PREFIX}{SUBJECT}");
    let (originals, password_mails): (Vec<&Arrived>, Vec<&Arrived>) =
        arrived.iter().partition(|a| a.subject() == SUBJECT);
    for pw in &password_mails {
        assert_eq!(pw.subject(), password_subject, "message {} is neither original nor password mail", pw.smtp.seq);
    }
    assert_eq!(originals.len(), 2, "originals: {:?}", originals.iter().map(|a| &a.smtp.rcpt_to).collect::<Vec<_>>());
    for a in &arrived {
        assert_eq!(a.smtp.mail_from, SENDER, "reverse path of message {}", a.smtp.seq);
        assert!(
            !a.smtp.rcpt_to.iter().any(|r| r.eq_ignore_ascii_case(TO_BOUNCED)),
            "the bounced recipient was accepted in message {}",
            a.smtp.seq
        );
    }
    let delivered = [TO_OK, CC_DEFERRED, BCC_OK];
    let mut passwords = BTreeSet::new();
    for rcpt in delivered {
        let to_it: Vec<&&Arrived> = originals.iter().filter(|a| a.smtp.rcpt_to.iter().any(|r| r == rcpt)).collect();
        assert_eq!(to_it.len(), 1, "{rcpt} must receive the original exactly once");
        let original = to_it[0];
        let pw_for: Vec<&&Arrived> =
            password_mails.iter().filter(|a| a.smtp.rcpt_to.iter().any(|r| r == rcpt)).collect();
        assert_eq!(pw_for.len(), 1, "{rcpt} must receive exactly one password mail");
        let pw = pw_for[0];
        assert_eq!(pw.smtp.rcpt_to, [rcpt], "the password mail goes to its recipient only (envelope)");
        assert_eq!(pw.addresses("To"), [rcpt], "the password mail names its recipient only (To)");
        assert!(pw.addresses("Cc").is_empty() && pw.addresses("Bcc").is_empty(), "{}", pw.header_section());
        assert!(
            pw.smtp.seq > original.smtp.seq,
            "{rcpt}: password mail (seq {}) accepted before the original (seq {})",
            pw.smtp.seq,
            original.smtp.seq
        );
        assert_eq!(pw.message.from().and_then(|f| f.first()).and_then(|m| m.address()), Some(SENDER));
        // docs/secure-documents.md#the-password-mail: In-Reply-To the original's Message-ID.
        let original_id = original.message.message_id().expect("the original has a Message-ID");
        assert_eq!(pw.message.in_reply_to().as_text(), Some(original_id), "{}", pw.header_section());

        // The archive of this recipient's original opens with this recipient's password.
        let password = pw.password();
        let html = pw.message.body_html(0).expect("the password mail has an HTML part");
        assert!(html.contains(&password), "the HTML part carries the password too");
        let zip_name = format!("{ARCHIVE_STEM}.zip");
        let zip = original.attachment(&zip_name).unwrap_or_else(|| panic!("no {zip_name} in the original"));
        let entries = pyzipper_extract(&zip, &password);
        assert_eq!(entries, [(FLAGGED_NAME.to_owned(), flagged.clone())], "the archive holds the flagged file");
        assert!(pyzipper_extract_fails(&zip, "wrong-password"), "a wrong password must not open the archive");
        passwords.insert(password);
    }
    // One password per message, shared by all its recipients
    // (docs/secure-documents.md#one-archive-and-one-password-per-message).
    assert_eq!(passwords.len(), 1, "one block, one password: {passwords:?}");
    let password = passwords.into_iter().next().expect("a password");
    assert!(password.chars().any(|c| c.is_ascii_uppercase()), "{password}");
    assert!(password.chars().any(|c| c.is_ascii_lowercase()), "{password}");
    assert!(password.chars().any(|c| c.is_ascii_digit()), "{password}");
    assert!(!password.contains(['O', 'o', 'l', 'I', '0', '1']), "look-alikes in {password}");
    // The retry resends the same message: one Message-ID, one archive.
    assert_eq!(originals[0].message.message_id(), originals[1].message.message_id());
    assert_eq!(
        originals[0].attachment(&format!("{ARCHIVE_STEM}.zip")),
        originals[1].attachment(&format!("{ARCHIVE_STEM}.zip"))
    );

    // --- The status report ------------------------------------------------------------
    assert_eq!(report["state"], "FINISHED");
    for (email, kind) in [(TO_OK, "TO"), (TO_BOUNCED, "TO"), (CC_DEFERRED, "CC"), (BCC_OK, "BCC")] {
        let r = recipient(&report, email);
        assert_eq!((r["type"].as_str(), r["reference"].as_str()), (Some(kind), Some("block-ref-1")), "{r:#}");
    }
    assert_recipient(&report, TO_BOUNCED, "ERROR", "BOUNCED", "NOT_TRIGGERED");
    let bounced = recipient(&report, TO_BOUNCED);
    assert_eq!(bounced["detail"], "5.1.1", "{bounced:#}");
    assert!(bounced["lastReply"].as_str().is_some_and(|r| r.starts_with("550")), "{bounced:#}");
    let hard = seq_of(&report, TO_BOUNCED, "DELIVER/FINISHED/BOUNCED/HARD_BOUNCE");
    let not_triggered = seq_of(&report, TO_BOUNCED, "TRIGGER/POST_DELIVERY/PASSWORD_MAIL/NOT_TRIGGERED");
    assert!(hard < not_triggered, "{:?}", events(&report, TO_BOUNCED));

    let deferred = seq_of(&report, CC_DEFERRED, "DELIVER/INTERMEDIATE/DEFERRED/SOFT_BOUNCE");
    let later_delivered = seq_of(&report, CC_DEFERRED, "DELIVER/FINISHED/DELIVERED/OK");
    assert!(deferred < later_delivered, "{:?}", events(&report, CC_DEFERRED));
    for email in delivered {
        assert_recipient(&report, email, "OK", "DELIVERED", "OK");
        // The detail is the final reply's (the relay says 2.0.0), not a stale deferral's.
        let recipient = report["recipients"].as_array().unwrap().iter().find(|r| r["email"] == *email).unwrap();
        assert_eq!(recipient["detail"], "2.0.0", "{recipient:#}");
        let delivered_seq = seq_of(&report, email, "DELIVER/FINISHED/DELIVERED/OK");
        let password_seq = seq_of(&report, email, "TRIGGER/POST_DELIVERY/PASSWORD_MAIL/OK");
        assert!(delivered_seq < password_seq, "{email}: {:?}", events(&report, email));
    }
    for email in ALL_RECIPIENTS {
        assert_eq!(password_mail_events(&report, email), 1, "{email}: {:?}", events(&report, email));
    }

    // --- The messages as a real MIME parser reads them -----------------------------------
    for original in &originals {
        assert_received_original_parses(original);
    }

    // --- The password is nowhere but in the password mails -------------------------------
    let forms = password_forms(&password);
    // The search must be able to succeed: it finds the password where it belongs, and in
    // base64 of a text that holds it at each alignment.
    assert!(find_password(&password_mails[0].smtp.data, &forms).is_some(), "the search misses the password mail");
    for lead in 0..3 {
        let text = format!("{}{password} and more", "#".repeat(lead));
        for encoded in [STANDARD.encode(&text), URL_SAFE.encode(&text)] {
            assert!(find_password(encoded.as_bytes(), &forms).is_some(), "the search misses {encoded}");
        }
    }
    assert_password_absent("the server logs", server.logs().as_bytes(), &forms);
    let report_json = serde_json::to_vec(&server.status(&job_id).await).expect("JSON");
    assert_password_absent("the status report", &report_json, &forms);
    assert_password_absent("the submission response", &serde_json::to_vec(&accepted).expect("JSON"), &forms);
    let mut files = Vec::new();
    // On PostgreSQL nothing needs the data directory: it may not exist.
    if server.data_dir().is_dir() {
        files_under(&server.data_dir(), &mut files);
    }
    let db = server.data_dir().join("sealmail.db");
    if let Some(database) = server.database() {
        assert_password_absent("the PostgreSQL database", &database.dump().await, &forms);
    } else {
        assert!(files.contains(&db), "no database among {files:?}");
    }
    for file in &files {
        let bytes = std::fs::read(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        assert_password_absent(&file.display().to_string(), &bytes, &forms);
    }
    // Once every recipient is resolved, no held password, message or request body is left
    // in the store (docs/secure-documents.md#passwords).
    let counts = match server.database() {
        Some(database) => postgres_counts(database).await,
        None => sqlite_counts(&db),
    };
    assert_eq!(counts["messages"], 4, "one original and three password mails: {counts}");
    assert_eq!(counts["held_secret"], 0, "held password left after resolution: {counts}");
    assert_eq!(counts["content"], 0, "message content left after the job finished: {counts}");
    assert_eq!(counts["request"], 0, "request body left after the job finished: {counts}");
}

fn pyzipper_extract_fails(zip: &[u8], password: &str) -> bool {
    sealmail_test_support::pyzipper_try_extract(zip, password).is_err()
}

/// Subject, body, attachments, Content-IDs and the Bcc as a real parser sees them.
fn assert_received_original_parses(original: &Arrived) {
    let seq = original.smtp.seq;
    let m = &original.message;
    assert_eq!(m.subject(), Some(SUBJECT), "the non-ASCII subject round-trips (message {seq})");
    assert_eq!(m.from().and_then(|f| f.first()).and_then(|a| a.name()), Some("Abrechnung Müller"));
    assert_eq!(original.addresses("To"), [TO_OK, TO_BOUNCED]);
    assert_eq!(original.addresses("Cc"), [CC_DEFERRED]);
    assert!(m.bcc().is_none(), "no Bcc header: {}", original.header_section());
    assert_eq!(m.body_text(0).as_deref().map(str::trim), Some(TEXT), "the text alternative");
    assert!(m.body_html(0).is_some_and(|h| h.contains("<p>Grüße aus der Buchhaltung.</p>")), "the HTML body");

    // The Bcc recipient is in no header of any part (nor anywhere else in the message).
    for part in &m.parts {
        for header in part.headers() {
            let value = format!("{:?}", header.value()).to_lowercase();
            assert!(!value.contains(BCC_OK), "{} names the Bcc recipient (message {seq})", header.name());
        }
    }
    assert!(!String::from_utf8_lossy(&original.smtp.data).to_lowercase().contains(BCC_OK), "Bcc in message {seq}");

    // The unflagged attachment arrives byte for byte; the flagged file only in the archive.
    assert_eq!(original.attachment(UNFLAGGED_NAME), Some(unflagged_bytes()), "unflagged attachment (message {seq})");
    let names: Vec<&str> = m.parts.iter().filter_map(|p| p.attachment_name()).collect();
    assert_eq!(names, [UNFLAGGED_NAME, &format!("{ARCHIVE_STEM}.zip")], "attachments of message {seq}");
    for (i, part) in m.parts.iter().enumerate() {
        let contents = part.contents();
        assert!(
            !contents.windows(FLAGGED_MARKER.len()).any(|w| w == FLAGGED_MARKER.as_bytes()),
            "part {i} of message {seq} carries the flagged file in the clear"
        );
        assert!(
            !part.content_id().is_some_and(|id| id.contains(FLAGGED_CONTENT_ID)),
            "part {i} of message {seq} has the flagged attachment's Content-ID"
        );
    }
    let raw = String::from_utf8_lossy(&original.smtp.data).to_lowercase();
    assert!(!raw.contains(FLAGGED_CONTENT_ID), "the flagged contentId appears in message {seq}");
}

/// EICAR in a flagged attachment → the job is dropped, nothing is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eicar_in_a_flagged_attachment_drops_the_whole_job() {
    let clamd = Clamd::start(Signatures::Eicar);
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Sealmail::start(&config(&smtp, &[clamd.tcp_address()])).await;
    let job_id = server.submit(&secure_job(EICAR)).await;
    let report = server.wait_finished(&job_id, DEADLINE).await;
    assert_dropped_for_a_virus(&report, &smtp);
}

/// Two scanners, the first knows nothing of EICAR, the second does → dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_scanner_must_pass() {
    let blind = Clamd::start(Signatures::Unrelated);
    let seeing = Clamd::start(Signatures::Eicar);
    assert_eq!(blind.scan(EICAR), "stream: OK", "the first scanner must not know EICAR");
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Sealmail::start(&config(&smtp, &[blind.tcp_address(), seeing.tcp_address()])).await;
    let job_id = server.submit(&secure_job(EICAR)).await;
    let report = server.wait_finished(&job_id, DEADLINE).await;
    assert_dropped_for_a_virus(&report, &smtp);
    // The verdict came from the second scanner.
    let detected: Vec<&Value> =
        report["events"].as_array().expect("events").iter().filter(|e| e["subType"] == "VIRUS_DETECTED").collect();
    let second = format!("127.0.0.1:{}", seeing.port());
    assert!(
        detected.iter().all(|e| e["description"].as_str().is_some_and(|d| d.contains(&second))),
        "VIRUS_DETECTED should name the second scanner ({second}): {detected:#?}"
    );
}

fn assert_dropped_for_a_virus(report: &Value, smtp: &SmtpServer) {
    assert_eq!(report["state"], "FINISHED");
    for email in ALL_RECIPIENTS {
        assert_recipient(report, email, "ERROR", "DROPPED", "NOT_TRIGGERED");
        let virus = seq_of(report, email, "PROCESS/FINISHED/DROPPED/VIRUS_DETECTED");
        let not_triggered = seq_of(report, email, "TRIGGER/POST_DELIVERY/PASSWORD_MAIL/NOT_TRIGGERED");
        assert!(virus < not_triggered, "{email}: {:?}", events(report, email));
        assert_eq!(password_mail_events(report, email), 1, "{email}: {:?}", events(report, email));
        let delivery: Vec<_> = events(report, email).into_iter().filter(|(_, c)| c.starts_with("DELIVER/")).collect();
        assert!(delivery.is_empty(), "{email}: delivery events for a dropped job: {delivery:?}");
    }
    let description = report["events"]
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["subType"] == "VIRUS_DETECTED")
        .and_then(|e| e["description"].as_str())
        .unwrap_or_default();
    assert!(description.contains("Test.EICAR"), "the signature is named: {description:?}");
    // The job is finished, so nothing can still be on its way.
    assert!(smtp.received().is_empty(), "mail was sent: {:?}", envelopes(&smtp.received()));
    assert!(mail_transactions(smtp).is_empty(), "SMTP transaction started: {:?}", mail_transactions(smtp));
}

/// An unreachable scanner holds the job (never sent unscanned); when it is back the
/// job completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_scanner_holds_the_job_until_it_returns() {
    let mut clamd = Clamd::start(Signatures::Eicar);
    let smtp = SmtpServer::start(SmtpServerConfig::default()).await;
    let server = Sealmail::start(&config(&smtp, &[clamd.tcp_address()])).await;
    clamd.stop();
    assert!(!clamd.ping(), "clamd must be down");
    let job_id = server.submit(&secure_job(&flagged_bytes())).await;

    // Watch for at least three retry periods (retries every second here), and until the
    // server has said it is waiting for this scanner: absence needs a window.
    let scanner = format!("127.0.0.1:{}", clamd.port());
    let window = Instant::now() + Duration::from_secs(3);
    let deadline = Instant::now() + DEADLINE;
    loop {
        let report = server.status(&job_id).await;
        assert_eq!(report["state"], "QUEUED", "the job must wait for the scanner: {report:#}");
        for email in ALL_RECIPIENTS {
            let r = recipient(&report, email);
            assert_eq!((r["status"].as_str(), r["subStatus"].as_str()), (Some("PENDING"), Some("QUEUED")), "{r:#}");
            assert_eq!(r["passwordMail"], "PENDING", "{r:#}");
        }
        let decided: Vec<&Value> = report["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["phase"] != "PROCESS" || e["state"] == "FINISHED")
            .collect();
        assert!(decided.is_empty(), "events while no scan was possible: {decided:#?}");
        assert!(mail_transactions(&smtp).is_empty(), "mail went out unscanned: {:?}", mail_transactions(&smtp));
        let logs = server.logs();
        let waiting = logs.lines().any(|l| l.contains(&job_id) && l.contains(&scanner));
        if Instant::now() >= window && waiting {
            break;
        }
        assert!(Instant::now() < deadline, "no log line says job {job_id} waits for {scanner}:\n{logs}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    clamd.restart();
    // One original to all four, then a password mail each.
    wait_for_mail(&smtp, 5).await;
    let report = server.wait_finished(&job_id, DEADLINE).await;
    for email in ALL_RECIPIENTS {
        assert_recipient(&report, email, "OK", "DELIVERED", "OK");
        // The waits left nothing behind to repeat: processing started once.
        seq_of(&report, email, "PROCESS/INITIAL/STARTED/PROCESSING_STARTED");
        assert_eq!(password_mail_events(&report, email), 1, "{email}: {:?}", events(&report, email));
    }
    let received = smtp.received();
    assert_eq!(received.len(), 5, "{:?}", envelopes(&received));
    assert_eq!(received[0].rcpt_to, ALL_RECIPIENTS, "the original first, to everyone");
}

/// No scanner configured → an antivirus job is refused at submission, with the way
/// out in the message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_scanner_configured_refuses_antivirus_jobs() {
    let server = Sealmail::start("").await;
    let (code, body, _) =
        server.submit_raw(ACCOUNT, serde_json::to_vec(&secure_job(&flagged_bytes())).expect("JSON"), &[]).await;
    assert_eq!(code, 400, "{body:#}");
    let problems = body["problems"].as_array().unwrap_or_else(|| panic!("no problem list: {body:#}"));
    let problem = problems
        .iter()
        .find(|p| p["path"] == "/job/features/antivirus/active")
        .unwrap_or_else(|| panic!("no problem at /job/features/antivirus/active: {body:#}"));
    let message = problem["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("[antivirus]") && message.contains("scanners"),
        "the message must say how to configure a scanner: {message:?}"
    );

    // Only antivirus jobs are refused: the same server takes a plain one.
    let plain = json!({
        "mail": { "from": { "email": SENDER } },
        "subject": { "content": "Hello" },
        "body": { "contentType": "text/plain", "content": "Hello there" },
        "recipients": [{ "mail": { "to": [{ "email": TO_OK }] } }]
    });
    let (code, body, _) = server.submit_raw(ACCOUNT, serde_json::to_vec(&plain).expect("JSON"), &[]).await;
    assert_eq!(code, 202, "{body:#}");
}
