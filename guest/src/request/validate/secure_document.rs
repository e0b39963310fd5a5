//! The Secure Document rules that tie features to attachments (DESIGN §3.3, §3.5). They are
//! the reason sealmail exists, so each is checked here, in one place, and each names the
//! fields involved.

use super::job::JobSettings;
use crate::request::model::Attachment;
use crate::request::report::{Pointer, ProblemKind, Report, WarningKind};

/// Applies the cross-field rules. `attachments` has `None` where an attachment was unreadable.
pub(crate) fn rules(r: &mut Report, root: &Pointer, job: &JobSettings, attachments: &[Option<Attachment>]) {
    let features = root.key("job").key("features");
    let active = features.key("secureDocument").key("active");
    let flagged: Vec<usize> =
        attachments.iter().enumerate().filter(|(_, a)| a.as_ref().is_some_and(|a| a.sealed)).map(|(i, _)| i).collect();
    if job.secure_active {
        // §3.5 / §6: flagged files are scanned before encryption; after it no scanner can
        // look inside. Sealing without scanning would ship unscannable payloads.
        if !job.antivirus {
            r.problem(&active, ProblemKind::RuleViolation, "Secure Document Handling requires /job/features/antivirus/active: true (attachments are scanned before they are encrypted)");
        }
        // §3.5: a signature over a message whose documents are sealed separately is not
        // something Retarus offers either.
        if job.message_signing {
            r.problem(
                &active,
                ProblemKind::RuleViolation,
                "Secure Document Handling cannot be combined with /job/features/messageSigning",
            );
        }
        if flagged.is_empty() {
            r.problem(
                &active,
                ProblemKind::RuleViolation,
                "Secure Document Handling is active but no attachment has \"secureDocument\": true",
            );
        }
    } else {
        // §3.5: never send a flagged file unencrypted because the switch was forgotten.
        for &i in &flagged {
            r.problem(
                &root.key("attachments").index(i).key("secureDocument"),
                ProblemKind::RuleViolation,
                "this attachment is flagged for sealing but /job/features/secureDocument/active is not true; it would be sent unencrypted",
            );
        }
    }
    // §3.3: a sealed file is inside the ZIP, so it cannot be referenced inline.
    for &i in &flagged {
        if attachments[i].as_ref().is_some_and(|a| a.content_id.is_some()) {
            r.warn(
                &root.key("attachments").index(i).key("contentId"),
                WarningKind::IgnoredValue,
                "ignored: this attachment is sealed into the archive, so it cannot be shown inline",
            );
        }
    }
}
