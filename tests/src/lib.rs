//! The pieces of the system tests (`it/`) and the benchmarks (`src/bin/`) that need sealmail
//! crates: the runtime under test and the request corpus (the neighbours the tests start are
//! in `sealmail-test-support`, `support/`), and what the benchmarks read about the machine.

pub mod machine;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use sealmail_sandbox::library::Limits;
use sealmail_sandbox::{Library, RuntimeConfig, Sandbox};
use sealmail_test_support::repo_root;

/// One library over the embedded component with default limits, shared by the tests of the
/// process.
pub fn library() -> Library {
    static LIB: OnceLock<Library> = OnceLock::new();
    LIB.get_or_init(|| library_with(RuntimeConfig::default())).clone()
}

/// A library with custom limits (for the sandbox-limit tests).
pub fn library_with(config: RuntimeConfig) -> Library {
    Sandbox::new(config).and_then(|sandbox| sandbox.library()).expect("the component loads")
}

/// The JobRequest samples (`docs/samples/`), which the validator must accept.
pub fn samples_dir() -> PathBuf {
    repo_root().join("docs").join("samples")
}

/// One case of the request corpus (`tests/requests/`, format in its README).
#[derive(Debug, Clone)]
pub struct Case {
    /// The file it came from.
    pub file: PathBuf,
    /// The case document.
    pub doc: serde_json::Value,
    /// The raw request bytes.
    pub request: Vec<u8>,
    /// Limits the case asks for (else defaults).
    pub limits: Option<Limits>,
}

/// Every case in `tests/requests/{invalid,valid}`, then every sample, sorted by path.
pub fn corpus() -> Vec<Case> {
    let mut files = Vec::new();
    for dir in ["invalid", "valid"] {
        let dir = repo_root().join("tests").join("requests").join(dir);
        if let Ok(entries) = std::fs::read_dir(&dir) {
            files.extend(entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "json")));
        }
    }
    files.sort();
    let mut cases: Vec<Case> = files.into_iter().map(|file| load_case(&file)).collect();
    let mut samples: Vec<PathBuf> = std::fs::read_dir(samples_dir())
        .expect("samples exist")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    samples.sort();
    for file in samples {
        let request = std::fs::read(&file).expect("sample readable");
        cases.push(Case { file, doc: serde_json::Value::Null, request, limits: None });
    }
    cases
}

fn load_case(file: &Path) -> Case {
    use base64::Engine as _;
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let request = if let Some(r) = doc.get("request") {
        serde_json::to_vec(r).expect("serializable")
    } else if let Some(t) = doc.get("requestText").and_then(|t| t.as_str()) {
        t.as_bytes().to_vec()
    } else if let Some(b) = doc.get("requestBase64").and_then(|t| t.as_str()) {
        base64::engine::general_purpose::STANDARD.decode(b).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
    } else {
        panic!("{}: no request, requestText or requestBase64", file.display())
    };
    let limits = doc.get("limits").map(|l| {
        let d = sealmail_guest::request::Limits::default();
        Limits {
            max_request_bytes: l.get("maxRequestBytes").and_then(|v| v.as_u64()).unwrap_or(d.max_request_bytes),
            max_message_bytes: l.get("maxMessageBytes").and_then(|v| v.as_u64()).unwrap_or(d.max_message_bytes),
            max_addresses: l.get("maxAddresses").and_then(|v| v.as_u64()).map_or(d.max_addresses, |v| v as u32),
            max_rendered_bytes: l.get("maxRenderedBytes").and_then(|v| v.as_u64()).unwrap_or(d.max_rendered_bytes),
        }
    });
    Case { file: file.to_path_buf(), doc, request, limits }
}

/// `len` incompressible bytes, the same for the same `seed` (ChaCha20).
pub fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    use rand::{RngCore as _, SeedableRng as _};
    let mut v = vec![0u8; len];
    rand_chacha::ChaCha20Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// `len` bytes of compressible, non-ASCII invoice text.
pub fn invoice_text(len: usize) -> Vec<u8> {
    let line = "Rechnung 2026-11 · Position 0042 · Betrag 1.234,56 EUR · Zahlbar bis 15.12.2026\n";
    line.bytes().cycle().take(len).collect()
}
