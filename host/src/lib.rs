//! The sealmail host: runs the sealmail component (`wit/`, built from `guest/`) in
//! wasmtime with memory and time limits, and offers its functions to the CLI and, later,
//! the REST server. The host does I/O; every decision about requests, passwords and
//! archives is made inside the component.
#![warn(missing_docs)]

pub mod bindings;
pub mod component_cache;
pub mod library;
pub mod runtime;
pub mod validation_json;

pub use library::Library;
pub use runtime::{CallError, Runtime, RuntimeConfig};
