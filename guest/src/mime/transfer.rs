//! Content-Transfer-Encodings (RFC 2045 §6): quoted-printable and base64 encoders, and the
//! choice of encoding for a text part.
//!
//! Text is first put in canonical form (RFC 2046 §4.1.1: lines end in CRLF, whatever the
//! request used). The output never contains a line starting with `--=_`, the prefix of every
//! boundary this module's callers use (see [`super::part`]), and never a line longer than
//! 998 octets (RFC 5322 §2.1.1).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::header::HARD_LINE;

/// RFC 2045 §6.7 rule 5 and §6.8: encoded lines are at most 76 characters.
const MAX_ENCODED_LINE: usize = 76;

/// How a part's body is encoded for transport (RFC 2045 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TransferEncoding {
    /// US-ASCII lines of at most 998 octets, as they are.
    SevenBit,
    /// Lines of at most 998 octets, 8-bit bytes allowed (needs 8BITMIME, RFC 6152).
    EightBit,
    /// RFC 2045 §6.7.
    QuotedPrintable,
    /// RFC 2045 §6.8.
    Base64,
}

impl TransferEncoding {
    /// The `Content-Transfer-Encoding` value.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::SevenBit => "7bit",
            Self::EightBit => "8bit",
            Self::QuotedPrintable => "quoted-printable",
            Self::Base64 => "base64",
        }
    }
}

/// Encodes a text body, honouring the request's `contentTransferEncoding` where the text
/// allows it: `7bit` only for ASCII, `7bit`/`8bit`/`binary` only when every line fits in 998
/// octets (RFC 5322 §2.1.1), has no NUL (RFC 2045 §2.7, §2.8) and cannot be mistaken for a
/// boundary; otherwise, and by default, quoted-printable. `binary` is sent as `8bit`: the
/// canonical text is line-based, and `binary` would need BINARYMIME (RFC 3030).
pub(crate) fn encode_text(text: &str, requested: Option<&str>) -> (TransferEncoding, Vec<u8>) {
    let lines = canonical_lines(text);
    let sendable_as_is = || lines.iter().all(|l| l.len() <= HARD_LINE && !l.contains('\0') && !l.starts_with("--=_"));
    match requested {
        Some("base64") => (TransferEncoding::Base64, base64_lines(lines.join("\r\n").as_bytes())),
        Some("7bit") if text.is_ascii() && sendable_as_is() => {
            (TransferEncoding::SevenBit, lines.join("\r\n").into_bytes())
        }
        Some("8bit" | "binary") if sendable_as_is() => (TransferEncoding::EightBit, lines.join("\r\n").into_bytes()),
        _ => (TransferEncoding::QuotedPrintable, quoted_printable(&lines)),
    }
}

/// The lines of `text`, split at CRLF, LF or a lone CR (RFC 2046 §4.1.1: in canonical form
/// every line break is CRLF, so all three are line breaks).
fn canonical_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find(['\r', '\n']) {
        lines.push(&rest[..at]);
        let skip = if rest[at..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[at + skip..];
    }
    lines.push(rest);
    lines
}

/// Quoted-printable (RFC 2045 §6.7) of text lines, joined by CRLF hard line breaks.
fn quoted_printable(lines: &[&str]) -> Vec<u8> {
    let mut out = String::with_capacity(lines.iter().map(|l| l.len() + 2).sum::<usize>() * 11 / 10);
    for (i, line) in lines.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        quoted_printable_line(line.as_bytes(), &mut out);
    }
    out.into_bytes()
}

/// Quoted-printable of one line (without its line break), with soft line breaks (rule 5) so
/// no encoded line passes 76 characters.
///
/// Beyond the RFC's rules: a `.` or the `F` of `From ` that would start an encoded line is
/// encoded too (a lone `.` line ends SMTP DATA if a relay forgets dot-stuffing; mbox
/// storage turns `From ` into `>From `), and a soft break that would fall inside a run of
/// ASCII letters and digits is moved before the run, so such a run of up to 75 characters
/// (a password, a URL's word) is never split across lines, even in the encoded bytes.
pub(crate) fn quoted_printable_line(line: &[u8], out: &mut String) {
    let mut current = String::with_capacity(MAX_ENCODED_LINE);
    // Where the current run of ASCII letters and digits starts in `current`.
    let mut run_start: Option<usize> = None;
    for (i, &b) in line.iter().enumerate() {
        let last = i + 1 == line.len();
        let alnum = b.is_ascii_alphanumeric();
        let mut literal = is_literal(b, last, current.is_empty(), &line[i..]);
        let width = if literal { 1 } else { 3 };
        // Room for the `=` of a soft break is needed unless this is the line's last byte.
        let limit = if last { MAX_ENCODED_LINE } else { MAX_ENCODED_LINE - 1 };
        if current.len() + width > limit {
            let carry = match run_start {
                Some(start) if alnum && start > 0 => current.split_off(start),
                _ => String::new(),
            };
            out.push_str(&current);
            out.push_str("=\r\n");
            current = carry;
            run_start = (!current.is_empty()).then_some(0);
            literal = is_literal(b, last, current.is_empty(), &line[i..]);
        }
        if alnum {
            run_start.get_or_insert(current.len());
        } else {
            run_start = None;
        }
        if literal {
            current.push(b as char);
        } else {
            const HEX: &[u8; 16] = b"0123456789ABCDEF";
            current.push('=');
            current.push(HEX[usize::from(b >> 4)] as char);
            current.push(HEX[usize::from(b & 0x0f)] as char);
        }
    }
    out.push_str(&current);
}

/// Whether byte `b` may stand for itself (RFC 2045 §6.7 rules 2 and 3).
fn is_literal(b: u8, last_in_line: bool, starts_encoded_line: bool, rest: &[u8]) -> bool {
    match b {
        // Rule 3: white space at the end of a line would be lost by transports.
        b' ' | b'\t' => !last_in_line,
        b'=' => false,
        b'.' => !starts_encoded_line,
        b'F' => !(starts_encoded_line && rest.starts_with(b"From ")),
        33..=126 => true,
        _ => false,
    }
}

/// Base64 (RFC 2045 §6.8) in lines of 76 characters joined by CRLF, no final line break.
/// The alphabet has no `_`, so no line can start like a boundary (`--=_…`).
pub(crate) fn base64_lines(bytes: &[u8]) -> Vec<u8> {
    let encoded = STANDARD.encode(bytes);
    let mut out = Vec::with_capacity(encoded.len() + encoded.len() / MAX_ENCODED_LINE * 2 + 2);
    for (i, chunk) in encoded.as_bytes().chunks(MAX_ENCODED_LINE).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(chunk);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain RFC 2045 §6.7 decoder, independent of the encoder.
    fn qp_decode(encoded: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let bytes = encoded.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'=' if bytes[i + 1..].starts_with(b"\r\n") => i += 3,
                b'=' => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                    out.push(u8::from_str_radix(hex, 16).unwrap());
                    i += 3;
                }
                b => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        out
    }

    fn qp(text: &str) -> String {
        let (enc, bytes) = encode_text(text, None);
        assert_eq!(enc, TransferEncoding::QuotedPrintable);
        String::from_utf8(bytes).unwrap()
    }

    fn check_qp_lines(encoded: &str) {
        for line in encoded.split("\r\n") {
            assert!(line.len() <= MAX_ENCODED_LINE, "{} > 76: {line:?}", line.len());
            assert!(!line.ends_with(' ') && !line.ends_with('\t'), "trailing white space: {line:?}");
            assert!(line.bytes().all(|b| b == b'\t' || (32..127).contains(&b)), "{line:?}");
        }
    }

    #[test]
    fn qp_round_trips_long_lines_equals_trailing_space_and_non_ascii() {
        let text = format!(
            "a=b and c=d\n{}\ntrailing space   \nTab at end\t\nGrüße – 😀 {}\r\nlast line without break",
            "long line of words ".repeat(12),
            "ä".repeat(60),
        );
        let encoded = qp(&text);
        check_qp_lines(&encoded);
        assert!(encoded.contains("a=3Db and c=3Dd"));
        assert!(encoded.contains("trailing space  =20\r\n"));
        assert!(encoded.contains("Tab at end=09\r\n"));
        assert!(encoded.contains("Gr=C3=BC=C3=9Fe"));
        let canonical = text.replace("\r\n", "\n").replace('\n', "\r\n");
        assert_eq!(qp_decode(&encoded), canonical.as_bytes());
    }

    #[test]
    fn qp_never_splits_an_escape() {
        for n in 70..80 {
            let text = format!("{}{}", "x".repeat(n), "=".repeat(30));
            let encoded = qp(&text);
            check_qp_lines(&encoded);
            assert_eq!(qp_decode(&encoded), text.as_bytes());
        }
    }

    #[test]
    fn qp_keeps_alphanumeric_runs_of_up_to_75_whole() {
        let token: String = "Ab3dEf7hKm9pQr2tUv5xYz".chars().cycle().take(75).collect();
        for offset in 0..90 {
            let text = format!("{}<code>{token}</code> tail", "é".repeat(offset % 7).repeat(offset / 7 + 1));
            let encoded = qp(&text);
            check_qp_lines(&encoded);
            assert!(encoded.contains(&token), "split at offset {offset}:\n{encoded}");
            assert_eq!(qp_decode(&encoded), text.as_bytes());
        }
    }

    #[test]
    fn qp_protects_lone_dots_and_from_lines() {
        let encoded = qp(".\nFrom here\n.. two\nFrom\nx");
        assert_eq!(encoded, "=2E\r\n=46rom here\r\n=2E. two\r\nFrom\r\nx");
        // Also where a soft break would start a line with them.
        let text = format!("{}From me {}.end\n{}.end", "y ".repeat(37) + " ", "z".repeat(67), "y".repeat(75));
        let encoded = qp(&text);
        for line in encoded.split("\r\n") {
            assert!(!line.starts_with("From ") && !line.starts_with('.'), "{encoded}");
        }
        assert!(encoded.contains("=\r\n=46rom me") && encoded.contains("=\r\n=2Eend"), "{encoded}");
        assert_eq!(qp_decode(&encoded), text.replace('\n', "\r\n").as_bytes());
    }

    #[test]
    fn line_breaks_become_crlf() {
        let (_, bytes) = encode_text("a\nb\rc\r\nd\n", Some("7bit"));
        assert_eq!(bytes, b"a\r\nb\r\nc\r\nd\r\n");
    }

    #[test]
    fn requested_encodings_are_honoured_when_safe() {
        assert_eq!(encode_text("hello", Some("7bit")), (TransferEncoding::SevenBit, b"hello".to_vec()));
        assert_eq!(encode_text("hällo", Some("7bit")).0, TransferEncoding::QuotedPrintable);
        assert_eq!(encode_text("hällo", Some("8bit")), (TransferEncoding::EightBit, "hällo".as_bytes().to_vec()));
        assert_eq!(encode_text("hällo", Some("binary")).0, TransferEncoding::EightBit);
        assert_eq!(encode_text(&"a".repeat(999), Some("8bit")).0, TransferEncoding::QuotedPrintable);
        assert_eq!(encode_text(&"a".repeat(998), Some("7bit")).0, TransferEncoding::SevenBit);
        assert_eq!(encode_text("a\0b", Some("8bit")).0, TransferEncoding::QuotedPrintable);
        assert_eq!(encode_text("x\n--=_sealmail_a_0\n", Some("7bit")).0, TransferEncoding::QuotedPrintable);
        assert_eq!(encode_text("hello", Some("quoted-printable")).0, TransferEncoding::QuotedPrintable);
        let (enc, bytes) = encode_text("hällo\nwelt", Some("base64"));
        assert_eq!(enc, TransferEncoding::Base64);
        assert_eq!(STANDARD.decode(&bytes).unwrap(), "hällo\r\nwelt".as_bytes());
    }

    #[test]
    fn base64_wraps_at_76() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let out = String::from_utf8(base64_lines(&data)).unwrap();
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert!(lines[..lines.len() - 1].iter().all(|l| l.len() == 76));
        assert!(lines.last().unwrap().len() <= 76);
        assert_eq!(STANDARD.decode(lines.concat()).unwrap(), data);
        assert_eq!(base64_lines(&[0u8; 57]).len(), 76); // exactly one line, no break
        assert!(base64_lines(&[]).is_empty());
    }
}
