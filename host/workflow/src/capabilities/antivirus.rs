//! `antivirus` import: the configured clamd scanners (`sealmail_clamav`), all of which must
//! pass (docs/service.md#virus-scanning). The time spent scanning is host time, not guest time.

use std::time::Instant;

use crate::runtime::Capabilities;
use sealmail_clamav::Verdict as ScanVerdict;
use sealmail_core::bindings::antivirus::{self, Verdict};

impl antivirus::Host for Capabilities<'_> {
    async fn scan(&mut self, name: String, content: Vec<u8>) -> wasmtime::Result<Verdict> {
        let started = Instant::now();
        let verdict = match &self.host.services.scanners {
            None if self.host.services.allow_insecure_no_antivirus => Verdict::Skipped,
            // The API refuses such jobs at submission; one that got in before a
            // configuration change waits until a scanner is configured again.
            None => Verdict::Unavailable("no virus scanner is configured".into()),
            Some(scanners) => match scanners.scan(&content).await {
                ScanVerdict::Clean => Verdict::Clean,
                ScanVerdict::Infected { scanner, signature } => Verdict::Infected(format!("{signature} ({scanner})")),
                ScanVerdict::Unavailable { scanner, reason } => Verdict::Unavailable(format!("{scanner}: {reason}")),
            },
        };
        tracing::debug!(attachment = %name, verdict = ?verdict, "scanned");
        self.clock.add_host_wait(started.elapsed());
        Ok(verdict)
    }
}
