//! E-mail addresses as JobRequests write them: `a@b.example`, `Friendly Name <a@b.example>`,
//! `Name<a@b.example>` (no space, seen in Retarus samples) and `"Doe, Jane" <a@b.example>`.
//!
//! The address itself must be an RFC 5321 §4.1.2 `Mailbox` in ASCII (sealmail does not
//! speak SMTPUTF8 yet). The display name may be any Unicode text without control
//! characters; MIME rendering encodes it (RFC 2047).

use serde::Serialize;

/// An address with an optional display name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mailbox {
    /// The display name, if given.
    pub name: Option<String>,
    /// `local@domain`.
    pub address: String,
}

/// Why an address string was refused.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    /// A display name or address with CR/LF or another control character.
    #[error("contains a control character (CR, LF, NUL, …); addresses are header values")]
    ControlCharacter,
    /// A Unicode direction control (U+202A–U+202E, U+2066–U+2069) in the display name.
    #[error(
        "contains the Unicode direction control U+{0:04X}, which makes a name display as something else \
         (the name of another sender, a reordered address)"
    )]
    DirectionControl(u32),
    /// The `<…>` form is broken.
    #[error("has an unbalanced or misplaced '<' or '>'")]
    Brackets,
    /// A display name with a `"` that is never closed.
    #[error("has a '\"' in the display name that is never closed")]
    UnbalancedQuote,
    /// No `@`.
    #[error("\"{0}\" has no '@'")]
    NoAt(String),
    /// The part before `@` is not a dot-atom or quoted string.
    #[error("\"{0}\" has an invalid local part (before '@')")]
    LocalPart(String),
    /// The part after `@` is not a host name or address literal.
    #[error("\"{0}\" has an invalid domain (after '@')")]
    Domain(String),
    /// Non-ASCII characters in the address (needs SMTPUTF8 or IDNA).
    #[error("\"{0}\" has non-ASCII characters; write the domain in its ASCII (xn--) form")]
    NonAscii(String),
    /// Longer than RFC 5321 allows (64 local, 255 domain, 254 in all).
    #[error("\"{0}\" is longer than RFC 5321 allows")]
    TooLong(String),
}

/// Parses one address string in any of the accepted forms.
pub fn parse_mailbox(input: &str) -> Result<Mailbox, AddressError> {
    if input.chars().any(char::is_control) {
        return Err(AddressError::ControlCharacter);
    }
    if let Some(c) = input.chars().find(|&c| is_direction_control(c)) {
        return Err(AddressError::DirectionControl(c as u32));
    }
    let input = input.trim();
    let (name, address) = match input.rfind('<') {
        Some(open) => {
            let rest = &input[open + 1..];
            let Some(inner) = rest.strip_suffix('>') else { return Err(AddressError::Brackets) };
            if inner.contains(['<', '>']) {
                return Err(AddressError::Brackets);
            }
            (display_name(&input[..open])?, inner.trim())
        }
        None if input.contains('>') => return Err(AddressError::Brackets),
        None => (None, input),
    };
    check_address(address)?;
    Ok(Mailbox { name, address: address.to_owned() })
}

/// Whether `c` is a Unicode bidirectional embedding, override or isolate (UAX #9 §2.1–§2.2:
/// U+202A–U+202E, U+2066–U+2069). They reorder what follows them on screen:
/// `invoice\u{202E}fdp.exe` displays as `invoiceexe.pdf` (the "RTLO" spoof, CVE-2021-42574
/// for source code). Right-to-left text needs none of them; the implicit marks U+200E and
/// U+200F, which reorder nothing by themselves, stay allowed.
pub fn is_direction_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The text before `<`, unquoted: `"Doe, Jane"` → `Doe, Jane`.
fn display_name(raw: &str) -> Result<Option<String>, AddressError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    if let Some(name) = single_quoted_string(raw) {
        let name = name.trim().to_owned();
        return Ok((!name.is_empty()).then_some(name));
    }
    // An RFC 5322 §3.2.5 phrase: words and quoted strings (`Jane "JJ" Doe`), kept as given.
    // Outside quotes a '>' cannot appear; a quote left open would swallow the address when
    // the header is read back, so both are refused.
    let mut in_quotes = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_quotes => {
                chars.next();
            }
            '"' => in_quotes = !in_quotes,
            '>' if !in_quotes => return Err(AddressError::Brackets),
            _ => {}
        }
    }
    if in_quotes {
        return Err(AddressError::UnbalancedQuote);
    }
    Ok(Some(raw.to_owned()))
}

/// The text of `raw` when it is exactly one quoted string (`"Doe, Jane"`), unescaped.
fn single_quoted_string(raw: &str) -> Option<String> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    let mut name = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => name.push(chars.next()?),
            '"' => return None,
            c => name.push(c),
        }
    }
    Some(name)
}

/// RFC 5321 §4.1.2 `Mailbox = Local-part "@" ( Domain / address-literal )`, with the
/// §4.5.3.1 size limits.
pub fn check_address(address: &str) -> Result<(), AddressError> {
    if !address.is_ascii() {
        return Err(AddressError::NonAscii(address.to_owned()));
    }
    let Some(at) = address.rfind('@') else { return Err(AddressError::NoAt(address.to_owned())) };
    let (local, domain) = (&address[..at], &address[at + 1..]);
    if local.len() > 64 || domain.len() > 255 || address.len() > 254 {
        return Err(AddressError::TooLong(address.to_owned()));
    }
    if !(is_dot_atom(local) || is_quoted_string(local)) {
        return Err(AddressError::LocalPart(address.to_owned()));
    }
    if !(is_domain(domain) || is_address_literal(domain)) {
        return Err(AddressError::Domain(address.to_owned()));
    }
    Ok(())
}

/// RFC 5322 §3.2.3 atext.
fn is_atext(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~".contains(&c)
}

fn is_dot_atom(s: &str) -> bool {
    !s.is_empty() && s.split('.').all(|atom| !atom.is_empty() && atom.bytes().all(is_atext))
}

/// RFC 5321 Quoted-string: printable ASCII, with `\` escaping `"` and `\`.
fn is_quoted_string(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) else { return false };
    let mut bytes = inner.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'\\' => match bytes.next() {
                Some(32..=126) => {}
                _ => return false,
            },
            b'"' => return false,
            32..=126 => {}
            _ => return false,
        }
    }
    true
}

/// RFC 5321 §4.1.2 Domain: LDH labels of 1–63 characters, not starting or ending with `-`.
/// A single label (`a@b`) is allowed, as in the Retarus samples.
fn is_domain(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// RFC 5321 §4.1.3 address literals: `[192.0.2.1]` or `[IPv6:2001:db8::1]`.
fn is_address_literal(s: &str) -> bool {
    let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) else { return false };
    match inner.strip_prefix("IPv6:") {
        Some(v6) => v6.parse::<std::net::Ipv6Addr>().is_ok(),
        None => inner.parse::<std::net::Ipv4Addr>().is_ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(name: Option<&str>, address: &str) -> Mailbox {
        Mailbox { name: name.map(str::to_owned), address: address.to_owned() }
    }

    #[test]
    fn accepts_the_forms_requests_use() {
        assert_eq!(parse_mailbox("a@b.example"), Ok(mb(None, "a@b.example")));
        assert_eq!(
            parse_mailbox("TO_1_Friendly <to1@recipient.example>"),
            Ok(mb(Some("TO_1_Friendly"), "to1@recipient.example"))
        );
        assert_eq!(
            parse_mailbox("Buchhaltung<accounting@recipient.example>"),
            Ok(mb(Some("Buchhaltung"), "accounting@recipient.example"))
        );
        assert_eq!(
            parse_mailbox("Max Müller <max@recipient.example>"),
            Ok(mb(Some("Max Müller"), "max@recipient.example"))
        );
        assert_eq!(parse_mailbox("\"Doe, \\\"J\\\"\" <j@d.example>"), Ok(mb(Some("Doe, \"J\""), "j@d.example")));
        assert_eq!(parse_mailbox("<bare@d.example>"), Ok(mb(None, "bare@d.example")));
        assert_eq!(parse_mailbox("\"a\" \"b\" <x@d.example>"), Ok(mb(Some("\"a\" \"b\""), "x@d.example")));
        assert_eq!(parse_mailbox("Jane \"J>J\" Doe <x@d.example>"), Ok(mb(Some("Jane \"J>J\" Doe"), "x@d.example")));
        assert_eq!(parse_mailbox("x@[192.0.2.1]"), Ok(mb(None, "x@[192.0.2.1]")));
        assert_eq!(parse_mailbox("\"odd local\"@d.example"), Ok(mb(None, "\"odd local\"@d.example")));
        assert_eq!(parse_mailbox("a@b"), Ok(mb(None, "a@b")));
        // Right-to-left names need no direction controls; the implicit mark U+200F is fine.
        assert_eq!(parse_mailbox("שרה\u{200F} <s@d.example>"), Ok(mb(Some("שרה\u{200F}"), "s@d.example")));
    }

    #[test]
    fn refuses_what_smtp_cannot_carry() {
        assert_eq!(parse_mailbox("a@b.example\r\nBcc: x@y"), Err(AddressError::ControlCharacter));
        assert_eq!(parse_mailbox("Bank\u{202E}evil <a@b.example>"), Err(AddressError::DirectionControl(0x202E)));
        assert_eq!(parse_mailbox("\u{2066}Ops\u{2069} <a@b.example>"), Err(AddressError::DirectionControl(0x2066)));
        assert!(matches!(parse_mailbox("a\u{200B}b@d.example"), Err(AddressError::NonAscii(_))));
        assert!(matches!(parse_mailbox("a\u{FF20}d.example"), Err(AddressError::NonAscii(_))));
        assert!(matches!(parse_mailbox("a@\u{0430}pple.example"), Err(AddressError::NonAscii(_))));
        assert_eq!(parse_mailbox("Name <a@b.example"), Err(AddressError::Brackets));
        assert_eq!(parse_mailbox("Name a@b.example>"), Err(AddressError::Brackets));
        assert_eq!(parse_mailbox("Name <a@b> <c@d>"), Err(AddressError::Brackets));
        assert_eq!(parse_mailbox("\"Doe <a@b.example>"), Err(AddressError::UnbalancedQuote));
        assert_eq!(parse_mailbox("\"a\\\" <a@b.example>"), Err(AddressError::UnbalancedQuote));
        assert!(matches!(parse_mailbox("nobody"), Err(AddressError::NoAt(_))));
        assert!(matches!(parse_mailbox("a..b@d.example"), Err(AddressError::LocalPart(_))));
        assert!(matches!(parse_mailbox("a b@d.example"), Err(AddressError::LocalPart(_))));
        assert!(matches!(parse_mailbox("a@-d.example"), Err(AddressError::Domain(_))));
        assert!(matches!(parse_mailbox("a@d..example"), Err(AddressError::Domain(_))));
        assert!(matches!(parse_mailbox("a@[999.0.0.1]"), Err(AddressError::Domain(_))));
        assert!(matches!(parse_mailbox("jörg@d.example"), Err(AddressError::NonAscii(_))));
        assert!(matches!(parse_mailbox(&format!("{}@d.example", "a".repeat(65))), Err(AddressError::TooLong(_))));
    }
}
