//! Where the time goes, phase by phase (deflate, AES, HMAC, key derivation, trial deflate):
//! measured natively with the archive module's public primitives, and *derived* for the
//! component from differences of whole seals chosen to differ in one phase (the component
//! exports whole operations, not primitives).

use anyhow::{Result, bail};
use sealmail_guest::archive::{self as native, compress, winzip_aes};

use crate::corpus::{Corpus, HALF_LEN, TEXT_NAME};
use crate::measure::{MIB, Samples, time_sync};
use crate::seal::{CHUNK_LEN, PASSWORD};
use crate::throughput::ThroughputResults;

/// Trial-compression calls timed natively.
pub const TRIAL_CALLS: usize = 200;

/// Key derivations timed natively.
pub const PBKDF2_CALLS: usize = 200;

/// SHA-1 compressions in one key derivation: PBKDF2 produces 66 bytes (two keys and the
/// verifier) in 20-byte SHA-1 blocks, each block costs `PBKDF2_ITERATIONS` HMACs, and an HMAC
/// of a short message with precomputed pads costs two compressions (inner and outer).
pub const SHA1_COMPRESSIONS_PER_DERIVATION: u32 = ((2 * winzip_aes::KEY_LEN + winzip_aes::PASSWORD_VERIFIER_LEN)
    .div_ceil(20) as u32)
    * winzip_aes::PBKDF2_ITERATIONS
    * 2;

pub const SHA1_BLOCK_LEN: f64 = 64.0;

/// The amount the per-phase table states AES and HMAC costs for: the whole corpus.
pub const PHASE_BYTES: f64 = 20.0 * MIB;

/// Seals chosen so that their differences isolate one phase each inside the component.
pub struct ComponentInputs {
    pub halves: Halves,
    pub small: SmallSeals,
}

/// Streaming sessions sealing one half of the corpus alone.
pub struct Halves {
    /// `scan.bin` alone: trial + AES + HMAC over 10 MiB.
    pub random_half: Samples,
    /// `ledger.txt` alone: trial + deflate + AES + HMAC.
    pub text_half: Samples,
    pub text_half_stored: u64,
}

pub struct SmallSeals {
    /// Streaming session sealing one 100-byte `tiny.jpg` (stored by name: no trial, no
    /// deflate): the fixed cost the halves share (instantiate, calls, one key derivation).
    pub base: Samples,
    /// One-shot seals of 64 KiB random bytes named `sample.bin` (trial deflate, then store)
    /// and `sample.jpg` (stored by name, no trial): their difference is one trial.
    pub sample_bin: Samples,
    pub sample_jpg: Samples,
    /// One-shot seals of one and of five 100-byte `.jpg` entries: a fourth of the four extra
    /// entries' cost is one key derivation (plus the few bytes of the entry).
    pub one_entry: Samples,
    pub five_entries: Samples,
}

pub struct NativePhases {
    /// `RawDeflate` over ledger.txt at each level 1..=9: time and output length.
    pub deflate_levels: Vec<(u32, Samples, u64)>,
    /// AES-256-CTR + HMAC-SHA1 (`Encryptor::encrypt_in_place`) over 20 MiB.
    pub encrypt: Samples,
    /// One `DerivedKeys::derive` (PBKDF2-HMAC-SHA1, 1000 iterations).
    pub pbkdf2: Samples,
    /// `compress::choose_for_sample` on the first 64 KiB of each half.
    pub trial_text: Samples,
    pub trial_random: Samples,
}

impl NativePhases {
    pub fn deflate_at(&self, level: u32) -> Option<&(u32, Samples, u64)> {
        self.deflate_levels.iter().find(|(l, _, _)| *l == level)
    }
}

pub fn deflate(text: &[u8], level: u32) -> Result<u64> {
    let mut encoder = compress::RawDeflate::new(level);
    let mut out = Vec::with_capacity(text.len() / 2);
    for chunk in text.chunks(CHUNK_LEN) {
        encoder.write(chunk, &mut out)?;
    }
    encoder.finish(&mut out)?;
    Ok(out.len() as u64)
}

pub fn measure_native_phases(corpus: &Corpus, runs: usize) -> Result<NativePhases> {
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

/// Per-phase costs in seconds, native and component side by side.
pub struct Phase {
    pub name: String,
    pub native: Option<f64>,
    pub native_how: &'static str,
    pub component: Option<f64>,
    pub component_how: &'static str,
    /// For throughput phases: the bytes the phase processes (to print MiB/s).
    pub bytes: Option<f64>,
}

pub struct Phases {
    pub rows: Vec<Phase>,
    /// Where the component's 20 MiB streaming seal spends its time (derived), in seconds.
    pub budget: Vec<(String, f64)>,
    /// The measured median of that seal, to compare with the budget's sum.
    pub measured_total: f64,
}

impl Phases {
    pub fn derive(native: &NativePhases, inputs: &ComponentInputs, throughput: &ThroughputResults) -> Phases {
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

pub fn ratio(part: u64, whole: usize) -> f64 {
    100.0 * part as f64 / whole as f64
}
