//! The store's and the API's names for the WIT vocabulary: database strings for every enum,
//! Retarus' `phase/state/type/subType` for every event kind (DESIGN §5), and the status
//! report's `status`/`subStatus` for every delivery status (DESIGN §2).

use super::{DeliveryStatus, EventKind, MessageKind, PasswordState, PostState, Role};

/// Retarus' `(phase, state, type, subType)` of an event kind.
pub fn event_codes(kind: EventKind) -> (&'static str, &'static str, &'static str, &'static str) {
    use EventKind as K;
    match kind {
        K::ProcessingStarted => ("PROCESS", "INITIAL", "STARTED", "PROCESSING_STARTED"),
        K::ProcessingFinished => ("PROCESS", "INTERMEDIATE", "PROCESSED", "PROCESSING_FINISHED"),
        K::VirusDetected => ("PROCESS", "FINISHED", "DROPPED", "VIRUS_DETECTED"),
        K::ProcessingFailed => ("PROCESS", "FINISHED", "DROPPED", "PROCESSING_FAILED"),
        K::AntivirusSkipped => ("PROCESS", "INTERMEDIATE", "PROCESSED", "ANTIVIRUS_SKIPPED"),
        K::PreviouslyBounced => ("PRE_PROCESS", "FINISHED", "DROPPED", "PREVIOUSLY_BOUNCED"),
        K::Suppressed => ("PRE_PROCESS", "FINISHED", "DROPPED", "SUPPRESSED"),
        K::Delivered => ("DELIVER", "FINISHED", "DELIVERED", "OK"),
        K::Deferred => ("DELIVER", "INTERMEDIATE", "DEFERRED", "SOFT_BOUNCE"),
        K::HardBounce => ("DELIVER", "FINISHED", "BOUNCED", "HARD_BOUNCE"),
        K::SoftBounce => ("DELIVER", "FINISHED", "BOUNCED", "SOFT_BOUNCE"),
        K::PasswordMailOk => ("TRIGGER", "POST_DELIVERY", "PASSWORD_MAIL", "OK"),
        K::PasswordMailFailed => ("TRIGGER", "POST_DELIVERY", "PASSWORD_MAIL", "FAILED"),
        K::PasswordMailNotTriggered => ("TRIGGER", "POST_DELIVERY", "PASSWORD_MAIL", "NOT_TRIGGERED"),
    }
}

/// The status report's `(status, subStatus)` (DESIGN §2: OK/ERROR, DELIVERED/BOUNCED/DROPPED;
/// PENDING with QUEUED/DEFERRED while in flight).
pub fn status_codes(status: DeliveryStatus) -> (&'static str, &'static str) {
    use DeliveryStatus as S;
    match status {
        S::Queued => ("PENDING", "QUEUED"),
        S::Deferred => ("PENDING", "DEFERRED"),
        S::Delivered => ("OK", "DELIVERED"),
        S::Bounced | S::Expired => ("ERROR", "BOUNCED"),
        S::Dropped => ("ERROR", "DROPPED"),
    }
}

/// The status report's password mail state.
pub fn password_code(state: PasswordState) -> Option<&'static str> {
    use PasswordState as P;
    match state {
        P::None => None,
        P::Pending | P::Queued => Some("PENDING"),
        P::Ok => Some("OK"),
        P::Failed => Some("FAILED"),
        P::NotTriggered => Some("NOT_TRIGGERED"),
    }
}

/// Defines `to_db`/`from_db` for a WIT enum: the database stores stable lower-case names, so
/// a reordered WIT enum cannot change stored meaning.
macro_rules! db_names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl DbName for $ty {
            fn to_db(self) -> &'static str {
                match self { $(Self::$variant => $name),+ }
            }
            fn from_db(text: &str) -> Option<Self> {
                match text { $($name => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}

/// A stable database name.
pub(crate) trait DbName: Sized {
    /// The name stored.
    fn to_db(self) -> &'static str;
    /// The value of a stored name.
    fn from_db(text: &str) -> Option<Self>;
}

db_names!(Role { To => "to", Cc => "cc", Bcc => "bcc" });
db_names!(DeliveryStatus {
    Queued => "queued", Deferred => "deferred", Delivered => "delivered",
    Bounced => "bounced", Expired => "expired", Dropped => "dropped",
});
db_names!(PasswordState {
    None => "none", Pending => "pending", Queued => "queued", Ok => "ok",
    Failed => "failed", NotTriggered => "not_triggered",
});
db_names!(MessageKind { Original => "original", PasswordMail => "password_mail" });
db_names!(PostState { Pending => "pending", Delivered => "delivered", Failed => "failed" });
db_names!(EventKind {
    ProcessingStarted => "processing_started", ProcessingFinished => "processing_finished",
    VirusDetected => "virus_detected", ProcessingFailed => "processing_failed",
    AntivirusSkipped => "antivirus_skipped", Delivered => "delivered", Deferred => "deferred",
    HardBounce => "hard_bounce", SoftBounce => "soft_bounce", PasswordMailOk => "password_mail_ok",
    PasswordMailFailed => "password_mail_failed", PasswordMailNotTriggered => "password_mail_not_triggered",
    PreviouslyBounced => "previously_bounced", Suppressed => "suppressed",
});
