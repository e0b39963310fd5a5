//! Sampling what the processes and the machine spent: CPU time of process trees from `/proc`,
//! peak memory, machine-wide ticks, and latency percentiles.

use std::time::{Duration, Instant};

use sealmail_tests::machine::{machine_cpu_ticks, process_cpu};

use crate::sink::Sink;

/// CPU counters at one instant.
pub struct Snapshot {
    pub at: Instant,
    pub server: Duration,
    pub clamd: Option<Duration>,
    pub postgres: Option<Duration>,
    pub sink: Duration,
    pub client: Duration,
    pub machine: Option<MachineTicks>,
}

impl Snapshot {
    pub fn take(servers: &[u32], clamd: Option<u32>, postmaster: Option<u32>, sink: &Sink) -> Snapshot {
        Snapshot {
            at: Instant::now(),
            server: servers.iter().filter_map(|&pid| process_cpu(pid)).sum(),
            clamd: clamd.and_then(process_cpu),
            postgres: postmaster.and_then(process_tree_cpu),
            sink: sink.cpu(),
            client: process_cpu(std::process::id()).unwrap_or_default(),
            machine: MachineTicks::read(),
        }
    }

    pub fn since(&self, before: &Snapshot) -> CpuShares {
        let busy = MachineTicks::busy_percent(before.machine.as_ref(), self.machine.as_ref());
        CpuShares {
            server: self.server.saturating_sub(before.server),
            clamd: self.clamd.zip(before.clamd).map(|(a, b)| a.saturating_sub(b)),
            postgres: self.postgres.zip(before.postgres).map(|(a, b)| a.saturating_sub(b)),
            sink: self.sink.saturating_sub(before.sink),
            client: self.client.saturating_sub(before.client),
            machine_busy_percent: busy,
            wall: self.at - before.at,
        }
    }
}

// /proc

/// The fields after the command name (which may contain spaces): field 3 onwards.
pub fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    Some(stat.rsplit_once(") ")?.1.split_whitespace().collect())
}

/// The pid of a child of this process whose command name is `comm` (clamd is started by the
/// harness, which keeps its handle private).
pub fn child_pid_named(comm: &str) -> Option<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|entry| {
        let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
        let name = stat.split_once('(')?.1.rsplit_once(')')?.0;
        let parent = *stat_fields(&stat)?.get(4 - 3)?;
        (name == comm && parent == me).then_some(pid)
    })
}

/// CPU time of a process and its children: its own user + system time, what it collected
/// from children that exited (`cutime` + `cstime`) and the user + system time of the live
/// ones. PostgreSQL runs one backend process per connection under the postmaster, besides
/// its WAL writer, checkpointer and background writer.
pub fn process_tree_cpu(root: u32) -> Option<Duration> {
    let ticks = |fields: &[&str], numbers: &[usize]| -> u64 {
        numbers.iter().filter_map(|&n| fields.get(n - 3)?.parse::<u64>().ok()).sum()
    };
    let stat = std::fs::read_to_string(format!("/proc/{root}/stat")).ok()?;
    let mut total = ticks(&stat_fields(&stat)?, &[14, 15, 16, 17]);
    let parent = root.to_string();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        if entry.file_name().to_str().is_none_or(|name| name.parse::<u32>().is_err()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if let Some(fields) = stat_fields(&stat)
            && fields.get(4 - 3) == Some(&parent.as_str())
        {
            total += ticks(&fields, &[14, 15]);
        }
    }
    // USER_HZ is 100 on Linux: a tick is 10 ms.
    Some(Duration::from_millis(total * 10))
}

/// `VmHWM` (peak resident set) of a process, KiB.
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// The machine-wide counters of /proc/stat (proc(5)): all ticks, and idle + iowait.
pub struct MachineTicks {
    pub total: u64,
    pub idle: u64,
}

impl MachineTicks {
    pub fn read() -> Option<MachineTicks> {
        let fields = machine_cpu_ticks()?;
        // user nice system idle iowait irq softirq steal (guest time is inside user and nice).
        Some(MachineTicks { total: fields.iter().take(8).sum(), idle: fields.get(3)? + fields.get(4)? })
    }

    /// How busy all CPUs were between two readings, percent (NaN without /proc/stat).
    pub fn busy_percent(before: Option<&MachineTicks>, after: Option<&MachineTicks>) -> f64 {
        match (before, after) {
            (Some(b), Some(a)) => {
                let total = a.total.saturating_sub(b.total).max(1);
                100.0 * (total - a.idle.saturating_sub(b.idle).min(total)) as f64 / total as f64
            }
            _ => f64::NAN,
        }
    }
}

/// Nearest-rank percentiles of a set of latencies.
pub struct Percentiles {
    pub sorted: Vec<Duration>,
}

impl Percentiles {
    pub fn of(mut samples: Vec<Duration>) -> Percentiles {
        samples.sort();
        Percentiles { sorted: samples }
    }

    pub fn at(&self, percent: f64) -> Duration {
        if self.sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = ((percent / 100.0) * self.sorted.len() as f64).ceil() as usize;
        self.sorted[rank.clamp(1, self.sorted.len()) - 1]
    }

    pub fn max(&self) -> Duration {
        self.sorted.last().copied().unwrap_or_default()
    }
}

/// CPU time of each process during a phase, and how busy the machine was.
pub struct CpuShares {
    /// Every node together.
    pub server: Duration,
    pub clamd: Option<Duration>,
    /// The postmaster and all its processes (one backend per connection), when on PostgreSQL.
    pub postgres: Option<Duration>,
    pub sink: Duration,
    pub client: Duration,
    pub machine_busy_percent: f64,
    pub wall: Duration,
}

impl CpuShares {
    /// The CPU time of every process of the benchmark (the client included).
    pub fn all(&self) -> Duration {
        self.server + self.clamd.unwrap_or_default() + self.postgres.unwrap_or_default() + self.sink + self.client
    }

    /// `cpu` as a share of all cores over the phase's wall time, percent.
    pub fn share(&self, cpu: Duration, cores: usize) -> f64 {
        100.0 * cpu.as_secs_f64() / (self.wall.as_secs_f64() * cores as f64).max(f64::MIN_POSITIVE)
    }
}

/// The last `max` bytes of `text` (a log's end, for an error message), cut at a character.
pub fn tail(text: &str, max: usize) -> &str {
    let mut start = text.len().saturating_sub(max);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// A progress line on stderr: the report itself goes to stdout.
pub fn progress(message: &str) {
    eprintln!("[load-bench] {message}");
}
