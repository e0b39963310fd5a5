//! What every host crate shares: the WIT bindings of both worlds ([`bindings`]), the names
//! and codes of their enums derived from the WIT ([`vocabulary`]), the clock and timestamp
//! format ([`clock`]), and the node's metrics ([`metrics`]).
//!
//! This crate holds vocabulary, not behaviour: it performs no I/O and makes no decision.

pub mod bindings;
pub mod clock;
pub mod metrics;
pub mod vocabulary;
