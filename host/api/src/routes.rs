//! The route table: every route with its OpenAPI description, registered through
//! utoipa-axum's `OpenApiRouter`, which hands the same table to axum and to the OpenAPI
//! document (a route cannot be served without being documented), and the `404` fallback.

use std::sync::Arc;

use axum::{Extension, Router};
use serde_json::Value;
use utoipa::OpenApi as _;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::ApiError;
use crate::openapi::Published;
use crate::state::AppState;
use crate::{docs, health, jobs, openapi, preview, suppressions, throttle};

/// The router: every route of [`routes`], and the `404` fallback.
pub fn router(state: Arc<AppState>) -> Router {
    let (router, _) = routes().split_for_parts();
    router
        .fallback(not_found)
        .layer(Extension(Published(document())))
        .layer(axum::middleware::from_fn_with_state(state.clone(), throttle::guard))
        .with_state(state)
}

/// Every route, each with its OpenAPI description: the one table both the router and the
/// document ([`document`]) are made from.
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

/// The OpenAPI document of this server's route table, built once.
pub(crate) fn document() -> &'static Value {
    static DOCUMENT: std::sync::LazyLock<Value> =
        std::sync::LazyLock::new(|| openapi::finish(&routes().split_for_parts().1));
    &DOCUMENT
}
