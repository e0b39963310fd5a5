//! The names the host gives the WIT's enums, all derived from the WIT package itself
//! (`build.rs` reads `wit/`): each case's WIT name (`invalid-address`, what JSON answers and
//! the OpenAPI document use), its snake-case name (`very_high`, the request format's and the
//! store's), its screaming name (`PASSWORD_MAIL`), its documentation, Retarus' codes of each
//! event kind, and how the status report shows delivery statuses and password states.
//!
//! Nothing here may be written by hand a second time elsewhere: a new WIT case appears in
//! every table at the next build, and a code the WIT does not give fails the build.

/// One case of a WIT enum.
#[derive(Debug)]
pub struct Case<T: 'static> {
    /// The Rust value.
    pub value: T,
    /// The WIT name, e.g. `very-high`.
    pub name: &'static str,
    /// The snake-case name, e.g. `very_high`.
    pub snake: &'static str,
    /// The screaming snake-case name, e.g. `VERY_HIGH`.
    pub screaming: &'static str,
    /// The case's WIT documentation, as one paragraph.
    pub docs: &'static str,
}

/// A WIT enum with its cases (implemented for every enum `bindgen!` generates).
pub trait WitEnum: Copy + PartialEq + Sized + 'static {
    /// The enum's WIT name, e.g. `problem-kind`.
    const WIT_NAME: &'static str;
    /// The enum's WIT documentation.
    const DOCS: &'static str;
    /// Every case, in WIT order.
    const CASES: &'static [Case<Self>];

    /// This value's case.
    fn case(self) -> &'static Case<Self> {
        Self::CASES.iter().find(|c| c.value == self).expect("every value of a WIT enum is one of its cases")
    }

    /// The WIT name, e.g. `invalid-address`.
    fn wit_name(self) -> &'static str {
        self.case().name
    }

    /// The snake-case name, e.g. `very_high`.
    fn snake_name(self) -> &'static str {
        self.case().snake
    }

    /// The screaming snake-case name, e.g. `PASSWORD_MAIL`.
    fn screaming_name(self) -> &'static str {
        self.case().screaming
    }

    /// The value whose WIT name is `name`.
    fn from_wit_name(name: &str) -> Option<Self> {
        Self::CASES.iter().find(|c| c.name == name).map(|c| c.value)
    }

    /// The value whose snake-case name is `name`.
    fn from_snake_name(name: &str) -> Option<Self> {
        Self::CASES.iter().find(|c| c.snake == name).map(|c| c.value)
    }
}

/// Retarus' four-part code of an event (`notifier.event-kind`), e.g.
/// `DELIVER/FINISHED/DELIVERED/OK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetarusEvent {
    /// `PRE_PROCESS`, `PROCESS`, `DELIVER` or `TRIGGER`.
    pub phase: &'static str,
    /// E.g. `INITIAL`, `FINISHED`.
    pub state: &'static str,
    /// E.g. `DELIVERED`, `PASSWORD_MAIL` (Retarus' `type`).
    pub kind: &'static str,
    /// E.g. `OK`, `HARD_BOUNCE`.
    pub sub_type: &'static str,
}

impl crate::bindings::delivery::DeliveryStatus {
    /// The status report's `(status, subStatus)`, e.g. `("PENDING", "QUEUED")`.
    pub fn status_codes(self) -> (&'static str, &'static str) {
        let code = self.reported().expect("every delivery status is reported");
        code.split_once('/').expect("delivery statuses are reported as STATUS/SUB_STATUS")
    }
}

include!(concat!(env!("OUT_DIR"), "/vocabulary.rs"));

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bindings::delivery::{DeliveryStatus, PasswordState, Role};
    use crate::bindings::notifier::EventKind;
    use crate::bindings::password::Strength;
    use crate::bindings::validation::ProblemKind;

    #[test]
    fn names_come_from_the_wit() {
        assert_eq!(ProblemKind::InvalidAddress.wit_name(), "invalid-address");
        assert_eq!(ProblemKind::CASES.len(), 18);
        assert_eq!(Strength::VeryHigh.snake_name(), "very_high");
        assert_eq!(Strength::from_snake_name("maximum"), Some(Strength::Maximum));
        assert_eq!(Role::Bcc.screaming_name(), "BCC");
        assert_eq!(names::password_state::NOT_TRIGGERED, "not_triggered");
        assert!(
            ProblemKind::DuplicateKey.case().docs.contains("same key twice"),
            "{}",
            ProblemKind::DuplicateKey.case().docs
        );
    }

    #[test]
    fn codes_come_from_the_wit_documentation() {
        let e = EventKind::PasswordMailNotTriggered.retarus();
        assert_eq!(
            (e.phase, e.state, e.kind, e.sub_type),
            ("TRIGGER", "POST_DELIVERY", "PASSWORD_MAIL", "NOT_TRIGGERED")
        );
        assert_eq!(EventKind::PreviouslyBounced.retarus().phase, "PRE_PROCESS");
        assert_eq!(DeliveryStatus::Expired.status_codes(), ("ERROR", "BOUNCED"));
        assert_eq!(DeliveryStatus::Queued.status_codes(), ("PENDING", "QUEUED"));
        assert_eq!(PasswordState::None.reported(), None);
        assert_eq!(PasswordState::Queued.reported(), Some("PENDING"));
    }
}
