//! The original message of one recipient block: its header section (From, To, Cc, Subject,
//! the request's header options) and its body, alternative and attachments, with the
//! sealed archive in place of the flagged attachments (docs/secure-documents.md#flagging-attachments).
//!
//! Never writes `Bcc` (bcc recipients get the same bytes and must stay invisible,
//! RFC 5322 §3.6.3), and never writes a flagged attachment: without an archive those are
//! left out, not sent in the clear.

use super::date::rfc5322_date;
use super::header::{HeaderBlock, msg_id};
use super::part::Part;
use super::{Envelope, SealedArchive};
use crate::request::address::Mailbox;
use crate::request::model::{BodyType, HeaderOptions, Job, Priority, RecipientBlock};

/// Renders the original message of one recipient block.
///
/// Header fields: `Date`, `From` (`job.header_from`), `Reply-To`, `To`, `Cc`, `Subject`,
/// `Message-ID`, `In-Reply-To` and `References`, `X-Priority` and `Importance`,
/// `List-Unsubscribe` (+ `List-Unsubscribe-Post` for an https URI, RFC 8058), the request's
/// `X-` headers, `MIME-Version`. The block's header options override the job's field by
/// field (`xHeaders` name by name). The body is text/plain or text/html, an HTML body with
/// an alternative is multipart/alternative, an HTML body with the images it refers to by
/// `cid:` is multipart/related, and the other unflagged attachments plus the archive make it
/// multipart/mixed.
pub fn render_original(
    job: &Job,
    block: &RecipientBlock,
    archive: Option<&SealedArchive<'_>>,
    envelope: &Envelope<'_>,
) -> Vec<u8> {
    let options = EffectiveOptions::merge(&job.headers, &block.headers);
    let mut h = HeaderBlock::new();
    h.structured("Date", &rfc5322_date(envelope.date_unix_ms));
    h.mailboxes("From", [&job.header_from]);
    if let Some(reply_to) = options.reply_to {
        h.mailboxes("Reply-To", [reply_to]);
    }
    if block.to.is_empty() && block.cc.is_empty() {
        // Only bcc recipients: RFC 5322 §A.1.3's empty group says so without naming them.
        h.structured("To", "undisclosed-recipients:;");
    }
    h.mailboxes("To", &block.to);
    h.mailboxes("Cc", &block.cc);
    h.unstructured("Subject", &job.subject.text);
    h.structured("Message-ID", &msg_id(envelope.message_id));
    if let Some(id) = options.in_reply_to {
        // RFC 5322 §3.6.4: a reply SHOULD carry References too, for threading.
        let id = msg_id(id);
        h.structured("In-Reply-To", &id);
        h.structured("References", &id);
    }
    if let Some(priority) = options.priority {
        // X-Priority is what Outlook and Thunderbird read; Importance is RFC 2156 §5.3.
        let (x_priority, importance) = match priority {
            Priority::High => ("1", "high"),
            Priority::Normal => ("3", "normal"),
            Priority::Low => ("5", "low"),
        };
        h.structured("X-Priority", x_priority);
        h.structured("Importance", importance);
    }
    if let Some(uris) = options.list_unsubscribe {
        // RFC 2369 §3.2; the validator gives `<uri>, <uri>`.
        h.structured("List-Unsubscribe", uris);
        if uris.to_ascii_lowercase().contains("<https://") {
            // RFC 8058 §3.1: one-click unsubscription needs an HTTPS URI and this field.
            h.structured("List-Unsubscribe-Post", "List-Unsubscribe=One-Click");
        }
    }
    for (name, value) in &options.x_headers {
        let ours = name.eq_ignore_ascii_case("X-Priority") && options.priority.is_some();
        if is_x_header_name(name) && !ours {
            h.unstructured(name, value);
        }
    }
    h.structured("MIME-Version", "1.0");
    content(job, archive).write_message(&h, envelope.boundary_seed)
}

/// The body part(s) and the attachments as one entity.
///
/// An HTML body and the attachments it shows by `cid:` URL (RFC 2392) form a
/// `multipart/related` (RFC 2387) in the HTML's place; those attachments go inline. Every
/// other attachment, and all of them with a text/plain body, stay in `multipart/mixed`:
///
/// ```text
/// mixed [ alternative [ text/plain, related [ text/html, image… ] ], attachment… ]
/// ```
fn content(job: &Job, archive: Option<&SealedArchive<'_>>) -> Part {
    let body = &job.body.content;
    let referenced = match job.body.content_type {
        BodyType::Html => cid_references(&body.text),
        BodyType::Plain => Vec::new(),
    };
    // Sealed attachments never reach the message in the clear (and the validator has
    // dropped their contentId already): only the archive stands for them.
    let (inline, attached): (Vec<_>, Vec<_>) = job
        .attachments
        .iter()
        .filter(|a| !a.sealed)
        .partition(|a| a.content_id.as_deref().is_some_and(|id| referenced.iter().any(|r| same_content_id(r, id))));
    let html = || {
        let html = Part::text("html", &body.text, body.transfer_encoding.as_deref());
        if inline.is_empty() {
            return html;
        }
        let images = inline
            .iter()
            .filter_map(|a| Some(Part::inline(&a.content_type, &a.name, &a.content, a.content_id.as_deref()?)))
            .collect();
        Part::related("text/html", html, images)
    };
    let body = match (job.body.content_type, &job.alternative) {
        // RFC 2046 §5.1.4: alternatives in increasing faithfulness, the plain text first.
        (BodyType::Html, Some(alternative)) => Part::multipart(
            "alternative",
            vec![Part::text("plain", &alternative.text, alternative.transfer_encoding.as_deref()), html()],
        ),
        (BodyType::Html, None) => html(),
        (BodyType::Plain, _) => Part::text("plain", &body.text, body.transfer_encoding.as_deref()),
    };
    let mut parts: Vec<Part> = attached
        .iter()
        .map(|a| Part::attachment(&a.content_type, &a.name, &a.content, a.content_id.as_deref()))
        .collect();
    if let Some(archive) = archive {
        parts.push(Part::attachment("application/zip", archive.file_name, archive.bytes, None));
    }
    if parts.is_empty() {
        body
    } else {
        parts.insert(0, body);
        Part::multipart("mixed", parts)
    }
}

/// The Content-IDs an HTML text refers to by `cid:` URL (RFC 2392 §2: `cid:` followed by
/// the percent-encoded addr-spec, without angle brackets), decoded, in order of appearance.
/// The scheme is matched ignoring case; the URL ends where an attribute value or CSS
/// `url(…)` would end it.
fn cid_references(html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = lower[from..].find("cid:") {
        let start = from + at + 4;
        // A scheme starts a URL: `acid:` or `x-cid:` in text is not one (RFC 3986 §3.1).
        let scheme_char = |b: u8| b.is_ascii_alphanumeric() || b"+-.".contains(&b);
        if (from + at).checked_sub(1).is_some_and(|before| scheme_char(lower.as_bytes()[before])) {
            from = start;
            continue;
        }
        let end =
            html[start..].find(|c: char| c.is_whitespace() || "\"'()<>".contains(c)).map_or(html.len(), |n| start + n);
        let url = percent_decode(&html[start..end]);
        if !url.is_empty() && !found.contains(&url) {
            found.push(url);
        }
        from = end.max(start);
    }
    found
}

/// `%hh` escapes decoded (RFC 3986 §2.1); a `%` not followed by two hex digits stays.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a `cid:` URL's id names the attachment whose `contentId` is `content_id` (given
/// with or without angle brackets). RFC 2392 compares the addr-spec; the domain part is
/// case-insensitive (RFC 5321 §2.4), the local part is compared as written.
fn same_content_id(url_id: &str, content_id: &str) -> bool {
    let id = content_id.trim().trim_start_matches('<').trim_end_matches('>');
    match (url_id.rsplit_once('@'), id.rsplit_once('@')) {
        (Some((l1, d1)), Some((l2, d2))) => l1 == l2 && d1.eq_ignore_ascii_case(d2),
        _ => url_id == id,
    }
}

/// Header options with the block's overrides applied.
struct EffectiveOptions<'a> {
    reply_to: Option<&'a Mailbox>,
    in_reply_to: Option<&'a str>,
    priority: Option<Priority>,
    list_unsubscribe: Option<&'a str>,
    x_headers: Vec<(&'a str, &'a str)>,
}

impl<'a> EffectiveOptions<'a> {
    /// Each field of `block` that is set replaces the job's; `xHeaders` are merged by name
    /// (ignoring case): the block's value takes the job's place, the block's other headers
    /// follow the job's.
    fn merge(job: &'a HeaderOptions, block: &'a HeaderOptions) -> Self {
        let from_block =
            |name: &str| block.x_headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
        let mut x_headers: Vec<(&str, &str)> =
            job.x_headers.iter().map(|(n, v)| (n.as_str(), from_block(n).unwrap_or(v.as_str()))).collect();
        for (name, value) in &block.x_headers {
            if !x_headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                x_headers.push((name, value));
            }
        }
        Self {
            reply_to: block.reply_to.as_ref().or(job.reply_to.as_ref()),
            in_reply_to: block.in_reply_to.as_deref().or(job.in_reply_to.as_deref()),
            priority: block.priority.or(job.priority),
            list_unsubscribe: block.list_unsubscribe.as_deref().or(job.list_unsubscribe.as_deref()),
            x_headers,
        }
    }
}

/// The validator's rule for `xHeaders` names, checked again so that the renderer on its own
/// can never be made to write `Bcc`, `Content-Type` or a broken field: `X-` and RFC 5322
/// §3.6.8 ftext (printable ASCII but `:`), short enough to leave room for a value.
fn is_x_header_name(name: &str) -> bool {
    name.len() > 2
        && name.len() <= 76
        && name[..2].eq_ignore_ascii_case("X-")
        && name.bytes().all(|b| b.is_ascii_graphic() && b != b':')
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use mail_parser::{Address, HeaderForm, MessageParser, MimeHeaders, PartType};

    use super::*;
    use crate::mime::test_support::{assert_wire_format, header};
    use crate::request::{Limits, validate};

    const ENVELOPE: Envelope<'static> = Envelope {
        message_id: "abc123.XYZ@sealmail.example",
        date_unix_ms: 1_795_950_840_123,
        boundary_seed: "abc123.XYZ",
    };

    const SECURE_REQUEST: &str = r#"{
        "mail": {"from": {"email": "Sender <s@example.com>"}},
        "subject": {"content": "Grüße – Ihr Vertrag"},
        "body": {"contentType": "text/html", "content": "<p>Hallo Jörg,</p>\n<p>anbei der Vertrag.</p>"},
        "alternative": {"content": "Hallo Jörg,\nanbei der Vertrag."},
        "attachments": [
            {"name": "plain.txt", "contentType": "text/plain", "content": "aGVsbG8="},
            {"name": "vertrag ä.pdf", "contentType": "application/pdf", "content": "JVBERi0=", "secureDocument": true},
            {"name": "Ünïcödé – Logo.png", "contentType": "image/png", "contentId": "logo@example.com", "content": "iVBORw0KGgo="}
        ],
        "recipients": [{"mail": {
            "to": [{"email": "Jane Doe <jane@example.org>"}, {"email": "\"Doe, John\" <john@example.org>"}],
            "cc": [{"email": "c@example.org"}],
            "bcc": [{"email": "b@example.org"}]
        }}],
        "job": {"features": {"antivirus": {"active": true}, "secureDocument": {"active": true}}}
    }"#;

    fn job(json: &str) -> Job {
        match validate(json.as_bytes(), &Limits::default()) {
            Ok(v) => v.job,
            Err(problems) => panic!("request refused: {problems:?}"),
        }
    }

    fn names(address: Option<&Address<'_>>) -> Vec<(Option<String>, String)> {
        address
            .map(|a| {
                a.iter().map(|a| (a.name().map(str::to_owned), a.address().unwrap_or_default().to_owned())).collect()
            })
            .unwrap_or_default()
    }

    /// The structure of a parsed message as `type/subtype` per part, depth-first.
    fn outline(message: &mail_parser::Message<'_>) -> Vec<String> {
        fn walk(m: &mail_parser::Message<'_>, id: u32, depth: usize, out: &mut Vec<String>) {
            let part = m.part(id).unwrap();
            let ct = part.content_type().unwrap();
            out.push(format!("{}{}/{}", "  ".repeat(depth), ct.ctype(), ct.subtype().unwrap_or("")));
            if let PartType::Multipart(children) = &part.body {
                for &child in children {
                    walk(m, child, depth + 1, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(message, 0, 0, &mut out);
        out
    }

    #[test]
    fn secure_message_parses_back_with_everything_in_place() {
        let job = job(SECURE_REQUEST);
        let zip = b"PK\x03\x04 not really a zip \x00\xff";
        let archive = SealedArchive { file_name: "Verträge für Jörg.zip", bytes: zip };
        let bytes = render_original(&job, &job.blocks[0], Some(&archive), &ENVELOPE);
        assert_wire_format(&bytes);
        let raw = String::from_utf8(bytes.clone()).unwrap();
        assert!(!raw.to_ascii_lowercase().contains("\r\nbcc:"), "{raw}");
        assert!(!raw.contains("b@example.org"));

        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.subject(), Some("Grüße – Ihr Vertrag"));
        assert_eq!(names(m.from()), [(Some("Sender".into()), "s@example.com".into())]);
        assert_eq!(
            names(m.to()),
            [
                (Some("Jane Doe".into()), "jane@example.org".into()),
                (Some("Doe, John".into()), "john@example.org".into())
            ]
        );
        assert_eq!(names(m.cc()), [(None, "c@example.org".into())]);
        assert!(m.bcc().is_none());
        assert_eq!(m.message_id(), Some("abc123.XYZ@sealmail.example"));
        let date = m.date().unwrap();
        assert_eq!((date.year, date.month, date.day, date.hour, date.minute, date.second), (2026, 11, 29, 11, 14, 0));
        assert_eq!(header(&bytes, "Date").unwrap(), "Sun, 29 Nov 2026 11:14:00 +0000");
        assert_eq!(header(&bytes, "MIME-Version").unwrap(), "1.0");

        assert_eq!(
            outline(&m),
            [
                "multipart/mixed",
                "  multipart/alternative",
                "    text/plain",
                "    text/html",
                "  text/plain",
                "  image/png",
                "  application/zip"
            ]
        );
        // Text parts travel in canonical form: CRLF line breaks (RFC 2046 §4.1.1).
        assert_eq!(m.body_text(0).unwrap(), "Hallo Jörg,\r\nanbei der Vertrag.");
        assert_eq!(m.body_html(0).unwrap(), "<p>Hallo Jörg,</p>\r\n<p>anbei der Vertrag.</p>");

        let attachments: Vec<_> = m.attachments().collect();
        assert_eq!(attachments.len(), 3);
        assert_eq!(attachments[0].attachment_name(), Some("plain.txt"));
        assert_eq!(attachments[0].contents(), b"hello");
        assert_eq!(attachments[1].attachment_name(), Some("Ünïcödé – Logo.png"));
        assert_eq!(attachments[1].contents(), STANDARD.decode("iVBORw0KGgo=").unwrap());
        assert_eq!(attachments[1].content_id(), Some("logo@example.com"));
        assert_eq!(attachments[2].attachment_name(), Some("Verträge für Jörg.zip"));
        assert_eq!(attachments[2].contents(), zip);
        // The flagged attachment is nowhere, neither its name nor its bytes.
        assert!(!attachments.iter().any(|a| a.attachment_name().is_some_and(|n| n.contains("vertrag"))));
        assert!(!raw.contains("JVBERi0"));
        assert!(!raw.contains("vertrag%20"));
    }

    #[test]
    fn rendering_is_deterministic() {
        let job = job(SECURE_REQUEST);
        let archive = SealedArchive { file_name: "documents.zip", bytes: b"zip" };
        let a = render_original(&job, &job.blocks[0], Some(&archive), &ENVELOPE);
        let b = render_original(&job, &job.blocks[0], Some(&archive), &ENVELOPE);
        assert_eq!(a, b);
    }

    #[test]
    fn sealed_attachments_without_an_archive_are_left_out() {
        let job = job(SECURE_REQUEST);
        let bytes = render_original(&job, &job.blocks[0], None, &ENVELOPE);
        let m = MessageParser::default().parse(&bytes).unwrap();
        let names: Vec<_> = m.attachments().filter_map(|a| a.attachment_name()).collect();
        assert_eq!(names, ["plain.txt", "Ünïcödé – Logo.png"]);
    }

    #[test]
    fn plain_message_without_attachments_is_a_single_part() {
        let job = job(r#"{"mail": {"from": {"email": "s@example.com"}}, "subject": {"content": "Hello"},
                "body": {"content": "Hi there.\n.\nFrom me = you\n"},
                "recipients": [{"mail": {"bcc": [{"email": "hidden@example.org"}]}}]}"#);
        let bytes = render_original(&job, &job.blocks[0], None, &ENVELOPE);
        assert_wire_format(&bytes);
        let raw = String::from_utf8(bytes.clone()).unwrap();
        assert!(raw.contains("\r\nContent-Type: text/plain; charset=utf-8\r\n"));
        assert!(raw.contains("\r\nContent-Transfer-Encoding: quoted-printable\r\n"));
        assert!(!raw.contains("boundary"));
        assert!(!raw.contains("hidden@example.org"));
        assert_eq!(header(&bytes, "To").unwrap(), "undisclosed-recipients:;");
        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.body_text(0).unwrap(), "Hi there.\r\n.\r\nFrom me = you\r\n");
        assert!(raw.contains("\r\n=2E\r\n=46rom me =3D you\r\n"), "{raw}");
    }

    #[test]
    fn html_without_alternative_and_requested_transfer_encodings() {
        let job = job(r#"{"mail": {"from": {"email": "s@example.com"}}, "subject": {"content": "Hello"},
                "body": {"contentType": "text/html", "content": "<p>Grüße</p>", "contentTransferEncoding": "base64"},
                "recipients": [{"mail": {"to": [{"email": "t@example.org"}]}}]}"#);
        let bytes = render_original(&job, &job.blocks[0], None, &ENVELOPE);
        assert_wire_format(&bytes);
        assert_eq!(header(&bytes, "Content-Type").unwrap(), "text/html; charset=utf-8");
        assert_eq!(header(&bytes, "Content-Transfer-Encoding").unwrap(), "base64");
        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.body_html(0).unwrap(), "<p>Grüße</p>");
    }

    #[test]
    fn header_options_block_overrides_job_field_by_field() {
        let job = job(r#"{"mail": {"from": {"email": "Sender <s@example.com>"},
                    "replyTo": {"email": "Support <support@example.com>"},
                    "inReplyTo": "orig.1@example.com", "priority": "high",
                    "listUnsubscribe": "mailto:u@example.com",
                    "xHeaders": {"X-Campaign": "nov", "X-Mailer-Id": "a\tb", "X-Other": "job"}},
                "subject": {"content": "Hello"}, "body": {"content": "Hi"},
                "recipients": [{"mail": {"to": [{"email": "t@example.org"}], "priority": "LOW",
                    "listUnsubscribe": "<https://example.com/u?id=1>, mailto:u@example.com",
                    "xHeaders": {"x-campaign": "dec", "X-Block": "Grüße aus Köln"}}}]}"#);
        let bytes = render_original(&job, &job.blocks[0], None, &ENVELOPE);
        assert_wire_format(&bytes);
        assert_eq!(header(&bytes, "Reply-To").unwrap(), "Support <support@example.com>");
        assert_eq!(header(&bytes, "In-Reply-To").unwrap(), "<orig.1@example.com>");
        assert_eq!(header(&bytes, "References").unwrap(), "<orig.1@example.com>");
        assert_eq!(header(&bytes, "X-Priority").unwrap(), "5");
        assert_eq!(header(&bytes, "Importance").unwrap(), "low");
        assert_eq!(header(&bytes, "List-Unsubscribe").unwrap(), "<https://example.com/u?id=1>, <mailto:u@example.com>");
        assert_eq!(header(&bytes, "List-Unsubscribe-Post").unwrap(), "List-Unsubscribe=One-Click");
        assert_eq!(header(&bytes, "X-Campaign").unwrap(), "dec");
        assert_eq!(header(&bytes, "X-Mailer-Id").unwrap(), "a\tb");
        assert_eq!(header(&bytes, "X-Other").unwrap(), "job");
        let m = MessageParser::default().parse(&bytes).unwrap();
        let x_block = m.header_as("X-Block", HeaderForm::Text);
        assert_eq!(x_block.first().and_then(|v| v.as_text()), Some("Grüße aus Köln"));
        assert_eq!(names(m.reply_to()), [(Some("Support".into()), "support@example.com".into())]);
        assert_eq!(m.in_reply_to().as_text(), Some("orig.1@example.com"));
    }

    #[test]
    fn mailto_only_unsubscribe_has_no_one_click_field() {
        let job = job(r#"{"mail": {"from": {"email": "s@example.com"}, "listUnsubscribe": "u@example.com"},
                "subject": {"content": "Hello"}, "body": {"content": "Hi"},
                "recipients": [{"mail": {"to": [{"email": "t@example.org"}]}}]}"#);
        let bytes = render_original(&job, &job.blocks[0], None, &ENVELOPE);
        assert_eq!(header(&bytes, "List-Unsubscribe").unwrap(), "<mailto:u@example.com>");
        assert_eq!(header(&bytes, "List-Unsubscribe-Post"), None);
    }

    #[test]
    fn long_subjects_and_many_recipients_fold_and_round_trip() {
        let subject = format!("{} Ende", "Überweisung für Müller & Söhne, Rechnung 2026-11 ".repeat(9));
        let subject = subject.chars().take(500).collect::<String>();
        let to: Vec<String> =
            (0..40).map(|i| format!(r#"{{"email": "Empfänger Nummer {i} <r{i}@example.org>"}}"#)).collect();
        let request = format!(
            r#"{{"mail": {{"from": {{"email": "s@example.com"}}}}, "subject": {{"content": {subject:?}}},
                "body": {{"content": {body:?}}}, "recipients": [{{"mail": {{"to": [{to}]}}}}]}}"#,
            body = "x".repeat(5000),
            to = to.join(","),
        );
        let job = job(&request);
        let bytes = render_original(&job, &job.blocks[0], None, &ENVELOPE);
        assert_wire_format(&bytes);
        let raw = String::from_utf8(bytes.clone()).unwrap();
        let head = raw.split("\r\n\r\n").next().unwrap();
        assert!(head.split("\r\n").all(|l| l.len() <= 78), "{head}");
        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.subject(), Some(subject.as_str()));
        let got = names(m.to());
        assert_eq!(got.len(), 40);
        assert_eq!(got[39], (Some("Empfänger Nummer 39".into()), "r39@example.org".into()));
        assert_eq!(m.body_text(0).unwrap(), "x".repeat(5000));
    }

    #[test]
    fn every_valid_request_renders_to_a_well_formed_message() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/requests/valid");
        let entries = std::fs::read_dir(dir).expect("tests/requests/valid");
        let mut rendered = 0;
        for entry in entries {
            let path = entry.unwrap().path();
            let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            // The corpus format of tests/src/lib.rs: `request`, `requestText` or `requestBase64`.
            let request = match (&doc["request"], doc["requestText"].as_str(), doc["requestBase64"].as_str()) {
                (serde_json::Value::Object(_), _, _) => serde_json::to_vec(&doc["request"]).unwrap(),
                (_, Some(text), _) => text.as_bytes().to_vec(),
                (_, _, Some(b64)) => STANDARD.decode(b64).unwrap(),
                _ => panic!("{path:?}: no request"),
            };
            let job = validate(&request, &Limits::default()).unwrap_or_else(|p| panic!("{path:?}: {p:?}")).job;
            let archive = SealedArchive { file_name: "documents.zip", bytes: b"zip" };
            for block in &job.blocks {
                let bytes = render_original(&job, block, Some(&archive), &ENVELOPE);
                assert_wire_format(&bytes);
                let m = MessageParser::default().parse(&bytes).unwrap_or_else(|| panic!("{path:?}"));
                // Readers trim the unfolded value (030 has "  Invoice\t42  ").
                assert_eq!(m.subject().map(str::trim), Some(job.subject.text.trim()), "{path:?}");
                assert!(m.bcc().is_none());
                rendered += 1;
            }
        }
        assert!(rendered >= 30, "only {rendered} messages rendered");
    }

    /// An HTML body showing `logo` by `cid:`, an unreferenced image with a Content-ID, a
    /// plain attachment and a sealed one whose Content-ID the HTML names too.
    fn inline_request(alternative: bool, content_type: &str) -> String {
        let alternative = if alternative { r#""alternative": {"content": "Hallo"},"# } else { "" };
        format!(
            r#"{{"mail": {{"from": {{"email": "s@example.com"}}}}, "subject": {{"content": "Logo"}},
            "body": {{"contentType": "{content_type}",
                "content": "<p><img src=\"CID:Logo%40Example.COM\"> <span style='background:url(cid:sealed@example.com)'>x</span></p>"}},
            {alternative}
            "attachments": [
                {{"name": "notes.txt", "contentType": "text/plain", "content": "aGVsbG8="}},
                {{"name": "Lögo.png", "contentType": "image/png", "contentId": "<Logo@example.com>", "content": "iVBORw0KGgoAAP8="}},
                {{"name": "unused.gif", "contentType": "image/gif", "contentId": "unused@example.com", "content": "R0lGODlh"}},
                {{"name": "secret.pdf", "contentType": "application/pdf", "contentId": "sealed@example.com", "content": "JVBERi0=", "secureDocument": true}}
            ],
            "recipients": [{{"mail": {{"to": [{{"email": "t@example.org"}}]}}}}],
            "job": {{"features": {{"antivirus": {{"active": true}}, "secureDocument": {{"active": true}}}}}}}}"#
        )
    }

    /// The raw header section of the part at `id`, unfolded, lower-cased names kept as written.
    fn part_headers(bytes: &[u8], m: &mail_parser::Message<'_>, id: u32) -> String {
        let part = m.part(id).unwrap();
        String::from_utf8_lossy(&bytes[part.raw_header_offset() as usize..part.raw_body_offset() as usize])
            .replace("\r\n ", " ")
    }

    #[test]
    fn html_with_cid_images_is_multipart_related_inside_alternative_inside_mixed() {
        let job = job(&inline_request(true, "text/html"));
        let archive = SealedArchive { file_name: "documents.zip", bytes: b"zip" };
        let bytes = render_original(&job, &job.blocks[0], Some(&archive), &ENVELOPE);
        assert_wire_format(&bytes);
        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(
            outline(&m),
            [
                "multipart/mixed",
                "  multipart/alternative",
                "    text/plain",
                "    multipart/related",
                "      text/html",
                "      image/png",
                "  text/plain",
                "  image/gif",
                "  application/zip"
            ]
        );
        // Part ids in mail-parser's depth-first order: 0 mixed, 1 alternative, 2 plain,
        // 3 related, 4 html, 5 png.
        let related = m.part(3).unwrap().content_type().unwrap();
        assert_eq!(related.attribute("type"), Some("text/html"), "RFC 2387 §3.1 type parameter");
        let png = m.part(5).unwrap();
        assert_eq!(png.content_id(), Some("Logo@example.com"));
        assert_eq!(png.content_disposition().map(|d| d.ctype()), Some("inline"));
        assert_eq!(png.attachment_name(), Some("Lögo.png"));
        assert_eq!(png.contents(), STANDARD.decode("iVBORw0KGgoAAP8=").unwrap());
        let headers = part_headers(&bytes, &m, 5);
        assert!(headers.contains("Content-ID: <Logo@example.com>\r\n"), "{headers}");
        // The unreferenced image stays an attachment, Content-ID and all.
        let gif = m.part(7).unwrap();
        assert_eq!(gif.content_disposition().map(|d| d.ctype()), Some("attachment"));
        assert_eq!(gif.content_id(), Some("unused@example.com"));
        // The sealed file's Content-ID was dropped by the validator: referenced or not, it
        // never comes back as a part.
        assert!(!String::from_utf8_lossy(&bytes).contains("<sealed@example.com>"));
        assert_eq!(
            m.body_html(0).unwrap().matches("cid:").count() + m.body_html(0).unwrap().matches("CID:").count(),
            2
        );
    }

    #[test]
    fn html_without_alternative_puts_related_first_in_mixed_or_alone() {
        let job = job(&inline_request(false, "text/html"));
        let bytes = render_original(&job, &job.blocks[0], None, &ENVELOPE);
        assert_wire_format(&bytes);
        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(
            outline(&m),
            ["multipart/mixed", "  multipart/related", "    text/html", "    image/png", "  text/plain", "  image/gif"]
        );

        // Only the inline image: no multipart/mixed around the related part.
        let alone = job_with_only_the_logo();
        let bytes = render_original(&alone, &alone.blocks[0], None, &ENVELOPE);
        assert_wire_format(&bytes);
        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(outline(&m), ["multipart/related", "  text/html", "  image/png"]);
        assert_eq!(m.part(2).unwrap().contents(), STANDARD.decode("iVBORw0KGgoAAP8=").unwrap());
    }

    fn job_with_only_the_logo() -> Job {
        let mut job = job(&inline_request(false, "text/html"));
        job.attachments.retain(|a| a.name == "Lögo.png");
        job
    }

    #[test]
    fn a_plain_text_body_keeps_every_attachment_in_mixed() {
        let job = job(&inline_request(true, "text/plain"));
        let bytes = render_original(&job, &job.blocks[0], None, &ENVELOPE);
        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(outline(&m), ["multipart/mixed", "  text/plain", "  text/plain", "  image/png", "  image/gif"]);
        assert_eq!(m.part(3).unwrap().content_disposition().map(|d| d.ctype()), Some("attachment"));
    }

    #[test]
    fn cid_urls_are_found_decoded_and_compared_like_addresses() {
        let html = r#"<img src="cid:a%40b.example"><img src='CID:c@d.example'>
            <div style="background: url(cid:e@f.example)"></div> cid: cid:a@b.example <a href="x">cid:g@h</a> lucid:i@j"#;
        assert_eq!(cid_references(html), ["a@b.example", "c@d.example", "e@f.example", "g@h"]);
        assert!(same_content_id("a@B.Example", "<a@b.example>"));
        assert!(!same_content_id("A@b.example", "a@b.example"), "the local part is case-sensitive");
        assert!(same_content_id("plain-id", "plain-id"));
        assert_eq!(percent_decode("x%2"), "x%2");
        assert_eq!(percent_decode("%C3%BC%zz"), "ü%zz");
    }
}
