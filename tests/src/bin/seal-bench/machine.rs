//! What the report says about the machine: CPU model and the features that decide crypto and
//! deflate speed, the kernel, the load, and the hypervisor's steal time during the run.

use sealmail_tests::machine::{machine_cpu_ticks, read_trimmed, utc_now};

pub struct Machine {
    pub cpu_model: String,
    pub logical_cpus: usize,
    /// The CPU features that decide native crypto speed (AES-NI, SHA extensions) and deflate
    /// speed (AVX2), as /proc/cpuinfo reports them.
    pub cpu_flags: Vec<&'static str>,
    pub kernel: String,
    pub load_before: String,
    pub date: String,
}

impl Machine {
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

/// The machine-wide CPU time counters of /proc/stat (proc(5)), to report how much time a
/// virtual machine's hypervisor gave to other guests during the run ("steal"): figures from
/// a run with much steal are slower than the hardware.
pub struct CpuTicks {
    pub total: u64,
    pub steal: u64,
}

impl CpuTicks {
    pub fn read() -> Option<CpuTicks> {
        let fields = machine_cpu_ticks()?;
        // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
        // already counted in user and nice.
        Some(CpuTicks { total: fields.iter().take(8).sum(), steal: *fields.get(7)? })
    }

    pub fn steal_percent_since(&self, before: &CpuTicks) -> f64 {
        let total = self.total.saturating_sub(before.total).max(1);
        100.0 * self.steal.saturating_sub(before.steal) as f64 / total as f64
    }
}
