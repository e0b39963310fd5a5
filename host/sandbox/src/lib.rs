//! The WebAssembly sandbox: the process's one wasmtime engine ([`Sandbox`]) with its pooling
//! allocator and epoch ticker, a fresh store with memory, stack and guest-time limits for
//! every call, the compiled-component cache ([`component_cache`]), the `library` world as
//! an async Rust API ([`Library`]) and the JSON form of validation results
//! ([`validation_json`]).
//!
//! It must never let a guest take the host down: a trap or a limit hit inside the guest is a
//! [`CallError`], and nothing one call leaves behind reaches the next.

pub mod component_cache;
pub mod library;
pub mod runtime;
pub mod validation_json;

pub use library::Library;
pub use runtime::{CallError, HostFailure, RuntimeConfig, Sandbox, SandboxConfig, StoreData};
