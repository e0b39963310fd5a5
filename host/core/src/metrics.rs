//! Prometheus metrics (`GET /metrics`, docs/service.md#observability), in the OpenMetrics text format of the
//! official Rust client: what an operator alerts on — jobs in and out, the queue, delivery
//! and callback outcomes, and how long the sandboxed component takes.
//!
//! Counters count what happened on this node since it started (Prometheus sums nodes and
//! handles restarts); `sealmail_jobs_unfinished` is read from the store at scrape time, so on
//! PostgreSQL every node reports the whole cluster's queue. Labels are small closed sets —
//! never an address, an account or a job id, which would grow a series per customer.

use std::time::Duration;

use std::fmt::Write as _;

use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::bindings::delivery::{DeliveryStatus, MessageKind};
use crate::vocabulary::WitEnum;

/// A WIT enum as a label value: its snake-case name (`password_mail`, `delivered`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct WitLabel<T>(T);

impl<T: WitEnum> std::hash::Hash for WitLabel<T> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.snake_name().hash(state);
    }
}

impl<T: WitEnum + std::fmt::Debug> EncodeLabelValue for WitLabel<T> {
    fn encode(&self, encoder: &mut LabelValueEncoder<'_>) -> std::fmt::Result {
        encoder.write_str(self.0.snake_name())
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryLabels {
    kind: WitLabel<MessageKind>,
    outcome: WitLabel<DeliveryStatus>,
}

/// A callback try's result.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[expect(non_camel_case_types, reason = "the variant names are the Prometheus label values")]
pub enum CallbackOutcome {
    /// 2xx.
    delivered,
    /// Will be tried again.
    retry,
    /// Refused for good or out of tries.
    failed,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallbackLabels {
    outcome: CallbackOutcome,
}

/// A call into the component.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[expect(non_camel_case_types, reason = "the variant names are the Prometheus label values")]
pub enum Call {
    /// `validation.validate` at submission.
    validate,
    /// `workflow.start-job`.
    start_job,
    /// `workflow.deliver`.
    deliver,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    call: Call,
}

/// Why a submission was not accepted.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[expect(non_camel_case_types, reason = "the variant names are the Prometheus label values")]
pub enum Refusal {
    /// 400: the JobRequest breaks rules.
    invalid,
    /// 429: the account's hourly limit.
    rate_limited,
    /// 503: the queue is full or the store unavailable.
    unavailable,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusalLabels {
    reason: Refusal,
}

fn call_histogram() -> Histogram {
    // 1 ms to ~33 s: validation takes milliseconds, sealing a large archive seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The node's metrics.
pub struct Metrics {
    registry: Registry,
    jobs_accepted: Counter,
    jobs_refused: Family<RefusalLabels, Counter>,
    jobs_finished: Counter,
    jobs_purged: Counter,
    jobs_unfinished: Gauge,
    deliveries: Family<DeliveryLabels, Counter>,
    callbacks: Family<CallbackLabels, Counter>,
    component_seconds: Family<CallLabels, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric under the `sealmail_` prefix.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("sealmail");
        let jobs_accepted = Counter::default();
        registry.register("jobs_accepted", "Jobs accepted (202, stored durably)", jobs_accepted.clone());
        let jobs_refused = Family::<RefusalLabels, Counter>::default();
        registry.register("jobs_refused", "Submissions not accepted, by reason", jobs_refused.clone());
        let jobs_finished = Counter::default();
        registry.register("jobs_finished", "Jobs whose every recipient reached a final state", jobs_finished.clone());
        let jobs_purged = Counter::default();
        registry.register(
            "jobs_purged",
            "Finished jobs erased: past the retention period, or deleted through the API",
            jobs_purged.clone(),
        );
        let jobs_unfinished = Gauge::default();
        registry.register(
            "jobs_unfinished",
            "Jobs accepted and not finished, in the whole store (the queue depth)",
            jobs_unfinished.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register("deliveries", "Recipient outcomes of delivery attempts", deliveries.clone());
        let callbacks = Family::<CallbackLabels, Counter>::default();
        registry.register("callbacks", "Callback POST tries by result", callbacks.clone());
        let component_seconds = Family::<CallLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            call_histogram as fn() -> Histogram,
        );
        registry.register(
            "component_call_seconds",
            "Wall time of calls into the sandboxed component, host calls included",
            component_seconds.clone(),
        );
        Self {
            registry,
            jobs_accepted,
            jobs_refused,
            jobs_finished,
            jobs_purged,
            jobs_unfinished,
            deliveries,
            callbacks,
            component_seconds,
        }
    }

    /// A job was accepted.
    pub fn job_accepted(&self) {
        self.jobs_accepted.inc();
    }

    /// A submission was refused.
    pub fn job_refused(&self, reason: Refusal) {
        self.jobs_refused.get_or_create(&RefusalLabels { reason }).inc();
    }

    /// Counts a job whose every recipient is resolved.
    pub fn job_finished(&self) {
        self.jobs_finished.inc();
    }

    /// `n` finished jobs were erased (retention or `DELETE`).
    pub fn jobs_purged(&self, n: u64) {
        self.jobs_purged.inc_by(n);
    }

    /// Final and intermediate recipient states a commit recorded.
    /// (A recipient still `queued` had no attempt: not counted.)
    pub fn delivery(&self, kind: MessageKind, status: DeliveryStatus) {
        if status == DeliveryStatus::Queued {
            return;
        }
        self.deliveries.get_or_create(&DeliveryLabels { kind: WitLabel(kind), outcome: WitLabel(status) }).inc();
    }

    /// A callback try ended.
    pub fn callback(&self, outcome: CallbackOutcome) {
        self.callbacks.get_or_create(&CallbackLabels { outcome }).inc();
    }

    /// A component call took `elapsed`.
    pub fn component_call(&self, call: Call, elapsed: Duration) {
        self.component_seconds.get_or_create(&CallLabels { call }).observe(elapsed.as_secs_f64());
    }

    /// The exposition, with the queue depth as of now.
    pub fn render(&self, unfinished_jobs: Option<u64>) -> String {
        if let Some(n) = unfinished_jobs {
            self.jobs_unfinished.set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_names_every_metric_with_its_labels() {
        let m = Metrics::new();
        m.job_accepted();
        m.job_refused(Refusal::rate_limited);
        m.delivery(MessageKind::PasswordMail, DeliveryStatus::Delivered);
        m.callback(CallbackOutcome::retry);
        m.component_call(Call::start_job, Duration::from_millis(3));
        let text = m.render(Some(7));
        for line in [
            "sealmail_jobs_accepted_total 1",
            "sealmail_jobs_refused_total{reason=\"rate_limited\"} 1",
            "sealmail_jobs_unfinished 7",
            "sealmail_deliveries_total{kind=\"password_mail\",outcome=\"delivered\"} 1",
            "sealmail_callbacks_total{outcome=\"retry\"} 1",
            "sealmail_component_call_seconds_count{call=\"start_job\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
