//! What the sealer reports for each file it wrote: the entry's name, sizes and compression.
//!
//! Plain data: it must never carry file content or key material.

/// How an entry's data is stored inside the encryption (the "actual compression method" of
/// the AES extra field).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Raw DEFLATE (method 8): text and other compressible data.
    Deflate,
    /// No compression (method 0): already-compressed data, or data deflate could not shrink.
    Store,
}

/// What was written for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry name inside the archive, after sanitizing and de-duplication.
    pub name: String,
    /// The file's size in bytes.
    pub size: u64,
    /// The stored (compressed and encrypted) size in bytes, including the AES salt, password
    /// verifier and authentication code.
    pub stored_size: u64,
    /// How the data was compressed before encryption.
    pub compression: Compression,
}
