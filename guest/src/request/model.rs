//! A validated JobRequest, normalized: defaults applied, content decoded, addresses parsed.
//! Only the validator builds these, so holding one means every field rule has passed.

use serde::Serialize;

use crate::password::PasswordStrength;
use crate::request::address::Mailbox;
use crate::template::Template;

/// A JobRequest that passed validation.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// Envelope sender (`mail.from`).
    pub sender: Mailbox,
    /// `From` header (`mail.mimeFrom`, else `mail.from`).
    pub header_from: Mailbox,
    /// Job-level header options.
    pub headers: HeaderOptions,
    /// Decoded subject.
    pub subject: Text,
    /// The message body: its type and decoded text.
    pub body: Body,
    /// The plain-text alternative of an HTML body.
    pub alternative: Option<Text>,
    /// Attachments in request order.
    pub attachments: Vec<Attachment>,
    /// One entry per recipient block = one message each.
    pub blocks: Vec<RecipientBlock>,
    /// `job.referenceJob`, `costCenter`, `campaignId`, echoed in callbacks.
    pub reference_job: Option<String>,
    /// `job.costCenter`.
    pub cost_center: Option<String>,
    /// `job.campaignId`.
    pub campaign_id: Option<String>,
    /// `job.features.antivirus.active`.
    pub antivirus: bool,
    /// Secure Document Handling, when active.
    pub secure_document: Option<SecureDocument>,
    /// The request's callback endpoint, if it gave one.
    pub callback: Option<Endpoint>,
}

/// Decoded text with the details of how it should be sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Text {
    /// The text (decoded from `contentEncoding` and `charset`).
    pub text: String,
    /// The requested `contentTransferEncoding`, lower case, if any.
    pub transfer_encoding: Option<String>,
    /// With `job.features.templating.active` and a `template`: the parsed template, to be
    /// rendered per recipient block (`text` then holds its decoded source, never to be sent
    /// as is). Not serialized: a template is only ever consumed as parsed here.
    #[serde(skip)]
    pub template: Option<Template>,
}

/// The body's MIME type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum BodyType {
    /// `text/plain`
    #[serde(rename = "text/plain")]
    Plain,
    /// `text/html`
    #[serde(rename = "text/html")]
    Html,
}

impl BodyType {
    /// The MIME type.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Plain => "text/plain",
            Self::Html => "text/html",
        }
    }
}

/// The message body (`body` of the request): its type and decoded text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    /// Plain or HTML.
    pub content_type: BodyType,
    /// The decoded text, in its charset as Unicode.
    pub content: Text,
}

/// One attachment, decoded.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// The name as given.
    pub name: String,
    /// The MIME type (default `application/octet-stream`).
    pub content_type: String,
    /// The `Content-ID` for inline use; always `None` on sealed attachments.
    pub content_id: Option<String>,
    /// The decoded bytes.
    #[serde(skip)]
    pub content: Vec<u8>,
    /// Goes into the encrypted archive.
    pub sealed: bool,
}

/// `xHeaders`, priority and friends (job level, or a block's overrides).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderOptions {
    /// `replyTo`.
    pub reply_to: Option<Mailbox>,
    /// `inReplyTo` (a Message-ID).
    pub in_reply_to: Option<String>,
    /// `priority`.
    pub priority: Option<Priority>,
    /// `listUnsubscribe` (a mailto: or https: URI).
    pub list_unsubscribe: Option<String>,
    /// `xHeaders`, in request order.
    pub x_headers: Vec<(String, String)>,
}

/// `priority` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Priority {
    /// `X-Priority: 1`, `Importance: high`.
    High,
    /// `X-Priority: 3`, `Importance: normal`.
    Normal,
    /// `X-Priority: 5`, `Importance: low`.
    Low,
}

/// One recipient block: one message whose to/cc see each other and whose bcc do not.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RecipientBlock {
    /// `To`.
    pub to: Vec<Mailbox>,
    /// `Cc`.
    pub cc: Vec<Mailbox>,
    /// `Bcc` (envelope only).
    pub bcc: Vec<Mailbox>,
    /// Overrides of the job-level header options.
    pub headers: HeaderOptions,
    /// `reference`, echoed in status and callbacks.
    pub reference: Option<String>,
    /// `features.templating.personalization`: the values a template is rendered with.
    pub personalization: Vec<(String, String)>,
}

impl RecipientBlock {
    /// The envelope recipients (to, cc, bcc), each address once, in that order.
    pub fn envelope_recipients(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for m in self.to.iter().chain(&self.cc).chain(&self.bcc) {
            if !out.iter().any(|a| a.eq_ignore_ascii_case(&m.address)) {
                out.push(m.address.clone());
            }
        }
        out
    }
}

/// Secure Document Handling settings with defaults applied (docs/secure-documents.md#settings).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecureDocument {
    /// The archive file name (ends in `.zip`).
    pub archive_name: String,
    /// The password mail's subject prefix.
    pub subject_prefix: String,
    /// The password strength.
    pub strength: PasswordStrength,
}

/// A callback endpoint (`notification.endPoint`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    /// http or https URL.
    pub url: String,
    /// Extra HTTP headers.
    pub headers: Vec<(String, String)>,
    /// BASIC credentials.
    #[serde(skip)]
    pub basic_auth: Option<(String, String)>,
}
