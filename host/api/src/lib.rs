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

pub mod accounts;
mod auth;
mod basic;
pub mod config;
pub mod connections;
pub mod docs;
pub mod error;
mod health;
mod jobs;
pub mod openapi;
pub mod preview;
mod routes;
mod sections;
mod slow;
mod state;
mod suppressions;
pub mod throttle;
pub mod tls;
pub mod vocabulary;

pub use routes::router;
pub use sections::{ApiSections, Shared};
pub use state::AppState;
