//! Backend-generic tests of the [`Store`] contract: every case runs against any
//! implementation, so SQLite and PostgreSQL are held to the same semantics. The SQLite unit
//! tests run them in-process; the `store_postgres` system test runs them against a private
//! PostgreSQL cluster (built with the `conformance` feature).
//!
//! Test code: it panics on the first broken expectation, and is never part of a server.

mod erase;
mod fixtures;
mod jobs;
mod lists;

use std::sync::Arc;

use crate::Store;

pub use fixtures::job;

/// Runs every case, each on a fresh store from `open(max_events_per_post)`.
pub async fn run_all(open: impl AsyncFn(usize) -> Arc<dyn Store>) {
    eprintln!("store conformance: idempotency");
    jobs::idempotency_keys_replay_or_conflict_per_account(&*open(100).await).await;
    eprintln!("store conformance: a job's life");
    jobs::a_job_runs_through_claims_and_commits_and_its_secrets_are_purged(&*open(100).await).await;
    eprintln!("store conformance: callback posts");
    jobs::events_go_out_in_bounded_posts_one_job_in_order(&*open(2).await).await;
    eprintln!("store conformance: dropped start");
    jobs::a_dropped_start_records_every_recipients_final_state_and_events(&*open(100).await).await;
    eprintln!("store conformance: lease expiry");
    jobs::leases_of_a_dead_worker_expire(&*open(100).await).await;
    eprintln!("store conformance: concurrent claims");
    jobs::concurrent_claims_never_hand_out_the_same_work(open(100).await).await;
    eprintln!("store conformance: concurrent completions");
    jobs::concurrent_completions_finish_a_job_exactly_once(open(100).await).await;
    eprintln!("store conformance: concurrent idempotent submissions");
    jobs::concurrent_submissions_with_one_key_store_one_job(open(100).await).await;
    eprintln!("store conformance: suppression list");
    lists::a_bounce_suppresses_its_address_for_the_account_until_it_ends_or_is_removed(&*open(100).await).await;
    lists::a_listed_address_keeps_the_entry_that_ends_later(&*open(100).await).await;
    eprintln!("store conformance: rate limit");
    lists::submissions_beyond_the_hourly_limit_are_refused_and_not_stored(&*open(100).await).await;
    eprintln!("store conformance: late bounce");
    lists::a_late_bounce_turns_a_delivery_into_a_hard_bounce_once(&*open(100).await).await;
    eprintln!("store conformance: delete a job");
    erase::a_finished_job_is_deleted_whole_and_only_by_its_account(&*open(100).await).await;
    eprintln!("store conformance: retention purge");
    erase::the_purge_erases_finished_jobs_before_the_cutoff_only(&*open(100).await).await;
}
