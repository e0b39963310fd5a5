//! The callback outbox ([`Outbox`]): posts (batches of one job's events) created in the
//! transaction of their events, claimed with a lease, one job's posts strictly in order, and
//! the record of each try.

use async_trait::async_trait;

use crate::StoreError;
use crate::at_rest::AtRestKey;
use crate::jobs::StoredEvent;
use crate::names::{DbName, post_state};

/// The state of an outbox post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostState {
    /// Waiting for its (next) try.
    Pending,
    /// The endpoint answered `2xx`.
    Delivered,
    /// Refused for good, or out of tries.
    Failed,
}

impl DbName for PostState {
    fn to_db(self) -> &'static str {
        match self {
            Self::Pending => post_state::PENDING,
            Self::Delivered => post_state::DELIVERED,
            Self::Failed => post_state::FAILED,
        }
    }

    fn from_db(text: &str) -> Option<Self> {
        [Self::Pending, Self::Delivered, Self::Failed].into_iter().find(|s| s.to_db() == text)
    }
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

/// An event of a claimed post, with what its notification shows of the recipient.
#[derive(Debug, Clone)]
pub struct PostEvent {
    /// The stored event, as committed by the workflow.
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

/// A claimed post as a backend reads it: the job's callback setup still sealed, so that it is
/// opened outside the backend's transaction (and, in SQLite, outside the writer thread).
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
    pub(crate) fn open(self, key: &AtRestKey) -> Result<ClaimedPost, StoreError> {
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

impl PostOutcome {
    /// The post's state after this try, when to try next (a retry), the status and error.
    pub(crate) fn columns(&self) -> (PostState, Option<u64>, Option<u16>, Option<String>) {
        match self {
            Self::Delivered { http_status } => (PostState::Delivered, None, Some(*http_status), None),
            Self::Failed { http_status, error } => (PostState::Failed, None, *http_status, error.clone()),
            Self::Retry { at_ms, http_status, error } => {
                (PostState::Pending, Some(*at_ms), *http_status, error.clone())
            }
        }
    }
}

/// The callback outbox.
#[async_trait]
pub trait Outbox: Send + Sync + 'static {
    /// Claims the most overdue post whose job has no earlier post pending, for `lease_ms`
    /// (a job's posts go out in order).
    async fn claim_post(&self, owner: &str, now_ms: u64, lease_ms: u64) -> Result<Option<ClaimedPost>, StoreError>;
    /// Records a try of a claimed post and releases it.
    async fn commit_post(&self, post_id: i64, now_ms: u64, outcome: PostOutcome) -> Result<(), StoreError>;
    /// The earliest time a post becomes due.
    async fn next_post_due(&self) -> Result<Option<u64>, StoreError>;
}
