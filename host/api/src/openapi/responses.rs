//! The bodies the API answers with: each type here is what a handler serializes and what the
//! OpenAPI document describes, so an answer and its description cannot drift apart. Objects
//! are closed (`additionalProperties: false`, from `deny_unknown_fields`) and
//! `tests/it/openapi.rs` validates real answers of the server against their schemas.
//!
//! The names of the WIT's enums (problem kinds, statuses, event codes, …) are
//! [`crate::vocabulary`]'s, derived from the WIT; the host's own (job and callback states)
//! are the enums here.

use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ErrorCode;
use crate::vocabulary::{
    DeliveryStatus, DeliverySubStatus, EventPhase, EventState, EventSubType, EventType, Name, PasswordMailState,
    ProblemKind, ProblemKindCase, RecipientType, SuppressionReason, WarningKind,
};
use sealmail_core::bindings::validation;
use sealmail_store::PostState;

/// An error: a stable code clients may branch on, and a sentence for people. Every answer
/// of 401, 404, 409, 413, 415, 500 and 503 from the job routes has this shape (the codes are
/// listed at each response).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The code, e.g. `UNAUTHORIZED`, `NOT_FOUND`, `QUEUE_FULL`.
    #[schema(value_type = String, pattern = "^[A-Z][A-Z_]*$", example = "NOT_FOUND")]
    pub code: ErrorCode,
    /// What went wrong, in words.
    #[schema(example = "no such resource")]
    pub message: String,
}

/// A `400`: the JobRequest breaks rules (`INVALID_REQUEST`, with every problem), or the
/// `Idempotency-Key` header is unusable (`INVALID_IDEMPOTENCY_KEY`, without problems).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BadRequest {
    /// Which of the two.
    #[schema(value_type = BadRequestCode)]
    pub code: ErrorCode,
    /// A summary, e.g. `the JobRequest has 2 problem(s); each names its JSON path`.
    pub message: String,
    /// Every problem, sorted by path (array indices numerically); past 1,000 problems a
    /// final `too-many` entry at `""` says how many more there were. Present with
    /// `INVALID_REQUEST`.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<Problem>>,
}

/// The codes of a `400`: those of [`ErrorCode`] whose status it is.
pub struct BadRequestCode;

impl utoipa::PartialSchema for BadRequestCode {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        let codes = ErrorCode::ALL.iter().filter(|c| c.status() == axum::http::StatusCode::BAD_REQUEST);
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(codes.map(|c| c.as_str())))
            .description(Some("The codes of a `400`."))
            .into()
    }
}

impl ToSchema for BadRequestCode {}

/// One thing wrong with a request (`wit/validation.wit`, record `problem`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Problem {
    /// Where: an RFC 6901 JSON Pointer into the request (`""` is the whole request).
    #[schema(example = "/attachments/1/content")]
    pub path: String,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// The specifics, in words.
    #[schema(example = "is not valid base64: character 7 (not counting white space) is '!'")]
    pub message: String,
}

impl Problem {
    /// A problem the host finds beyond the component's validation, in the validator's shape.
    pub fn new(path: &str, kind: ProblemKindCase, message: impl Into<String>) -> Self {
        Self { path: path.to_owned(), kind: Name::new(kind), message: message.into() }
    }
}

impl From<&validation::Problem> for Problem {
    fn from(p: &validation::Problem) -> Self {
        Self::new(&p.path, ProblemKindCase::Wit(p.kind), p.message.clone())
    }
}

/// Something worth knowing about an accepted request (`wit/validation.wit`, record
/// `warning`).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Warning {
    /// An RFC 6901 JSON Pointer to the value concerned.
    #[schema(example = "/job/features/secureDocument/password/type")]
    pub path: String,
    /// What kind of warning.
    pub kind: WarningKind,
    /// The specifics, in words.
    pub message: String,
}

impl From<&validation::Warning> for Warning {
    fn from(w: &validation::Warning) -> Self {
        Self { path: w.path.clone(), kind: Name::new(w.kind), message: w.message.clone() }
    }
}

/// A `202`: the job is stored durably (fsync'd) and will be processed.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobAccepted {
    /// The job's id (for `GET /rest/v1/jobs/{jobId}` and in every callback).
    #[schema(format = "uuid", example = "5d6c1f0e-3b2a-4c1d-8e9f-0a1b2c3d4e5f")]
    pub job_id: String,
    /// The id again, where Retarus clients look for it.
    pub meta: JobMeta,
    /// What did not stop the request; absent when there is nothing to say.
    #[schema(nullable = false)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warnings: Option<Vec<Warning>>,
}

/// `meta` of a job answer.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobMeta {
    /// The job's id.
    #[schema(format = "uuid")]
    pub job_id: String,
}

/// The status report of a job: its state, each recipient's delivery and every event so far.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusReport {
    /// The job's id.
    #[schema(format = "uuid")]
    pub job_id: String,
    /// The id again, where Retarus clients look for it.
    pub meta: JobMeta,
    /// Where the job stands.
    pub state: JobState,
    /// When the job was accepted (RFC 3339, UTC, milliseconds).
    #[schema(format = DateTime, example = "2026-11-29T11:41:23.035Z")]
    pub received_ts: String,
    /// When the job finished; `null` until then.
    #[schema(format = DateTime, required = true)]
    pub finished_ts: Option<String>,
    /// One entry per envelope recipient of every block.
    pub recipients: Vec<RecipientReport>,
    /// The job's events, ordered by `seq` (commit order: millisecond timestamps can tie).
    pub events: Vec<JobEvent>,
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Stored, not taken by a worker yet.
    Queued,
    /// Being scanned, sealed or delivered.
    InProgress,
    /// Every recipient is resolved.
    Finished,
}

impl From<sealmail_store::JobState> for JobState {
    fn from(stored: sealmail_store::JobState) -> Self {
        match stored {
            sealmail_store::JobState::Queued => Self::Queued,
            sealmail_store::JobState::Delivering => Self::InProgress,
            sealmail_store::JobState::Finished => Self::Finished,
        }
    }
}

/// One recipient of one block.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RecipientReport {
    /// The index of the recipient block in `/recipients`.
    #[schema(minimum = 0)]
    pub block: u32,
    /// The address.
    #[schema(example = "max@recipient.example")]
    pub email: String,
    /// The role the address first appears in.
    #[serde(rename = "type")]
    pub role: RecipientType,
    /// The block's `reference`; `null` when it has none.
    #[schema(required = true)]
    pub reference: Option<String>,
    /// `PENDING` while in flight, then `OK` or `ERROR`.
    pub status: DeliveryStatus,
    /// The detail of `status`.
    pub sub_status: DeliverySubStatus,
    /// The RFC 3463 enhanced status code of the last reply, e.g. `5.1.1`; `null` when there
    /// was none.
    #[schema(required = true)]
    pub detail: Option<String>,
    /// The last SMTP reply, e.g. `550 5.1.1 User unknown`; `null` when there was none.
    #[schema(required = true)]
    pub last_reply: Option<String>,
    /// The password mail of a secure message; `null` for other messages.
    #[schema(required = true)]
    pub password_mail: Option<PasswordMailState>,
    /// When this entry last changed.
    #[schema(format = DateTime)]
    pub updated_ts: String,
}

/// One event of a job (the table in `docs/service.md` lists when each happens).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobEvent {
    /// The sequence number: strictly increasing in commit order.
    #[schema(minimum = 1)]
    pub seq: i64,
    /// The recipient block.
    #[schema(minimum = 0)]
    pub block: u32,
    /// The recipient.
    pub email: String,
    /// Which step of the job it reports, in Retarus' terms (`PROCESS`, `DELIVER`, `TRIGGER`, …).
    pub phase: EventPhase,
    /// The state within the phase.
    pub state: EventState,
    /// What happened (`DELIVERED`, `HARD_BOUNCE`, `PASSWORD_MAIL`, …).
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The detail of the type (`OK`, `FAILED`, `NOT_TRIGGERED`, …).
    pub sub_type: EventSubType,
    /// When it happened.
    #[schema(format = DateTime)]
    pub ts: String,
    /// What happened, in words (e.g. the SMTP reply).
    pub description: String,
    /// The event's id in its callback, `<jobId>.<seq>` (the same on every retry).
    #[schema(pattern = r"^[0-9a-f-]{36}\.[0-9]+$")]
    pub tag: String,
    /// Where the event's callback stands; `null` when the job has no callback endpoint.
    #[schema(required = true)]
    pub notification: Option<CallbackDelivery>,
}

/// Where an event's callback stands.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallbackDelivery {
    /// `PENDING` (waiting for its next try), `DELIVERED` (the endpoint answered 2xx) or
    /// `FAILED` (refused for good, or out of tries).
    pub state: CallbackState,
    /// Tries so far.
    #[schema(minimum = 0)]
    pub tries: u32,
    /// The endpoint's last HTTP status; `null` before the first answer.
    #[schema(required = true)]
    pub http_status: Option<u16>,
    /// Why the last try got no answer or was refused; `null` otherwise.
    #[schema(required = true)]
    pub error: Option<String>,
}

/// The states of a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallbackState {
    /// Waiting for its (next) try.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Refused for good, or out of tries.
    Failed,
}

impl From<PostState> for CallbackState {
    fn from(state: PostState) -> Self {
        match state {
            PostState::Pending => Self::Pending,
            PostState::Delivered => Self::Delivered,
            PostState::Failed => Self::Failed,
        }
    }
}

/// `GET /healthz`.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Always `ok`.
    pub status: HealthStatus,
}

/// The one value of `Health.status`.
#[derive(Serialize, ToSchema)]
pub enum HealthStatus {
    /// The process serves HTTP.
    #[serde(rename = "ok")]
    Ok,
}

/// `GET /readyz` when ready.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    /// Always `ready`.
    pub status: ReadyStatus,
}

/// The one value of `Ready.status`.
#[derive(Serialize, ToSchema)]
pub enum ReadyStatus {
    /// The store and every scanner answer.
    #[serde(rename = "ready")]
    Ready,
}

/// `GET /readyz` when not ready.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotReady {
    /// Always `not ready`.
    pub status: NotReadyStatus,
    /// What does not answer, e.g. `antivirus: …`, `store: …`.
    pub problems: Vec<String>,
}

/// The one value of `NotReady.status`.
#[derive(Serialize, ToSchema)]
pub enum NotReadyStatus {
    /// The store or a scanner does not answer.
    #[serde(rename = "not ready")]
    NotReady,
}

/// An entry of the account's suppression list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuppressionEntry {
    /// The address, lower-cased (entries match addresses case-insensitively).
    #[schema(example = "bob@example.org")]
    pub email: String,
    /// `HARD_BOUNCE` (a permanent refusal; listed for `hard_bounce_days`, default 45) or
    /// `SOFT_BOUNCE` (expired undelivered; listed for `soft_bounce_hours`, default 24).
    pub reason: SuppressionReason,
    /// What the receiving side said, or why the message expired.
    #[schema(example = "550 5.1.1 <bob@example.org>: Recipient address rejected")]
    pub detail: String,
    /// The job whose message bounced.
    #[schema(format = "uuid")]
    pub job_id: String,
    /// When the address was listed (RFC 3339, UTC, milliseconds).
    #[schema(format = "date-time")]
    pub created_ts: String,
    /// Until when it stays listed.
    #[schema(format = "date-time")]
    pub until_ts: String,
}

/// The account's suppression list.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuppressionList {
    /// The entries in force, by address.
    pub suppressions: Vec<SuppressionEntry>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealmail_core::vocabulary::WitEnum;
    use sealmail_sandbox::validation_json;
    use serde_json::json;

    #[test]
    fn problems_and_warnings_are_the_json_of_validate_json() {
        // The `400`'s problems and the `202`'s warnings are what `sealmail validate --json`
        // prints, for every kind.
        for case in validation::ProblemKind::CASES {
            let p = validation::Problem { path: "/a/0".into(), kind: case.value, message: "m".into() };
            assert_eq!(serde_json::to_value(Problem::from(&p)).unwrap(), validation_json::problem(&p), "{}", case.name);
        }
        for case in validation::WarningKind::CASES {
            let w = validation::Warning { path: "/b".into(), kind: case.value, message: "m".into() };
            assert_eq!(serde_json::to_value(Warning::from(&w)).unwrap(), validation_json::warning(&w), "{}", case.name);
        }
        let refused = Problem::new("/notification/endPoint/url", ProblemKindCase::RefusedAddress, "loopback");
        assert_eq!(
            serde_json::to_value(refused).unwrap(),
            json!({ "path": "/notification/endPoint/url", "kind": "refused-address", "message": "loopback" })
        );
    }

    #[test]
    fn absent_and_null_members_are_as_documented() {
        let accepted = JobAccepted { job_id: "j".into(), meta: JobMeta { job_id: "j".into() }, warnings: None };
        assert_eq!(serde_json::to_value(accepted).unwrap(), json!({ "jobId": "j", "meta": { "jobId": "j" } }));
        let bad = BadRequest { code: ErrorCode::InvalidIdempotencyKey, message: "m".into(), problems: None };
        assert_eq!(serde_json::to_value(bad).unwrap(), json!({ "code": "INVALID_IDEMPOTENCY_KEY", "message": "m" }));
        let delivery = CallbackDelivery { state: PostState::Pending.into(), tries: 0, http_status: None, error: None };
        assert_eq!(
            serde_json::to_value(delivery).unwrap(),
            json!({ "state": "PENDING", "tries": 0, "httpStatus": null, "error": null })
        );
        assert_eq!(
            serde_json::to_value(NotReady { status: NotReadyStatus::NotReady, problems: vec![] }).unwrap()["status"],
            "not ready"
        );
        assert_eq!(serde_json::to_value(JobState::from(sealmail_store::JobState::Delivering)).unwrap(), "IN_PROGRESS");
    }
}
