//! A deliberately hostile sealmail component, for the sandbox tests only:
//! it exports the same worlds as the real guest (`library`, and `service` with the `service`
//! feature), so the host loads it like the real one, but it misbehaves on command.
//!
//! The command is the text `sandbox-hostile:<what>` anywhere in the request bytes
//! (`validation.validate`, and `workflow.start-job` in the service world, where it can sit
//! in a request's subject that the real validator accepted). What it does then:
//!
//! - `loop`: spins forever (the CPU limit must stop it);
//! - `recurse`: recurses without end, each frame on the wasm stack (the stack limit);
//! - `recurse-frames`: recurses with a 4 KiB buffer per frame, which Rust keeps on the
//!   shadow stack in linear memory (wasm bounds checks must stop it);
//! - `grow`: allocates 1 MiB blocks until the allocator fails (the memory limit);
//! - `grow-raw`: `memory.grow` without the allocator until refused, then traps;
//! - `panic`: panics (a plain trap).
//!
//! Anything else gets a well-behaved answer: in the `library` world a fixed one, in the
//! `service` world a minimal but real workflow ([`service`]) that queues one plain message
//! per recipient block and delivers it through the host's transport, so the same server can
//! be seen delivering other jobs while one is hostile.
//!
//! Natively the crate is empty: only the wasm32-wasip2 build is a component.
#![cfg(target_arch = "wasm32")]
#![allow(unsafe_code, reason = "wit-bindgen's generated glue is the canonical ABI's exports and imports")]
#![allow(missing_docs, reason = "the generated bindings' documentation is the WIT")]

use std::hint::black_box;

#[cfg(not(feature = "service"))]
wit_bindgen::generate!({ path: "../../wit", world: "library" });
#[cfg(feature = "service")]
wit_bindgen::generate!({ path: "../../wit", world: "service" });
export!(Hostile);

#[cfg(feature = "service")]
mod service;

use exports::sealmail::mail::{archive, password, validation};

/// The marker before a command in the request bytes.
const MARKER: &[u8] = b"sandbox-hostile:";

/// Carries out the command in `request`, if any. Returns only for requests without one.
pub(crate) fn misbehave(request: &[u8]) {
    let Some(at) = request.windows(MARKER.len()).position(|w| w == MARKER) else { return };
    let rest = &request[at + MARKER.len()..];
    let word: Vec<u8> = rest.iter().copied().take_while(|b| b.is_ascii_alphanumeric() || *b == b'-').collect();
    match word.as_slice() {
        b"loop" => spin(),
        b"recurse" => {
            black_box(recurse(0));
        }
        b"recurse-frames" => {
            black_box(recurse_frames(0));
        }
        b"grow" => grow(),
        b"grow-raw" => grow_raw(),
        b"panic" => panic!("the hostile guest panics on command"),
        _ => {}
    }
}

/// Never returns. `black_box` keeps the loop body opaque, so it is a real busy loop.
fn spin() -> ! {
    let mut n = 0u64;
    loop {
        n = black_box(n.wrapping_add(1));
    }
}

/// Unbounded non-tail recursion whose frames are wasm locals only: the engine's wasm stack
/// limit (`max_wasm_stack`) is what stops it. The addition after the call keeps it from
/// becoming a loop; `black_box` keeps the depth test opaque.
fn recurse(depth: u64) -> u64 {
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(black_box(depth))
}

/// Unbounded recursion with a 4 KiB buffer per frame: the buffer's address escapes into
/// `black_box`, so it lives on the shadow stack in linear memory, which Rust places below the
/// data (`--stack-first`); running off its bottom is an out-of-bounds access.
fn recurse_frames(depth: u64) -> u64 {
    let mut frame = [0u8; 4096];
    black_box(&mut frame);
    if black_box(depth) == u64::MAX {
        return 0;
    }
    recurse_frames(depth + 1).wrapping_add(u64::from(frame[(depth % 4096) as usize]))
}

/// Allocates and touches 1 MiB blocks, keeping them all, until the allocator fails (which
/// aborts: a trap).
fn grow() -> ! {
    let mut kept: Vec<Vec<u8>> = Vec::new();
    loop {
        let block = vec![black_box(1u8); 1 << 20];
        kept.push(black_box(block));
    }
}

/// `memory.grow` by 1 MiB at a time, behind the allocator's back, until refused; then traps.
fn grow_raw() -> ! {
    const PAGES: usize = 16; // 16 × 64 KiB
    while core::arch::wasm32::memory_grow(0, PAGES) != usize::MAX {}
    core::arch::wasm32::unreachable()
}

/// The component.
struct Hostile;

impl password::Guest for Hostile {
    fn length(_strength: password::Strength) -> u32 {
        8
    }
    fn generate(_strength: password::Strength) -> String {
        "Benign23".into()
    }
}

impl validation::Guest for Hostile {
    fn default_limits() -> validation::Limits {
        validation::Limits {
            max_request_bytes: 28 << 20,
            max_message_bytes: 20_000_000,
            max_addresses: 1000,
            max_rendered_bytes: 1_000_000,
        }
    }

    /// Misbehaves on command; otherwise refuses every request with one recognisable problem.
    fn validate(
        request: Vec<u8>,
        _limits: validation::Limits,
    ) -> Result<validation::JobSummary, validation::ValidationError> {
        misbehave(&request);
        Err(validation::ValidationError::Invalid(vec![validation::Problem {
            path: String::new(),
            kind: validation::ProblemKind::Unsupported,
            message: format!("the hostile test guest read {} bytes and behaved", request.len()),
        }]))
    }
}

impl archive::Guest for Hostile {
    type Sealer = NoSealer;

    fn seal(
        _archive_name: String,
        _files: Vec<archive::File>,
        _password: String,
        _modified: archive::Timestamp,
    ) -> Result<archive::SealedArchive, archive::SealError> {
        Err(archive::SealError::Internal("the hostile test guest does not seal".into()))
    }

    fn archive_file_name(requested: String) -> String {
        misbehave(requested.as_bytes());
        "documents.zip".into()
    }
}

/// A sealer that refuses to start.
struct NoSealer;

impl archive::GuestSealer for NoSealer {
    fn create(
        _archive_name: String,
        _password: String,
        _modified: archive::Timestamp,
    ) -> Result<archive::Sealer, archive::SealError> {
        Err(archive::SealError::Internal("the hostile test guest does not seal".into()))
    }
    fn archive_name(&self) -> String {
        "documents.zip".into()
    }
    fn begin_file(&self, _name: String) -> Result<String, archive::SealError> {
        Err(archive::SealError::OutOfOrder("no sealer".into()))
    }
    fn write(&self, _chunk: Vec<u8>) -> Result<(), archive::SealError> {
        Err(archive::SealError::OutOfOrder("no sealer".into()))
    }
    fn end_file(&self) -> Result<(archive::Entry, Vec<u8>), archive::SealError> {
        Err(archive::SealError::OutOfOrder("no sealer".into()))
    }
    fn finish(&self) -> Result<Vec<u8>, archive::SealError> {
        Err(archive::SealError::OutOfOrder("no sealer".into()))
    }
}
