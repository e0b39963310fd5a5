//! The host's side of the `service` world's imports: one module per imported WIT interface,
//! each implementing its generated `Host` trait on the call's store data
//! ([`crate::runtime::CallData`]). `delivery` and `notifier` only buffer what the call asks
//! for; the caller commits it with the call's result. Time spent waiting here is host time,
//! given back to the guest's budget.

mod antivirus;
mod clock;
mod delivery;
mod notifier;
mod transport;
