//! The server's configuration: a TOML file (`sealmail serve --config FILE`), overridden by
//! `SEALMAIL_*` environment variables, on top of local defaults that run with no file at
//! all (SQLite in a data directory, the outbox transport, `127.0.0.1:8080`).
//!
//! This module composes the sections; each one is defined, with its defaults, by the crate
//! that uses it (`[queue]` by the workflow, `[callbacks]` by the callbacks crate, …). The
//! top-level keys are the node's own: where it listens, its data directory and store.
//!
//! Environment overrides: `SEALMAIL_LISTEN=0.0.0.0:8080` sets a top-level key,
//! `SEALMAIL_QUEUE__WORKERS=8` a key of a section (`__` separates levels). A value is read
//! as TOML when it parses as a TOML value (numbers, booleans, arrays), else as a string.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use sealmail_api::accounts::AccountConfig;
use sealmail_api::config::LimitsConfig;
use sealmail_api::connections::ApiConfig;
use sealmail_bounces::BouncesConfig;
use sealmail_callbacks::CallbacksConfig;
use sealmail_clamav::AntivirusConfig;
use sealmail_sandbox::SandboxConfig;
use sealmail_smtp::{DkimConfig, TransportConfig};
use sealmail_store::SuppressionPolicy;
use sealmail_store::open::{Database, UnknownDatabase};
use sealmail_workflow::config::QueueConfig;
use sealmail_workflow::purge::RetentionConfig;

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
    pub api: ApiConfig,
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
    /// Push notifications (docs/callbacks.md).
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
    pub suppression: SuppressionPolicy,
    /// How long finished jobs are kept before they are erased (default 45 days).
    #[serde(default)]
    pub retention: RetentionConfig,
    /// Accounts defined in the file (more can be added with `sealmail account add`).
    #[serde(default)]
    pub accounts: Vec<AccountConfig>,
    /// DKIM keys (RFC 6376): mail whose `From:` domain has one is signed.
    #[serde(default)]
    pub dkim: Vec<DkimConfig>,
    /// Bounces after delivery: VERP envelope senders and the DSN listener.
    #[serde(default)]
    pub bounces: BouncesConfig,
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
        Database::from_url(self.database_url.as_deref(), &self.data_dir)
            .map_err(|e: UnknownDatabase| ConfigError::Invalid { path: None, message: e.to_string() })
    }

    /// The transport, with the outbox default.
    pub fn transport(&self) -> TransportConfig {
        self.transport.clone().unwrap_or_else(|| TransportConfig::Outbox { dir: self.data_dir.join("outbox") })
    }
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
