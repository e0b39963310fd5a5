//! Why sealing failed. Every case is a caller mistake and names what was wrong; none depends
//! on file content, so an error never leaks it.

/// Why sealing failed. All cases are caller mistakes; none depends on file content.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SealError {
    /// The password is empty or longer than [`MAX_PASSWORD_BYTES`](super::MAX_PASSWORD_BYTES).
    #[error("the archive password must be 1 to 128 bytes long")]
    InvalidPassword,
    /// The timestamp is outside the MS-DOS range or not a real date/time; the text names the
    /// field.
    #[error("invalid archive timestamp: {0}")]
    InvalidTimestamp(String),
    /// The archive has no files.
    #[error("an archive needs at least one file")]
    NoFiles,
    /// A file (the text is its entry name) is larger than a ZIP entry without ZIP64 can hold,
    /// or would push the archive past the 4 GiB offsets a ZIP without ZIP64 can address.
    #[error("file {0:?} is too large: without ZIP64 a file and the whole archive must stay below 4 GiB")]
    FileTooLarge(String),
    /// More files than the 65,535 entries a ZIP without ZIP64 can hold.
    #[error("too many files: a ZIP archive without ZIP64 holds at most 65,535")]
    TooManyFiles,
    /// A [`Sealer`] method was called out of order; the text says what was expected.
    #[error("sealer call out of order: {0}")]
    OutOfOrder(String),
    /// A bug: an encoder failure that no input can cause. The sealer is unusable after it.
    #[error("internal error in the sealer, please report: {0}")]
    Internal(String),
}
