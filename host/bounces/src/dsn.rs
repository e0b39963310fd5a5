//! Reading delivery status notifications (RFC 3464): a `multipart/report;
//! report-type=delivery-status` message (RFC 6522) whose `message/delivery-status` part holds
//! header-style fields, one group of per-message fields, then one group per recipient
//! (RFC 3464 §2.1), groups separated by empty lines.
//!
//! The MIME structure (boundaries, transfer encodings) is left to `mail-parser`; the fields
//! are read here, leniently: the many MTAs that write DSNs differ in spacing, folding and
//! optional fields, and a DSN we cannot read costs a suppression, not a crash. Only what the
//! fields say is used, never the human-readable part or the quoted original.

use mail_parser::{MessageParser, MimeHeaders};

/// Most recipient groups read from one DSN; a real DSN reports the recipients one MTA
/// handled in one transaction, and the bound keeps a hostile one cheap.
const MAX_RECIPIENTS: usize = 1000;
/// Longest diagnostic kept, characters: enough for the longest real SMTP replies (Gmail's
/// three-line ones), short enough for an event description.
const MAX_DIAGNOSTIC: usize = 500;

/// Why a message is not a DSN we can read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DsnError {
    /// No MIME message at all (no header).
    #[error("not a MIME message")]
    NotAMessage,
    /// A message, but not a `multipart/report` about delivery status (e.g. an auto-reply, or
    /// an RFC 8098 read receipt).
    #[error("not a multipart/report; report-type=delivery-status message (it is {0})")]
    NotAReport(String),
    /// A report without a `message/delivery-status` part.
    #[error("the report has no message/delivery-status part")]
    NoDeliveryStatus,
    /// The delivery-status part names no recipient with the required `Final-Recipient`,
    /// `Action` and `Status` fields (RFC 3464 §2.3).
    #[error("the delivery-status part reports no recipient")]
    NoRecipients,
}

/// A DSN's delivery-status part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The MTA that wrote the DSN (`Reporting-MTA`, without its `dns;` type).
    pub reporting_mta: Option<String>,
    /// The recipient groups, in order.
    pub recipients: Vec<RecipientReport>,
}

/// One per-recipient group (RFC 3464 §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientReport {
    /// `Final-Recipient`: the address the reporting MTA tried, without its `rfc822;` type.
    pub final_recipient: String,
    /// `Original-Recipient`, when given.
    pub original_recipient: Option<String>,
    /// `Action`.
    pub action: Action,
    /// `Status`: an RFC 3463 code, e.g. `5.1.1`.
    pub status: String,
    /// `Remote-MTA`, without its type.
    pub remote_mta: Option<String>,
    /// `Diagnostic-Code`, unfolded, e.g. `smtp; 550 5.1.1 User unknown`.
    pub diagnostic: Option<String>,
}

/// What the reporting MTA did for a recipient (RFC 3464 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It gave up: the message was not delivered.
    Failed,
    /// It is still trying (a warning).
    Delayed,
    /// Delivered (a positive DSN, only when asked for with `NOTIFY=SUCCESS`).
    Delivered,
    /// Handed on to a system that sends no DSNs.
    Relayed,
    /// Delivered and forwarded to more recipients (a list or alias).
    Expanded,
}

impl Action {
    fn parse(value: &str) -> Option<Self> {
        // The keyword may be followed by a comment (RFC 3464 §2.3.3 allows none, MTAs add them).
        let keyword = value.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
        Some(match keyword.to_ascii_lowercase().as_str() {
            "failed" => Self::Failed,
            "delayed" => Self::Delayed,
            "delivered" => Self::Delivered,
            "relayed" => Self::Relayed,
            "expanded" => Self::Expanded,
            _ => return None,
        })
    }

    /// The keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Failed => "failed",
            Self::Delayed => "delayed",
            Self::Delivered => "delivered",
            Self::Relayed => "relayed",
            Self::Expanded => "expanded",
        }
    }
}

impl RecipientReport {
    /// A permanent failure: `Action: failed` with a `5.x.x` status (RFC 3463 §3.1: class 5 is
    /// "permanent failure"). A failure with a 4.x.x status (an MTA that gave up after its
    /// queue lifetime on temporary errors) is not proof the address is gone.
    pub fn is_hard_bounce(&self) -> bool {
        self.action == Action::Failed && self.status.starts_with("5.")
    }

    /// The event's description: the diagnostic (or the status when there is none), who
    /// reported it, and that it came after delivery.
    pub fn description(&self, reporting_mta: Option<&str>) -> String {
        let what = match &self.diagnostic {
            // `smtp; 550 …`: the type says how to read the rest; people need only the rest.
            Some(d) => d.split_once(';').map_or(d.as_str(), |(_, text)| text.trim()).to_owned(),
            None => format!("status {}", self.status),
        };
        let by = reporting_mta.or(self.remote_mta.as_deref()).unwrap_or("an MTA on the way");
        format!("{what} (reported after delivery by {by}, DSN status {})", self.status)
    }
}

/// Reads the DSN `message`.
pub fn parse(message: &[u8]) -> Result<DeliveryReport, DsnError> {
    let parsed = MessageParser::default().parse(message).ok_or(DsnError::NotAMessage)?;
    if parsed.headers().is_empty() {
        return Err(DsnError::NotAMessage);
    }
    let root = parsed.content_type();
    let is_report = root.is_some_and(|ct| {
        ct.ctype().eq_ignore_ascii_case("multipart")
            && ct.subtype().is_some_and(|s| s.eq_ignore_ascii_case("report"))
            // RFC 6522 makes `report-type` required; an MTA that leaves it out still says
            // "report", and the status part below decides.
            && ct.attribute("report-type").is_none_or(|t| {
                t.eq_ignore_ascii_case("delivery-status") || t.eq_ignore_ascii_case("global-delivery-status")
            })
    });
    if !is_report {
        let described = root.map_or_else(
            || "text/plain".to_owned(),
            |ct| format!("{}/{}", ct.ctype(), ct.subtype().unwrap_or("")).to_ascii_lowercase(),
        );
        return Err(DsnError::NotAReport(described));
    }
    // `parts` holds this message's own parts only (a quoted original is a nested message),
    // so a delivery-status part inside the quoted message is never taken for ours.
    let status = parsed
        .parts
        .iter()
        .find(|part| {
            part.content_type().is_some_and(|ct| {
                ct.ctype().eq_ignore_ascii_case("message")
                    && ct.subtype().is_some_and(|s| {
                        // RFC 6533 §6.1: the internationalised variant, same fields in UTF-8.
                        s.eq_ignore_ascii_case("delivery-status") || s.eq_ignore_ascii_case("global-delivery-status")
                    })
            })
        })
        .ok_or(DsnError::NoDeliveryStatus)?;
    parse_delivery_status(&String::from_utf8_lossy(status.contents()))
}

/// Reads the fields of a `message/delivery-status` body.
pub fn parse_delivery_status(body: &str) -> Result<DeliveryReport, DsnError> {
    let mut groups = field_groups(body).into_iter().peekable();
    let mut report = DeliveryReport { reporting_mta: None, recipients: Vec::new() };
    // The per-message group comes first (RFC 3464 §2.1); some MTAs leave it out, then the
    // first group already names a recipient.
    if let Some(first) = groups.peek()
        && field(first, "final-recipient").is_none()
    {
        report.reporting_mta = field(first, "reporting-mta").map(typed_value);
        groups.next();
    }
    for group in groups.take(MAX_RECIPIENTS) {
        if let Some(recipient) = recipient(&group) {
            report.recipients.push(recipient);
        }
    }
    if report.recipients.is_empty() {
        return Err(DsnError::NoRecipients);
    }
    Ok(report)
}

/// One recipient group, when it has the required fields.
fn recipient(group: &[(String, String)]) -> Option<RecipientReport> {
    let final_recipient = address(field(group, "final-recipient")?)?;
    let action = Action::parse(field(group, "action")?)?;
    let status = status_code(field(group, "status")?)?;
    Some(RecipientReport {
        final_recipient,
        original_recipient: field(group, "original-recipient").and_then(address),
        action,
        status,
        remote_mta: field(group, "remote-mta").map(typed_value),
        diagnostic: field(group, "diagnostic-code").map(|d| d.chars().take(MAX_DIAGNOSTIC).collect()),
    })
}

/// The first value of field `name` (case-insensitive) in `group`.
fn field<'a>(group: &'a [(String, String)], name: &str) -> Option<&'a str> {
    group.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// `type; value` → `value` (RFC 3464 §2.1.2: `address-type ";" generic-address`, also used
/// for MTA names as `mta-name-type ";" mta-name`).
fn typed_value(value: &str) -> String {
    value.split_once(';').map_or(value, |(_, v)| v).trim().to_owned()
}

/// An address field's address: the typed value without a trailing comment or angle brackets.
fn address(value: &str) -> Option<String> {
    let value = typed_value(value);
    let value = value.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    let value = value.trim_start_matches('<').trim_end_matches('>');
    (value.contains('@') && !value.starts_with('@') && !value.ends_with('@')).then(|| value.to_owned())
}

/// An RFC 3463 status code (`class.subject.detail`, class 2, 4 or 5), without a trailing
/// comment.
fn status_code(value: &str) -> Option<String> {
    let code = value.split(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    let mut parts = code.split('.');
    let class = parts.next()?;
    let numbers: Vec<&str> = parts.collect();
    let valid = matches!(class, "2" | "4" | "5")
        && numbers.len() == 2
        && numbers.iter().all(|n| (1..=3).contains(&n.len()) && n.bytes().all(|b| b.is_ascii_digit()));
    valid.then(|| code.to_owned())
}

/// The body's field groups: lines unfolded (RFC 5322 §2.2.3: a line starting with white space
/// continues the field above), groups split at empty lines; lines that are no field are
/// skipped.
fn field_groups(body: &str) -> Vec<Vec<(String, String)>> {
    let mut groups = Vec::new();
    let mut group: Vec<(String, String)> = Vec::new();
    for line in body.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            if !group.is_empty() {
                groups.push(std::mem::take(&mut group));
            }
        } else if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = group.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            group.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !group.is_empty() {
        groups.push(group);
    }
    groups
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A real bounce of Postfix 3.7 (Debian 12), captured: a message from
    /// `bounce+0123…@bounces.example.com` that Postfix had accepted as a relay, then refused
    /// with 550 5.1.1 at the next hop's RCPT. CRLF line ends, as received over SMTP.
    pub(crate) const POSTFIX_DSN: &str = include_str!("testdata/postfix-3.7.eml");

    /// Exim's RFC 3464 DSN (no per-message group fields beyond Reporting-MTA, `Action`
    /// first, `rfc822;` without a space, a catch-all 5.0.0), its delivery-status part
    /// base64-encoded as some gateways re-encode it, with a quoted original that itself
    /// carries a delivery-status part that must be ignored.
    const EXIM_DSN: &str = "From: Mail Delivery System <Mailer-Daemon@mx.exim.example>\r
To: bounce+fedcba9876543210fedcba9876543210@bounces.example.com\r
Subject: Mail delivery failed: returning message to sender\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary=1764493921-eximdsn-1804289383\r
\r
--1764493921-eximdsn-1804289383\r
Content-type: text/plain; charset=us-ascii\r
\r
This message was created automatically by mail delivery software.\r
\r
--1764493921-eximdsn-1804289383\r
Content-type: message/delivery-status\r
Content-Transfer-Encoding: base64\r
\r
UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGltLmV4YW1wbGUKCkFjdGlvbjogZmFpbGVkCkZpbmFs\r
LVJlY2lwaWVudDogcmZjODIyO0Jlbi5Hb25lQHJlY2lwaWVudC5leGFtcGxlClN0YXR1czogNS4w\r
LjAKUmVtb3RlLU1UQTogZG5zOyBteDIucmVjaXBpZW50LmV4YW1wbGUKRGlhZ25vc3RpYy1Db2Rl\r
OiBzbXRwOyA1NTAgNS4xLjEgPEJlbi5Hb25lQHJlY2lwaWVudC5leGFtcGxlPjogbWFpbGJveCB1\r
bmF2YWlsYWJsZQo=\r
\r
--1764493921-eximdsn-1804289383\r
Content-type: message/rfc822\r
\r
Message-ID: <fedcba9876543210fedcba9876543210@sealmail.example>\r
Content-Type: multipart/report; report-type=delivery-status; boundary=inner\r
\r
--inner\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; forged.example\r
\r
Final-Recipient: rfc822; forged@recipient.example\r
Action: failed\r
Status: 5.1.1\r
\r
--inner--\r
\r
--1764493921-eximdsn-1804289383--\r
";

    /// Gmail's DSN for an address that does not exist: per-message group with X- fields, a
    /// `Remote-MTA` with a comment, a diagnostic folded over three lines; plus a second
    /// recipient that was only delayed.
    const GMAIL_DSN: &str = "Return-Path: <>\r
From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r
To: bounce+00000000000000000000000000000001@bounces.example.com\r
Subject: Delivery Status Notification (Failure)\r
MIME-Version: 1.0\r
Content-Type: multipart/report; boundary=\"000000000000a1b2c3\"; report-type=delivery-status\r
\r
--000000000000a1b2c3\r
Content-Type: text/plain; charset=\"UTF-8\"\r
\r
Address not found\r
\r
--000000000000a1b2c3\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; googlemail.com\r
Received-From-MTA: dns; sender@example.org\r
Arrival-Date: Mon, 30 Nov 2026 01:02:03 -0800 (PST)\r
X-Original-Message-ID: <00000000000000000000000000000001@sealmail.example>\r
\r
Final-Recipient: rfc822; no.such.user@gmail.example\r
Action: failed\r
Status: 5.1.1\r
Remote-MTA: dns; gmail-smtp-in.l.google.com. (192.0.2.26, the server for the\r
 domain gmail.example.)\r
Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\r
 not exist. Please try 550-5.1.1 double-checking the recipient's email address\r
 for typos or 550-5.1.1 unnecessary spaces. 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser\r
Last-Attempt-Date: Mon, 30 Nov 2026 01:02:04 -0800 (PST)\r
\r
Final-Recipient: rfc822; slow@gmail.example\r
Action: delayed (still trying)\r
Status: 4.4.1 (connection timed out)\r
Will-Retry-Until: Thu, 03 Dec 2026 01:02:04 -0800 (PST)\r
\r
--000000000000a1b2c3\r
Content-Type: text/rfc822-headers\r
\r
Message-ID: <00000000000000000000000000000001@sealmail.example>\r
\r
--000000000000a1b2c3--\r
";

    #[test]
    fn a_postfix_bounce_reports_one_hard_failure() {
        let report = parse(POSTFIX_DSN.as_bytes()).unwrap();
        assert_eq!(report.reporting_mta.as_deref(), Some("relay.example.net"));
        assert_eq!(report.recipients.len(), 1);
        let r = &report.recipients[0];
        assert_eq!(r.final_recipient, "gone@recipient.example");
        assert_eq!(r.original_recipient.as_deref(), Some("gone@recipient.example"));
        assert_eq!((r.action, r.status.as_str()), (Action::Failed, "5.1.1"));
        assert_eq!(r.remote_mta.as_deref(), Some("127.0.0.1"));
        assert_eq!(
            r.diagnostic.as_deref(),
            Some(
                "smtp; 550 5.1.1 <gone@recipient.example>: Recipient address rejected: User unknown in virtual \
                 mailbox table"
            )
        );
        assert!(r.is_hard_bounce());
        assert_eq!(
            r.description(report.reporting_mta.as_deref()),
            "550 5.1.1 <gone@recipient.example>: Recipient address rejected: User unknown in virtual mailbox \
             table (reported after delivery by relay.example.net, DSN status 5.1.1)"
        );
    }

    #[test]
    fn an_exim_bounce_is_decoded_and_its_quoted_original_ignored() {
        let report = parse(EXIM_DSN.as_bytes()).unwrap();
        assert_eq!(report.reporting_mta.as_deref(), Some("mx.exim.example"));
        assert_eq!(report.recipients.len(), 1, "{report:?}");
        let r = &report.recipients[0];
        assert_eq!(r.final_recipient, "Ben.Gone@recipient.example");
        assert_eq!(r.status, "5.0.0");
        assert!(r.is_hard_bounce());
        assert!(r.description(None).starts_with("550 5.1.1 <Ben.Gone@recipient.example>: mailbox unavailable"));
    }

    #[test]
    fn a_gmail_report_separates_the_failure_from_the_delay() {
        let report = parse(GMAIL_DSN.as_bytes()).unwrap();
        assert_eq!(report.recipients.len(), 2);
        let (failed, delayed) = (&report.recipients[0], &report.recipients[1]);
        assert_eq!(failed.final_recipient, "no.such.user@gmail.example");
        assert!(failed.is_hard_bounce());
        let diagnostic = failed.diagnostic.as_deref().unwrap();
        assert!(diagnostic.starts_with("smtp; 550-5.1.1 The email account that you tried to reach does not exist."));
        assert!(diagnostic.ends_with("https://support.google.com/mail/?p=NoSuchUser"), "{diagnostic}");
        assert_eq!(
            failed.remote_mta.as_deref(),
            Some("gmail-smtp-in.l.google.com. (192.0.2.26, the server for the domain gmail.example.)")
        );
        assert_eq!((delayed.action, delayed.status.as_str()), (Action::Delayed, "4.4.1"));
        assert!(!delayed.is_hard_bounce());
    }

    #[test]
    fn only_failed_with_a_permanent_status_is_a_hard_bounce() {
        let body = |action: &str, status: &str| {
            format!(
                "Reporting-MTA: dns; m.example\n\nFinal-Recipient: rfc822; a@b.example\nAction: {action}\nStatus: {status}\n"
            )
        };
        let hard =
            |action, status| parse_delivery_status(&body(action, status)).unwrap().recipients[0].is_hard_bounce();
        assert!(hard("failed", "5.2.2"));
        assert!(hard("FAILED", "5.7.1 (policy)"));
        assert!(!hard("failed", "4.4.7"));
        assert!(!hard("delayed", "4.4.1"));
        assert!(!hard("delivered", "2.0.0"));
        assert!(!hard("relayed", "2.0.0"));
        assert!(!hard("expanded", "2.0.0"));
    }

    #[test]
    fn recipients_without_the_required_fields_are_skipped() {
        let body = "Reporting-MTA: dns; m.example\n\n\
                    Final-Recipient: rfc822; no-status@b.example\nAction: failed\n\n\
                    Final-Recipient: rfc822; bad-status@b.example\nAction: failed\nStatus: 5.1\n\n\
                    Final-Recipient: rfc822; bad-action@b.example\nAction: bounced\nStatus: 5.1.1\n\n\
                    Final-Recipient: rfc822; not-an-address\nAction: failed\nStatus: 5.1.1\n\n\
                    Final-Recipient: rfc822; <ok@b.example>\nAction: failed\nStatus: 5.1.1\n";
        let report = parse_delivery_status(body).unwrap();
        assert_eq!(report.recipients.len(), 1);
        assert_eq!(report.recipients[0].final_recipient, "ok@b.example");
        assert_eq!(parse_delivery_status("Reporting-MTA: dns; m.example\n"), Err(DsnError::NoRecipients));
        // No per-message group at all: the first group is a recipient.
        let bare =
            parse_delivery_status("Final-Recipient: rfc822; a@b.example\nAction: failed\nStatus: 5.1.1\n").unwrap();
        assert_eq!((bare.reporting_mta, bare.recipients.len()), (None, 1));
    }

    #[test]
    fn other_messages_are_no_dsn() {
        assert_eq!(parse(b""), Err(DsnError::NotAMessage));
        let auto_reply = "From: a@b.example\r\nSubject: Out of office\r\n\r\nBack on Monday.\r\n";
        assert_eq!(parse(auto_reply.as_bytes()), Err(DsnError::NotAReport("text/plain".into())));
        let receipt = POSTFIX_DSN.replace("report-type=delivery-status", "report-type=disposition-notification");
        assert!(matches!(parse(receipt.as_bytes()), Err(DsnError::NotAReport(_))));
        let no_status = POSTFIX_DSN.replace("Content-Type: message/delivery-status", "Content-Type: text/plain");
        assert_eq!(parse(no_status.as_bytes()), Err(DsnError::NoDeliveryStatus));
        // Garbage never panics.
        for junk in [&b"\0\xff\xfe:::\r\n\r\n--"[..], b"Content-Type: multipart/report\r\n\r\n--", &[0x80; 4096]] {
            let _ = parse(junk);
        }
    }
}
