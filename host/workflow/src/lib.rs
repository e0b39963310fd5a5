//! The `service` world on the host: the workflow component linked with the host's
//! capabilities ([`runtime`], [`capabilities`]), the worker pool that claims due work and
//! commits what the workflow decided ([`pool`]), the recorder of bounces reported after
//! delivery ([`late_bounce`]), the retention purge ([`purge`]), and their configuration
//! ([`config`]).
//!
//! It executes and remembers; it never decides what to send, to whom or when: that is the
//! component's.

pub mod capabilities;
pub mod config;
pub mod late_bounce;
pub mod pool;
pub mod purge;
pub mod runtime;
mod suppress;
