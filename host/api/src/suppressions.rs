//! `GET /rest/v1/suppressions`, `GET` and `DELETE /rest/v1/suppressions/{email}`: an account's
//! suppression list ([`sealmail_store::suppression`]), scoped to the authenticated account like
//! every job route — another account's entries do not exist for it.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::auth::authenticate;
use super::openapi::responses::{ErrorBody, SuppressionEntry, SuppressionList};
use super::{AppState, error, unavailable};
use sealmail_core::clock::now_ms;
use sealmail_core::clock::rfc3339_ms;
use sealmail_store::Suppression;

/// `GET /rest/v1/suppressions`.
#[utoipa::path(
    get,
    path = "/rest/v1/suppressions",
    operation_id = "listSuppressions",
    tag = "suppressions",
    summary = "The account's suppression list",
    description = "Every address of the account that is not sent to now, because a message to it \
        bounced (hard: `hard_bounce_days`, default 45; expired: `soft_bounce_hours`, default 24). A \
        job's recipient on the list is dropped with `PRE_PROCESS/FINISHED/DROPPED/PREVIOUSLY_BOUNCED` \
        and its password mail is not triggered.",
    security(("basicAuth" = [])),
    responses(
        (status = 200, description = "The entries in force, by address.", body = SuppressionList),
        (status = 401, description = "`UNAUTHORIZED`: credentials missing or wrong.", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"sealmail\", charset=\"UTF-8\"`"))),
        (status = 503, description = "`STORE_UNAVAILABLE`: the store is unavailable; retry after \
            `Retry-After`.", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub(crate) async fn list(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let account = match authenticate(&state, &headers).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    match state.store.suppressions(&account.name, now_ms()).await {
        Ok(entries) => {
            let list: Vec<Value> = entries.iter().map(entry).collect();
            (StatusCode::OK, axum::Json(json!({ "suppressions": list }))).into_response()
        }
        Err(e) => store_unavailable(&e),
    }
}

/// `GET /rest/v1/suppressions/{email}`.
#[utoipa::path(
    get,
    path = "/rest/v1/suppressions/{email}",
    operation_id = "getSuppression",
    tag = "suppressions",
    summary = "One address's entry",
    security(("basicAuth" = [])),
    params(("email" = String, Path, description = "The address (case-insensitive).")),
    responses(
        (status = 200, description = "The address is listed.", body = SuppressionEntry),
        (status = 401, description = "`UNAUTHORIZED`: credentials missing or wrong.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: the address is not on this account's list.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`: retry after `Retry-After`.", body = ErrorBody),
    )
)]
pub(crate) async fn one(State(state): State<Arc<AppState>>, Path(email): Path<String>, headers: HeaderMap) -> Response {
    let account = match authenticate(&state, &headers).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    match state.store.suppressions(&account.name, now_ms()).await {
        Ok(entries) => match entries.iter().find(|s| s.address.eq_ignore_ascii_case(&email)) {
            Some(s) => (StatusCode::OK, axum::Json(entry(s))).into_response(),
            None => not_listed(&email),
        },
        Err(e) => store_unavailable(&e),
    }
}

/// `DELETE /rest/v1/suppressions/{email}`.
#[utoipa::path(
    delete,
    path = "/rest/v1/suppressions/{email}",
    operation_id = "deleteSuppression",
    tag = "suppressions",
    summary = "Take an address off the list",
    description = "The next job's message to the address is sent again (a job already started \
        keeps what it decided).",
    security(("basicAuth" = [])),
    params(("email" = String, Path, description = "The address (case-insensitive).")),
    responses(
        (status = 204, description = "Removed."),
        (status = 401, description = "`UNAUTHORIZED`: credentials missing or wrong.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND`: the address is not on this account's list.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`: retry after `Retry-After`.", body = ErrorBody),
    )
)]
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    Path(email): Path<String>,
    headers: HeaderMap,
) -> Response {
    let account = match authenticate(&state, &headers).await {
        Ok(a) => a,
        Err(response) => return response,
    };
    match state.store.remove_suppression(&account.name, &email).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => not_listed(&email),
        Err(e) => store_unavailable(&e),
    }
}

fn entry(s: &Suppression) -> Value {
    json!({
        "email": s.address,
        "reason": s.reason.as_str(),
        "detail": s.detail,
        "jobId": s.job_id,
        "createdTs": rfc3339_ms(s.created_ms),
        "untilTs": rfc3339_ms(s.until_ms),
    })
}

fn not_listed(email: &str) -> Response {
    error(StatusCode::NOT_FOUND, "NOT_FOUND", format!("{email:?} is not on this account's suppression list"))
}

fn store_unavailable(e: &sealmail_store::StoreError) -> Response {
    tracing::error!(error = %e, "cannot read the suppression list");
    unavailable("STORE_UNAVAILABLE", "the store is unavailable", 5)
}
