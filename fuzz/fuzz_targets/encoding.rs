//! `cargo fuzz run encoding`: see [`sealmail_guest::fuzzing::encoding_target`] for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealmail_guest::fuzzing::encoding_target(data));
