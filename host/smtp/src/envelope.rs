//! What a transport is given and what it answers: the envelope (reverse-path and
//! recipients) and, per recipient, the outcome of one attempt (RFC 5321 §3.3: one refused
//! RCPT must not hide the fate of the others).

use std::str::FromStr;

/// One delivery attempt's envelope (RFC 5321 §3.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The MAIL FROM reverse-path: where bounces go; `""` for the null sender (RFC 5321 §4.5.5).
    pub reverse_path: String,
    /// The RCPT TO forward-paths, one per recipient (To, Cc and Bcc alike).
    pub recipients: Vec<String>,
}

/// What happened to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientOutcome {
    /// RCPT accepted and 250 after DATA.
    Delivered {
        /// The server's final reply, e.g. `"250 2.0.0 Ok: queued as 4F2A"`.
        reply: String,
    },
    /// 5xx at RCPT or at DATA/end of data: bounced.
    ///
    /// Also used, with the code a server would have sent and a reply starting with `local:`,
    /// when sealmail itself can tell that no retry can succeed (an address that is not an
    /// address, 8-bit content for a server without 8BITMIME).
    Permanent {
        /// The reply code, 5yz.
        code: u16,
        /// The RFC 3463 enhanced status code, e.g. `"5.1.1"`, when the server sent one.
        enhanced: Option<String>,
        /// The reply as the server sent it (code and text).
        reply: String,
    },
    /// 4xx, connection refused/reset, timeout, TLS failure: try again later.
    Temporary {
        /// The reply code when a server replied (4yz, or a session-level 5yz such as a failed
        /// AUTH, which says nothing about the recipient); `None` when no reply was read.
        code: Option<u16>,
        /// The RFC 3463 enhanced status code, when the server sent one.
        enhanced: Option<String>,
        /// The server's reply, or what went wrong locally.
        reply: String,
    },
}

impl RecipientOutcome {
    /// The reply text: the server's reply or the local reason.
    pub fn reply(&self) -> &str {
        match self {
            Self::Delivered { reply } | Self::Permanent { reply, .. } | Self::Temporary { reply, .. } => reply,
        }
    }

    /// True for [`RecipientOutcome::Delivered`].
    pub fn is_delivered(&self) -> bool {
        matches!(self, Self::Delivered { .. })
    }
}

/// The outcome for one envelope recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientResult {
    /// The recipient exactly as given in [`Envelope::recipients`].
    pub recipient: String,
    /// What happened to it.
    pub outcome: RecipientOutcome,
}

/// A mailbox that is safe to put on the wire or into a header line: lettre's syntax check,
/// which in particular rejects CR and LF (no command or header injection).
pub(crate) fn parse_mailbox(address: &str) -> Option<lettre::Address> {
    lettre::Address::from_str(address).ok()
}

/// The local verdict on a recipient that is not an address: no server could accept it.
/// RFC 5321 §4.2.2 553 "mailbox name not allowed", RFC 3463 X.1.3 "bad destination mailbox
/// address syntax".
pub(crate) fn invalid_recipient() -> RecipientOutcome {
    RecipientOutcome::Permanent {
        code: 553,
        enhanced: Some("5.1.3".into()),
        reply: "local: 553 5.1.3 not a valid recipient address; not sent".into(),
    }
}

/// The local verdict on every recipient when the reverse-path is not an address: RFC 3463
/// X.1.7 "bad sender's mailbox address syntax".
fn invalid_reverse_path() -> RecipientOutcome {
    RecipientOutcome::Permanent {
        code: 553,
        enhanced: Some("5.1.7".into()),
        reply: "local: 553 5.1.7 the reverse-path (MAIL FROM) is not a valid address; not sent".into(),
    }
}

/// The reverse-path as lettre wants it: `None` for the null sender `<>`.
pub(crate) fn parse_reverse_path(reverse_path: &str) -> Result<Option<lettre::Address>, RecipientOutcome> {
    if reverse_path.is_empty() {
        return Ok(None);
    }
    parse_mailbox(reverse_path).map(Some).ok_or_else(invalid_reverse_path)
}
