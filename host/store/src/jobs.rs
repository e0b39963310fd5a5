//! Jobs: submission (durable before the `202`), the status report, and the commit of a
//! job's start ([`Jobs`]).

use async_trait::async_trait;

use crate::names::{DbName, job_state};
use crate::outbox::NotificationState;
use crate::rate::Exceeded;
use crate::{DeliveryStatus, Effects, EventKind, JobRecipient, PasswordState, RecipientUpdate, Role, StoreError};

/// A recipient known at submission (from the validation summary).
#[derive(Debug, Clone)]
pub struct NewRecipient {
    /// The index of its recipient block in the request.
    pub block: u32,
    /// `local@domain`.
    pub address: String,
    /// The role it first appears in.
    pub role: Role,
    /// The block's `reference`, echoed in status reports and callbacks.
    pub reference: Option<String>,
}

/// A job to store at submission.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Its id (a UUID).
    pub id: String,
    /// The owning account.
    pub account: String,
    /// When it was accepted, ms since the epoch.
    pub received_ms: u64,
    /// The raw request body (encrypted by the store).
    pub request: Vec<u8>,
    /// Every envelope recipient of every block.
    pub recipients: Vec<NewRecipient>,
    /// Secure Document Handling is active: password states start as `pending`.
    pub secure: bool,
    /// `Idempotency-Key` and the SHA-256 of the body.
    pub idempotency: Option<(String, [u8; 32])>,
    /// Where its events are pushed (none: recorded only): the callback setup in the form the
    /// callbacks crate writes it. Opaque to the store, which keeps it sealed at rest.
    pub callbacks: Option<Vec<u8>>,
    /// The account's limit of recipients per hour ([`crate::rate`]); none: unlimited.
    pub recipients_per_hour: Option<u64>,
}

/// The result of [`Jobs::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Stored (and durable).
    Created,
    /// The idempotency key was used before with the same body: that job's id.
    Replay(String),
    /// The idempotency key was used before with a different body.
    Conflict,
    /// Not stored: the account's hourly limit would be exceeded.
    RateLimited(Exceeded),
}

/// What a `start-job` call (or its recovery) decided, to commit in one transaction.
#[derive(Debug, Clone)]
pub enum StartDecision {
    /// Messages were queued; the final states of recipients dropped before processing.
    Queued(Vec<RecipientUpdate>),
    /// Nothing will be sent: every recipient's final state. The job is finished.
    Dropped(Vec<RecipientUpdate>),
    /// Start the job again at (ms).
    Retry(u64),
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobState {
    /// Stored, not started yet (or waiting to be started again).
    Queued,
    /// Started: its messages are being delivered.
    Delivering,
    /// Every recipient resolved.
    Finished,
}

impl DbName for JobState {
    fn to_db(self) -> &'static str {
        match self {
            Self::Queued => job_state::QUEUED,
            Self::Delivering => job_state::DELIVERING,
            Self::Finished => job_state::FINISHED,
        }
    }

    fn from_db(text: &str) -> Option<Self> {
        [Self::Queued, Self::Delivering, Self::Finished].into_iter().find(|s| s.to_db() == text)
    }
}

/// A recipient in a status report.
#[derive(Debug, Clone)]
pub struct RecipientStatus {
    /// The index of its recipient block.
    pub block: u32,
    /// `local@domain`.
    pub address: String,
    /// The role it first appears in.
    pub role: Role,
    /// The block's `reference`.
    pub reference: Option<String>,
    /// Where its original stands.
    pub status: DeliveryStatus,
    /// Where its password mail stands.
    pub password: PasswordState,
    /// The last SMTP reply about it.
    pub reply: Option<String>,
    /// The RFC 3463 enhanced code of that reply.
    pub detail: Option<String>,
    /// When it last changed, ms.
    pub updated_ms: u64,
}

/// An event in a status report.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Sequence number (strictly increasing in commit order).
    pub seq: i64,
    /// The recipient block.
    pub block: u32,
    /// The recipient address.
    pub recipient: String,
    /// What happened.
    pub kind: EventKind,
    /// In words (never a secret).
    pub description: String,
    /// When it was committed, ms.
    pub ts_ms: u64,
    /// Its push notification, when the job has a callback endpoint.
    pub notification: Option<NotificationState>,
}

/// A job's status report.
#[derive(Debug, Clone)]
pub struct JobStatus {
    /// The job's id.
    pub id: String,
    /// When it was accepted, ms.
    pub received_ms: u64,
    /// Where it stands.
    pub state: JobState,
    /// When it finished, ms.
    pub finished_ms: Option<u64>,
    /// Every recipient, in block order.
    pub recipients: Vec<RecipientStatus>,
    /// Every event, in commit order.
    pub events: Vec<StoredEvent>,
}

/// Jobs: submission, status and start.
#[async_trait]
pub trait Jobs: Send + Sync + 'static {
    /// Stores a new job durably (committed and synced before it returns), honouring the
    /// idempotency key and the account's hourly limit.
    async fn submit(&self, job: NewJob) -> Result<Submitted, StoreError>;
    /// A job's status, only if it belongs to `account`.
    async fn job_status(&self, account: &str, job_id: &str) -> Result<Option<JobStatus>, StoreError>;
    /// Jobs accepted but not finished, over all accounts.
    async fn unfinished_jobs(&self) -> Result<u64, StoreError>;
    /// A job's recipients as stored at submission, in block order (what a failed start's
    /// recovery decides for).
    async fn job_recipients(&self, job_id: &str) -> Result<Vec<JobRecipient>, StoreError>;
    /// Commits a `start-job` call's decision and effects; returns whether the job is now
    /// finished.
    async fn commit_start(
        &self,
        job_id: &str,
        now_ms: u64,
        decision: StartDecision,
        effects: Effects,
    ) -> Result<bool, StoreError>;
}
