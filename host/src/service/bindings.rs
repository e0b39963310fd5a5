//! Host bindings of the `service` world (`wit/world.wit`): the workflow exports and the
//! imports the host implements (one module per interface beside this one). Imports are
//! async: they wait on SMTP, clamd and the store, and that wait is not guest time.
// Generated code: its documentation is the WIT itself.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "service",
    imports: { default: async },
    exports: { default: async },
});

pub use self::exports::sealmail::mail::workflow;
pub use self::sealmail::mail::{antivirus, clock, delivery, notifier, transport};
