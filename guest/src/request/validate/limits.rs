//! Length and count limits of JobRequest fields, each with its reason. The size limits a
//! host may change are in [`crate::request::Limits`].

/// Retarus: the subject is at most 500 characters after decoding.
pub const MAX_SUBJECT_CHARS: usize = 500;
/// RFC 5322 §2.1.1: a header line is at most 998 characters; a value must fit in one.
pub const MAX_HEADER_VALUE_CHARS: usize = 998;
/// File names: 255 is the common file-system limit (ext4, NTFS, APFS).
pub const MAX_NAME_CHARS: usize = 255;
/// Identifiers echoed in callbacks (`referenceJob`, `costCenter`, `campaignId`, `reference`).
pub const MAX_REFERENCE_CHARS: usize = 255;
/// The password mail's subject prefix: it shares the 500-character subject budget.
pub const MAX_SUBJECT_PREFIX_CHARS: usize = 100;
/// Retarus: the callback URL is at most 1,000 characters.
pub const MAX_CALLBACK_URL_CHARS: usize = 1000;
/// Retarus: the callback's custom headers are at most 1,000 characters in total.
pub const MAX_CALLBACK_HEADER_CHARS: usize = 1000;
/// Callback credentials (RFC 7617 puts no limit; this keeps the header short).
pub const MAX_CREDENTIAL_CHARS: usize = 255;
/// `xHeaders` per object: generous for real use, small enough to keep headers readable.
pub const MAX_X_HEADERS: usize = 50;
/// Personalization variables per block.
pub const MAX_PERSONALIZATION_KEYS: usize = 200;
/// Retarus: a templated job has at most 100 recipients (to, cc and bcc of all blocks).
pub const MAX_TEMPLATED_RECIPIENTS: usize = 100;
