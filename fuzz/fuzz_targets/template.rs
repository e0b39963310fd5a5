//! `cargo fuzz run template`: see [`sealmail_guest::fuzzing::template_target`] for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealmail_guest::fuzzing::template_target(data));
