//! The component adapter (wasm32 only): maps WIT calls to the plain-Rust modules, their
//! types and errors to WIT types and variants, and supplies randomness from `wasi:random`.
//! Built as the `library` world by default and as the `service` world with the `service`
//! feature; both export the same library interfaces, so this code serves both.

use std::cell::RefCell;

use rand::TryRngCore;

use self::exports::sealmail::mail::archive as wit_archive;
use self::exports::sealmail::mail::password as wit_password;
use self::exports::sealmail::mail::validation as wit_validation;
use crate::{archive, password, request};

#[cfg(not(feature = "service"))]
wit_bindgen::generate!({ path: "../wit", world: "library" });
#[cfg(feature = "service")]
wit_bindgen::generate!({ path: "../wit", world: "service" });
export!(Component);

#[cfg(feature = "service")]
mod workflow;

/// Converts between a plain-Rust enum and its WIT twin in both directions, case by case: the
/// cases have the same names, and one table keeps the two directions from drifting apart.
macro_rules! twin_enums {
    ($to_wit:ident, $from_wit:ident: $ours:ty => $wit:ty { $($case:ident),+ $(,)? }) => {
        #[allow(dead_code, reason = "a world may need one direction only")]
        pub(crate) fn $to_wit(k: $ours) -> $wit {
            type Ours = $ours;
            type Wit = $wit;
            match k { $(Ours::$case => Wit::$case),+ }
        }
        #[allow(dead_code, reason = "a world may need one direction only")]
        pub(crate) fn $from_wit(k: $wit) -> $ours {
            type Ours = $ours;
            type Wit = $wit;
            match k { $(Wit::$case => Ours::$case),+ }
        }
    };
}
#[cfg(feature = "service")]
pub(crate) use twin_enums;

twin_enums!(problem_kind_to_wit, problem_kind_from_wit: request::ProblemKind => wit_validation::ProblemKind {
    MalformedJson, NotUtf8, TooLarge, DuplicateKey, Missing, NullValue, EmptyValue, WrongType, TooLong, TooMany,
    InvalidValue, InvalidAddress, InvalidEncoding, HeaderInjection, InvalidHeaderName, InvalidUrl, Unsupported,
    RuleViolation,
});

/// The host's CSPRNG through `wasi:random/random` (getrandom's wasm32-wasip2 backend).
/// It cannot fail under WASI; if it ever did, trapping is right: no password or salt
/// may come from anywhere else.
pub(crate) fn system_rng() -> rand::rand_core::UnwrapErr<rand::rngs::OsRng> {
    rand::rngs::OsRng.unwrap_err()
}

pub(crate) struct Component;

impl wit_password::Guest for Component {
    fn length(strength: wit_password::Strength) -> u32 {
        strength_from_wit(strength).length() as u32
    }
    fn generate(strength: wit_password::Strength) -> String {
        password::generate(&mut system_rng(), strength_from_wit(strength))
    }
}

fn strength_from_wit(s: wit_password::Strength) -> password::PasswordStrength {
    use wit_password::Strength as W;
    match s {
        W::Medium => password::PasswordStrength::Medium,
        W::High => password::PasswordStrength::High,
        W::VeryHigh => password::PasswordStrength::VeryHigh,
        W::Maximum => password::PasswordStrength::Maximum,
    }
}

fn strength_to_wit(s: password::PasswordStrength) -> wit_password::Strength {
    use password::PasswordStrength as P;
    match s {
        P::Medium => wit_password::Strength::Medium,
        P::High => wit_password::Strength::High,
        P::VeryHigh => wit_password::Strength::VeryHigh,
        P::Maximum => wit_password::Strength::Maximum,
    }
}

impl wit_validation::Guest for Component {
    fn default_limits() -> wit_validation::Limits {
        let d = request::Limits::default();
        wit_validation::Limits {
            max_request_bytes: d.max_request_bytes,
            max_message_bytes: d.max_message_bytes,
            max_addresses: d.max_addresses,
            max_rendered_bytes: d.max_rendered_bytes,
        }
    }

    fn validate(
        bytes: Vec<u8>,
        limits: wit_validation::Limits,
    ) -> Result<wit_validation::JobSummary, wit_validation::ValidationError> {
        match request::validate(&bytes, &limits_from_wit(limits)) {
            Ok(v) => Ok(summary_to_wit(request::summary::JobSummary::new(&v))),
            Err(problems) => {
                Err(wit_validation::ValidationError::Invalid(problems.into_iter().map(problem_to_wit).collect()))
            }
        }
    }
}

fn mailbox_to_wit(m: request::address::Mailbox) -> wit_validation::Mailbox {
    wit_validation::Mailbox { name: m.name, address: m.address }
}

fn summary_to_wit(s: request::summary::JobSummary) -> wit_validation::JobSummary {
    use wit_validation as w;
    w::JobSummary {
        sender: mailbox_to_wit(s.sender),
        header_from: mailbox_to_wit(s.header_from),
        subject: s.subject,
        body_content_type: s.body_content_type,
        messages: s
            .messages
            .into_iter()
            .map(|m| w::MessagePlan {
                block: m.block,
                to: m.to.into_iter().map(mailbox_to_wit).collect(),
                cc: m.cc.into_iter().map(mailbox_to_wit).collect(),
                bcc: m.bcc.into_iter().map(mailbox_to_wit).collect(),
                envelope_recipients: m.envelope_recipients,
                reference: m.reference,
            })
            .collect(),
        envelope_recipient_count: s.envelope_recipient_count,
        attachments: s
            .attachments
            .into_iter()
            .map(|a| w::AttachmentPlan {
                index: a.index,
                name: a.name,
                content_type: a.content_type,
                size: a.size,
                sealed: a.sealed,
            })
            .collect(),
        secure_document: s.secure_document.map(|d| w::SecureDocumentPlan {
            archive_name: d.archive_name,
            strength: strength_to_wit(d.strength),
            subject_prefix: d.subject_prefix,
            password_mail_subject: d.password_mail_subject,
        }),
        antivirus: s.antivirus,
        callback: s.callback.map(|e| w::CallbackEndpoint { url: e.url, headers: e.headers, basic_auth: e.basic_auth }),
        reference_job: s.reference_job,
        cost_center: s.cost_center,
        campaign_id: s.campaign_id,
        estimated_message_bytes: s.estimated_message_bytes,
        warnings: s.warnings.into_iter().map(warning_to_wit).collect(),
    }
}

pub(crate) fn limits_from_wit(l: wit_validation::Limits) -> request::Limits {
    request::Limits {
        max_request_bytes: l.max_request_bytes,
        max_message_bytes: l.max_message_bytes,
        max_addresses: l.max_addresses,
        max_rendered_bytes: l.max_rendered_bytes,
    }
}

pub(crate) fn problem_to_wit(p: request::Problem) -> wit_validation::Problem {
    wit_validation::Problem { path: p.path, kind: problem_kind_to_wit(p.kind), message: p.message }
}

/// A problem the host hands back (in a failed call's report).
#[cfg(feature = "service")]
pub(crate) fn problem_from_wit(p: wit_validation::Problem) -> request::Problem {
    request::Problem { path: p.path, kind: problem_kind_from_wit(p.kind), message: p.message }
}

fn warning_to_wit(w: request::Warning) -> wit_validation::Warning {
    use request::WarningKind as K;
    use wit_validation::WarningKind as W;
    let kind = match w.kind {
        K::IgnoredKey => W::IgnoredKey,
        K::IgnoredValue => W::IgnoredValue,
        K::Alias => W::Alias,
    };
    wit_validation::Warning { path: w.path, kind, message: w.message }
}

impl wit_archive::Guest for Component {
    type Sealer = SealerResource;

    fn seal(
        archive_name: String,
        files: Vec<wit_archive::File>,
        password: String,
        modified: wit_archive::Timestamp,
    ) -> Result<wit_archive::SealedArchive, wit_archive::SealError> {
        let files: Vec<(&str, &[u8])> = files.iter().map(|f| (f.name.as_str(), f.content.as_slice())).collect();
        let sealed = archive::seal(&archive_name, &files, &password, timestamp_from_wit(modified), system_rng())
            .map_err(seal_error_to_wit)?;
        Ok(wit_archive::SealedArchive {
            name: sealed.name,
            bytes: sealed.bytes,
            entries: sealed.entries.into_iter().map(entry_to_wit).collect(),
        })
    }

    fn archive_file_name(requested: String) -> String {
        archive::archive_file_name(&requested)
    }
}

/// The `sealer` resource: the WIT gives `&self`, the sealer needs `&mut`.
pub(crate) struct SealerResource(RefCell<archive::Sealer<rand::rand_core::UnwrapErr<rand::rngs::OsRng>>>);

impl wit_archive::GuestSealer for SealerResource {
    fn create(
        archive_name: String,
        password: String,
        modified: wit_archive::Timestamp,
    ) -> Result<wit_archive::Sealer, wit_archive::SealError> {
        let sealer = archive::Sealer::new(&archive_name, &password, timestamp_from_wit(modified), system_rng())
            .map_err(seal_error_to_wit)?;
        Ok(wit_archive::Sealer::new(SealerResource(RefCell::new(sealer))))
    }
    fn archive_name(&self) -> String {
        self.0.borrow().archive_name().to_owned()
    }
    fn begin_file(&self, name: String) -> Result<String, wit_archive::SealError> {
        self.0.borrow_mut().begin_file(&name).map_err(seal_error_to_wit)
    }
    fn write(&self, chunk: Vec<u8>) -> Result<(), wit_archive::SealError> {
        self.0.borrow_mut().write(&chunk).map_err(seal_error_to_wit)
    }
    fn end_file(&self) -> Result<(wit_archive::Entry, Vec<u8>), wit_archive::SealError> {
        let (entry, bytes) = self.0.borrow_mut().end_file().map_err(seal_error_to_wit)?;
        Ok((entry_to_wit(entry), bytes))
    }
    fn finish(&self) -> Result<Vec<u8>, wit_archive::SealError> {
        self.0.borrow_mut().finish().map_err(seal_error_to_wit)
    }
}

fn timestamp_from_wit(t: wit_archive::Timestamp) -> archive::Timestamp {
    archive::Timestamp { year: t.year, month: t.month, day: t.day, hour: t.hour, minute: t.minute, second: t.second }
}

fn entry_to_wit(e: archive::Entry) -> wit_archive::Entry {
    wit_archive::Entry {
        name: e.name,
        size: e.size,
        stored_size: e.stored_size,
        compression: match e.compression {
            archive::Compression::Deflate => wit_archive::Compression::Deflate,
            archive::Compression::Store => wit_archive::Compression::Store,
        },
    }
}

fn seal_error_to_wit(e: archive::SealError) -> wit_archive::SealError {
    use archive::SealError as E;
    use wit_archive::SealError as W;
    match e {
        E::InvalidPassword => W::InvalidPassword,
        E::InvalidTimestamp(s) => W::InvalidTimestamp(s),
        E::NoFiles => W::NoFiles,
        E::FileTooLarge(s) => W::FileTooLarge(s),
        E::TooManyFiles => W::TooManyFiles,
        E::OutOfOrder(s) => W::OutOfOrder(s),
        E::Internal(s) => W::Internal(s),
    }
}
