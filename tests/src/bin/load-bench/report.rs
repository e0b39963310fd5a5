//! The report: the printed tables and the verdicts on the targets (missing one is reported,
//! never an error).

use std::time::Duration;

use sealmail_tests::machine::Machine;

use crate::accept::AcceptPhase;
use crate::job::MESSAGES_PER_JOB;
use crate::options::{Options, Setup};
use crate::probe::Sizes;
use crate::raw_rate::{RAW_MESSAGES, RAW_SESSIONS, RawRates};
use crate::server::{PostgresSettings, server_binary};
use crate::throughput::ThroughputPhase;

/// Target: delivered messages/s at least this fraction of the sink's raw message rate.
pub const TARGET_RAW_RATIO: f64 = 0.5;

/// Target: end-to-end jobs/s (2 cores, SQLite).
pub const TARGET_E2E_JOBS_PER_SEC: f64 = 100.0;

/// Target: p99 accept latency at the fixed rate.
pub const TARGET_P99_ACCEPT: Duration = Duration::from_millis(25);

pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

pub fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

pub fn verdict(pass: bool) -> &'static str {
    if pass { "PASS" } else { "MISS" }
}

pub struct Report {
    pub machine: Machine,
    pub options: Options,
    /// clamd's version, or `None` when scanning was off.
    pub antivirus: Option<String>,
    pub sizes: Sizes,
    pub raw: RawRates,
    pub accept: AcceptPhase,
    /// Phase B: SQLite, one run per `--workers` count.
    pub throughput: Vec<ThroughputPhase>,
    /// The PostgreSQL runs of the scale-out comparison, in `--stores` order.
    pub scale_out: Vec<ThroughputPhase>,
    /// The benchmark cluster's settings, when any run was on PostgreSQL.
    pub postgres: Option<PostgresSettings>,
}

impl Report {
    pub fn print(&self) {
        let m = &self.machine;
        println!("sealmail load benchmark (service pipeline), {}", m.date);
        println!("machine:   {} × {}, Linux {}", m.logical_cpus, m.cpu_model, m.kernel);
        println!("load avg:  {} (before the run)", m.load_before);
        println!(
            "sink:      Postfix smtp-sink {} (separate process, counts and discards; nothing on disk)",
            self.raw.sink_version
        );
        println!(
            "antivirus: {}",
            self.antivirus.as_ref().map_or_else(
                || "none (allow_insecure_no_antivirus = true)".to_owned(),
                |v| format!("{v}, real clamd with test signatures, INSTREAM over TCP")
            )
        );
        println!("server:    {} (default settings but [queue] workers and the store)", server_binary().display());
        if let Some(pg) = &self.postgres {
            println!(
                "postgres:  PostgreSQL {}, private cluster on 127.0.0.1 (same machine), fsync={}, \
                 synchronous_commit={}, wal_sync_method={}, shared_buffers={}",
                pg.version, pg.fsync, pg.synchronous_commit, pg.wal_sync_method, pg.shared_buffers
            );
        }
        println!(
            "job:       1 block, 2 recipients, 1 flagged 100 KiB attachment → 1 original ({} B) + 2 password mails ({} B)",
            self.sizes.original, self.sizes.password
        );
        println!();

        println!("Raw SMTP rate of the sink (smtp-source -s {RAW_SESSIONS} -m {RAW_MESSAGES}):");
        for r in [&self.raw.original, &self.raw.original_reuse, &self.raw.password] {
            println!(
                "  {:<58} {:>6.0} msgs/s   ({} msgs in {}; CPU: sink {}, smtp-source {})",
                r.label,
                r.per_sec,
                r.messages,
                secs(r.elapsed),
                secs(r.sink_cpu),
                secs(r.source_cpu)
            );
        }
        println!();

        let a = &self.accept;
        println!(
            "Phase A: open loop, {:.0} req/s offered for {} s, workers {} ({} requests):",
            a.offered_rate, self.options.rate_secs, a.workers, a.offered
        );
        println!("  accepted (202)           {} of {}{}", a.accepted, a.offered, refusals(&a.refused));
        println!(
            "  accept latency           p50 {}   p90 {}   p99 {}   max {}",
            ms(a.latency.at(50.0)),
            ms(a.latency.at(90.0)),
            ms(a.latency.at(99.0)),
            ms(a.latency.max())
        );
        println!(
            "  delivered meanwhile      {} of {} msgs in {} (the server {} the offered rate)",
            a.delivered_during,
            a.accepted as u64 * MESSAGES_PER_JOB,
            secs(a.elapsed),
            if a.delivered_during as f64 >= 0.9 * (a.accepted as u64 * MESSAGES_PER_JOB) as f64 {
                "kept up with"
            } else {
                "queued behind"
            }
        );
        println!("  machine busy             {:.0} %", a.machine_busy_percent);
        println!();

        println!(
            "Phase B: closed loop, {} concurrent submitters, {} jobs per run:",
            self.options.concurrency, self.options.jobs
        );
        let header: Vec<String> = self.throughput.iter().map(|t| format!("workers {}", t.workers)).collect();
        let row = |label: &str, cells: Vec<String>| {
            let cells: Vec<String> = cells.iter().map(|c| format!("{c:>20}")).collect();
            println!("  {label:<34}{}", cells.join(""));
        };
        let each = |f: &dyn Fn(&ThroughputPhase) -> String| self.throughput.iter().map(f).collect::<Vec<_>>();
        row("", header);
        row("accepted", each(&|t| format!("{} of {}", t.accepted, t.jobs)));
        row("accepted jobs/s", each(&|t| format!("{:.0}", t.accepted_per_sec())));
        row("accept latency p50", each(&|t| ms(t.latency.at(50.0))));
        row("accept latency p99", each(&|t| ms(t.latency.at(99.0))));
        row(
            "end-to-end (all msgs at the sink)",
            each(&|t| t.end_to_end.map_or_else(|| format!("timed out ({})", secs(t.measured_for)), secs)),
        );
        row("end-to-end jobs/s", each(&|t| format!("{:.1}", t.end_to_end_jobs_per_sec())));
        row("delivered msgs/s", each(&|t| format!("{:.0}", t.messages_per_sec())));
        row(
            "  ÷ raw rate (new conn./reuse)",
            each(&|t| {
                format!(
                    "{:.2} / {:.2}",
                    t.messages_per_sec() / self.raw.original.per_sec,
                    t.messages_per_sec() / self.raw.original_reuse.per_sec
                )
            }),
        );
        row("CPU s: sealmail", each(&|t| format!("{:.1}", t.cpu.server.as_secs_f64())));
        row("CPU s: clamd", each(&|t| t.cpu.clamd.map_or("-".to_owned(), |c| format!("{:.1}", c.as_secs_f64()))));
        row("CPU s: smtp-sink", each(&|t| format!("{:.1}", t.cpu.sink.as_secs_f64())));
        row("CPU s: load-bench (client)", each(&|t| format!("{:.1}", t.cpu.client.as_secs_f64())));
        row("sealmail CPU per job", each(&|t| ms(t.cpu.server / t.jobs_delivered())));
        row("all processes' CPU per job", each(&|t| ms(t.cpu.all() / t.jobs_delivered())));
        row(
            &format!("CPU-bound ceiling ({} cores)", self.machine.logical_cpus),
            each(&|t| {
                let per_job = t.cpu.all().as_secs_f64() / f64::from(t.jobs_delivered());
                format!("{:.0} jobs/s", self.machine.logical_cpus as f64 / per_job)
            }),
        );
        row("machine busy (wall)", each(&|t| format!("{:.0} % ({})", t.cpu.machine_busy_percent, secs(t.cpu.wall))));
        row(
            "sealmail peak RSS",
            each(&|t| t.server_peak_rss_kib.map_or("-".to_owned(), |k| format!("{} MiB", k / 1024))),
        );
        for t in &self.throughput {
            if !t.refused.is_empty() {
                println!("  workers {}: refused{}", t.workers, refusals(&t.refused));
            }
        }
        println!();

        println!("Targets:");
        let raw = self.raw.original.per_sec;
        for t in &self.throughput {
            let ratio = t.messages_per_sec() / raw;
            println!(
                "  delivered msgs/s ≥ {TARGET_RAW_RATIO} × raw ({:.0} msgs/s), workers {:<2}  {:>6.0} msgs/s = {ratio:.2} ×    {}",
                raw,
                t.workers,
                t.messages_per_sec(),
                verdict(ratio >= TARGET_RAW_RATIO && t.end_to_end.is_some())
            );
        }
        for t in &self.throughput {
            let rate = t.end_to_end_jobs_per_sec();
            println!(
                "  end-to-end ≥ {TARGET_E2E_JOBS_PER_SEC:.0} jobs/s, workers {:<2}                      {:>6.1} jobs/s            {}",
                t.workers,
                rate,
                verdict(rate >= TARGET_E2E_JOBS_PER_SEC && t.end_to_end.is_some())
            );
        }
        let p99 = a.latency.at(99.0);
        println!(
            "  p99 accept ≤ {} at {:.0} req/s, workers {:<2}                 {:>9}              {}",
            ms(TARGET_P99_ACCEPT),
            a.offered_rate,
            a.workers,
            ms(p99),
            verdict(p99 <= TARGET_P99_ACCEPT && a.accepted == a.offered)
        );
        self.print_scale_out();
    }

    /// The scale-out comparison: each configuration of `--stores` in a column, and
    /// the sink's raw rate for the same message sizes beside them.
    pub fn print_scale_out(&self) {
        let workers = self.options.scale_workers();
        let runs: Vec<&ThroughputPhase> = self
            .options
            .stores
            .iter()
            .filter_map(|&setup| match setup {
                Setup::Sqlite => self.throughput.iter().find(|t| t.workers == workers),
                _ => self.scale_out.iter().find(|t| t.setup == setup),
            })
            .collect();
        if runs.is_empty() {
            return;
        }
        let cores = self.machine.logical_cpus;
        let raw = &self.raw;
        // A job is one original and two password mails: at the raw rates, the sink alone
        // takes 1/original + 2/password seconds per job.
        let raw_jobs_per_sec = 1.0 / (1.0 / raw.original.per_sec + 2.0 / raw.password.per_sec);
        let raw_sink_per_job =
            raw.original.sink_cpu / raw.original.messages + raw.password.sink_cpu * 2 / raw.password.messages;
        let raw_source_per_job =
            raw.original.source_cpu / raw.original.messages + raw.password.source_cpu * 2 / raw.password.messages;
        let raw_share = |cpu: Duration| 100.0 * cpu.as_secs_f64() / (raw.original.elapsed.as_secs_f64() * cores as f64);
        println!();
        println!(
            "Scale-out: closed loop, {} concurrent submitters, {} jobs, workers {workers} per node; \
             several nodes share one database, submissions round-robin, all deliver to one sink:",
            self.options.concurrency, self.options.jobs
        );
        let row = |label: &str, cells: Vec<String>, raw_cell: String| {
            let cells: Vec<String> = cells.iter().chain([&raw_cell]).map(|c| format!("{c:>22}")).collect();
            println!("  {label:<34}{}", cells.join(""));
        };
        let each = |f: &dyn Fn(&ThroughputPhase) -> String| runs.iter().map(|t| f(t)).collect::<Vec<_>>();
        let none = || "-".to_owned();
        let per_job = |t: &ThroughputPhase, cpu: Option<Duration>| {
            cpu.map_or_else(none, |c| format!("{} ({:.0} %)", ms(c / t.jobs_delivered()), t.cpu.share(c, cores)))
        };
        row("", each(&|t| t.setup.label()), "sink alone (raw)".to_owned());
        row("accepted jobs/s", each(&|t| format!("{:.0}", t.accepted_per_sec())), none());
        row(
            "accept latency p50 / p99",
            each(&|t| format!("{} / {}", ms(t.latency.at(50.0)), ms(t.latency.at(99.0)))),
            none(),
        );
        row(
            "end-to-end (all msgs at the sink)",
            each(&|t| t.end_to_end.map_or_else(|| format!("timed out ({})", secs(t.measured_for)), secs)),
            none(),
        );
        row(
            "end-to-end jobs/s",
            each(&|t| format!("{:.1}", t.end_to_end_jobs_per_sec())),
            format!("{raw_jobs_per_sec:.0} (same sizes)"),
        );
        row(
            "delivered msgs/s",
            each(&|t| format!("{:.0}", t.messages_per_sec())),
            format!("{:.0} (original size)", raw.original.per_sec),
        );
        row(
            "  ÷ raw rate (original size)",
            each(&|t| format!("{:.2}", t.messages_per_sec() / raw.original.per_sec)),
            none(),
        );
        println!("  CPU per job (share of {cores} cores):");
        row("  sealmail, all nodes", each(&|t| per_job(t, Some(t.cpu.server))), none());
        row("  PostgreSQL, all processes", each(&|t| per_job(t, t.cpu.postgres)), none());
        row("  clamd", each(&|t| per_job(t, t.cpu.clamd)), none());
        row(
            "  smtp-sink",
            each(&|t| per_job(t, Some(t.cpu.sink))),
            format!("{} ({:.0} %)", ms(raw_sink_per_job), raw_share(raw.original.sink_cpu)),
        );
        row(
            "  client (load-bench / smtp-source)",
            each(&|t| per_job(t, Some(t.cpu.client))),
            format!("{} ({:.0} %)", ms(raw_source_per_job), raw_share(raw.original.source_cpu)),
        );
        row("  all processes", each(&|t| per_job(t, Some(t.cpu.all()))), none());
        row(
            &format!("CPU-bound ceiling ({cores} cores)"),
            each(&|t| {
                let per_job = t.cpu.all().as_secs_f64() / f64::from(t.jobs_delivered());
                format!("{:.0} jobs/s", cores as f64 / per_job)
            }),
            none(),
        );
        row(
            "machine busy (wall)",
            each(&|t| format!("{:.0} % ({})", t.cpu.machine_busy_percent, secs(t.cpu.wall))),
            none(),
        );
        row(
            "sealmail peak RSS (largest node)",
            each(&|t| t.server_peak_rss_kib.map_or_else(none, |k| format!("{} MiB", k / 1024))),
            none(),
        );
        for t in &runs {
            if !t.refused.is_empty() {
                println!("  {}: refused{}", t.setup.label(), refusals(&t.refused));
            }
        }
    }
}

pub fn refusals(refused: &[(String, usize)]) -> String {
    if refused.is_empty() {
        return String::new();
    }
    let list: Vec<String> = refused.iter().map(|(k, n)| format!("{n} × {k}")).collect();
    format!(" (not accepted: {})", list.join(", "))
}
