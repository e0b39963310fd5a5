//! The big seals of the corpus, in interleaved rounds: the component (streaming and one-shot),
//! the same code natively, and 7-Zip with its default threads and with one.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use sealmail_sandbox::Library;
use serde_json::{Value, json};

use crate::corpus::{Corpus, RANDOM_NAME, TEXT_NAME};
use crate::measure::{MIB, Samples, progress, record, timed, timed_sync};
use crate::phases::Halves;

use crate::seal::{Sealed, StoredFile, seal_natively, seal_one_shot, seal_streaming, wit_files};
use crate::seven_zip::{SevenZip, SevenZipRun};

/// One row of the throughput table.
pub struct Throughput {
    pub label: String,
    pub times: Samples,
    pub input_len: u64,
    pub archive_len: u64,
    /// Average busy threads (CPU time ÷ wall time), for 7-Zip; sealmail is single-threaded.
    pub threads: Option<f64>,
    pub files: Vec<StoredFile>,
}

impl Throughput {
    pub fn mib_per_s(&self) -> f64 {
        self.input_len as f64 / MIB / self.times.secs()
    }

    pub fn ratio(&self) -> f64 {
        self.archive_len as f64 / self.input_len as f64
    }

    pub fn json(&self) -> Value {
        json!({
            "label": self.label,
            "time": self.times.json(),
            "mib_per_s": self.mib_per_s(),
            "input_bytes": self.input_len,
            "archive_bytes": self.archive_len,
            "ratio": self.ratio(),
            "threads": self.threads,
            "files": self.files.iter().map(|f| json!({
                "name": f.name, "size": f.size, "stored": f.stored, "method": f.method,
            })).collect::<Vec<_>>(),
        })
    }
}

pub struct ThroughputResults {
    pub component_streaming: Throughput,
    pub component_one_shot: Throughput,
    pub native: Throughput,
    pub seven_zip: Vec<Throughput>,
    /// Whether `7z t` decrypted and authenticated the component's archive.
    pub verified_by_7z: bool,
}

impl ThroughputResults {
    /// 7-Zip with its default threads: the reference of the throughput target.
    pub fn seven_zip_default(&self) -> Option<&Throughput> {
        self.seven_zip.first()
    }
}

/// The big seals, run in rounds: each round runs every variant once (round 0 is the
/// warm-up), so a slow spell of a shared machine slows all variants alike instead of one.
/// Also times the two halves alone, for the component's phase breakdown.
pub async fn measure_throughput(
    library: &Library,
    corpus: &Corpus,
    seven_zip: Option<&SevenZip>,
    runs: usize,
) -> Result<(ThroughputResults, Halves)> {
    let files = corpus.files();
    let wit = wit_files(&files);
    let random_only = [(RANDOM_NAME, corpus.random.as_slice())];
    let text_only = [(TEXT_NAME, corpus.text.as_slice())];
    let input_len = corpus.len();

    let mut verified_by_7z = false;
    let (mut streaming, mut one_shot, mut native, mut random_half, mut text_half) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut zip_runs: [Vec<SevenZipRun>; 2] = [Vec::new(), Vec::new()];
    let zip_variants: [(&str, &[&str]); 2] = [("7-Zip -mx5, default threads", &[]), ("7-Zip -mx5 -mmt=1", &["-mmt=1"])];
    let mut last = None;
    for round in 0..=runs {
        progress(&format!("throughput round {round} of {runs}{}", if round == 0 { " (warm-up)" } else { "" }));
        let measured = round > 0;
        let (time, sealed_streaming) = timed(seal_streaming(library, &files)).await?;
        record(&mut streaming, time, measured);
        let (time, sealed_one_shot) = timed(seal_one_shot(library, &wit)).await?;
        record(&mut one_shot, time, measured);
        let (time, sealed_native) = timed_sync(|| seal_natively(&files, round as u64))?;
        record(&mut native, time, measured);
        let (time, _) = timed(seal_streaming(library, &random_only)).await?;
        record(&mut random_half, time, measured);
        let (time, sealed_text) = timed(seal_streaming(library, &text_only)).await?;
        record(&mut text_half, time, measured);
        if let Some(zip) = seven_zip {
            if round == 0 {
                let archive = corpus.dir.path().join("component.zip");
                std::fs::write(&archive, &sealed_streaming.archive)?;
                progress("7-Zip: testing the component's archive");
                zip.verify(&archive)?;
                verified_by_7z = true;
            }
            for ((_, extra), runs) in zip_variants.iter().zip(&mut zip_runs) {
                let run = zip.seal(corpus.dir.path(), extra)?;
                record(runs, run, measured);
            }
        }
        last = Some((sealed_streaming, sealed_one_shot, sealed_native, sealed_text));
    }
    let (sealed_streaming, sealed_one_shot, sealed_native, sealed_text) = last.context("no round ran")?;
    for sealed in [&sealed_streaming, &sealed_one_shot, &sealed_native] {
        check_methods(&sealed.files)?;
    }
    // Same code, same input: only the salts differ, so the sizes must be identical.
    if sealed_native.archive.len() != sealed_streaming.archive.len() {
        bail!(
            "native and component archives differ in size ({} vs {} bytes): not the same code?",
            sealed_native.archive.len(),
            sealed_streaming.archive.len()
        );
    }
    let row = |label: &str, times: Vec<Duration>, sealed: Sealed| Throughput {
        label: label.to_owned(),
        times: Samples::new(times),
        input_len,
        archive_len: sealed.archive.len() as u64,
        threads: Some(1.0),
        files: sealed.files,
    };
    let mut seven_zip_rows = Vec::new();
    if let Some(zip) = seven_zip {
        let files = zip.list(&corpus.dir.path().join(SevenZip::ARCHIVE))?;
        for ((label, _), runs) in zip_variants.iter().zip(zip_runs) {
            let cpu: Option<Duration> = runs.iter().map(|r| r.cpu).sum();
            let wall: Duration = runs.iter().map(|r| r.wall).sum();
            seven_zip_rows.push(Throughput {
                label: (*label).to_owned(),
                times: Samples::new(runs.iter().map(|r| r.wall).collect()),
                input_len,
                archive_len: runs.last().map_or(0, |r| r.archive_len),
                threads: cpu.map(|cpu| cpu.as_secs_f64() / wall.as_secs_f64()),
                files: files.clone(),
            });
        }
    }
    let results = ThroughputResults {
        component_streaming: row("component, sealer (1 MiB chunks)", streaming, sealed_streaming),
        component_one_shot: row("component, one-shot seal", one_shot, sealed_one_shot),
        native: row("native, same code (archive::seal)", native, sealed_native),
        seven_zip: seven_zip_rows,
        verified_by_7z,
    };
    let halves = Halves {
        random_half: Samples::new(random_half),
        text_half: Samples::new(text_half),
        text_half_stored: sealed_text.files.first().map_or(0, |f| f.stored),
    };
    Ok((results, halves))
}

/// The corpus is built so that the random half is stored (the trial deflate finds it does not
/// shrink) and the text half deflated; anything else means the figures measure something else.
pub fn check_methods(files: &[StoredFile]) -> Result<()> {
    let methods: Vec<(&str, &str)> = files.iter().map(|f| (f.name.as_str(), f.method)).collect();
    if methods != [(RANDOM_NAME, "store"), (TEXT_NAME, "deflate")] {
        bail!("unexpected compression choices: {methods:?}");
    }
    Ok(())
}
