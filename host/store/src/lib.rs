//! The job store: jobs, recipients and their delivery state, queued messages, held
//! passwords, events and their callback outbox, idempotency keys, accounts and the
//! per-account lists (docs/service.md#storage).
//!
//! The interface is one trait per concern — [`Jobs`] (submission and status), [`Queue`]
//! (claiming due work), [`Messages`] (delivery attempts and their outcomes), [`Outbox`]
//! (callback posts), [`Accounts`], [`Lists`] (suppression list) and [`Retention`] (erasure)
//! — and [`Store`], all of them together. A caller holds only what it needs (the callback
//! dispatcher an `Arc<dyn Outbox>`), and both backends implement each concern in a file of
//! its name: [`sqlite::SqliteStore`] is the embedded default (one file, WAL, group commit),
//! [`postgres::PostgresStore`] the multi-node one (several processes on one database, claims
//! with leases). Both encrypt request bodies, messages, held secrets and callback setups at
//! rest ([`at_rest`]) and purge them once a job is finished; their schemas are the `.sql`
//! files in `migrations/`.
//!
//! The store records; it never decides. What a workflow call decided arrives as a decision
//! (`StartDecision`, `DeliveryDecision`) and its effects, and is committed as it is, in one
//! transaction.
//!
//! # Isolation
//!
//! The rule: every statement that an API request reaches names the authenticated account
//! (`WHERE account = ?`, or a join to `jobs` on it) — not only the first statement of a
//! method — so another account's rows answer exactly like missing rows (a `404`, never a
//! `403`: no existence oracle). The account-scoped methods are [`Jobs::submit`] (the
//! idempotency key is unique per `(account, key)`, and the rate counters are per account),
//! [`Jobs::job_status`], [`Lists::suppressions`], [`Lists::remove_suppression`] and
//! [`Retention::delete_job`]; [`Accounts::account`] is the authentication lookup itself.
//! Statements the workers, the callback dispatcher, the bounce listener and the retention
//! purge run are keyed by internal ids that no client chooses (job and message UUIDs, outbox
//! post ids, 128-bit VERP tokens) or by time, and what they write for an account takes the
//! account from the job's row (a bounce's suppression entry, [`Lists::job_suppressions`]);
//! the callback dispatcher signs with the secrets of the post's account, read from the same
//! row. [`Jobs::unfinished_jobs`] is a count over all accounts, used for back-pressure and
//! `/metrics`: it carries no address, job id or account. The isolation system test checks
//! all of this from outside.

pub mod accounts;
pub mod at_rest;
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod effects;
pub mod erase;
mod error;
pub mod jobs;
pub mod lists;
pub mod messages;
mod names;
pub mod open;
pub mod outbox;
pub mod postgres;
pub mod queue;
pub mod rate;
pub mod rotation;
pub mod sqlite;
pub mod suppression;

pub use accounts::{Accounts, StoredAccount};
pub use effects::Effects;
pub(crate) use effects::SealedEffects;
pub use erase::{DeleteOutcome, Retention};
pub use error::StoreError;
pub use jobs::{
    JobState, JobStatus, Jobs, NewJob, NewRecipient, RecipientStatus, StartDecision, StoredEvent, Submitted,
};
pub use lists::Lists;
pub use messages::{ClaimedMessage, DeliveryDecision, Messages};
pub use outbox::{ClaimedPost, NotificationState, Outbox, PostEvent, PostOutcome, PostState};
pub use queue::{ClaimedJob, Queue, Work};
pub use sealmail_core::bindings::delivery::{DeliveryStatus, MessageKind, OutgoingMessage, PasswordState, Role};
pub use sealmail_core::bindings::notifier::{Event, EventKind};
pub use sealmail_core::bindings::workflow::{JobRecipient, RecipientState, RecipientUpdate};
pub use suppression::{Suppression, SuppressionPolicy};

/// The whole store: every concern, as both backends implement it.
pub trait Store: Jobs + Queue + Messages + Outbox + Accounts + Lists + Retention {}

impl<T: Jobs + Queue + Messages + Outbox + Accounts + Lists + Retention> Store for T {}
