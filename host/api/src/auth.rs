//! HTTP Basic authentication (RFC 7617) against the account directory. Failures are a
//! `401` with a `WWW-Authenticate` challenge and say nothing about which part was wrong.
//! Repeated failures are throttled before they get here (`throttle`, which counts the
//! `401`s this module answers).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use base64::Engine as _;

use super::{AppState, error};
use crate::accounts::Account;

/// The account of a request, or the response to send instead.
pub(crate) async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<Account, Response> {
    let Some((name, secret)) = credentials(headers) else {
        return Err(challenge("credentials are required (HTTP Basic: account name and secret)"));
    };
    match state.accounts.authenticate(&name, &secret).await {
        Ok(Some(account)) => Ok(account),
        Ok(None) => Err(challenge("wrong account name or secret")),
        Err(e) => {
            tracing::error!(error = %e, "account lookup failed");
            Err(super::unavailable("STORE_UNAVAILABLE", "the account store is unavailable", 5))
        }
    }
}

/// The account name of a request's Basic credentials, if it has any (for the throttle,
/// which must never look at the secret).
pub(super) fn basic_name(headers: &HeaderMap) -> Option<String> {
    credentials(headers).map(|(name, _)| name)
}

fn credentials(headers: &HeaderMap) -> Option<(String, String)> {
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

fn challenge(message: &str) -> Response {
    let mut r = error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message);
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"sealmail\", charset=\"UTF-8\""));
    r
}
