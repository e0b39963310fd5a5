//! `cargo fuzz run validate`: see [`sealmail_guest::fuzzing::validate_target`] for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealmail_guest::fuzzing::validate_target(data));
