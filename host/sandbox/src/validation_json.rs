//! The JSON form of validation results, as printed by `sealmail validate --json` (and
//! compared with the browser's by `web/tests/node-embedding.mjs`, byte for byte). Field
//! names are camelCase like the JobRequest itself; kinds are the WIT case names
//! (`invalid-address`, `ignored-key`) and strengths the request format's (`very_high`), all
//! from [`sealmail_core::vocabulary`]: this module writes no name of its own. The REST API's
//! `400` and `202` bodies are typed (`sealmail_api::openapi::responses`) and checked against
//! [`problem`] and [`warning`] by its tests.

use serde_json::{Value, json};

use crate::library::{JobSummary, Problem, ProblemKind, Warning, WarningKind};
use sealmail_core::bindings::{password::Strength, validation::Mailbox};
use sealmail_core::vocabulary::WitEnum;

/// The WIT name of a problem kind (`invalid-address`), from the WIT ([`WitEnum::wit_name`]).
pub fn problem_kind_name(k: ProblemKind) -> &'static str {
    k.wit_name()
}

/// The WIT name of a warning kind (`ignored-key`), from the WIT ([`WitEnum::wit_name`]).
pub fn warning_kind_name(k: WarningKind) -> &'static str {
    k.wit_name()
}

/// The request-format name of a strength (`very_high`), from the WIT
/// ([`WitEnum::snake_name`]).
pub fn strength_name(s: Strength) -> &'static str {
    s.snake_name()
}

fn mailbox(m: &Mailbox) -> Value {
    json!({ "name": m.name, "address": m.address })
}

/// A problem as JSON.
pub fn problem(p: &Problem) -> Value {
    json!({ "path": p.path, "kind": problem_kind_name(p.kind), "message": p.message })
}

/// A warning as JSON.
pub fn warning(w: &Warning) -> Value {
    json!({ "path": w.path, "kind": warning_kind_name(w.kind), "message": w.message })
}

/// A job summary as JSON.
pub fn summary(s: &JobSummary) -> Value {
    json!({
        "sender": mailbox(&s.sender),
        "headerFrom": mailbox(&s.header_from),
        "subject": s.subject,
        "bodyContentType": s.body_content_type,
        "messages": s.messages.iter().map(|m| json!({
            "block": m.block,
            "to": m.to.iter().map(mailbox).collect::<Vec<_>>(),
            "cc": m.cc.iter().map(mailbox).collect::<Vec<_>>(),
            "bcc": m.bcc.iter().map(mailbox).collect::<Vec<_>>(),
            "envelopeRecipients": m.envelope_recipients,
            "reference": m.reference,
        })).collect::<Vec<_>>(),
        "envelopeRecipientCount": s.envelope_recipient_count,
        "attachments": s.attachments.iter().map(|a| json!({
            "index": a.index, "name": a.name, "contentType": a.content_type, "size": a.size, "sealed": a.sealed,
        })).collect::<Vec<_>>(),
        "secureDocument": s.secure_document.as_ref().map(|d| json!({
            "archiveName": d.archive_name,
            "strength": strength_name(d.strength),
            "subjectPrefix": d.subject_prefix,
            "passwordMailSubject": d.password_mail_subject,
        })),
        "antivirus": s.antivirus,
        // Header values and credentials are the customer's secrets: names and method only
        // (as the component's own summary shows them).
        "callback": s.callback.as_ref().map(|e| json!({
            "url": e.url,
            "headers": e.headers.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            "authentication": e.basic_auth.as_ref().map(|_| "BASIC"),
        })),
        "referenceJob": s.reference_job,
        "costCenter": s.cost_center,
        "campaignId": s.campaign_id,
        "estimatedMessageBytes": s.estimated_message_bytes,
        "warnings": s.warnings.iter().map(warning).collect::<Vec<_>>(),
    })
}

/// A validation outcome as the JSON document `validate --json` prints:
/// `{"valid": true, "summary": {…}}` or `{"valid": false, "problems": […]}`.
pub fn outcome(result: &Result<JobSummary, Vec<Problem>>) -> Value {
    match result {
        Ok(s) => json!({ "valid": true, "summary": summary(s) }),
        Err(problems) => json!({ "valid": false, "problems": problems.iter().map(problem).collect::<Vec<_>>() }),
    }
}
