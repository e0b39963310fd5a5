//! The `service` world's adapter: `workflow` exports to [`crate::workflow`], and the
//! host-capability imports as its [`Host`](crate::workflow::Host). Type mapping only.

use super::Component;
use super::exports::sealmail::mail::workflow as wit;
use super::sealmail::mail::{antivirus, clock, delivery, notifier, transport};
use crate::workflow::{self as wf, Host};

/// The imports, as the workflow's host.
struct Imports;

impl Host for Imports {
    fn now(&mut self) -> u64 {
        clock::now()
    }

    fn scan(&mut self, name: &str, content: &[u8]) -> wf::Verdict {
        match antivirus::scan(name, content) {
            antivirus::Verdict::Clean => wf::Verdict::Clean,
            antivirus::Verdict::Infected(s) => wf::Verdict::Infected(s),
            antivirus::Verdict::Unavailable(s) => wf::Verdict::Unavailable(s),
            antivirus::Verdict::Skipped => wf::Verdict::Skipped,
        }
    }

    fn send(&mut self, message_id: &str, recipients: &[String]) -> Vec<(String, wf::Outcome)> {
        let reply = |r: transport::Reply| wf::Reply { code: r.code, enhanced: r.enhanced, text: r.text };
        transport::send(message_id, recipients)
            .into_iter()
            .map(|r| {
                let outcome = match r.outcome {
                    transport::Outcome::Delivered(x) => wf::Outcome::Delivered(reply(x)),
                    transport::Outcome::Permanent(x) => wf::Outcome::Permanent(reply(x)),
                    transport::Outcome::Temporary(x) => wf::Outcome::Temporary(reply(x)),
                };
                (r.address, outcome)
            })
            .collect()
    }

    fn enqueue(&mut self, m: wf::OutgoingMessage) {
        delivery::enqueue(&delivery::OutgoingMessage {
            message_id: m.message_id,
            kind: kind_to_wit(m.kind),
            block: m.block,
            parent: m.parent,
            reverse_path: m.reverse_path,
            recipients: m
                .recipients
                .into_iter()
                .map(|r| delivery::Recipient { address: r.address, name: r.name, role: role_to_wit(r.role) })
                .collect(),
            content: m.content,
            held_secret: m.held_secret,
        });
    }

    fn held_secret(&mut self, message_id: &str) -> Option<Vec<u8>> {
        delivery::held_secret(message_id)
    }

    fn emit(&mut self, e: wf::Event) {
        notifier::emit(&notifier::Event {
            block: e.block,
            recipient: e.recipient,
            kind: event_kind_to_wit(e.kind),
            description: e.description,
        });
    }
}

impl wit::Guest for Component {
    fn start_job(
        job: wit::JobContext,
        request_bytes: Vec<u8>,
        limits: wit::Limits,
        policy: wit::Policy,
    ) -> Result<wit::StartOutcome, wit::WorkflowError> {
        let ctx = context_from_wit(job);
        let limits = super::limits_from_wit(limits);
        let outcome = wf::start_job(
            &mut Imports,
            &mut super::system_rng(),
            &ctx,
            &request_bytes,
            &limits,
            &policy_from_wit(policy),
        )
        .map_err(error_to_wit)?;
        Ok(match outcome {
            wf::StartOutcome::Queued(updates) => {
                wit::StartOutcome::Queued(updates.into_iter().map(update_to_wit).collect())
            }
            wf::StartOutcome::Dropped(updates) => {
                wit::StartOutcome::Dropped(updates.into_iter().map(update_to_wit).collect())
            }
            wf::StartOutcome::Retry(at, why) => wit::StartOutcome::Retry((at, why)),
        })
    }

    fn deliver(message: wit::MessageState, policy: wit::Policy) -> Result<wit::DeliverOutcome, wit::WorkflowError> {
        let message = message_from_wit(message);
        let outcome = wf::deliver(&mut Imports, &mut super::system_rng(), &message, &policy_from_wit(policy))
            .map_err(error_to_wit)?;
        Ok(wit::DeliverOutcome {
            updates: outcome.updates.into_iter().map(update_to_wit).collect(),
            retry_at: outcome.retry_at,
            erase_held_secret: outcome.erase_held_secret,
        })
    }

    fn recover_start(
        job: wit::JobContext,
        recipients: Vec<wit::JobRecipient>,
        secure: bool,
        failure: wit::CallFailure,
        policy: wit::Policy,
    ) -> wit::StartRecovery {
        let recipients: Vec<wf::JobRecipient> =
            recipients.into_iter().map(|r| wf::JobRecipient { block: r.block, address: r.address }).collect();
        let failure = failure_from_wit(failure);
        match wf::recover_start(
            &mut Imports,
            &context_from_wit(job),
            &recipients,
            secure,
            &failure,
            &policy_from_wit(policy),
        ) {
            wf::StartRecovery::Retry(at) => wit::StartRecovery::Retry(at),
            wf::StartRecovery::Abandon(updates) => {
                wit::StartRecovery::Abandon(updates.into_iter().map(update_to_wit).collect())
            }
        }
    }

    fn recover_delivery(message: wit::MessageState, failure: wit::CallFailure, policy: wit::Policy) -> u64 {
        wf::recover_delivery(
            &mut Imports,
            &message_from_wit(message),
            &failure_from_wit(failure),
            &policy_from_wit(policy),
        )
    }

    fn late_bounce(report: wit::BounceReport) -> wit::LateBounceOutcome {
        let bounce = wf::LateBounce {
            message: message_from_wit(report.message),
            address: report.address,
            status: report.status,
            description: report.description,
        };
        match wf::late_bounce(&mut Imports, &bounce) {
            wf::LateBounceOutcome::Bounced(update) => wit::LateBounceOutcome::Bounced(update_to_wit(update)),
            wf::LateBounceOutcome::NotDelivered => wit::LateBounceOutcome::NotDelivered,
            wf::LateBounceOutcome::PasswordMail => wit::LateBounceOutcome::PasswordMail,
        }
    }
}

fn message_from_wit(message: wit::MessageState) -> wf::MessageState {
    wf::MessageState {
        message_id: message.message_id,
        kind: match message.kind {
            delivery::MessageKind::Original => wf::MessageKind::Original,
            delivery::MessageKind::PasswordMail => wf::MessageKind::PasswordMail,
        },
        block: message.block,
        parent: message.parent,
        first_attempt_ms: message.first_attempt_ms,
        attempts: message.attempts,
        recipients: message
            .recipients
            .into_iter()
            .map(|r| wf::RecipientState {
                address: r.address,
                name: r.name,
                role: match r.role {
                    delivery::Role::To => wf::Role::To,
                    delivery::Role::Cc => wf::Role::Cc,
                    delivery::Role::Bcc => wf::Role::Bcc,
                },
                status: status_from_wit(r.status),
            })
            .collect(),
    }
}

fn failure_from_wit(failure: wit::CallFailure) -> wf::CallFailure {
    match failure {
        wit::CallFailure::Host(why) => wf::CallFailure::Host(why),
        wit::CallFailure::Component(why) => wf::CallFailure::Component(why),
        wit::CallFailure::Workflow(e) => wf::CallFailure::Workflow(match e {
            wit::WorkflowError::Invalid(problems) => {
                wf::WorkflowError::Invalid(problems.into_iter().map(super::problem_from_wit).collect())
            }
            wit::WorkflowError::Internal(why) => wf::WorkflowError::Internal(why),
        }),
    }
}

fn context_from_wit(job: wit::JobContext) -> wf::JobContext {
    wf::JobContext {
        job_id: job.job_id,
        received_ms: job.received_ms,
        message_id_domain: job.message_id_domain,
        attempts: job.attempts,
        suppressed: job
            .suppressed
            .into_iter()
            .map(|s| wf::SuppressedAddress {
                address: s.address,
                bounced: matches!(s.reason, wit::SuppressionReason::PreviouslyBounced),
                description: s.description,
            })
            .collect(),
    }
}

fn policy_from_wit(p: wit::Policy) -> wf::Policy {
    wf::Policy { retry_delays_ms: p.retry_delays_ms, max_queue_lifetime_ms: p.max_queue_lifetime_ms }
}

fn error_to_wit(e: wf::WorkflowError) -> wit::WorkflowError {
    match e {
        wf::WorkflowError::Invalid(problems) => {
            wit::WorkflowError::Invalid(problems.into_iter().map(super::problem_to_wit).collect())
        }
        wf::WorkflowError::Internal(why) => wit::WorkflowError::Internal(why),
    }
}

fn update_to_wit(u: wf::RecipientUpdate) -> wit::RecipientUpdate {
    wit::RecipientUpdate {
        block: u.block,
        address: u.address,
        status: status_to_wit(u.status),
        password: u.password.map(|p| match p {
            wf::PasswordState::None => delivery::PasswordState::None,
            wf::PasswordState::Pending => delivery::PasswordState::Pending,
            wf::PasswordState::Queued => delivery::PasswordState::Queued,
            wf::PasswordState::Ok => delivery::PasswordState::Ok,
            wf::PasswordState::Failed => delivery::PasswordState::Failed,
            wf::PasswordState::NotTriggered => delivery::PasswordState::NotTriggered,
        }),
        reply: u.reply,
        detail: u.detail,
    }
}

super::twin_enums!(status_to_wit, status_from_wit: wf::DeliveryStatus => delivery::DeliveryStatus {
    Queued, Deferred, Delivered, Bounced, Expired, Dropped,
});

fn kind_to_wit(k: wf::MessageKind) -> delivery::MessageKind {
    match k {
        wf::MessageKind::Original => delivery::MessageKind::Original,
        wf::MessageKind::PasswordMail => delivery::MessageKind::PasswordMail,
    }
}

fn role_to_wit(r: wf::Role) -> delivery::Role {
    match r {
        wf::Role::To => delivery::Role::To,
        wf::Role::Cc => delivery::Role::Cc,
        wf::Role::Bcc => delivery::Role::Bcc,
    }
}

fn event_kind_to_wit(k: wf::EventKind) -> notifier::EventKind {
    use notifier::EventKind as W;
    use wf::EventKind as K;
    match k {
        K::ProcessingStarted => W::ProcessingStarted,
        K::ProcessingFinished => W::ProcessingFinished,
        K::VirusDetected => W::VirusDetected,
        K::ProcessingFailed => W::ProcessingFailed,
        K::PreviouslyBounced => W::PreviouslyBounced,
        K::Suppressed => W::Suppressed,
        K::AntivirusSkipped => W::AntivirusSkipped,
        K::Delivered => W::Delivered,
        K::Deferred => W::Deferred,
        K::HardBounce => W::HardBounce,
        K::SoftBounce => W::SoftBounce,
        K::PasswordMailOk => W::PasswordMailOk,
        K::PasswordMailFailed => W::PasswordMailFailed,
        K::PasswordMailNotTriggered => W::PasswordMailNotTriggered,
    }
}
