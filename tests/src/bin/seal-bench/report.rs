//! The report: the printed tables and verdicts on the targets, or one JSON document
//! (`--json`). Missing a target is reported, never an error.

use std::time::Duration;

use sealmail_guest::archive::compress;
use sealmail_tests::machine::Machine;
use serde_json::{Value, json};

use crate::calls::{Calls, SMALL_SEAL_CALLS, WARM_UP_ROUNDS};
use crate::corpus::{CORPUS_SEED, Corpus, HALF_LEN, RANDOM_NAME, TEXT_NAME, TINY_LEN};
use crate::measure::{MIB, group_digits};
use crate::options::Options;
use crate::phases::{ComponentInputs, NativePhases, Phases, SHA1_COMPRESSIONS_PER_DERIVATION, ratio};
use crate::seven_zip::SevenZip;
use crate::startup::Startup;
use crate::throughput::{Throughput, ThroughputResults};

/// Target: the component seals at least this many times faster than 7-Zip's defaults…
pub const TARGET_SPEEDUP_OVER_7Z: f64 = 2.0;

/// …with an archive at most this much larger than 7-Zip's ("a comparable ratio").
pub const COMPARABLE_ARCHIVE_SLACK: f64 = 1.05;

/// Target: instantiate + generate-password, median.
pub const TARGET_PASSWORD_CALL: Duration = Duration::from_micros(50);

/// Target: instantiate + seal of a tiny file, median.
pub const TARGET_TINY_SEAL: Duration = Duration::from_millis(3);

pub struct Report {
    pub options: Options,
    pub machine: Machine,
    pub seven_zip: Option<SevenZip>,
    pub corpus: Corpus,
    pub startup: Startup,
    pub throughput: ThroughputResults,
    pub calls: Calls,
    pub component_inputs: ComponentInputs,
    pub native_phases: NativePhases,
    pub phases: Phases,
    pub load_after: String,
    /// Share of CPU time the hypervisor gave to other guests during the run.
    pub steal_percent: Option<f64>,
    pub elapsed: Duration,
}

/// A target's outcome.
pub struct Verdict {
    pub target: String,
    pub result: String,
    /// `None`: not measurable on this machine (7-Zip missing).
    pub met: Option<bool>,
}

impl Verdict {
    pub fn label(&self) -> &'static str {
        match self.met {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a",
        }
    }
}

impl Report {
    pub fn verdicts(&self) -> Vec<Verdict> {
        let t = &self.throughput;
        let component = &t.component_streaming;
        let throughput = match t.seven_zip_default() {
            Some(zip) => {
                let fast = component.mib_per_s() >= TARGET_SPEEDUP_OVER_7Z * zip.mib_per_s();
                let comparable = component.archive_len as f64 <= zip.archive_len as f64 * COMPARABLE_ARCHIVE_SLACK;
                Verdict {
                    target: format!(
                        "component ≥ {TARGET_SPEEDUP_OVER_7Z}× 7-Zip -mx5 (default threads), archive ≤ {:.0} % of 7-Zip's",
                        COMPARABLE_ARCHIVE_SLACK * 100.0
                    ),
                    result: format!(
                        "{:.1} vs {:.1} MiB/s = {:.2}×; archive {:.1} % vs {:.1} % of input",
                        component.mib_per_s(),
                        zip.mib_per_s(),
                        component.mib_per_s() / zip.mib_per_s(),
                        component.ratio() * 100.0,
                        zip.ratio() * 100.0
                    ),
                    met: Some(fast && comparable),
                }
            }
            None => Verdict {
                target: format!("component ≥ {TARGET_SPEEDUP_OVER_7Z}× 7-Zip -mx5 at a comparable ratio"),
                result: "7-Zip not installed".to_owned(),
                met: None,
            },
        };
        let password = self.calls.password.median();
        let tiny = self.calls.tiny_seal.median();
        vec![
            throughput,
            Verdict {
                target: format!("instantiate + generate-password ≤ {} (median)", format_duration(TARGET_PASSWORD_CALL)),
                result: format_duration(password),
                met: Some(password <= TARGET_PASSWORD_CALL),
            },
            Verdict {
                target: format!(
                    "instantiate + seal of a {TINY_LEN}-byte file ≤ {} (median)",
                    format_duration(TARGET_TINY_SEAL)
                ),
                result: format_duration(tiny),
                met: Some(tiny <= TARGET_TINY_SEAL),
            },
        ]
    }

    pub fn print(&self) {
        let m = &self.machine;
        let flags = if m.cpu_flags.is_empty() { "none of aes/sha_ni/avx2".to_owned() } else { m.cpu_flags.join(" ") };
        println!("sealmail seal benchmark");
        println!("  date       {}", m.date);
        println!("  machine    {}, {} logical CPUs, CPU flags: {flags}", m.cpu_model, m.logical_cpus);
        println!(
            "  system     Linux {}; load average before {}, after {}; CPU steal during the run {}",
            m.kernel,
            m.load_before,
            self.load_after,
            self.steal_percent.map_or("unknown".to_owned(), |p| format!("{p:.1} %"))
        );
        println!(
            "  component  {} ({} KiB), wasmtime 48, deflate level {}",
            self.options.component.describe(),
            self.options.component.wasm().len() / 1024,
            compress::DEFLATE_LEVEL
        );
        println!(
            "  corpus     seed {CORPUS_SEED}: {RANDOM_NAME} 10 MiB random + {TEXT_NAME} 10 MiB invoice text = 20 MiB \
             (fnv1a64 {:016x})",
            self.corpus.fingerprint()
        );
        println!(
            "  runs       1 warm-up + {} interleaved rounds (every variant once per round); per call: {WARM_UP_ROUNDS} + \
             {SMALL_SEAL_CALLS} rounds; figures are medians, \"best\" the fastest run; sealmail is single-threaded",
            self.options.runs
        );
        match &self.seven_zip {
            Some(zip) => println!("  7-Zip      {}", zip.banner),
            None => println!("  7-Zip      not installed (`cargo xtask setup` installs it): its rows are skipped"),
        }

        let t = &self.throughput;
        println!("\n1. Seal throughput, 20 MiB mixed input (all measured)");
        println!(
            "  {:<36} {:>9} {:>9} {:>8} {:>12} {:>7} {:>8}",
            "", "median", "best", "MiB/s", "archive B", "ratio", "threads"
        );
        let mut rows = vec![&t.component_streaming, &t.component_one_shot, &t.native];
        rows.extend(&t.seven_zip);
        for row in &rows {
            println!(
                "  {:<36} {:>9} {:>9} {:>8.1} {:>12} {:>6.1}% {:>8}",
                row.label,
                format_duration(row.times.median()),
                format_duration(row.times.best()),
                row.mib_per_s(),
                group_digits(row.archive_len, ','),
                row.ratio() * 100.0,
                row.threads.map_or("?".to_owned(), |n| format!("{n:.2}")),
            );
        }
        println!("  per file (stored bytes ÷ size):");
        let sealmail_files = &t.component_streaming.files;
        let mut per_file = vec![("sealmail (component = native)", sealmail_files)];
        if let Some(zip) = t.seven_zip_default() {
            per_file.push(("7-Zip -mx5", &zip.files));
        }
        for (who, files) in per_file {
            let cells: Vec<String> = files
                .iter()
                .map(|f| format!("{} {} {:.2} %", f.name, f.method, 100.0 * f.stored as f64 / f.size.max(1) as f64))
                .collect();
            println!("    {who:<32} {}", cells.join(";  "));
        }
        println!(
            "  native ÷ component: {:.2}× (native uses AES-NI/SHA-NI/AVX2 where the CPU has them; wasm cannot)",
            t.native.mib_per_s() / t.component_streaming.mib_per_s()
        );
        println!(
            "  threads: sealmail is single-threaded; 7-Zip's figure is its CPU time ÷ wall time (7-Zip deflates \
             ZIP entries on up to {} threads by default)",
            m.logical_cpus
        );
        if t.verified_by_7z {
            println!("  the component's archive was verified with `7z t` (decrypts and authenticates)");
        }

        println!("\n2. Targets");
        for v in self.verdicts() {
            println!("  [{}] {}\n         {}", v.label(), v.target, v.result);
        }

        let c = &self.calls;
        println!("\n3. Per-call overhead (measured; one Runtime: engine, InstancePre, component built once)");
        println!("  {:<58} {:>6} {:>9} {:>9} {:>9} {:>9}", "", "calls", "mean", "p50", "p99", "min");
        for (label, s) in [
            ("instantiate + generate-password (fresh Store each)", &c.password),
            ("instantiate + password-length (a call doing no work)", &c.trivial),
            ("instantiate + one-shot seal of a 100-byte text file", &c.tiny_seal),
            ("one more call in an open session (sealer.write of 0 bytes)", &c.session_call),
            ("native seal of the same 100-byte file (no sandbox)", &c.native_tiny_seal),
        ] {
            println!(
                "  {label:<58} {:>6} {:>9} {:>9} {:>9} {:>9}",
                s.sorted.len(),
                format_duration(s.mean()),
                format_duration(s.median()),
                format_duration(s.percentile(99.0)),
                format_duration(s.best())
            );
        }
        let st = &self.startup;
        println!("  one-time Sandbox::new + library (engine, linker, component, InstancePre):");
        println!(
            "    warm artifact cache (deserialize)        median {} of {}",
            format_duration(st.warm_cache.median()),
            st.warm_cache.sorted.len()
        );
        println!(
            "    empty cache (compile with Cranelift + store)       {} ({:?})",
            format_duration(st.cold_cache),
            st.cold_origin
        );
        println!(
            "    no cache (`cache_dir: None`, compile in memory)  median {} of {}",
            format_duration(st.no_cache.median()),
            st.no_cache.sorted.len()
        );

        let p = &self.phases;
        println!("\n4. Per-phase breakdown (native: the archive module's primitives; component: derived, see below)");
        println!("  {:<58} {:>22} {:>22} {:>7}", "phase", "native", "component", "wasm÷n");
        for row in &p.rows {
            let cell = |secs: Option<f64>, how: &str| match secs {
                Some(s) => match row.bytes {
                    Some(b) if s > 0.0 => format!("{} {:.0} MiB/s {}", format_secs(s), b / MIB / s, mark(how)),
                    _ => format!("{} {}", format_secs(s), mark(how)),
                },
                None => "-".to_owned(),
            };
            let factor = match (row.native, row.component) {
                (Some(n), Some(c)) if n > 0.0 && c > 0.0 => format!("{:.1}×", c / n),
                _ => "-".to_owned(),
            };
            println!(
                "  {:<58} {:>22} {:>22} {:>7}",
                row.name,
                cell(row.native, row.native_how),
                cell(row.component, row.component_how),
                factor
            );
        }
        println!("  (m) measured, (d) derived:");
        println!(
            "    HMAC share = 20 MiB ÷ 64-byte blocks × (key derivation time ÷ {SHA1_COMPRESSIONS_PER_DERIVATION} SHA-1 \
             blocks): an upper bound, as PBKDF2's"
        );
        println!(
            "    per-iteration finalisation counts as compression; AES share = AES+HMAC − HMAC share. Natively the \
             split is not shown:"
        );
        println!(
            "    with SHA-NI the finalisation dominates PBKDF2, so the bound says nothing (timing AES and SHA-1 \
             directly needs those crates here)."
        );
        let i = &self.component_inputs;
        println!("    component, from these measured medians:");
        for (label, s) in [
            (format!("A  sealer session, {RANDOM_NAME} alone (trial, store, AES+HMAC)"), &i.halves.random_half),
            (format!("B  sealer session, {TEXT_NAME} alone (trial, deflate, AES+HMAC)"), &i.halves.text_half),
            ("C  sealer session, one 100-byte tiny.jpg (no trial, no deflate)".to_owned(), &i.small.base),
            ("D  one-shot seal, 64 KiB random as sample.bin (with trial)".to_owned(), &i.small.sample_bin),
            ("E  one-shot seal, 64 KiB random as sample.jpg (no trial)".to_owned(), &i.small.sample_jpg),
            ("F  one-shot seal, one 100-byte .jpg entry".to_owned(), &i.small.one_entry),
            ("G  one-shot seal, five 100-byte .jpg entries".to_owned(), &i.small.five_entries),
        ] {
            println!("      {label:<66} {:>9}", format_duration(s.median()));
        }
        println!(
            "      trial = D − E;  key derivation = (G − F) ÷ 4;  AES+HMAC per byte = (A − C − trial) ÷ 10 MiB \
             (includes copying the input into the sandbox);"
        );
        println!(
            "      deflate = B − C − trial − AES+HMAC per byte × {} stored bytes;  HMAC and AES as for native, \
             with the component's key derivation time.",
            group_digits(i.halves.text_half_stored, ',')
        );
        println!("  where the component's 20 MiB streaming seal spends its time (derived from A–G):");
        let total: f64 = p.budget.iter().map(|(_, secs)| secs).sum();
        for (label, secs) in &p.budget {
            println!("    {label:<64} {:>10} {:>5.1} %", format_secs(*secs), 100.0 * secs / total);
        }
        println!("    {:<64} {:>10}   (measured median: {})", "sum", format_secs(total), format_secs(p.measured_total));

        println!(
            "\n5. Deflate level sweep, {TEXT_NAME} (native, measured; the component produces the same bytes, about \
             {:.1}× slower)",
            self.deflate_slowdown().unwrap_or(f64::NAN)
        );
        println!("  {:>5} {:>9} {:>8} {:>7}", "level", "median", "MiB/s", "ratio");
        for (level, times, len) in &self.native_phases.deflate_levels {
            let marker = if *level == compress::DEFLATE_LEVEL { "  ← DEFLATE_LEVEL" } else { "" };
            println!(
                "  {:>5} {:>9} {:>8.1} {:>6.1}%{marker}",
                level,
                format_duration(times.median()),
                HALF_LEN as f64 / MIB / times.secs(),
                ratio(*len, HALF_LEN)
            );
        }
        eprintln!("[seal-bench] done in {}", format_duration(self.elapsed));
    }

    /// Component deflate time ÷ native deflate time at the configured level.
    pub fn deflate_slowdown(&self) -> Option<f64> {
        let row = self.phases.rows.first()?;
        Some(row.component? / row.native?)
    }

    pub fn json(&self) -> Value {
        let m = &self.machine;
        let t = &self.throughput;
        let c = &self.calls;
        let i = &self.component_inputs;
        let st = &self.startup;
        json!({
            "date": m.date,
            "machine": {
                "cpu_model": m.cpu_model,
                "logical_cpus": m.logical_cpus,
                "cpu_flags": m.cpu_flags,
                "kernel": m.kernel,
                "load_before": m.load_before,
                "load_after": self.load_after,
                "steal_percent": self.steal_percent,
            },
            "component": {
                "source": self.options.component.describe(),
                "bytes": self.options.component.wasm().len(),
                "deflate_level": compress::DEFLATE_LEVEL,
            },
            "corpus": {
                "seed": CORPUS_SEED,
                "files": [RANDOM_NAME, TEXT_NAME],
                "bytes": self.corpus.len(),
                "fnv1a64": format!("{:016x}", self.corpus.fingerprint()),
            },
            "seven_zip": self.seven_zip.as_ref().map(|z| z.banner.clone()),
            "throughput": {
                "component_streaming": t.component_streaming.json(),
                "component_one_shot": t.component_one_shot.json(),
                "native": t.native.json(),
                "seven_zip": t.seven_zip.iter().map(Throughput::json).collect::<Vec<_>>(),
                "verified_by_7z": t.verified_by_7z,
            },
            "targets": self.verdicts().iter().map(|v| json!({
                "target": v.target, "result": v.result, "met": v.met,
            })).collect::<Vec<_>>(),
            "calls": {
                "instantiate_generate_password": c.password.json(),
                "instantiate_trivial_call": c.trivial.json(),
                "instantiate_seal_tiny": c.tiny_seal.json(),
                "session_call": c.session_call.json(),
                "native_seal_tiny": c.native_tiny_seal.json(),
            },
            "runtime_new": {
                "warm_cache": st.warm_cache.json(),
                "empty_cache_s": st.cold_cache.as_secs_f64(),
                "no_cache": st.no_cache.json(),
            },
            "phases": self.phases.rows.iter().map(|r| json!({
                "phase": r.name.trim(),
                "native_s": r.native, "native": r.native_how,
                "component_s": r.component, "component": r.component_how,
                "bytes": r.bytes,
            })).collect::<Vec<_>>(),
            "component_phase_inputs": {
                "random_half_streaming": i.halves.random_half.json(),
                "text_half_streaming": i.halves.text_half.json(),
                "text_half_stored_bytes": i.halves.text_half_stored,
                "tiny_jpg_streaming": i.small.base.json(),
                "sample_bin_one_shot": i.small.sample_bin.json(),
                "sample_jpg_one_shot": i.small.sample_jpg.json(),
                "one_entry_one_shot": i.small.one_entry.json(),
                "five_entries_one_shot": i.small.five_entries.json(),
            },
            "component_budget": {
                "parts": self.phases.budget.iter().map(|(label, secs)| json!({ "part": label, "s": secs }))
                    .collect::<Vec<_>>(),
                "measured_s": self.phases.measured_total,
            },
            "deflate_levels": self.native_phases.deflate_levels.iter().map(|(level, times, len)| json!({
                "level": level, "time": times.json(), "output_bytes": len,
            })).collect::<Vec<_>>(),
        })
    }
}

pub fn mark(how: &str) -> &'static str {
    if how == "measured" { "(m)" } else { "(d)" }
}

pub fn format_duration(d: Duration) -> String {
    format_secs(d.as_secs_f64())
}

pub fn format_secs(secs: f64) -> String {
    let magnitude = secs.abs();
    if magnitude < 1e-3 {
        format!("{:.1} µs", secs * 1e6)
    } else if magnitude < 1.0 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}
