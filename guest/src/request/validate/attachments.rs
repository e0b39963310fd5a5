//! `attachments[]`: names, types, base64 content, and the `secureDocument` flag (DESIGN §3.2).

use super::fields::{Fields, Text, type_problem};
use super::limits::MAX_NAME_CHARS;
use crate::request::encoding::decode_base64;
use crate::request::json::Json;
use crate::request::model::Attachment;
use crate::request::report::{Pointer, ProblemKind, Report};

const ATTACHMENT_KEYS: &[&str] = &["name", "contentType", "contentId", "content", "secureDocument"];

/// Reads `/attachments`: one entry per element, `None` where the element has problems
/// (recorded), so indices stay those of the request.
pub(crate) fn attachments(r: &mut Report, root: &Fields) -> Vec<Option<Attachment>> {
    let Some(items) = root.array(r, "attachments", false) else { return Vec::new() };
    let path = root.path.key("attachments");
    items.iter().enumerate().map(|(i, item)| attachment(r, item, path.index(i))).collect()
}

fn attachment(r: &mut Report, value: &Json, path: Pointer) -> Option<Attachment> {
    let fields = Fields::object(r, value, path, ATTACHMENT_KEYS)?;
    // The name becomes a MIME parameter and a ZIP entry name: one line, no NUL.
    let name = fields.text(r, "name", Text::header(MAX_NAME_CHARS).required());
    let content_type = fields.text(r, "contentType", Text::header(255)).and_then(|t| {
        if is_mime_type(t) {
            Some(t.trim().to_owned())
        } else {
            r.problem(
                &fields.path.key("contentType"),
                ProblemKind::InvalidValue,
                format!("\"{t}\" is not a MIME type (type/subtype)"),
            );
            None
        }
    });
    let content_id = fields
        .text(r, "contentId", Text::header(MAX_NAME_CHARS))
        .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>').to_owned());
    let sealed = secure_flag(r, &fields);
    let content =
        fields.text(r, "content", Text { required: true, max_chars: usize::MAX, header: false }).and_then(|c| {
            match decode_base64(c) {
                Ok(bytes) => Some(bytes),
                Err(e) => {
                    r.problem(&fields.path.key("content"), ProblemKind::InvalidEncoding, e.to_string());
                    None
                }
            }
        });
    let (name, content, sealed) = (name?, content?, sealed?);
    if fields.raw("contentType").is_some() && content_type.is_none()
        || fields.raw("contentId").is_some() && content_id.is_none()
    {
        return None;
    }
    Some(Attachment {
        name: name.to_owned(),
        content_type: content_type.unwrap_or_else(|| "application/octet-stream".to_owned()),
        content_id,
        content,
        sealed,
    })
}

/// DESIGN §3.2: `"secureDocument": true` — a JSON boolean or the string `"true"`/`"false"`
/// (both spellings appear in the Retarus documentation). Anything else is refused: a
/// misspelt flag must never let a document travel unencrypted.
fn secure_flag(r: &mut Report, fields: &Fields) -> Option<bool> {
    let path = fields.path.key("secureDocument");
    match fields.present(r, "secureDocument", false) {
        None => fields.raw("secureDocument").is_none().then_some(false),
        Some(Json::Bool(b)) => Some(*b),
        Some(Json::String(s)) if s == "true" => Some(true),
        Some(Json::String(s)) if s == "false" => Some(false),
        Some(Json::String(s)) => {
            r.problem(
                &path,
                ProblemKind::InvalidValue,
                format!(
                    "\"{}\" is not a flag: use true or false (a JSON boolean, or the string \"true\"/\"false\")",
                    s.escape_debug()
                ),
            );
            None
        }
        Some(other) => {
            type_problem(r, &path, other, "true or false");
            None
        }
    }
}

/// RFC 2045 §5.1 `type "/" subtype` of tokens, parameters allowed.
fn is_mime_type(t: &str) -> bool {
    let essence = t.split(';').next().unwrap_or("").trim();
    let token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b));
    essence.split_once('/').is_some_and(|(ty, sub)| token(ty) && token(sub))
}
