//! Which bounces put an address on its account's suppression list
//! (docs/service.md#suppression-list), decided in one place for delivery attempts and for
//! bounces reported after delivery: a refused original lists its address for the hard-bounce
//! period, an expired one for the soft-bounce period. A password mail's bounce lists nothing:
//! its original got through.

use sealmail_store::suppression::Reason;
use sealmail_store::{DeliveryStatus, MessageKind, RecipientUpdate, Suppression, SuppressionPolicy};

/// The entries that `updates` of a `kind` message of `job_id` make at `now_ms` (from a
/// delivery attempt, or a bounce reported after delivery).
pub(crate) fn entries_for(
    policy: &SuppressionPolicy,
    kind: MessageKind,
    updates: &[RecipientUpdate],
    job_id: &str,
    now_ms: u64,
) -> Vec<Suppression> {
    if !policy.enabled || kind != MessageKind::Original {
        return Vec::new();
    }
    updates
        .iter()
        .filter_map(|u| {
            let reason = match u.status {
                DeliveryStatus::Bounced => Reason::HardBounce,
                DeliveryStatus::Expired => Reason::SoftBounce,
                _ => return None,
            };
            let detail = u.reply.as_deref().unwrap_or("no reply");
            Some(Suppression::after_bounce(policy, reason, &u.address, detail, job_id, now_ms))
        })
        .collect()
}
