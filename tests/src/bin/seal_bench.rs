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

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use sealmail_guest::archive::{self as native, compress, winzip_aes};
use sealmail_sandbox::component_cache::Origin;
use sealmail_sandbox::library::{Compression, Entry, File, SealError, Strength, Timestamp};
use sealmail_sandbox::{Library, RuntimeConfig, Sandbox};
use sealmail_tests::machine::{children_cpu, read_trimmed, utc_now};
use serde_json::{Value, json};

/// The corpus seed: change it and every figure refers to different bytes.
const CORPUS_SEED: u64 = 20_260_115;
/// Each half of the corpus: 10 MiB random bytes, 10 MiB text.
const HALF_LEN: usize = 10 << 20;
/// The incompressible half: sealmail's trial deflate finds it does not shrink and stores it.
const RANDOM_NAME: &str = "scan.bin";
/// The compressible half: invoice ledger lines.
const TEXT_NAME: &str = "ledger.txt";
/// Chunk size fed to the component's sealer, as the CLI does (`host/sealmail/src/cli/seal.rs`).
const CHUNK_LEN: usize = 1 << 20;
/// 15 characters, the length of a `very-high` generated password.
const PASSWORD: &str = "Kx7pQ2mZr9TbW4n";
/// The "tiny file" of the per-call target.
const TINY_LEN: usize = 100;
/// Default measured rounds of the big seals (after one warm-up round); `--runs` changes it.
const DEFAULT_RUNS: usize = 5;
/// Calls timed for the instantiate + generate-password figure.
const PASSWORD_CALLS: usize = 1000;
/// Calls timed for each small-seal figure (and rounds of [`measure_calls`]).
const SMALL_SEAL_CALLS: usize = 200;
/// Calls timed for the in-session call overhead.
const SESSION_CALLS: usize = 1000;
/// `Sandbox::new + library` runs timed with a warm artifact cache, and with no cache (each compiles).
const WARM_RUNTIME_RUNS: usize = 10;
const UNCACHED_RUNTIME_RUNS: usize = 3;
/// Trial-compression calls timed natively.
const TRIAL_CALLS: usize = 200;
/// Key derivations timed natively.
const PBKDF2_CALLS: usize = 200;

/// Target: the component seals at least this many times faster than 7-Zip's defaults…
const TARGET_SPEEDUP_OVER_7Z: f64 = 2.0;
/// …with an archive at most this much larger than 7-Zip's ("a comparable ratio").
const COMPARABLE_ARCHIVE_SLACK: f64 = 1.05;
/// Target: instantiate + generate-password, median.
const TARGET_PASSWORD_CALL: Duration = Duration::from_micros(50);
/// Target: instantiate + seal of a tiny file, median.
const TARGET_TINY_SEAL: Duration = Duration::from_millis(3);

/// SHA-1 compressions in one key derivation: PBKDF2 produces 66 bytes (two keys and the
/// verifier) in 20-byte SHA-1 blocks, each block costs `PBKDF2_ITERATIONS` HMACs, and an HMAC
/// of a short message with precomputed pads costs two compressions (inner and outer).
const SHA1_COMPRESSIONS_PER_DERIVATION: u32 = ((2 * winzip_aes::KEY_LEN + winzip_aes::PASSWORD_VERIFIER_LEN)
    .div_ceil(20) as u32)
    * winzip_aes::PBKDF2_ITERATIONS
    * 2;
const SHA1_BLOCK_LEN: f64 = 64.0;
const MIB: f64 = 1024.0 * 1024.0;
/// The amount the per-phase table states AES and HMAC costs for: the whole corpus.
const PHASE_BYTES: f64 = 20.0 * MIB;

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

fn progress(message: &str) {
    eprintln!("[seal-bench] {message}");
}

// ---------------------------------------------------------------------------------------
// Options

struct Options {
    json: bool,
    runs: usize,
    component: ComponentSource,
    /// Write the corpus here and stop (to feed the same bytes to other tools).
    write_corpus: Option<PathBuf>,
}

/// Which component is measured: the one embedded in the host, or a candidate build (to
/// compare guest build settings without rebuilding the host).
enum ComponentSource {
    Embedded,
    File { path: PathBuf, wasm: Vec<u8> },
}

impl ComponentSource {
    fn wasm(&self) -> &[u8] {
        match self {
            ComponentSource::Embedded => sealmail_sandbox::runtime::COMPONENT_WASM,
            ComponentSource::File { wasm, .. } => wasm,
        }
    }

    fn describe(&self) -> String {
        match self {
            ComponentSource::Embedded => "embedded in the host".to_owned(),
            ComponentSource::File { path, .. } => path.display().to_string(),
        }
    }
}

const USAGE: &str = "usage: seal-bench [--json] [--runs N] [--component PATH.wasm] [--write-corpus DIR]\n\
  --json              print one JSON document instead of the report\n\
  --runs N            measured rounds of the big seals, after one warm-up round (default 5)\n\
  --component PATH    measure another build of the component instead of the embedded one\n\
  --write-corpus DIR  write scan.bin and ledger.txt to DIR and stop (to feed other tools)";

impl Options {
    fn parse() -> Result<Options> {
        let mut options =
            Options { json: false, runs: DEFAULT_RUNS, component: ComponentSource::Embedded, write_corpus: None };
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--json" => options.json = true,
                "--runs" => {
                    let value = args.next().context("--runs needs a number")?;
                    options.runs = value.parse().with_context(|| format!("--runs {value}: not a number"))?;
                    if options.runs == 0 {
                        bail!("--runs must be at least 1");
                    }
                }
                "--component" => {
                    let path = PathBuf::from(args.next().context("--component needs a path")?);
                    let wasm = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                    options.component = ComponentSource::File { path, wasm };
                }
                "--write-corpus" => {
                    options.write_corpus =
                        Some(PathBuf::from(args.next().context("--write-corpus needs a directory")?));
                }
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\n{USAGE}"),
            }
        }
        Ok(options)
    }
}

// ---------------------------------------------------------------------------------------
// Timing

/// Durations of repeated runs, sorted.
#[derive(Debug, Clone)]
struct Samples {
    sorted: Vec<Duration>,
}

impl Samples {
    fn new(mut runs: Vec<Duration>) -> Samples {
        assert!(!runs.is_empty(), "at least one run is timed");
        runs.sort();
        Samples { sorted: runs }
    }

    /// Nearest-rank percentile (`p` in 0..=100).
    fn percentile(&self, p: f64) -> Duration {
        let n = self.sorted.len();
        let rank = ((p / 100.0) * n as f64).ceil() as usize;
        self.sorted[rank.clamp(1, n) - 1]
    }

    fn median(&self) -> Duration {
        self.percentile(50.0)
    }

    fn best(&self) -> Duration {
        self.sorted[0]
    }

    fn mean(&self) -> Duration {
        self.sorted.iter().sum::<Duration>() / self.sorted.len() as u32
    }

    fn secs(&self) -> f64 {
        self.median().as_secs_f64()
    }

    fn json(&self) -> Value {
        json!({
            "runs": self.sorted.len(),
            "median_s": self.median().as_secs_f64(),
            "best_s": self.best().as_secs_f64(),
            "mean_s": self.mean().as_secs_f64(),
            "p99_s": self.percentile(99.0).as_secs_f64(),
        })
    }
}

/// Runs `f` `warmups` times untimed, then `runs` times timed; returns the times and the
/// last result.
fn time_sync<T>(warmups: usize, runs: usize, mut f: impl FnMut() -> Result<T>) -> Result<(Samples, T)> {
    for _ in 0..warmups {
        f()?;
    }
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f()?;
        times.push(start.elapsed());
        last = Some(value);
    }
    Ok((Samples::new(times), last.context("no run was timed")?))
}

/// [`time_sync`] for async work (calls into the component).
async fn time_async<T>(warmups: usize, runs: usize, mut f: impl AsyncFnMut() -> Result<T>) -> Result<(Samples, T)> {
    for _ in 0..warmups {
        f().await?;
    }
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let value = f().await?;
        times.push(start.elapsed());
        last = Some(value);
    }
    Ok((Samples::new(times), last.context("no run was timed")?))
}

// ---------------------------------------------------------------------------------------
// Machine

struct Machine {
    cpu_model: String,
    logical_cpus: usize,
    /// The CPU features that decide native crypto speed (AES-NI, SHA extensions) and deflate
    /// speed (AVX2), as /proc/cpuinfo reports them.
    cpu_flags: Vec<&'static str>,
    kernel: String,
    load_before: String,
    date: String,
}

impl Machine {
    fn describe() -> Machine {
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
struct CpuTicks {
    total: u64,
    steal: u64,
}

impl CpuTicks {
    fn read() -> Option<CpuTicks> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let fields: Vec<u64> =
            stat.lines().next()?.strip_prefix("cpu ")?.split_whitespace().filter_map(|f| f.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal guest guest_nice; guest time is
        // already counted in user and nice.
        Some(CpuTicks { total: fields.iter().take(8).sum(), steal: *fields.get(7)? })
    }

    fn steal_percent_since(&self, before: &CpuTicks) -> f64 {
        let total = self.total.saturating_sub(before.total).max(1);
        100.0 * self.steal.saturating_sub(before.steal) as f64 / total as f64
    }
}

// ---------------------------------------------------------------------------------------
// Corpus

/// The 20 MiB input, in memory and on disk (for 7-Zip).
struct Corpus {
    random: Vec<u8>,
    text: Vec<u8>,
    dir: tempfile::TempDir,
}

impl Corpus {
    fn generate(seed: u64) -> Result<Corpus> {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut random = vec![0u8; HALF_LEN];
        rng.fill_bytes(&mut random);
        let text = ledger_text(&mut rng, HALF_LEN);
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        std::fs::write(dir.path().join(RANDOM_NAME), &random)?;
        std::fs::write(dir.path().join(TEXT_NAME), &text)?;
        Ok(Corpus { random, text, dir })
    }

    fn files(&self) -> [(&'static str, &[u8]); 2] {
        [(RANDOM_NAME, &self.random), (TEXT_NAME, &self.text)]
    }

    fn len(&self) -> u64 {
        (self.random.len() + self.text.len()) as u64
    }

    /// FNV-1a over both halves: two runs with the same fingerprint sealed the same bytes.
    fn fingerprint(&self) -> u64 {
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for byte in self.random.iter().chain(&self.text) {
            hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
        }
        hash
    }
}

/// `len` bytes of a German invoice ledger (semicolon-separated, like a bookkeeping export):
/// dates, invoice numbers, customers, addresses, items, quantities and amounts all vary, and
/// one line in twelve is a free-text remark, so deflate sees the repetition of real records
/// (field names, vocabulary) but not one line repeated.
fn ledger_text(rng: &mut ChaCha20Rng, len: usize) -> Vec<u8> {
    let surnames: Vec<&str> =
        "Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|Schäfer|Koch|Bauer|\
        Richter|Klein|Wolf|Schröder|Neumann|Schwarz|Zimmermann|Braun|Krüger|Hofmann|Hartmann|Lange|\
        Schmitt|Werner|Krause|Meier|Lehmann"
            .split('|')
            .collect();
    let trades: Vec<&str> =
        "Bau|Elektro|Logistik|Steuerberatung|Immobilien|Medizintechnik|Druckerei|Gartenbau|Software|\
        Handel|Metallbau|Catering|Reisen|Versicherungsmakler|Sanitär"
            .split('|')
            .collect();
    let forms: Vec<&str> = "GmbH|AG|KG|e.K.|GmbH & Co. KG|OHG|UG (haftungsbeschränkt)|GbR".split('|').collect();
    let streets: Vec<&str> = "Hauptstraße|Bahnhofstraße|Gartenweg|Schillerstraße|Goethestraße|Lindenallee|Am Markt|\
        Industriestraße|Kirchplatz|Mühlenweg|Friedrich-Ebert-Straße|Rosenstraße|Am Hafen"
        .split('|')
        .collect();
    let cities: Vec<&str> =
        "Berlin|Hamburg|München|Köln|Frankfurt am Main|Stuttgart|Düsseldorf|Leipzig|Dortmund|Essen|Bremen|\
        Dresden|Hannover|Nürnberg|Freiburg im Breisgau|Würzburg"
            .split('|')
            .collect();
    const ITEMS: &[(&str, &str)] = &[
        ("Beratung Datenschutz", "Std."),
        ("Wartungsvertrag Server", "Monat"),
        ("Lizenz Buchhaltungssoftware", "Stück"),
        ("Montage Elektroinstallation", "Std."),
        ("Kupferkabel NYM-J 3x1,5", "m"),
        ("Fahrtkosten", "km"),
        ("Druck Broschüre A4, 16 Seiten", "Stück"),
        ("Reinigung Büroflächen", "m²"),
        ("Entwicklung Schnittstelle", "Std."),
        ("Hosting Webshop", "Monat"),
        ("Schulung Mitarbeiter", "Tag"),
        ("Ersatzteil Pumpe", "Stück"),
        ("Transport Palette", "Stück"),
        ("Gutachten Brandschutz", "pauschal"),
    ];
    let status: Vec<&str> = "offen|bezahlt|bezahlt|bezahlt|gemahnt|teilbezahlt|storniert".split('|').collect();
    let words: Vec<&str> =
        "Zahlung|bitte|bis|zum|auf|das|Konto|der|Lieferung|erfolgt|gemäß|Angebot|vom|Skonto|innerhalb|von|\
        Tagen|Rückfrage|Ansprechpartner|Herr|Frau|Projekt|Abschlag|Schlussrechnung|Leistungszeitraum|\
        Reklamation|Gutschrift|folgt|separat|Mahnstufe|Verzugszinsen|vereinbart|telefonisch|Auftrag|Nr.|\
        Bestellung|Termin"
            .split('|')
            .collect();
    fn pick<T: Copy>(rng: &mut ChaCha20Rng, items: &[T]) -> T {
        items[rng.random_range(0..items.len())]
    }
    /// German notation: 1.234,56
    fn amount(cents: u64) -> String {
        format!("{},{:02}", group_digits(cents / 100, '.'), cents % 100)
    }

    let mut out = String::with_capacity(len + 512);
    out.push_str(
        "Datum;Rechnungsnr.;Kunde;Anschrift;Pos.;Leistung;Menge;Einheit;Einzelpreis;Netto;USt;Brutto;Status\n",
    );
    while out.len() < len {
        if rng.random_ratio(1, 12) {
            out.push_str("# Hinweis:");
            for _ in 0..rng.random_range(6..16) {
                out.push(' ');
                out.push_str(pick(rng, &words));
            }
            out.push_str(&format!(" {}.\n", rng.random_range(1000..99_999)));
            continue;
        }
        let (item, unit) = pick(rng, ITEMS);
        let quarter_units = rng.random_range(1..=400u64);
        let unit_cents = rng.random_range(150..=250_000u64);
        let net = quarter_units * unit_cents / 4;
        let vat_percent = if rng.random_ratio(1, 8) { 7 } else { 19 };
        let vat = net * vat_percent / 100;
        out.push_str(&format!(
            "{:02}.{:02}.{};RE-{}-{:05};{} {} {};{} {}, {:05} {};{};{};{},{:02};{};{} EUR;{} EUR;{} % {} EUR;{} EUR;{}\n",
            rng.random_range(1..=28),
            rng.random_range(1..=12),
            rng.random_range(2023..=2026),
            rng.random_range(2023..=2026),
            rng.random_range(1..100_000),
            pick(rng, &surnames),
            pick(rng, &trades),
            pick(rng, &forms),
            pick(rng, &streets),
            rng.random_range(1..180),
            rng.random_range(1067..99_999),
            pick(rng, &cities),
            rng.random_range(1..=12),
            item,
            quarter_units / 4,
            quarter_units % 4 * 25,
            unit,
            amount(unit_cents),
            amount(net),
            vat_percent,
            amount(vat),
            amount(net + vat),
            pick(rng, &status),
        ));
    }
    let mut bytes = out.into_bytes();
    bytes.truncate(len);
    bytes
}

// ---------------------------------------------------------------------------------------
// Sealing, three ways

/// One archive entry as reported by whoever sealed it.
#[derive(Debug, Clone)]
struct StoredFile {
    name: String,
    size: u64,
    stored: u64,
    method: &'static str,
}

impl StoredFile {
    fn from_component(entry: &Entry) -> StoredFile {
        StoredFile {
            name: entry.name.clone(),
            size: entry.size,
            stored: entry.stored_size,
            method: match entry.compression {
                Compression::Deflate => "deflate",
                Compression::Store => "store",
            },
        }
    }

    fn from_native(entry: &native::Entry) -> StoredFile {
        StoredFile {
            name: entry.name.clone(),
            size: entry.size,
            stored: entry.stored_size,
            method: match entry.compression {
                native::Compression::Deflate => "deflate",
                native::Compression::Store => "store",
            },
        }
    }
}

/// A finished archive and its entries.
struct Sealed {
    archive: Vec<u8>,
    files: Vec<StoredFile>,
}

fn modified() -> Timestamp {
    Timestamp { year: 2026, month: 1, day: 15, hour: 12, minute: 0, second: 0 }
}

fn native_modified() -> native::Timestamp {
    native::Timestamp { year: 2026, month: 1, day: 15, hour: 12, minute: 0, second: 0 }
}

fn seal_failed(error: SealError) -> anyhow::Error {
    anyhow!("the component refused to seal: {error:?}")
}

/// Seals in one sandboxed session through the streaming `sealer`, 1 MiB per call, as the
/// CLI does. Includes instantiation.
async fn seal_streaming(library: &Library, files: &[(&str, &[u8])]) -> Result<Sealed> {
    let mut sealer = library.sealer("bench", PASSWORD, modified()).await?.map_err(seal_failed)?;
    let mut archive = Vec::new();
    let mut stored = Vec::with_capacity(files.len());
    for (name, content) in files {
        sealer.begin_file(name).await?.map_err(seal_failed)?;
        for chunk in content.chunks(CHUNK_LEN) {
            sealer.write(chunk).await?.map_err(seal_failed)?;
        }
        let (entry, bytes) = sealer.end_file().await?.map_err(seal_failed)?;
        archive.extend_from_slice(&bytes);
        stored.push(StoredFile::from_component(&entry));
    }
    archive.extend_from_slice(&sealer.finish().await?.map_err(seal_failed)?);
    Ok(Sealed { archive, files: stored })
}

/// Seals in one call of the one-shot `seal` export. Includes instantiation.
async fn seal_one_shot(library: &Library, files: &[File]) -> Result<Sealed> {
    let sealed = library.seal("bench", files, PASSWORD, modified()).await?.map_err(seal_failed)?;
    Ok(Sealed { archive: sealed.bytes, files: sealed.entries.iter().map(StoredFile::from_component).collect() })
}

fn wit_files(files: &[(&str, &[u8])]) -> Vec<File> {
    files.iter().map(|(name, content)| File { name: (*name).to_owned(), content: content.to_vec() }).collect()
}

/// The same archive code compiled natively, single-threaded, salts from a seeded ChaCha20.
fn seal_natively(files: &[(&str, &[u8])], seed: u64) -> Result<Sealed> {
    let sealed = native::seal("bench", files, PASSWORD, native_modified(), ChaCha20Rng::seed_from_u64(seed))?;
    Ok(Sealed { archive: sealed.bytes, files: sealed.entries.iter().map(StoredFile::from_native).collect() })
}

// ---------------------------------------------------------------------------------------
// 7-Zip

struct SevenZip {
    /// The version banner(s) `7z` prints.
    banner: String,
}

/// One timed 7-Zip process.
struct SevenZipRun {
    wall: Duration,
    /// User + system CPU time of the process: CPU time ÷ wall time is how many threads it
    /// kept busy on average.
    cpu: Option<Duration>,
    archive_len: u64,
}

impl SevenZip {
    const PROGRAM: &'static str = "7z";
    const ARCHIVE: &'static str = "7z-bench.zip";

    fn find() -> Option<SevenZip> {
        let output = Command::new(Self::PROGRAM).stdin(Stdio::null()).output().ok()?;
        let text = String::from_utf8_lossy(&output.stdout);
        let banner = text
            .lines()
            .map(str::trim)
            .filter(|line| line.starts_with("7-Zip") || line.starts_with("p7zip"))
            .collect::<Vec<_>>()
            .join(" / ");
        Some(SevenZip { banner })
    }

    /// `7z a -tzip -mem=AES256 -mx5 -p… OUT scan.bin ledger.txt` in the corpus directory,
    /// timed from process start to exit.
    fn seal(&self, dir: &Path, extra: &[&str]) -> Result<SevenZipRun> {
        let archive = dir.join(Self::ARCHIVE);
        // 7z `a` on an existing archive updates it instead of writing a new one.
        let _ = std::fs::remove_file(&archive);
        let cpu_before = children_cpu();
        let start = Instant::now();
        let output = Command::new(Self::PROGRAM)
            .current_dir(dir)
            .args(["a", "-tzip", "-mem=AES256", "-mx5", &format!("-p{PASSWORD}")])
            .args(extra)
            .args([Self::ARCHIVE, RANDOM_NAME, TEXT_NAME])
            .stdin(Stdio::null())
            .output()
            .context("cannot start 7z")?;
        let wall = start.elapsed();
        let cpu = children_cpu().zip(cpu_before).map(|(after, before)| after.saturating_sub(before));
        if !output.status.success() {
            bail!("7z a failed ({}): {}", output.status, String::from_utf8_lossy(&output.stderr));
        }
        let archive_len = std::fs::metadata(&archive)?.len();
        Ok(SevenZipRun { wall, cpu, archive_len })
    }

    /// Each entry's name, size and packed size, from `7z l -slt`.
    fn list(&self, archive: &Path) -> Result<Vec<StoredFile>> {
        let output = Command::new(Self::PROGRAM)
            .args(["l", "-slt", &format!("-p{PASSWORD}")])
            .arg(archive)
            .stdin(Stdio::null())
            .output()
            .context("cannot start 7z")?;
        let text = String::from_utf8_lossy(&output.stdout);
        // Entries follow the "----------" line; before it, "Path =" is the archive itself.
        let entries = text.split_once("\n----------").map_or("", |(_, rest)| rest);
        let mut files = Vec::new();
        for block in entries.split("\n\n").filter(|b| b.contains("Path = ")) {
            let value = |key: &str| {
                block.lines().find_map(|line| line.strip_prefix(key).map(|v| v.trim().to_owned())).unwrap_or_default()
            };
            files.push(StoredFile {
                name: value("Path = "),
                size: value("Size = ").parse().unwrap_or(0),
                stored: value("Packed Size = ").parse().unwrap_or(0),
                method: if value("Method = ").contains("Deflate") { "deflate" } else { "store" },
            });
        }
        Ok(files)
    }

    /// Whether 7-Zip decrypts and authenticates every entry of `archive` with the password.
    fn verify(&self, archive: &Path) -> Result<()> {
        let output = Command::new(Self::PROGRAM)
            .args(["t", &format!("-p{PASSWORD}")])
            .arg(archive)
            .stdin(Stdio::null())
            .output()
            .context("cannot start 7z")?;
        let text = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() || !text.contains("Everything is Ok") {
            bail!("7-Zip does not accept the component's archive:\n{text}");
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------
// Runtime start-up

struct Startup {
    /// The temporary artifact cache every later measurement loads from.
    cache: tempfile::TempDir,
    cold_cache: Duration,
    cold_origin: Origin,
    warm_cache: Samples,
    no_cache: Samples,
}

fn build_runtime(component: &ComponentSource, cache_dir: Option<PathBuf>) -> Result<Library> {
    let config = RuntimeConfig { cache_dir, ..RuntimeConfig::default() };
    let library = Sandbox::new(config).and_then(|sandbox| match component {
        ComponentSource::Embedded => sandbox.library(),
        ComponentSource::File { wasm, .. } => sandbox.library_from(wasm),
    });
    library.map_err(|e| anyhow!("the component does not load: {e:#}"))
}

/// `Sandbox::new + library` (engine, linker, component, `InstancePre`, epoch thread) three ways: with
/// an empty artifact cache (compile and store), a warm one (deserialize), and none (compile
/// in memory every time).
fn measure_startup(component: &ComponentSource) -> Result<Startup> {
    let cache = tempfile::tempdir().context("cannot create a temporary directory")?;
    let start = Instant::now();
    let cold_origin = build_runtime(component, Some(cache.path().to_path_buf()))?.origin();
    let cold_cache = start.elapsed();
    let (warm_cache, origin) =
        time_sync(1, WARM_RUNTIME_RUNS, || Ok(build_runtime(component, Some(cache.path().to_path_buf()))?.origin()))?;
    if origin != Origin::Cached {
        bail!("the artifact cache in {} was not used", cache.path().display());
    }
    let (no_cache, _) = time_sync(0, UNCACHED_RUNTIME_RUNS, || build_runtime(component, None).map(drop))?;
    Ok(Startup { cache, cold_cache, cold_origin, warm_cache, no_cache })
}

// ---------------------------------------------------------------------------------------
// Throughput

/// One row of the throughput table.
struct Throughput {
    label: String,
    times: Samples,
    input_len: u64,
    archive_len: u64,
    /// Average busy threads (CPU time ÷ wall time), for 7-Zip; sealmail is single-threaded.
    threads: Option<f64>,
    files: Vec<StoredFile>,
}

impl Throughput {
    fn mib_per_s(&self) -> f64 {
        self.input_len as f64 / MIB / self.times.secs()
    }

    fn ratio(&self) -> f64 {
        self.archive_len as f64 / self.input_len as f64
    }

    fn json(&self) -> Value {
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

struct ThroughputResults {
    component_streaming: Throughput,
    component_one_shot: Throughput,
    native: Throughput,
    seven_zip: Vec<Throughput>,
    /// Whether `7z t` decrypted and authenticated the component's archive.
    verified_by_7z: bool,
}

impl ThroughputResults {
    /// 7-Zip with its default threads: the reference of the throughput target.
    fn seven_zip_default(&self) -> Option<&Throughput> {
        self.seven_zip.first()
    }
}

/// Times one run of `work` (an async block does nothing until awaited, so creating it first
/// costs nothing).
async fn timed<T>(work: impl Future<Output = Result<T>>) -> Result<(Duration, T)> {
    let start = Instant::now();
    let value = work.await?;
    Ok((start.elapsed(), value))
}

/// Keeps `value` unless the round was a warm-up.
fn record<T>(series: &mut Vec<T>, value: T, measured: bool) {
    if measured {
        series.push(value);
    }
}

fn timed_sync<T>(work: impl FnOnce() -> Result<T>) -> Result<(Duration, T)> {
    let start = Instant::now();
    let value = work()?;
    Ok((start.elapsed(), value))
}

/// The big seals, run in rounds: each round runs every variant once (round 0 is the
/// warm-up), so a slow spell of a shared machine slows all variants alike instead of one.
/// Also times the two halves alone, for the component's phase breakdown.
async fn measure_throughput(
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
fn check_methods(files: &[StoredFile]) -> Result<()> {
    let methods: Vec<(&str, &str)> = files.iter().map(|f| (f.name.as_str(), f.method)).collect();
    if methods != [(RANDOM_NAME, "store"), (TEXT_NAME, "deflate")] {
        bail!("unexpected compression choices: {methods:?}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Per-call overhead

struct Calls {
    /// Fresh store + instantiate + `generate(very-high)`.
    password: Samples,
    /// Fresh store + instantiate + `length(very-high)`: a call that does no work, so this is
    /// the sandbox's cost alone.
    trivial: Samples,
    /// Fresh store + instantiate + one-shot `seal` of one 100-byte text file (key derivation,
    /// trial deflate; 100 bytes of varied text do not shrink, so it is stored).
    tiny_seal: Samples,
    /// One more call into an open sealer session (`write` of nothing): the component-model
    /// call itself, without instantiation.
    session_call: Samples,
    /// The same 100-byte seal natively, for scale.
    native_tiny_seal: Samples,
}

fn tiny_text() -> Vec<u8> {
    b"Rechnung RE-2026-00042, Betrag 1.234,56 EUR, faellig am 15.02.2026. Vielen Dank fuer Ihren Auftrag!\n"[..TINY_LEN]
        .to_vec()
}

/// Password calls per round of [`measure_calls`]: 1000 calls over 200 rounds.
const PASSWORD_CALLS_PER_ROUND: usize = PASSWORD_CALLS / SMALL_SEAL_CALLS;
/// Untimed rounds before the timed ones.
const WARM_UP_ROUNDS: usize = 5;

/// The per-call figures and the small seals of the phase breakdown, in interleaved rounds
/// (like [`measure_throughput`]); then the in-session call, which needs one open session.
async fn measure_calls(library: &Library, corpus: &Corpus) -> Result<(Calls, SmallSeals)> {
    let tiny = tiny_text();
    let tiny = tiny.as_slice();
    let note = wit_files(&[("note.txt", tiny)]);
    let tiny_jpg = [("tiny.jpg", tiny)];
    let sample = &corpus.random[..compress::SAMPLE_LEN];
    let sample_bin = wit_files(&[("sample.bin", sample)]);
    let sample_jpg = wit_files(&[("sample.jpg", sample)]);
    let one = wit_files(&tiny_jpg);
    let five = wit_files(&[("a.jpg", tiny), ("b.jpg", tiny), ("c.jpg", tiny), ("d.jpg", tiny), ("e.jpg", tiny)]);

    let mut series: [Vec<Duration>; 9] = Default::default();
    let [password, trivial, tiny_seal, native_tiny, base, bin, jpg, one_entry, five_entries] = &mut series;
    for round in 0..WARM_UP_ROUNDS + SMALL_SEAL_CALLS {
        let measured = round >= WARM_UP_ROUNDS;
        for _ in 0..PASSWORD_CALLS_PER_ROUND {
            let (time, _) = timed(async { Ok(library.generate_password(Strength::VeryHigh).await?) }).await?;
            record(password, time, measured);
        }
        let (time, _) = timed(async { Ok(library.password_length(Strength::VeryHigh).await?) }).await?;
        record(trivial, time, measured);
        record(tiny_seal, timed(seal_one_shot(library, &note)).await?.0, measured);
        record(native_tiny, timed_sync(|| seal_natively(&[("note.txt", tiny)], round as u64))?.0, measured);
        record(base, timed(seal_streaming(library, &tiny_jpg)).await?.0, measured);
        record(bin, timed(seal_one_shot(library, &sample_bin)).await?.0, measured);
        record(jpg, timed(seal_one_shot(library, &sample_jpg)).await?.0, measured);
        record(one_entry, timed(seal_one_shot(library, &one)).await?.0, measured);
        record(five_entries, timed(seal_one_shot(library, &five)).await?.0, measured);
    }

    let mut sealer = library.sealer("bench", PASSWORD, modified()).await?.map_err(seal_failed)?;
    sealer.begin_file("calls.txt").await?.map_err(seal_failed)?;
    let (session_call, _) = time_async(20, SESSION_CALLS, async || {
        sealer.write(&[]).await?.map_err(seal_failed)?;
        Ok::<_, anyhow::Error>(())
    })
    .await?;

    let [password, trivial, tiny_seal, native_tiny, base, bin, jpg, one_entry, five_entries] = series.map(Samples::new);
    let calls = Calls { password, trivial, tiny_seal, session_call, native_tiny_seal: native_tiny };
    let small = SmallSeals { base, sample_bin: bin, sample_jpg: jpg, one_entry, five_entries };
    Ok((calls, small))
}

// ---------------------------------------------------------------------------------------
// Phases: what the component does, measured as whole seals

/// Seals chosen so that their differences isolate one phase each inside the component.
struct ComponentInputs {
    halves: Halves,
    small: SmallSeals,
}

/// Streaming sessions sealing one half of the corpus alone.
struct Halves {
    /// `scan.bin` alone: trial + AES + HMAC over 10 MiB.
    random_half: Samples,
    /// `ledger.txt` alone: trial + deflate + AES + HMAC.
    text_half: Samples,
    text_half_stored: u64,
}

struct SmallSeals {
    /// Streaming session sealing one 100-byte `tiny.jpg` (stored by name: no trial, no
    /// deflate): the fixed cost the halves share (instantiate, calls, one key derivation).
    base: Samples,
    /// One-shot seals of 64 KiB random bytes named `sample.bin` (trial deflate, then store)
    /// and `sample.jpg` (stored by name, no trial): their difference is one trial.
    sample_bin: Samples,
    sample_jpg: Samples,
    /// One-shot seals of one and of five 100-byte `.jpg` entries: a fourth of the four extra
    /// entries' cost is one key derivation (plus the few bytes of the entry).
    one_entry: Samples,
    five_entries: Samples,
}

// ---------------------------------------------------------------------------------------
// Phases: natively, with the archive module's public primitives

struct NativePhases {
    /// `RawDeflate` over ledger.txt at each level 1..=9: time and output length.
    deflate_levels: Vec<(u32, Samples, u64)>,
    /// AES-256-CTR + HMAC-SHA1 (`Encryptor::encrypt_in_place`) over 20 MiB.
    encrypt: Samples,
    /// One `DerivedKeys::derive` (PBKDF2-HMAC-SHA1, 1000 iterations).
    pbkdf2: Samples,
    /// `compress::choose_for_sample` on the first 64 KiB of each half.
    trial_text: Samples,
    trial_random: Samples,
}

impl NativePhases {
    fn deflate_at(&self, level: u32) -> Option<&(u32, Samples, u64)> {
        self.deflate_levels.iter().find(|(l, _, _)| *l == level)
    }
}

fn deflate(text: &[u8], level: u32) -> Result<u64> {
    let mut encoder = compress::RawDeflate::new(level);
    let mut out = Vec::with_capacity(text.len() / 2);
    for chunk in text.chunks(CHUNK_LEN) {
        encoder.write(chunk, &mut out)?;
    }
    encoder.finish(&mut out)?;
    Ok(out.len() as u64)
}

fn measure_native_phases(corpus: &Corpus, runs: usize) -> Result<NativePhases> {
    let mut deflate_levels = Vec::new();
    for level in 1..=9 {
        // The configured level gets the full run count; the sweep around it fewer.
        let level_runs = if level == compress::DEFLATE_LEVEL { runs } else { runs.min(3) };
        let (times, len) = time_sync(1, level_runs, || deflate(&corpus.text, level))?;
        deflate_levels.push((level, times, len));
    }

    let salt = [7u8; winzip_aes::SALT_LEN];
    let keys = winzip_aes::DerivedKeys::derive(PASSWORD.as_bytes(), &salt);
    let mut buffer = [corpus.random.as_slice(), &corpus.text].concat();
    let (encrypt, _) = time_sync(1, runs, || {
        let mut encryptor = keys.encryptor();
        for chunk in buffer.chunks_mut(CHUNK_LEN) {
            encryptor.encrypt_in_place(chunk);
        }
        Ok(encryptor.finish())
    })?;

    let (pbkdf2, _) = time_sync(5, PBKDF2_CALLS, || {
        Ok(winzip_aes::DerivedKeys::derive(PASSWORD.as_bytes(), &salt).password_verifier())
    })?;

    let text_sample = &corpus.text[..compress::SAMPLE_LEN];
    let random_sample = &corpus.random[..compress::SAMPLE_LEN];
    let (trial_text, chosen) = time_sync(5, TRIAL_CALLS, || Ok(compress::choose_for_sample(text_sample)))?;
    if chosen != native::Compression::Deflate {
        bail!("the text sample was expected to be deflated");
    }
    let (trial_random, chosen) = time_sync(5, TRIAL_CALLS, || Ok(compress::choose_for_sample(random_sample)))?;
    if chosen != native::Compression::Store {
        bail!("the random sample was expected to be stored");
    }
    Ok(NativePhases { deflate_levels, encrypt, pbkdf2, trial_text, trial_random })
}

// ---------------------------------------------------------------------------------------
// Phases: the derivation

/// Per-phase costs in seconds, native and component side by side.
struct Phase {
    name: String,
    native: Option<f64>,
    native_how: &'static str,
    component: Option<f64>,
    component_how: &'static str,
    /// For throughput phases: the bytes the phase processes (to print MiB/s).
    bytes: Option<f64>,
}

struct Phases {
    rows: Vec<Phase>,
    /// Where the component's 20 MiB streaming seal spends its time (derived), in seconds.
    budget: Vec<(String, f64)>,
    /// The measured median of that seal, to compare with the budget's sum.
    measured_total: f64,
}

impl Phases {
    fn derive(native: &NativePhases, inputs: &ComponentInputs, throughput: &ThroughputResults) -> Phases {
        let half = HALF_LEN as f64;
        // HMAC-SHA1 over 20 MiB costs 20 MiB ÷ 64 compressions; a key derivation costs
        // SHA1_COMPRESSIONS_PER_DERIVATION of them plus per-iteration finalisation, so scaling
        // the derivation's time bounds HMAC from above (and AES, the rest, from below).
        let blocks = f64::from(SHA1_COMPRESSIONS_PER_DERIVATION);
        let phase_blocks = PHASE_BYTES / SHA1_BLOCK_LEN;

        // Native, from the primitives.
        let (_, deflate_times, deflated_len) =
            native.deflate_at(compress::DEFLATE_LEVEL).expect("the sweep includes the configured level");
        let n_deflate = deflate_times.secs();
        let n_pbkdf2 = native.pbkdf2.secs();
        let n_crypto = native.encrypt.secs() * PHASE_BYTES / (2.0 * half);
        let n_trial = (native.trial_text.secs() + native.trial_random.secs()) / 2.0;

        // Component, from differences of whole seals.
        let c_trial = inputs.small.sample_bin.secs() - inputs.small.sample_jpg.secs();
        let c_pbkdf2 = (inputs.small.five_entries.secs() - inputs.small.one_entry.secs()) / 4.0;
        let base = inputs.small.base.secs();
        let c_crypto_per_byte = (inputs.halves.random_half.secs() - base - c_trial) / half;
        let c_crypto = c_crypto_per_byte * PHASE_BYTES;
        let c_deflate =
            inputs.halves.text_half.secs() - base - c_trial - c_crypto_per_byte * inputs.halves.text_half_stored as f64;
        let c_hmac = c_pbkdf2 / blocks * phase_blocks;
        let c_aes = c_crypto - c_hmac;
        let mixed_stored = half + inputs.halves.text_half_stored as f64;
        let budget = vec![
            ("fixed: instantiate, session calls, first key derivation, directory (C)".to_owned(), base),
            ("second entry's key derivation".to_owned(), c_pbkdf2),
            ("two trial deflates".to_owned(), 2.0 * c_trial),
            (format!("deflate {TEXT_NAME}"), c_deflate),
            (
                format!("AES-256-CTR + HMAC-SHA1 (+ copy-in) of {:.1} MiB stored", mixed_stored / MIB),
                c_crypto_per_byte * mixed_stored,
            ),
        ];

        let level = compress::DEFLATE_LEVEL;
        let rows = vec![
            Phase {
                name: format!("deflate {TEXT_NAME}, level {level} (10 MiB → {:.1} %)", ratio(*deflated_len, HALF_LEN)),
                native: Some(n_deflate),
                native_how: "measured",
                component: Some(c_deflate),
                component_how: "derived",
                bytes: Some(half),
            },
            Phase {
                name: "AES-256-CTR + HMAC-SHA1, 20 MiB".to_owned(),
                native: Some(n_crypto),
                native_how: "measured",
                component: Some(c_crypto),
                component_how: "derived",
                bytes: Some(PHASE_BYTES),
            },
            Phase {
                name: "  of which AES-256-CTR, 20 MiB (at least)".to_owned(),
                native: None,
                native_how: "n/a",
                component: Some(c_aes),
                component_how: "derived",
                bytes: Some(PHASE_BYTES),
            },
            Phase {
                name: "  of which HMAC-SHA1, 20 MiB (at most)".to_owned(),
                native: None,
                native_how: "n/a",
                component: Some(c_hmac),
                component_how: "derived",
                bytes: Some(PHASE_BYTES),
            },
            Phase {
                name: format!(
                    "key derivation, PBKDF2 ({} it., {SHA1_COMPRESSIONS_PER_DERIVATION} SHA-1 blocks)",
                    winzip_aes::PBKDF2_ITERATIONS
                ),
                native: Some(n_pbkdf2),
                native_how: "measured",
                component: Some(c_pbkdf2),
                component_how: "derived",
                bytes: None,
            },
            Phase {
                name: format!("trial deflate of a {} KiB sample", compress::SAMPLE_LEN / 1024),
                native: Some(n_trial),
                native_how: "measured",
                component: Some(c_trial),
                component_how: "derived",
                bytes: None,
            },
        ];
        Phases { rows, budget, measured_total: throughput.component_streaming.times.secs() }
    }
}

fn ratio(part: u64, whole: usize) -> f64 {
    100.0 * part as f64 / whole as f64
}

// ---------------------------------------------------------------------------------------
// Report

struct Report {
    options: Options,
    machine: Machine,
    seven_zip: Option<SevenZip>,
    corpus: Corpus,
    startup: Startup,
    throughput: ThroughputResults,
    calls: Calls,
    component_inputs: ComponentInputs,
    native_phases: NativePhases,
    phases: Phases,
    load_after: String,
    /// Share of CPU time the hypervisor gave to other guests during the run.
    steal_percent: Option<f64>,
    elapsed: Duration,
}

/// A target's outcome.
struct Verdict {
    target: String,
    result: String,
    /// `None`: not measurable on this machine (7-Zip missing).
    met: Option<bool>,
}

impl Verdict {
    fn label(&self) -> &'static str {
        match self.met {
            Some(true) => "PASS",
            Some(false) => "MISS",
            None => "n/a",
        }
    }
}

impl Report {
    fn verdicts(&self) -> Vec<Verdict> {
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

    fn print(&self) {
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
    fn deflate_slowdown(&self) -> Option<f64> {
        let row = self.phases.rows.first()?;
        Some(row.component? / row.native?)
    }

    fn json(&self) -> Value {
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

fn mark(how: &str) -> &'static str {
    if how == "measured" { "(m)" } else { "(d)" }
}

fn format_duration(d: Duration) -> String {
    format_secs(d.as_secs_f64())
}

fn format_secs(secs: f64) -> String {
    let magnitude = secs.abs();
    if magnitude < 1e-3 {
        format!("{:.1} µs", secs * 1e6)
    } else if magnitude < 1.0 {
        format!("{:.2} ms", secs * 1e3)
    } else {
        format!("{secs:.2} s")
    }
}

/// `n` with `separator` between groups of three digits.
fn group_digits(n: u64, separator: char) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(separator);
        }
        out.push(c);
    }
    out
}
