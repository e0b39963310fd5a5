//! Opening the store a configuration names (`database_url`, `storage_key`,
//! `previous_storage_keys`): SQLite with a storage key generated into the data directory
//! when none is configured, or PostgreSQL, whose key must be configured (every node needs
//! the same one).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::at_rest::{AtRestError, AtRestKey};
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;
use crate::{Store, StoreError};

/// Where the store lives (`database_url`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The embedded SQLite file: one process per file.
    Sqlite(PathBuf),
    /// A PostgreSQL database that several processes share (the URL as configured).
    Postgres(String),
}

impl Database {
    /// The start-up warnings of this store: a SQLite storage key kept in a file beside the
    /// data it protects (`storage_key_configured` false), or a PostgreSQL server on another
    /// host, reached without TLS. Without the `WARNING: ` prefix.
    pub fn warnings(&self, storage_key_configured: bool, data_dir: &Path) -> Vec<String> {
        match self {
            Self::Sqlite(_) if !storage_key_configured => vec![format!(
                "storage_key is not set: the key that encrypts documents at rest is kept in {} beside the \
                 database, so a copy of the data directory can be decrypted; set storage_key (e.g. \
                 SEALMAIL_STORAGE_KEY from a secret store)",
                data_dir.join("storage.key").display()
            )],
            Self::Postgres(url) if !is_local_database(url) => vec![
                "database_url is a PostgreSQL server on another host, reached without TLS: queued documents \
                 (encrypted) and job data cross the network; use a private network or a local socket"
                    .to_owned(),
            ],
            _ => Vec::new(),
        }
    }

    /// The file, or the URL without its password: for the banner and error messages.
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => path.display().to_string(),
            Self::Postgres(url) => redact_password(url),
        }
    }
}

/// true for a PostgreSQL URL whose host is a Unix socket, `localhost` or a loopback address.
fn is_local_database(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else { return false };
    match parsed.host_str() {
        None | Some("") | Some("localhost") => true,
        Some(host) => {
            host.starts_with('/')
                || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
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

/// Why `database_url` names no store.
#[derive(Debug, thiserror::Error)]
#[error("database_url {:?}: use sqlite://PATH or postgres://USER:PASSWORD@HOST:PORT/DATABASE", redact_password(.0))]
pub struct UnknownDatabase(pub String);

impl Database {
    /// The store `url` names: `sqlite://PATH` (none: `<data_dir>/sealmail.db`) or
    /// `postgres://…`/`postgresql://…`.
    pub fn from_url(url: Option<&str>, data_dir: &Path) -> Result<Self, UnknownDatabase> {
        let Some(url) = url else { return Ok(Self::Sqlite(data_dir.join("sealmail.db"))) };
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Self::Sqlite(PathBuf::from(path)))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else {
            Err(UnknownDatabase(url.to_owned()))
        }
    }
}

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The data directory could not be created.
    #[error("cannot create the data directory {}: {source}", .path.display())]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A storage key is unusable.
    #[error(transparent)]
    Key(#[from] AtRestError),
    /// A PostgreSQL database needs a configured key.
    #[error(
        "database_url is a PostgreSQL database: set storage_key in the configuration (32 random bytes, base64: \
         `head -c 32 /dev/urandom | base64`), the same on every node"
    )]
    KeyRequired,
    /// The database could not be opened.
    #[error("cannot open {what}: {source}")]
    Database {
        /// The file, or the URL without its password.
        what: String,
        /// Why.
        source: StoreError,
    },
}

/// An opened store and the key it seals with.
pub struct Opened {
    /// The store, every concern behind one trait object.
    pub store: Arc<dyn Store>,
    /// The storage key (with its previous keys).
    pub key: AtRestKey,
    /// Where a storage key was generated now (SQLite without `storage_key`): the caller
    /// tells the operator to back it up.
    pub generated_key: Option<PathBuf>,
}

/// Opens `database`. SQLite keeps a generated key in `data_dir/storage.key` when no
/// `storage_key` is given; PostgreSQL needs `storage_key`. Callback posts carry at most
/// `events_per_post` events.
pub async fn open(
    database: &Database,
    data_dir: &Path,
    storage_key: Option<&str>,
    previous_keys: &[String],
    events_per_post: usize,
) -> Result<Opened, OpenError> {
    let key_file = data_dir.join("storage.key");
    match database {
        Database::Sqlite(path) => {
            std::fs::create_dir_all(data_dir)
                .map_err(|source| OpenError::DataDir { path: data_dir.to_owned(), source })?;
            let (key, created) = AtRestKey::load(storage_key, &key_file)?;
            let key = key.with_previous(previous_keys)?;
            let store = SqliteStore::open(path, key.clone())
                .map_err(|source| OpenError::Database { what: path.display().to_string(), source })?;
            store.set_max_events_per_post(events_per_post);
            Ok(Opened { store: Arc::new(store), key, generated_key: created.then_some(key_file) })
        }
        Database::Postgres(url) => {
            // A generated key file would differ per node, and no node could read the jobs
            // another one stored.
            let configured = storage_key.ok_or(OpenError::KeyRequired)?;
            let (key, _) = AtRestKey::load(Some(configured), &key_file)?;
            let key = key.with_previous(previous_keys)?;
            let store = PostgresStore::open(url, key.clone(), events_per_post).await.map_err(|source| {
                OpenError::Database { what: format!("the PostgreSQL database {}", redact_password(url)), source }
            })?;
            Ok(Opened { store: Arc::new(store), key, generated_key: None })
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn local_databases_are_sockets_localhost_and_loopback() {
        for local in
            ["postgres://mail:pw@127.0.0.1/x", "postgres://localhost/x", "postgres://[::1]:5432/x", "postgres:///x"]
        {
            assert!(super::is_local_database(local), "{local}");
        }
        assert!(!super::is_local_database("postgres://mail:pw@db.internal:5432/sealmail"));
    }
}
