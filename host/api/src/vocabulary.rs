//! The names the API's answers give the WIT's enums — problem and warning kinds, recipient
//! types, delivery statuses, password-mail states, Retarus' four event codes — and the
//! suppression reason. None is written here: each [`Vocabulary`] derives its names from
//! [`sealmail_core::vocabulary`] (the WIT) or from the store, and a [`Name`] of it serializes
//! as its name and describes itself in the OpenAPI document as the enum of every name the
//! vocabulary has. So an answer cannot carry a name its schema does not list, and a new WIT
//! case reaches both at the next build.
//!
//! The host's own vocabularies that nothing else names (job states, callback states) are
//! plain enums in [`crate::openapi::responses`], written once there.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::{Serialize, Serializer};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

use sealmail_core::bindings::delivery::{self, PasswordState, Role};
use sealmail_core::bindings::notifier::EventKind;
use sealmail_core::bindings::validation;
use sealmail_core::vocabulary::{RetarusEvent, WitEnum};
use sealmail_store::suppression::Reason;

/// A set of names the API answers with, each the name of a value of `Value`.
pub trait Vocabulary: 'static {
    /// What is named.
    type Value: Copy + PartialEq + fmt::Debug + 'static;
    /// The name of its schema in the OpenAPI document.
    const SCHEMA: &'static str;
    /// Every value, in order (the names are listed in this order, each once).
    fn values() -> impl Iterator<Item = Self::Value>;
    /// The name of `value`; `None` when the API shows it as `null`.
    fn name(value: Self::Value) -> Option<&'static str>;
    /// The description of its schema.
    fn description() -> String;
}

/// A name of the vocabulary `V`: serialized as the name, described as the enum of them all.
pub struct Name<V: Vocabulary>(V::Value, PhantomData<V>);

impl<V: Vocabulary> Name<V> {
    /// The name of `value`.
    pub fn new(value: V::Value) -> Self {
        Self(value, PhantomData)
    }

    /// The name of `value`, or `None` when the API shows it as `null`.
    pub fn shown(value: V::Value) -> Option<Self> {
        V::name(value).map(|_| Self::new(value))
    }

    /// The name as it is serialized.
    pub fn as_str(&self) -> Option<&'static str> {
        V::name(self.0)
    }

    /// Every name of the vocabulary, in order, each once.
    pub fn all() -> Vec<&'static str> {
        let mut names: Vec<&'static str> = Vec::new();
        for name in V::values().filter_map(V::name) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }
}

// Written out: derived impls would require `V` itself to be `Clone`, `Debug`, ….
impl<V: Vocabulary> Clone for Name<V> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<V: Vocabulary> Copy for Name<V> {}

impl<V: Vocabulary> PartialEq for Name<V> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}

impl<V: Vocabulary> fmt::Debug for Name<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({:?})", V::SCHEMA, self.0)
    }
}

impl<V: Vocabulary> Serialize for Name<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(name) => serializer.serialize_str(name),
            // Only for a value built with `new` that its vocabulary does not name (`shown`
            // is the constructor for those); the tests prove every other vocabulary total.
            None => serializer.serialize_none(),
        }
    }
}

impl<V: Vocabulary> utoipa::PartialSchema for Name<V> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(Self::all()))
            .description(Some(V::description()))
            .into()
    }
}

impl<V: Vocabulary> utoipa::ToSchema for Name<V> {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(V::SCHEMA)
    }
}

/// Every value of a WIT enum, in WIT order.
fn wit_values<T: WitEnum>() -> impl Iterator<Item = T> {
    T::CASES.iter().map(|c| c.value)
}

/// A WIT enum's documentation followed by each case's, as `` `name`: docs``.
fn wit_description<T: WitEnum>(intro: &str, name: impl Fn(T) -> &'static str) -> String {
    let cases: Vec<String> = T::CASES.iter().map(|c| format!("`{}`: {}", name(c.value), c.docs)).collect();
    format!("{} {intro}{}", T::DOCS, cases.join(" "))
}

/// A problem's kind as the API reports it: one of the validator's (the WIT's `problem-kind`,
/// which the host's own checks reuse where one fits), or the host's check of callback
/// addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProblemKindCase {
    /// A case of the WIT's `problem-kind`.
    Wit(validation::ProblemKind),
    /// A callback URL whose host is a literal address the server may not reach.
    RefusedAddress,
}

/// The name and description of [`ProblemKindCase::RefusedAddress`]: the host's, not the WIT's.
const REFUSED_ADDRESS: (&str, &str) =
    ("refused-address", "A callback URL whose host is a literal address the server may not reach.");

/// `kind` of a problem: the WIT names of `problem-kind`, and `refused-address`.
pub struct ProblemKinds;

impl Vocabulary for ProblemKinds {
    type Value = ProblemKindCase;
    const SCHEMA: &'static str = "ProblemKind";
    fn values() -> impl Iterator<Item = ProblemKindCase> {
        wit_values().map(ProblemKindCase::Wit).chain([ProblemKindCase::RefusedAddress])
    }
    fn name(value: ProblemKindCase) -> Option<&'static str> {
        Some(match value {
            ProblemKindCase::Wit(kind) => kind.wit_name(),
            ProblemKindCase::RefusedAddress => REFUSED_ADDRESS.0,
        })
    }
    fn description() -> String {
        let intro = "The cases of `problem-kind` in `wit/validation.wit` (the server's own checks use \
            `unsupported` for a virus scan it cannot do), and `refused-address`, the server's check of \
            callback addresses. ";
        let (name, docs) = REFUSED_ADDRESS;
        format!("{} `{name}`: {docs}", wit_description::<validation::ProblemKind>(intro, WitEnum::wit_name))
    }
}

/// `kind` of a warning: the WIT names of `warning-kind`.
pub struct WarningKinds;

impl Vocabulary for WarningKinds {
    type Value = validation::WarningKind;
    const SCHEMA: &'static str = "WarningKind";
    fn values() -> impl Iterator<Item = Self::Value> {
        wit_values()
    }
    fn name(value: Self::Value) -> Option<&'static str> {
        Some(value.wit_name())
    }
    fn description() -> String {
        wit_description::<Self::Value>("", WitEnum::wit_name)
    }
}

/// `type` of a recipient: its role, `TO`, `CC` or `BCC`.
pub struct RecipientTypes;

impl Vocabulary for RecipientTypes {
    type Value = Role;
    const SCHEMA: &'static str = "RecipientType";
    fn values() -> impl Iterator<Item = Role> {
        wit_values()
    }
    fn name(value: Role) -> Option<&'static str> {
        Some(value.screaming_name())
    }
    fn description() -> String {
        wit_description::<Role>("", WitEnum::screaming_name)
    }
}

/// `status` of a recipient: the first half of its delivery status's report
/// ([`delivery::DeliveryStatus::status_codes`]).
pub struct DeliveryStatuses;

impl Vocabulary for DeliveryStatuses {
    type Value = delivery::DeliveryStatus;
    const SCHEMA: &'static str = "DeliveryStatus";
    fn values() -> impl Iterator<Item = delivery::DeliveryStatus> {
        wit_values()
    }
    fn name(value: delivery::DeliveryStatus) -> Option<&'static str> {
        Some(value.status_codes().0)
    }
    fn description() -> String {
        "A recipient's delivery status.".to_owned()
    }
}

/// `subStatus` of a recipient: the second half of its delivery status's report.
pub struct DeliverySubStatuses;

impl Vocabulary for DeliverySubStatuses {
    type Value = delivery::DeliveryStatus;
    const SCHEMA: &'static str = "DeliverySubStatus";
    fn values() -> impl Iterator<Item = delivery::DeliveryStatus> {
        wit_values()
    }
    fn name(value: delivery::DeliveryStatus) -> Option<&'static str> {
        Some(value.status_codes().1)
    }
    fn description() -> String {
        // "`QUEUED` and `DEFERRED` with `PENDING`, …": each status with its sub-statuses.
        let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
        for (status, sub) in wit_values::<delivery::DeliveryStatus>().map(delivery::DeliveryStatus::status_codes) {
            match groups.iter_mut().find(|(s, _)| *s == status) {
                Some((_, subs)) if subs.contains(&sub) => {}
                Some((_, subs)) => subs.push(sub),
                None => groups.push((status, vec![sub])),
            }
        }
        let groups: Vec<String> = groups
            .iter()
            .map(|(status, subs)| {
                let subs: Vec<String> = subs.iter().map(|s| format!("`{s}`")).collect();
                format!("{} with `{status}`", subs.join(" and "))
            })
            .collect();
        format!("The detail of a delivery status: {}.", groups.join(", "))
    }
}

/// `passwordMail` of a recipient: how the report shows its password state
/// ([`PasswordState::reported`]; `null` for a message without one).
pub struct PasswordMailStates;

impl Vocabulary for PasswordMailStates {
    type Value = PasswordState;
    const SCHEMA: &'static str = "PasswordMailState";
    fn values() -> impl Iterator<Item = PasswordState> {
        wit_values()
    }
    fn name(value: PasswordState) -> Option<&'static str> {
        value.reported()
    }
    fn description() -> String {
        "The password mail of a recipient of a secure message.".to_owned()
    }
}

/// Defines the vocabulary of one of Retarus' four event codes ([`EventKind::retarus`]).
macro_rules! event_code {
    ($(#[$doc:meta])* $name:ident, $schema:literal, $field:ident, $description:literal) => {
        $(#[$doc])*
        pub struct $name;

        impl Vocabulary for $name {
            type Value = EventKind;
            const SCHEMA: &'static str = $schema;
            fn values() -> impl Iterator<Item = EventKind> {
                wit_values()
            }
            fn name(value: EventKind) -> Option<&'static str> {
                let RetarusEvent { $field, .. } = value.retarus();
                Some($field)
            }
            fn description() -> String {
                $description.to_owned()
            }
        }
    };
}

event_code!(
    /// `phase` of an event.
    EventPhases, "EventPhase", phase, "Event phases."
);
event_code!(
    /// `state` of an event.
    EventStates, "EventState", state, "Event states."
);
event_code!(
    /// `type` of an event.
    EventTypes, "EventType", kind, "Event types."
);
event_code!(
    /// `subType` of an event.
    EventSubTypes, "EventSubType", sub_type, "Event sub-types."
);

/// `reason` of a suppression list entry: the store's names ([`Reason::as_str`]).
pub struct SuppressionReasons;

impl SuppressionReasons {
    /// Every reason: the store has no list of them, so this is one, and the match below stops
    /// the build when the store gains a reason it does not name.
    const ALL: [Reason; 2] = [Reason::HardBounce, Reason::SoftBounce];
}

const _: fn(Reason) = |reason| match reason {
    Reason::HardBounce | Reason::SoftBounce => {}
};

impl Vocabulary for SuppressionReasons {
    type Value = Reason;
    const SCHEMA: &'static str = "SuppressionReason";
    fn values() -> impl Iterator<Item = Reason> {
        Self::ALL.into_iter()
    }
    fn name(value: Reason) -> Option<&'static str> {
        Some(value.as_str())
    }
    fn description() -> String {
        "Why an address is listed.".to_owned()
    }
}

// The body types name their fields' types through these aliases: utoipa's derive names the
// schema of a field written `Name<V>` after the generic's parts (`Name_V`), but asks an alias
// for its `ToSchema::name`, which is the vocabulary's `SCHEMA`.

/// A problem's kind.
pub type ProblemKind = Name<ProblemKinds>;
/// A warning's kind.
pub type WarningKind = Name<WarningKinds>;
/// A recipient's type.
pub type RecipientType = Name<RecipientTypes>;
/// A recipient's status.
pub type DeliveryStatus = Name<DeliveryStatuses>;
/// A recipient's sub-status.
pub type DeliverySubStatus = Name<DeliverySubStatuses>;
/// A recipient's password mail.
pub type PasswordMailState = Name<PasswordMailStates>;
/// An event's phase.
pub type EventPhase = Name<EventPhases>;
/// An event's state.
pub type EventState = Name<EventStates>;
/// An event's type.
pub type EventType = Name<EventTypes>;
/// An event's sub-type.
pub type EventSubType = Name<EventSubTypes>;
/// A suppression's reason.
pub type SuppressionReason = Name<SuppressionReasons>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether every value of `V` has a name (those built with `Name::new` must).
    fn total<V: Vocabulary>() -> bool {
        V::values().all(|v| V::name(v).is_some())
    }

    #[test]
    fn the_names_are_the_wits() {
        assert_eq!(Name::<ProblemKinds>::all().len(), validation::ProblemKind::CASES.len() + 1);
        assert_eq!(Name::<ProblemKinds>::all().last(), Some(&"refused-address"));
        assert_eq!(Name::<RecipientTypes>::all(), ["TO", "CC", "BCC"]);
        assert_eq!(Name::<DeliveryStatuses>::all(), ["PENDING", "OK", "ERROR"]);
        assert_eq!(Name::<DeliverySubStatuses>::all(), ["QUEUED", "DEFERRED", "DELIVERED", "BOUNCED", "DROPPED"]);
        assert_eq!(Name::<PasswordMailStates>::all(), ["PENDING", "OK", "FAILED", "NOT_TRIGGERED"]);
        assert_eq!(Name::<EventPhases>::all(), ["PROCESS", "PRE_PROCESS", "DELIVER", "TRIGGER"]);
        assert_eq!(Name::<EventSubTypes>::all().len(), 12);
        assert_eq!(Name::<SuppressionReasons>::all(), ["HARD_BOUNCE", "SOFT_BOUNCE"]);
        for reason in SuppressionReasons::ALL {
            assert_eq!(Reason::parse(reason.as_str()), Some(reason));
        }
    }

    #[test]
    fn every_vocabulary_but_the_password_mails_names_every_value() {
        assert!(total::<ProblemKinds>() && total::<WarningKinds>() && total::<RecipientTypes>());
        assert!(total::<DeliveryStatuses>() && total::<DeliverySubStatuses>());
        assert!(total::<EventPhases>() && total::<EventStates>() && total::<EventTypes>() && total::<EventSubTypes>());
        assert!(total::<SuppressionReasons>());
        assert!(!total::<PasswordMailStates>(), "a message without a password mail shows `null`");
        assert!(Name::<PasswordMailStates>::shown(PasswordState::None).is_none());
    }

    #[test]
    fn a_name_serializes_as_itself() {
        let json = |v: serde_json::Value| v.to_string();
        assert_eq!(json(serde_json::json!(Name::<RecipientTypes>::new(Role::Bcc))), "\"BCC\"");
        let sub = Name::<EventSubTypes>::new(EventKind::PasswordMailNotTriggered);
        assert_eq!(json(serde_json::json!(sub)), "\"NOT_TRIGGERED\"");
        let refused = Name::<ProblemKinds>::new(ProblemKindCase::RefusedAddress);
        assert_eq!(json(serde_json::json!(refused)), "\"refused-address\"");
    }

    #[test]
    fn the_sub_status_description_pairs_each_with_its_status() {
        assert_eq!(
            DeliverySubStatuses::description(),
            "The detail of a delivery status: `QUEUED` and `DEFERRED` with `PENDING`, `DELIVERED` with `OK`, \
             `BOUNCED` and `DROPPED` with `ERROR`."
        );
    }
}
