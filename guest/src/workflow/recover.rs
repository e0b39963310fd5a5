//! What follows a workflow call whose result the host could not use (`recover-start`,
//! `recover-delivery` in `wit/workflow.wit`): the host reports the failure, the workflow
//! decides, so a failed call is retried or given up by the same rules everywhere.
//!
//! A host failure (the store could not be read) is temporary: the call is repeated on the
//! policy's schedule, as a deferral is. A job whose start failed in any other way (the
//! component trapped or hit a limit, the stored request no longer validates) is given up:
//! every recipient is dropped with `PROCESS/FINISHED/DROPPED/PROCESSING_FAILED`, and a
//! secure job's recipients get the one PASSWORD_MAIL event each of them is owed
//! (`NOT_TRIGGERED`: nothing was sent; docs/secure-documents.md). A delivery attempt that
//! failed is always repeated: the message is stored and its recipients' fates are open.

use super::WorkflowError;
use super::start::event;
use super::{DeliveryStatus, EventKind, Host, JobContext, MessageState, PasswordState, Policy, RecipientUpdate};

/// A recipient of a job as the host stored it (`workflow.job-recipient`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecipient {
    /// The recipient block.
    pub block: u32,
    /// An address of that block, one recipient.
    pub address: String,
}

/// Why the host could not use a call (`workflow.call-failure`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallFailure {
    /// A host capability failed during the call.
    Host(String),
    /// The component trapped or exceeded a sandbox limit.
    Component(String),
    /// The call answered a workflow error.
    Workflow(WorkflowError),
}

/// What follows a failed `start-job` (`workflow.start-recovery`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartRecovery {
    /// Start the job again at (ms).
    Retry(u64),
    /// The job is given up: every recipient's final state (the events were emitted).
    Abandon(Vec<RecipientUpdate>),
}

/// Decides what follows the failed start of `job`, whose recipients are `recipients`.
pub fn recover_start<H: Host>(
    host: &mut H,
    job: &JobContext,
    recipients: &[JobRecipient],
    secure: bool,
    failure: &CallFailure,
    policy: &Policy,
) -> StartRecovery {
    let why = match failure {
        CallFailure::Host(_) => return StartRecovery::Retry(host.now() + policy.delay(job.attempts)),
        CallFailure::Component(why) => format!("processing failed: {why}"),
        CallFailure::Workflow(WorkflowError::Internal(why)) => format!("processing failed: {why}"),
        CallFailure::Workflow(WorkflowError::Invalid(problems)) => {
            let list: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
            format!("the stored request is no longer valid: {}", list.join("; "))
        }
    };
    let mut updates = Vec::with_capacity(recipients.len());
    for r in recipients {
        host.emit(event(r.block, &r.address, EventKind::ProcessingFailed, &why));
        if secure {
            host.emit(event(r.block, &r.address, EventKind::PasswordMailNotTriggered, "the message was not sent"));
        }
        updates.push(RecipientUpdate {
            block: r.block,
            address: r.address.clone(),
            status: DeliveryStatus::Dropped,
            password: secure.then_some(PasswordState::NotTriggered),
            reply: None,
            detail: None,
        });
    }
    StartRecovery::Abandon(updates)
}

/// Decides when `message`, whose `deliver` call failed, is attempted again (ms).
pub fn recover_delivery<H: Host>(host: &mut H, message: &MessageState, _failure: &CallFailure, policy: &Policy) -> u64 {
    host.now() + policy.delay(message.attempts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Problem, ProblemKind};
    use crate::workflow::fake::FakeHost;

    fn job(attempts: u32) -> JobContext {
        JobContext {
            job_id: "j".into(),
            received_ms: 1_000,
            message_id_domain: "x.example".into(),
            attempts,
            suppressed: Vec::new(),
        }
    }

    fn policy() -> Policy {
        Policy { retry_delays_ms: vec![1_000, 5_000], max_queue_lifetime_ms: 60_000 }
    }

    fn recipients() -> Vec<JobRecipient> {
        vec![
            JobRecipient { block: 0, address: "a@x.example".into() },
            JobRecipient { block: 1, address: "b@x.example".into() },
        ]
    }

    #[test]
    fn a_host_failure_starts_the_job_again_on_the_schedule_and_emits_nothing() {
        let mut host = FakeHost { now: 10_000, ..FakeHost::default() };
        let failure = CallFailure::Host("store: connection reset".into());
        assert_eq!(
            recover_start(&mut host, &job(0), &recipients(), true, &failure, &policy()),
            StartRecovery::Retry(11_000)
        );
        assert_eq!(
            recover_start(&mut host, &job(7), &recipients(), true, &failure, &policy()),
            StartRecovery::Retry(15_000)
        );
        assert!(host.events.is_empty());
    }

    #[test]
    fn a_failed_secure_start_drops_every_recipient_with_its_one_password_mail_event() {
        let mut host = FakeHost::default();
        let failure = CallFailure::Component("the component exceeded its time limit of 1s".into());
        let StartRecovery::Abandon(updates) =
            recover_start(&mut host, &job(0), &recipients(), true, &failure, &policy())
        else {
            panic!("given up")
        };
        assert_eq!(updates.len(), 2);
        assert!(
            updates
                .iter()
                .all(|u| u.status == DeliveryStatus::Dropped && u.password == Some(PasswordState::NotTriggered))
        );
        assert_eq!(host.kinds("a@x.example"), [EventKind::ProcessingFailed, EventKind::PasswordMailNotTriggered]);
        assert_eq!(host.events[0].description, "processing failed: the component exceeded its time limit of 1s");
        assert_eq!(host.kinds("b@x.example"), [EventKind::ProcessingFailed, EventKind::PasswordMailNotTriggered]);
    }

    #[test]
    fn a_request_that_no_longer_validates_names_every_problem_and_a_plain_job_owes_no_password_event() {
        let mut host = FakeHost::default();
        let problems = vec![
            Problem { path: "/subject".into(), kind: ProblemKind::Missing, message: "is missing".into() },
            Problem { path: "/mail/from".into(), kind: ProblemKind::Missing, message: "is missing".into() },
        ];
        let failure = CallFailure::Workflow(WorkflowError::Invalid(problems));
        let StartRecovery::Abandon(updates) =
            recover_start(&mut host, &job(0), &recipients(), false, &failure, &policy())
        else {
            panic!("given up")
        };
        assert!(updates.iter().all(|u| u.password.is_none()));
        assert_eq!(host.kinds("a@x.example"), [EventKind::ProcessingFailed]);
        assert_eq!(
            host.events[0].description,
            "the stored request is no longer valid: /subject: is missing; /mail/from: is missing"
        );
    }

    #[test]
    fn a_failed_delivery_attempt_is_repeated_on_the_schedule() {
        let mut host = FakeHost { now: 50_000, ..FakeHost::default() };
        let message = MessageState {
            message_id: "m@x".into(),
            kind: super::super::MessageKind::Original,
            block: 0,
            parent: None,
            first_attempt_ms: 1_000,
            attempts: 1,
            recipients: Vec::new(),
        };
        let failure = CallFailure::Component("the component failed: unreachable".into());
        assert_eq!(recover_delivery(&mut host, &message, &failure, &policy()), 55_000);
    }
}
