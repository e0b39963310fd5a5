//! The REST API (docs/service.md#the-api): the job and suppression routes, `/healthz`,
//! `/readyz`, `/metrics`; the browser encryption preview at `/preview/`; and the API's own
//! OpenAPI document (`/openapi.json`) with its readable page (`/docs`). Handlers do HTTP
//! only; validation is the component's, storage the store's.
//!
//! Every route is registered in `routes()` through utoipa-axum's `OpenApiRouter`, which
//! hands the same table to axum and to the OpenAPI document: a route cannot be served
//! without being documented. Anything else is the fallback's `404`. Handlers take an
//! authenticated [`accounts::Account`] as an extractor (`auth`), answer typed bodies
//! ([`openapi::responses`]) and fail with an [`error::ApiError`].

#![warn(missing_docs)]

pub mod accounts;
mod auth;
pub mod config;
pub mod connections;
pub mod docs;
pub mod error;
mod health;
mod jobs;
pub mod openapi;
pub mod preview;
mod slow;
mod suppressions;
pub mod throttle;
pub mod tls;
pub mod vocabulary;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use axum::Router;
use tokio::sync::Notify;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::accounts::{Accounts, RateLimits};
use crate::error::ApiError;
use sealmail_callbacks::Endpoint;
use sealmail_callbacks::ssrf::AddressPolicy;
use sealmail_clamav::Scanners;
use sealmail_core::bindings::validation::Limits;
use sealmail_sandbox::Library;
use sealmail_store::Store;

/// What the handlers share.
pub struct AppState {
    /// The `library` component (validation).
    pub library: Library,
    /// The store.
    pub store: Arc<dyn Store>,
    /// Accounts.
    pub accounts: Accounts,
    /// Request limits.
    pub limits: Limits,
    /// Jobs accepted and not finished.
    pub unfinished: Arc<AtomicU64>,
    /// Most unfinished jobs before `503`.
    pub max_unfinished: u64,
    /// Wakes a worker when a job is stored.
    pub wake: Arc<Notify>,
    /// Configured scanners (none: `None`).
    pub scanners: Option<Scanners>,
    /// `allow_insecure_no_antivirus`.
    pub allow_insecure_no_antivirus: bool,
    /// Which addresses callback URLs may reach.
    pub callback_policy: AddressPolicy,
    /// Accounts' default callback endpoints (for requests that name none).
    pub default_callbacks: HashMap<String, Endpoint>,
    /// Accounts' limits of recipients per hour.
    pub rate_limits: RateLimits,
    /// The node's metrics.
    pub metrics: Arc<sealmail_core::metrics::Metrics>,
    /// The failed-authentication throttle ([`throttle`]).
    pub auth_throttle: throttle::AuthThrottle,
}

/// The router: every route of [`routes`], and the `404` fallback.
pub fn router(state: Arc<AppState>) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(state.clone(), throttle::guard))
        .with_state(state)
}

/// Every route, each with its OpenAPI description: the one table both the router and the
/// document ([`openapi::document`]) are made from.
pub(crate) fn routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .routes(routes!(jobs::submit))
        .routes(routes!(jobs::status, jobs::delete))
        .routes(routes!(suppressions::list))
        .routes(routes!(suppressions::one, suppressions::remove))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::metrics))
        .routes(routes!(preview::redirect))
        .routes(routes!(preview::index))
        .routes(routes!(preview::file))
        .routes(routes!(openapi::openapi_json))
        .routes(routes!(docs::page))
}

/// The answer to every request no route serves.
async fn not_found() -> ApiError {
    ApiError::not_found("no such resource")
}
