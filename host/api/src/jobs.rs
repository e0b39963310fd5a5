//! `POST /rest/v1/jobs` (submission), `GET /rest/v1/jobs/{jobId}` (status report) and
//! `DELETE /rest/v1/jobs/{jobId}` (erasure of a finished job).
//!
//! Submission order: authenticate → content type → size → back-pressure → validation in
//! the component → antivirus configuration → durable store (fsync'd) → `202`. Nothing is
//! acknowledged that is not on disk (docs/service.md#what-a-submission-is-promised).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use sha2::{Digest, Sha256};

use super::openapi::job_request::{JobRequest, sample};
use super::openapi::responses::{
    BadRequest, CallbackDelivery, ErrorBody, JobAccepted, JobEvent, JobMeta, Problem, RecipientReport, StatusReport,
    Warning,
};
use crate::accounts::Account;
use crate::error::{ApiError, ErrorCode, RETRY_AFTER_SECS};
use crate::state::AppState;
use crate::vocabulary::{Name, ProblemKindCase};
use sealmail_callbacks::payload::tag;
use sealmail_callbacks::{CallbackSetup, Endpoint};
use sealmail_core::bindings::validation::{JobSummary, ProblemKind};
use sealmail_core::clock::now_ms;
use sealmail_core::clock::rfc3339_ms;
use sealmail_core::metrics::{Call, Refusal};
use sealmail_store::rate::Exceeded;
use sealmail_store::{DeleteOutcome, JobStatus, NewJob, NewRecipient, Role, Submitted};

/// How much of a refused body is read and discarded before the `413`. A client that is still
/// sending when the answer comes and the connection closes sees a broken pipe instead of the
/// `413` (HTTP/1.1 has no way to stop a sender politely without `Expect: 100-continue`);
/// reading a little more lets ordinary clients get the answer, and the bound keeps a hostile
/// sender from making the server read without end. Discarded as it arrives: nothing is held.
const DRAIN_BYTES: u64 = 4 * 1024 * 1024;

/// Reads and discards up to `most` bytes of `body`.
async fn drain(mut body: Body, most: u64) {
    use http_body_util::BodyExt as _;
    let mut read = 0u64;
    while read < most {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, |d| d.len() as u64),
            _ => break,
        }
    }
}

/// Longest accepted `Idempotency-Key`.
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Whether the store counts fewer unfinished jobs than `max_jobs_in_flight`, correcting this
/// node's counter. The counter is exact for the only node of an SQLite store; on a shared
/// PostgreSQL database it is this node's view (other nodes finish the jobs it accepted), so
/// the store decides before a job is refused.
async fn below_limit_in_store(state: &AppState) -> bool {
    match state.store.unfinished_jobs().await {
        Ok(n) => {
            state.unfinished.store(n, Ordering::Relaxed);
            n < state.max_unfinished
        }
        Err(_) => false,
    }
}

/// `POST /rest/v1/jobs`.
#[utoipa::path(
    post,
    path = "/rest/v1/jobs",
    operation_id = "submitJob",
    tag = "jobs",
    summary = "Submit a job",
    description = "Validates the JobRequest (every rule at once: docs/validation.md), stores the job \
        durably and answers `202` with its id; scanning, sealing and delivery happen afterwards \
        (follow them with `GET /rest/v1/jobs/{jobId}` or a callback endpoint). Checked in this \
        order: credentials, content type, size, back-pressure, `Idempotency-Key`, the request's \
        rules, the server's virus scanner (a job asking for antivirus needs one) and the callback \
        address.",
    security(("basicAuth" = [])),
    params(
        ("Idempotency-Key" = Option<String>, Header, min_length = 1, max_length = 255,
            description = "Makes a retried submission safe (per account, 24 hours): the same key with \
                the same body (byte for byte) returns the first job's id with `Idempotent-Replayed: \
                true`; with a different body it is a `409`."),
    ),
    request_body(
        content = JobRequest,
        content_type = "application/json",
        description = "A Retarus Transactional Email JobRequest (UTF-8 JSON; `charset=utf-8` is the only \
            charset parameter accepted). At most `max_request_bytes` (28 MiB by default).",
        examples(
            ("plain" = (summary = "A plain text mail to one recipient", value = json!(sample("plain")))),
            ("secure-document" = (summary = "Secure Document Handling: two attachments sealed into one \
                archive, a callback endpoint (needs a virus scanner, or allow_insecure_no_antivirus)",
                value = json!(sample("secure-document")))),
            ("retarus-doc-style" = (summary = "The example of Retarus' documentation: HTML, encodings, \
                templating on, password type `strong` (needs a virus scanner, or allow_insecure_no_antivirus)",
                value = json!(sample("retarus-doc-style")))),
        ),
    ),
    responses(
        (status = 202, description = "Accepted: the job is stored (fsync'd) and will be processed. A \
            replay of an `Idempotency-Key` answers the first job's id.", body = JobAccepted,
            headers(
                ("Location" = String, description = "`/rest/v1/jobs/{jobId}`: the job's status report."),
                ("Idempotent-Replayed" = String, description = "`true` when this answers a replayed \
                    `Idempotency-Key` (the job was not stored again); absent otherwise."),
            )),
        (status = 400, description = "`INVALID_REQUEST`: the JobRequest breaks rules; `problems` lists \
            every one with its JSON path and kind. `INVALID_IDEMPOTENCY_KEY`: the header is unusable.",
            body = BadRequest),
        (status = 401, description = "`UNAUTHORIZED`: credentials missing or wrong (nothing says which \
            part).", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"sealmail\", charset=\"UTF-8\"`"))),
        (status = 409, description = "`IDEMPOTENCY_CONFLICT`: the `Idempotency-Key` was used in the last \
            24 hours with a different body.", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: the body exceeds `max_request_bytes`.",
            body = ErrorBody),
        (status = 429, description = "`LIMIT_EXCEEDED`: the account's recipients per hour (default \
            5,000, counted at submission in 5-minute windows over the last hour) would be exceeded. \
            Nothing was stored; retry after `Retry-After`.", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds until enough of the hour's \
                allowance is free again for this job."))),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`: the body is not sent as \
            `Content-Type: application/json` (UTF-8).", body = ErrorBody),
        (status = 500, description = "`VALIDATION_FAILED`: the validator failed in its sandbox (logged).",
            body = ErrorBody),
        (status = 503, description = "`QUEUE_FULL`: too many jobs are in progress \
            (`max_jobs_in_flight`); `STORE_UNAVAILABLE`: the job could not be stored or the account \
            store is unavailable. The job was not accepted; retry after `Retry-After`.", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub(crate) async fn submit(
    State(state): State<Arc<AppState>>,
    account: Account,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, HeaderMap, Json<JobAccepted>), ApiError> {
    if !is_json(&headers) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "the body must be a JobRequest sent as Content-Type: application/json (UTF-8)",
        ));
    }
    let limit = state.limits.max_request_bytes;
    let too_large = || ApiError::new(ErrorCode::PayloadTooLarge, format!("the request body exceeds {limit} bytes"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        drain(body, DRAIN_BYTES).await;
        return Err(too_large());
    }
    let bytes = axum::body::to_bytes(body, limit as usize).await.map_err(|_| too_large())?;
    if state.unfinished.load(Ordering::Relaxed) >= state.max_unfinished && !below_limit_in_store(&state).await {
        state.metrics.job_refused(Refusal::unavailable);
        return Err(ApiError::new(ErrorCode::QueueFull, "too many jobs are in progress; retry later")
            .retry_after(RETRY_AFTER_SECS));
    }
    let idempotency = match headers.get("idempotency-key").map(|v| v.to_str().map(str::to_owned)) {
        None => None,
        Some(Ok(key)) if !key.is_empty() && key.len() <= MAX_IDEMPOTENCY_KEY => Some(key),
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidIdempotencyKey,
                format!("Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"),
            ));
        }
    };

    let started = std::time::Instant::now();
    let validated = state.library.validate(&bytes, Some(state.limits)).await;
    state.metrics.component_call(Call::validate, started.elapsed());
    let summary = match validated {
        Ok(Ok(summary)) => summary,
        Ok(Err(problems)) => {
            state.metrics.job_refused(Refusal::invalid);
            return Err(ApiError::invalid_request(problems.iter().map(Problem::from).collect()));
        }
        Err(e) => {
            return Err(ApiError::failed(
                ErrorCode::ValidationFailed,
                "the request could not be validated",
                "validation failed in the sandbox",
                e,
            ));
        }
    };
    if summary.antivirus && state.scanners.is_none() && !state.allow_insecure_no_antivirus {
        return Err(ApiError::invalid_request(vec![Problem::new(
            "/job/features/antivirus/active",
            ProblemKindCase::Wit(ProblemKind::Unsupported),
            "antivirus scanning was requested but this server has no virus scanner: configure one \
             ([antivirus] scanners = [\"tcp://127.0.0.1:3310\"] in the config file, or \
             SEALMAIL_ANTIVIRUS__SCANNERS), or set allow_insecure_no_antivirus = true to send unscanned",
        )]));
    }
    // The SSRF guard at submission: literal addresses only (docs/callbacks.md#ssrf-guard); names
    // are checked when they are resolved for delivery.
    if let Some(url) = summary.callback.as_ref().and_then(|e| url::Url::parse(&e.url).ok())
        && let Err(refused) = state.callback_policy.check_literal_host(&url)
    {
        return Err(ApiError::invalid_request(vec![Problem::new(
            "/notification/endPoint/url",
            ProblemKindCase::RefusedAddress,
            refused.to_string(),
        )]));
    }
    let callbacks = callback_setup(&state, &account, &summary);

    let job_id = uuid::Uuid::new_v4().to_string();
    let job = NewJob {
        id: job_id.clone(),
        account: account.name.clone(),
        received_ms: now_ms(),
        request: bytes.to_vec(),
        recipients: recipients(&summary),
        secure: summary.secure_document.is_some(),
        idempotency: idempotency.map(|key| (key, Sha256::digest(&bytes).into())),
        callbacks: callbacks.as_ref().map(CallbackSetup::to_stored),
        recipients_per_hour: state.rate_limits.of(&account.name),
    };
    let warnings: Vec<Warning> = summary.warnings.iter().map(Warning::from).collect();
    match state.store.submit(job).await {
        Ok(Submitted::Created) => {
            state.metrics.job_accepted();
            state.unfinished.fetch_add(1, Ordering::Relaxed);
            state.wake.notify_one();
            Ok(accepted(job_id, warnings, false))
        }
        Ok(Submitted::Replay(first)) => Ok(accepted(first, warnings, true)),
        Ok(Submitted::RateLimited(exceeded)) => {
            state.metrics.job_refused(Refusal::rate_limited);
            Err(rate_limited(&exceeded, state.rate_limits.of(&account.name)))
        }
        Ok(Submitted::Conflict) => Err(ApiError::new(
            ErrorCode::IdempotencyConflict,
            "this Idempotency-Key was used in the last 24 hours with a different request body",
        )),
        Err(e) => {
            state.metrics.job_refused(Refusal::unavailable);
            Err(ApiError::store_unavailable(
                "the job could not be stored; it was not accepted",
                "cannot store a job",
                e,
            ))
        }
    }
}

/// `429 LIMIT_EXCEEDED` (docs/service.md#rate-limit) with `Retry-After` in whole seconds,
/// rounded up: a client that waits exactly that long finds the room it needs.
fn rate_limited(exceeded: &Exceeded, per_hour: Option<u64>) -> ApiError {
    let per_hour = per_hour.unwrap_or_default();
    let secs = exceeded.retry_after_ms.div_ceil(1000).max(1);
    let message = if exceeded.never {
        format!("the job has more recipients than this account may send in an hour ({per_hour}); split it")
    } else {
        format!("this account's limit of {per_hour} recipients per hour is reached; retry in {secs} s")
    };
    ApiError::new(ErrorCode::LimitExceeded, message).retry_after(secs)
}

fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else { return false };
    let mut parts = value.split(';').map(str::trim);
    let media = parts.next().unwrap_or_default();
    let charset_ok = parts.all(|p| match p.split_once('=') {
        Some((k, v)) if k.trim().eq_ignore_ascii_case("charset") => {
            v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        }
        _ => true,
    });
    media.eq_ignore_ascii_case("application/json") && charset_ok
}

/// Every envelope recipient with the role it first appears in (as the workflow sends it).
fn recipients(summary: &JobSummary) -> Vec<NewRecipient> {
    let mut out = Vec::new();
    for m in &summary.messages {
        for address in &m.envelope_recipients {
            let has = |list: &[sealmail_core::bindings::validation::Mailbox]| {
                list.iter().any(|x| x.address.eq_ignore_ascii_case(address))
            };
            let role = if has(&m.to) {
                Role::To
            } else if has(&m.cc) {
                Role::Cc
            } else {
                Role::Bcc
            };
            out.push(NewRecipient { block: m.block, address: address.clone(), role, reference: m.reference.clone() });
        }
    }
    out
}

/// The `202`: the job's id, its `Location`, and whether it answers a replayed key.
fn accepted(job_id: String, warnings: Vec<Warning>, replayed: bool) -> (StatusCode, HeaderMap, Json<JobAccepted>) {
    let mut headers = HeaderMap::new();
    if let Ok(location) = HeaderValue::from_str(&format!("/rest/v1/jobs/{job_id}")) {
        headers.insert(header::LOCATION, location);
    }
    if replayed {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    let body = JobAccepted {
        meta: JobMeta { job_id: job_id.clone() },
        job_id,
        warnings: (!warnings.is_empty()).then_some(warnings),
    };
    (StatusCode::ACCEPTED, headers, Json(body))
}

/// Where the job's events are pushed: the request's endpoint whole, else the account's
/// default whole (never a mix: docs/callbacks.md#which-endpoint), with the body's meta fixed now.
fn callback_setup(state: &AppState, account: &Account, summary: &JobSummary) -> Option<CallbackSetup> {
    let endpoint = match &summary.callback {
        Some(e) => Endpoint { url: e.url.clone(), headers: e.headers.clone(), basic_auth: e.basic_auth.clone() },
        None => state.default_callbacks.get(&account.name)?.clone(),
    };
    Some(CallbackSetup {
        endpoint,
        customer_no: account.customer_no.clone(),
        reference_job: summary.reference_job.clone(),
        cost_center: summary.cost_center.clone(),
        campaign_id: summary.campaign_id.clone(),
        from: summary.sender.address.clone(),
        mime_from: (!summary.header_from.address.eq_ignore_ascii_case(&summary.sender.address))
            .then(|| summary.header_from.address.clone()),
    })
}

/// `GET /rest/v1/jobs/{jobId}`.
#[utoipa::path(
    get,
    path = "/rest/v1/jobs/{jobId}",
    operation_id = "getJob",
    tag = "jobs",
    summary = "A job's status report",
    description = "The job's state, every recipient's delivery and password mail, and every event \
        so far with the state of its callback. Another account's job is a `404`, exactly like a \
        job that does not exist.",
    security(("basicAuth" = [])),
    params(
        ("jobId" = String, Path, description = "The `jobId` that `POST /rest/v1/jobs` answered."),
    ),
    responses(
        (status = 200, description = "The status report.", body = StatusReport),
        (status = 401, description = "`UNAUTHORIZED`: credentials missing or wrong.", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"sealmail\", charset=\"UTF-8\"`"))),
        (status = 404, description = "`NOT_FOUND`: no such job in this account.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`: the job store is unavailable; retry after \
            `Retry-After`.", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub(crate) async fn status(
    State(state): State<Arc<AppState>>,
    Path(job_id): Path<String>,
    account: Account,
) -> Result<Json<StatusReport>, ApiError> {
    match state.store.job_status(&account.name, &job_id).await {
        Ok(Some(report)) => Ok(Json(status_report(report))),
        // Another account's job looks exactly like no job (404, never 403:
        // docs/service.md#what-a-submission-is-promised).
        Ok(None) => Err(no_such_job(&job_id)),
        Err(e) => Err(ApiError::store_unavailable("the job store is unavailable", "cannot read a job", e)),
    }
}

fn no_such_job(job_id: &str) -> ApiError {
    ApiError::not_found(format!("no job {job_id:?} in this account"))
}

/// The status report of a stored job (docs/service.md#status-report).
fn status_report(report: JobStatus) -> StatusReport {
    let recipients = report
        .recipients
        .into_iter()
        .map(|r| RecipientReport {
            block: r.block,
            email: r.address,
            role: Name::new(r.role),
            reference: r.reference,
            status: Name::new(r.status),
            sub_status: Name::new(r.status),
            detail: r.detail,
            last_reply: r.reply,
            password_mail: Name::shown(r.password),
            updated_ts: rfc3339_ms(r.updated_ms),
        })
        .collect();
    let events = report
        .events
        .into_iter()
        .map(|e| JobEvent {
            tag: tag(&report.id, e.seq),
            seq: e.seq,
            block: e.block,
            email: e.recipient,
            phase: Name::new(e.kind),
            state: Name::new(e.kind),
            kind: Name::new(e.kind),
            sub_type: Name::new(e.kind),
            ts: rfc3339_ms(e.ts_ms),
            description: e.description,
            notification: e.notification.map(|n| CallbackDelivery {
                state: n.state.into(),
                tries: n.tries,
                http_status: n.http_status,
                error: n.error,
            }),
        })
        .collect();
    StatusReport {
        meta: JobMeta { job_id: report.id.clone() },
        job_id: report.id,
        state: report.state.into(),
        received_ts: rfc3339_ms(report.received_ms),
        finished_ts: report.finished_ms.map(rfc3339_ms),
        recipients,
        events,
    }
}

/// `DELETE /rest/v1/jobs/{jobId}`: erases a finished job ([`sealmail_store::retention`]).
#[utoipa::path(
    delete,
    path = "/rest/v1/jobs/{jobId}",
    operation_id = "deleteJob",
    tag = "jobs",
    summary = "Erase a finished job",
    description = "Erases everything stored of a finished job before its retention period ends \
        (docs/service.md, Retention): its status report, events, messages, callback \
        notifications (including any not yet delivered) and its `Idempotency-Key`, which may then \
        be used again. The account's suppression list is the account's and stays. A job still in \
        progress cannot be erased: its mail, and a secure job's password mails, may still be \
        waiting to go out. Another account's job is a `404`, exactly like a job that does not exist.",
    security(("basicAuth" = [])),
    params(
        ("jobId" = String, Path, description = "The `jobId` that `POST /rest/v1/jobs` answered."),
    ),
    responses(
        (status = 204, description = "Erased: a `GET` of the job is a `404` from now on."),
        (status = 401, description = "`UNAUTHORIZED`: credentials missing or wrong.", body = ErrorBody,
            headers(("WWW-Authenticate" = String, description = "`Basic realm=\"sealmail\", charset=\"UTF-8\"`"))),
        (status = 404, description = "`NOT_FOUND`: no such job in this account (or erased already).",
            body = ErrorBody),
        (status = 409, description = "`JOB_NOT_FINISHED`: the job is queued or delivering; nothing was \
            erased. Retry once its state is `FINISHED`.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`: the job store is unavailable; retry after \
            `Retry-After`.", body = ErrorBody,
            headers(("Retry-After" = u32, description = "Seconds to wait before retrying."))),
    )
)]
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    Path(job_id): Path<String>,
    account: Account,
) -> Result<StatusCode, ApiError> {
    match state.store.delete_job(&account.name, &job_id).await {
        Ok(DeleteOutcome::Deleted) => {
            state.metrics.jobs_purged(1);
            tracing::info!(job_id, account = %account.name, "job erased at its account's request");
            Ok(StatusCode::NO_CONTENT)
        }
        // Another account's job looks exactly like no job (404, never 403:
        // docs/service.md#what-a-submission-is-promised).
        Ok(DeleteOutcome::NotFound) => Err(no_such_job(&job_id)),
        Ok(DeleteOutcome::NotFinished) => Err(ApiError::new(
            ErrorCode::JobNotFinished,
            format!(
                "job {job_id:?} is still in progress (its mail may still be waiting to go out); delete it once it is FINISHED"
            ),
        )),
        Err(e) => Err(ApiError::store_unavailable("the job store is unavailable", "cannot delete a job", e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealmail_store::{
        DeliveryStatus, EventKind, NotificationState, PasswordState, PostState, RecipientStatus, StoredEvent,
    };
    use serde_json::json;

    #[test]
    fn a_status_report_has_the_codes_and_the_nulls_of_the_documented_shape() {
        let id = "5d6c1f0e-3b2a-4c1d-8e9f-0a1b2c3d4e5f";
        let recipient = |status, password| RecipientStatus {
            block: 0,
            address: "max@recipient.example".into(),
            role: Role::Cc,
            reference: None,
            status,
            password,
            reply: Some("550 5.1.1 User unknown".into()),
            detail: Some("5.1.1".into()),
            updated_ms: 1_000,
        };
        let event = |seq, kind, notification| StoredEvent {
            seq,
            block: 0,
            recipient: "max@recipient.example".into(),
            kind,
            description: "d".into(),
            ts_ms: 2_000,
            notification,
        };
        let report = status_report(JobStatus {
            id: id.into(),
            received_ms: 0,
            state: sealmail_store::JobState::Delivering,
            finished_ms: None,
            recipients: vec![
                recipient(DeliveryStatus::Expired, PasswordState::None),
                recipient(DeliveryStatus::Queued, PasswordState::Queued),
            ],
            events: vec![
                event(1, EventKind::PasswordMailNotTriggered, None),
                event(
                    2,
                    EventKind::Deferred,
                    Some(NotificationState { state: PostState::Failed, tries: 3, http_status: Some(500), error: None }),
                ),
            ],
        });
        let body = serde_json::to_value(report).unwrap();
        assert_eq!(body["state"], "IN_PROGRESS");
        assert_eq!(body["finishedTs"], json!(null));
        assert_eq!(body["meta"], json!({ "jobId": id }));
        let r = &body["recipients"];
        assert_eq!(
            (&r[0]["type"], &r[0]["status"], &r[0]["subStatus"]),
            (&json!("CC"), &json!("ERROR"), &json!("BOUNCED"))
        );
        assert_eq!((&r[0]["passwordMail"], &r[0]["reference"]), (&json!(null), &json!(null)));
        assert_eq!((&r[1]["status"], &r[1]["passwordMail"]), (&json!("PENDING"), &json!("PENDING")));
        assert_eq!(r[0]["updatedTs"], "1970-01-01T00:00:01.000Z");
        let e = &body["events"];
        assert_eq!(
            [&e[0]["phase"], &e[0]["state"], &e[0]["type"], &e[0]["subType"]],
            ["TRIGGER", "POST_DELIVERY", "PASSWORD_MAIL", "NOT_TRIGGERED"]
        );
        assert_eq!(e[0]["notification"], json!(null));
        assert_eq!(e[1]["tag"], format!("{id}.2"));
        assert_eq!(e[1]["notification"], json!({ "state": "FAILED", "tries": 3, "httpStatus": 500, "error": null }));
        assert_eq!(e[1]["subType"], "SOFT_BOUNCE");
    }
}
