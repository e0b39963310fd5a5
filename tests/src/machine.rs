//! What the benchmarks report about the machine and its processes: the CPU model and the
//! features that decide crypto and deflate speed, the date, /proc files, and CPU time from
//! `/proc/PID/stat` (proc(5)).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The machine a benchmark ran on, as its report describes it.
pub struct Machine {
    /// The "model name" of /proc/cpuinfo.
    pub cpu_model: String,
    /// The threads this process may run at once (what the ceilings are computed for).
    pub logical_cpus: usize,
    /// The CPU features that decide native crypto speed (AES-NI, SHA extensions) and deflate
    /// speed (AVX2), as /proc/cpuinfo reports them.
    pub cpu_flags: Vec<&'static str>,
    /// The kernel release.
    pub kernel: String,
    /// /proc/loadavg before the run: a loaded machine gives slower figures.
    pub load_before: String,
    /// When the run started (UTC).
    pub date: String,
}

impl Machine {
    /// Reads the description from /proc ("unknown" where a file is missing).
    pub fn describe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo
                .lines()
                .find(|line| line.split(':').next().is_some_and(|key| key.trim() == name))
                .and_then(|line| line.split_once(':'))
                .map(|(_, value)| value.trim().to_owned())
        };
        let flags = field("flags").unwrap_or_default();
        let cpu_flags = ["aes", "sha_ni", "avx2", "avx512f"]
            .into_iter()
            .filter(|wanted| flags.split_whitespace().any(|flag| flag == *wanted))
            .collect();
        Machine {
            cpu_model: field("model name").unwrap_or_else(|| "unknown CPU".to_owned()),
            logical_cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_flags,
            kernel: read_trimmed("/proc/sys/kernel/osrelease"),
            load_before: read_trimmed("/proc/loadavg"),
            date: utc_now(),
        }
    }
}

/// A file's content without surrounding white space, or "unknown".
pub fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path).map(|s| s.trim().to_owned()).unwrap_or_else(|_| "unknown".to_owned())
}

/// The current UTC date and time, "YYYY-MM-DD HH:MM UTC" (civil-from-days, H. Hinnant's
/// algorithm: no date crate for one line of output).
pub fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

/// The machine-wide CPU counters of /proc/stat's first line (proc(5)), in clock ticks:
/// user nice system idle iowait irq softirq steal guest guest_nice (guest time is already
/// counted in user and nice). `None` without /proc.
pub fn machine_cpu_ticks() -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    Some(stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace().filter_map(|f| f.parse().ok()).collect())
}

/// User + system CPU time of a process: fields 14 and 15 of /proc/PID/stat.
pub fn process_cpu(pid: u32) -> Option<Duration> {
    stat_ticks(&format!("/proc/{pid}/stat"), 14, 15)
}

/// User + system CPU time of this process's waited-for children (fields 16 and 17).
pub fn children_cpu() -> Option<Duration> {
    stat_ticks("/proc/self/stat", 16, 17)
}

/// The sum of two numeric fields of a stat file, as time: clock ticks of 1/100 s (USER_HZ is
/// 100 on Linux).
fn stat_ticks(path: &str, first: usize, second: usize) -> Option<Duration> {
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(first - 3)?.parse::<u64>().ok()? + fields.get(second - 3)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}
