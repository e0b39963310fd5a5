//! The hypervisor's steal time during a run (the machine itself is described by
//! `sealmail_tests::machine::Machine`).

use sealmail_tests::machine::machine_cpu_ticks;

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
