//! The one place that generates host bindings from `wit/` (world `library`). Every export
//! is called asynchronously, so later worlds with async host imports share one engine
//! configuration.
// Generated code: its documentation is the WIT itself.
#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "library",
    exports: { default: async },
});

pub use exports::sealmail::mail::{archive, password, validation};
