//! The `mime` target: what the validator accepts, rendered as the workflow renders it
//! (templates personalized per block, the sealed archive in place of flagged attachments),
//! then checked on the wire ([`super::wire::check_message`]).

use serde_json::{Map, Value, json};

use super::input::Fields;
use super::validate::check_job;
use super::wire::{check_message, check_single_part_body, check_unstructured};
use crate::mime::{
    Envelope, PasswordMail, SealedArchive, password_mail_subject, render_original, render_password_mail,
};
use crate::request::{Limits, validate};
use crate::workflow::personalize;

const ENVELOPE: Envelope<'static> = Envelope {
    message_id: "fuzz.0123456789@sealmail.example",
    date_unix_ms: 1_764_460_800_000,
    boundary_seed: "fuzz0123",
};

/// Renders every message a request becomes and checks each one.
///
/// Input: a JSON JobRequest (anything starting with `{` or a byte order mark), or fields separated by 0x1E that
/// fill a request skeleton (see [`structured_request`]), so that most inputs pass
/// validation and the fuzzer spends its time in the renderer. For an accepted request,
/// every block's original message (personalized, with an archive when secure) and one
/// password mail per visible and hidden recipient pass [`check_message`], rendering is
/// deterministic, a single-part message's body decodes back to the body text
/// ([`check_single_part_body`]), the `Subject` reads back as given ([`check_unstructured`]),
/// and the password mail holds the password as one unbroken token.
pub fn mime_target(data: &[u8]) {
    let request = mime_request(data);
    let Ok(validated) = validate(&request, &Limits::default()) else { return };
    let job = &validated.job;
    check_job(job);
    // Not a real archive: the renderer only base64-encodes the bytes and names the file.
    let archive_bytes: Vec<u8> = (0..=255u8).chain(b"PK\x03\x04".iter().copied()).collect();
    for block in &job.blocks {
        let Ok(personal) = personalize(job, block) else {
            panic!("a validated job failed to personalize");
        };
        let archive =
            job.secure_document.as_ref().map(|s| SealedArchive { file_name: &s.archive_name, bytes: &archive_bytes });
        let message = render_original(&personal, block, archive.as_ref(), &ENVELOPE);
        check_message(&message);
        check_single_part_body(&message, &personal.body.content.text);
        check_unstructured(&message, "Subject", &personal.subject.text);
        assert_eq!(
            message,
            render_original(&personal, block, archive.as_ref(), &ENVELOPE),
            "rendering is not deterministic"
        );

        let Some(secure) = &job.secure_document else { continue };
        let subject = password_mail_subject(&secure.subject_prefix, &personal.subject.text);
        for to in block.to.iter().chain(&block.cc).chain(&block.bcc) {
            let mail = PasswordMail {
                from: &job.header_from,
                to,
                subject: &subject,
                password: "Fz9kQ2xW7pLm4RtA",
                archive_name: &secure.archive_name,
                original_message_id: ENVELOPE.message_id,
            };
            let message = render_password_mail(&mail, &ENVELOPE);
            check_message(&message);
            check_unstructured(&message, "Subject", &subject);
            let text = String::from_utf8_lossy(&message);
            assert!(text.contains("Fz9kQ2xW7pLm4RtA"), "the password is not intact in the password mail:\n{text}");
        }
    }
}

/// Field numbers of the structured input (0x1E-separated).
mod field {
    pub(super) const FLAGS: usize = 0;
    pub(super) const SUBJECT: usize = 1;
    pub(super) const BODY: usize = 2;
    pub(super) const ALTERNATIVE: usize = 3;
    pub(super) const FROM_NAME: usize = 4;
    pub(super) const TO_NAME: usize = 5;
    pub(super) const CC_NAME: usize = 6;
    pub(super) const ATTACHMENT_NAME: usize = 7;
    pub(super) const ATTACHMENT_TYPE: usize = 8;
    pub(super) const X_HEADER_NAME: usize = 9;
    pub(super) const X_HEADER_VALUE: usize = 10;
    pub(super) const IN_REPLY_TO: usize = 11;
    pub(super) const LIST_UNSUBSCRIBE: usize = 12;
    pub(super) const VAR_NAME: usize = 13;
    pub(super) const VAR_VALUE: usize = 14;
    pub(super) const SUBJECT_PREFIX: usize = 15;
    pub(super) const ARCHIVE_NAME: usize = 16;
    pub(super) const TO_LOCAL: usize = 17;
    pub(super) const ATTACHMENT_BYTES: usize = 18;
    pub(super) const CONTENT_ID: usize = 19;
}

/// Flag bits of field 0.
mod flag {
    pub(super) const HTML: usize = 0;
    pub(super) const ALTERNATIVE: usize = 1;
    pub(super) const TEMPLATING: usize = 2;
    pub(super) const SECURE: usize = 3;
    pub(super) const CC: usize = 4;
    pub(super) const BCC_ONLY: usize = 5;
    pub(super) const ATTACHMENT: usize = 6;
    pub(super) const SEALED: usize = 7;
    pub(super) const REPLY_TO: usize = 8;
    pub(super) const PRIORITY: usize = 9;
    pub(super) const TRANSFER_LO: usize = 10;
    pub(super) const TRANSFER_HI: usize = 11;
    pub(super) const SUBJECT_QP: usize = 12;
    pub(super) const SECOND_BLOCK: usize = 13;
    pub(super) const BODY_BASE64: usize = 14;
}

/// The JobRequest [`mime_target`] makes of `data`: `data` itself when it starts with `{`
/// (or a byte order mark), else [`structured_request`].
pub fn mime_request(data: &[u8]) -> Vec<u8> {
    if data.starts_with(b"{") || data.starts_with("\u{feff}".as_bytes()) {
        data.to_vec()
    } else {
        structured_request(data)
    }
}

/// A JobRequest built from 0x1E-separated fields (subject, body, display names, attachment
/// name and type, an `xHeaders` pair, personalization, …; see `field`) and flag bits (HTML
/// body, alternative, templating, Secure Document Handling, cc, bcc only, …; see `flag`).
/// Fields are put in as JSON strings, so any text reaches the validator intact.
fn structured_request(data: &[u8]) -> Vec<u8> {
    let f = Fields::split(data);
    let on = |bit| f.flag(field::FLAGS, bit);
    // An empty field is an absent one: most of these are optional members.
    let opt = |i| Some(f.text(i)).filter(|t| !t.is_empty());
    let transfer = match (on(flag::TRANSFER_LO), on(flag::TRANSFER_HI)) {
        (false, false) => None,
        (true, false) => Some("7bit"),
        (false, true) => Some("8bit"),
        (true, true) => Some("base64"),
    };
    let key = if on(flag::TEMPLATING) { "template" } else { "content" };
    let text_part = |text: String, extra: &[(&str, Value)]| {
        let mut part = Map::new();
        part.insert(key.into(), Value::String(text));
        for (k, v) in extra {
            part.insert((*k).into(), v.clone());
        }
        Value::Object(part)
    };

    let mut subject = f.text(field::SUBJECT);
    let mut subject_extra = Vec::new();
    if on(flag::SUBJECT_QP) {
        // The Retarus documentation's form: a quoted-printable subject as encoded-words.
        subject = format!("=?UTF-8?Q?{}?=", quoted_printable_word(subject.as_bytes()));
        subject_extra.push(("contentEncoding", json!("quoted-printable")));
    }
    let mut body_extra = vec![("contentType", json!(if on(flag::HTML) { "text/html" } else { "text/plain" }))];
    if let Some(t) = transfer {
        body_extra.push(("contentTransferEncoding", json!(t)));
    }
    let mut body = f.text(field::BODY);
    if on(flag::BODY_BASE64) {
        use base64::Engine as _;
        body = base64::engine::general_purpose::STANDARD.encode(f.bytes(field::BODY));
        body_extra.push(("contentEncoding", json!("base64")));
        body_extra.push(("charset", json!("windows-1252")));
    }
    let mailbox = |name: Option<String>, address: &str| match name {
        Some(name) => json!({ "email": format!("{name} <{address}>") }),
        None => json!({ "email": address }),
    };

    let mut mail = Map::new();
    mail.insert("from".into(), mailbox(opt(field::FROM_NAME), "sender@sender.example"));
    if on(flag::REPLY_TO) {
        mail.insert("replyTo".into(), mailbox(opt(field::FROM_NAME), "reply@sender.example"));
    }
    if on(flag::PRIORITY) {
        mail.insert("priority".into(), json!("HIGH"));
    }
    if let Some(id) = opt(field::IN_REPLY_TO) {
        mail.insert("inReplyTo".into(), json!(id));
    }
    if let Some(uri) = opt(field::LIST_UNSUBSCRIBE) {
        mail.insert("listUnsubscribe".into(), json!(uri));
    }
    if let Some(name) = opt(field::X_HEADER_NAME) {
        mail.insert("xHeaders".into(), json!({ name: f.text(field::X_HEADER_VALUE) }));
    }

    let to_address = match opt(field::TO_LOCAL) {
        Some(local) => format!("{local}@recipient.example"),
        None => "to@recipient.example".to_owned(),
    };
    let mut block_mail = Map::new();
    let recipients_key = if on(flag::BCC_ONLY) { "bcc" } else { "to" };
    block_mail.insert(recipients_key.into(), json!([mailbox(opt(field::TO_NAME), &to_address)]));
    if on(flag::CC) {
        block_mail.insert("cc".into(), json!([mailbox(opt(field::CC_NAME), "cc@recipient.example")]));
    }
    let mut block = json!({ "mail": block_mail });
    if on(flag::TEMPLATING) {
        let name = opt(field::VAR_NAME).unwrap_or_else(|| "name".into());
        block["features"] = json!({ "templating": { "personalization": { name: f.text(field::VAR_VALUE) } } });
    }
    let mut recipients = vec![block.clone()];
    if on(flag::SECOND_BLOCK) {
        block["mail"] = json!({ "to": [mailbox(None, "second@recipient.example")], "priority": "LOW" });
        recipients.push(block);
    }

    let mut request = json!({
        "mail": mail,
        "subject": text_part(subject, &subject_extra),
        "body": text_part(body, &body_extra),
        "recipients": recipients,
    });
    if on(flag::ALTERNATIVE) {
        request["alternative"] = text_part(f.text(field::ALTERNATIVE), &[]);
    }
    let mut features = Map::new();
    if on(flag::TEMPLATING) {
        features.insert("templating".into(), json!({ "active": true }));
    }
    if on(flag::SECURE) {
        let mut secure = json!({ "active": true });
        if let Some(prefix) = opt(field::SUBJECT_PREFIX) {
            secure["subjectPrefix"] = json!(prefix);
        }
        if let Some(name) = opt(field::ARCHIVE_NAME) {
            secure["filename"] = json!(name);
        }
        features.insert("secureDocument".into(), secure);
        features.insert("antivirus".into(), json!({ "active": true }));
    }
    if !features.is_empty() {
        request["job"] = json!({ "features": features });
    }
    if on(flag::ATTACHMENT) || on(flag::SEALED) {
        use base64::Engine as _;
        let mut attachment = json!({
            "name": opt(field::ATTACHMENT_NAME).unwrap_or_else(|| "file.pdf".into()),
            "content": base64::engine::general_purpose::STANDARD.encode(f.bytes(field::ATTACHMENT_BYTES)),
        });
        if let Some(t) = opt(field::ATTACHMENT_TYPE) {
            attachment["contentType"] = json!(t);
        }
        if let Some(id) = opt(field::CONTENT_ID) {
            attachment["contentId"] = json!(id);
        }
        if on(flag::SEALED) {
            attachment["secureDocument"] = json!(true);
        }
        request["attachments"] = json!([attachment]);
    }
    serde_json::to_vec(&request).unwrap_or_default()
}

/// RFC 2047 §4.2 "Q" encoding of `bytes` (everything but letters and digits as `=XX`).
fn quoted_printable_word(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|&b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("={b:02X}") })
        .collect()
}
