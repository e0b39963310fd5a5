//! Fuzz harnesses: one function per fuzz target, each taking the raw bytes libFuzzer (or
//! the stable replay in `guest/tests/fuzz_replay.rs`) hands it and panicking when an
//! invariant fails. The `cargo fuzz` targets in `fuzz/fuzz_targets/` are one-line calls
//! into this module, so the nightly fuzzer and the stable test suite run identical code
//! (`docs/fuzzing.md`).
//!
//! Each harness checks more than "does not panic": see [`validate_target`],
//! [`template_target`], [`mime_target`], [`address_target`] and [`encoding_target`] for the
//! invariants. A panic here is a finding; the input that caused it belongs in
//! `fuzz/regressions/<target>/` once fixed.
//!
//! Not part of the component (native builds only) and not a stable API.

mod address;
mod encoding;
mod input;
mod mime;
mod template;
mod validate;
mod wire;

pub use address::address_target;
pub use encoding::encoding_target;
pub use mime::{mime_request, mime_target};
pub use template::template_target;
pub use validate::validate_target;

/// A harness: panics when `data` breaks an invariant.
pub type Harness = fn(data: &[u8]);

/// The targets by name, as `fuzz/fuzz_targets/` and `fuzz/corpus/` name them.
pub const TARGETS: [(&str, Harness); 5] = [
    ("validate", validate_target),
    ("template", template_target),
    ("mime", mime_target),
    ("address", address_target),
    ("encoding", encoding_target),
];
