//! The sealmail host: runs the sealmail components (`wit/`, built from `guest/`) in
//! wasmtime with memory and time limits, and provides what they cannot do themselves:
//! the REST API ([`api`]), the job store ([`store`]), the workers ([`worker`]), SMTP
//! ([`transport`]), virus scanning ([`antivirus`]) and configuration ([`config`]). Every
//! decision about requests, passwords, archives, messages and the delivery workflow is
//! made inside the components ([`library`], [`service`]).
#![warn(missing_docs)]

pub mod accounts;
pub mod antivirus;
pub mod api;
pub mod bindings;
pub mod bounces;
pub mod callbacks;
pub mod component_cache;
pub mod config;
pub mod dkim;
pub mod insecure;
pub mod library;
pub mod metrics;
pub mod retention;
pub mod runtime;
pub mod server;
pub mod service;
pub mod store;
pub mod transport;
pub mod validation_json;
pub mod worker;

pub use library::Library;
pub use runtime::{CallError, Runtime, RuntimeConfig};
