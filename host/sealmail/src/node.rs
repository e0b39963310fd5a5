//! One sealmail node, composed from the host crates for `sealmail serve`: the store, the
//! sandbox with both worlds, the transport, the scanners, the workers, the callback
//! dispatchers, the bounce listener, the retention purge and the HTTP API. It prints where
//! everything is and runs until SIGTERM or Ctrl-C, then drains: stops accepting, lets every
//! worker finish the step in hand, and exits.
//!
//! Each piece is built by its own crate from its own configuration section; this module
//! only wires them together and must not grow decisions of its own.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{Notify, watch};

use sealmail_api::accounts::Accounts;
use sealmail_api::{ApiSections, AppState, Shared};
use sealmail_bounces::smtp_server::BounceListener;
use sealmail_callbacks::dispatcher::Dispatcher;
use sealmail_core::bindings::validation::Limits;
use sealmail_core::metrics::Metrics;
use sealmail_sandbox::{Library, Sandbox};
use sealmail_smtp::{DkimSigners, Transport};
use sealmail_store::Store;
pub use sealmail_store::open::Opened;
use sealmail_store::open::{self, Database};
use sealmail_workflow::late_bounce::LateBounces;
use sealmail_workflow::pool::Pool;
use sealmail_workflow::purge::Purger;
use sealmail_workflow::runtime::{ServiceRuntime, Services};

use crate::config::Config;

/// How long a drain waits for workers to finish their step.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The store of a configuration, with its storage key (generated into the data directory
/// for SQLite when none is configured: the operator is told to back it up).
pub async fn open_store(config: &Config) -> anyhow::Result<Opened> {
    let database = config.database()?;
    let opened = open::open(
        &database,
        &config.data_dir,
        config.storage_key.as_deref(),
        &config.previous_storage_keys,
        config.callbacks.max_events_per_post,
    )
    .await?;
    if let Some(file) = &opened.generated_key {
        eprintln!("generated a storage key in {} — back it up: without it, queued jobs cannot be read", file.display());
    }
    Ok(opened)
}

/// Takes the data directory's lock: one process per SQLite store, since a second one would
/// share leases it cannot see.
fn lock_data_dir(config: &Config) -> anyhow::Result<std::fs::File> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
    let lock_path = config.data_dir.join("sealmail.lock");
    let lock = std::fs::File::create(&lock_path).with_context(|| format!("cannot create {}", lock_path.display()))?;
    lock.try_lock().map_err(|_| {
        anyhow::anyhow!(
            "another sealmail process is using {} (lock {})",
            config.data_dir.display(),
            lock_path.display()
        )
    })?;
    Ok(lock)
}

/// The sandbox of `config` and the `library` world in it: the request limits start from
/// the component's own defaults, and `[limits]` overrides them.
pub async fn sandbox(config: &Config) -> anyhow::Result<(Sandbox, Library, Limits)> {
    let sandbox =
        Sandbox::new(config.sandbox.runtime()).map_err(|e| anyhow::anyhow!("cannot start the sandbox: {e:#}"))?;
    let library = sandbox.library().map_err(|e| anyhow::anyhow!("cannot load the library component: {e:#}"))?;
    let defaults = library.default_limits().await.context("the library component's default limits")?;
    Ok((sandbox, library, config.limits.request_limits(defaults)))
}

/// The workflow of `config` over `store`: the service component in `sandbox` (the embedded
/// one, or `[sandbox] service_component`), and the capabilities its imports act on.
pub fn workflow(
    config: &Config,
    sandbox: &Sandbox,
    store: Arc<dyn Store>,
) -> anyhow::Result<(ServiceRuntime, Arc<Services>)> {
    let service = match &config.sandbox.service_component {
        // The banner warns about it (`warnings`).
        Some(path) => {
            let wasm = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            ServiceRuntime::with_component(sandbox, &wasm)
        }
        None => ServiceRuntime::new(sandbox),
    }
    .map_err(|e| anyhow::anyhow!("cannot load the service component: {e:#}"))?;
    let services = Services {
        store,
        transport: Transport::from_config(&config.transport())?,
        dkim: DkimSigners::from_config(&config.dkim)?,
        scanners: config.antivirus.scanners().context("antivirus")?,
        allow_insecure_no_antivirus: config.antivirus.allow_insecure_no_antivirus,
        verp: config.bounces.verp()?,
    };
    Ok((service, Arc::new(services)))
}

/// Runs the server until a shutdown signal.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    // A PostgreSQL database is shared by design: no lock, and the leases of other nodes stay
    // (a dead node's leases expire; `release_leases` is a no-op there).
    let lock = match config.database()? {
        Database::Sqlite(_) => Some(lock_data_dir(&config)?),
        Database::Postgres(_) => None,
    };
    let Opened { store, key, .. } = open_store(&config).await?;
    if lock.is_some() {
        store.release_leases().await?;
    }

    let (sandbox, library, limits) = sandbox(&config).await?;
    let (service, services) = workflow(&config, &sandbox, store.clone())?;
    let unfinished = Arc::new(AtomicU64::new(store.unfinished_jobs().await?));
    let wake = Arc::new(Notify::new());
    let metrics = Arc::new(Metrics::new());
    let events = Arc::new(Notify::new());
    let (app_state, webhook_secrets) = AppState::from_config(
        ApiSections {
            limits: &config.limits,
            accounts: &config.accounts,
            callbacks: &config.callbacks,
            max_unfinished: config.queue.max_jobs_in_flight,
            allow_insecure_no_antivirus: config.antivirus.allow_insecure_no_antivirus,
        },
        Shared {
            library,
            limits,
            store: store.clone(),
            key: &key,
            scanners: services.scanners.clone(),
            unfinished: unfinished.clone(),
            wake: wake.clone(),
            metrics: metrics.clone(),
        },
    )?;

    // TLS files are read before binding: a bad one stops the start-up, naming the file.
    let api = config.api.settings()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let address = listener.local_addr()?;
    let dsn_listener = match config.bounces.listen {
        Some(at) => {
            Some(tokio::net::TcpListener::bind(at).await.with_context(|| format!("cannot listen for DSNs on {at}"))?)
        }
        None => None,
    };
    let dsn_address = dsn_listener.as_ref().map(tokio::net::TcpListener::local_addr).transpose()?;
    banner(&config, (api.scheme(), address), &services, &app_state.accounts)?;
    bounces_banner(services.verp.as_ref(), dsn_address)?;

    let pool = Arc::new(Pool::new(
        &config.queue,
        service.clone(),
        services.clone(),
        limits,
        config.message_id_domain.clone(),
        config.suppression.clone(),
        (wake.clone(), events.clone()),
        unfinished.clone(),
        metrics.clone(),
    ));
    let (stop, stopped) = watch::channel(false);
    let workers = pool.spawn(config.queue.workers, stopped.clone())?;
    if let (Some(dsn_listener), Some(verp)) = (dsn_listener, services.verp.clone()) {
        let recorder = LateBounces::new(service, services.clone(), config.suppression.clone());
        let receiver = BounceListener::new(verp, Arc::new(recorder), events.clone(), config.bounces.max_message_bytes);
        // Stops accepting at the drain; a session in progress finishes on its own.
        Arc::new(receiver).spawn(dsn_listener, stopped.clone());
    }
    let dispatcher = Arc::new(
        Dispatcher::from_config(
            &config.callbacks,
            store.clone(),
            webhook_secrets,
            (config.queue.lease(), config.queue.poll()),
            events,
            metrics.clone(),
        )
        .context("cannot create the callback HTTP client")?,
    );
    // Retention: every node purges finished jobs past the period (batches skip jobs another
    // node is erasing); the task ends at the drain.
    if let Some(purger) = Purger::new(&config.retention, store.clone(), metrics.clone()) {
        Arc::new(purger).spawn(stopped.clone());
    }
    let dispatchers = dispatcher.spawn(config.callbacks.dispatchers, stopped);

    let app = sealmail_api::router(Arc::new(app_state));
    // `ConnectInfo<SocketAddr>` is on every request (`connections`): the failed-authentication
    // throttle counts per client address (`throttle`).
    sealmail_api::connections::serve(listener, app, api, shutdown_signal()).await?;
    eprintln!("draining: waiting for workers to finish their current step");
    let _ = stop.send(true);
    let drain = tokio::task::spawn_blocking(move || workers.join());
    let callbacks = join_all(dispatchers);
    if tokio::time::timeout(DRAIN_TIMEOUT, async { tokio::join!(drain, callbacks) }).await.is_err() {
        eprintln!("drain timed out; unfinished steps will be repeated at the next start");
    }
    drop(lock);
    eprintln!("stopped");
    Ok(())
}

/// Waits for every task of `tasks`.
async fn join_all(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for task in tasks {
        let _ = task.await;
    }
}

fn banner(
    config: &Config,
    (scheme, address): (&str, std::net::SocketAddr),
    services: &Services,
    accounts: &Accounts,
) -> anyhow::Result<()> {
    let Services { transport, dkim, scanners, .. } = services;
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "sealmail {} listening on {scheme}://{address}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "  database:  {}", config.database()?.describe())?;
    writeln!(out, "  mail goes: {}", transport.describe())?;
    if let Some(dkim) = dkim.describe() {
        writeln!(out, "  dkim:      {dkim}")?;
    }
    match scanners.as_ref() {
        Some(s) => writeln!(out, "  antivirus: {}", s.describe())?,
        None if config.antivirus.allow_insecure_no_antivirus => writeln!(
            out,
            "  antivirus: NONE — WARNING: allow_insecure_no_antivirus is set; jobs asking for antivirus are sent unscanned"
        )?,
        None => writeln!(out, "  antivirus: none configured (jobs asking for antivirus are refused with 400)")?,
    }
    writeln!(
        out,
        "  accounts:  {} in the config file, more with `sealmail account add NAME`",
        accounts.configured_count()
    )?;
    let callbacks = &config.callbacks;
    if callbacks.allow_private_callback_ips {
        writeln!(
            out,
            "  callbacks: WARNING: allow_private_callback_ips is set; callback URLs may reach loopback, private \
             and cloud metadata addresses"
        )?;
    } else if callbacks.allowed_callback_ranges.is_empty() {
        writeln!(out, "  callbacks: special-purpose addresses refused (SSRF guard)")?;
    } else {
        let ranges: Vec<String> = callbacks.allowed_callback_ranges.iter().map(ToString::to_string).collect();
        writeln!(out, "  callbacks: special-purpose addresses refused except {}", ranges.join(", "))?;
    }
    for warning in crate::warnings::warnings(config, transport, scheme) {
        writeln!(out, "  WARNING: {warning}")?;
    }
    out.flush()?;
    Ok(())
}

/// The banner's line about bounces after delivery (`[bounces]`).
fn bounces_banner(verp: Option<&sealmail_bounces::Verp>, listener: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match (verp, listener) {
        (None, _) => writeln!(out, "  bounces:   no VERP (set [bounces] verp_domain to track bounces after delivery)")?,
        (Some(verp), Some(at)) => {
            writeln!(out, "  bounces:   VERP bounce+<token>@{}, DSNs received on smtp://{at}", verp.domain())?
        }
        (Some(verp), None) => writeln!(
            out,
            "  bounces:   VERP bounce+<token>@{}, DSNs through `sealmail bounce` (no listener)",
            verp.domain()
        )?,
    }
    out.flush()?;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    eprintln!("shutdown requested");
}
