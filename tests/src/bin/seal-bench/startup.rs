//! Runtime start-up: `Sandbox::new + library` with an empty artifact cache, a warm one and none.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use sealmail_sandbox::component_cache::Origin;
use sealmail_sandbox::{Library, RuntimeConfig, Sandbox};

use crate::measure::{Samples, time_sync};
use crate::options::ComponentSource;

/// `Sandbox::new + library` runs timed with a warm artifact cache, and with no cache (each compiles).
pub const WARM_RUNTIME_RUNS: usize = 10;

pub const UNCACHED_RUNTIME_RUNS: usize = 3;

pub struct Startup {
    /// The temporary artifact cache every later measurement loads from.
    pub cache: tempfile::TempDir,
    pub cold_cache: Duration,
    pub cold_origin: Origin,
    pub warm_cache: Samples,
    pub no_cache: Samples,
}

pub fn build_runtime(component: &ComponentSource, cache_dir: Option<PathBuf>) -> Result<Library> {
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
pub fn measure_startup(component: &ComponentSource) -> Result<Startup> {
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
