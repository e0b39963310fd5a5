//! The credentials of an HTTP Basic `Authorization` header (RFC 7617): account name and
//! secret. Parsing only; whether they are right is the account directory's to say.

use axum::http::{HeaderMap, header};
use base64::Engine as _;

/// The account name of a request's Basic credentials, if it has any (for the throttle,
/// which must never look at the secret).
pub(crate) fn basic_name(headers: &HeaderMap) -> Option<String> {
    credentials(headers).map(|(name, _)| name)
}

/// The name and secret of a request's Basic credentials, if it has well-formed ones.
pub(crate) fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (name, secret) = text.split_once(':')?;
    Some((name.to_owned(), secret.to_owned()))
}
