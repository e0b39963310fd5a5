//! The JobRequest (the Retarus Transactional Email request format) as sealmail accepts it,
//! written as schema types for the OpenAPI document, and the samples that serve as its
//! examples.
//!
//! These types are never deserialized: the validator in the component
//! (`guest/src/request/validate/`) is the only judge of a request, and `docs/validation.md`
//! lists every rule with its problem kind. The schema describes the fields, their types and
//! their simple limits; rules that span fields (Secure Document Handling needs antivirus, a
//! flagged attachment needs the feature) are in the descriptions. Keys sealmail does not know
//! are accepted with an `ignored-key` warning, so no object here forbids other properties.

use std::collections::BTreeMap;

use serde_json::Value;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use sealmail_core::bindings::password::Strength;
use sealmail_core::vocabulary::WitEnum;

/// A JobRequest: one mail, sent as one message per recipient block. A present key must
/// carry a value (`null` and blank strings are refused); unknown keys are accepted with an
/// `ignored-key` warning.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobRequest {
    /// Job-wide settings: references echoed in callbacks, and the features.
    #[schema(nullable = false)]
    pub job: Option<Job>,
    /// The sender and the headers of every message.
    pub mail: Mail,
    /// The subject: literal or a template, optionally encoded.
    pub subject: Subject,
    /// The body (optional, as with Retarus).
    #[schema(nullable = false)]
    pub body: Option<Body>,
    /// The plain-text alternative of an HTML body (ignored, with a warning, with a
    /// `text/plain` body).
    #[schema(nullable = false)]
    pub alternative: Option<Alternative>,
    /// The attachments, in the order they are attached.
    #[schema(nullable = false)]
    pub attachments: Option<Vec<Attachment>>,
    /// The recipient blocks: each becomes one message. At most 1,000 addresses (to + cc +
    /// bcc) in all.
    #[schema(min_items = 1)]
    pub recipients: Vec<RecipientBlock>,
    /// Where the job's events are pushed (callbacks; `docs/callbacks.md`).
    #[schema(nullable = false)]
    pub notification: Option<Notification>,
}

/// `/job`: references and features.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    /// The caller's reference for the job, echoed in callbacks (one line, at most 255
    /// characters).
    #[schema(nullable = false, max_length = 255)]
    pub reference_job: Option<String>,
    /// A cost center, echoed in callbacks (one line, at most 255 characters).
    #[schema(nullable = false, max_length = 255)]
    pub cost_center: Option<String>,
    /// A campaign id, echoed in callbacks (one line, at most 255 characters).
    #[schema(nullable = false, max_length = 255)]
    pub campaign_id: Option<String>,
    /// The features of the job.
    #[schema(nullable = false)]
    pub features: Option<JobFeatures>,
    /// Retarus job options: accepted and ignored (warning `ignored-key`).
    #[schema(nullable = false)]
    pub options: Option<Value>,
}

/// `/job/features`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobFeatures {
    /// Scan every attachment for viruses before anything is sent (a job with a virus is
    /// dropped whole: `VIRUS_DETECTED`). The server must have a scanner configured, else the
    /// request is a `400` at `/job/features/antivirus/active` (kind `unsupported`).
    #[schema(nullable = false)]
    pub antivirus: Option<Feature>,
    /// Secure Document Handling: the flagged attachments go into one AES-256 ZIP, and the
    /// password follows in a separate mail after the original was delivered. Requires
    /// `antivirus.active: true` and at least one flagged attachment; cannot be combined with
    /// `messageSigning`.
    #[schema(nullable = false)]
    pub secure_document: Option<SecureDocument>,
    /// Templating: `subject`, `body` and `alternative` may give a `template` (a FreeMarker
    /// subset), rendered per recipient block with `recipients[].features.templating.personalization`
    /// (HTML bodies auto-escaped); `active: true` without templates is accepted with a warning.
    #[schema(nullable = false)]
    pub templating: Option<Feature>,
    /// S/MIME signing: `active: true` is refused (kind `unsupported`).
    #[schema(nullable = false)]
    pub message_signing: Option<Feature>,
    /// Accepted and ignored (warning `ignored-key`).
    #[schema(nullable = false)]
    pub open_tracking: Option<Value>,
    /// Accepted and ignored (warning `ignored-key`).
    #[schema(nullable = false)]
    pub link_tracking: Option<Value>,
}

/// A feature switch.
#[derive(ToSchema)]
pub struct Feature {
    /// Whether the feature is on.
    pub active: bool,
}

/// `/job/features/secureDocument`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecureDocument {
    /// Whether Secure Document Handling is on (`false` is the same as leaving it out).
    pub active: bool,
    /// The archive's file name: sanitized like a ZIP entry name, `.zip` appended when
    /// missing. Default `documents.zip`.
    #[schema(nullable = false, max_length = 255, example = "Rechnung-November")]
    pub filename: Option<String>,
    /// The password mail's subject prefix (one line, at most 100 characters). Default
    /// `Password for: `.
    #[schema(nullable = false, max_length = 100)]
    pub subject_prefix: Option<String>,
    /// The password's strength.
    #[schema(nullable = false)]
    pub password: Option<PasswordSettings>,
}

/// `/job/features/secureDocument/password`.
#[derive(ToSchema)]
pub struct PasswordSettings {
    /// The strength. Default `very_high`.
    #[serde(rename = "type")]
    #[schema(nullable = false)]
    pub strength: Option<PasswordStrength>,
}

/// Password strengths: the cases of `strength` in `wit/password.wit` by their request-format
/// names, and `strong`, Retarus' name that sealmail reads as `very_high` (warning `alias`).
pub struct PasswordStrength;

impl PasswordStrength {
    /// The alias, and what it is read as.
    const ALIAS: (&str, Strength) = ("strong", Strength::VeryHigh);
}

impl utoipa::PartialSchema for PasswordStrength {
    fn schema() -> RefOr<Schema> {
        let (alias, read_as) = Self::ALIAS;
        let names: Vec<&str> = Strength::CASES.iter().map(|c| c.snake).chain([alias]).collect();
        let cases: Vec<String> = Strength::CASES.iter().map(|c| format!("`{}`: {}", c.snake, c.docs)).collect();
        let description = format!(
            "{} {} `{alias}`: read as `{}` (warning `alias`).",
            Strength::DOCS,
            cases.join(" "),
            read_as.snake_name()
        );
        ObjectBuilder::new().schema_type(Type::String).enum_values(Some(names)).description(Some(description)).into()
    }
}

impl ToSchema for PasswordStrength {}

/// `/mail`: the sender and the headers of every message.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Mail {
    /// The envelope sender (and the `From` header unless `mimeFrom` is given).
    pub from: Address,
    /// The `From` header, when it differs from the envelope sender.
    #[schema(nullable = false)]
    pub mime_from: Option<Address>,
    /// The `Reply-To` header.
    #[schema(nullable = false)]
    pub reply_to: Option<Address>,
    /// `In-Reply-To`: a Message-ID `<id@host>` (brackets added when missing).
    #[schema(nullable = false)]
    pub in_reply_to: Option<String>,
    /// `HIGH`, `NORMAL` or `LOW` (any case).
    #[schema(nullable = false, example = "HIGH")]
    pub priority: Option<String>,
    /// `List-Unsubscribe`: `mailto:` or `https:` URIs, comma-separated (`<…>` optional), or
    /// a bare address (read as `mailto:`); ASCII.
    #[schema(nullable = false)]
    pub list_unsubscribe: Option<String>,
    /// Extra headers: names start with `X-` (printable ASCII without `:`, at most 76
    /// characters), values are one line of at most 998 characters; at most 50.
    #[schema(nullable = false)]
    pub x_headers: Option<BTreeMap<String, String>>,
}

/// An address: `a@b.example`, `Name <a@b.example>`, `Name<a@b.example>` or
/// `"Doe, Jane" <a@b.example>`. The address follows RFC 5321 §4.1.2 (a local part of at most
/// 64 characters, an LDH domain or an address literal, at most 254 in all), ASCII only.
#[derive(ToSchema)]
pub struct Address {
    /// The address, with an optional display name.
    #[schema(example = "Max Müller <max@recipient.example>")]
    pub email: String,
}

/// How a text value is encoded in the request.
#[derive(ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ContentEncoding {
    /// As is (the default).
    Plain,
    /// RFC 2045 §6.7 (subjects may also use RFC 2047 encoded-words).
    QuotedPrintable,
    /// RFC 4648 (white space ignored, padding optional).
    Base64,
}

/// `/subject`: `content`, or (with templating) `template`, not both. At most 500 characters
/// after decoding, one line, not blank.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Subject {
    /// The subject text, encoded as `contentEncoding` says.
    #[schema(nullable = false, example = "Ihre Rechnung November")]
    pub content: Option<String>,
    /// A template (with `job.features.templating.active`): the FreeMarker subset of
    /// docs/validation.md, rendered per recipient block with its personalization.
    #[schema(nullable = false)]
    pub template: Option<String>,
    /// How `content` is encoded. Default `plain`.
    #[schema(nullable = false)]
    pub content_encoding: Option<ContentEncoding>,
    /// `7bit`, `8bit`, `binary`, `quoted-printable` or `base64` (any case).
    #[schema(nullable = false)]
    pub content_transfer_encoding: Option<String>,
    /// A WHATWG Encoding label (`UTF-8` default, `ISO-8859-1`, `windows-1252`, `UTF-16`, …);
    /// the decoded bytes must be valid in it.
    #[schema(nullable = false, example = "UTF-8")]
    pub charset: Option<String>,
}

/// `/body`: the message text.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Body {
    /// `text/plain` (the default) or `text/html` (parameters tolerated).
    #[schema(nullable = false, example = "text/html")]
    pub content_type: Option<String>,
    /// The text, encoded as `contentEncoding` says.
    #[schema(nullable = false)]
    pub content: Option<String>,
    /// A template (with `job.features.templating.active`): the FreeMarker subset of
    /// docs/validation.md, rendered per recipient block with its personalization.
    #[schema(nullable = false)]
    pub template: Option<String>,
    /// How `content` is encoded. Default `plain`.
    #[schema(nullable = false)]
    pub content_encoding: Option<ContentEncoding>,
    /// `7bit`, `8bit`, `binary`, `quoted-printable` or `base64` (any case).
    #[schema(nullable = false)]
    pub content_transfer_encoding: Option<String>,
    /// A WHATWG Encoding label (`UTF-8` default).
    #[schema(nullable = false)]
    pub charset: Option<String>,
}

/// `/alternative`: the plain-text alternative of an HTML body.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Alternative {
    /// If given, `text/plain`.
    #[schema(nullable = false)]
    pub content_type: Option<String>,
    /// The text, encoded as `contentEncoding` says.
    #[schema(nullable = false)]
    pub content: Option<String>,
    /// A template (with `job.features.templating.active`): the FreeMarker subset of
    /// docs/validation.md, rendered per recipient block with its personalization.
    #[schema(nullable = false)]
    pub template: Option<String>,
    /// How `content` is encoded. Default `plain`.
    #[schema(nullable = false)]
    pub content_encoding: Option<ContentEncoding>,
    /// `7bit`, `8bit`, `binary`, `quoted-printable` or `base64` (any case).
    #[schema(nullable = false)]
    pub content_transfer_encoding: Option<String>,
    /// A WHATWG Encoding label (`UTF-8` default).
    #[schema(nullable = false)]
    pub charset: Option<String>,
}

/// `/attachments/N`: one file.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    /// The file name (one line, at most 255 characters).
    #[schema(max_length = 255, example = "Rechnung-Müller.pdf")]
    pub name: String,
    /// `type/subtype` (RFC 2045 §5.1). Default `application/octet-stream`.
    #[schema(nullable = false, example = "application/pdf")]
    pub content_type: Option<String>,
    /// A Content-ID (RFC 2392: printable ASCII without spaces, quotes or inner `<>`);
    /// ignored (warning `ignored-value`) on a sealed attachment.
    #[schema(nullable = false)]
    pub content_id: Option<String>,
    /// The file's bytes in base64.
    #[schema(content_encoding = "base64")]
    pub content: String,
    /// `true` puts the file into the encrypted archive; needs
    /// `/job/features/secureDocument/active: true` (a flagged file is never sent
    /// unencrypted).
    #[schema(nullable = false)]
    pub secure_document: Option<SecureFlag>,
}

/// A flag given as a JSON boolean or as the string `"true"` / `"false"`.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum SecureFlag {
    /// `true` or `false`.
    Boolean(bool),
    /// `"true"` or `"false"`.
    Text(FlagText),
}

/// The string forms of a flag.
#[derive(ToSchema)]
pub enum FlagText {
    /// `"true"`.
    #[serde(rename = "true")]
    True,
    /// `"false"`.
    #[serde(rename = "false")]
    False,
}

/// `/recipients/N`: one recipient block, sent as one message. An address listed twice in a
/// block is sent once.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientBlock {
    /// The block's recipients and headers: at least one address in `to`, `cc` or `bcc`.
    pub mail: RecipientMail,
    /// The caller's reference for the block, echoed in status reports and callbacks (one
    /// line, at most 255 characters).
    #[schema(nullable = false, max_length = 255, example = "rcpt-0001")]
    pub reference: Option<String>,
    /// Per-block features.
    #[schema(nullable = false)]
    pub features: Option<BlockFeatures>,
}

/// `/recipients/N/mail`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecipientMail {
    /// Visible `To` recipients.
    #[schema(nullable = false)]
    pub to: Option<Vec<Address>>,
    /// Visible `Cc` recipients.
    #[schema(nullable = false)]
    pub cc: Option<Vec<Address>>,
    /// Hidden recipients.
    #[schema(nullable = false)]
    pub bcc: Option<Vec<Address>>,
    /// This block's `Reply-To` header.
    #[schema(nullable = false)]
    pub reply_to: Option<Address>,
    /// This block's `In-Reply-To`: a Message-ID.
    #[schema(nullable = false)]
    pub in_reply_to: Option<String>,
    /// `HIGH`, `NORMAL` or `LOW` (any case).
    #[schema(nullable = false)]
    pub priority: Option<String>,
    /// This block's `List-Unsubscribe`.
    #[schema(nullable = false)]
    pub list_unsubscribe: Option<String>,
    /// This block's extra `X-` headers (at most 50).
    #[schema(nullable = false)]
    pub x_headers: Option<BTreeMap<String, String>>,
}

/// `/recipients/N/features`.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BlockFeatures {
    /// Personalization for templates (ignored, with a warning, unless templating is active).
    #[schema(nullable = false)]
    pub templating: Option<BlockTemplating>,
    /// Accepted and ignored (warning `ignored-key`).
    #[schema(nullable = false)]
    pub open_tracking: Option<Value>,
    /// Accepted and ignored (warning `ignored-key`).
    #[schema(nullable = false)]
    pub link_tracking: Option<Value>,
}

/// `/recipients/N/features/templating`.
#[derive(ToSchema)]
pub struct BlockTemplating {
    /// A flat map of strings, numbers and booleans; at most 200 keys.
    #[schema(nullable = false)]
    pub personalization: Option<BTreeMap<String, PersonalizationValue>>,
}

/// One personalization value.
#[derive(ToSchema)]
#[serde(untagged)]
pub enum PersonalizationValue {
    /// A string.
    Text(String),
    /// A JSON number, rendered as written.
    Number(f64),
    /// A JSON boolean, rendered `true` or `false`.
    Boolean(bool),
}

/// `/notification`: where the job's events are pushed.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// The callback endpoint.
    pub end_point: CallbackEndpoint,
}

/// `/notification/endPoint`. A URL whose host is a literal address in a special-purpose range
/// (loopback, private, link-local, …) is refused (kind `refused-address`) unless the server's
/// `[callbacks]` settings allow it; host names are checked when they are resolved.
#[derive(ToSchema)]
pub struct CallbackEndpoint {
    /// An absolute `http://` or `https://` URL with a host and no credentials, at most 1,000
    /// characters.
    #[schema(max_length = 1000, format = "uri", example = "https://hooks.customer.example/sealmail/events")]
    pub url: String,
    /// Extra HTTP headers of every callback: HTTP token names (RFC 9110 §5.6.2), not
    /// `Host`, `Content-Length`, `Transfer-Encoding`, connection headers or `webhook-*`;
    /// `Authorization` not together with `authentication`; names and values at most 1,000
    /// characters in all.
    #[schema(nullable = false)]
    pub headers: Option<BTreeMap<String, String>>,
    /// HTTP Basic credentials for the endpoint.
    #[schema(nullable = false)]
    pub authentication: Option<CallbackAuthentication>,
}

/// `/notification/endPoint/authentication`.
#[derive(ToSchema)]
pub struct CallbackAuthentication {
    /// `BASIC` (any case).
    #[schema(example = "BASIC")]
    pub method: String,
    /// The user name (no `:`, RFC 7617).
    pub user: String,
    /// The password for Basic authentication (stored encrypted at rest).
    pub password: String,
}

/// The samples of `docs/samples/`, the request
/// body's examples: (name, JSON text). Their summaries are at `jobs::submit`.
pub const SAMPLES: [(&str, &str); 3] = [
    ("plain", include_str!("../../../../docs/samples/plain.json")),
    ("secure-document", include_str!("../../../../docs/samples/secure-document.json")),
    ("retarus-doc-style", include_str!("../../../../docs/samples/retarus-doc-style.json")),
];

/// The sample named `name` as JSON (`Null` for an unknown name; the unit tests prove every
/// sample parses).
pub fn sample(name: &str) -> Value {
    SAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, text)| serde_json::from_str(text).ok())
        .unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sample_is_a_json_object() {
        for (name, _) in SAMPLES {
            assert!(sample(name).is_object(), "{name}");
        }
        assert_eq!(sample("nope"), Value::Null);
    }
}
