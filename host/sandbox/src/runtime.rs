//! The wasmtime side of sealmail: one `Engine`, `Linker` and pre-instantiated component,
//! built once at start-up, and a fresh `Store` with memory and CPU limits for every call
//! (or sealing session). Nothing that one call leaves behind can reach the next.
//!
//! A trap, a memory or time limit hit inside the guest becomes a [`CallError`]; the host
//! never panics because of what the guest did.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Deserialize;
use wasmtime::component::{InstancePre, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolConcurrencyLimitError, PoolingAllocationConfig, ResourceLimiter,
    Store, Trap, UpdateDeadline,
};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use sealmail_core::bindings::library::LibraryPre;

use crate::component_cache::{self, Origin};
use crate::library::Library;

/// The component, built by `cargo xtask build-guest` before the host (see `build.rs`).
pub static COMPONENT_WASM: &[u8] = include_bytes!(env!("SEALMAIL_GUEST_WASM_PATH"));

/// How often the epoch advances: the granularity of the CPU limit. 10 ms costs nothing
/// measurable and stops a runaway guest within a tick of its budget.
pub const EPOCH_TICK: Duration = Duration::from_millis(10);

/// How long a guest runs before it yields its thread to the async executor. Guest code
/// does not yield on its own: without this, as many spinning guests as the executor has
/// threads (two workers on a two-core node) would stall every other job until their budgets
/// ran out. Each yield costs a fiber switch (microseconds); 50 ms bounds what other tasks on
/// the thread wait. The time spent yielded is not charged to the guest.
pub const YIELD_SLICE: Duration = Duration::from_millis(50);

/// Fiber stack beyond the wasm stack limit, for the host code the guest calls into (WASI,
/// the imports) and wasmtime's own frames: wasmtime requires some (its default is 1.5 MiB
/// over a 512 KiB wasm stack), and 1 MiB keeps the default fiber at 2 MiB.
pub const HOST_STACK_ROOM: usize = 1 << 20;

/// Limits for every guest call (`[sandbox]` in the configuration; docs/service.md,
/// "Sandbox limits", gives the reasons for each default).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Most linear memory one instance may grow to. 256 MiB holds a 28 MiB request, its
    /// decoded attachments and a 20 MiB archive with room to spare.
    pub max_memory_bytes: usize,
    /// Most guest time one call may run. 10 s is over 10× a 20 MiB seal (~0.75 s in the
    /// component, docs/performance.md); a guest past it is looping.
    pub max_call_time: Duration,
    /// Most native stack the guest's wasm frames may use (wasmtime's `max_wasm_stack`).
    /// Deep recursion traps here instead of overflowing the host thread's stack. 1 MiB is
    /// 8× what the real guest is shown to need: every request of the corpus, maximal JSON
    /// nesting (serde_json stops at 128 levels) and sealing pass with 128 KiB
    /// (tests/it/sandbox_hostile.rs). Calls run on their own fiber stacks, sized this
    /// plus [`HOST_STACK_ROOM`].
    pub max_wasm_stack: usize,
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
            max_wasm_stack: 1 << 20,
            cache_dir: component_cache::default_dir(),
            // Far above the workers a two-core host runs; small enough to reserve cheaply.
            max_instances: 64,
        }
    }
}

/// The component's sandbox (docs/service.md, "Sandbox limits": each default and why).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Linear memory per instance, MiB.
    pub max_memory_mib: usize,
    /// Guest CPU time per workflow call, seconds (time waiting in host calls not counted).
    pub max_call_secs: u64,
    /// The guest's wasm stack, KiB (runaway recursion ends here).
    pub max_stack_kib: usize,
    /// A build of the `service` world to run instead of the embedded one (the sandbox tests'
    /// hostile guest; trying a rebuilt guest without rebuilding the host). `None`: embedded.
    pub service_component: Option<PathBuf>,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self { max_memory_mib: 256, max_call_secs: 10, max_stack_kib: 1024, service_component: None }
    }
}

impl SandboxConfig {
    /// The runtime's limits (at least 1 s per call and a 64 KiB stack), with the default
    /// component cache.
    pub fn runtime(&self) -> RuntimeConfig {
        RuntimeConfig {
            max_memory_bytes: self.max_memory_mib.saturating_mul(1 << 20),
            max_call_time: Duration::from_secs(self.max_call_secs.max(1)),
            max_wasm_stack: self.max_stack_kib.max(64).saturating_mul(1 << 10),
            ..RuntimeConfig::default()
        }
    }

    /// The start-up warnings of this section, without the `WARNING: ` prefix.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(path) = &self.service_component {
            out.push(format!(
                "sandbox.service_component loads the workflow from {} instead of the component built into this \
                 binary: whatever that file does decides what is sent (meant for tests and trial builds)",
                path.display()
            ));
        }
        out
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
        /// The guest-time budget of one call (`max_call_secs`).
        limit: Duration,
    },
    /// The guest's call chain outgrew the wasm stack limit (runaway recursion).
    #[error("the component exceeded its stack limit of {limit} bytes (recursion too deep)")]
    StackLimit {
        /// The limit in bytes (`RuntimeConfig::max_wasm_stack`).
        limit: usize,
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
    /// A host capability failed during the call ([`HostFailure`]): the call's result is
    /// unusable, through no fault of the guest; the work is retried.
    #[error("{0}")]
    Host(String),
}

/// The error an import returns when the host cannot do what the guest asked (the store could
/// not be read): it ends the call, and [`Sandbox::classify`] reports it as
/// [`CallError::Host`] rather than as the guest's failure.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HostFailure(pub String);

/// Per-store state: WASI (randomness only in practice: no files, no network, no
/// environment are granted), the memory limiter, the guest-time clock, and the host state
/// of the world's imports (`()` for `library`).
pub struct StoreData<T = ()> {
    wasi: WasiCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
    /// Guest time accounting for the CPU limit.
    pub clock: GuestClock,
    /// The imports' state.
    pub host: T,
}

impl<T: Send> WasiView for StoreData<T> {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

/// Measures how long a call has run *in the guest*: wall time since the call began minus
/// the time spent waiting in host imports (SMTP, clamd, the store) and yielded to other tasks
/// ([`YIELD_SLICE`]). The CPU limit applies to the guest's own work only; a slow mail server
/// or a busy executor must not make a workflow call fail.
#[derive(Debug, Clone)]
pub struct GuestClock {
    started: Instant,
    host_wait: Duration,
    /// Nanoseconds spent yielded, written by the yield future (which cannot borrow the store).
    yielded: Arc<AtomicU64>,
}

impl GuestClock {
    fn new() -> Self {
        Self { started: Instant::now(), host_wait: Duration::ZERO, yielded: Arc::default() }
    }

    /// Time the current call has spent running guest code.
    pub fn guest_time(&self) -> Duration {
        let yielded = Duration::from_nanos(self.yielded.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(self.host_wait).saturating_sub(yielded)
    }

    /// Records time spent in a host import.
    pub fn add_host_wait(&mut self, waited: Duration) {
        self.host_wait += waited;
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

/// The process's one wasmtime [`Engine`] with the sandbox's settings, its epoch ticker and
/// the limits every call gets. Cheap to clone (`Arc` inside); create once per process, then
/// load each world's component from it ([`Sandbox::library`], [`Sandbox::load`]). The epoch
/// ticker stops when the last clone is dropped.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Shared>,
}

struct Shared {
    engine: Engine,
    config: RuntimeConfig,
    ticker_stop: Arc<AtomicBool>,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.ticker_stop.store(true, Ordering::Relaxed);
    }
}

impl Sandbox {
    /// Builds the engine (epoch interruption, stack limit, pooling allocator) and starts its
    /// epoch ticker.
    pub fn new(config: RuntimeConfig) -> wasmtime::Result<Self> {
        let (engine, ticker_stop) = engine(&config)?;
        Ok(Self { inner: Arc::new(Shared { engine, config, ticker_stop }) })
    }

    /// The limits in force.
    pub fn config(&self) -> &RuntimeConfig {
        &self.inner.config
    }

    /// The `library` world from the component embedded in this binary.
    pub fn library(&self) -> wasmtime::Result<Library> {
        self.library_from(COMPONENT_WASM)
    }

    /// The `library` world from another component binary (tests, embedders).
    pub fn library_from(&self, wasm: &[u8]) -> wasmtime::Result<Library> {
        let (pre, origin) = self.load(wasm, |_| Ok(()), LibraryPre::new)?;
        Ok(Library::new(self.clone(), pre, origin))
    }

    /// Loads `wasm` (from the artifact cache when possible), links WASI and whatever `link`
    /// adds, and pre-instantiates it with `pre`: how each world's runtime is made.
    pub fn load<T: WasiView + 'static, P>(
        &self,
        wasm: &[u8],
        link: impl FnOnce(&mut Linker<T>) -> wasmtime::Result<()>,
        pre: impl FnOnce(InstancePre<T>) -> wasmtime::Result<P>,
    ) -> wasmtime::Result<(P, Origin)> {
        let engine = &self.inner.engine;
        let (component, origin) = component_cache::load(engine, wasm, self.inner.config.cache_dir.as_deref())?;
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        link(&mut linker)?;
        Ok((pre(linker.instantiate_pre(&component)?)?, origin))
    }

    /// A fresh store with the memory limit and the guest-time limit, holding `host`.
    pub fn store<T: Send + 'static>(&self, host: T) -> Store<StoreData<T>> {
        new_store(&self.inner.engine, &self.inner.config, host)
    }

    /// Restarts the guest-time budget for the next call in `store`.
    pub fn reset_budget<T: Send>(&self, store: &mut Store<StoreData<T>>) {
        reset_budget(store, &self.inner.config);
    }

    /// What a failed call or instantiation in `store` means ([`CallError`]).
    pub fn classify<T>(&self, store: &Store<StoreData<T>>, e: wasmtime::Error) -> CallError {
        classify(&self.inner.config, store, e)
    }

    /// Like [`Sandbox::classify`] for a failed instantiation: a trap there is
    /// [`CallError::Instantiate`].
    pub fn classify_instantiation<T>(&self, store: &Store<StoreData<T>>, e: wasmtime::Error) -> CallError {
        match self.classify(store, e) {
            CallError::Trap(why) => CallError::Instantiate(why),
            other => other,
        }
    }
}

/// An engine with the sandbox's settings (epoch interruption, stack limit, pooling
/// allocator) and its epoch ticker thread, which stops when the returned flag is set.
fn engine(config: &RuntimeConfig) -> wasmtime::Result<(Engine, Arc<AtomicBool>)> {
    let mut wasm_config = Config::new();
    wasm_config.epoch_interruption(true);
    // Deep recursion in the guest must trap, not overflow the host's stack.
    wasm_config.max_wasm_stack(config.max_wasm_stack);
    wasm_config.async_stack_size(config.max_wasm_stack.saturating_add(HOST_STACK_ROOM));
    // A fresh instance per call is the isolation model; the pooling allocator makes it
    // cheap by reusing pre-reserved slots instead of mapping and unmapping memory each
    // time (docs/performance.md: instantiate + call 68–73 µs → 44–49 µs).
    wasm_config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool(config)));
    let engine = Engine::new(&wasm_config)?;
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
    Ok((engine, ticker_stop))
}

/// A fresh store with the memory limit and the guest-time limit of `config`.
fn new_store<T: Send + 'static>(engine: &Engine, config: &RuntimeConfig, host: T) -> Store<StoreData<T>> {
    let data = StoreData {
        wasi: WasiCtx::builder().build(),
        table: ResourceTable::new(),
        limiter: MemoryLimiter { max: config.max_memory_bytes, denied: false },
        clock: GuestClock::new(),
        host,
    };
    let mut store = Store::new(engine, data);
    store.limiter(|d| &mut d.limiter);
    let max = config.max_call_time;
    store.set_epoch_deadline(ticks(max.min(YIELD_SLICE)));
    // At each deadline (every slice), charge only guest time: time spent waiting in host
    // imports or yielded is given back. Past the budget the call ends; before it, the guest
    // yields its thread to the executor, then runs another slice (or what is left).
    store.epoch_deadline_callback(move |ctx| {
        let clock = &ctx.data().clock;
        let used = clock.guest_time();
        if used >= max {
            return Ok(UpdateDeadline::Interrupt);
        }
        let yielded = clock.yielded.clone();
        let pause = async move {
            let paused = Instant::now();
            // tokio's yield goes to the back of the queue (a self-waking future could be
            // polled again at once); outside tokio it wakes immediately.
            tokio::task::yield_now().await;
            yielded.fetch_add(paused.elapsed().as_nanos() as u64, Ordering::Relaxed);
        };
        Ok(UpdateDeadline::YieldCustom(ticks((max - used).min(YIELD_SLICE)), Box::pin(pause)))
    });
    store
}

/// Restarts the guest-time budget for the next call in `store`.
fn reset_budget<T: Send>(store: &mut Store<StoreData<T>>, config: &RuntimeConfig) {
    store.data_mut().clock = GuestClock::new();
    store.set_epoch_deadline(ticks(config.max_call_time.min(YIELD_SLICE)));
}

fn ticks(budget: Duration) -> u64 {
    (budget.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
}

/// Maps a failed call to what happened.
fn classify<T>(config: &RuntimeConfig, store: &Store<StoreData<T>>, e: wasmtime::Error) -> CallError {
    if store.data().limiter.denied {
        return CallError::MemoryLimit { limit: config.max_memory_bytes };
    }
    if e.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
        return CallError::Busy { limit: config.max_instances };
    }
    if let Some(failure) = e.downcast_ref::<HostFailure>() {
        return CallError::Host(failure.0.clone());
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::TimeLimit { limit: config.max_call_time },
        Some(Trap::StackOverflow) => CallError::StackLimit { limit: config.max_wasm_stack },
        _ => CallError::Trap(format!("{e:#}")),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_time_leaves_out_host_waits_and_yields() {
        let mut clock = GuestClock::new();
        std::thread::sleep(Duration::from_millis(30));
        clock.add_host_wait(Duration::from_millis(10));
        clock.yielded.fetch_add(Duration::from_millis(15).as_nanos() as u64, Ordering::Relaxed);
        let guest = clock.guest_time();
        let wall = clock.started.elapsed();
        assert!(
            guest >= Duration::from_millis(5) && guest <= wall - Duration::from_millis(25),
            "{guest:?} of {wall:?}"
        );
    }

    #[test]
    fn a_host_failure_is_told_apart_from_the_guest_failing() {
        let sandbox = Sandbox::new(RuntimeConfig { max_instances: 1, ..RuntimeConfig::default() }).unwrap();
        let store = sandbox.store(());
        let failed = wasmtime::Error::from(HostFailure("held secret of m@x: database error: gone".into()));
        let e = sandbox.classify(&store, failed.context("error while executing at wasm backtrace"));
        assert!(matches!(&e, CallError::Host(why) if why.contains("gone")), "{e:?}");
        let e = sandbox.classify(&store, wasmtime::Error::msg("unreachable"));
        assert!(matches!(e, CallError::Trap(_)), "{e:?}");
    }

    #[test]
    fn a_wasm_stack_beyond_the_default_fiber_stack_still_builds_an_engine() {
        // wasmtime refuses a wasm stack limit at or above the fiber stack; the fiber grows
        // with the limit.
        let config = RuntimeConfig { max_wasm_stack: 8 << 20, max_instances: 1, ..RuntimeConfig::default() };
        let (_engine, stop) = engine(&config).expect("an engine with an 8 MiB wasm stack");
        stop.store(true, Ordering::Relaxed);
    }
}
