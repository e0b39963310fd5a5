//! Retention (docs/service.md#retention): how long a finished job's status report, events and remaining rows
//! are kept (`[retention]`), and the purge task every `sealmail serve` runs to erase them
//! afterwards. What erasing a job removes, and what stays (the account's suppression list),
//! is [`sealmail_store::erase`]; `DELETE /rest/v1/jobs/{jobId}` erases one job earlier.
//!
//! Only finished jobs are ever purged, counted from when they finished: a job still
//! delivering (a deferred message, a password mail waiting for its original) is kept
//! whatever its age. On PostgreSQL every node runs the task; each batch locks the jobs it
//! erases and skips those another node holds, so nodes share the work and a repeated
//! batch changes nothing.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::watch;

use sealmail_core::clock::now_ms;
use sealmail_core::metrics::Metrics;
use sealmail_store::erase::PURGE_BATCH;
use sealmail_store::{Store, StoreError};

/// `[retention]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetentionConfig {
    /// Days a finished job is kept after it finished (default 45, Retarus' period for
    /// status and events); 0 keeps finished jobs until they are deleted through the API.
    pub days: u64,
    /// For tests: the period in seconds instead of `days` (0: erased at the first purge
    /// after it finished).
    pub secs: Option<u64>,
    /// How often each node looks for jobs past the period, seconds.
    pub purge_interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        // An hour between passes: a job is erased at most an hour after its period ends,
        // and a pass over nothing costs one indexed query.
        Self { days: 45, secs: None, purge_interval_secs: 3600 }
    }
}

impl RetentionConfig {
    /// How long a finished job is kept; none: until deleted.
    pub fn period(&self) -> Option<Duration> {
        match (self.secs, self.days) {
            (Some(secs), _) => Some(Duration::from_secs(secs)),
            (None, 0) => None,
            (None, days) => Some(Duration::from_secs(days.saturating_mul(24 * 3600))),
        }
    }
}

/// The purge task of one node.
pub struct Purger {
    store: Arc<dyn Store>,
    period: Duration,
    interval: Duration,
    metrics: Arc<Metrics>,
}

impl Purger {
    /// The purge of `config`, or none when finished jobs are kept until deleted.
    pub fn new(config: &RetentionConfig, store: Arc<dyn Store>, metrics: Arc<Metrics>) -> Option<Self> {
        let period = config.period()?;
        Some(Self { store, period, interval: Duration::from_secs(config.purge_interval_secs.max(1)), metrics })
    }

    /// Erases every job that finished more than the period before `now_ms`, one batch per
    /// transaction; how many.
    pub async fn purge_expired(&self, now_ms: u64) -> Result<u64, StoreError> {
        let before = now_ms.saturating_sub(u64::try_from(self.period.as_millis()).unwrap_or(u64::MAX));
        let mut total = 0;
        loop {
            let erased = self.store.purge_finished(before, PURGE_BATCH).await?;
            total += erased;
            self.metrics.jobs_purged(erased);
            if erased < PURGE_BATCH as u64 {
                break;
            }
            // Let the API's and the workers' writes in between batches.
            tokio::task::yield_now().await;
        }
        // The erased rows' old pages leave SQLite's `-wal` file and free pages at the store's
        // own periodic maintenance (`store/sqlite/vacuum.rs`: incremental vacuum, then
        // `wal_checkpoint(TRUNCATE)`); a pass that must be out of the files at once would
        // call `SqliteStore::checkpoint` here when `total > 0`.
        Ok(total)
    }

    /// Runs a pass at once and then every interval, until `stopped` turns true (or its
    /// sender is gone).
    pub fn spawn(self: Arc<Self>, mut stopped: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let days = self.period.as_secs() / (24 * 3600);
            loop {
                if *stopped.borrow() {
                    break;
                }
                match self.purge_expired(now_ms()).await {
                    Ok(0) => tracing::debug!("retention: no finished job past its period"),
                    Ok(n) => tracing::info!(
                        purged = n,
                        retention_days = days,
                        retention_secs = self.period.as_secs(),
                        "retention: erased {n} finished job(s) past the retention period"
                    ),
                    // The next pass repeats it: erasing is idempotent.
                    Err(e) => tracing::warn!(error = %e, "retention: the purge failed; retrying at the next pass"),
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.interval) => {}
                    changed = stopped.changed() => if changed.is_err() { break },
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealmail_store::at_rest::AtRestKey;
    use sealmail_store::sqlite::SqliteStore;
    use sealmail_store::{Effects, StartDecision, Work};

    #[test]
    fn the_period_is_45_days_unless_configured() {
        let days = |c: &RetentionConfig| c.period().map(|p| p.as_secs() / 86_400);
        assert_eq!(days(&RetentionConfig::default()), Some(45));
        let config: RetentionConfig = toml::from_str("days = 7").unwrap();
        assert_eq!(days(&config), Some(7));
        let forever: RetentionConfig = toml::from_str("days = 0").unwrap();
        assert_eq!(forever.period(), None);
        let test: RetentionConfig = toml::from_str("days = 0\nsecs = 2\npurge_interval_secs = 1").unwrap();
        assert_eq!(test.period(), Some(Duration::from_secs(2)));
        assert!(toml::from_str::<RetentionConfig>("hours = 1").is_err(), "unknown keys are errors");
    }

    #[tokio::test]
    async fn a_pass_erases_every_batch_of_expired_jobs_and_counts_them() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> =
            Arc::new(SqliteStore::open(&dir.path().join("t.db"), AtRestKey::from_bytes([3; 32])).unwrap());
        let jobs = PURGE_BATCH + 3;
        for i in 0..jobs {
            store.submit(sealmail_store::conformance::job(&format!("j{i}"), None)).await.unwrap();
            let Some(Work::Start(job)) = store.claim("w", 2_000, 60_000).await.unwrap() else { panic!("no job") };
            // Dropped at the start: finished at once, at 2 s.
            let dropped = StartDecision::Dropped(Vec::new());
            assert!(store.commit_start(&job.id, 2_000, dropped, Effects::default()).await.unwrap());
        }
        let metrics = Arc::new(Metrics::new());
        let config = RetentionConfig { days: 0, secs: Some(10), purge_interval_secs: 1 };
        let purger = Purger::new(&config, store.clone(), metrics.clone()).expect("a period");
        assert_eq!(purger.purge_expired(11_999).await.unwrap(), 0, "finished 9.999 s ago");
        assert_eq!(purger.purge_expired(12_001).await.unwrap(), jobs as u64, "every batch");
        assert!(store.job_status("acme", "j0").await.unwrap().is_none());
        let exposition = metrics.render(None);
        assert!(exposition.lines().any(|l| l == format!("sealmail_jobs_purged_total {jobs}")), "{exposition}");
    }
}
