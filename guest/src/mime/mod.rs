//! MIME rendering: the bytes of the original message of a recipient block and of the
//! password mail (docs/secure-documents.md#the-password-mail), ready for SMTP `DATA`
//! (RFC 5322, RFC 2045–2047, RFC 2231).
//!
//! Pure functions: no I/O, no clock, no randomness. The Message-ID, the date and the seed of
//! the MIME boundaries come in through [`Envelope`], so the same inputs always give the same
//! bytes. Output lines end in CRLF and are at most 998 octets (RFC 5322 §2.1.1); header
//! values never carry a CR or LF from the request. This module must never write a `Bcc`
//! field, nor a sealed attachment in the clear: those only reach the message inside the
//! [`SealedArchive`].
//!
//! - [`original`]: the message of one recipient block.
//! - [`password_mail`]: the mail that carries the archive's password to one recipient.
//! - `header`, `param`: header fields, folding, encoded-words, mailbox lists, parameters.
//! - `transfer`, `part`: transfer encodings, MIME parts, boundaries.
//! - [`date`]: the `Date` field.

pub mod date;
mod header;
pub mod original;
mod param;
mod part;
pub mod password_mail;
mod transfer;

pub use date::{civil_time, rfc5322_date};
pub use original::render_original;
pub use password_mail::{PasswordMail, password_mail_subject, render_password_mail};

/// Per-message inputs the renderer must not invent itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The Message-ID without angle brackets, e.g. `abc123@sealmail.example`.
    pub message_id: &'a str,
    /// The `Date`, in milliseconds since the Unix epoch (written in UTC).
    pub date_unix_ms: u64,
    /// A unique-ish token the MIME boundaries are built from (e.g. the random part of the
    /// Message-ID); only letters, digits, `.` and `-` of it are used.
    pub boundary_seed: &'a str,
}

/// The sealed archive that replaces the flagged attachments of one message.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SealedArchive<'a> {
    /// The attachment's file name (`documents.zip`).
    pub file_name: &'a str,
    /// The AES-256 ZIP.
    pub bytes: &'a [u8],
}

impl std::fmt::Debug for SealedArchive<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealedArchive").field("file_name", &self.file_name).field("len", &self.bytes.len()).finish()
    }
}

/// Helpers for the tests of [`original`] and [`password_mail`]: structural checks every
/// rendered message must pass.
#[cfg(test)]
pub(crate) mod test_support {
    /// RFC 5322 §2.1.1 and §2.3: CRLF only, no bare CR or LF, lines ≤ 998 octets.
    pub(crate) fn assert_wire_format(message: &[u8]) {
        assert!(message.ends_with(b"\r\n"), "message must end with CRLF");
        for (i, &b) in message.iter().enumerate() {
            match b {
                b'\r' => assert_eq!(message.get(i + 1), Some(&b'\n'), "bare CR at {i}"),
                b'\n' => assert!(i > 0 && message[i - 1] == b'\r', "bare LF at {i}"),
                _ => {}
            }
        }
        for line in message.split(|&b| b == b'\n') {
            assert!(line.len() <= 999, "line of {} octets: {:?}", line.len(), String::from_utf8_lossy(line));
        }
        assert!(!message.contains(&0), "NUL in message");
    }

    /// The header section (up to the first empty line), unfolded, as `(name, value)`.
    pub(crate) fn top_headers(message: &[u8]) -> Vec<(String, String)> {
        let text = String::from_utf8_lossy(message);
        let head = text.split("\r\n\r\n").next().unwrap_or_default().replace("\r\n ", " ").replace("\r\n\t", "\t");
        head.split("\r\n").filter_map(|l| l.split_once(':')).map(|(n, v)| (n.to_owned(), v.trim().to_owned())).collect()
    }

    /// The unfolded value of the first top-level header `name`.
    pub(crate) fn header(message: &[u8], name: &str) -> Option<String> {
        top_headers(message).into_iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v)
    }
}
