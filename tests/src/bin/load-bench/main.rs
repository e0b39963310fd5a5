//! `load-bench`: the whole service under load, from outside. It drives the release `sealmail`
//! server over HTTP with small secure jobs (one 100 KiB flagged attachment, one recipient
//! block with two recipients) and measures, against Postfix's `smtp-sink` as the next hop:
//!
//! - the raw SMTP message rate of that sink, with Postfix's `smtp-source`, for messages of the
//!   size sealmail sends (the ceiling sealmail's delivery rate is compared with);
//! - accept latency at a fixed offered rate (open loop: requests leave on a schedule, and
//!   latency counts from the scheduled time, so a slow server cannot hide its queueing);
//! - throughput in a closed loop: accepted jobs/s, and end-to-end jobs/s from the first
//!   submission until the sink has every original and every password mail;
//! - scale-out: the same closed loop with 1 node on SQLite, 1 node on PostgreSQL and
//!   2 nodes on one PostgreSQL database (submissions round-robin, both delivering to the one
//!   sink), side by side with the sink's raw rate. PostgreSQL is a private cluster of the
//!   harness with `fsync=on` and `synchronous_commit=on`: commits cost what they cost in
//!   production.
//!
//! The sink, clamd, PostgreSQL and the servers are separate processes, so the CPU time of each
//! is read from `/proc` and reported: on a 2-core machine they all share the same cores. The
//! figures and how to read them are in `docs/performance.md` ("Service pipeline", "Scale-out on
//! PostgreSQL"); run it with `cargo xtask bench load`.
//!
//! It prints figures and judges the targets, but it is not a test: a missed target never fails
//! it; only a broken setup (a tool missing, the server not starting, a probe job that does not
//! arrive as expected) does. Progress goes to standard error, the report to standard output.

mod accept;
mod job;
mod measure;
mod options;
mod probe;
mod raw_rate;
mod report;
mod server;
mod sink;
mod throughput;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Result, bail};
use sealmail_test_support::postgres::create_durable_database;
use sealmail_test_support::{Clamd, Signatures};
use sealmail_tests::machine::Machine;

use crate::accept::phase_accept;
use crate::job::JobBody;
use crate::measure::progress;
use crate::options::{Options, Setup};
use crate::probe::probe;
use crate::raw_rate::{RawRates, SMTP_SOURCE};
use crate::report::Report;
use crate::server::{Launch, PostgresSettings, clamd_version, server_binary};
use crate::sink::SMTP_SINK;
use crate::throughput::phase_throughput;

#[tokio::main]
async fn main() -> Result<()> {
    let options = Options::parse()?;
    let machine = Machine::describe();
    for tool in [SMTP_SINK, SMTP_SOURCE] {
        if !std::path::Path::new(tool).is_file() {
            bail!("{tool} is missing: `cargo xtask bench load` installs Postfix (Debian `postfix`)");
        }
    }
    let binary = server_binary();
    if !binary.is_file() {
        bail!(
            "{} is missing: run `cargo build --release -p sealmail` (`cargo xtask bench load` does)",
            binary.display()
        );
    }
    let clamd = if options.antivirus {
        progress("starting clamd (test signatures)");
        Some(Clamd::start(Signatures::Eicar))
    } else {
        None
    };
    let scanner = clamd.as_ref().map(Clamd::tcp_address);
    let bodies = Arc::new(JobBody::new());
    // `$SEALMAIL_CACHE_DIR` keeps the compiled components after the run: `perf report` needs
    // them to name the guest's functions.
    let temporary_cache = tempfile::Builder::new().prefix("sealmail-load-bench-cache-").tempdir()?;
    let cache_dir =
        std::env::var_os("SEALMAIL_CACHE_DIR").map_or_else(|| temporary_cache.path().to_path_buf(), PathBuf::from);
    let launch = Launch { binary, cache_dir, scanner };

    progress("probe: one job through an in-process SMTP server, to learn the message sizes");
    let sizes = probe(&launch, &bodies).await?;
    progress(&format!("original {} bytes, password mail {} bytes", sizes.original, sizes.password));

    progress("raw rate of the sink (smtp-source)");
    let raw = RawRates::measure(&sizes)?;

    progress(&format!(
        "phase A: open loop, {} req/s for {} s, workers {}",
        options.rate, options.rate_secs, options.workers[0]
    ));
    let accept = phase_accept(&launch, &bodies, &options).await?;

    let mut throughput = Vec::new();
    for &workers in &options.workers {
        progress(&format!(
            "phase B: closed loop, {} submitters, {} jobs, workers {workers}",
            options.concurrency, options.jobs
        ));
        throughput.push(phase_throughput(&launch, &bodies, &options, workers, Setup::Sqlite, None).await?);
    }

    // Scale-out: SQLite's figure is phase B's run with the same workers; each PostgreSQL run
    // gets a fresh database on one durable cluster, which `cluster` keeps running.
    let cluster = if options.stores.iter().any(|s| s.nodes_on_postgres().is_some()) {
        progress("starting PostgreSQL (private cluster, fsync=on, synchronous_commit=on)");
        let keeper = create_durable_database().await;
        let settings = PostgresSettings::read(&keeper).await?;
        Some((keeper, settings))
    } else {
        None
    };
    let mut scale_out = Vec::new();
    for &setup in &options.stores {
        if setup == Setup::Sqlite {
            continue;
        }
        let workers = options.scale_workers();
        progress(&format!(
            "scale-out: closed loop on {}, {} submitters, {} jobs, workers {workers} per node",
            setup.label(),
            options.concurrency,
            options.jobs
        ));
        let database = create_durable_database().await;
        scale_out.push(phase_throughput(&launch, &bodies, &options, workers, setup, Some(&database)).await?);
    }

    let report = Report {
        machine,
        options,
        antivirus: clamd.as_ref().map(|_| clamd_version()),
        sizes,
        raw,
        accept,
        throughput,
        scale_out,
        postgres: cluster.as_ref().map(|(_, settings)| settings.clone()),
    };
    report.print();
    drop(cluster);
    drop(clamd);
    Ok(())
}
