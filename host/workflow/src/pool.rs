//! The worker pool: claims due work from the store with a lease, runs the workflow in a
//! fresh component instance, and commits what it decided (DESIGN §1, §4).
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
use sealmail_core::bindings::workflow::{
    JobContext, MessageState, Policy, RecipientState, StartOutcome, WorkflowError,
};
use sealmail_core::clock::{idle_nap, now_ms};
use sealmail_core::metrics::{Call, Metrics};
use sealmail_sandbox::CallError;
use sealmail_store::suppression::Reason;
use sealmail_store::{
    ClaimedJob, ClaimedMessage, DeliveryDecision, DeliveryStatus, Effects, MessageKind, StartDecision, Store,
    Suppression, SuppressionPolicy, Work,
};

use crate::runtime::{ServiceRuntime, Services};

/// A busy sandbox (every instance slot taken) is retried this soon.
const BUSY_RETRY_MS: u64 = 1_000;

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
                    // Every log line of the job's processing carries its id (issue 7).
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
        let called =
            self.runtime.start_job(self.services.clone(), context, job.request, self.limits, self.policy.clone()).await;
        self.metrics.component_call(Call::start_job, started.elapsed());
        let now = now_ms();
        let (decision, effects) = match called {
            Ok(called) if called.failure.is_some() => {
                let why = called.failure.unwrap_or_default();
                tracing::warn!(job = %job.id, %why, "host failure during start-job; retrying");
                (StartDecision::Retry(now + self.policy_delay(job.attempts)), Effects::default())
            }
            Ok(called) => match called.result {
                Ok(StartOutcome::Queued(dropped)) => (StartDecision::Queued(dropped), called.effects),
                Ok(StartOutcome::Dropped(updates)) => (StartDecision::Dropped(updates), called.effects),
                Ok(StartOutcome::Retry((at, why))) => {
                    tracing::warn!(job = %job.id, %why, "job waits: a capability is unavailable");
                    (StartDecision::Retry(at), Effects::default())
                }
                Err(WorkflowError::Invalid(problems)) => {
                    let list: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
                    let why = format!("the stored request is no longer valid: {}", list.join("; "));
                    (StartDecision::Failed(why), Effects::default())
                }
                Err(WorkflowError::Internal(why)) => {
                    tracing::error!(job = %job.id, %why, "workflow failed");
                    (StartDecision::Failed(format!("processing failed: {why}")), Effects::default())
                }
            },
            Err(CallError::Busy { .. }) => (StartDecision::Retry(now + BUSY_RETRY_MS), Effects::default()),
            Err(e) => {
                tracing::error!(job = %job.id, error = %e, "workflow call failed");
                (StartDecision::Failed(format!("processing failed: {e}")), Effects::default())
            }
        };
        let queued = !effects.enqueued.is_empty();
        let dropped: Vec<DeliveryStatus> = match &decision {
            StartDecision::Queued(updates) | StartDecision::Dropped(updates) => {
                updates.iter().map(|u| u.status).collect()
            }
            _ => Vec::new(),
        };
        let what = match &decision {
            StartDecision::Queued(_) => "queued",
            StartDecision::Dropped(_) => "dropped",
            StartDecision::Retry(_) => "waits",
            StartDecision::Failed(_) => "failed",
        };
        match self.store().commit_start(&job.id, now, decision, effects).await {
            Ok(finished) => {
                tracing::info!(queued, dropped = dropped.len(), "start-job committed: {what}");
                for status in dropped {
                    self.metrics.delivery(MessageKind::Original, status);
                }
                if finished {
                    self.metrics.job_finished();
                    tracing::info!("job finished");
                    // Saturating: on a shared database this node also finishes jobs that other
                    // nodes accepted, so its count could otherwise wrap below zero.
                    let _ = self
                        .unfinished
                        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
                }
                if queued {
                    self.wake.notify_one();
                }
                // Every commit but a retry records events (a failed job's are the host's).
                self.events.notify_one();
            }
            // Not committed: the lease runs out and the step is repeated.
            Err(e) => tracing::error!(job = %job.id, error = %e, "cannot commit start-job"),
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
            recipients: message
                .recipients
                .iter()
                .map(|(address, name, role, status)| RecipientState {
                    address: address.clone(),
                    name: name.clone(),
                    role: *role,
                    status: *status,
                })
                .collect(),
        };
        let started = std::time::Instant::now();
        let called = self.runtime.deliver(self.services.clone(), state, self.policy.clone()).await;
        self.metrics.component_call(Call::deliver, started.elapsed());
        let now = now_ms();
        let retry = |why: String| {
            tracing::warn!(message = %message.id, %why, "delivery attempt failed; retrying");
            now + self.policy_delay(message.attempts)
        };
        let committed = match called {
            Ok(called) if called.failure.is_some() => {
                self.store().reschedule_message(&message.id, retry(called.failure.unwrap_or_default())).await
            }
            Ok(called) => match called.result {
                Ok(outcome) => {
                    let queued = !called.effects.enqueued.is_empty();
                    let emitted = !called.effects.events.is_empty();
                    let suppress = self.bounces(&message, &outcome.updates, now);
                    let statuses: Vec<DeliveryStatus> = outcome.updates.iter().map(|u| u.status).collect();
                    let suppress_count = suppress.len();
                    let decision = DeliveryDecision {
                        updates: outcome.updates,
                        retry_at: outcome.retry_at,
                        erase_held_secret: outcome.erase_held_secret,
                        suppress,
                    };
                    let result = self.store().commit_delivery(&message.id, now, decision, called.effects).await;
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
                            self.metrics.job_finished();
                            tracing::info!("job finished");
                            let _ = self
                                .unfinished
                                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| Some(n.saturating_sub(1)));
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
                Err(e) => self.store().reschedule_message(&message.id, retry(e.to_string())).await,
            },
            Err(CallError::Busy { .. }) => self.store().reschedule_message(&message.id, now + BUSY_RETRY_MS).await,
            Err(e) => self.store().reschedule_message(&message.id, retry(e.to_string())).await,
        };
        if let Err(e) = committed {
            tracing::error!(message = %message.id, error = %e, "cannot commit the delivery attempt");
        }
    }

    /// The suppression-list entries an attempt's bounces make (DESIGN §4): a rejected
    /// original lists its address for the hard-bounce period, an expired one for the
    /// soft-bounce period. A password mail's bounce lists nothing: its original got through.
    fn bounces(
        &self,
        message: &ClaimedMessage,
        updates: &[sealmail_store::RecipientUpdate],
        now: u64,
    ) -> Vec<Suppression> {
        if !self.suppression.enabled || message.kind != MessageKind::Original {
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
                Some(Suppression::after_bounce(&self.suppression, reason, &u.address, detail, &message.job_id, now))
            })
            .collect()
    }

    fn policy_delay(&self, attempts: u32) -> u64 {
        match self.policy.retry_delays_ms.as_slice() {
            [] => 60_000,
            d => d[(attempts as usize).min(d.len() - 1)],
        }
    }
}

/// Lowers the calling thread's CPU priority (on Linux, `nice` is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority only reads its integer arguments; `who = 0` is the calling thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, WORKER_NICENESS);
    }
}
