//! `subject`, `body` and `alternative`: content or template, `contentEncoding`, `charset`,
//! `contentTransferEncoding`, and the subject's own limits.

use super::fields::{Fields, Text, header_safe};
use super::limits::MAX_SUBJECT_CHARS;
use crate::request::encoding::{
    CONTENT_ENCODINGS, ContentEncoding, TRANSFER_ENCODINGS, charset, decode_subject, decode_text,
};
use crate::request::model::{self, BodyType};
use crate::request::report::{Pointer, ProblemKind, Report};
use crate::template::Template;

/// Which text part is being read.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    Subject,
    Body,
    Alternative,
}

const SUBJECT_KEYS: &[&str] = &["content", "template", "contentEncoding", "contentTransferEncoding", "charset"];
const BODY_KEYS: &[&str] =
    &["content", "template", "contentEncoding", "contentTransferEncoding", "charset", "contentType"];

/// Reads `key` of the root as a text part. `templating` is `job.features.templating.active`
/// (`None` when that value was refused); when it is `true`, a `template` is decoded and
/// parsed into [`model::Text::template`] (a construct outside the subset is `invalid-value`
/// at `…/template`, naming the construct and its line:column). A decoded template longer
/// than `max_template_bytes` is `too-long` and not parsed.
pub(crate) fn text_part(
    r: &mut Report,
    root: &Fields,
    key: &str,
    part: Part,
    templating: Option<bool>,
    max_template_bytes: u64,
) -> Option<(model::Text, Option<BodyType>)> {
    // Retarus: subject is mandatory; body and alternative are optional (a message may be
    // only a subject and attachments).
    let required = part == Part::Subject;
    let fields = root.object_member(r, key, required, if part == Part::Subject { SUBJECT_KEYS } else { BODY_KEYS })?;
    let before = r.problem_count();

    let content_type = match part {
        Part::Subject => None,
        Part::Body => Some(body_type(r, &fields)),
        Part::Alternative => {
            if let Some(t) = fields.text(r, "contentType", Text::header(255))
                && mime_essence(t) != "text/plain"
            {
                r.problem(
                    &fields.path.key("contentType"),
                    ProblemKind::InvalidValue,
                    "the alternative is plain text: contentType must be text/plain",
                );
            }
            None
        }
    };
    let encoding = fields.text(r, "contentEncoding", Text::header(32)).map_or(Some(ContentEncoding::Plain), |name| {
        let e = ContentEncoding::from_name(name);
        if e.is_none() {
            r.problem(
                &fields.path.key("contentEncoding"),
                ProblemKind::InvalidValue,
                format!("\"{name}\" is not one of {}", CONTENT_ENCODINGS.join(", ")),
            );
        }
        e
    });
    let transfer_encoding = fields.text(r, "contentTransferEncoding", Text::header(32)).and_then(|name| {
        let lower = name.to_ascii_lowercase();
        if TRANSFER_ENCODINGS.contains(&lower.as_str()) {
            Some(lower)
        } else {
            r.problem(
                &fields.path.key("contentTransferEncoding"),
                ProblemKind::InvalidValue,
                format!("\"{name}\" is not one of {}", TRANSFER_ENCODINGS.join(", ")),
            );
            None
        }
    });
    let charset = fields.text(r, "charset", Text::header(64)).map_or(Some(encoding_rs::UTF_8), |label| {
        let c = charset(label);
        if c.is_none() {
            r.problem(
                &fields.path.key("charset"),
                ProblemKind::InvalidValue,
                format!("\"{label}\" is not a known charset (e.g. UTF-8, ISO-8859-1, windows-1252, UTF-16)"),
            );
        }
        c
    });

    let content = fields.text(r, "content", Text { required: false, max_chars: usize::MAX, header: false });
    let template = fields.text(r, "template", Text { required: false, max_chars: usize::MAX, header: false });
    let templated = match (fields.raw("content"), fields.raw("template")) {
        (Some(_), Some(_)) => {
            r.problem(
                &fields.path.key("template"),
                ProblemKind::RuleViolation,
                "give either content or template, not both",
            );
            false
        }
        (None, None) => {
            r.problem(
                &fields.path.key("content"),
                ProblemKind::Missing,
                "\"content\" (or \"template\" with templating) is required",
            );
            false
        }
        (None, Some(_)) if template.is_some() => {
            if templating == Some(false) {
                r.problem(
                    &fields.path.key("template"),
                    ProblemKind::RuleViolation,
                    "a template needs /job/features/templating/active: true",
                );
            }
            // `None`: the templating flag itself was refused, with its own problem.
            templating == Some(true)
        }
        _ => false,
    };
    // The template is decoded like content (contentEncoding, charset), then parsed.
    let source_key = if templated { "template" } else { "content" };
    let source = if templated { template } else { content };

    let (source, encoding, charset) = (source?, encoding?, charset?);
    if r.problem_count() > before {
        return None;
    }
    let decoded = match part {
        Part::Subject => decode_subject(source, encoding, charset),
        Part::Body | Part::Alternative => decode_text(source, encoding, charset),
    };
    let text = match decoded {
        Ok(t) => t,
        Err(e) => {
            r.problem(
                &fields.path.key(source_key),
                ProblemKind::InvalidEncoding,
                format!("{e} (contentEncoding {})", encoding_name(encoding)),
            );
            return None;
        }
    };
    // A template is at most as long as the largest mail it may render (`max-rendered-bytes`,
    // Retarus' 1 MB): its text is part of every rendering, and parsing costs memory in
    // proportion (a 27 MB template of `${a}` would be millions of nodes, past the sandbox's
    // memory limit).
    if templated && text.len() as u64 > max_template_bytes {
        r.problem(
            &fields.path.key("template"),
            ProblemKind::TooLong,
            format!(
                "the decoded template is {} bytes long; at most {max_template_bytes} are allowed (max-rendered-bytes)",
                text.len()
            ),
        );
        return None;
    }
    let template = if templated {
        match Template::parse(&text) {
            Ok(t) => Some(t),
            Err(e) => {
                r.problem(
                    &fields.path.key("template"),
                    ProblemKind::InvalidValue,
                    format!("not in the supported FreeMarker subset: {e}"),
                );
                return None;
            }
        }
    } else {
        None
    };
    if part == Part::Subject && !subject_ok(r, &fields.path.key(source_key), &text) {
        return None;
    }
    Some((model::Text { text, transfer_encoding, template }, content_type.flatten()))
}

fn encoding_name(e: ContentEncoding) -> &'static str {
    match e {
        ContentEncoding::Plain => "plain",
        ContentEncoding::QuotedPrintable => "quoted-printable",
        ContentEncoding::Base64 => "base64",
    }
}

/// The subject after decoding: Retarus' 500-character limit, one header line. For a
/// template this checks the source; the rendered subject is the renderer's to check.
fn subject_ok(r: &mut Report, path: &Pointer, text: &str) -> bool {
    let path = path.clone();
    if text.trim().is_empty() {
        r.problem(&path, ProblemKind::EmptyValue, "the decoded subject is empty");
        return false;
    }
    let chars = text.chars().count();
    if chars > MAX_SUBJECT_CHARS {
        r.problem(
            &path,
            ProblemKind::TooLong,
            format!("the decoded subject is {chars} characters long; at most {MAX_SUBJECT_CHARS} are allowed"),
        );
        return false;
    }
    header_safe(&path, r, text)
}

/// `body.contentType`: `text/plain` (the default) or `text/html`; parameters such as
/// `; charset=UTF-8` are tolerated (the charset is `charset`'s business).
fn body_type(r: &mut Report, fields: &Fields) -> Option<BodyType> {
    let Some(t) = fields.text(r, "contentType", Text::header(255)) else {
        return (fields.raw("contentType").is_none()).then_some(BodyType::Plain);
    };
    match mime_essence(t).as_str() {
        "text/plain" => Some(BodyType::Plain),
        "text/html" => Some(BodyType::Html),
        _ => {
            r.problem(
                &fields.path.key("contentType"),
                ProblemKind::InvalidValue,
                format!("\"{t}\" is not text/plain or text/html"),
            );
            None
        }
    }
}

/// `type/subtype` of a MIME type, lower case, without parameters.
pub(crate) fn mime_essence(t: &str) -> String {
    t.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}
