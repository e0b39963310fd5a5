//! The wasmtime side of sealmail: one `Engine`, `Linker` and pre-instantiated component,
//! built once at start-up, and a fresh `Store` with memory and CPU limits for every call
//! (or sealing session). Nothing that one call leaves behind can reach the next.
//!
//! A trap, a memory or time limit hit inside the guest becomes a [`CallError`]; the host
//! never panics because of what the guest did.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError, PoolingAllocationConfig, ResourceLimiter,
    Store, Trap,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::LibraryPre;
use crate::component_cache::{self, Origin};

/// The component, built by `cargo xtask build-guest` before the host (see `build.rs`).
pub static COMPONENT_WASM: &[u8] = include_bytes!(env!("SEALMAIL_GUEST_WASM_PATH"));

/// How often the epoch advances: the granularity of the CPU limit. 10 ms costs nothing
/// measurable and stops a runaway guest within a tick of its budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Limits for every guest call.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Most linear memory one instance may grow to. 256 MiB holds a 28 MiB request, its
    /// decoded attachments and a 20 MiB archive with room to spare.
    pub max_memory_bytes: usize,
    /// Most time one call may run. 10 s is ~50× a 20 MiB seal; a guest past it is looping.
    pub max_call_time: Duration,
    /// Where precompiled artifacts are cached (`None`: compile in memory every start).
    pub cache_dir: Option<PathBuf>,
    /// Most instances alive at once (the pooling allocator's slots). Each slot reserves
    /// address space, not memory; a call beyond the bound gets [`CallError::Busy`].
    pub max_instances: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            max_memory_bytes: 256 << 20,
            max_call_time: Duration::from_secs(10),
            cache_dir: component_cache::default_dir(),
            // Far above the workers a two-core host runs; small enough to reserve cheaply.
            max_instances: 64,
        }
    }
}

/// Why a call into the component failed. None of these is the request's fault in a way
/// the guest could report; they are the sandbox doing its job, or a bug.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The guest tried to grow its memory past the limit.
    #[error("the component exceeded its memory limit of {limit} bytes")]
    MemoryLimit {
        /// The limit in bytes.
        limit: usize,
    },
    /// The guest ran past its CPU-time budget.
    #[error("the component exceeded its time limit of {limit:?}")]
    TimeLimit {
        /// The limit.
        limit: Duration,
    },
    /// The guest trapped (a bug in the guest, e.g. a panic).
    #[error("the component failed: {0}")]
    Trap(String),
    /// Every instance slot is in use; try again when a call finishes.
    #[error("all {limit} component instances are busy")]
    Busy {
        /// The bound (`RuntimeConfig::max_instances`).
        limit: u32,
    },
    /// The component could not be instantiated.
    #[error("the component could not be started: {0}")]
    Instantiate(String),
}

/// Per-store state: WASI (randomness only in practice: no files, no network, no
/// environment are granted) and the memory limiter.
pub struct StoreData {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Refuses memory growth past the limit and remembers that it did, so the resulting trap
/// can be reported as what it is.
struct MemoryLimiter {
    max: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = desired <= self.max;
        self.denied |= !ok;
        Ok(ok)
    }
    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; 100k entries is far beyond any sane guest.
        Ok(desired <= 100_000)
    }
}

/// The engine and the pre-linked component. Cheap to share (`Arc` inside); create once.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    pre: LibraryPre<StoreData>,
    config: RuntimeConfig,
    origin: Origin,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Runtime {
    /// Builds the engine, links WASI, loads the embedded component (from the artifact cache
    /// when possible) and starts the epoch ticker.
    pub fn new(config: RuntimeConfig) -> wasmtime::Result<Self> {
        Self::with_component(config, COMPONENT_WASM)
    }

    /// Like [`Runtime::new`] with another component binary (tests, embedders).
    pub fn with_component(config: RuntimeConfig, wasm: &[u8]) -> wasmtime::Result<Self> {
        let mut wasm_config = Config::new();
        wasm_config.epoch_interruption(true);
        // Deep recursion in the guest must trap, not overflow the host's stack.
        wasm_config.max_wasm_stack(1 << 20);
        // A fresh instance per call is the isolation model; the pooling allocator makes it
        // cheap by reusing pre-reserved slots instead of mapping and unmapping memory each
        // time (docs/performance.md: instantiate + call 68–73 µs → 44–49 µs).
        wasm_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(&config)));
        let engine = Engine::new(&wasm_config)?;
        let (component, origin) = component_cache::load(&engine, wasm, config.cache_dir.as_deref())?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        let pre = LibraryPre::new(linker.instantiate_pre(&component)?)?;

        let ticker_stop = Arc::new(AtomicBool::new(false));
        let (weak_engine, stop) = (engine.weak(), ticker_stop.clone());
        std::thread::Builder::new().name("sealmail-epoch".into()).spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak_engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
        Ok(Self { inner: Arc::new(Inner { engine, pre, config, origin, ticker_stop }) })
    }

    /// Whether the component came from the artifact cache.
    pub fn origin(&self) -> Origin {
        self.inner.origin
    }

    /// The limits in force.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// A fresh store with limits and a fresh instance in it.
    pub(crate) async fn instantiate(&self) -> Result<Session, CallError> {
        let data = StoreData {
            wasi: WasiCtx::builder().build(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter { max: self.inner.config.max_memory_bytes, denied: false },
        };
        let mut store = Store::new(&self.inner.engine, data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks());
        let instance =
            self.inner.pre.instantiate_async(&mut store).await.map_err(|e| match self.classify(&store, e) {
                CallError::Trap(why) => CallError::Instantiate(why),
                other => other,
            })?;
        Ok(Session { runtime: self.clone(), store, instance })
    }

    fn deadline_ticks(&self) -> u64 {
        (self.inner.config.max_call_time.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }

    fn classify(&self, store: &Store<StoreData>, e: wasmtime::Error) -> CallError {
        if store.data().limiter.denied {
            return CallError::MemoryLimit { limit: self.inner.config.max_memory_bytes };
        }
        if e.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
            return CallError::Busy { limit: self.inner.config.max_instances };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => CallError::TimeLimit { limit: self.inner.config.max_call_time },
            Some(Trap::StackOverflow) => CallError::Trap("stack overflow (recursion too deep)".into()),
            _ => CallError::Trap(format!("{e:#}")),
        }
    }
}

/// Pool slots for `config.max_instances` live component instances. A component instance
/// holds a few core instances (the guest and wit-component's shims) and tables, and one
/// memory; the counts leave headroom. Slots hold memories a little larger than the limit so
/// that the [`MemoryLimiter`], which reports what happened, is always the one to refuse.
fn pool(config: &RuntimeConfig) -> PoolingAllocationConfig {
    let n = config.max_instances.max(1);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_component_instances(n)
        .total_core_instances(n.saturating_mul(4))
        .total_memories(n.saturating_mul(2))
        .total_tables(n.saturating_mul(4))
        .total_stacks(n)
        .max_memory_size(config.max_memory_bytes.saturating_add(1 << 20));
    pool
}

/// One store and instance: a single call, or a sealing session of several calls.
pub(crate) struct Session {
    runtime: Runtime,
    pub store: Store<StoreData>,
    pub instance: crate::bindings::Library,
}

impl Session {
    /// Gives the next call a full CPU budget and maps its failure to a [`CallError`].
    pub async fn call<T, F>(&mut self, f: F) -> Result<T, CallError>
    where
        F: AsyncFnOnce(&crate::bindings::Library, &mut Store<StoreData>) -> wasmtime::Result<T>,
    {
        let ticks = self.runtime.deadline_ticks();
        self.store.set_epoch_deadline(ticks);
        let result = f(&self.instance, &mut self.store).await;
        result.map_err(|e| self.runtime.classify(&self.store, e))
    }
}
