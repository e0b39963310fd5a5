//! The job store: jobs, recipients and their delivery state, queued messages, held
//! passwords, events, idempotency keys and accounts (DESIGN §7).
//!
//! [`Store`] is the interface the server and the workers use; [`sqlite::SqliteStore`] is
//! the embedded default (one file, WAL, group commit), [`postgres::PostgresStore`] the
//! multi-node one (several processes on one database, claims with leases). Implementations
//! encrypt request bodies, messages and held secrets at rest ([`at_rest`]) and purge them
//! once a job is finished.
//!
//! # Isolation
//!
//! The rule: every statement that an API request reaches names the authenticated account
//! (`WHERE account = ?`, or a join to `jobs` on it) — not only the first statement of a
//! method — so another account's rows answer exactly like missing rows (a `404`, never a
//! `403`: no existence oracle). The account-scoped methods are [`Store::submit`] (the
//! idempotency key is unique per `(account, key)`, and the rate counters are per account),
//! [`Store::job_status`], [`Store::suppressions`], [`Store::remove_suppression`] and
//! [`Store::delete_job`]; [`Store::account`] is the authentication lookup itself.
//! Statements the workers, the callback dispatcher, the bounce listener and the retention
//! purge run are keyed by internal ids that no client chooses (job and message UUIDs, outbox
//! post ids, 128-bit VERP tokens) or by time, and what they write for an account takes the account from the job's row (a
//! bounce's suppression entry, [`Store::job_suppressions`]); the callback dispatcher signs
//! with the secrets of the post's account, read from the same row. [`Store::unfinished_jobs`]
//! is a count over all accounts, used for back-pressure and `/metrics`: it carries no
//! address, job id or account. `tests/tests/isolation.rs` checks all of this from outside.

#![warn(missing_docs)]

pub mod at_rest;
pub mod codes;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
pub mod erase;
#[cfg(any(test, feature = "conformance"))]
mod erase_conformance;
#[cfg(any(test, feature = "conformance"))]
mod lists_conformance;
pub mod open;
pub mod postgres;
pub mod rate;
pub mod rotation;
pub mod sqlite;
pub mod suppression;

use async_trait::async_trait;

pub use codes::{event_codes, status_codes};
pub use erase::DeleteOutcome;
pub use sealmail_core::bindings::delivery::{DeliveryStatus, MessageKind, OutgoingMessage, PasswordState, Role};
pub use sealmail_core::bindings::notifier::{Event, EventKind};
pub use sealmail_core::bindings::workflow::RecipientUpdate;
pub use suppression::{Suppression, SuppressionPolicy};

/// A `To` recipient without a display name (tests).
#[cfg(any(test, feature = "conformance"))]
pub(crate) fn delivery_recipient(address: &str) -> sealmail_core::bindings::delivery::Recipient {
    sealmail_core::bindings::delivery::Recipient { address: address.to_owned(), name: None, role: Role::To }
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(String),
    /// Stored data could not be decrypted.
    #[error(transparent)]
    AtRest(#[from] at_rest::AtRestError),
    /// The account exists already.
    #[error("account {0:?} exists already")]
    AccountExists(String),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// The database was set up with another storage key (PostgreSQL: one key for all nodes).
    #[error(
        "the database was set up with a different storage_key: every node sharing a database must use the same \
         storage_key (with another key it could not read the jobs the others stored)"
    )]
    KeyMismatch,
    /// A concurrent transaction conflicted (PostgreSQL: serialization failure or deadlock);
    /// the operation changed nothing and may be repeated.
    #[error("transaction conflict: {0}")]
    Conflict(String),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database(e.to_string())
    }
}

/// A recipient known at submission (from the validation summary).
#[derive(Debug, Clone)]
pub struct NewRecipient {
    /// Recipient block.
    pub block: u32,
    /// Address.
    pub address: String,
    /// To, Cc or Bcc.
    pub role: Role,
    /// The block's `reference`.
    pub reference: Option<String>,
}

/// A job to store at submission.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Its id (UUID).
    pub id: String,
    /// The owning account.
    pub account: String,
    /// Acceptance time, ms.
    pub received_ms: u64,
    /// The raw request body (encrypted by the store).
    pub request: Vec<u8>,
    /// Its recipients.
    pub recipients: Vec<NewRecipient>,
    /// Secure Document Handling active (password states start as `pending`).
    pub secure: bool,
    /// `Idempotency-Key` and the SHA-256 of the body.
    pub idempotency: Option<(String, [u8; 32])>,
    /// Where its events are pushed (none: recorded only): the callback setup in the form the
    /// callbacks crate writes it. Opaque to the store, which keeps it sealed at rest.
    pub callbacks: Option<Vec<u8>>,
    /// The account's limit of recipients per hour ([`rate`]); none: unlimited.
    pub recipients_per_hour: Option<u64>,
}

/// The result of [`Store::submit`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// Stored (and durable).
    Created,
    /// The idempotency key was used before with the same body: that job's id.
    Replay(String),
    /// The idempotency key was used before with a different body.
    Conflict,
    /// Not stored: the account's hourly limit would be exceeded.
    RateLimited(rate::Exceeded),
}

/// An account as stored.
#[derive(Debug, Clone)]
pub struct StoredAccount {
    /// HMAC-SHA256 of the secret under the server's auth key.
    pub secret_hash: [u8; 32],
    /// `customerNo`.
    pub customer_no: Option<String>,
}

/// Work a worker claimed (with a lease).
#[derive(Debug, Clone)]
pub enum Work {
    /// Start a job.
    Start(ClaimedJob),
    /// Attempt a message.
    Deliver(ClaimedMessage),
}

/// A job to start.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// Id.
    pub id: String,
    /// Acceptance time.
    pub received_ms: u64,
    /// Earlier start attempts.
    pub attempts: u32,
    /// The decrypted request.
    pub request: Vec<u8>,
    /// Secure job.
    pub secure: bool,
}

/// A message to attempt.
#[derive(Debug, Clone)]
pub struct ClaimedMessage {
    /// The `Message-ID`.
    pub id: String,
    /// Its job.
    pub job_id: String,
    /// Kind.
    pub kind: MessageKind,
    /// Block.
    pub block: u32,
    /// A password mail's original.
    pub parent: Option<String>,
    /// First attempt, ms.
    pub first_attempt_ms: u64,
    /// Attempts before this one.
    pub attempts: u32,
    /// Recipients with their current status.
    pub recipients: Vec<(String, Option<String>, Role, DeliveryStatus)>,
}

/// What a `start-job` call decided, to commit in one transaction.
#[derive(Debug, Clone)]
pub enum StartDecision {
    /// Messages queued; the final states of recipients dropped before processing.
    Queued(Vec<RecipientUpdate>),
    /// Final states; the job is finished.
    Dropped(Vec<RecipientUpdate>),
    /// Try again at (ms).
    Retry(u64),
    /// The workflow could not process the job (the text says why): the host drops it with
    /// PROCESSING_FAILED for every recipient (and PASSWORD_MAIL/NOT_TRIGGERED when secure).
    Failed(String),
}

/// Everything a workflow call did, to commit atomically with its result.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    /// Messages to queue.
    pub enqueued: Vec<OutgoingMessage>,
    /// Events, in emission order.
    pub events: Vec<Event>,
}

/// A workflow call's effects with their messages encrypted at rest, sealed by the caller
/// before the transaction: SQLite's writer thread then does no cryptography, and PostgreSQL
/// repeats a conflicting transaction with the same blobs.
pub(crate) struct SealedEffects {
    /// The effects.
    pub(crate) effects: Effects,
    /// Per enqueued message: its content and held secret, sealed.
    pub(crate) blobs: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl SealedEffects {
    /// Seals every enqueued message's content and held secret under `key`, each bound to
    /// its message id.
    pub(crate) fn seal(key: &at_rest::AtRestKey, effects: Effects) -> Self {
        let blobs = effects
            .enqueued
            .iter()
            .map(|m| {
                let content = key.seal(&format!("message:{}", m.message_id), &m.content);
                let secret = m.held_secret.as_ref().map(|s| key.seal(&format!("secret:{}", m.message_id), s));
                (content, secret)
            })
            .collect();
        Self { effects, blobs }
    }
}

/// What a `deliver` call decided.
#[derive(Debug, Clone)]
pub struct DeliveryDecision {
    /// Per-recipient updates.
    pub updates: Vec<RecipientUpdate>,
    /// Next attempt.
    pub retry_at: Option<u64>,
    /// Erase the held secret.
    pub erase_held_secret: bool,
    /// Addresses to put on the job's account's suppression list (bounces).
    pub suppress: Vec<Suppression>,
}

/// A recipient in a status report.
#[derive(Debug, Clone)]
pub struct RecipientStatus {
    /// Block.
    pub block: u32,
    /// Address.
    pub address: String,
    /// Role.
    pub role: Role,
    /// The block's `reference`.
    pub reference: Option<String>,
    /// Delivery status.
    pub status: DeliveryStatus,
    /// Password mail state.
    pub password: PasswordState,
    /// Last SMTP reply.
    pub reply: Option<String>,
    /// RFC 3463 detail.
    pub detail: Option<String>,
    /// Last change, ms.
    pub updated_ms: u64,
}

/// An event in a status report.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Sequence number (strictly increasing in commit order).
    pub seq: i64,
    /// Block.
    pub block: u32,
    /// Recipient.
    pub recipient: String,
    /// Kind.
    pub kind: EventKind,
    /// Description.
    pub description: String,
    /// When, ms.
    pub ts_ms: u64,
    /// Its push notification, when the job has a callback endpoint.
    pub notification: Option<NotificationState>,
}

/// Where an event's push notification stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotificationState {
    /// Pending, delivered or failed.
    pub state: PostState,
    /// Tries so far.
    pub tries: u32,
    /// The endpoint's last HTTP status.
    pub http_status: Option<u16>,
    /// Why the last try got no answer or was refused.
    pub error: Option<String>,
}

/// The state of an outbox post (a batch of one job's events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostState {
    /// Waiting for its (next) try.
    Pending,
    /// The endpoint answered `2xx`.
    Delivered,
    /// Refused for good, or out of tries.
    Failed,
}

/// An event of a claimed post, with what its notification shows of the recipient.
#[derive(Debug, Clone)]
pub struct PostEvent {
    /// The event.
    pub event: StoredEvent,
    /// The recipient block's `reference`.
    pub reference: Option<String>,
}

/// An outbox post claimed for a try (with a lease).
#[derive(Debug, Clone)]
pub struct ClaimedPost {
    /// The post's id (its `webhook-id` derives from it).
    pub id: i64,
    /// Its job.
    pub job_id: String,
    /// The job's account.
    pub account: String,
    /// The job's acceptance time, ms.
    pub received_ms: u64,
    /// Tries before this one.
    pub tries: u32,
    /// The job's callback setup (endpoint and body meta) as it was submitted, decrypted; it
    /// may hold the endpoint's credentials, so it is wiped when dropped.
    pub setup: zeroize::Zeroizing<Vec<u8>>,
    /// Its events, in order.
    pub events: Vec<PostEvent>,
}

/// A claimed post as a store reads it: the job's callback setup still sealed, so that it is
/// opened outside the store's transaction (and, in SQLite, outside the writer thread).
pub(crate) struct RawPost {
    pub(crate) id: i64,
    pub(crate) job_id: String,
    pub(crate) account: String,
    pub(crate) received_ms: u64,
    pub(crate) tries: u32,
    pub(crate) sealed_setup: Vec<u8>,
    pub(crate) events: Vec<(StoredEvent, Option<String>)>,
}

impl RawPost {
    /// Opens the callback setup. A setup that cannot be opened keeps the post's lease until
    /// it runs out; the dispatcher logs the error each time.
    pub(crate) fn open(self, key: &at_rest::AtRestKey) -> Result<ClaimedPost, StoreError> {
        let setup = zeroize::Zeroizing::new(key.open(&format!("callbacks:{}", self.job_id), &self.sealed_setup)?);
        Ok(ClaimedPost {
            id: self.id,
            job_id: self.job_id,
            account: self.account,
            received_ms: self.received_ms,
            tries: self.tries,
            setup,
            events: self.events.into_iter().map(|(event, reference)| PostEvent { event, reference }).collect(),
        })
    }
}

/// The result of one try of a post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// Answered `2xx`.
    Delivered {
        /// The status.
        http_status: u16,
    },
    /// Refused for good or out of tries: no further try.
    Failed {
        /// The endpoint's status, if it answered.
        http_status: Option<u16>,
        /// Why, if it did not answer or was not allowed.
        error: Option<String>,
    },
    /// Try again at `at_ms`.
    Retry {
        /// When.
        at_ms: u64,
        /// The endpoint's status, if it answered.
        http_status: Option<u16>,
        /// Why, if it did not answer.
        error: Option<String>,
    },
}

/// A failure reported after acceptance: a delivery status notification (RFC 3464) for a
/// recipient of one of our messages, received at the message's VERP address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LateBounce {
    /// The local part of the bounced message's `Message-ID` (its VERP token).
    pub message_token: String,
    /// The recipient the DSN reports (`Final-Recipient`).
    pub address: String,
    /// What the event and the recipient's status say: the DSN's status and diagnostic.
    pub description: String,
    /// The RFC 3463 status code, e.g. `5.1.1`.
    pub status: String,
    /// When it arrived, ms.
    pub now_ms: u64,
    /// List the address until `now_ms` plus this (none: suppression is off).
    pub suppress_for_ms: Option<u64>,
}

/// What [`Store::late_bounce`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LateBounceOutcome {
    /// The recipient's delivery became a hard bounce (event, status, suppression).
    Recorded {
        /// The message's job.
        job_id: String,
    },
    /// No message of ours has this token (forged, or purged by retention).
    UnknownMessage,
    /// The message had no delivered recipient with this address (unknown, or already
    /// recorded as bounced: a DSN that arrives twice is recorded once).
    NotDelivered,
    /// It is a password mail: its recipient already has its PASSWORD_MAIL event, which is
    /// final, so nothing is recorded (the bounce is only logged).
    PasswordMail,
}

/// A job's status report.
#[derive(Debug, Clone)]
pub struct JobStatus {
    /// Id.
    pub id: String,
    /// Acceptance time.
    pub received_ms: u64,
    /// `queued`, `delivering` or `finished`.
    pub state: String,
    /// When it finished.
    pub finished_ms: Option<u64>,
    /// Recipients.
    pub recipients: Vec<RecipientStatus>,
    /// Events in order.
    pub events: Vec<StoredEvent>,
}

/// The job store.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Stores a new job durably (committed and synced before it returns), honouring the
    /// idempotency key.
    async fn submit(&self, job: NewJob) -> Result<Submitted, StoreError>;
    /// Looks up an account stored by `sealmail account add`.
    async fn account(&self, name: &str) -> Result<Option<StoredAccount>, StoreError>;
    /// Adds an account.
    async fn add_account(
        &self,
        name: &str,
        secret_hash: [u8; 32],
        customer_no: Option<String>,
    ) -> Result<(), StoreError>;
    /// Replaces a stored account's secret hash, if it is still `old`: an account that logs in
    /// with a hash under a previous storage key is re-hashed under the current one, so the old
    /// key can be retired (docs/service.md, "Storage key and rotation"). false when the hash
    /// had changed meanwhile (another node re-hashed it first).
    async fn rehash_account(&self, name: &str, old: [u8; 32], new: [u8; 32]) -> Result<bool, StoreError>;
    /// Jobs accepted but not finished.
    async fn unfinished_jobs(&self) -> Result<u64, StoreError>;
    /// Drops every lease: at start-up of the only node using an SQLite store. A no-op on a
    /// shared PostgreSQL database, where other nodes' leases are live.
    async fn release_leases(&self) -> Result<(), StoreError>;
    /// Claims the most overdue job or message for `lease_ms`.
    async fn claim(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<Work>, StoreError>;
    /// The earliest time any work becomes due.
    async fn next_due(&self) -> Result<Option<u64>, StoreError>;
    /// Commits a `start-job` call; returns whether the job is now finished.
    async fn commit_start(
        &self,
        job_id: &str,
        now_ms: u64,
        decision: StartDecision,
        effects: Effects,
    ) -> Result<bool, StoreError>;
    /// Commits a `deliver` call; returns whether the message's job is now finished.
    async fn commit_delivery(
        &self,
        message_id: &str,
        now_ms: u64,
        decision: DeliveryDecision,
        effects: Effects,
    ) -> Result<bool, StoreError>;
    /// Gives a claimed message back without an outcome, to be tried at `at_ms`.
    async fn reschedule_message(&self, message_id: &str, at_ms: u64) -> Result<(), StoreError>;
    /// A queued message's reverse-path and content.
    async fn message_content(&self, message_id: &str) -> Result<Option<(String, Vec<u8>)>, StoreError>;
    /// The held secret of a message, if not erased.
    async fn held_secret(&self, message_id: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// A job's status, only if it belongs to `account`.
    async fn job_status(&self, account: &str, job_id: &str) -> Result<Option<JobStatus>, StoreError>;

    /// Claims the most overdue outbox post whose job has no earlier post pending, for
    /// `lease_ms` (a job's posts go out in order).
    async fn claim_post(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<ClaimedPost>, StoreError>;
    /// Records a try of a claimed post and releases it.
    async fn commit_post(&self, post_id: i64, now_ms: u64, outcome: PostOutcome) -> Result<(), StoreError>;
    /// The earliest time an outbox post becomes due.
    async fn next_post_due(&self) -> Result<Option<u64>, StoreError>;

    /// The entries of the job's account's suppression list in force at `now_ms` for the
    /// job's recipients.
    async fn job_suppressions(&self, job_id: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError>;
    /// An account's suppression list in force at `now_ms`, by address.
    async fn suppressions(&self, account: &str, now_ms: u64) -> Result<Vec<Suppression>, StoreError>;
    /// Takes `address` off an account's list; whether it was listed.
    async fn remove_suppression(&self, account: &str, address: &str) -> Result<bool, StoreError>;

    /// Records a failure reported after delivery (a DSN): the recipient of the original
    /// message becomes `bounced`, gets a `HARD_BOUNCE` event after its `DELIVERED` (pushed to
    /// the job's endpoint like every event), and its address goes on the suppression list.
    async fn late_bounce(&self, bounce: LateBounce) -> Result<LateBounceOutcome, StoreError>;

    /// Erases every row of a finished job of `account` (`DELETE /rest/v1/jobs/{jobId}`,
    /// [`retention`]); a job that is not finished is left alone.
    async fn delete_job(&self, account: &str, job_id: &str) -> Result<DeleteOutcome, StoreError>;
    /// Erases every row of up to `batch` jobs finished before `before_ms` (the retention
    /// purge, [`retention`]), oldest first; how many. Safe to run on several nodes at once.
    async fn purge_finished(&self, before_ms: u64, batch: usize) -> Result<u64, StoreError>;
}
