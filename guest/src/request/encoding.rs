//! Decoding of JobRequest text fields (`contentEncoding` + `charset`) and attachment
//! content (base64).
//!
//! A field's `content` is a JSON string; `contentEncoding` says whether that string is the
//! text itself (`plain`), or quoted-printable (RFC 2045 §6.7) or base64 (RFC 4648 §4) of its
//! bytes. Decoded bytes are read in `charset` (a WHATWG Encoding label, default UTF-8) and
//! become Unicode text; sealmail always sends UTF-8.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The accepted `contentEncoding` values.
pub const CONTENT_ENCODINGS: [&str; 3] = ["plain", "quoted-printable", "base64"];

/// The accepted `contentTransferEncoding` values (RFC 2045 §6.1), compared ignoring case.
pub const TRANSFER_ENCODINGS: [&str; 5] = ["7bit", "8bit", "binary", "quoted-printable", "base64"];

/// How a text field's content is written in the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// The JSON string is the text.
    Plain,
    /// RFC 2045 quoted-printable of the text's bytes.
    QuotedPrintable,
    /// RFC 4648 base64 of the text's bytes.
    Base64,
}

impl ContentEncoding {
    /// Parses a `contentEncoding` value (exact, lower case as Retarus documents it).
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "plain" => Some(Self::Plain),
            "quoted-printable" => Some(Self::QuotedPrintable),
            "base64" => Some(Self::Base64),
            _ => None,
        }
    }
}

/// Why content does not decode.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    /// Bad base64.
    #[error("is not valid base64: {0}")]
    Base64(String),
    /// Bad quoted-printable.
    #[error("is not valid quoted-printable: {0}")]
    QuotedPrintable(String),
    /// The bytes are not text in the charset.
    #[error("does not decode as {0}")]
    Charset(&'static str),
    /// A broken RFC 2047 encoded-word (`=?charset?Q?…?=`).
    #[error("has an invalid RFC 2047 encoded-word: {0}")]
    EncodedWord(String),
}

/// Base64 as mail producers write it: standard alphabet, padding optional, line breaks and
/// other ASCII white space ignored (RFC 2045 §6.8 wraps at 76 characters).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64, ignoring ASCII white space. Errors name the first offending character by
/// its position in `text` (white space counted), so a client can find it.
///
/// The common case — valid base64, often without line breaks — is decoded in one pass by
/// the `base64` crate; the character-by-character diagnosis runs only when that fails.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, DecodeError> {
    let compact: std::borrow::Cow<'_, [u8]> = if text.bytes().any(|b| b.is_ascii_whitespace()) {
        text.bytes().filter(|b| !b.is_ascii_whitespace()).collect::<Vec<u8>>().into()
    } else {
        text.as_bytes().into()
    };
    BASE64.decode(&compact).map_err(|e| diagnose_base64(text).unwrap_or_else(|| crate_error(e)))
}

/// The first character of `text` that cannot be base64, described, if there is one.
fn diagnose_base64(text: &str) -> Option<DecodeError> {
    let mut padding_at = None;
    for (at, c) in text.chars().enumerate() {
        match c {
            c if c.is_ascii_whitespace() => {}
            '=' => {
                padding_at.get_or_insert(at);
            }
            c if c.is_ascii_alphanumeric() || c == '+' || c == '/' => {
                if let Some(pad) = padding_at {
                    return Some(DecodeError::Base64(format!(
                        "the '=' padding at character {pad} is followed by more data at character {at}"
                    )));
                }
            }
            c => {
                let hint = if c == '-' || c == '_' { " (base64url is not accepted: use '+' and '/')" } else { "" };
                return Some(DecodeError::Base64(format!(
                    "character {at} is {c:?}, which is not in the base64 alphabet (A-Z, a-z, 0-9, '+', '/', '=' padding){hint}"
                )));
            }
        }
    }
    None
}

fn crate_error(e: base64::DecodeError) -> DecodeError {
    DecodeError::Base64(match e {
        base64::DecodeError::InvalidByte(at, byte) => {
            format!("character {at} (not counting white space) is {:?}", char::from(byte))
        }
        base64::DecodeError::InvalidLength(len) => {
            format!("{len} characters cannot be base64 (not a whole number of bytes)")
        }
        base64::DecodeError::InvalidLastSymbol(at, _) => {
            format!("the last character (at {at}, not counting white space) has bits set that encode nothing")
        }
        base64::DecodeError::InvalidPadding => "the '=' padding is wrong".to_owned(),
    })
}

/// Decodes quoted-printable (RFC 2045 §6.7): `=XX` escapes (either case), soft line breaks
/// `=` CRLF (or bare LF); anything else after `=` is an error, not passed through.
pub fn decode_quoted_printable(text: &str) -> Result<Vec<u8>, DecodeError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'=' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        match (bytes.get(i + 1), bytes.get(i + 2)) {
            (Some(b'\r'), Some(b'\n')) => i += 3,
            (Some(b'\n'), _) => i += 2,
            (Some(&h), Some(&l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(h) << 4 | hex(l));
                i += 3;
            }
            _ => {
                let at = text[..i].chars().count();
                return Err(DecodeError::QuotedPrintable(format!(
                    "'=' at character {at} is not followed by two hex digits or a line break"
                )));
            }
        }
    }
    Ok(out)
}

/// Looks up a `charset` label (WHATWG Encoding Standard labels: `UTF-8`, `ISO-8859-1`,
/// `windows-1252`, `UTF-16`, …). `None` for unknown labels and for the "replacement"
/// encoding, which decodes nothing.
pub fn charset(label: &str) -> Option<&'static encoding_rs::Encoding> {
    encoding_rs::Encoding::for_label(label.trim().as_bytes()).filter(|e| *e != encoding_rs::REPLACEMENT)
}

/// Turns a text field's `content` into Unicode text.
pub fn decode_text(
    content: &str,
    encoding: ContentEncoding,
    charset: &'static encoding_rs::Encoding,
) -> Result<String, DecodeError> {
    let bytes = match encoding {
        ContentEncoding::Plain => return Ok(content.to_owned()),
        ContentEncoding::QuotedPrintable => decode_quoted_printable(content)?,
        ContentEncoding::Base64 => decode_base64(content)?,
    };
    let (text, had_errors) = charset.decode_with_bom_removal(&bytes);
    if had_errors {
        return Err(DecodeError::Charset(charset.name()));
    }
    Ok(text.into_owned())
}

/// Turns a subject's `content` into Unicode text. Like [`decode_text`], except that a
/// quoted-printable or base64 subject may be written as RFC 2047 encoded-words, the way the
/// Retarus documentation shows a quoted-printable subject (`=?UTF-8?Q?test=C3=B6?=`). `=?`
/// is never valid RFC 2045 quoted-printable or base64, so the two forms cannot be confused.
pub fn decode_subject(
    content: &str,
    encoding: ContentEncoding,
    charset: &'static encoding_rs::Encoding,
) -> Result<String, DecodeError> {
    if encoding != ContentEncoding::Plain && content.contains("=?") {
        decode_encoded_words(content)
    } else {
        decode_text(content, encoding, charset)
    }
}

/// Decodes RFC 2047 encoded-words in `text`; text outside them is kept. White space between
/// two adjacent encoded-words is dropped (§6.2), and the bytes of adjacent words in the same
/// charset are joined before decoding, since encoders split multi-byte characters across
/// words. Each word names its charset; unknown charsets and broken words are errors.
/// Folding white space (CRLF followed by a space or tab) is unfolded first.
pub fn decode_encoded_words(text: &str) -> Result<String, DecodeError> {
    // A subject copied from a header may be folded (RFC 5322 §2.2.3): CRLF before white
    // space is not part of the text. Any other line break stays, and is refused later.
    let unfolded = text.replace("\r\n ", " ").replace("\r\n\t", "\t");
    let text = unfolded.as_str();
    let mut out = String::with_capacity(text.len());
    // Decoded bytes of the current run of adjacent words, with their charset.
    let mut run: Option<(&'static encoding_rs::Encoding, Vec<u8>)> = None;
    let mut rest = text;
    while let Some(start) = rest.find("=?") {
        let at = text.len() - rest.len() + start;
        let (before, word) = rest.split_at(start);
        let (label, bytes, len) = encoded_word(word)
            .map_err(|why| DecodeError::EncodedWord(format!("{why} (at character {})", text[..at].chars().count())))?;
        let charset =
            charset(label).ok_or_else(|| DecodeError::EncodedWord(format!("\"{label}\" is not a known charset")))?;
        match &mut run {
            Some((run_charset, run_bytes)) if before.trim().is_empty() && *run_charset == charset => {
                run_bytes.extend_from_slice(&bytes);
            }
            _ => {
                let adjacent = run.is_some() && before.trim().is_empty();
                flush_run(&mut out, run.take())?;
                if !adjacent {
                    out.push_str(before);
                }
                run = Some((charset, bytes));
            }
        }
        rest = &word[len..];
    }
    flush_run(&mut out, run)?;
    out.push_str(rest);
    Ok(out)
}

fn flush_run(out: &mut String, run: Option<(&'static encoding_rs::Encoding, Vec<u8>)>) -> Result<(), DecodeError> {
    if let Some((charset, bytes)) = run {
        let text = charset
            .decode_without_bom_handling_and_without_replacement(&bytes)
            .ok_or(DecodeError::Charset(charset.name()))?;
        out.push_str(&text);
    }
    Ok(())
}

/// Reads one encoded-word at the start of `s` (which starts with `=?`): its charset label,
/// its decoded bytes and its length in `s`.
fn encoded_word(s: &str) -> Result<(&str, Vec<u8>, usize), String> {
    let malformed = || "an encoded-word is =?charset?Q?text?= or =?charset?B?text?=".to_owned();
    let inner = &s[2..];
    let (label, after) = inner.split_once('?').ok_or_else(malformed)?;
    // RFC 2231 §5 allows `charset*language`; the language does not matter here.
    let label = label.split('*').next().unwrap_or("");
    if label.is_empty() || label.contains(char::is_whitespace) {
        return Err(malformed());
    }
    let mut chars = after.chars();
    let (Some(mode), Some('?')) = (chars.next(), chars.next()) else { return Err(malformed()) };
    let payload = chars.as_str();
    let end = payload.find("?=").ok_or_else(malformed)?;
    let encoded = &payload[..end];
    if encoded.contains(|c: char| c == '?' || c.is_whitespace()) {
        return Err(malformed());
    }
    let bytes = match mode {
        'Q' | 'q' => decode_q(encoded)?,
        'B' | 'b' => decode_base64(encoded).map_err(|e| e.to_string())?,
        other => return Err(format!("{other:?} is not an encoding; use Q or B")),
    };
    let len = s.len() - payload.len() + end + 2;
    Ok((label, bytes, len))
}

/// RFC 2047 §4.2 "Q": quoted-printable where `_` is a space.
fn decode_q(encoded: &str) -> Result<Vec<u8>, String> {
    let bytes = encoded.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'_' => out.push(b' '),
            b'=' => {
                let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
                let (Some(h), Some(l)) = (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) else {
                    return Err("'=' in Q-encoded text is not followed by two hex digits".into());
                };
                out.push((h << 4 | l) as u8);
                i += 2;
            }
            b if b.is_ascii_graphic() => out.push(b),
            _ => return Err("Q-encoded text is printable ASCII only".into()),
        }
        i += 1;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_ignores_line_breaks_and_padding() {
        assert_eq!(decode_base64("bmFt\r\nZQ==").unwrap(), b"name");
        assert_eq!(decode_base64("bmFtZQ").unwrap(), b"name");
        assert!(matches!(decode_base64("bmFtZQ=!"), Err(DecodeError::Base64(m)) if m.contains("character 7 is '!'")));
        assert!(
            matches!(decode_base64("bm\r\nFt_Q"), Err(DecodeError::Base64(m)) if m.contains("character 6 is '_'") && m.contains("base64url"))
        );
        assert!(
            matches!(decode_base64("bm=FtZQ=="), Err(DecodeError::Base64(m)) if m.contains("padding at character 2"))
        );
        assert!(decode_base64("bmFtZQ===").is_err());
        assert!(decode_base64("bmFtZ").is_err());
    }

    #[test]
    fn quoted_printable_round_trips_rfc_2045_examples() {
        assert_eq!(decode_quoted_printable("F=C3=BCr =\r\nSie=3d").unwrap(), "Für Sie=".as_bytes());
        assert_eq!(decode_quoted_printable("a=\nb=c3=a4").unwrap(), "abä".as_bytes());
        assert!(
            matches!(decode_quoted_printable("50% =G0"), Err(DecodeError::QuotedPrintable(m)) if m.contains("character 4"))
        );
        assert!(decode_quoted_printable("trailing =").is_err());
    }

    #[test]
    fn charsets_decode_legacy_text() {
        let latin1 = charset("ISO-8859-1").unwrap();
        assert_eq!(decode_text("=FCber", ContentEncoding::QuotedPrintable, latin1).unwrap(), "über");
        let utf16 = charset("UTF-16").unwrap();
        assert_eq!(decode_text("//5oAGkA", ContentEncoding::Base64, utf16).unwrap(), "hi");
        let utf8 = charset("utf-8").unwrap();
        assert_eq!(decode_text("/w==", ContentEncoding::Base64, utf8), Err(DecodeError::Charset("UTF-8")));
        assert!(charset("klingon").is_none());
        assert!(charset("iso-2022-kr").is_none(), "the replacement encoding decodes nothing");
    }

    #[test]
    fn subjects_may_be_rfc_2047_encoded_words() {
        let utf8 = encoding_rs::UTF_8;
        // The Retarus documentation's quoted-printable subject.
        let retarus = "=?UTF-8?Q?test=C3=B6=C3=B6=C3=A4=C3=BC=C3=BC?=";
        assert_eq!(decode_subject(retarus, ContentEncoding::QuotedPrintable, utf8).unwrap(), "testööäüü");
        // Adjacent words: the white space between them goes, a character split across them joins.
        let split = "=?utf-8?q?Gr=C3?= =?UTF-8?Q?=BC=C3=9Fe_aus?=\r\n =?iso-8859-1?B?S/Zsbg==?= !";
        assert_eq!(decode_subject(split, ContentEncoding::QuotedPrintable, utf8).unwrap(), "Grüße ausKöln !");
        assert_eq!(decode_subject("Re: =?UTF-8*de?B?w7xiZXI=?=", ContentEncoding::Base64, utf8).unwrap(), "Re: über");
        // Plain content is never read as encoded-words; RFC 2045 QP still works.
        assert_eq!(decode_subject("=?x?Q?y?=", ContentEncoding::Plain, utf8).unwrap(), "=?x?Q?y?=");
        assert_eq!(decode_subject("=C3=BC", ContentEncoding::QuotedPrintable, utf8).unwrap(), "ü");
        for bad in [
            "=?UTF-8?X?abc?=",
            "=?UTF-8?Q?a b?=",
            "=?UTF-8?Q?abc",
            "=?klingon?Q?abc?=",
            "=?UTF-8?Q?=ZZ?=",
            "=?UTF-8?Q?=FF?=",
        ] {
            assert!(decode_subject(bad, ContentEncoding::QuotedPrintable, utf8).is_err(), "{bad}");
        }
    }
}
