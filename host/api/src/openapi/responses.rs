//! The bodies the API answers with, as schema types for the OpenAPI document.
//!
//! The handlers build these bodies with `serde_json::json!` (`jobs.rs`, `health.rs`,
//! `mod.rs`); these types describe them and are never serialized. Objects are closed
//! (`additionalProperties: false`), so `tests/tests/openapi.rs`, which validates real answers
//! of the server against these schemas, fails when a handler and its description drift apart.

use utoipa::ToSchema;

/// An error: a stable code clients may branch on, and a sentence for people. Every answer
/// of 401, 404, 409, 413, 415, 500 and 503 from the job routes has this shape (the codes are
/// listed at each response).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The code, e.g. `UNAUTHORIZED`, `NOT_FOUND`, `QUEUE_FULL`.
    #[schema(pattern = "^[A-Z][A-Z_]*$", example = "NOT_FOUND")]
    pub code: String,
    /// What went wrong, in words.
    #[schema(example = "no such resource")]
    pub message: String,
}

/// A `400`: the JobRequest breaks rules (`INVALID_REQUEST`, with every problem), or the
/// `Idempotency-Key` header is unusable (`INVALID_IDEMPOTENCY_KEY`, without problems).
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BadRequest {
    /// Which of the two.
    pub code: BadRequestCode,
    /// A summary, e.g. `the JobRequest has 2 problem(s); each names its JSON path`.
    pub message: String,
    /// Every problem, sorted by path (array indices numerically); past 1,000 problems a
    /// final `too-many` entry at `""` says how many more there were. Present with
    /// `INVALID_REQUEST`.
    #[schema(nullable = false)]
    pub problems: Option<Vec<Problem>>,
}

/// The codes of a `400`.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BadRequestCode {
    /// The JobRequest breaks rules; `problems` lists them.
    InvalidRequest,
    /// `Idempotency-Key` is empty, longer than 255 characters or not visible ASCII.
    InvalidIdempotencyKey,
}

/// One thing wrong with a request (`wit/validation.wit`, record `problem`).
#[derive(ToSchema)]
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

/// The kinds of problems: the cases of `problem-kind` in `wit/validation.wit`, and
/// `refused-address`, the host's check of callback addresses. `malformed-json`: not valid
/// JSON (line and column in the message); `not-utf8`: the body is not UTF-8; `too-large`:
/// larger than the limit; `duplicate-key`: an object has the same key twice; `missing`: a
/// needed key is missing; `null-value`: a value is `null`; `empty-value`: a string is empty
/// or white space; `wrong-type`: the wrong JSON type; `too-long`: a string longer than
/// allowed; `too-many`: more items than allowed; `invalid-value`: outside the allowed set or
/// form (the message lists what is allowed); `invalid-address`: not a valid RFC 5321 mailbox;
/// `invalid-encoding`: content that does not decode as declared; `header-injection`: CR, LF or
/// another control character in a header value; `invalid-header-name`: not a valid `X-`
/// header name; `invalid-url`: not an absolute http/https URL; `unsupported`: a feature
/// sealmail does not support (or a virus scan this server cannot do); `rule-violation`: a
/// rule that spans fields; `refused-address`: a callback URL whose host is a literal address
/// the server may not reach.
#[derive(ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProblemKind {
    /// Not valid JSON.
    MalformedJson,
    /// Not UTF-8.
    NotUtf8,
    /// Larger than the limit.
    TooLarge,
    /// A key twice in one object.
    DuplicateKey,
    /// A needed key is missing.
    Missing,
    /// `null`.
    NullValue,
    /// Empty or blank.
    EmptyValue,
    /// The wrong JSON type.
    WrongType,
    /// Too long.
    TooLong,
    /// Too many items.
    TooMany,
    /// Outside the allowed set or form.
    InvalidValue,
    /// Not a valid mailbox.
    InvalidAddress,
    /// Does not decode.
    InvalidEncoding,
    /// A control character in a header value.
    HeaderInjection,
    /// Not a valid `X-` header name.
    InvalidHeaderName,
    /// Not an absolute http/https URL.
    InvalidUrl,
    /// Not supported.
    Unsupported,
    /// A rule across fields.
    RuleViolation,
    /// A callback address the server may not reach.
    RefusedAddress,
}

/// Something worth knowing about an accepted request (`wit/validation.wit`, record
/// `warning`).
#[derive(ToSchema)]
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

/// The kinds of warnings: `ignored-key` (a key sealmail accepts but does not act on),
/// `ignored-value` (a value sealmail ignores), `alias` (a value accepted for compatibility,
/// e.g. password type `strong`).
#[derive(ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WarningKind {
    /// A key sealmail does not act on.
    IgnoredKey,
    /// A value sealmail ignores.
    IgnoredValue,
    /// An alias.
    Alias,
}

/// A `202`: the job is stored durably (fsync'd) and will be processed.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobAccepted {
    /// The job's id (for `GET /rest/v1/jobs/{jobId}` and in every callback).
    #[schema(format = "uuid", example = "5d6c1f0e-3b2a-4c1d-8e9f-0a1b2c3d4e5f")]
    pub job_id: String,
    /// The id again, where Retarus clients look for it.
    pub meta: JobMeta,
    /// What did not stop the request; absent when there is nothing to say.
    #[schema(nullable = false)]
    pub warnings: Option<Vec<Warning>>,
}

/// `meta` of a job answer.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JobMeta {
    /// The job's id.
    #[schema(format = "uuid")]
    pub job_id: String,
}

/// The status report of a job: its state, each recipient's delivery and every event so far.
#[derive(ToSchema)]
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
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    /// Stored, not taken by a worker yet.
    Queued,
    /// Being scanned, sealed or delivered.
    InProgress,
    /// Every recipient is resolved.
    Finished,
}

/// One recipient of one block.
#[derive(ToSchema)]
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

/// The role of a recipient.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum RecipientType {
    /// `to`.
    To,
    /// `cc`.
    Cc,
    /// `bcc`.
    Bcc,
}

/// A recipient's delivery status.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeliveryStatus {
    /// Not resolved yet.
    Pending,
    /// Delivered.
    Ok,
    /// Bounced or dropped.
    Error,
}

/// The detail of a delivery status: `QUEUED` and `DEFERRED` with `PENDING`, `DELIVERED` with
/// `OK`, `BOUNCED` and `DROPPED` with `ERROR`.
#[derive(ToSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum DeliverySubStatus {
    /// Waiting for its first try.
    Queued,
    /// A try failed temporarily; retried.
    Deferred,
    /// The next hop accepted the message.
    Delivered,
    /// Refused for good, or still undelivered after the queue lifetime.
    Bounced,
    /// Dropped before delivery (e.g. a virus).
    Dropped,
}

/// The password mail of a recipient of a secure message.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PasswordMailState {
    /// Waiting for the original's delivery, or queued.
    Pending,
    /// Delivered.
    Ok,
    /// Refused or expired.
    Failed,
    /// Never sent: the original was not delivered.
    NotTriggered,
}

/// One event of a job (the table in `docs/service.md` lists when each happens).
#[derive(ToSchema)]
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
    /// The phase.
    pub phase: EventPhase,
    /// The state within the phase.
    pub state: EventState,
    /// The type.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The sub-type.
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

/// Event phases.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventPhase {
    /// Before processing: a recipient dropped because of the suppression list.
    PreProcess,
    /// Scanning, sealing, rendering.
    Process,
    /// Delivery.
    Deliver,
    /// The password mail.
    Trigger,
}

/// Event states.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventState {
    /// The first event.
    Initial,
    /// More follow.
    Intermediate,
    /// The last event of its phase.
    Finished,
    /// After delivery (password mail).
    PostDelivery,
}

/// Event types.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventType {
    /// Processing started.
    Started,
    /// Processed.
    Processed,
    /// Dropped.
    Dropped,
    /// Delivered.
    Delivered,
    /// Deferred.
    Deferred,
    /// Bounced.
    Bounced,
    /// About the password mail.
    PasswordMail,
}

/// Event sub-types.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventSubType {
    /// The workflow took the job (after the scan).
    ProcessingStarted,
    /// No scanner, `allow_insecure_no_antivirus` (sealmail extension).
    AntivirusSkipped,
    /// Messages rendered (and sealed) and queued.
    ProcessingFinished,
    /// A scanner found something; the whole job is dropped.
    VirusDetected,
    /// The job could not be processed.
    ProcessingFailed,
    /// The address bounced before and is on the account's suppression list.
    PreviouslyBounced,
    /// The account put the address on its suppression list.
    Suppressed,
    /// Delivered, or the password mail was delivered.
    Ok,
    /// Deferred, or still undelivered after the queue lifetime.
    SoftBounce,
    /// Refused (5xx).
    HardBounce,
    /// The password mail was refused or expired.
    Failed,
    /// The password mail was not sent: the original was not delivered.
    NotTriggered,
}

/// Where an event's callback stands.
#[derive(ToSchema)]
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
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CallbackState {
    /// Waiting for its (next) try.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Refused for good, or out of tries.
    Failed,
}

/// `GET /healthz`.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Health {
    /// Always `ok`.
    pub status: HealthStatus,
}

/// The one value of `Health.status`.
#[derive(ToSchema)]
pub enum HealthStatus {
    /// The process serves HTTP.
    #[serde(rename = "ok")]
    Ok,
}

/// `GET /readyz` when ready.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ready {
    /// Always `ready`.
    pub status: ReadyStatus,
}

/// The one value of `Ready.status`.
#[derive(ToSchema)]
pub enum ReadyStatus {
    /// The store and every scanner answer.
    #[serde(rename = "ready")]
    Ready,
}

/// `GET /readyz` when not ready.
#[derive(ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotReady {
    /// Always `not ready`.
    pub status: NotReadyStatus,
    /// What does not answer, e.g. `antivirus: …`, `store: …`.
    pub problems: Vec<String>,
}

/// The one value of `NotReady.status`.
#[derive(ToSchema)]
pub enum NotReadyStatus {
    /// The store or a scanner does not answer.
    #[serde(rename = "not ready")]
    NotReady,
}

/// An entry of the account's suppression list.
#[derive(ToSchema)]
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

/// Why an address is listed.
#[derive(ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SuppressionReason {
    /// A permanent refusal.
    HardBounce,
    /// Expired undelivered.
    SoftBounce,
}

/// The account's suppression list.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuppressionList {
    /// The entries in force, by address.
    pub suppressions: Vec<SuppressionEntry>,
}
