//! `sealmail serve`: builds the store, the transport, the scanners, the two component
//! runtimes, the workers and the HTTP API from the configuration, prints where everything
//! is, and runs until SIGTERM or Ctrl-C, then drains: stops accepting, lets every worker
//! finish the step in hand, and exits.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::{Notify, watch};

use crate::accounts::{self, Accounts};
use crate::antivirus::{ScannerAddress, Scanners};
use crate::callbacks::dispatcher::Dispatcher;
use crate::callbacks::http::Poster;
use crate::config::{Config, Database, redact_password};
use crate::library::{Library, Limits};
use crate::runtime::{Runtime, RuntimeConfig};
use crate::service::bindings::workflow::Policy;
use crate::service::{ServiceRuntime, Services};
use crate::store::Store;
use crate::store::at_rest::AtRestKey;
use crate::store::postgres::PostgresStore;
use crate::store::sqlite::SqliteStore;
use crate::transport::Transport;
use crate::worker::Pool;

/// How long a drain waits for workers to finish their step.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// The store of a configuration, with its storage key: SQLite (the key generated into the
/// data directory when none is configured) or PostgreSQL (the key must be configured: all
/// nodes need the same one). Either bounds callback posts to `max_events_per_post`.
pub async fn open_store(config: &Config) -> anyhow::Result<(Arc<dyn Store>, AtRestKey)> {
    let events_per_post = config.callbacks.max_events_per_post;
    match config.database()? {
        Database::Sqlite(path) => {
            std::fs::create_dir_all(&config.data_dir)
                .with_context(|| format!("cannot create the data directory {}", config.data_dir.display()))?;
            let key_file = config.data_dir.join("storage.key");
            let (key, created) = AtRestKey::load(config.storage_key.as_deref(), &key_file)?;
            let key = key.with_previous(&config.previous_storage_keys)?;
            if created {
                eprintln!(
                    "generated a storage key in {} — back it up: without it, queued jobs cannot be read",
                    key_file.display()
                );
            }
            let store =
                SqliteStore::open(&path, key.clone()).with_context(|| format!("cannot open {}", path.display()))?;
            store.set_max_events_per_post(events_per_post);
            Ok((Arc::new(store), key))
        }
        Database::Postgres(url) => {
            // A generated key file would differ per node, and no node could read the jobs
            // another one stored.
            let configured = config.storage_key.as_deref().ok_or_else(|| {
                anyhow::anyhow!(
                    "database_url is a PostgreSQL database: set storage_key in the configuration (32 random \
                     bytes, base64: `head -c 32 /dev/urandom | base64`), the same on every node"
                )
            })?;
            let (key, _) = AtRestKey::load(Some(configured), &config.data_dir.join("storage.key"))?;
            let key = key.with_previous(&config.previous_storage_keys)?;
            let store = PostgresStore::open(&url, key.clone(), events_per_post)
                .await
                .with_context(|| format!("cannot open the PostgreSQL database {}", redact_password(&url)))?;
            Ok((Arc::new(store), key))
        }
    }
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

/// Runs the server until a shutdown signal.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    // A PostgreSQL database is shared by design: no lock, and the leases of other nodes stay
    // (a dead node's leases expire; `release_leases` is a no-op there).
    let lock = match config.database()? {
        Database::Sqlite(_) => Some(lock_data_dir(&config)?),
        Database::Postgres(_) => None,
    };
    let (store, key) = open_store(&config).await?;
    if lock.is_some() {
        store.release_leases().await?;
    }

    let transport = Transport::from_config(&config.transport())?;
    let dkim = crate::dkim::DkimSigners::from_config(&config.dkim)?;
    let verp = config.bounces.verp()?;
    let scanners = scanners(&config)?;
    let runtime_config = RuntimeConfig {
        max_memory_bytes: config.sandbox.max_memory_mib.saturating_mul(1 << 20),
        max_call_time: Duration::from_secs(config.sandbox.max_call_secs.max(1)),
        max_wasm_stack: config.sandbox.max_stack_kib.max(64).saturating_mul(1 << 10),
        ..RuntimeConfig::default()
    };
    let library = Library::new(
        Runtime::new(runtime_config.clone())
            .map_err(|e| anyhow::anyhow!("cannot load the library component: {e:#}"))?,
    );
    let service = match &config.sandbox.service_component {
        // The banner warns about it (`insecure::warnings`).
        Some(path) => {
            let wasm = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
            ServiceRuntime::with_component(runtime_config, &wasm)
        }
        None => ServiceRuntime::new(runtime_config),
    }
    .map_err(|e| anyhow::anyhow!("cannot load the service component: {e:#}"))?;
    let accounts = Accounts::new(key.derive(accounts::KEY_PURPOSE), &config.accounts, store.clone())
        .with_previous_keys(key.derive_previous(accounts::KEY_PURPOSE));
    let callback_policy = config.callbacks.address_policy();
    let account_callbacks = accounts::callback_settings(&config.accounts)?;
    for (name, settings) in &account_callbacks {
        // A default endpoint the guard would refuse is a configuration mistake: say so now,
        // not in a callback's failure hours later.
        if let Some(endpoint) = &settings.default_endpoint
            && let Ok(url) = url::Url::parse(&endpoint.url)
            && let Err(refused) = callback_policy.check_literal_host(&url)
        {
            anyhow::bail!("account {name:?}: callback: {refused}");
        }
    }
    let poster =
        Poster::new(callback_policy.clone(), config.callbacks.resolver_overrides.clone(), config.callbacks.timeout())
            .context("cannot create the callback HTTP client")?;
    let unfinished = Arc::new(AtomicU64::new(store.unfinished_jobs().await?));
    let wake = Arc::new(Notify::new());
    let metrics = Arc::new(crate::metrics::Metrics::new());
    let events = Arc::new(Notify::new());
    let limits = Limits {
        max_request_bytes: config.limits.max_request_bytes,
        max_message_bytes: config.limits.max_message_bytes,
        max_addresses: config.limits.max_addresses,
        max_rendered_bytes: config.limits.max_rendered_bytes,
    };

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
    banner(&config, (api.scheme(), address), &transport, &dkim, scanners.as_ref(), &accounts)?;
    bounces_banner(verp.as_ref(), dsn_address)?;

    let services = Arc::new(Services {
        store: store.clone(),
        transport,
        dkim,
        scanners: scanners.clone(),
        allow_insecure_no_antivirus: config.antivirus.allow_insecure_no_antivirus,
        verp: verp.clone(),
    });
    let pool = Arc::new(Pool {
        runtime: service,
        services,
        limits: crate::service::bindings::exports::sealmail::mail::validation::Limits {
            max_request_bytes: limits.max_request_bytes,
            max_message_bytes: limits.max_message_bytes,
            max_addresses: limits.max_addresses,
            max_rendered_bytes: limits.max_rendered_bytes,
        },
        policy: Policy {
            retry_delays_ms: config.queue.retry_delays_secs.iter().map(|s| s.saturating_mul(1000)).collect(),
            max_queue_lifetime_ms: config.queue.max_queue_lifetime_secs.saturating_mul(1000),
        },
        message_id_domain: config.message_id_domain.clone(),
        lease: config.queue.lease(),
        poll: Duration::from_millis(config.queue.poll_ms.max(10)),
        wake: wake.clone(),
        events: events.clone(),
        unfinished: unfinished.clone(),
        suppression: config.suppression.clone(),
        metrics: metrics.clone(),
    });
    let (stop, stopped) = watch::channel(false);
    let workers = pool.spawn(config.queue.workers, stopped.clone())?;
    if let (Some(dsn_listener), Some(verp)) = (dsn_listener, verp) {
        let receiver = crate::bounces::listener::BounceListener::new(
            verp,
            store.clone(),
            config.suppression.clone(),
            events.clone(),
            config.bounces.max_message_bytes,
        );
        // Stops accepting at the drain; a session in progress finishes on its own.
        Arc::new(receiver).spawn(dsn_listener, stopped.clone());
    }
    let dispatcher = Arc::new(Dispatcher {
        store: store.clone(),
        poster,
        retry: config.callbacks.retry_policy(),
        secrets: account_callbacks.iter().map(|(name, s)| (name.clone(), s.secrets.clone())).collect(),
        lease: config.queue.lease(),
        poll: Duration::from_millis(config.queue.poll_ms.max(10)),
        wake: events,
        metrics: metrics.clone(),
    });
    // Retention: every node purges finished jobs past the period (batches skip jobs another
    // node is erasing); the task ends at the drain.
    if let Some(purger) = crate::retention::Purger::new(&config.retention, store.clone(), metrics.clone()) {
        Arc::new(purger).spawn(stopped.clone());
    }
    let dispatchers = dispatcher.spawn(config.callbacks.dispatchers, stopped);

    let app = crate::api::router(Arc::new(crate::api::AppState {
        library,
        store,
        accounts,
        limits,
        unfinished,
        max_unfinished: config.queue.max_jobs_in_flight,
        wake,
        scanners,
        allow_insecure_no_antivirus: config.antivirus.allow_insecure_no_antivirus,
        callback_policy,
        rate_limits: crate::accounts::RateLimits::from_config(&config),
        metrics,
        auth_throttle: crate::api::throttle::AuthThrottle::new(config.limits.auth_throttle()),
        default_callbacks: account_callbacks
            .into_iter()
            .filter_map(|(name, s)| Some((name, s.default_endpoint?)))
            .collect(),
    }));
    // `ConnectInfo<SocketAddr>` is on every request (`api::serve`): the failed-authentication
    // throttle counts per client address (`api::throttle`).
    crate::api::serve::serve(listener, app, api, shutdown_signal()).await?;
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

fn scanners(config: &Config) -> anyhow::Result<Option<Scanners>> {
    if config.antivirus.scanners.is_empty() {
        return Ok(None);
    }
    let addresses = config
        .antivirus
        .scanners
        .iter()
        .map(|s| s.parse::<ScannerAddress>().map_err(|e| anyhow::anyhow!("antivirus scanner {s:?}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let timeout = Duration::from_secs(config.antivirus.timeout_secs.unwrap_or(60));
    Ok(Some(Scanners::new(addresses, timeout)))
}

fn banner(
    config: &Config,
    (scheme, address): (&str, std::net::SocketAddr),
    transport: &Transport,
    dkim: &crate::dkim::DkimSigners,
    scanners: Option<&Scanners>,
    accounts: &Accounts,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "sealmail {} listening on {scheme}://{address}", env!("CARGO_PKG_VERSION"))?;
    writeln!(out, "  database:  {}", config.database()?.describe())?;
    writeln!(out, "  mail goes: {}", transport.describe())?;
    if let Some(dkim) = dkim.describe() {
        writeln!(out, "  dkim:      {dkim}")?;
    }
    match scanners {
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
    for warning in crate::insecure::warnings(config, transport, scheme) {
        writeln!(out, "  WARNING: {warning}")?;
    }
    out.flush()?;
    Ok(())
}

/// The banner's line about bounces after delivery (`[bounces]`).
fn bounces_banner(verp: Option<&crate::bounces::Verp>, listener: Option<std::net::SocketAddr>) -> anyhow::Result<()> {
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
