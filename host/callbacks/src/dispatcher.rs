//! The callback dispatcher: tasks that claim due outbox posts from the store, send each as
//! one signed `POST`, and record the outcome (docs/callbacks.md).
//!
//! One try: build the body ([`super::payload`]), sign it when the account has webhook
//! secrets ([`super::signature`]; the timestamp is the try's, so a receiver's replay window
//! holds for retries too), post it through the SSRF guard ([`super::http`]), and classify
//! the answer ([`super::retry`]): `2xx` delivers, `301`–`308` and `400`–`406` and a refused
//! address fail for good, anything else is tried again on the configured schedule until the
//! tries run out. A crash between the POST and the commit repeats the try after the lease:
//! receivers may see a post twice, with the same `webhook-id` and tags.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rand::SeedableRng as _;
use rand::rngs::StdRng;
use tokio::sync::{Notify, watch};

use super::http::{Post, PostError, Poster};
use super::payload;
use super::retry::{RetryPolicy, Verdict, classify};
use super::signature::{self, Secret};
use sealmail_core::clock::{idle_nap, now_ms};
use sealmail_core::metrics::{CallbackOutcome, Metrics};
use sealmail_store::{ClaimedPost, PostOutcome, Store};

use crate::CallbackSetup;

/// What the dispatcher tasks share.
pub struct Dispatcher {
    /// The store with the outbox.
    pub store: Arc<dyn Store>,
    /// Posts through the SSRF guard.
    pub poster: Poster,
    /// The retry schedule.
    pub retry: RetryPolicy,
    /// Webhook secrets per account (accounts without one send unsigned callbacks).
    pub secrets: HashMap<String, Vec<Secret>>,
    /// How long a claimed post belongs to its task.
    pub lease: Duration,
    /// Idle polling interval.
    pub poll: Duration,
    /// Signalled when events are committed.
    pub wake: Arc<Notify>,
    /// The node's metrics.
    pub metrics: Arc<Metrics>,
}

impl Dispatcher {
    /// The dispatcher of `config` on `store`: signing with each account's `secrets`, holding
    /// claimed posts for `lease` and looking for due ones every `poll` when `wake` is not
    /// signalled. Fails when the HTTP client cannot be built.
    pub fn from_config(
        config: &crate::CallbacksConfig,
        store: Arc<dyn Store>,
        secrets: HashMap<String, Vec<Secret>>,
        (lease, poll): (Duration, Duration),
        wake: Arc<Notify>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, reqwest::Error> {
        let poster = Poster::new(config.address_policy(), config.resolver_overrides.clone(), config.timeout())?;
        Ok(Self { store, poster, retry: config.retry_policy(), secrets, lease, poll, wake, metrics })
    }

    /// Runs `tasks` dispatcher tasks on the current runtime until `shutdown`; each finishes
    /// its try in hand first.
    pub fn spawn(self: Arc<Self>, tasks: usize, shutdown: watch::Receiver<bool>) -> Vec<tokio::task::JoinHandle<()>> {
        (0..tasks.max(1)).map(|n| tokio::spawn(self.clone().run(n, shutdown.clone()))).collect()
    }

    async fn run(self: Arc<Self>, n: usize, mut shutdown: watch::Receiver<bool>) {
        let owner = format!("{}-callbacks-{}-{n}", std::process::id(), uuid::Uuid::new_v4().simple());
        loop {
            if *shutdown.borrow() {
                break;
            }
            let now = now_ms();
            // Claiming is a write; look first (a read) whether anything is due.
            let due = match self.store.next_post_due().await {
                Ok(due) => due,
                Err(e) => {
                    tracing::error!(error = %e, "cannot read the callback outbox");
                    None
                }
            };
            if due.is_some_and(|d| d <= now) {
                match self.store.claim_post(&owner, now, self.lease.as_millis() as u64).await {
                    Ok(Some(post)) => {
                        self.try_post(post).await;
                        continue;
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "cannot claim a callback"),
                }
            }
            let nap = idle_nap(due, now, self.poll);
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(nap) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// One try of `post`, committed.
    async fn try_post(&self, post: ClaimedPost) {
        let setup = match CallbackSetup::from_stored(&post.setup) {
            Ok(setup) => setup,
            // Not recorded: the post keeps its lease until it runs out, and is claimed (and
            // this is logged) again.
            Err(e) => {
                tracing::error!(job = %post.job_id, post = post.id, error = %e, "the callback setup is unreadable");
                return;
            }
        };
        let body = payload::body(&post, &setup);
        let mut headers = setup.endpoint.headers.clone();
        if let Some(secrets) = self.secrets.get(&post.account).filter(|s| !s.is_empty()) {
            let id = payload::webhook_id(&post.job_id, post.id);
            let timestamp = now_ms() / 1000;
            headers.push(("webhook-signature".into(), signature::header(secrets, &id, timestamp, &body)));
            headers.push(("webhook-id".into(), id));
            headers.push(("webhook-timestamp".into(), timestamp.to_string()));
        }
        let request =
            Post { url: setup.endpoint.url.clone(), headers, basic_auth: setup.endpoint.basic_auth.clone(), body };
        let answer = self.poster.post(&request).await;
        let tried = post.tries + 1;
        let outcome = outcome(&self.retry, answer, tried, now_ms());
        match &outcome {
            PostOutcome::Delivered { .. } => {
                tracing::debug!(job = %post.job_id, post = post.id, tried, "callback delivered")
            }
            PostOutcome::Failed { http_status, error } => tracing::warn!(
                job = %post.job_id, post = post.id, tried, ?http_status, error = error.as_deref().unwrap_or(""),
                "callback failed for good"
            ),
            PostOutcome::Retry { http_status, error, .. } => tracing::info!(
                job = %post.job_id, post = post.id, tried, ?http_status, error = error.as_deref().unwrap_or(""),
                "callback not delivered; will retry"
            ),
        }
        self.metrics.callback(match outcome {
            PostOutcome::Delivered { .. } => CallbackOutcome::delivered,
            PostOutcome::Retry { .. } => CallbackOutcome::retry,
            PostOutcome::Failed { .. } => CallbackOutcome::failed,
        });
        if let Err(e) = self.store.commit_post(post.id, now_ms(), outcome).await {
            // Not recorded: the lease runs out and the try is repeated.
            tracing::error!(job = %post.job_id, post = post.id, error = %e, "cannot record a callback try");
        }
    }
}

/// What the answer to the `tried`-th try of a post means, at `now`, under `retry`.
fn outcome(retry: &RetryPolicy, answer: Result<u16, PostError>, tried: u32, now: u64) -> PostOutcome {
    let (status, error) = match answer {
        Ok(status) => (Some(status), None),
        // A URL the guard refuses, or that cannot be used, will not change by waiting.
        Err(e @ (PostError::Refused(_) | PostError::Url { .. })) => {
            return PostOutcome::Failed { http_status: None, error: Some(e.to_string()) };
        }
        Err(e @ PostError::Unreachable(_)) => (None, Some(e.to_string())),
    };
    match classify(status) {
        Verdict::Delivered => PostOutcome::Delivered { http_status: status.unwrap_or(200) },
        Verdict::Final => PostOutcome::Failed { http_status: status, error },
        Verdict::Retry => match retry.next_delay(tried, &mut StdRng::from_os_rng()) {
            Some(wait) => PostOutcome::Retry { at_ms: now + wait.as_millis() as u64, http_status: status, error },
            None => PostOutcome::Failed { http_status: status, error },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssrf::AddressPolicy;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            tries: 3,
            early_interval: Duration::from_secs(2),
            late_interval: Duration::from_secs(8),
            jitter: 0.0,
        }
    }

    #[test]
    fn answers_deliver_fail_or_retry_until_the_tries_run_out() {
        let p = policy();
        assert_eq!(outcome(&p, Ok(204), 1, 1_000), PostOutcome::Delivered { http_status: 204 });
        assert_eq!(outcome(&p, Ok(404), 1, 1_000), PostOutcome::Failed { http_status: Some(404), error: None });
        assert_eq!(outcome(&p, Ok(302), 1, 1_000), PostOutcome::Failed { http_status: Some(302), error: None });
        assert_eq!(
            outcome(&p, Ok(500), 1, 1_000),
            PostOutcome::Retry { at_ms: 3_000, http_status: Some(500), error: None }
        );
        assert_eq!(
            outcome(&p, Ok(503), 2, 1_000),
            PostOutcome::Retry { at_ms: 9_000, http_status: Some(503), error: None },
            "the second half waits longer"
        );
        assert_eq!(outcome(&p, Ok(500), 3, 1_000), PostOutcome::Failed { http_status: Some(500), error: None });
    }

    #[test]
    fn no_answer_is_retried_and_a_refused_address_is_final() {
        let p = policy();
        let down = outcome(&p, Err(PostError::Unreachable("timed out".into())), 1, 0);
        assert!(
            matches!(down, PostOutcome::Retry { at_ms: 2_000, http_status: None, error: Some(ref e) } if e.contains("timed out"))
        );
        let refused = AddressPolicy::default()
            .check("10.0.0.1".parse().unwrap())
            .expect_err("private addresses are refused by default");
        let PostOutcome::Failed { http_status: None, error: Some(why) } = outcome(&p, Err(refused.into()), 1, 0) else {
            panic!("a refused address must fail for good")
        };
        assert!(why.contains("10.0.0.1"), "{why}");
    }
}
