//! `seal-bench`: how fast sealmail seals a 20 MiB mixed input inside the component, natively
//! (the same `sealmail_guest::archive` code) and with 7-Zip, what one sandboxed call costs,
//! and where the time goes (deflate, AES, HMAC, key derivation, trial compression). The
//! figures and how to read them are in `docs/performance.md`; run it with `cargo xtask bench`.
//!
//! It prints figures and judges the performance targets, but it is not a test: a missed
//! target never fails it; only a sealing error or an archive 7-Zip cannot verify does. Every
//! figure says whether it is *measured* (timed directly) or *derived* (computed from measured
//! figures: the component exports whole operations, not primitives, so its per-phase costs
//! are differences between seals chosen to differ in one phase).
//!
//! The corpus is generated from a fixed seed, so every run and every machine seals the same
//! bytes. Progress goes to standard error, the report to standard output; `--json` replaces
//! the report with one JSON document.

mod calls;
mod corpus;
mod machine;
mod measure;
mod options;
mod phases;
mod report;
mod seal;
mod seven_zip;
mod startup;
mod throughput;

use std::time::Instant;

use anyhow::{Context, Result};
use sealmail_tests::machine::{Machine, read_trimmed};

use crate::calls::measure_calls;
use crate::corpus::{CORPUS_SEED, Corpus, RANDOM_NAME, TEXT_NAME};
use crate::machine::CpuTicks;
use crate::measure::progress;
use crate::options::Options;
use crate::phases::{ComponentInputs, Phases, measure_native_phases};
use crate::report::Report;
use crate::seven_zip::SevenZip;
use crate::startup::{build_runtime, measure_startup};
use crate::throughput::measure_throughput;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let options = Options::parse()?;
    let started = Instant::now();
    let machine = Machine::describe();
    let cpu_before = CpuTicks::read();
    let seven_zip = SevenZip::find();
    if seven_zip.is_none() {
        progress("7-Zip (7z) is not installed: its rows are skipped; `cargo xtask setup` installs it");
    }

    progress("generating the corpus");
    let corpus = Corpus::generate(CORPUS_SEED)?;
    if let Some(dir) = &options.write_corpus {
        for (name, content) in corpus.files() {
            std::fs::write(dir.join(name), content).with_context(|| format!("cannot write to {}", dir.display()))?;
        }
        progress(&format!("wrote {RANDOM_NAME} and {TEXT_NAME} to {}", dir.display()));
        return Ok(());
    }

    progress("timing Sandbox::new + library (cold cache, warm cache, no cache)");
    let startup = measure_startup(&options.component)?;
    let library = build_runtime(&options.component, Some(startup.cache.path().to_path_buf()))?;

    let (throughput, halves) = measure_throughput(&library, &corpus, seven_zip.as_ref(), options.runs).await?;
    progress("timing per-call overhead and small seals");
    let (calls, small) = measure_calls(&library, &corpus).await?;
    let component_inputs = ComponentInputs { halves, small };
    progress("timing native phases");
    let native_phases = measure_native_phases(&corpus, options.runs)?;
    let phases = Phases::derive(&native_phases, &component_inputs, &throughput);

    let report = Report {
        options,
        machine,
        seven_zip,
        corpus,
        startup,
        throughput,
        calls,
        component_inputs,
        native_phases,
        phases,
        load_after: read_trimmed("/proc/loadavg"),
        steal_percent: CpuTicks::read().zip(cpu_before).map(|(after, before)| after.steal_percent_since(&before)),
        elapsed: started.elapsed(),
    };
    if report.options.json {
        println!("{}", serde_json::to_string_pretty(&report.json())?);
    } else {
        report.print();
    }
    Ok(())
}
