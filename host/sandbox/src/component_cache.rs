//! Compiling the component with Cranelift takes seconds; loading a precompiled artifact
//! takes milliseconds. This cache keeps one artifact per (component bytes, wasmtime
//! version and engine settings) on disk, so every start after the first is fast.
//!
//! Artifacts are only ever read from the cache directory sealmail itself wrote: loading a
//! precompiled artifact is `unsafe` in wasmtime because a forged one is native code.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where the artifacts go unless configured: `$XDG_CACHE_HOME/sealmail` or
/// `~/.cache/sealmail`.
pub fn default_dir() -> Option<PathBuf> {
    std::env::var_os("SEALMAIL_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("sealmail")))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache").join("sealmail")))
}

/// The file name of the artifact for `wasm` on `engine`.
fn artifact_name(engine: &Engine, wasm: &[u8]) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut engine_hash);
    let mut h = Sha256::new();
    h.update(wasm);
    h.update(engine_hash.finish().to_le_bytes());
    format!("sealmail-{}.cwasm", &hex::encode(h.finalize())[..32])
}

/// How the component was obtained, for diagnostics and the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Loaded from a cached artifact.
    Cached,
    /// Compiled now (and stored, when the directory was writable).
    Compiled,
}

/// Loads `wasm` from the cache in `dir`, compiling and storing it on a miss. A cache that
/// cannot be read or written only costs time: the component is compiled in memory.
#[expect(unsafe_code, reason = "wasmtime can only trust a precompiled artifact it is told to trust")]
pub fn load(engine: &Engine, wasm: &[u8], dir: Option<&Path>) -> wasmtime::Result<(Component, Origin)> {
    let Some(dir) = dir else {
        return Ok((Component::new(engine, wasm)?, Origin::Compiled));
    };
    let path = dir.join(artifact_name(engine, wasm));
    if path.is_file() {
        // SAFETY: the file is named by the hash of the component and the engine settings and
        // was written by `store` below from `precompile_component` output.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => return Ok((c, Origin::Cached)),
            Err(_) => {
                // Truncated or from an incompatible build: replace it.
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    let artifact = engine.precompile_component(wasm)?;
    store(&path, &artifact);
    // SAFETY: `artifact` was produced by this engine a moment ago.
    let component = unsafe { Component::deserialize(engine, &artifact)? };
    Ok((component, Origin::Compiled))
}

/// Writes atomically (temporary file + rename), so a concurrent reader never sees half an
/// artifact. Failures are ignored: the cache is an optimisation.
fn store(path: &Path, artifact: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("artifact"),
        std::process::id()
    ));
    if std::fs::write(&tmp, artifact).is_ok() && std::fs::rename(&tmp, path).is_ok() {
        return;
    }
    let _ = std::fs::remove_file(&tmp);
}

#[cfg(test)]
mod tests {
    //! Compiled once, loaded afterwards, and a damaged artifact is replaced rather than
    //! trusted or fatal.
    use super::*;
    use crate::{RuntimeConfig, Sandbox};
    use sealmail_core::bindings::password::Strength;

    fn config(dir: &std::path::Path) -> RuntimeConfig {
        RuntimeConfig { cache_dir: Some(dir.to_path_buf()), ..RuntimeConfig::default() }
    }

    fn artifacts(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect()
    }

    #[tokio::test]
    async fn compiles_once_then_loads_and_replaces_a_damaged_artifact() {
        let dir = tempfile::tempdir().unwrap();

        let first = Sandbox::new(config(dir.path())).unwrap().library().unwrap();
        assert_eq!(first.origin(), Origin::Compiled);
        let files = artifacts(dir.path());
        assert_eq!(files.len(), 1, "one artifact, named by hash: {files:?}");

        let second = Sandbox::new(config(dir.path())).unwrap().library().unwrap();
        assert_eq!(second.origin(), Origin::Cached);
        let password = second.generate_password(Strength::High).await.unwrap();
        assert_eq!(password.len(), 10);
        // The artifact is mapped while a component loaded from it lives: unmap it before the
        // file is damaged (writing over a mapped file is a SIGBUS waiting to happen).
        drop(second);

        // A truncated artifact must not be loaded: it is recompiled and rewritten.
        let artifact = &files[0];
        let len = std::fs::metadata(artifact).unwrap().len();
        std::fs::write(artifact, b"not a compiled component").unwrap();
        let third = Sandbox::new(config(dir.path())).unwrap().library().unwrap();
        assert_eq!(third.origin(), Origin::Compiled);
        assert_eq!(std::fs::metadata(artifact).unwrap().len(), len);
        assert!(third.generate_password(Strength::Medium).await.is_ok());
    }

    #[tokio::test]
    async fn an_unwritable_cache_only_costs_time() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-a-dir");
        std::fs::write(&file, b"").unwrap();
        let rt = Sandbox::new(RuntimeConfig { cache_dir: Some(file.join("sub")), ..RuntimeConfig::default() })
            .unwrap()
            .library()
            .unwrap();
        assert_eq!(rt.origin(), Origin::Compiled);
        assert!(rt.generate_password(Strength::Maximum).await.is_ok());
    }
}
