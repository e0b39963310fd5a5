//! The suppression list (docs/service.md#suppression-list): per account, addresses that are not sent to for
//! a while. A hard bounce lists its address for `hard_bounce_days` (Retarus: up to 45 days), a
//! soft bounce — a message that expired undelivered — for `soft_bounce_hours` (Retarus: one
//! day). A listed recipient of a later job is dropped before processing with
//! `PRE_PROCESS/FINISHED/DROPPED/PREVIOUSLY_BOUNCED` and its password mail never triggered.
//!
//! Entries are kept per account and compared by lower-cased address: the local part is
//! case-sensitive in theory (RFC 5321 §2.4), but no receiving system treats it so, and a
//! list that missed `Bob@` after `bob@` bounced would be no list at all.

use std::time::Duration;

use serde::Deserialize;

use sealmail_core::bindings::workflow::{SuppressedAddress, SuppressionReason};

/// Why an address is listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A permanent failure (5xx, a null MX, a DSN reporting a failure).
    HardBounce,
    /// The message expired undelivered after temporary failures.
    SoftBounce,
}

impl Reason {
    /// The name stored and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HardBounce => "HARD_BOUNCE",
            Self::SoftBounce => "SOFT_BOUNCE",
        }
    }

    /// The inverse of [`Reason::as_str`].
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "HARD_BOUNCE" => Some(Self::HardBounce),
            "SOFT_BOUNCE" => Some(Self::SoftBounce),
            _ => None,
        }
    }
}

/// One entry of an account's list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// The address, lower-cased.
    pub address: String,
    /// Why.
    pub reason: Reason,
    /// What the receiving side said (the SMTP reply or the DSN's diagnostic), or why the
    /// message expired.
    pub detail: String,
    /// The job whose message bounced.
    pub job_id: String,
    /// When it was listed, ms.
    pub created_ms: u64,
    /// Until when, ms (exclusive).
    pub until_ms: u64,
}

impl Suppression {
    /// The entry a bounce of `address` in `job_id` at `now_ms` makes under `policy`.
    pub fn after_bounce(
        policy: &SuppressionPolicy,
        reason: Reason,
        address: &str,
        detail: &str,
        job_id: &str,
        now_ms: u64,
    ) -> Self {
        let period = match reason {
            Reason::HardBounce => policy.hard_bounce(),
            Reason::SoftBounce => policy.soft_bounce(),
        };
        Self::for_period(reason, address, detail, job_id, now_ms, period.as_millis() as u64)
    }

    /// The entry listing `address` from `now_ms` for `period_ms`.
    pub fn for_period(reason: Reason, address: &str, detail: &str, job_id: &str, now_ms: u64, period_ms: u64) -> Self {
        Self {
            address: address.to_lowercase(),
            reason,
            detail: detail.to_owned(),
            job_id: job_id.to_owned(),
            created_ms: now_ms,
            until_ms: now_ms.saturating_add(period_ms),
        }
    }

    /// What the workflow is told about a listed recipient; the description becomes the
    /// recipient's PREVIOUSLY_BOUNCED event.
    pub fn to_wit(&self) -> SuppressedAddress {
        let kind = match self.reason {
            Reason::HardBounce => "bounced",
            Reason::SoftBounce => "could not be delivered",
        };
        SuppressedAddress {
            address: self.address.clone(),
            reason: SuppressionReason::PreviouslyBounced,
            description: format!(
                "not sent: the address {kind} in job {} on {} ({}); suppressed until {}",
                self.job_id,
                rfc3339(self.created_ms),
                self.detail,
                rfc3339(self.until_ms)
            ),
        }
    }
}

fn rfc3339(ms: u64) -> String {
    humantime::format_rfc3339_seconds(std::time::UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

/// How long bounces keep an address listed (`[suppression]` in the configuration).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SuppressionPolicy {
    /// List addresses at all. Off, bounces are only reported.
    pub enabled: bool,
    /// Days a hard bounce lists its address (Retarus keeps them up to 45 days).
    pub hard_bounce_days: u64,
    /// Hours an expired message lists its address (Retarus: one day).
    pub soft_bounce_hours: u64,
}

impl Default for SuppressionPolicy {
    fn default() -> Self {
        Self { enabled: true, hard_bounce_days: 45, soft_bounce_hours: 24 }
    }
}

impl SuppressionPolicy {
    /// The hard-bounce period.
    pub fn hard_bounce(&self) -> Duration {
        Duration::from_secs(self.hard_bounce_days.saturating_mul(86_400))
    }

    /// The soft-bounce period.
    pub fn soft_bounce(&self) -> Duration {
        Duration::from_secs(self.soft_bounce_hours.saturating_mul(3_600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounce_lists_the_lower_cased_address_for_the_policys_period() {
        let policy = SuppressionPolicy::default();
        let hard = Suppression::after_bounce(&policy, Reason::HardBounce, "Bob@X.example", "550 5.1.1", "j1", 1_000);
        assert_eq!(hard.address, "bob@x.example");
        assert_eq!(hard.until_ms, 1_000 + 45 * 86_400_000);
        let soft = Suppression::after_bounce(&policy, Reason::SoftBounce, "bob@x.example", "expired", "j1", 1_000);
        assert_eq!(soft.until_ms, 1_000 + 86_400_000);
        let told = hard.to_wit();
        assert!(told.description.contains("bounced in job j1"), "{}", told.description);
        assert!(told.description.contains("550 5.1.1"), "{}", told.description);
        assert_eq!(Reason::parse(hard.reason.as_str()), Some(Reason::HardBounce));
    }
}
