//! Push notifications to the customer's endpoint (DESIGN §5): the pieces that do not depend
//! on the store, built first: [`signature`] signs a body with the Standard Webhooks scheme,
//! [`retry`] says whether and when an attempt is repeated, [`ssrf`] which addresses a
//! callback may connect to, and [`http`] posts one callback through that guard.
//!
//! Not wired in yet: events are recorded in the store only (see `wit/notifier.wit`); the
//! durable outbox and the HTTP delivery come with the Callbacks issue.

pub mod http;
pub mod retry;
pub mod signature;
pub mod ssrf;
