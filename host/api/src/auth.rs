//! HTTP Basic authentication (RFC 7617) against the account directory, as an extractor: a
//! handler that takes an [`Account`] runs only for a request whose credentials are an
//! account's. Failures are a `401` with a `WWW-Authenticate` challenge and say nothing about
//! which part was wrong; a directory that does not answer is a `503`. Repeated failures are
//! throttled before they get here (`throttle`, which counts the `401`s this module answers).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use base64::Engine as _;

use super::AppState;
use crate::accounts::Account;
use crate::error::ApiError;

impl FromRequestParts<Arc<AppState>> for Account {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let Some((name, secret)) = credentials(&parts.headers) else {
            return Err(ApiError::unauthorized("credentials are required (HTTP Basic: account name and secret)"));
        };
        match state.accounts.authenticate(&name, &secret).await {
            Ok(Some(account)) => Ok(account),
            Ok(None) => Err(ApiError::unauthorized("wrong account name or secret")),
            Err(e) => Err(ApiError::store_unavailable("the account store is unavailable", "account lookup failed", e)),
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
