//! HTTP Basic authentication (RFC 7617) against the account directory, as an extractor: a
//! handler that takes an [`Account`] runs only for a request whose credentials are an
//! account's. Failures are a `401` with a `WWW-Authenticate` challenge and say nothing about
//! which part was wrong; a directory that does not answer is a `503`. Repeated failures are
//! throttled before they get here (`throttle`, which counts the `401`s this module answers).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::accounts::Account;
use crate::basic::credentials;
use crate::error::ApiError;
use crate::state::AppState;

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
