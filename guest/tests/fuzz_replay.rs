//! The fuzz targets on stable (docs/fuzzing.md): the same harnesses as `fuzz/fuzz_targets/`
//! (`sealmail_guest::fuzzing`), run over
//!
//! - every checked-in input: the seed corpora `fuzz/corpus/<target>/` and the fixed crash
//!   inputs `fuzz/regressions/<target>/`, so a fixed bug stays fixed;
//! - a short bounded pass per target: inputs made by mutating the corpus with a seeded RNG
//!   (bit flips, interesting bytes, the target's libFuzzer dictionary `fuzz/dict/`, splices
//!   of other entries, deletions, repeats) for about `FUZZ_REPLAY_SECONDS` (default 8) and
//!   at least [`MIN_CASES`] inputs. Not coverage-guided like libFuzzer, but it runs in
//!   every `cargo test` and reproduces exactly from its seed (`FUZZ_REPLAY_SEED`).
//!
//! A failing input is written to `target/fuzz-replay-failures/<target>-<n>` with the panic
//! message, ready to be fixed and copied into `fuzz/regressions/<target>/`.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use sealmail_guest::fuzzing::{TARGETS, mime_request};
use sealmail_guest::request::{self, Limits};

/// The bounded pass runs at least this many inputs per target, whatever the time budget.
const MIN_CASES: u64 = 150;
/// Default time budget of the bounded pass per target, in seconds.
const DEFAULT_SECONDS: u64 = 8;
/// Largest mutated input: libFuzzer's default `-max_len` is 4096 for new inputs too.
const MAX_LEN: usize = 64 * 1024;

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("fuzz")
}

fn target_fn(name: &str) -> fn(&[u8]) {
    TARGETS.iter().find(|(n, _)| *n == name).unwrap_or_else(|| panic!("no fuzz target {name}")).1
}

/// The files of `fuzz/<kind>/<target>/`, sorted (empty when the folder does not exist).
fn inputs(kind: &str, target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = fuzz_dir().join(kind).join(target);
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> =
        entries.map(|e| e.expect("readable directory").path()).filter(|p| p.is_file()).collect();
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read(&p).expect("readable corpus file"))).collect()
}

/// Runs `target` on `data`, turning a panic into the panic's message.
fn run(target: fn(&[u8]), data: &[u8]) -> Result<(), String> {
    catch_unwind(AssertUnwindSafe(|| target(data))).map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    })
}

/// Saves a failing input for a bug report and returns where.
fn save_failure(target: &str, n: u64, data: &[u8], message: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("target").join("fuzz-replay-failures");
    std::fs::create_dir_all(&dir).expect("create target/fuzz-replay-failures");
    let path = dir.join(format!("{target}-{n}"));
    std::fs::write(&path, data).expect("write failing input");
    std::fs::write(path.with_extension("txt"), message).expect("write panic message");
    path
}

/// The tokens of a libFuzzer dictionary (`"…"` per line, with `\\`, `\"` and `\xHH`).
fn dictionary(target: &str) -> Vec<Vec<u8>> {
    let Ok(text) = std::fs::read_to_string(fuzz_dir().join("dict").join(format!("{target}.dict"))) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| line.trim().strip_prefix('"')?.strip_suffix('"').map(str::as_bytes))
        .map(|raw| {
            let mut out = Vec::new();
            let mut i = 0;
            while i < raw.len() {
                match (raw[i], raw.get(i + 1)) {
                    (b'\\', Some(b'x')) if i + 4 <= raw.len() => {
                        let hex = std::str::from_utf8(&raw[i + 2..i + 4]).unwrap_or("");
                        out.push(u8::from_str_radix(hex, 16).expect("\\xHH in dictionary"));
                        i += 4;
                    }
                    (b'\\', Some(&c)) => {
                        out.push(c);
                        i += 2;
                    }
                    (c, _) => {
                        out.push(c);
                        i += 1;
                    }
                }
            }
            out
        })
        .collect()
}

/// Bytes that often matter to these parsers: JSON and template syntax, line breaks, the
/// harnesses' field separator, NUL, UTF-8 lead and continuation bytes.
const INTERESTING: &[u8] = b"\0\x1e\r\n\t \"\\{}[]:,<>@=?$!#()/~.\x7f\x80\xbf\xc3\xe2\xef\xf0\xff";

/// One mutation of `data`, in place.
fn mutate(rng: &mut ChaCha8Rng, data: &mut Vec<u8>, corpus: &[Vec<u8>], dict: &[Vec<u8>]) {
    let at = |rng: &mut ChaCha8Rng, len: usize| if len == 0 { 0 } else { rng.random_range(0..=len) };
    match rng.random_range(0..8) {
        0 if !data.is_empty() => {
            let i = rng.random_range(0..data.len());
            data[i] ^= 1 << rng.random_range(0..8);
        }
        1 if !data.is_empty() => {
            let i = rng.random_range(0..data.len());
            data[i] = INTERESTING[rng.random_range(0..INTERESTING.len())];
        }
        2 | 3 if !dict.is_empty() => {
            let token = &dict[rng.random_range(0..dict.len())];
            let i = at(rng, data.len());
            data.splice(i..i, token.iter().copied());
        }
        4 if !data.is_empty() => {
            let i = rng.random_range(0..data.len());
            let n = rng.random_range(1..=(data.len() - i).min(64));
            data.drain(i..i + n);
        }
        5 if !data.is_empty() => {
            // Repeat a short run: long lines, deep nesting, many recipients.
            let i = rng.random_range(0..data.len());
            let n = rng.random_range(1..=(data.len() - i).min(32));
            let run = data[i..i + n].to_vec();
            let times = rng.random_range(1..=64);
            data.splice(i..i, run.iter().copied().cycle().take(n * times));
        }
        6 if !corpus.is_empty() => {
            let other = &corpus[rng.random_range(0..corpus.len())];
            if !other.is_empty() {
                let from = rng.random_range(0..other.len());
                let n = rng.random_range(1..=(other.len() - from).min(256));
                let i = at(rng, data.len());
                data.splice(i..i, other[from..from + n].iter().copied());
            }
        }
        _ => {
            let i = at(rng, data.len());
            let n = rng.random_range(1..=8);
            let bytes: Vec<u8> = (0..n).map(|_| rng.random()).collect();
            data.splice(i..i, bytes);
        }
    }
    data.truncate(MAX_LEN);
}

/// Replays the checked-in inputs of `target`, then runs the bounded mutation pass.
fn replay_and_fuzz(name: &str) {
    let target = target_fn(name);
    let corpus = inputs("corpus", name);
    let regressions = inputs("regressions", name);
    assert!(!corpus.is_empty(), "fuzz/corpus/{name}/ is empty");
    let mut failures = Vec::new();
    for (path, data) in corpus.iter().chain(&regressions) {
        if let Err(message) = run(target, data) {
            failures.push(format!("{}: {message}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{name}: checked-in inputs fail:\n{}", failures.join("\n"));

    let seconds = std::env::var("FUZZ_REPLAY_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(DEFAULT_SECONDS);
    let seed = std::env::var("FUZZ_REPLAY_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(0x5ea1_f022_u64);
    let name_hash = name.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ name_hash);
    let pool: Vec<Vec<u8>> = corpus.iter().chain(&regressions).map(|(_, d)| d.clone()).collect();
    let dict = dictionary(name);
    let budget = Duration::from_secs(seconds);
    let started = Instant::now();
    let mut cases = 0u64;
    while cases < MIN_CASES || started.elapsed() < budget {
        let mut data = pool[rng.random_range(0..pool.len())].clone();
        for _ in 0..rng.random_range(1..=4) {
            mutate(&mut rng, &mut data, &pool, &dict);
        }
        cases += 1;
        if let Err(message) = run(target, &data) {
            let saved = save_failure(name, cases, &data, &message);
            panic!("{name}: mutated input #{cases} (seed {seed}) fails: {message}\ninput saved to {}", saved.display());
        }
    }
    println!(
        "fuzz {name}: {} checked-in inputs replayed, {cases} mutated inputs in {:.1} s (seed {seed})",
        corpus.len() + regressions.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn every_target_has_a_corpus_and_a_dictionary() {
    for (name, _) in TARGETS {
        assert!(!inputs("corpus", name).is_empty(), "fuzz/corpus/{name}/ is empty");
        assert!(!dictionary(name).is_empty(), "fuzz/dict/{name}.dict is missing or empty");
        let target = fuzz_dir().join("fuzz_targets").join(format!("{name}.rs"));
        let source = std::fs::read_to_string(&target).unwrap_or_else(|e| panic!("{}: {e}", target.display()));
        assert!(
            source.contains(&format!("fuzzing::{name}_target(data)")),
            "{} must call {name}_target",
            target.display()
        );
    }
}

/// The `mime` seeds must reach the renderer: a seed the validator refuses would only test
/// the validator again.
#[test]
fn every_mime_seed_is_an_accepted_request() {
    for (path, data) in inputs("corpus", "mime") {
        let body = mime_request(&data);
        if let Err(problems) = request::validate(&body, &Limits::default()) {
            panic!("{} is refused: {problems:?}\n{}", path.display(), String::from_utf8_lossy(&body));
        }
    }
}

#[test]
fn validate() {
    replay_and_fuzz("validate");
}

#[test]
fn template() {
    replay_and_fuzz("template");
}

#[test]
fn mime() {
    replay_and_fuzz("mime");
}

#[test]
fn address() {
    replay_and_fuzz("address");
}

#[test]
fn encoding() {
    replay_and_fuzz("encoding");
}
