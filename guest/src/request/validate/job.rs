//! `job`: references echoed in callbacks and the feature switches, including the Secure
//! Document settings (docs/secure-documents.md#settings). The rules that tie features to attachments are in
//! `secure_document`.

use super::fields::{Fields, Text};
use super::limits::{MAX_NAME_CHARS, MAX_REFERENCE_CHARS, MAX_SUBJECT_PREFIX_CHARS};
use crate::archive::archive_file_name;
use crate::password::PasswordStrength;
use crate::request::model::SecureDocument;
use crate::request::report::{ProblemKind, Report, WarningKind};

const JOB_KEYS: &[&str] = &["referenceJob", "costCenter", "campaignId", "features", "options"];
const FEATURE_KEYS: &[&str] =
    &["antivirus", "secureDocument", "templating", "messageSigning", "openTracking", "linkTracking"];
const SECURE_KEYS: &[&str] = &["active", "filename", "subjectPrefix", "password"];

/// The password mail's subject prefix when the request gives none (Retarus' default).
pub const DEFAULT_SUBJECT_PREFIX: &str = "Password for: ";
/// The archive name when the request gives none.
pub const DEFAULT_ARCHIVE_NAME: &str = "documents.zip";

/// What `job` says. Each feature switch is `Some(active)` when readable (an absent feature
/// is `Some(false)`) and `None` when its value was refused: the problem is recorded already,
/// and rules that depend on the switch are not applied to a value nobody knows.
pub(crate) struct JobSettings {
    pub reference_job: Option<String>,
    pub cost_center: Option<String>,
    pub campaign_id: Option<String>,
    pub antivirus: Option<bool>,
    pub templating: Option<bool>,
    pub message_signing: Option<bool>,
    /// `secureDocument.active`.
    pub secure_active: Option<bool>,
    /// The settings with defaults applied (present whenever they were readable).
    pub secure: Option<SecureDocument>,
}

impl Default for JobSettings {
    fn default() -> Self {
        Self {
            reference_job: None,
            cost_center: None,
            campaign_id: None,
            antivirus: Some(false),
            templating: Some(false),
            message_signing: Some(false),
            secure_active: Some(false),
            secure: Some(default_secure()),
        }
    }
}

/// Reads `/job`.
pub(crate) fn job(r: &mut Report, root: &Fields) -> JobSettings {
    let mut out = JobSettings::default();
    let Some(job) = root.object_member(r, "job", false, JOB_KEYS) else {
        if root.raw("job").is_some() {
            out.forget_features();
        }
        return out;
    };
    job.not_acted_on(r, "options", "sealmail has no job options; ignored");
    let reference = Text::header(MAX_REFERENCE_CHARS);
    out.reference_job = job.text(r, "referenceJob", reference).map(str::to_owned);
    out.cost_center = job.text(r, "costCenter", reference).map(str::to_owned);
    out.campaign_id = job.text(r, "campaignId", reference).map(str::to_owned);

    let Some(features) = job.object_member(r, "features", false, FEATURE_KEYS) else {
        if job.raw("features").is_some() {
            out.forget_features();
        }
        return out;
    };
    for key in ["openTracking", "linkTracking"] {
        features.not_acted_on(r, key, "sealmail does not track opens or clicks; ignored");
    }
    // `{"active": …}` objects; `active` is required inside them (an empty feature object
    // says nothing, and guessing `false` could hide a typo).
    let active = |r: &mut Report, key: &str| match features.raw(key) {
        None => Some(false),
        Some(_) => features.object_member(r, key, false, &["active"]).and_then(|f| f.boolean(r, "active", true)),
    };
    out.antivirus = active(r, "antivirus");
    out.templating = active(r, "templating");
    out.message_signing = active(r, "messageSigning");
    if out.message_signing == Some(true) {
        r.problem(
            &features.path.key("messageSigning").key("active"),
            ProblemKind::Unsupported,
            "message signing (S/MIME) is not supported by sealmail",
        );
    }
    if features.raw("secureDocument").is_some() {
        match features.object_member(r, "secureDocument", false, SECURE_KEYS) {
            Some(secure) => {
                // `active` may be left out: the feature is off, and a flagged attachment is
                // then refused (docs/secure-documents.md#requests-that-are-refused), never sent
                // unencrypted.
                out.secure_active = match secure.raw("active") {
                    None => Some(false),
                    Some(_) => secure.boolean(r, "active", false),
                };
                out.secure = secure_settings(r, &secure);
            }
            None => {
                out.secure_active = None;
                out.secure = None;
            }
        }
    }
    out
}

impl JobSettings {
    /// `job` or `job.features` was there but could not be read: no switch is known.
    fn forget_features(&mut self) {
        self.antivirus = None;
        self.templating = None;
        self.message_signing = None;
        self.secure_active = None;
        self.secure = None;
    }
}

fn default_secure() -> SecureDocument {
    SecureDocument {
        archive_name: DEFAULT_ARCHIVE_NAME.to_owned(),
        subject_prefix: DEFAULT_SUBJECT_PREFIX.to_owned(),
        strength: PasswordStrength::VeryHigh,
    }
}

/// `filename`, `subjectPrefix`, `password.type` with their defaults
/// (docs/secure-documents.md#settings).
fn secure_settings(r: &mut Report, secure: &Fields) -> Option<SecureDocument> {
    let before = r.problem_count();
    let archive_name = secure
        .text(r, "filename", Text::header(MAX_NAME_CHARS))
        .map_or_else(|| DEFAULT_ARCHIVE_NAME.to_owned(), archive_file_name);
    let subject_prefix = secure
        .raw("subjectPrefix")
        .map_or(Some(DEFAULT_SUBJECT_PREFIX), |_| {
            secure.text(r, "subjectPrefix", Text::header(MAX_SUBJECT_PREFIX_CHARS))
        })
        .map(str::to_owned);
    let strength = match secure.object_member(r, "password", false, &["type"]) {
        None => Some(PasswordStrength::VeryHigh),
        Some(password) => match password.text(r, "type", Text::header(32)) {
            None if password.raw("type").is_none() => Some(PasswordStrength::VeryHigh),
            None => None,
            Some(name) => strength(r, &password.path.key("type"), name),
        },
    };
    if r.problem_count() > before {
        return None;
    }
    Some(SecureDocument { archive_name, subject_prefix: subject_prefix?, strength: strength? })
}

/// The password types (docs/secure-documents.md#password-types): `medium`, `high`, `very_high`,
/// sealmail's `maximum`; `strong` (used in one
/// Retarus sample) is an alias of `very_high`.
fn strength(r: &mut Report, path: &crate::request::report::Pointer, name: &str) -> Option<PasswordStrength> {
    if name == "strong" {
        r.warn(path, WarningKind::Alias, "\"strong\" is read as \"very_high\" (15 characters); write very_high");
        return Some(PasswordStrength::VeryHigh);
    }
    let found = PasswordStrength::from_name(name);
    if found.is_none() {
        let names: Vec<_> = PasswordStrength::ALL.iter().map(|s| s.name()).collect();
        r.problem(
            path,
            ProblemKind::InvalidValue,
            format!("\"{name}\" is not a password type; use one of {}", names.join(", ")),
        );
    }
    found
}
