//! The server's configuration: a TOML file (`sealmail serve --config FILE`), overridden by
//! `SEALMAIL_*` environment variables, on top of local defaults that run with no file at
//! all (SQLite in a data directory, the outbox transport, `127.0.0.1:8080`).
//!
//! Environment overrides: `SEALMAIL_LISTEN=0.0.0.0:8080` sets a top-level key,
//! `SEALMAIL_QUEUE__WORKERS=8` a key of a section (`__` separates levels). A value is read
//! as TOML when it parses as a TOML value (numbers, booleans, arrays), else as a string.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use crate::callbacks::retry::RetryPolicy;
use crate::callbacks::ssrf::AddressPolicy;
use crate::transport::TransportConfig;

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file or an override is not valid TOML or has a wrong key or value.
    #[error("invalid configuration{}: {message}", .path.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    Invalid {
        /// The file, if the problem is in it.
        path: Option<PathBuf>,
        /// The parser's message (names the key).
        message: String,
    },
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the REST API listens.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The API's TLS and its bounds on slow clients and connections.
    #[serde(default)]
    pub api: crate::api::serve::ApiConfig,
    /// Directory for the SQLite database, the generated keys and the default outbox.
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    /// `sqlite://PATH` (default: `sqlite://<data_dir>/sealmail.db`; one process), or
    /// `postgres://USER:PASSWORD@HOST:PORT/DATABASE` (several processes share it; no TLS).
    pub database_url: Option<String>,
    /// The key that encrypts attachments and held passwords at rest: 32 bytes, base64.
    /// Default with SQLite: generated on first start into `<data_dir>/storage.key` (mode
    /// 0600). Required with PostgreSQL: every node must have the same one.
    pub storage_key: Option<String>,
    /// Keys that were `storage_key` before a rotation (base64): they only decrypt, until
    /// `sealmail rotate-key` has re-sealed everything under `storage_key`.
    #[serde(default)]
    pub previous_storage_keys: Vec<String>,
    /// How log lines on stderr look: `"text"` (default, for people) or `"json"` (one object
    /// per line, for log collectors). The filter is `SEALMAIL_LOG` (e.g. `debug`).
    #[serde(default)]
    pub log_format: LogFormat,
    /// The domain of generated `Message-ID`s (RFC 5322 §3.6.4); use one you control.
    #[serde(default = "default_message_id_domain")]
    pub message_id_domain: String,
    /// Queue and retry settings.
    #[serde(default)]
    pub queue: QueueConfig,
    /// Where mail goes (default: the outbox in `<data_dir>/outbox`).
    pub transport: Option<TransportConfig>,
    /// Virus scanners.
    #[serde(default)]
    pub antivirus: AntivirusConfig,
    /// Push notifications (DESIGN §5).
    #[serde(default)]
    pub callbacks: CallbacksConfig,
    /// Request limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Sandbox limits of the component.
    #[serde(default)]
    pub sandbox: SandboxConfig,
    /// How long bounced addresses stay on their account's suppression list.
    #[serde(default)]
    pub suppression: crate::store::SuppressionPolicy,
    /// How long finished jobs are kept before they are erased (default 45 days).
    #[serde(default)]
    pub retention: crate::retention::RetentionConfig,
    /// Accounts defined in the file (more can be added with `sealmail account add`).
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// DKIM keys (RFC 6376): mail whose `From:` domain has one is signed.
    #[serde(default)]
    pub dkim: Vec<crate::dkim::DkimConfig>,
    /// Bounces after delivery: VERP envelope senders and the DSN listener.
    #[serde(default)]
    pub bounces: crate::bounces::BouncesConfig,
}

/// The log line format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `fields.message`, the event's
    /// fields, and `span` with the job's `job_id` (and `message_id`) while it is processed.
    Json,
}

/// Queue, workers, retries.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Concurrent workflow calls (start-job and delivery attempts).
    pub workers: usize,
    /// Most jobs accepted but not finished; beyond it `POST /rest/v1/jobs` answers 503.
    pub max_jobs_in_flight: u64,
    /// Delays between delivery attempts of a deferred message, seconds; the last repeats.
    pub retry_delays_secs: Vec<u64>,
    /// How long a message may stay undelivered before it expires (DESIGN §3.9: 5 days, like
    /// Postfix's `maximal_queue_lifetime`).
    pub max_queue_lifetime_secs: u64,
    /// How long a worker owns claimed work before another may take it over.
    pub lease_secs: u64,
    /// How often idle workers look for due work, milliseconds.
    pub poll_ms: u64,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            // Workflow calls wait on SMTP, clamd and fsync as much as they compute: twice
            // the cores' worth keeps two cores busy (docs/performance.md: 8 beat 4).
            workers: 8,
            max_jobs_in_flight: 10_000,
            // Postfix-like back-off: quick first retries, then hourly.
            retry_delays_secs: vec![60, 300, 900, 1800, 3600],
            max_queue_lifetime_secs: 5 * 24 * 3600,
            lease_secs: 300,
            poll_ms: 250,
        }
    }
}

impl QueueConfig {
    /// The lease duration.
    pub fn lease(&self) -> Duration {
        Duration::from_secs(self.lease_secs.max(1))
    }
}

/// Virus scanning (DESIGN §6).
#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AntivirusConfig {
    /// clamd addresses, `tcp://HOST:PORT` or `unix:///PATH`; all must pass.
    pub scanners: Vec<String>,
    /// Accept jobs that ask for antivirus when no scanner is configured (loud warning; the
    /// skip is recorded as an event of every such job).
    pub allow_insecure_no_antivirus: bool,
    /// Per-scan timeout, seconds (default 60).
    pub timeout_secs: Option<u64>,
}

/// Push notifications (DESIGN §5): the SSRF guard, the retry schedule and the outbox.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CallbacksConfig {
    /// Let callback URLs reach every address, loopback, private, link-local and cloud
    /// metadata ones included: only where every customer is trusted.
    pub allow_private_callback_ips: bool,
    /// Special-purpose ranges callback URLs may reach anyway, e.g. `["127.0.0.1/32"]` for a
    /// receiver on the same host.
    pub allowed_callback_ranges: Vec<IpNet>,
    /// Host names resolved from this map instead of DNS (name → addresses), e.g. for tests or
    /// a split-horizon name; the addresses are still checked by the SSRF guard.
    pub resolver_overrides: HashMap<String, Vec<IpAddr>>,
    /// How long one POST may take (connect, send, answer), seconds.
    pub timeout_secs: u64,
    /// Tries per notification, the first included (Retarus: 15).
    pub tries: u32,
    /// The wait between tries in the first half of the tries, seconds (Retarus: ~2 minutes).
    pub early_interval_secs: u64,
    /// The wait between tries in the second half, seconds (Retarus: ~8 minutes).
    pub late_interval_secs: u64,
    /// Each wait varies by up to this fraction either way (0.25: ±25 %).
    pub jitter: f64,
    /// Most events in one POST.
    pub max_events_per_post: usize,
    /// Concurrent POSTs (one per job at a time: a job's events go out in order).
    pub dispatchers: usize,
}

impl Default for CallbacksConfig {
    fn default() -> Self {
        let retry = RetryPolicy::default();
        Self {
            allow_private_callback_ips: false,
            allowed_callback_ranges: Vec::new(),
            resolver_overrides: HashMap::new(),
            timeout_secs: 10,
            tries: retry.tries,
            early_interval_secs: retry.early_interval.as_secs(),
            late_interval_secs: retry.late_interval.as_secs(),
            jitter: retry.jitter,
            max_events_per_post: 100,
            dispatchers: 4,
        }
    }
}

impl CallbacksConfig {
    /// The SSRF guard's address policy.
    pub fn address_policy(&self) -> AddressPolicy {
        AddressPolicy { allow_all: self.allow_private_callback_ips, allowed: self.allowed_callback_ranges.clone() }
    }

    /// The retry schedule.
    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            tries: self.tries.max(1),
            early_interval: Duration::from_secs(self.early_interval_secs),
            late_interval: Duration::from_secs(self.late_interval_secs),
            jitter: self.jitter.clamp(0.0, 1.0),
        }
    }

    /// The per-POST timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

/// Request limits (DESIGN §2).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Largest request body, bytes.
    pub max_request_bytes: u64,
    /// Largest rendered message, bytes.
    pub max_message_bytes: u64,
    /// Most addresses per request.
    pub max_addresses: u32,
    /// With templating: largest subject + body + alternative of one block after rendering,
    /// bytes (Retarus: 1 MB).
    pub max_rendered_bytes: u64,
    /// Recipients an account may submit per hour, counted in 5-minute windows (Retarus'
    /// default: 5,000); an account's own `recipients_per_hour` overrides it. 0: no limit.
    pub recipients_per_hour: u64,
    /// Failed authentications from one client address (IPv6: one /64) per
    /// `failed_auth_window_secs` before its requests get `429 AUTH_THROTTLED` for a window
    /// (`api::throttle`). 0: no limit.
    pub failed_auths_per_client: u32,
    /// Failed authentications for one account name, from anywhere, per window before it is
    /// throttled. Higher than the client limit, so one client cannot lock an account out. 0:
    /// no limit.
    pub failed_auths_per_account: u32,
    /// The throttle's window, seconds: how long failures count, and how long a throttle lasts.
    pub failed_auth_window_secs: u64,
}

impl LimitsConfig {
    /// The failed-authentication throttle's settings.
    pub fn auth_throttle(&self) -> crate::api::throttle::ThrottleConfig {
        crate::api::throttle::ThrottleConfig {
            per_client: self.failed_auths_per_client,
            per_account: self.failed_auths_per_account,
            window: Duration::from_secs(self.failed_auth_window_secs.max(1)),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_request_bytes: 28 * 1024 * 1024,
            max_message_bytes: 20_000_000,
            max_addresses: 1000,
            max_rendered_bytes: 1_000_000,
            recipients_per_hour: 5_000,
            // A client with a wrong secret fails every request; 20 a minute leaves room for a
            // few clients behind one NAT address, and the account limit for 5 such addresses.
            failed_auths_per_client: 20,
            failed_auths_per_account: 100,
            failed_auth_window_secs: 60,
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

/// An account from the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The HTTP Basic user name.
    pub name: String,
    /// The HTTP Basic password (random, ≥ 32 characters recommended).
    pub secret: String,
    /// Retarus' `customerNo`, echoed in callbacks.
    pub customer_no: Option<String>,
    /// Standard Webhooks secrets (`whsec_` + base64 of 24–64 random bytes) that sign this
    /// account's callbacks; with several (during a rotation) every one signs.
    #[serde(default)]
    pub webhook_secrets: Vec<String>,
    /// Where this account's callbacks go when a request names no `notification.endPoint`.
    pub callback: Option<EndpointConfig>,
    /// This account's limit of recipients per hour (default: `[limits] recipients_per_hour`;
    /// 0: no limit).
    pub recipients_per_hour: Option<u64>,
}

/// A callback endpoint in the configuration (an account's default).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointConfig {
    /// An absolute http or https URL.
    pub url: String,
    /// Extra HTTP headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// HTTP Basic user (with `password`).
    pub user: Option<String>,
    /// HTTP Basic password.
    pub password: Option<String>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("sealmail-data")
}

fn default_message_id_domain() -> String {
    "sealmail.localhost".into()
}

impl Config {
    /// Loads `file` (or only the defaults), then applies `SEALMAIL_*` overrides from `env`.
    pub fn load(file: Option<&Path>, env: impl IntoIterator<Item = (String, String)>) -> Result<Self, ConfigError> {
        let mut table = match file {
            None => toml::Table::new(),
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                text.parse::<toml::Table>()
                    .map_err(|e| ConfigError::Invalid { path: Some(path.to_owned()), message: e.to_string() })?
            }
        };
        for (key, value) in env {
            let Some(name) = key.strip_prefix("SEALMAIL_") else { continue };
            // Variables the binary itself reads (logging, caches) are not configuration keys.
            if matches!(name, "LOG" | "CACHE_DIR" | "GUEST_WASM" | "SERVICE_WASM" | "BIN") {
                continue;
            }
            let path: Vec<String> = name.split("__").map(str::to_ascii_lowercase).collect();
            set_path(&mut table, &path, parse_value(&value));
        }
        toml::Value::Table(table).try_into().map_err(|e: toml::de::Error| ConfigError::Invalid {
            path: file.map(Path::to_owned),
            message: e.to_string(),
        })
    }

    /// The store `database_url` names: `sqlite://PATH` (default: `<data_dir>/sealmail.db`)
    /// or `postgres://…`/`postgresql://…`.
    pub fn database(&self) -> Result<Database, ConfigError> {
        let Some(url) = &self.database_url else { return Ok(Database::Sqlite(self.data_dir.join("sealmail.db"))) };
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Database::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Database::Postgres(url.clone()))
        } else {
            Err(ConfigError::Invalid {
                path: None,
                message: format!(
                    "database_url {:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
                    redact_password(url)
                ),
            })
        }
    }

    /// The transport, with the outbox default.
    pub fn transport(&self) -> TransportConfig {
        self.transport.clone().unwrap_or_else(|| TransportConfig::Outbox { dir: self.data_dir.join("outbox") })
    }
}

/// Where the store lives (`database_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite file: one process per file.
    Sqlite(PathBuf),
    /// A PostgreSQL database that several processes share (the URL as configured).
    Postgres(String),
}

impl Database {
    /// The file, or the URL without its password: for the banner and error messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => redact_password(url),
        }
    }
}

/// `url` with the password of its user info and of a `password=` parameter replaced by
/// `***` (PostgreSQL URLs may carry either, libpq's connection URI format).
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_owned() };
    let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|p| if p.starts_with("password=") { "password=***".to_owned() } else { p.to_owned() })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

fn parse_value(text: &str) -> toml::Value {
    // `x = <text>` parses when the text is a TOML value; anything else is a plain string.
    format!("x = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("x"))
        .unwrap_or_else(|| toml::Value::String(text.to_owned()))
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) {
    match path {
        [] => {}
        [last] => {
            table.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let entry = table.entry(first.clone()).or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if !entry.is_table() {
                *entry = toml::Value::Table(toml::Table::new());
            }
            if let toml::Value::Table(inner) = entry {
                set_path(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_need_no_file() {
        let c = Config::load(None, env(&[])).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(c.database().unwrap(), Database::Sqlite(PathBuf::from("sealmail-data/sealmail.db")));
        assert!(matches!(c.transport(), TransportConfig::Outbox { .. }));
        assert_eq!(c.queue.max_queue_lifetime_secs, 432_000);
    }

    #[test]
    fn database_urls_select_the_store_and_hide_their_password() {
        let with = |url: &str| Config::load(None, env(&[("SEALMAIL_DATABASE_URL", url)])).unwrap().database();
        assert_eq!(with("sqlite:///var/lib/x.db").unwrap(), Database::Sqlite(PathBuf::from("/var/lib/x.db")));
        let pg = with("postgresql://mail:s3cret@db.internal:5433/sealmail?sslmode=disable").unwrap();
        assert_eq!(pg.describe(), "postgresql://mail:***@db.internal:5433/sealmail?sslmode=disable");
        let pg = with("postgres://db.internal/sealmail?user=mail&password=s3cret").unwrap();
        assert_eq!(pg.describe(), "postgres://db.internal/sealmail?user=mail&password=***");
        let e = with("mysql://root:s3cret@db/x").unwrap_err().to_string();
        assert!(e.contains("sqlite://PATH or postgres://") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn environment_overrides_file_values_and_nested_keys() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "listen = \"127.0.0.1:9000\"\n[queue]\nworkers = 2\n").unwrap();
        let c = Config::load(
            Some(&file),
            env(&[("SEALMAIL_QUEUE__WORKERS", "7"), ("SEALMAIL_DATA_DIR", "/tmp/x"), ("SEALMAIL_LOG", "debug")]),
        )
        .unwrap();
        assert_eq!(c.listen.port(), 9000);
        assert_eq!(c.queue.workers, 7);
        assert_eq!(c.data_dir, PathBuf::from("/tmp/x"));
    }

    #[test]
    fn unknown_keys_and_bad_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "[queue]\nworkerz = 2\n").unwrap();
        let e = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
        assert!(e.contains("workerz"), "{e}");
        let e = Config::load(None, env(&[("SEALMAIL_LISTEN", "nowhere")])).unwrap_err().to_string();
        assert!(e.contains("listen") || e.contains("socket"), "{e}");
    }

    #[test]
    fn callback_settings_parse_with_retarus_defaults() {
        let c = Config::load(None, env(&[])).unwrap();
        let retry = c.callbacks.retry_policy();
        assert_eq!((retry.tries, retry.early_interval.as_secs(), retry.late_interval.as_secs()), (15, 120, 480));
        assert_eq!((c.callbacks.max_events_per_post, c.callbacks.timeout().as_secs()), (100, 10));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            r#"
[callbacks]
allowed_callback_ranges = ["127.0.0.1/32"]
resolver_overrides = { "hooks.internal" = ["10.20.0.5", "fd00::5"] }
tries = 4
jitter = 0.0

[[accounts]]
name = "acme"
secret = "s"
webhook_secrets = ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
callback = { url = "https://hooks.acme.example/cb", headers = { "X-Api-Key" = "k" }, user = "u", password = "p" }
"#,
        )
        .unwrap();
        let c = Config::load(Some(&file), env(&[])).unwrap();
        assert_eq!(c.callbacks.resolver_overrides["hooks.internal"].len(), 2);
        assert_eq!(c.callbacks.retry_policy().tries, 4);
        let default = c.accounts[0].callback.as_ref().unwrap();
        assert_eq!((default.headers["X-Api-Key"].as_str(), default.user.as_deref()), ("k", Some("u")));
        std::fs::write(&file, "[callbacks]\nresolver_overrides = { \"x\" = [\"not-an-ip\"] }\n").unwrap();
        let e = Config::load(Some(&file), env(&[])).unwrap_err().to_string();
        assert!(e.contains("resolver_overrides") || e.contains("invalid IP"), "{e}");
    }
}
