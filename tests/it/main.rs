//! The system tests, in one test binary (one link of wasmtime instead of one per file): the
//! real `sealmail` binary and the component from outside, against real neighbours
//! (`sealmail-test-support`) and tools we did not write. One module per concern; each says
//! what it proves.
//!
//! The modules share one process: no test may set environment variables, change the working
//! directory or rely on being alone. Ports come from `sealmail_test_support::free_port`, which
//! never hands out one twice; the shared pieces (the component runtime of
//! `sealmail_tests::library`, the PostgreSQL cluster) are made for concurrent tests.
//!
//! `cargo xtask test` runs the store-exercising modules a second time on PostgreSQL
//! (`SEALMAIL_TEST_DATABASE=postgres`, xtask's `POSTGRES_PASS`), selecting them by module
//! path.

mod api;
mod api_tls;
mod archive_interop;
mod auth_throttle;
mod callbacks;
mod dkim;
mod durability;
mod faults;
mod fidelity;
mod guest_time;
mod harness_selftest;
mod hostile;
mod hostile_slow;
mod isolation;
mod key_rotation;
mod late_bounce;
mod mx_delivery;
mod node_embedding;
mod observability;
mod openapi;
mod parity;
mod pipeline;
mod preview_browser;
mod relay_tls;
mod retention;
mod sandbox;
mod sandbox_hostile;
mod scale_out;
mod scale_out_admission;
mod secrets;
mod store_postgres;
mod suppression;
mod upgrade;
