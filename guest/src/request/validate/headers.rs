//! Header options of a message: `replyTo`, `inReplyTo`, `priority`, `listUnsubscribe` and
//! `xHeaders`, at job level (`/mail`) or per recipient block (`/recipients/N/mail`), and the
//! address objects (`{"email": "Name <a@b.example>"}`) used throughout the request.

use super::fields::{Fields, Text};
use super::limits::{MAX_HEADER_VALUE_CHARS, MAX_X_HEADERS};
use crate::request::address::{Mailbox, check_address, parse_mailbox};
use crate::request::json::Json;
use crate::request::model::{HeaderOptions, Priority};
use crate::request::report::{Pointer, ProblemKind, Report};

/// The keys of an address object.
const ADDRESS_KEYS: &[&str] = &["email"];

/// Reads an address object `{"email": "…"}`.
pub(crate) fn mailbox(r: &mut Report, value: &Json, path: Pointer) -> Option<Mailbox> {
    let fields = Fields::object(r, value, path, ADDRESS_KEYS)?;
    let email = fields.text(r, "email", Text::header(MAX_HEADER_VALUE_CHARS).required())?;
    match parse_mailbox(email) {
        Ok(m) => Some(m),
        Err(e) => {
            r.problem(
                &fields.path.key("email"),
                ProblemKind::InvalidAddress,
                format!("not a valid e-mail address: {e}"),
            );
            None
        }
    }
}

/// An address-object member of `fields`.
pub(crate) fn mailbox_member(r: &mut Report, fields: &Fields, key: &str, required: bool) -> Option<Mailbox> {
    let value = fields.present(r, key, required)?;
    mailbox(r, value, fields.path.key(key))
}

/// Reads the header options present in `fields`.
pub(crate) fn header_options(r: &mut Report, fields: &Fields) -> HeaderOptions {
    HeaderOptions {
        reply_to: mailbox_member(r, fields, "replyTo", false),
        in_reply_to: fields
            .text(r, "inReplyTo", Text::header(MAX_HEADER_VALUE_CHARS))
            .and_then(|id| message_id(r, &fields.path.key("inReplyTo"), id)),
        priority: fields
            .text(r, "priority", Text::header(16))
            .and_then(|p| priority(r, &fields.path.key("priority"), p)),
        list_unsubscribe: fields
            .text(r, "listUnsubscribe", Text::header(MAX_HEADER_VALUE_CHARS))
            .and_then(|v| list_unsubscribe(r, &fields.path.key("listUnsubscribe"), v)),
        x_headers: fields.map_member(r, "xHeaders", false).map(|map| x_headers(r, &map)).unwrap_or_default(),
    }
}

/// `inReplyTo`: an RFC 5322 §3.6.4 msg-id, `<id-left@id-right>`; the brackets may be left
/// out and are added.
fn message_id(r: &mut Report, path: &Pointer, id: &str) -> Option<String> {
    let inner = id.trim().trim_start_matches('<').trim_end_matches('>');
    let valid = inner.split_once('@').is_some_and(|(l, d)| !l.is_empty() && !d.is_empty())
        && inner.bytes().all(|b| b.is_ascii_graphic() && !b"<>\"\\".contains(&b));
    if valid {
        Some(format!("<{inner}>"))
    } else {
        r.problem(path, ProblemKind::InvalidValue, "must be a Message-ID such as <id@host.example>");
        None
    }
}

fn priority(r: &mut Report, path: &Pointer, value: &str) -> Option<Priority> {
    match value.to_ascii_uppercase().as_str() {
        "HIGH" => Some(Priority::High),
        "NORMAL" => Some(Priority::Normal),
        "LOW" => Some(Priority::Low),
        _ => {
            r.problem(
                path,
                ProblemKind::InvalidValue,
                format!("\"{value}\" is not a priority; use HIGH, NORMAL or LOW"),
            );
            None
        }
    }
}

/// `listUnsubscribe`: one or more `mailto:` or `https:` URIs (RFC 2369 §3.2, RFC 8058),
/// comma-separated, each optionally in angle brackets. A bare e-mail address (the Retarus
/// sample gives one) is read as a `mailto:` URI. Returned in header form `<…>, <…>`.
fn list_unsubscribe(r: &mut Report, path: &Pointer, value: &str) -> Option<String> {
    let mut uris = Vec::new();
    for part in value.split(',') {
        let uri = part.trim().trim_start_matches('<').trim_end_matches('>').trim();
        let lower = uri.to_ascii_lowercase();
        let uri =
            if !lower.contains(':') && check_address(uri).is_ok() { format!("mailto:{uri}") } else { uri.to_owned() };
        let lower = uri.to_ascii_lowercase();
        let scheme_ok = lower.starts_with("mailto:") && uri.len() > 7 || lower.starts_with("https://") && uri.len() > 8;
        // RFC 3986: a URI is ASCII (non-ASCII is percent-encoded); no spaces, no brackets.
        let form_ok = uri.bytes().all(|b| b.is_ascii_graphic() && b != b'<' && b != b'>');
        if !scheme_ok || !form_ok {
            let why = if scheme_ok {
                "contains a space, an angle bracket or a non-ASCII character (percent-encode it)"
            } else {
                "is not a mailto: or https: URI, nor an e-mail address"
            };
            r.problem(path, ProblemKind::InvalidValue, format!("\"{}\" {why}", uri.escape_debug()));
            return None;
        }
        uris.push(format!("<{uri}>"));
    }
    Some(uris.join(", "))
}

/// `xHeaders`: names must be `X-` headers (RFC 6648 notwithstanding, Retarus allows only
/// those, so a request cannot override `From`, `Subject` or the MIME structure) made of
/// RFC 5322 §3.6.8 ftext; values one line each.
fn x_headers(r: &mut Report, map: &Fields) -> Vec<(String, String)> {
    let members = map.members();
    if members.len() > MAX_X_HEADERS {
        r.problem(
            &map.path,
            ProblemKind::TooMany,
            format!("has {} headers; at most {MAX_X_HEADERS} are allowed", members.len()),
        );
        return Vec::new();
    }
    let mut out = Vec::new();
    for (name, value) in members {
        let path = map.path.key(name);
        if let Some(why) = x_header_name_problem(name) {
            r.problem(
                &path,
                ProblemKind::InvalidHeaderName,
                format!("\"{}\" is not allowed: {why}", name.escape_debug()),
            );
            continue;
        }
        if let Some(v) = super::fields::check_text(r, &path, value, Text::header(MAX_HEADER_VALUE_CHARS)) {
            out.push((name.clone(), v.to_owned()));
        }
    }
    out
}

/// Longest `xHeaders` name: the name, ": " and some value must fit in a 78-character line
/// (RFC 5322 §2.1.1 recommends 78).
const MAX_X_HEADER_NAME: usize = 76;

/// Why `name` is not a usable `xHeaders` name, if it is not.
fn x_header_name_problem(name: &str) -> Option<String> {
    if !name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("X-")) {
        return Some(
            "xHeaders names must start with X- (so a request cannot set From, Bcc or the MIME structure)".into(),
        );
    }
    if name.len() == 2 {
        return Some("there is no name after X-".into());
    }
    // RFC 5322 §3.6.8: field names are printable US-ASCII except ':'.
    if let Some(c) = name.chars().find(|&c| !c.is_ascii_graphic() || c == ':') {
        return Some(format!("{c:?} cannot appear in a header name (printable ASCII except ':')"));
    }
    if name.len() > MAX_X_HEADER_NAME {
        return Some(format!("header names are at most {MAX_X_HEADER_NAME} characters"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unsubscribe(value: &str) -> Result<String, String> {
        let mut r = Report::default();
        list_unsubscribe(&mut r, &Pointer::root(), value).ok_or_else(|| format!("{:?}", r.finish().0))
    }

    #[test]
    fn list_unsubscribe_takes_uris_and_bare_addresses() {
        assert_eq!(unsubscribe("unsub@sender.example").unwrap(), "<mailto:unsub@sender.example>");
        assert_eq!(
            unsubscribe(" <https://s.example/u?id=1> ,MAILTO:u@s.example?subject=x").unwrap(),
            "<https://s.example/u?id=1>, <MAILTO:u@s.example?subject=x>"
        );
        for bad in ["http://s.example/u", "unsubscribe", "https://s.example/ü", "mailto:", "a@b.example,"] {
            assert!(unsubscribe(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn x_header_names_say_what_is_wrong() {
        assert_eq!(x_header_name_problem("x-Campaign"), None);
        assert!(x_header_name_problem("Bcc").is_some_and(|m| m.contains("start with X-")));
        assert!(x_header_name_problem("X-").is_some_and(|m| m.contains("no name")));
        assert!(x_header_name_problem("X-a b").is_some_and(|m| m.contains("' '")));
        assert!(x_header_name_problem(&format!("X-{}", "a".repeat(75))).is_some_and(|m| m.contains("76")));
    }
}
