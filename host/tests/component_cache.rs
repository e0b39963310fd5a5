//! The precompiled-component cache: compiled once, loaded afterwards, and a damaged
//! artifact is replaced rather than trusted or fatal.

use sealmail::component_cache::Origin;
use sealmail::library::Strength;
use sealmail::{Library, Runtime, RuntimeConfig};

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

    let first = Runtime::new(config(dir.path())).unwrap();
    assert_eq!(first.origin(), Origin::Compiled);
    let files = artifacts(dir.path());
    assert_eq!(files.len(), 1, "one artifact, named by hash: {files:?}");

    let second = Runtime::new(config(dir.path())).unwrap();
    assert_eq!(second.origin(), Origin::Cached);
    let password = Library::new(second).generate_password(Strength::High).await.unwrap();
    assert_eq!(password.len(), 10);

    // A truncated artifact must not be loaded: it is recompiled and rewritten.
    let artifact = &files[0];
    let len = std::fs::metadata(artifact).unwrap().len();
    std::fs::write(artifact, b"not a compiled component").unwrap();
    let third = Runtime::new(config(dir.path())).unwrap();
    assert_eq!(third.origin(), Origin::Compiled);
    assert_eq!(std::fs::metadata(artifact).unwrap().len(), len);
    assert!(Library::new(third).generate_password(Strength::Medium).await.is_ok());
}

#[tokio::test]
async fn an_unwritable_cache_only_costs_time() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"").unwrap();
    let rt = Runtime::new(RuntimeConfig { cache_dir: Some(file.join("sub")), ..RuntimeConfig::default() }).unwrap();
    assert_eq!(rt.origin(), Origin::Compiled);
    assert!(Library::new(rt).generate_password(Strength::Maximum).await.is_ok());
}
