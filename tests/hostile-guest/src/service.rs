//! The `service` world's workflow: hostile on command in `start-job`, otherwise a minimal
//! real workflow — one plain-text message per recipient block (To recipients only), sent
//! through the host's transport, each outcome reported as the real guest would (delivered,
//! bounced, deferred). Enough for a test to see other jobs delivered beside a hostile one.

use super::Hostile;
use super::exports::sealmail::mail::workflow as wit;
use super::sealmail::mail::{clock, delivery, notifier, transport};

impl wit::Guest for Hostile {
    fn start_job(
        job: wit::JobContext,
        request: Vec<u8>,
        _limits: wit::Limits,
        _policy: wit::Policy,
    ) -> Result<wit::StartOutcome, wit::WorkflowError> {
        super::misbehave(&request);
        let doc: serde_json::Value =
            serde_json::from_slice(&request).map_err(|e| wit::WorkflowError::Internal(e.to_string()))?;
        let from = doc["mail"]["from"]["email"].as_str().unwrap_or("postmaster@localhost").to_owned();
        let subject = doc["subject"]["content"].as_str().unwrap_or_default();
        let body = doc["body"]["content"].as_str().unwrap_or_default();
        let blocks = doc["recipients"].as_array().cloned().unwrap_or_default();
        for (block, recipients) in blocks.iter().enumerate() {
            let block = block as u32;
            let to: Vec<String> = recipients["mail"]["to"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["email"].as_str().map(str::to_owned))
                .collect();
            let message_id = format!("{}.{block}@{}", job.job_id, job.message_id_domain);
            let content = format!(
                "From: <{from}>\r\nTo: {}\r\nSubject: {subject}\r\nMessage-ID: <{message_id}>\r\n\
                 MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
                to.iter().map(|a| format!("<{a}>")).collect::<Vec<_>>().join(", "),
            );
            for address in &to {
                notifier::emit(&event(block, address, notifier::EventKind::ProcessingStarted, "processing started"));
                notifier::emit(&event(block, address, notifier::EventKind::ProcessingFinished, "queued"));
            }
            delivery::enqueue(&delivery::OutgoingMessage {
                message_id,
                kind: delivery::MessageKind::Original,
                block,
                parent: None,
                reverse_path: from.clone(),
                recipients: to
                    .into_iter()
                    .map(|address| delivery::Recipient { address, name: None, role: delivery::Role::To })
                    .collect(),
                content: content.into_bytes(),
                held_secret: None,
            });
        }
        Ok(wit::StartOutcome::Queued(Vec::new()))
    }

    fn deliver(message: wit::MessageState, policy: wit::Policy) -> Result<wit::DeliverOutcome, wit::WorkflowError> {
        use delivery::DeliveryStatus as S;
        let due: Vec<String> = message
            .recipients
            .iter()
            .filter(|r| matches!(r.status, S::Queued | S::Deferred))
            .map(|r| r.address.clone())
            .collect();
        let mut updates = Vec::new();
        let mut deferred = false;
        for result in transport::send(&message.message_id, &due) {
            let (status, kind, reply) = match result.outcome {
                transport::Outcome::Delivered(r) => (S::Delivered, notifier::EventKind::Delivered, r),
                transport::Outcome::Permanent(r) => (S::Bounced, notifier::EventKind::HardBounce, r),
                transport::Outcome::Temporary(r) => (S::Deferred, notifier::EventKind::Deferred, r),
            };
            deferred |= status == S::Deferred;
            notifier::emit(&event(message.block, &result.address, kind, &reply.text));
            updates.push(wit::RecipientUpdate {
                block: message.block,
                address: result.address,
                status,
                password: None,
                reply: Some(reply.text),
                detail: reply.enhanced,
            });
        }
        let delay = policy.retry_delays_ms.first().copied().unwrap_or(60_000);
        Ok(wit::DeliverOutcome { updates, retry_at: deferred.then(|| clock::now() + delay), erase_held_secret: false })
    }

    /// Well-behaved, as the real guest: a host failure waits, anything else gives the job up.
    fn recover_start(
        _job: wit::JobContext,
        recipients: Vec<wit::JobRecipient>,
        secure: bool,
        failure: wit::CallFailure,
        policy: wit::Policy,
    ) -> wit::StartRecovery {
        let why = match failure {
            wit::CallFailure::Host(_) => {
                return wit::StartRecovery::Retry(
                    clock::now() + policy.retry_delays_ms.first().copied().unwrap_or(60_000),
                );
            }
            wit::CallFailure::Component(why) | wit::CallFailure::Workflow(wit::WorkflowError::Internal(why)) => why,
            wit::CallFailure::Workflow(wit::WorkflowError::Invalid(_)) => "the stored request is invalid".into(),
        };
        let why = format!("processing failed: {why}");
        let updates = recipients
            .into_iter()
            .map(|r| {
                notifier::emit(&event(r.block, &r.address, notifier::EventKind::ProcessingFailed, &why));
                if secure {
                    let kind = notifier::EventKind::PasswordMailNotTriggered;
                    notifier::emit(&event(r.block, &r.address, kind, "the message was not sent"));
                }
                wit::RecipientUpdate {
                    block: r.block,
                    address: r.address,
                    status: delivery::DeliveryStatus::Dropped,
                    password: secure.then_some(delivery::PasswordState::NotTriggered),
                    reply: None,
                    detail: None,
                }
            })
            .collect();
        wit::StartRecovery::Abandon(updates)
    }

    fn recover_delivery(_message: wit::MessageState, _failure: wit::CallFailure, policy: wit::Policy) -> u64 {
        clock::now() + policy.retry_delays_ms.first().copied().unwrap_or(60_000)
    }

    /// This guest sends no secure mail and records no late bounce.
    fn late_bounce(_report: wit::BounceReport) -> wit::LateBounceOutcome {
        wit::LateBounceOutcome::NotDelivered
    }
}

fn event(block: u32, recipient: &str, kind: notifier::EventKind, description: &str) -> notifier::Event {
    notifier::Event { block, recipient: recipient.to_owned(), kind, description: description.to_owned() }
}
