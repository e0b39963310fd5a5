//! The JobRequest validator: every field rule of docs/validation.md, in one place.
//!
//! It walks the whole request and reports *every* problem, each with its JSON Pointer, so a
//! client fixes a request in one round trip. It never panics and never recurses deeper than
//! the JSON parser's limit; time and memory are linear in the request size. Later features
//! add behaviour elsewhere, not new places for rules.

mod attachments;
mod content;
pub(crate) mod fields;
mod headers;
mod job;
pub mod limits;
mod notification;
mod recipients;
mod secure_document;
mod templating;

pub use job::{DEFAULT_ARCHIVE_NAME, DEFAULT_SUBJECT_PREFIX};

use content::Part;
use fields::Fields;

use super::json::{self, ParseError};
use super::model::{BodyType, Job, Text};
use super::report::{Pointer, Problem, ProblemKind, Report, Warning, WarningKind};

/// Size limits a host may set (see `limits` in `wit/validation.wit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body in bytes.
    pub max_request_bytes: u64,
    /// Largest rendered message in bytes (estimated).
    pub max_message_bytes: u64,
    /// Most addresses per request.
    pub max_addresses: u32,
    /// With templating: largest rendered subject + body + alternative of one block, bytes.
    pub max_rendered_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            // 20 MB of mail as base64 (4/3) plus JSON framing: Retarus' ~28 MB body limit.
            max_request_bytes: 28 * 1024 * 1024,
            // The rendered message is at most 20 MB (docs/validation.md).
            max_message_bytes: 20_000_000,
            // Retarus: at most 1,000 addresses per request.
            max_addresses: 1000,
            // Retarus: a personalized mail is at most 1 MB.
            max_rendered_bytes: 1_000_000,
        }
    }
}

/// A request that passed, and what was noticed on the way.
#[derive(Debug, Clone, PartialEq)]
pub struct Validated {
    /// The normalized job.
    pub job: Job,
    /// Warnings, sorted by path.
    pub warnings: Vec<Warning>,
    /// Estimated size of the largest rendered message, in bytes.
    pub estimated_message_bytes: u64,
}

const ROOT_KEYS: &[&str] =
    &["mail", "subject", "body", "alternative", "attachments", "recipients", "job", "notification"];
const MAIL_KEYS: &[&str] = &["from", "mimeFrom", "replyTo", "inReplyTo", "priority", "listUnsubscribe", "xHeaders"];

/// Validates a raw request body against `limits`.
pub fn validate(bytes: &[u8], limits: &Limits) -> Result<Validated, Vec<Problem>> {
    let root = Pointer::root();
    let mut r = Report::default();
    if bytes.len() as u64 > limits.max_request_bytes {
        r.problem(
            &root,
            ProblemKind::TooLarge,
            format!("the request has {} bytes; at most {} are allowed", bytes.len(), limits.max_request_bytes),
        );
        return Err(r.finish().0);
    }
    let doc = match json::parse(bytes) {
        Ok(doc) => doc,
        Err(e) => {
            let kind = match e {
                ParseError::NotUtf8 { .. } => ProblemKind::NotUtf8,
                ParseError::Syntax(_) => ProblemKind::MalformedJson,
                ParseError::TooManyValues => ProblemKind::TooMany,
            };
            r.problem(&root, kind, e.to_string());
            return Err(r.finish().0);
        }
    };
    if !matches!(doc, json::Json::Object(_)) {
        r.problem(
            &root,
            ProblemKind::WrongType,
            format!("the request must be a JSON object (a JobRequest), not {}", doc.type_name()),
        );
        return Err(r.finish().0);
    }
    let Some(top) = Fields::object(&mut r, &doc, root.clone(), ROOT_KEYS) else {
        return Err(r.finish().0);
    };

    let settings = job::job(&mut r, &top);
    let mail = top.object_member(&mut r, "mail", true, MAIL_KEYS);
    let (sender, header_from, mail_headers) = match &mail {
        Some(mail) => {
            let from = headers::mailbox_member(&mut r, mail, "from", true);
            let mime_from = headers::mailbox_member(&mut r, mail, "mimeFrom", false);
            (from.clone(), mime_from.or(from), headers::header_options(&mut r, mail))
        }
        None => (None, None, Default::default()),
    };
    let subject =
        content::text_part(&mut r, &top, "subject", Part::Subject, settings.templating, limits.max_rendered_bytes);
    let body = match top.raw("body") {
        // Retarus: the body is optional; a message without one has an empty text/plain body.
        None => Some((Text { text: String::new(), transfer_encoding: None, template: None }, Some(BodyType::Plain))),
        Some(_) => content::text_part(&mut r, &top, "body", Part::Body, settings.templating, limits.max_rendered_bytes),
    };
    let alternative = content::text_part(
        &mut r,
        &top,
        "alternative",
        Part::Alternative,
        settings.templating,
        limits.max_rendered_bytes,
    );
    let attachments = attachments::attachments(&mut r, &top);
    let blocks = recipients::recipients(&mut r, &top, limits.max_addresses, settings.templating);
    let callback = notification::notification(&mut r, &top);
    secure_document::rules(&mut r, &root, &settings, &attachments);
    let parts = [
        ("subject", subject.as_ref().map(|(t, _)| t)),
        ("body", body.as_ref().map(|(t, _)| t)),
        ("alternative", alternative.as_ref().map(|(t, _)| t)),
    ];
    if let Some(blocks) = &blocks {
        templating::personalization(&mut r, &root, &parts, blocks, limits.max_rendered_bytes);
    }

    if settings.templating == Some(true)
        && [top.raw("subject"), top.raw("body"), top.raw("alternative")]
            .iter()
            .flatten()
            .all(|part| !has_template(part))
    {
        r.warn(
            &root.key("job").key("features").key("templating").key("active"),
            WarningKind::IgnoredValue,
            "templating is active but no subject, body or alternative has a \"template\"; the content is sent as is",
        );
    }
    if let (Some((_, Some(BodyType::Plain))), Some(_)) = (&body, &alternative) {
        r.warn(
            &root.key("alternative"),
            WarningKind::IgnoredValue,
            "ignored: an alternative is only sent with an HTML body",
        );
    }

    // A sealed attachment travels inside the archive (docs/secure-documents.md#flagging-attachments);
    // its `contentId` (warned about above) must not reach the MIME renderer.
    let attachments: Option<Vec<_>> = attachments
        .into_iter()
        .map(|read| {
            read.attachment.map(|mut a| {
                if a.sealed {
                    a.content_id = None;
                }
                a
            })
        })
        .collect();
    let built = (|| {
        let (body_text, body_type) = body?;
        let job = Job {
            sender: sender?,
            header_from: header_from?,
            headers: mail_headers,
            subject: subject?.0,
            body: super::model::Body { content_type: body_type?, content: body_text },
            alternative: match alternative {
                Some((text, _)) if body_type == Some(BodyType::Html) => Some(text),
                _ => None,
            },
            attachments: attachments?,
            blocks: blocks?,
            reference_job: settings.reference_job.clone(),
            cost_center: settings.cost_center.clone(),
            campaign_id: settings.campaign_id.clone(),
            antivirus: settings.antivirus?,
            secure_document: if settings.secure_active? { Some(settings.secure.clone()?) } else { None },
            callback: callback?,
        };
        Some(job)
    })();
    match built {
        Some(job) if !r.has_problems() => {
            let estimated = estimate_message_bytes(&job);
            if estimated > limits.max_message_bytes {
                r.problem(
                    &root,
                    ProblemKind::TooLarge,
                    format!(
                        "the largest message would be about {estimated} bytes once encoded; at most {} are allowed",
                        limits.max_message_bytes
                    ),
                );
                return Err(r.finish().0);
            }
            let (_, warnings) = r.finish();
            Ok(Validated { job, warnings, estimated_message_bytes: estimated })
        }
        _ => {
            let (mut problems, _) = r.finish();
            if problems.is_empty() {
                // A value failed to build without a recorded reason: a validator bug. Refuse
                // rather than accept something unchecked.
                problems.push(Problem {
                    path: String::new(),
                    kind: ProblemKind::InvalidValue,
                    message: "the request could not be read (internal validator error)".into(),
                });
            }
            Err(problems)
        }
    }
}

fn has_template(part: &json::Json) -> bool {
    matches!(part, json::Json::Object(m) if m.iter().any(|(k, _)| k == "template"))
}

/// The size of the largest message once rendered: text parts as quoted-printable (worst
/// case ×3 for non-ASCII, ×1.05 for ASCII line breaks), attachments and the sealed archive
/// as base64 (×4/3 plus CRLF every 76 characters, RFC 2045 §6.8), and headers.
fn estimate_message_bytes(job: &Job) -> u64 {
    let text = |t: &str| t.bytes().map(|b| if b.is_ascii() { 1.05 } else { 3.0 }).sum::<f64>() as u64;
    let base64 = |n: u64| n.div_ceil(3) * 4 * 78 / 76;
    let mut bytes = 2048
        + text(&job.subject.text)
        + text(&job.body.content.text)
        + job.alternative.as_ref().map_or(0, |a| text(&a.text));
    let mut sealed = 0u64;
    for a in &job.attachments {
        let size = a.content.len() as u64;
        if a.sealed {
            // Stored worst case: AES overhead (28) and headers (~100 + twice the name).
            sealed += size + 128 + 2 * a.name.len() as u64;
        } else {
            bytes += 256 + base64(size);
        }
    }
    if sealed > 0 {
        bytes += 256 + base64(sealed + 22);
    }
    let header_bytes = |b: &super::model::RecipientBlock| {
        b.to.iter()
            .chain(&b.cc)
            .map(|m| m.address.len() as u64 + m.name.as_ref().map_or(0, |n| 3 * n.len() as u64) + 4)
            .sum::<u64>()
    };
    bytes + job.blocks.iter().map(header_bytes).max().unwrap_or(0)
}
