//! JobRequests: the JSON model, the validator with every field rule, and the normalized job
//! and summary it produces. Nothing here knows about WebAssembly.

pub mod address;
pub mod encoding;
pub mod json;
pub mod model;
pub mod report;
pub mod summary;
pub mod validate;

pub use report::{Problem, ProblemKind, Warning, WarningKind};
pub use validate::{Limits, Validated, validate};
