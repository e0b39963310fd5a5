//! The job summary: what a valid request will make sealmail do, in the shape of
//! `job-summary` in `wit/validation.wit`. Used by the CLI, the preview page and the parity
//! test (native and component must produce the same summary).

use serde::{Serialize, Serializer};

use super::address::Mailbox;
use super::model::Endpoint;
use super::report::Warning;
use super::validate::Validated;
use crate::password::PasswordStrength;

/// See `job-summary` in the WIT.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[expect(missing_docs, reason = "every field is documented in the WIT (`wit/validation.wit`)")]
pub struct JobSummary {
    pub sender: Mailbox,
    pub header_from: Mailbox,
    pub subject: String,
    pub body_content_type: String,
    pub messages: Vec<MessagePlan>,
    pub envelope_recipient_count: u32,
    pub attachments: Vec<AttachmentPlan>,
    pub secure_document: Option<SecureDocumentPlan>,
    pub antivirus: bool,
    /// Shown without header values or credentials (see [`callback_json`]).
    #[serde(serialize_with = "callback_json")]
    pub callback: Option<Endpoint>,
    pub reference_job: Option<String>,
    pub cost_center: Option<String>,
    pub campaign_id: Option<String>,
    pub estimated_message_bytes: u64,
    pub warnings: Vec<Warning>,
}

/// See `message-plan` in the WIT.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[expect(missing_docs, reason = "every field is documented in the WIT (`wit/validation.wit`)")]
pub struct MessagePlan {
    pub block: u32,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub bcc: Vec<Mailbox>,
    pub envelope_recipients: Vec<String>,
    pub reference: Option<String>,
}

/// See `attachment-plan` in the WIT.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[expect(missing_docs, reason = "every field is documented in the WIT (`wit/validation.wit`)")]
pub struct AttachmentPlan {
    pub index: u32,
    pub name: String,
    pub content_type: String,
    pub size: u64,
    pub sealed: bool,
}

/// See `secure-document-plan` in the WIT.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[expect(missing_docs, reason = "every field is documented in the WIT (`wit/validation.wit`)")]
pub struct SecureDocumentPlan {
    pub archive_name: String,
    pub strength: PasswordStrength,
    pub subject_prefix: String,
    pub password_mail_subject: String,
}

impl JobSummary {
    /// Summarizes a validated request.
    pub fn new(v: &Validated) -> Self {
        let job = &v.job;
        let messages: Vec<MessagePlan> = job
            .blocks
            .iter()
            .enumerate()
            .map(|(i, b)| MessagePlan {
                block: i as u32,
                to: b.to.clone(),
                cc: b.cc.clone(),
                bcc: b.bcc.clone(),
                envelope_recipients: b.envelope_recipients(),
                reference: b.reference.clone(),
            })
            .collect();
        JobSummary {
            sender: job.sender.clone(),
            header_from: job.header_from.clone(),
            subject: job.subject.text.clone(),
            body_content_type: job.body.content_type.mime().to_owned(),
            envelope_recipient_count: messages.iter().map(|m| m.envelope_recipients.len() as u32).sum(),
            messages,
            attachments: job
                .attachments
                .iter()
                .enumerate()
                .map(|(i, a)| AttachmentPlan {
                    index: i as u32,
                    name: a.name.clone(),
                    content_type: a.content_type.clone(),
                    size: a.content.len() as u64,
                    sealed: a.sealed,
                })
                .collect(),
            secure_document: job.secure_document.as_ref().map(|s| SecureDocumentPlan {
                archive_name: s.archive_name.clone(),
                strength: s.strength,
                subject_prefix: s.subject_prefix.clone(),
                // The password mail's subject: the prefix and the original subject, decoded and trimmed
                // (docs/secure-documents.md#the-password-mail).
                password_mail_subject: format!("{}{}", s.subject_prefix, job.subject.text.trim()),
            }),
            antivirus: job.antivirus,
            callback: job.callback.clone(),
            reference_job: job.reference_job.clone(),
            cost_center: job.cost_center.clone(),
            campaign_id: job.campaign_id.clone(),
            estimated_message_bytes: v.estimated_message_bytes,
            warnings: v.warnings.clone(),
        }
    }
}

/// The callback endpoint as a summary shows it: the URL, the header names and the
/// authentication method. Header values and credentials are the customer's secrets (API
/// keys, passwords) and never leave the host in a summary.
fn callback_json<S: Serializer>(endpoint: &Option<Endpoint>, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Shown<'a> {
        url: &'a str,
        headers: Vec<&'a str>,
        authentication: Option<&'static str>,
    }
    endpoint
        .as_ref()
        .map(|e| Shown {
            url: &e.url,
            headers: e.headers.iter().map(|(name, _)| name.as_str()).collect(),
            authentication: e.basic_auth.as_ref().map(|_| "BASIC"),
        })
        .serialize(s)
}
