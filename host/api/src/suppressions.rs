//! `GET /rest/v1/suppressions`, `GET` and `DELETE /rest/v1/suppressions/{email}`: an account's
//! suppression list ([`sealmail_store::suppression`]), scoped to the authenticated account like
//! every job route — another account's entries do not exist for it.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::openapi::responses::{ErrorBody, SuppressionEntry, SuppressionList};
use crate::accounts::Account;
use crate::error::ApiError;
use crate::state::AppState;
use crate::vocabulary::Name;
use sealmail_core::clock::now_ms;
use sealmail_core::clock::rfc3339_ms;
use sealmail_store::{StoreError, Suppression};

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
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    account: Account,
) -> Result<Json<SuppressionList>, ApiError> {
    let entries = state.store.suppressions(&account.name, now_ms()).await.map_err(store_unavailable)?;
    Ok(Json(SuppressionList { suppressions: entries.iter().map(entry).collect() }))
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
pub(crate) async fn one(
    State(state): State<Arc<AppState>>,
    Path(email): Path<String>,
    account: Account,
) -> Result<Json<SuppressionEntry>, ApiError> {
    let entries = state.store.suppressions(&account.name, now_ms()).await.map_err(store_unavailable)?;
    match entries.iter().find(|s| s.address.eq_ignore_ascii_case(&email)) {
        Some(s) => Ok(Json(entry(s))),
        None => Err(not_listed(&email)),
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
    account: Account,
) -> Result<StatusCode, ApiError> {
    match state.store.remove_suppression(&account.name, &email).await.map_err(store_unavailable)? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(not_listed(&email)),
    }
}

fn entry(s: &Suppression) -> SuppressionEntry {
    SuppressionEntry {
        email: s.address.clone(),
        reason: Name::new(s.reason),
        detail: s.detail.clone(),
        job_id: s.job_id.clone(),
        created_ts: rfc3339_ms(s.created_ms),
        until_ts: rfc3339_ms(s.until_ms),
    }
}

fn not_listed(email: &str) -> ApiError {
    ApiError::not_found(format!("{email:?} is not on this account's suppression list"))
}

fn store_unavailable(e: StoreError) -> ApiError {
    ApiError::store_unavailable("the store is unavailable", "cannot read the suppression list", e)
}
