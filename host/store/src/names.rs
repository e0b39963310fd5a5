//! How enum values are stored: every WIT enum by its snake-case WIT name (the WIT is the one
//! place those names are written; `sealmail_core::vocabulary` derives them), the store's own
//! states by the names below, and each as an SQL string literal for the statements that
//! test it. A literal, not a parameter, where a partial index depends on it: the planners of
//! both databases match `WHERE state = 'queued'` to an index only when they see the value.

use const_format::concatcp;
use sealmail_core::vocabulary::WitEnum;
use sealmail_core::vocabulary::names::delivery_status;

use crate::{DeliveryStatus, EventKind, MessageKind, PasswordState, Role, StoreError};

/// A stable stored name: a reordered enum cannot change what a stored row means.
pub(crate) trait DbName: Sized + Copy {
    /// The name stored.
    fn to_db(self) -> &'static str;
    /// The value of a stored name.
    fn from_db(text: &str) -> Option<Self>;
}

/// Stores these WIT enums by their snake-case WIT names.
macro_rules! by_wit_name {
    ($($ty:ty),+) => {$(
        impl DbName for $ty {
            fn to_db(self) -> &'static str {
                self.snake_name()
            }
            fn from_db(text: &str) -> Option<Self> {
                Self::from_snake_name(text)
            }
        }
    )+};
}

by_wit_name!(Role, DeliveryStatus, PasswordState, MessageKind, EventKind);

/// The value of a stored name, or an error naming what was unreadable.
pub(crate) fn parse<T: DbName>(what: &str, text: &str) -> Result<T, StoreError> {
    T::from_db(text).ok_or_else(|| StoreError::Database(format!("unknown {what} {text:?} in the database")))
}

/// A job's `state` column.
pub(crate) mod job_state {
    /// Stored, not started yet (or waiting to be started again).
    pub(crate) const QUEUED: &str = "queued";
    /// Started: its messages are being delivered.
    pub(crate) const DELIVERING: &str = "delivering";
    /// Every recipient resolved.
    pub(crate) const FINISHED: &str = "finished";
}

/// A callback post's `state` column.
pub(crate) mod post_state {
    /// Waiting for its (next) try.
    pub(crate) const PENDING: &str = "pending";
    /// The endpoint answered 2xx.
    pub(crate) const DELIVERED: &str = "delivered";
    /// Refused for good, or out of tries.
    pub(crate) const FAILED: &str = "failed";
}

/// `'queued'` (a job's state).
pub(crate) const JOB_QUEUED: &str = concatcp!("'", job_state::QUEUED, "'");
/// `'delivering'`.
pub(crate) const JOB_DELIVERING: &str = concatcp!("'", job_state::DELIVERING, "'");
/// `'finished'`.
pub(crate) const JOB_FINISHED: &str = concatcp!("'", job_state::FINISHED, "'");
/// `'queued'` (a delivery's status).
pub(crate) const DELIVERY_QUEUED: &str = concatcp!("'", delivery_status::QUEUED, "'");
/// `'deferred'`.
pub(crate) const DELIVERY_DEFERRED: &str = concatcp!("'", delivery_status::DEFERRED, "'");
/// `'delivered'`.
pub(crate) const DELIVERY_DELIVERED: &str = concatcp!("'", delivery_status::DELIVERED, "'");
/// `'pending'` (a callback post's state).
pub(crate) const POST_PENDING: &str = concatcp!("'", post_state::PENDING, "'");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_names_are_the_wit_names_and_the_literals_quote_them() {
        assert_eq!(PasswordState::NotTriggered.to_db(), "not_triggered");
        assert_eq!(EventKind::from_db("password_mail_ok"), Some(EventKind::PasswordMailOk));
        assert_eq!(DELIVERY_QUEUED, "'queued'");
        assert_eq!(JOB_FINISHED, "'finished'");
        assert!(parse::<Role>("role", "bcc2").is_err());
    }
}
