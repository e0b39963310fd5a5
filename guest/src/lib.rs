//! sealmail's policy core, compiled to a WebAssembly component (`wit/`, world `library`).
//!
//! Everything but this file is plain Rust that knows nothing about wasm and is unit-tested
//! natively: [`request`] (JobRequest model and validation), [`template`] (the FreeMarker
//! subset of Retarus templates), [`password`], [`archive`], [`mime`] (message rendering) and
//! [`workflow`] (the job workflow of the `service` world).
//! This file only declares them; `component/` is the wasm32 adapter to the WIT worlds.

pub mod archive;
#[cfg(not(target_arch = "wasm32"))]
#[doc(hidden)]
pub mod fuzzing;
pub mod mime;
pub mod password;
pub mod request;
pub mod template;
pub mod workflow;

#[cfg(target_arch = "wasm32")]
#[allow(unsafe_code, reason = "wit-bindgen's generated glue is the canonical ABI's exports and imports")]
mod component;
