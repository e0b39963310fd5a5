//! The worker pool: claims due work from the store with a lease, runs the workflow in a
//! fresh component instance, and commits what it decided (ARCHITECTURE.md#division-of-labour,
//! docs/service.md#delivery). When a call fails, the workflow is asked what follows
//! (`recover-start`, `recover-delivery`); only a sandbox with no free instance, or a
//! recovery that fails too, makes the pool itself put the step off.
//!
//! A crash at any point loses nothing: a job or message stays in the store until a commit
//! says otherwise, and its lease expires (or, on the only node of an SQLite store, is
//! released at start-up), so another worker repeats the step. A repeated delivery attempt
//! may send an original twice to the recipients in flight at the crash; a password mail
//! can only exist after the commit that recorded its original as delivered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tracing::Instrument as _;

use sealmail_core::bindings::validation::Limits;
use sealmail_core::bindings::workflow::{CallFailure, JobContext, MessageState, Policy, StartOutcome, StartRecovery};
use sealmail_core::clock::{idle_nap, now_ms};
use sealmail_core::metrics::{Call, Metrics};
use sealmail_sandbox::CallError;
use sealmail_store::{
    ClaimedJob, ClaimedMessage, DeliveryDecision, DeliveryStatus, Effects, MessageKind, StartDecision, Store,
    Suppression, SuppressionPolicy, Work,
};

use crate::runtime::{Called, ServiceRuntime, Services};

/// A busy sandbox (every instance slot taken) is retried this soon: no call was made, so
/// there is nothing for the workflow to decide.
const BUSY_RETRY_MS: u64 = 1_000;
/// When even the workflow's recovery of a failed call fails (a broken component), the step
/// is put off this long: the job or message stays stored, nothing is sent, and the error is
/// logged at every try.
const RECOVERY_FAILED_RETRY_MS: u64 = 60_000;

/// Why a call's result cannot be used, as the workflow's recovery is told; none for a busy
/// sandbox, where no call was made.
fn failure_of<T>(
    called: &Result<Called<Result<T, sealmail_core::bindings::workflow::WorkflowError>>, CallError>,
) -> Option<CallFailure> {
    match called {
        Ok(Called { result: Ok(_), .. }) | Err(CallError::Busy { .. }) => None,
        Ok(Called { result: Err(e), .. }) => Some(CallFailure::Workflow(e.clone())),
        Err(CallError::Host(why)) => Some(CallFailure::Host(why.clone())),
        Err(e) => Some(CallFailure::Component(e.to_string())),
    }
}

/// What every worker shares.
pub struct Pool {
    /// The workflow component.
    pub runtime: ServiceRuntime,
    /// The capabilities.
    pub services: Arc<Services>,
    /// Request limits (for the re-validation in `start-job`).
    pub limits: Limits,
    /// Retry schedule and queue lifetime.
    pub policy: Policy,
    /// Domain of generated Message-IDs.
    pub message_id_domain: String,
    /// Lease length.
    pub lease: Duration,
    /// Idle polling interval.
    pub poll: Duration,
    /// Signalled when new work is stored.
    pub wake: Arc<Notify>,
    /// Signalled when events are committed (wakes the callback dispatcher).
    pub events: Arc<Notify>,
    /// Jobs accepted and not finished (the back-pressure gauge).
    pub unfinished: Arc<AtomicU64>,
    /// How long bounces list their addresses.
    pub suppression: SuppressionPolicy,
    /// The node's metrics.
    pub metrics: Arc<Metrics>,
}

impl Pool {
    /// The pool of `queue`: `runtime` with `services`, re-validating with `limits`, naming
    /// messages in `message_id_domain`, listing bounces by `suppression`. `wake` is
    /// signalled when work is stored, `events` when events are committed; `unfinished`
    /// counts the jobs in flight.
    #[expect(clippy::too_many_arguments, reason = "one argument per piece the node wires in")]
    pub fn new(
        queue: &crate::config::QueueConfig,
        runtime: ServiceRuntime,
        services: Arc<Services>,
        limits: Limits,
        message_id_domain: String,
        suppression: SuppressionPolicy,
        (wake, events): (Arc<Notify>, Arc<Notify>),
        unfinished: Arc<AtomicU64>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            runtime,
            services,
            limits,
            policy: queue.policy(),
            message_id_domain,
            lease: queue.lease(),
            poll: queue.poll(),
            wake,
            events,
            unfinished,
            suppression,
            metrics,
        }
    }
}

/// How much lower the workers' CPU priority is than the API's (Linux `nice` steps).
const WORKER_NICENESS: i32 = 5;

impl Pool {
    /// Runs `workers` workers on their own runtime and OS threads until `shutdown`. The
    /// workers run sandboxed guest code for milliseconds at a time; on the API's runtime
    /// that would hold up request handling (tokio schedules cooperatively), so they get
    /// threads of their own, at a lower priority: accepting a job (one fsync) comes before
    /// working on the queue. Returns when every worker has finished its step in hand.
    pub fn spawn(
        self: Arc<Self>,
        workers: usize,
        shutdown: watch::Receiver<bool>,
    ) -> std::io::Result<std::thread::JoinHandle<()>> {
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("sealmail-worker")
            .on_thread_start(lower_priority)
            .enable_all()
            .build()?;
        std::thread::Builder::new().name("sealmail-workers".into()).spawn(move || {
            runtime.block_on(async move {
                let tasks: Vec<_> =
                    (0..workers.max(1)).map(|n| tokio::spawn(self.clone().run(n, shutdown.clone()))).collect();
                for task in tasks {
                    let _ = task.await;
                }
            });
        })
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.services.store
    }

    /// Runs worker `n` until `shutdown` turns true; finishes the step in hand first.
    pub async fn run(self: Arc<Self>, n: usize, mut shutdown: watch::Receiver<bool>) {
        let owner = format!("{}-{}-{n}", std::process::id(), uuid::Uuid::new_v4().simple());
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = now_ms();
            match self.store().claim(&owner, now, self.lease.as_millis() as u64).await {
                Ok(Some(Work::Start(job))) => {
                    // Every log line of the job's processing carries its id.
                    let span = tracing::info_span!("job", job_id = %job.id);
                    self.start(job).instrument(span).await;
                    continue;
                }
                Ok(Some(Work::Deliver(message))) => {
                    let span = tracing::info_span!("job", job_id = %message.job_id, message_id = %message.id);
                    self.deliver(message).instrument(span).await;
                    continue;
                }
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "cannot claim work"),
            }
            let nap = idle_nap(self.store().next_due().await.ok().flatten(), now, self.poll);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(nap) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn start(&self, job: ClaimedJob) {
        // Looked up at every start: an address listed or released since submission counts
        // (the list is read outside the commit; an entry changing meanwhile is the same race
        // as one changing a moment later).
        let suppressed = match self.store().job_suppressions(&job.id, now_ms()).await {
            Ok(entries) => entries.iter().map(Suppression::to_wit).collect(),
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "cannot read the suppression list; the start waits");
                return;
            }
        };
        let context = JobContext {
            job_id: job.id.clone(),
            received_ms: job.received_ms,
            message_id_domain: self.message_id_domain.clone(),
            attempts: job.attempts,
            suppressed,
        };
        let started = std::time::Instant::now();
        let called = self
            .runtime
            .start_job(self.services.clone(), context.clone(), job.request, self.limits, self.policy.clone())
            .await;
        self.metrics.component_call(Call::start_job, started.elapsed());
        let (decision, effects) = match (failure_of(&called), called) {
            (None, Ok(Called { result: Ok(outcome), effects })) => match outcome {
                StartOutcome::Queued(dropped) => (StartDecision::Queued(dropped), effects),
                StartOutcome::Dropped(updates) => (StartDecision::Dropped(updates), effects),
                StartOutcome::Retry((at, why)) => {
                    tracing::warn!(job = %job.id, %why, "job waits: a capability is unavailable");
                    (StartDecision::Retry(at), Effects::default())
                }
            },
            (Some(failure), _) => {
                match &failure {
                    CallFailure::Host(why) => tracing::warn!(job = %job.id, %why, "host failure during start-job"),
                    other => tracing::error!(job = %job.id, failure = ?other, "start-job failed"),
                }
                match self.recover_start(context, job.secure, failure).await {
                    Some(recovered) => recovered,
                    None => (StartDecision::Retry(now_ms() + RECOVERY_FAILED_RETRY_MS), Effects::default()),
                }
            }
            (None, _) => (StartDecision::Retry(now_ms() + BUSY_RETRY_MS), Effects::default()),
        };
        let now = now_ms();
        let queued = !effects.enqueued.is_empty();
        let dropped: Vec<DeliveryStatus> = match &decision {
            StartDecision::Queued(updates) | StartDecision::Dropped(updates) => {
                updates.iter().map(|u| u.status).collect()
            }
            StartDecision::Retry(_) => Vec::new(),
        };
        let what = match &decision {
            StartDecision::Queued(_) => "queued",
            StartDecision::Dropped(_) => "dropped",
            StartDecision::Retry(_) => "waits",
        };
        match self.store().commit_start(&job.id, now, decision, effects).await {
            Ok(finished) => {
                tracing::info!(queued, dropped = dropped.len(), "start-job committed: {what}");
                for status in dropped {
                    self.metrics.delivery(MessageKind::Original, status);
                }
                if finished {
                    self.job_finished();
                }
                if queued {
                    self.wake.notify_one();
                }
                // Every commit but a retry records events.
                self.events.notify_one();
            }
            // Not committed: the lease runs out and the step is repeated.
            Err(e) => tracing::error!(job = %job.id, error = %e, "cannot commit start-job"),
        }
    }

    /// The workflow's decision on a start that failed with `failure`; none when that could
    /// not be had either (the recipients could not be read, or the recovery call failed).
    async fn recover_start(
        &self,
        context: JobContext,
        secure: bool,
        failure: CallFailure,
    ) -> Option<(StartDecision, Effects)> {
        let job_id = context.job_id.clone();
        let recipients = match self.store().job_recipients(&job_id).await {
            Ok(recipients) => recipients,
            Err(e) => {
                tracing::error!(job = %job_id, error = %e, "cannot read the job's recipients to recover its start");
                return None;
            }
        };
        let recovered = self
            .runtime
            .recover_start(self.services.clone(), context, (recipients, secure), failure, self.policy.clone())
            .await;
        match recovered {
            Ok(Called { result: StartRecovery::Retry(at), .. }) => Some((StartDecision::Retry(at), Effects::default())),
            Ok(Called { result: StartRecovery::Abandon(updates), effects }) => {
                Some((StartDecision::Dropped(updates), effects))
            }
            Err(e) => {
                tracing::error!(job = %job_id, error = %e, "recover-start failed; the start waits");
                None
            }
        }
    }

    async fn deliver(&self, message: ClaimedMessage) {
        let state = MessageState {
            message_id: message.id.clone(),
            kind: message.kind,
            block: message.block,
            parent: message.parent.clone(),
            first_attempt_ms: message.first_attempt_ms,
            attempts: message.attempts,
            recipients: message.recipients.clone(),
        };
        let started = std::time::Instant::now();
        let called = self.runtime.deliver(self.services.clone(), state.clone(), self.policy.clone()).await;
        self.metrics.component_call(Call::deliver, started.elapsed());
        let now = now_ms();
        let committed = match (failure_of(&called), called) {
            (None, Ok(Called { result: Ok(outcome), effects })) => {
                let queued = !effects.enqueued.is_empty();
                let emitted = !effects.events.is_empty();
                let suppress = crate::suppress::entries_for(
                    &self.suppression,
                    message.kind,
                    &outcome.updates,
                    &message.job_id,
                    now,
                );
                let statuses: Vec<DeliveryStatus> = outcome.updates.iter().map(|u| u.status).collect();
                let suppress_count = suppress.len();
                let decision = DeliveryDecision {
                    updates: outcome.updates,
                    retry_at: outcome.retry_at,
                    erase_held_secret: outcome.erase_held_secret,
                    suppress,
                };
                let result = self.store().commit_delivery(&message.id, now, decision, effects).await;
                if let Ok(finished) = result {
                    let count = |s: DeliveryStatus| statuses.iter().filter(|&&x| x == s).count();
                    tracing::info!(
                        kind = ?message.kind,
                        delivered = count(DeliveryStatus::Delivered),
                        deferred = count(DeliveryStatus::Deferred),
                        bounced = count(DeliveryStatus::Bounced),
                        expired = count(DeliveryStatus::Expired),
                        suppressed = suppress_count,
                        "delivery attempt committed"
                    );
                    for status in &statuses {
                        self.metrics.delivery(message.kind, *status);
                    }
                    if finished {
                        self.job_finished();
                    }
                    if queued {
                        self.wake.notify_one();
                    }
                    if emitted {
                        self.events.notify_one();
                    }
                }
                result.map(|_| ())
            }
            (Some(failure), _) => {
                tracing::warn!(message = %message.id, failure = ?failure, "delivery attempt failed; retrying");
                let at = match self
                    .runtime
                    .recover_delivery(self.services.clone(), state, failure, self.policy.clone())
                    .await
                {
                    Ok(Called { result: at, .. }) => at,
                    Err(e) => {
                        tracing::error!(message = %message.id, error = %e, "recover-delivery failed; the attempt waits");
                        now + RECOVERY_FAILED_RETRY_MS
                    }
                };
                self.store().reschedule_message(&message.id, at).await
            }
            (None, _) => self.store().reschedule_message(&message.id, now + BUSY_RETRY_MS).await,
        };
        if let Err(e) = committed {
            tracing::error!(message = %message.id, error = %e, "cannot commit the delivery attempt");
        }
    }

    /// A job finished on this node.
    fn job_finished(&self) {
        self.metrics.job_finished();
        tracing::info!("job finished");
        // Saturating: on a shared database this node also finishes jobs that other nodes
        // accepted, so its count could otherwise wrap below zero.
        let _ = self.unfinished.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
    }
}

/// Lowers the calling thread's CPU priority (on Linux, `nice` is per thread).
#[cfg_attr(target_os = "linux", expect(unsafe_code, reason = "libc's setpriority is a foreign function"))]
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; `who = 0` is the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, WORKER_NICENESS);
    }
}

#[cfg(test)]
mod tests {
    //! The pool with the real service component: what follows a call that failed is the
    //! workflow's decision, committed as it decided.
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;

    use sealmail_core::bindings::validation::Limits;
    use sealmail_core::metrics::Metrics;
    use sealmail_sandbox::{RuntimeConfig, Sandbox};
    use sealmail_smtp::{DkimSigners, Transport, TransportConfig};
    use sealmail_store::at_rest::AtRestKey;
    use sealmail_store::sqlite::SqliteStore;
    use sealmail_store::{DeliveryStatus, EventKind, PasswordState, Store, SuppressionPolicy, Work};
    use tokio::sync::Notify;

    use super::Pool;
    use crate::config::QueueConfig;
    use crate::runtime::{ServiceRuntime, Services};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_start_that_fails_is_given_up_as_the_workflow_decides() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("t.db"), AtRestKey::from_bytes([5; 32])).unwrap());
        let sandbox = Sandbox::new(RuntimeConfig { cache_dir: None, ..RuntimeConfig::default() }).unwrap();
        let services = Arc::new(Services {
            store: store.clone(),
            transport: Transport::from_config(&TransportConfig::Outbox { dir: dir.path().join("outbox") }).unwrap(),
            dkim: DkimSigners::from_config(&[]).unwrap(),
            scanners: None,
            allow_insecure_no_antivirus: true,
            verp: None,
        });
        // The stored request (not a JobRequest) does not validate at the start: the
        // workflow answers `invalid`, and its recovery gives the job up.
        let limits = Limits {
            max_request_bytes: 1 << 20,
            max_message_bytes: 1 << 20,
            max_addresses: 10,
            max_rendered_bytes: 1 << 20,
        };
        let pool = Pool::new(
            &QueueConfig::default(),
            ServiceRuntime::new(&sandbox).unwrap(),
            services,
            limits,
            "x.example".into(),
            SuppressionPolicy::default(),
            (Arc::new(Notify::new()), Arc::new(Notify::new())),
            Arc::new(AtomicU64::new(1)),
            Arc::new(Metrics::new()),
        );
        store.submit(sealmail_store::conformance::job("j1", None)).await.unwrap();
        let Some(Work::Start(job)) = store.claim("w", 2_000, 60_000).await.unwrap() else { panic!("no job") };
        pool.start(job).await;

        let report = store.job_status("acme", "j1").await.unwrap().expect("the job");
        assert!(report.recipients.iter().all(|r| r.status == DeliveryStatus::Dropped), "{:?}", report.recipients);
        assert!(report.recipients.iter().all(|r| r.password == PasswordState::NotTriggered));
        let kinds: Vec<_> = report.events.iter().map(|e| (e.recipient.as_str(), e.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("a@x.example", EventKind::ProcessingFailed),
                ("a@x.example", EventKind::PasswordMailNotTriggered),
                ("b@x.example", EventKind::ProcessingFailed),
                ("b@x.example", EventKind::PasswordMailNotTriggered)
            ]
        );
        assert!(
            report.events[0].description.starts_with("the stored request is no longer valid: "),
            "{}",
            report.events[0].description
        );
        assert_eq!(store.unfinished_jobs().await.unwrap(), 0);
    }
}
