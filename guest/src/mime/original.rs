//! The original message of one recipient block: its header section (From, To, Cc, Subject,
//! the request's header options) and its body, alternative and attachments, with the
//! sealed archive in place of the flagged attachments (DESIGN §3.3).
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
/// an alternative is multipart/alternative, and unflagged attachments plus the archive make
/// it multipart/mixed.
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
fn content(job: &Job, archive: Option<&SealedArchive<'_>>) -> Part {
    let body = &job.body.content;
    let body = match (job.body.content_type, &job.alternative) {
        // RFC 2046 §5.1.4: alternatives in increasing faithfulness, the plain text first.
        (BodyType::Html, Some(alternative)) => Part::multipart(
            "alternative",
            vec![
                Part::text("plain", &alternative.text, alternative.transfer_encoding.as_deref()),
                Part::text("html", &body.text, body.transfer_encoding.as_deref()),
            ],
        ),
        (BodyType::Html, None) => Part::text("html", &body.text, body.transfer_encoding.as_deref()),
        (BodyType::Plain, _) => Part::text("plain", &body.text, body.transfer_encoding.as_deref()),
    };
    let mut parts: Vec<Part> = job
        .attachments
        .iter()
        .filter(|a| !a.sealed)
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
}
