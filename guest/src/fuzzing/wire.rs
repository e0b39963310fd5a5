//! What every rendered message must look like on the wire, whatever the request said:
//! the invariants `mime` promises (RFC 5322 §2.1.1, §2.2, §3.6; RFC 2045 §2.7) and the ones
//! a header injection would break.

use crate::request::encoding::{decode_base64, decode_encoded_words, decode_quoted_printable};

/// Fields the renderer writes exactly once at the top of every message (RFC 5322 §3.6:
/// `Date` and `From` are required; the others are sealmail's own promise).
const ONCE: [&str; 5] = ["date", "from", "subject", "message-id", "mime-version"];

/// Panics unless `message` is a sendable RFC 5322 message:
///
/// - lines end in CRLF, with no bare CR or LF and no NUL, and the message ends with CRLF;
/// - no line is longer than 998 octets (without its CRLF);
/// - the header section is 7-bit, and so is the whole message unless some part declares
///   `Content-Transfer-Encoding: 8bit` (which the request may ask for);
/// - the header section is only `Name: value` fields and their folded continuations (a CR
///   or LF slipping through a value would break this);
/// - `Date`, `From`, `Subject`, `Message-ID` and `MIME-Version` appear exactly once, `To`,
///   `Cc`, `Reply-To` at most once, and `Bcc` never (RFC 5322 §3.6.3: bcc recipients must
///   stay invisible);
/// - every line that starts like a delimiter (`--=_`, the prefix of every boundary the
///   renderer makes) is a delimiter of a declared boundary, and each declared boundary is
///   closed exactly once (RFC 2046 §5.1.1: content must never contain its boundary).
pub(crate) fn check_message(message: &[u8]) {
    let show = || String::from_utf8_lossy(message).into_owned();
    assert!(message.ends_with(b"\r\n"), "message does not end with CRLF:\n{}", show());
    assert!(!message.contains(&0), "NUL in message:\n{}", show());
    for (i, &b) in message.iter().enumerate() {
        match b {
            b'\r' => assert_eq!(message.get(i + 1), Some(&b'\n'), "bare CR at {i}:\n{}", show()),
            b'\n' => assert!(i > 0 && message[i - 1] == b'\r', "bare LF at {i}:\n{}", show()),
            _ => {}
        }
    }
    for line in message.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        assert!(line.len() <= 998, "line of {} octets:\n{}", line.len(), show());
    }

    let end = message.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no body:\n{}", show()));
    let head = &message[..end + 2];
    assert!(head.is_ascii(), "8-bit header section:\n{}", show());
    let eight_bit_declared =
        String::from_utf8_lossy(message).to_ascii_lowercase().contains("content-transfer-encoding: 8bit");
    assert!(message.is_ascii() || eight_bit_declared, "8-bit octets without a part declaring 8bit:\n{}", show());

    let head = std::str::from_utf8(head).expect("ASCII is UTF-8");
    let mut names: Vec<String> = Vec::new();
    for line in head.split_terminator("\r\n") {
        if line.starts_with([' ', '\t']) {
            assert!(!names.is_empty(), "continuation line before any field:\n{}", show());
            assert!(!line.trim().is_empty(), "white-space-only continuation line:\n{}", show());
            continue;
        }
        let (name, _) = line.split_once(':').unwrap_or_else(|| panic!("header line without ':': {line:?}\n{}", show()));
        // RFC 5322 §3.6.8: field names are printable ASCII except ':'.
        assert!(
            !name.is_empty() && name.bytes().all(|b| (33..=126).contains(&b)),
            "bad field name {name:?}:\n{}",
            show()
        );
        names.push(name.to_ascii_lowercase());
    }
    let count = |n: &str| names.iter().filter(|x| *x == n).count();
    for name in ONCE {
        assert_eq!(count(name), 1, "{name} appears {} times:\n{}", count(name), show());
    }
    for name in ["to", "cc", "reply-to", "in-reply-to", "references"] {
        assert!(count(name) <= 1, "{name} appears {} times:\n{}", count(name), show());
    }
    assert_eq!(count("bcc"), 0, "Bcc written:\n{}", show());
    check_boundaries(message);
}

/// Panics unless a single-part message's body decodes (by its `Content-Transfer-Encoding`,
/// RFC 2045 §6) back to `text` in canonical form: line breaks as CRLF (RFC 2046 §4.1.1),
/// nothing else changed. Multipart messages are left alone.
pub(crate) fn check_single_part_body(message: &[u8], text: &str) {
    let show = || String::from_utf8_lossy(message).into_owned();
    let Some(end) = message.windows(4).position(|w| w == b"\r\n\r\n") else { return };
    let head = String::from_utf8_lossy(&message[..end]).replace("\r\n ", " ").replace("\r\n\t", "\t");
    let field = |name: &str| {
        head.split("\r\n").find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_ascii_lowercase())
        })
    };
    if field("content-type").is_none_or(|t| t.starts_with("multipart/")) {
        return;
    }
    let body = &message[end + 4..];
    let body_text = String::from_utf8_lossy(body);
    let decoded = match field("content-transfer-encoding").as_deref() {
        Some("quoted-printable") => decode_quoted_printable(&body_text),
        Some("base64") => decode_base64(&body_text),
        _ => Ok(body.to_vec()),
    }
    .unwrap_or_else(|e| panic!("the body does not decode: {e}\n{}", show()));
    let mut canonical = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(['\r', '\n']) {
        canonical.push_str(&rest[..at]);
        canonical.push_str("\r\n");
        rest = &rest[at + if rest[at..].starts_with("\r\n") { 2 } else { 1 }..];
    }
    canonical.push_str(rest);
    let decoded = decoded.strip_suffix(b"\r\n").filter(|d| *d == canonical.as_bytes()).unwrap_or(&decoded);
    assert!(
        decoded == canonical.as_bytes(),
        "the body decodes to {:?}, not {canonical:?}:\n{}",
        String::from_utf8_lossy(decoded),
        show()
    );
}

/// Panics unless the top-level unstructured field `name` (`Subject`) reads back as `expected`:
/// unfolded (RFC 5322 §2.2.3) and its RFC 2047 encoded-words decoded, it is the value the
/// renderer was given, with control characters as spaces (`mime::header::one_line`).
pub(crate) fn check_unstructured(message: &[u8], name: &str, expected: &str) {
    let show = || String::from_utf8_lossy(message).into_owned();
    let end = message.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or(message.len());
    let head = String::from_utf8_lossy(&message[..end]).replace("\r\n ", " ").replace("\r\n\t", "\t");
    let Some(raw) = head.split("\r\n").find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then_some(v)
    }) else {
        panic!("no {name} field:\n{}", show());
    };
    let value = raw.strip_prefix(' ').unwrap_or(raw);
    let decoded = decode_encoded_words(value).unwrap_or_else(|e| panic!("{name} does not decode: {e}\n{}", show()));
    let expected: String = expected.chars().map(|c| if c != '\t' && c.is_control() { ' ' } else { c }).collect();
    // A value of white space only is written as an empty field (RFC 5322 §3.2.5 allows an
    // empty `unstructured`; a line of only white space after folding would not be).
    if decoded.is_empty() && expected.trim_matches([' ', '\t']).is_empty() {
        return;
    }
    assert_eq!(decoded, expected, "{name} does not read back as given:\n{}", show());
}

/// See [`check_message`]: delimiter lines match the declared boundaries.
fn check_boundaries(message: &[u8]) {
    let text = String::from_utf8_lossy(message);
    let show = || text.clone().into_owned();
    let unfolded = text.replace("\r\n ", " ").replace("\r\n\t", "\t");
    let mut declared: Vec<&str> = Vec::new();
    for (at, _) in unfolded.match_indices("boundary=\"=_") {
        let rest = &unfolded[at + "boundary=\"".len()..];
        let Some(end) = rest.find('"') else { panic!("unterminated boundary parameter:\n{}", show()) };
        declared.push(&rest[..end]);
    }
    let mut closed = vec![0usize; declared.len()];
    for line in text.split("\r\n").filter(|l| l.starts_with("--=_")) {
        let body = &line[2..];
        let (name, closing) = match body.strip_suffix("--") {
            Some(name) if declared.contains(&name) => (name, true),
            _ => (body, false),
        };
        let Some(i) = declared.iter().position(|d| *d == name) else {
            panic!("line {line:?} looks like a delimiter but no boundary {name:?} is declared:\n{}", show());
        };
        if closing {
            closed[i] += 1;
        }
    }
    for (boundary, n) in declared.iter().zip(&closed) {
        assert_eq!(*n, 1, "boundary {boundary:?} closed {n} times:\n{}", show());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] =
        b"Date: x\r\nFrom: a@b\r\nSubject: s\r\n  folded\r\nMessage-ID: <x@y>\r\nMIME-Version: 1.0\r\n\r\nbody\r\n";

    #[test]
    fn accepts_a_well_formed_message() {
        check_message(GOOD);
    }

    #[test]
    #[should_panic(expected = "bare LF")]
    fn refuses_a_bare_lf() {
        let mut m = GOOD.to_vec();
        m.splice(0..0, b"X-A: 1\nBcc: z@z\r\n".iter().copied());
        check_message(&m);
    }

    #[test]
    fn accepts_matching_delimiters() {
        let m = b"Date: x\r\nFrom: a@b\r\nSubject: s\r\nMessage-ID: <x@y>\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed;\r\n boundary=\"=_s_0\"\r\n\r\n--=_s_0\r\n\r\nx\r\n--=_s_0--\r\n";
        check_message(m);
    }

    #[test]
    #[should_panic(expected = "looks like a delimiter")]
    fn refuses_content_that_looks_like_a_delimiter() {
        let m = b"Date: x\r\nFrom: a@b\r\nSubject: s\r\nMessage-ID: <x@y>\r\nMIME-Version: 1.0\r\n\
            Content-Type: multipart/mixed;\r\n boundary=\"=_s_0\"\r\n\r\n--=_s_0\r\n\r\n--=_s_1\r\n--=_s_0--\r\n";
        check_message(m);
    }

    const QP: &[u8] = b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding:\r\n quoted-printable\r\n\r\ncaf=C3=A9 =\r\nau lait\r\nline 2\r\n";

    #[test]
    fn a_single_part_body_decodes_to_its_text() {
        check_single_part_body(QP, "café au lait\nline 2");
    }

    #[test]
    #[should_panic(expected = "the body decodes to")]
    fn a_changed_body_is_found() {
        check_single_part_body(QP, "café au lait\nline 3");
    }

    #[test]
    fn a_folded_encoded_subject_reads_back() {
        let m = b"Subject: =?UTF-8?B?w6k=?=\r\n =?UTF-8?B?IGI=?=\r\nX: y\r\n\r\n";
        check_unstructured(m, "Subject", "é b");
    }

    #[test]
    #[should_panic(expected = "does not read back")]
    fn a_changed_subject_is_found() {
        check_unstructured(b"Subject: a\r\n  b\r\n\r\n", "Subject", "a b");
    }

    #[test]
    #[should_panic(expected = "Bcc written")]
    fn refuses_bcc() {
        let mut m = GOOD.to_vec();
        m.splice(0..0, b"Bcc: z@z\r\n".iter().copied());
        check_message(&m);
    }

    #[test]
    #[should_panic(expected = "subject appears 2 times")]
    fn refuses_an_injected_field() {
        let mut m = GOOD.to_vec();
        m.splice(0..0, b"Subject: again\r\n".iter().copied());
        check_message(&m);
    }
}
