//! `cargo fuzz run mime`: see [`sealmail_guest::fuzzing::mime_target`] for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealmail_guest::fuzzing::mime_target(data));
