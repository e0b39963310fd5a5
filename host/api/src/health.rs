//! Liveness, readiness and metrics. `/healthz`: the process serves HTTP. `/readyz`: the
//! store answers and every configured virus scanner answers PING. `/metrics`: Prometheus
//! ([`sealmail_core::metrics`]).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::openapi::responses::{Health, HealthStatus, NotReady, NotReadyStatus, Ready, ReadyStatus};
use crate::state::AppState;

/// `GET /healthz`.
#[utoipa::path(
    get,
    path = "/healthz",
    operation_id = "healthz",
    tag = "health",
    summary = "Liveness",
    description = "`200` while the process serves HTTP.",
    responses((status = 200, description = "Alive.", body = Health))
)]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health { status: HealthStatus::Ok })
}

/// `GET /readyz`.
#[utoipa::path(
    get,
    path = "/readyz",
    operation_id = "readyz",
    tag = "health",
    summary = "Readiness",
    description = "`200` when the job store answers and every configured virus scanner answers \
        PING; else `503` with the reasons.",
    responses(
        (status = 200, description = "Ready.", body = Ready),
        (status = 503, description = "Not ready: what does not answer.", body = NotReady),
    )
)]
pub(crate) async fn readyz(State(state): State<Arc<AppState>>) -> Result<Json<Ready>, (StatusCode, Json<NotReady>)> {
    let mut problems = Vec::new();
    if let Err(e) = state.store.unfinished_jobs().await {
        problems.push(format!("store: {e}"));
    }
    if let Some(scanners) = &state.scanners
        && let Err(e) = scanners.ping().await
    {
        problems.push(format!("antivirus: {e}"));
    }
    if problems.is_empty() {
        Ok(Json(Ready { status: ReadyStatus::Ready }))
    } else {
        Err((StatusCode::SERVICE_UNAVAILABLE, Json(NotReady { status: NotReadyStatus::NotReady, problems })))
    }
}

/// `GET /metrics`.
#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "health",
    summary = "Prometheus metrics",
    description = "The node's metrics in the OpenMetrics text format: jobs accepted, refused (by \
        reason) and finished, the queue depth (`sealmail_jobs_unfinished`, from the store, so the \
        whole cluster's on PostgreSQL), recipient outcomes of delivery attempts (by message kind \
        and outcome), callback tries (by result) and the wall time of component calls. Public, \
        like the health routes: it carries counts only, never an address, account or job id.",
    responses(
        (status = 200, description = "The exposition.", content_type = "application/openmetrics-text", body = String),
    )
)]
pub(crate) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let unfinished = state.store.unfinished_jobs().await.ok();
    let body = state.metrics.render(unfinished);
    let content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8";
    (StatusCode::OK, [(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
}
