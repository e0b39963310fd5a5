//! The `encoding` target: the decoders of JobRequest text and attachment content.

use base64::Engine as _;

use super::input::Fields;
use crate::request::encoding::{
    ContentEncoding, charset, decode_base64, decode_encoded_words, decode_quoted_printable, decode_subject, decode_text,
};

/// Input: the text to decode, then optionally a `charset` label (0x1E-separated). Runs
/// every decoder on it (base64, quoted-printable, RFC 2047 encoded-words, text and subject
/// decoding in each `contentEncoding` with that charset) and checks:
///
/// - none panics, and each gives the same answer twice;
/// - base64 round-trips: the standard encoding of any bytes (here the input's own bytes,
///   with and without padding, wrapped at 76 columns) decodes back to those bytes;
/// - quoted-printable output is never longer than its input (decoding only shrinks);
/// - decoding `plain` content returns it unchanged.
pub fn encoding_target(data: &[u8]) {
    let f = Fields::split(data);
    let text = f.text(0);
    let label = f.text(1);
    let encoding = if f.has(1) { charset(&label) } else { Some(encoding_rs::UTF_8) };

    assert_eq!(decode_base64(&text), decode_base64(&text), "base64 is not deterministic");
    if let Ok(bytes) = decode_quoted_printable(&text) {
        assert!(bytes.len() <= text.len(), "quoted-printable grew: {} > {}", bytes.len(), text.len());
    }
    assert_eq!(decode_encoded_words(&text), decode_encoded_words(&text), "encoded-words are not deterministic");
    if let Some(encoding) = encoding {
        for content_encoding in [ContentEncoding::Plain, ContentEncoding::QuotedPrintable, ContentEncoding::Base64] {
            let decoded = decode_text(&text, content_encoding, encoding);
            if content_encoding == ContentEncoding::Plain {
                assert_eq!(decoded.as_deref(), Ok(text.as_str()), "plain content changed");
            }
            let _ = decode_subject(&text, content_encoding, encoding);
        }
    }

    let bytes = f.bytes(0);
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    assert_eq!(decode_base64(&encoded).as_deref(), Ok(bytes), "base64 round trip failed");
    let unpadded = encoded.trim_end_matches('=');
    assert_eq!(decode_base64(unpadded).as_deref(), Ok(bytes), "unpadded base64 round trip failed");
    let wrapped: Vec<&str> =
        encoded.as_bytes().chunks(76).map(|c| std::str::from_utf8(c).expect("base64 is ASCII")).collect();
    assert_eq!(decode_base64(&wrapped.join("\r\n")).as_deref(), Ok(bytes), "wrapped base64 round trip failed");
}
