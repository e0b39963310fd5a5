//! Sealing benchmark (written next).
fn main() {}
