//! `attachments[]`: names, types, base64 content, and the `secureDocument` flag
//! (docs/secure-documents.md#flagging-attachments).

use super::fields::{Fields, Text, type_problem};
use super::limits::MAX_NAME_CHARS;
use crate::request::address::is_direction_control;
use crate::request::encoding::decode_base64;
use crate::request::json::Json;
use crate::request::model::Attachment;
use crate::request::report::{Pointer, ProblemKind, Report};

const ATTACHMENT_KEYS: &[&str] = &["name", "contentType", "contentId", "content", "secureDocument"];

/// One element of `/attachments` as read.
pub(crate) struct AttachmentRead {
    /// The attachment; `None` when the element has problems (recorded).
    pub attachment: Option<Attachment>,
    /// The `secureDocument` flag, read on its own: the Secure Document rules (`secure_document.rs`) need it
    /// even when another field of the same attachment is wrong. `None` when unreadable.
    pub flagged: Option<bool>,
}

/// Reads `/attachments`: one entry per element, so indices stay those of the request.
pub(crate) fn attachments(r: &mut Report, root: &Fields) -> Vec<AttachmentRead> {
    let Some(items) = root.array(r, "attachments", false) else { return Vec::new() };
    let path = root.path.key("attachments");
    items.iter().enumerate().map(|(i, item)| attachment(r, item, path.index(i))).collect()
}

fn attachment(r: &mut Report, value: &Json, path: Pointer) -> AttachmentRead {
    let Some(fields) = Fields::object(r, value, path, ATTACHMENT_KEYS) else {
        return AttachmentRead { attachment: None, flagged: None };
    };
    let flagged = secure_flag(r, &fields);
    AttachmentRead { attachment: read_fields(r, &fields, flagged), flagged }
}

fn read_fields(r: &mut Report, fields: &Fields, sealed: Option<bool>) -> Option<Attachment> {
    // The name becomes a MIME parameter and a ZIP entry name: one line, no NUL, one file name.
    let name = fields.text(r, "name", Text::header(MAX_NAME_CHARS).required()).filter(|name| {
        let why = file_name_problem(name);
        if let Some(why) = &why {
            r.problem(
                &fields.path.key("name"),
                ProblemKind::InvalidValue,
                format!("\"{}\" {why}", name.escape_debug()),
            );
        }
        why.is_none()
    });
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
    let content_id = fields.text(r, "contentId", Text::header(MAX_NAME_CHARS)).and_then(|id| {
        let bare = id.trim().trim_start_matches('<').trim_end_matches('>');
        // RFC 2392: a Content-ID is a msg-id; `cid:` URLs in the HTML refer to it, and it
        // cannot be RFC 2047-encoded, so it must be printable ASCII without spaces.
        if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_graphic() && !b"<>\"\\".contains(&b)) {
            Some(bare.to_owned())
        } else {
            r.problem(
                &fields.path.key("contentId"),
                ProblemKind::InvalidValue,
                "must be a Content-ID such as logo@sender.example: printable ASCII, no spaces, quotes or inner '<' '>'",
            );
            None
        }
    });
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

/// `"secureDocument": true` — a JSON boolean or the string `"true"`/`"false"`
/// (docs/secure-documents.md#flagging-attachments)
/// (both spellings appear in the Retarus documentation). Anything else is refused: a
/// misspelt flag must never let a document travel unencrypted.
fn secure_flag(r: &mut Report, fields: &Fields) -> Option<bool> {
    let path = fields.path.key("secureDocument");
    match fields.present(r, "secureDocument", false) {
        None => fields.raw("secureDocument").is_none().then_some(false),
        Some(Json::Bool(b)) => Some(*b),
        Some(Json::String(s)) if s == "true" => Some(true),
        Some(Json::String(s)) if s == "false" => Some(false),
        // Blank strings fall through to `type_problem` (empty-value, like everywhere else).
        Some(Json::String(s)) if !s.trim().is_empty() => {
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

/// Why `name` is not a plain file name, if it is not. RFC 2183 §2.3 makes the `filename`
/// parameter a file name and tells readers to ignore any directory in it; a sender that
/// puts `../` or `C:\\` there is either broken or probing for a reader that does not, so it
/// is told rather than silently cleaned (sealed entries are also sanitized, docs/secure-documents.md#the-archive).
/// Direction controls (U+202E…) would let `invoice\u{202E}fdp.exe` display as
/// `invoiceexe.pdf`.
fn file_name_problem(name: &str) -> Option<String> {
    if let Some(c) = name.chars().find(|&c| c == '/' || c == '\\') {
        return Some(format!("contains {c:?}: an attachment name is a file name, not a path (RFC 2183 §2.3)"));
    }
    if name.chars().all(|c| c == '.' || c.is_whitespace()) {
        return Some("is not a file name (only dots and spaces: \".\" and \"..\" name directories)".into());
    }
    if let Some(c) = name.chars().find(|&c| is_direction_control(c)) {
        return Some(format!(
            "contains the Unicode direction control U+{:04X}, which disguises a file name's extension \
             (\"invoice\\u{{202E}}fdp.exe\" displays as \"invoiceexe.pdf\")",
            c as u32
        ));
    }
    None
}

/// RFC 2045 §5.1 `type "/" subtype` of tokens, parameters allowed.
fn is_mime_type(t: &str) -> bool {
    let essence = t.split(';').next().unwrap_or("").trim();
    let token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b));
    essence.split_once('/').is_some_and(|(ty, sub)| token(ty) && token(sub))
}

#[cfg(test)]
mod tests {
    use super::file_name_problem;

    #[test]
    fn attachment_names_are_file_names() {
        for ok in ["invoice.pdf", "Rechnung Müller.pdf", ".profile", "a..b.txt", "تقرير.pdf", "日本語.txt"] {
            assert_eq!(file_name_problem(ok), None, "{ok}");
        }
        for (bad, says) in [
            ("../../etc/passwd", "'/'"),
            ("..\\..\\boot.ini", "'\\\\'"),
            ("C:\\Windows\\x.dll", "'\\\\'"),
            ("/etc/passwd", "'/'"),
            ("..", "only dots"),
            (". .", "only dots"),
            ("invoice\u{202E}fdp.exe", "U+202E"),
            ("report\u{2067}.pdf", "U+2067"),
        ] {
            let why = file_name_problem(bad).unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(why.contains(says), "{bad:?}: {why}");
        }
    }
}
