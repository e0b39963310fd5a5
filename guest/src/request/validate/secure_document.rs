//! The Secure Document rules that tie features to attachments
//! (docs/secure-documents.md#requests-that-are-refused). They are the reason sealmail exists,
//! so each is checked here, in one place, and each names the fields involved.
//!
//! A rule is applied only to switches and flags that could be read: when `active` or a flag
//! is itself refused, that problem is reported where it is, and no rule guesses its value.

use super::attachments::AttachmentRead;
use super::job::JobSettings;
use crate::request::report::{Pointer, ProblemKind, Report, WarningKind};

/// Applies the cross-field rules.
pub(crate) fn rules(r: &mut Report, root: &Pointer, job: &JobSettings, attachments: &[AttachmentRead]) {
    let active = root.key("job").key("features").key("secureDocument").key("active");
    let flagged = || attachments.iter().enumerate().filter(|(_, a)| a.flagged == Some(true)).map(|(i, _)| i);
    match job.secure_active {
        Some(true) => {
            // Flagged files are scanned before encryption (docs/service.md#virus-scanning): after
            // it no scanner can look inside. Sealing without scanning would ship unscannable
            // payloads.
            if job.antivirus == Some(false) {
                r.problem(
                    &active,
                    ProblemKind::RuleViolation,
                    "Secure Document Handling requires /job/features/antivirus/active: true (attachments are scanned before they are encrypted)",
                );
            }
            // A signature over a message whose documents are sealed separately is not
            // something Retarus offers either.
            if job.message_signing == Some(true) {
                r.problem(
                    &active,
                    ProblemKind::RuleViolation,
                    "Secure Document Handling cannot be combined with /job/features/messageSigning",
                );
            }
            // Nothing to seal is a mistake in the request, not a reason to send a
            // password mail for an empty archive. An unreadable flag might have been `true`.
            if flagged().next().is_none() && attachments.iter().all(|a| a.flagged.is_some()) {
                r.problem(
                    &active,
                    ProblemKind::RuleViolation,
                    "Secure Document Handling is active but no attachment has \"secureDocument\": true",
                );
            }
        }
        Some(false) => {
            // Never send a flagged file unencrypted because the switch was forgotten.
            for i in flagged() {
                r.problem(
                    &root.key("attachments").index(i).key("secureDocument"),
                    ProblemKind::RuleViolation,
                    "this attachment is flagged for sealing but /job/features/secureDocument/active is not true; it would be sent unencrypted",
                );
            }
        }
        None => {}
    }
    // A sealed file is inside the ZIP, so it cannot be referenced inline.
    for i in flagged() {
        if attachments[i].attachment.as_ref().is_some_and(|a| a.content_id.is_some()) {
            r.warn(
                &root.key("attachments").index(i).key("contentId"),
                WarningKind::IgnoredValue,
                "ignored: this attachment is sealed into the archive, so it cannot be shown inline",
            );
        }
    }
}
