//! MIME entities (RFC 2045 §2.4): text parts, base64 attachments and multiparts
//! (RFC 2046 §5.1), and writing a whole message with its boundaries.
//!
//! Boundaries are `=_sealmail_<seed>_<n>`: `<seed>` is the envelope's boundary seed reduced
//! to letters, digits, `.` and `-`, `<n>` counts the multiparts of the message in writing
//! order, so nested multiparts never share one (RFC 2046 §5.1.2). RFC 2045 §5.1 / RFC 2046
//! §5.1.1 explain why `=_` makes them safe: quoted-printable writes `=` only before two hex
//! digits or a line break, so `=_` never appears in it, and `_` is not in the base64
//! alphabet; 7bit/8bit text with a line starting `--=_` is sent as quoted-printable instead
//! ([`super::transfer::encode_text`]). No part's content can therefore contain a delimiter.

use super::header::{HeaderBlock, msg_id};
use super::param::Params;
use super::transfer::{TransferEncoding, base64_lines, encode_text};

/// The longest seed kept: RFC 2046 §5.1.1 allows 70 boundary characters in all.
const MAX_SEED: usize = 40;

/// One MIME entity.
#[derive(Debug, Clone)]
pub(crate) enum Part {
    /// A part with content: its `Content-*` fields and its transfer-encoded body.
    Leaf {
        /// The part's header fields.
        headers: HeaderBlock,
        /// How `body` is encoded.
        encoding: TransferEncoding,
        /// The encoded body, lines joined by CRLF, without a final line break.
        body: Vec<u8>,
    },
    /// `multipart/<subtype>` holding `parts` in order.
    Multipart {
        /// `mixed`, `alternative` or `related`.
        subtype: &'static str,
        /// For `related`: the MIME type of the root (first) part, RFC 2387 §3.1's required
        /// `type` parameter.
        root_type: Option<&'static str>,
        /// The body parts.
        parts: Vec<Part>,
    },
}

impl Part {
    /// A `text/<subtype>; charset=utf-8` part; see [`encode_text`] for the encoding chosen.
    pub(crate) fn text(subtype: &str, text: &str, requested_encoding: Option<&str>) -> Self {
        let (encoding, body) = encode_text(text, requested_encoding);
        let mut headers = HeaderBlock::new();
        headers.push_words(
            "Content-Type",
            Params::new(&format!("text/{subtype}")).token("charset", "utf-8").words(),
            false,
        );
        headers.structured("Content-Transfer-Encoding", encoding.name());
        Part::Leaf { headers, encoding, body }
    }

    /// A base64 attachment (RFC 2183 `Content-Disposition: attachment`) named `file_name`
    /// both ways readers look for it: `filename` (RFC 2231) and `name` (RFC 2047 fallback).
    pub(crate) fn attachment(content_type: &str, file_name: &str, bytes: &[u8], content_id: Option<&str>) -> Self {
        Self::file("attachment", content_type, file_name, bytes, content_id)
    }

    /// A base64 part shown inside the HTML it belongs to (RFC 2183 `Content-Disposition:
    /// inline`), found by its `Content-ID` (RFC 2392 `cid:` URLs); named like an attachment
    /// for readers that offer it for saving.
    pub(crate) fn inline(content_type: &str, file_name: &str, bytes: &[u8], content_id: &str) -> Self {
        Self::file("inline", content_type, file_name, bytes, Some(content_id))
    }

    fn file(disposition: &str, content_type: &str, file_name: &str, bytes: &[u8], content_id: Option<&str>) -> Self {
        let (essence, charset) = attachment_type(content_type);
        let mut params = Params::new(&essence);
        if let Some(charset) = charset {
            params = params.token("charset", charset);
        }
        let mut headers = HeaderBlock::new();
        headers.push_words("Content-Type", params.encoded("name", file_name).words(), false);
        headers.structured("Content-Transfer-Encoding", TransferEncoding::Base64.name());
        headers.push_words(
            "Content-Disposition",
            Params::new(disposition).extended("filename", file_name).words(),
            false,
        );
        if let Some(id) = content_id.map(msg_id).filter(|id| id.len() > 2) {
            // RFC 2392: `cid:` URLs refer to this.
            headers.structured("Content-ID", &id);
        }
        Part::Leaf { headers, encoding: TransferEncoding::Base64, body: base64_lines(bytes) }
    }

    /// `multipart/<subtype>` of `parts`.
    pub(crate) fn multipart(subtype: &'static str, parts: Vec<Part>) -> Self {
        Part::Multipart { subtype, root_type: None, parts }
    }

    /// `multipart/related` (RFC 2387) of a root part of type `root_type` and the parts it
    /// refers to.
    pub(crate) fn related(root_type: &'static str, root: Part, referenced: Vec<Part>) -> Self {
        let mut parts = vec![root];
        parts.extend(referenced);
        Part::Multipart { subtype: "related", root_type: Some(root_type), parts }
    }

    /// Writes a whole message: `headers` (the message's own fields), then this entity's
    /// fields, the empty line and the body.
    ///
    /// The message ends with CRLF (SMTP DATA ends with CRLF "." CRLF, RFC 5321 §4.1.1.4).
    /// Where the body does not, the line break is one its decoding ignores: after a
    /// multipart's close delimiter (the epilogue), after base64, or as a quoted-printable
    /// soft line break (`=` CRLF). Only 7bit/8bit text without a final line break gains one.
    pub(crate) fn write_message(&self, headers: &HeaderBlock, boundary_seed: &str) -> Vec<u8> {
        let mut out = headers.as_bytes().to_vec();
        let seed = sanitize_seed(boundary_seed);
        let mut count = 0;
        self.write(&mut out, &seed, &mut count);
        if !out.ends_with(b"\r\n") {
            let soft_break = matches!(self, Part::Leaf { encoding: TransferEncoding::QuotedPrintable, .. });
            out.extend_from_slice(if soft_break { b"=\r\n" } else { b"\r\n" });
        }
        out
    }

    /// Writes this entity's fields, the empty line and its body (RFC 2046 §5.1.1
    /// `body-part`), without a final line break: that CRLF belongs to the next delimiter.
    fn write(&self, out: &mut Vec<u8>, seed: &str, count: &mut usize) {
        match self {
            Part::Leaf { headers, body, .. } => {
                out.extend_from_slice(headers.as_bytes());
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(body);
            }
            Part::Multipart { subtype, root_type, parts } => {
                let boundary = boundary(seed, *count);
                *count += 1;
                let mut headers = HeaderBlock::new();
                let mut params = Params::new(&format!("multipart/{subtype}"));
                if let Some(root_type) = root_type {
                    params = params.quoted("type", root_type);
                }
                let params = params.quoted("boundary", &boundary);
                headers.push_words("Content-Type", params.words(), false);
                out.extend_from_slice(headers.as_bytes());
                out.extend_from_slice(b"\r\n");
                for (i, part) in parts.iter().enumerate() {
                    // RFC 2046 §5.1.1: a delimiter is CRLF "--" boundary; the first one may
                    // open the body directly (no preamble).
                    if i > 0 {
                        out.extend_from_slice(b"\r\n");
                    }
                    out.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
                    part.write(out, seed, count);
                }
                out.extend_from_slice(format!("\r\n--{boundary}--").as_bytes());
            }
        }
    }
}

/// The `n`th boundary of a message (see the module docs for why it cannot collide).
fn boundary(seed: &str, n: usize) -> String {
    format!("=_sealmail_{seed}_{n}")
}

/// The seed reduced to characters that are safe in a boundary and in a quoted parameter.
fn sanitize_seed(seed: &str) -> String {
    let kept: String =
        seed.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '-').take(MAX_SEED).collect();
    if kept.is_empty() { "0".to_owned() } else { kept }
}

/// The attachment's MIME type without parameters but `charset`, lower case.
///
/// The validator checks `type/subtype`; this keeps a broken value out of the field anyway.
/// `multipart/*` and `message/*` become `application/octet-stream`: RFC 2045 §6.4 forbids
/// base64 for composite types, and the bytes are an opaque file to sealmail.
fn attachment_type(content_type: &str) -> (String, Option<&str>) {
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or("").trim().to_ascii_lowercase();
    let token =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b));
    let essence = match essence.split_once('/') {
        Some((ty, sub)) if token(ty) && token(sub) && ty != "multipart" && ty != "message" => essence,
        _ => "application/octet-stream".to_owned(),
    };
    let charset = parts.find_map(|p| {
        let (attribute, value) = p.split_once('=')?;
        let value = value.trim().trim_matches('"');
        (attribute.trim().eq_ignore_ascii_case("charset") && token(value)).then_some(value)
    });
    (essence, charset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(bytes: &[u8]) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[test]
    fn boundaries_nest_and_differ() {
        let inner =
            Part::multipart("alternative", vec![Part::text("plain", "a", None), Part::text("html", "<b>a</b>", None)]);
        let root = Part::multipart("mixed", vec![inner, Part::attachment("application/pdf", "x.pdf", b"%PDF", None)]);
        let out = text(&root.write_message(&HeaderBlock::new(), "seed/with spaces+and\"quote"));
        let expected_outline = [
            "Content-Type: multipart/mixed; boundary=\"=_sealmail_seedwithspacesandquote_0\"",
            "",
            "--=_sealmail_seedwithspacesandquote_0",
            "Content-Type: multipart/alternative;",
            " boundary=\"=_sealmail_seedwithspacesandquote_1\"",
            "",
            "--=_sealmail_seedwithspacesandquote_1",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            "a",
            "--=_sealmail_seedwithspacesandquote_1",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            "<b>a</b>",
            "--=_sealmail_seedwithspacesandquote_1--",
            "--=_sealmail_seedwithspacesandquote_0",
            "Content-Type: application/pdf; name=\"x.pdf\"",
            "Content-Transfer-Encoding: base64",
            "Content-Disposition: attachment; filename=\"x.pdf\"",
            "",
            "JVBERg==",
            "--=_sealmail_seedwithspacesandquote_0--",
            "",
        ];
        assert_eq!(out, expected_outline.join("\r\n"));
    }

    #[test]
    fn empty_seed_still_gives_a_boundary() {
        assert_eq!(sanitize_seed("ü/ä"), "0");
        assert_eq!(sanitize_seed(&"a".repeat(100)).len(), MAX_SEED);
        assert!(boundary(&sanitize_seed(&"a".repeat(100)), 99).len() <= 70);
    }

    #[test]
    fn attachment_types_are_cleaned() {
        assert_eq!(attachment_type("Application/PDF"), ("application/pdf".into(), None));
        assert_eq!(
            attachment_type("text/plain; charset=\"ISO-8859-1\"; name=x"),
            ("text/plain".into(), Some("ISO-8859-1"))
        );
        assert_eq!(attachment_type("multipart/mixed; boundary=x").0, "application/octet-stream");
        assert_eq!(attachment_type("message/rfc822").0, "application/octet-stream");
        assert_eq!(attachment_type("nonsense").0, "application/octet-stream");
    }

    #[test]
    fn content_id_is_bracketed_once() {
        let part = Part::attachment("image/png", "logo.png", b"png", Some("<logo@x.example>"));
        let Part::Leaf { headers, .. } = part else { panic!() };
        assert!(text(headers.as_bytes()).contains("Content-ID: <logo@x.example>\r\n"));
    }
}
