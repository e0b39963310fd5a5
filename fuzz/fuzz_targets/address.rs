//! `cargo fuzz run address`: see [`sealmail_guest::fuzzing::address_target`] for the invariants.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| sealmail_guest::fuzzing::address_target(data));
