//! The job workflow of the `service` world (`wit/workflow.wit`): what messages a job
//! becomes, what each recipient's outcome means, and when a password mail is released.
//!
//! The guest decides, the host executes and remembers (ARCHITECTURE.md#division-of-labour). Everything the host
//! does for the workflow goes through [`Host`], so the decisions are plain Rust, tested
//! natively with a fake host; `component/workflow.rs` maps the trait to the WIT imports.

mod deliver;
mod late_bounce;
mod recover;
mod secret;
mod start;

pub use deliver::deliver;
pub use late_bounce::{LateBounce, LateBounceOutcome, late_bounce};
pub use recover::{CallFailure, JobRecipient, StartRecovery, recover_delivery, recover_start};
/// For the `mime` fuzz harness, which renders messages the way `start_job` does.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) use start::personalize;
pub use start::start_job;

use crate::request::Problem;

/// How a recipient appears in its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Visible `To`.
    To,
    /// Visible `Cc`.
    Cc,
    /// Hidden `Bcc`.
    Bcc,
}

/// Where a recipient's message stands (`delivery.delivery-status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not yet attempted.
    Queued,
    /// Temporarily refused; will be retried.
    Deferred,
    /// Accepted by the next hop.
    Delivered,
    /// Permanently refused.
    Bounced,
    /// Not delivered within the queue lifetime.
    Expired,
    /// Never sent.
    Dropped,
}

impl DeliveryStatus {
    /// Whether nothing more will happen to this delivery.
    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Deferred)
    }
}

/// Where a recipient's password mail stands (`delivery.password-state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordState {
    /// Not a secure message.
    None,
    /// Waiting for the original.
    Pending,
    /// Queued after the original's delivery.
    Queued,
    /// Delivered.
    Ok,
    /// Could not be delivered.
    Failed,
    /// Never sent because the original was not delivered.
    NotTriggered,
}

/// Original or password mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A recipient block's message.
    Original,
    /// The password mail of one recipient.
    PasswordMail,
}

/// An envelope recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// `local@domain`.
    pub address: String,
    /// Display name.
    pub name: Option<String>,
    /// To, Cc or Bcc.
    pub role: Role,
}

/// A message handed to the host for delivery (`delivery.outgoing-message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutgoingMessage {
    /// `Message-ID` without brackets.
    pub message_id: String,
    /// What it is.
    pub kind: MessageKind,
    /// Its recipient block.
    pub block: u32,
    /// A password mail's original.
    pub parent: Option<String>,
    /// `MAIL FROM`.
    pub reverse_path: String,
    /// Envelope recipients.
    pub recipients: Vec<Recipient>,
    /// The RFC 5322 message.
    pub content: Vec<u8>,
    /// A secret to hold until erased (encrypted at rest by the host).
    pub held_secret: Option<Vec<u8>>,
}

/// What the scanners said (`antivirus.verdict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// All clean.
    Clean,
    /// Found something: scanner and signature.
    Infected(String),
    /// Could not scan: which scanner and why.
    Unavailable(String),
    /// No scanner configured, and the operator allowed it.
    Skipped,
}

/// An SMTP reply (`transport.reply`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// Reply code, none without an answer.
    pub code: Option<u16>,
    /// RFC 3463 code.
    pub enhanced: Option<String>,
    /// The reply's text after the codes, as the server sent it.
    pub text: String,
}

/// One recipient's outcome of one attempt (`transport.outcome`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted.
    Delivered(Reply),
    /// Refused for good.
    Permanent(Reply),
    /// Refused for now, or no answer.
    Temporary(Reply),
}

/// Event kinds (`notifier.event-kind`; the host maps them to Retarus' codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// PROCESSING_STARTED
    ProcessingStarted,
    /// PROCESSING_FINISHED
    ProcessingFinished,
    /// VIRUS_DETECTED
    VirusDetected,
    /// PROCESSING_FAILED
    ProcessingFailed,
    /// ANTIVIRUS_SKIPPED (sealmail extension)
    AntivirusSkipped,
    /// PRE_PROCESS/FINISHED/DROPPED/PREVIOUSLY_BOUNCED
    PreviouslyBounced,
    /// PRE_PROCESS/FINISHED/DROPPED/SUPPRESSED
    Suppressed,
    /// DELIVERED/OK
    Delivered,
    /// DEFERRED/SOFT_BOUNCE
    Deferred,
    /// BOUNCED/HARD_BOUNCE
    HardBounce,
    /// BOUNCED/SOFT_BOUNCE (expired)
    SoftBounce,
    /// PASSWORD_MAIL/OK
    PasswordMailOk,
    /// PASSWORD_MAIL/FAILED
    PasswordMailFailed,
    /// PASSWORD_MAIL/NOT_TRIGGERED
    PasswordMailNotTriggered,
}

/// One event of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Recipient block.
    pub block: u32,
    /// Recipient address.
    pub recipient: String,
    /// What happened.
    pub kind: EventKind,
    /// Description (never a secret).
    pub description: String,
}

/// The job being started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobContext {
    /// The job's id (a UUID), which names its messages and events.
    pub job_id: String,
    /// Acceptance time, ms since the epoch.
    pub received_ms: u64,
    /// Domain for `Message-ID`s.
    pub message_id_domain: String,
    /// Earlier start attempts that asked to retry.
    pub attempts: u32,
    /// Recipients on the account's suppression list.
    pub suppressed: Vec<SuppressedAddress>,
}

impl JobContext {
    /// The suppression entry of `address`, if it has one (addresses compare
    /// case-insensitively, as the suppression list stores them).
    pub fn suppression(&self, address: &str) -> Option<&SuppressedAddress> {
        self.suppressed.iter().find(|s| s.address.eq_ignore_ascii_case(address))
    }
}

/// A recipient the job must not send to (`workflow.suppressed-address`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuppressedAddress {
    /// The suppressed address, as the suppression list keeps it.
    pub address: String,
    /// It bounced before (`PREVIOUSLY_BOUNCED`), or the account listed it (`SUPPRESSED`).
    pub bounced: bool,
    /// The event description.
    pub description: String,
}

/// Retry schedule and queue lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Delays between attempts, ms; the last repeats.
    pub retry_delays_ms: Vec<u64>,
    /// Queue lifetime, ms.
    pub max_queue_lifetime_ms: u64,
}

impl Policy {
    /// The delay before attempt `attempts + 1`.
    pub fn delay(&self, attempts: u32) -> u64 {
        match self.retry_delays_ms.as_slice() {
            [] => 60_000,
            delays => delays[(attempts as usize).min(delays.len() - 1)],
        }
    }
}

/// A recipient's new state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientUpdate {
    /// Recipient block.
    pub block: u32,
    /// The recipient address whose state changes.
    pub address: String,
    /// New delivery status.
    pub status: DeliveryStatus,
    /// New password state, when it changed.
    pub password: Option<PasswordState>,
    /// Last SMTP reply.
    pub reply: Option<String>,
    /// RFC 3463 detail.
    pub detail: Option<String>,
}

/// How `start_job` ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartOutcome {
    /// Messages queued; the final states of recipients dropped before processing.
    Queued(Vec<RecipientUpdate>),
    /// Nothing will be sent; final states.
    Dropped(Vec<RecipientUpdate>),
    /// Try again at (ms), because (text).
    Retry(u64, String),
}

/// Why a workflow call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The stored request no longer validates.
    #[error("the stored request is no longer valid ({} problems)", .0.len())]
    Invalid(Vec<Problem>),
    /// A bug or inconsistency.
    #[error("internal workflow error: {0}")]
    Internal(String),
}

/// A recipient of a due message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipientState {
    /// The address to deliver to.
    pub address: String,
    /// Display name.
    pub name: Option<String>,
    /// How it was addressed (to, cc or bcc): a password mail goes to each alike.
    pub role: Role,
    /// Current status.
    pub status: DeliveryStatus,
}

/// A due message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageState {
    /// `Message-ID`.
    pub message_id: String,
    /// An original (with the archive) or a password mail.
    pub kind: MessageKind,
    /// The recipient block it was rendered for (index into `recipients` of the request).
    pub block: u32,
    /// A password mail's original.
    pub parent: Option<String>,
    /// Start of the first attempt, ms.
    pub first_attempt_ms: u64,
    /// Attempts before this one.
    pub attempts: u32,
    /// Every recipient of the message, with the state it is in now.
    pub recipients: Vec<RecipientState>,
}

/// What `deliver` decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliverOutcome {
    /// One update per attempted recipient.
    pub updates: Vec<RecipientUpdate>,
    /// Next attempt, if any recipient is still deferred.
    pub retry_at: Option<u64>,
    /// Erase the held secret: every recipient is resolved.
    pub erase_held_secret: bool,
}

/// The host capabilities the workflow uses (the `service` world's imports).
pub trait Host {
    /// `clock.now`.
    fn now(&mut self) -> u64;
    /// `antivirus.scan`.
    fn scan(&mut self, name: &str, content: &[u8]) -> Verdict;
    /// `transport.send`: one result per recipient, in order.
    fn send(&mut self, message_id: &str, recipients: &[String]) -> Vec<(String, Outcome)>;
    /// `delivery.enqueue`.
    fn enqueue(&mut self, message: OutgoingMessage);
    /// `delivery.held-secret`.
    fn held_secret(&mut self, message_id: &str) -> Option<Vec<u8>>;
    /// `notifier.emit`.
    fn emit(&mut self, event: Event);
}

#[cfg(test)]
pub(crate) mod fake;
#[cfg(test)]
mod tests;
