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
}

/// Base64 as mail producers write it: standard alphabet, padding optional, line breaks and
/// other ASCII white space ignored (RFC 2045 §6.8 wraps at 76 characters).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes base64, ignoring ASCII white space.
pub fn decode_base64(text: &str) -> Result<Vec<u8>, DecodeError> {
    let compact: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    BASE64.decode(&compact).map_err(|e| {
        DecodeError::Base64(match e {
            base64::DecodeError::InvalidByte(at, byte) => {
                format!("character {at} (not counting white space) is {:?}", char::from(byte))
            }
            base64::DecodeError::InvalidLength(len) => {
                format!("{len} characters cannot be base64 (not a whole number of bytes)")
            }
            base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("the last character (at {at}) has bits set that encode nothing")
            }
            base64::DecodeError::InvalidPadding => "the '=' padding is wrong".to_owned(),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_ignores_line_breaks_and_padding() {
        assert_eq!(decode_base64("bmFt\r\nZQ==").unwrap(), b"name");
        assert_eq!(decode_base64("bmFtZQ").unwrap(), b"name");
        assert!(matches!(decode_base64("bmFtZQ=!"), Err(DecodeError::Base64(m)) if m.contains("character 7")));
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
}
