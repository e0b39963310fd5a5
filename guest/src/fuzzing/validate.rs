//! The `validate` target: JobRequest bytes through [`crate::request::validate`] with the
//! default limits.

use crate::request::address::check_address;
use crate::request::model::{HeaderOptions, Job};
use crate::request::{Limits, Problem, ProblemKind, Warning, validate};

/// Validates `data` (any bytes) and checks:
///
/// - the validator returns (no panic, no hang: libFuzzer's `-timeout` catches the latter)
///   and gives the same answer twice (it is a pure function);
/// - a refusal lists at least one problem; every problem and warning has a message and a
///   path that is an RFC 6901 JSON Pointer (`""` or `/…`, `~` only as `~0`/`~1`) and, when
///   the request is JSON without duplicate keys, resolves in it (except for `missing`);
/// - an accepted job holds only what the validator promises the renderer: addresses that
///   pass [`check_address`], display names and header values without CR, LF or NUL, a
///   subject without line breaks (unless it is a template, rendered later), and at least
///   one recipient per block.
pub fn validate_target(data: &[u8]) {
    let limits = Limits::default();
    let first = validate(data, &limits);
    assert_eq!(first, validate(data, &limits), "validation is not deterministic");
    // For JSON that serde_json reads too: the document to resolve pointers in.
    let bom = "\u{feff}".as_bytes();
    let doc: Option<serde_json::Value> = serde_json::from_slice(data.strip_prefix(bom).unwrap_or(data)).ok();
    match first {
        Err(problems) => {
            assert!(!problems.is_empty(), "refused without a problem");
            // With duplicate keys serde_json keeps another value than the validator reads.
            let doc = doc.filter(|_| !problems.iter().any(|p| p.kind == ProblemKind::DuplicateKey));
            for Problem { path, message, kind } in &problems {
                check_pointer(path);
                assert!(!message.trim().is_empty(), "problem at {path:?} without a message");
                if let Some(doc) = &doc
                    && *kind != ProblemKind::Missing
                {
                    assert!(doc.pointer(path).is_some(), "{kind:?} at {path:?}, which is not in the request");
                }
            }
        }
        Ok(validated) => {
            for Warning { path, message, .. } in &validated.warnings {
                check_pointer(path);
                assert!(!message.trim().is_empty(), "warning at {path:?} without a message");
                if let Some(doc) = &doc {
                    assert!(doc.pointer(path).is_some(), "warning at {path:?}, which is not in the request");
                }
            }
            check_job(&validated.job);
        }
    }
}

/// Panics unless `path` is an RFC 6901 §3 JSON Pointer.
pub(crate) fn check_pointer(path: &str) {
    assert!(path.is_empty() || path.starts_with('/'), "not a JSON Pointer: {path:?}");
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            assert!(matches!(chars.next(), Some('0' | '1')), "bad escape in JSON Pointer {path:?}");
        }
    }
}

/// Panics when the job holds something the renderer must never be handed.
pub(crate) fn check_job(job: &Job) {
    let header_safe = |what: &str, s: &str| assert!(!s.contains(['\r', '\n', '\0']), "{what} carries CR/LF/NUL: {s:?}");
    let mailbox = |what: &str, m: &crate::request::address::Mailbox| {
        assert_eq!(check_address(&m.address), Ok(()), "{what} address {:?} does not check", m.address);
        header_safe(what, &m.address);
        if let Some(name) = &m.name {
            assert!(!name.chars().any(char::is_control), "{what} display name has a control character: {name:?}");
        }
    };
    let options = |h: &HeaderOptions| {
        if let Some(m) = &h.reply_to {
            mailbox("replyTo", m);
        }
        for v in [&h.in_reply_to, &h.list_unsubscribe].into_iter().flatten() {
            header_safe("header option", v);
        }
        for (name, value) in &h.x_headers {
            header_safe("xHeader name", name);
            header_safe("xHeader value", value);
        }
    };
    mailbox("from", &job.sender);
    mailbox("mimeFrom", &job.header_from);
    options(&job.headers);
    if job.subject.template.is_none() {
        header_safe("subject", &job.subject.text);
    }
    assert!(!job.blocks.is_empty(), "accepted without recipient blocks");
    for block in &job.blocks {
        assert!(!block.envelope_recipients().is_empty(), "a block without recipients");
        for m in block.to.iter().chain(&block.cc).chain(&block.bcc) {
            mailbox("recipient", m);
        }
        options(&block.headers);
    }
    for a in &job.attachments {
        header_safe("attachment name", &a.name);
        header_safe("attachment contentType", &a.content_type);
        if let Some(id) = &a.content_id {
            header_safe("contentId", id);
        }
    }
}
