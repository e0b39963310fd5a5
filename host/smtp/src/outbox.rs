//! The `outbox` transport: writes each message as an `.eml` file into a folder instead of
//! sending it (the local default; every recipient counts as delivered).
//!
//! A file is the message bytes unchanged, preceded by a `Return-Path:` line (RFC 5322 §3.6.7,
//! what the final delivery agent would add) and one `X-Original-To:` line per envelope
//! recipient (the Postfix convention), so Bcc recipients are visible to the operator. Files
//! appear complete or not at all: written under a temporary name, fsync'd, then linked to
//! the final name. Nothing is ever logged.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use super::reply::temporary;
use crate::envelope::{
    Envelope, RecipientOutcome, RecipientResult, invalid_recipient, parse_mailbox, parse_reverse_path,
};

/// Longest Message-ID fragment kept in a file name; the rest is noise for a reader.
const MAX_ID_IN_NAME: usize = 64;

/// A folder that receives `.eml` files.
#[derive(Clone, Debug)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    /// An outbox writing into `dir` (created on first use if missing).
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// One line for the start-up banner.
    pub fn describe(&self) -> String {
        format!("outbox {} (files, counted as delivered)", self.dir.display())
    }

    /// Writes `message` to one file for the whole envelope; one result per recipient, in
    /// order: `Delivered` ("250 written to <path>") when the file is durable, `Temporary`
    /// with the I/O error otherwise, `Permanent` for a recipient that is not an address.
    pub async fn send(&self, envelope: &Envelope, message: &[u8]) -> Vec<RecipientResult> {
        let mut outcomes: Vec<Option<RecipientOutcome>> =
            envelope.recipients.iter().map(|r| parse_mailbox(r).is_none().then(invalid_recipient)).collect();
        let accepted: Vec<String> = envelope
            .recipients
            .iter()
            .zip(&outcomes)
            .filter(|(_, outcome)| outcome.is_none())
            .map(|(recipient, _)| recipient.clone())
            .collect();

        let shared = match parse_reverse_path(&envelope.reverse_path) {
            Err(outcome) => Some(outcome),
            Ok(_) if accepted.is_empty() => None,
            Ok(_) => {
                let dir = self.dir.clone();
                let file = render(&envelope.reverse_path, &accepted, message);
                let name = file_name(message);
                // Blocking file system calls (fsync) belong on the blocking pool.
                let written = tokio::task::spawn_blocking(move || write_durably(&dir, &name, &file)).await;
                Some(match written {
                    Ok(Ok(path)) => RecipientOutcome::Delivered { reply: format!("250 written to {}", path.display()) },
                    Ok(Err(err)) => temporary(format!("cannot write to outbox {}: {err}", self.dir.display())),
                    Err(err) => temporary(format!("outbox writer failed: {err}")),
                })
            }
        };

        envelope
            .recipients
            .iter()
            .zip(outcomes.iter_mut())
            .map(|(recipient, outcome)| RecipientResult {
                recipient: recipient.clone(),
                outcome: outcome
                    .take()
                    .or_else(|| shared.clone())
                    .unwrap_or_else(|| temporary("internal: no outcome recorded for this recipient")),
            })
            .collect()
    }
}

/// The file content: envelope lines, then the message bytes untouched. The addresses passed
/// lettre's syntax check, so they hold no CR/LF that could forge further header lines.
fn render(reverse_path: &str, recipients: &[String], message: &[u8]) -> Vec<u8> {
    let mut file = Vec::with_capacity(message.len() + 64 * (recipients.len() + 1));
    file.extend_from_slice(format!("Return-Path: <{reverse_path}>\r\n").as_bytes());
    for recipient in recipients {
        file.extend_from_slice(format!("X-Original-To: {recipient}\r\n").as_bytes());
    }
    file.extend_from_slice(message);
    file
}

/// `<unix-ms>-<Message-ID, sanitized>.eml`, or a random part when there is no Message-ID.
fn file_name(message: &[u8]) -> String {
    let millis = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    let id = message_id(message).map(|id| sanitize(&id)).filter(|id| !id.is_empty()).unwrap_or_else(random_part);
    format!("{millis}-{id}.eml")
}

/// The first `Message-ID` header's value (RFC 5322 §3.6.4), unfolded, without `<>`.
fn message_id(message: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    while let Some(line) = lines.next() {
        if line.is_empty() {
            return None; // end of the header section (RFC 5322 §2.1)
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        if !name.eq_ignore_ascii_case("Message-ID") {
            continue;
        }
        let mut value = value.to_owned();
        // Folded continuation lines start with white space (RFC 5322 §2.2.3).
        for next in lines.by_ref() {
            if next.starts_with([' ', '\t']) {
                value.push_str(next);
            } else {
                break;
            }
        }
        let id = value.trim().trim_start_matches('<').trim_end_matches('>').trim();
        return Some(id.to_owned());
    }
    None
}

/// Only characters that are harmless in a file name on any system.
fn sanitize(id: &str) -> String {
    id.chars()
        .take(MAX_ID_IN_NAME)
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') { c } else { '_' })
        .collect::<String>()
        .trim_start_matches('.')
        .to_owned()
}

/// 16 hex digits for names that need to be unique, not secret.
fn random_part() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        // No OS randomness: fall back to something unique within this process.
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32) ^ COUNTER.fetch_add(1, Ordering::Relaxed);
        bytes = mixed.to_be_bytes();
    }
    hex::encode(bytes)
}

/// Writes `content` as `dir/name` so that the file is either absent or complete and durable,
/// and returns its path.
fn write_durably(dir: &Path, name: &str, content: &[u8]) -> std::io::Result<PathBuf> {
    fs::create_dir_all(dir)?;
    let temp = dir.join(format!(".{name}.{}.tmp", random_part()));
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&temp)?;
        file.write_all(content)?;
        file.sync_all()?;
        drop(file);
        let path = publish(&temp, dir, name)?;
        // The new directory entry must be durable too, not only the file's data.
        File::open(dir)?.sync_all()?;
        Ok(path)
    })();
    // After a successful publish the temporary name is a second link to the same file.
    let _ = fs::remove_file(&temp);
    result
}

/// Gives the finished temporary file its final name. link(2) rather than rename(2): rename
/// silently replaces an existing file, link fails instead, so two messages with the same
/// Message-ID in the same millisecond both survive (the second gets a `-N` suffix).
fn publish(temp: &Path, dir: &Path, name: &str) -> std::io::Result<PathBuf> {
    let stem = name.strip_suffix(".eml").unwrap_or(name);
    for attempt in 0..100u32 {
        let candidate = if attempt == 0 { dir.join(name) } else { dir.join(format!("{stem}-{attempt}.eml")) };
        match fs::hard_link(temp, &candidate) {
            Ok(()) => return Ok(candidate),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err),
        }
    }
    Err(std::io::Error::new(std::io::ErrorKind::AlreadyExists, format!("100 files named {stem}*.eml exist already")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"From: a@example.com\r\nTo: b@example.com\r\n\
        Message-ID: <abc.123@sealmail.example>\r\nSubject: hi\r\n\r\nbody line\r\n.dot\r\n";

    fn envelope() -> Envelope {
        Envelope {
            reverse_path: "bounces@example.com".into(),
            recipients: vec!["b@example.com".into(), "hidden@example.com".into()],
        }
    }

    #[tokio::test]
    async fn writes_envelope_lines_and_exact_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::new(dir.path().join("new/sub"));
        let results = outbox.send(&envelope(), MESSAGE).await;

        assert_eq!(results.len(), 2);
        let files: Vec<PathBuf> =
            fs::read_dir(outbox.dir()).expect("dir created").map(|e| e.expect("entry").path()).collect();
        assert_eq!(files.len(), 1, "exactly one file, no temporary left: {files:?}");
        let path = &files[0];
        let name = path.file_name().and_then(|n| n.to_str()).expect("utf-8 name");
        let (millis, rest) = name.split_once('-').expect("<ms>-<id>.eml");
        assert!(millis.parse::<u128>().is_ok(), "{name}");
        assert_eq!(rest, "abc.123_sealmail.example.eml");

        for (result, recipient) in results.iter().zip(&envelope().recipients) {
            assert_eq!(&result.recipient, recipient);
            assert_eq!(
                result.outcome,
                RecipientOutcome::Delivered { reply: format!("250 written to {}", path.display()) }
            );
        }
        let mut expected = b"Return-Path: <bounces@example.com>\r\n\
            X-Original-To: b@example.com\r\nX-Original-To: hidden@example.com\r\n"
            .to_vec();
        expected.extend_from_slice(MESSAGE);
        assert_eq!(fs::read(path).expect("read"), expected);
    }

    #[tokio::test]
    async fn same_name_twice_keeps_both_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let temp = dir.path().join("t");
        fs::write(&temp, b"one").expect("write");
        let first = publish(&temp, dir.path(), "1-x.eml").expect("first");
        fs::remove_file(&temp).expect("rm");
        fs::write(&temp, b"two").expect("write");
        let second = publish(&temp, dir.path(), "1-x.eml").expect("second");
        assert_ne!(first, second);
        assert_eq!(fs::read(&first).expect("read"), b"one");
        assert_eq!(fs::read(&second).expect("read"), b"two");
    }

    #[tokio::test]
    async fn null_sender_invalid_recipient_and_no_message_id() {
        let dir = tempfile::tempdir().expect("tempdir");
        let outbox = Outbox::new(dir.path().to_owned());
        let envelope = Envelope {
            reverse_path: String::new(),
            recipients: vec!["ok@example.com".into(), "evil@example.com\r\nX-Injected: 1".into()],
        };
        let results = outbox.send(&envelope, b"Subject: no id\r\n\r\nx\r\n").await;
        assert!(results[0].outcome.is_delivered(), "{results:?}");
        assert!(
            matches!(&results[1].outcome, RecipientOutcome::Permanent { code: 553, enhanced: Some(e), .. } if e == "5.1.3"),
            "{results:?}"
        );
        let file = fs::read_dir(dir.path()).expect("dir").next().expect("one file").expect("entry");
        let content = fs::read_to_string(file.path()).expect("read");
        assert!(content.starts_with("Return-Path: <>\r\nX-Original-To: ok@example.com\r\nSubject:"));
        assert!(!content.contains("X-Injected"));
        let name = file.file_name().into_string().expect("utf-8");
        let random = name.split_once('-').expect("dash").1.trim_end_matches(".eml");
        assert_eq!(random.len(), 16, "{name}");
    }

    #[tokio::test]
    async fn io_error_is_temporary_for_everyone() {
        let dir = tempfile::tempdir().expect("tempdir");
        let blocker = dir.path().join("file");
        fs::write(&blocker, b"").expect("write");
        // A regular file where the folder should be: create_dir_all fails.
        let outbox = Outbox::new(blocker.join("outbox"));
        let results = outbox.send(&envelope(), MESSAGE).await;
        assert_eq!(results.len(), 2);
        for result in &results {
            let RecipientOutcome::Temporary { code: None, reply, .. } = &result.outcome else {
                panic!("expected Temporary, got {result:?}");
            };
            assert!(reply.starts_with("cannot write to outbox"), "{reply}");
        }
    }

    #[test]
    fn message_id_is_unfolded_and_sanitized() {
        let folded = b"Subject: x\r\nMessage-Id:\r\n <a/b\\c@d>\r\n\r\nMessage-ID: <body@x>\r\n";
        assert_eq!(message_id(folded).as_deref(), Some("a/b\\c@d"));
        assert_eq!(sanitize("a/b\\c@d"), "a_b_c_d");
        assert_eq!(sanitize("../../etc"), "_.._etc");
        assert_eq!(message_id(b"Subject: x\r\n\r\nMessage-ID: <body@x>\r\n"), None);
    }
}
