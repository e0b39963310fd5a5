//! The start-up warnings: one line per insecure setting in force, each naming the setting,
//! so that an operator who copied a test configuration (clear-text relay, plain HTTP on a
//! public address, a short secret) sees it at every start. `sealmail serve` prints them
//! with the banner; nothing here refuses to start (that is the settings' own job, e.g.
//! `transport.allow_insecure_smtp`).
//!
//! Two warnings are printed by the banner's own lines and are not repeated here:
//! `antivirus.allow_insecure_no_antivirus` and `callbacks.allow_private_callback_ips`.

use std::net::IpAddr;

use sealmail_smtp::Transport;
use sealmail_store::open::Database;

use crate::config::Config;

/// Account secrets shorter than this are guessable by a patient client (the failed-auth
/// throttle slows guessing, it does not stop it); `sealmail account add` makes 43 characters.
pub const MIN_SECRET_CHARS: usize = 16;

/// The warnings for `config` with its built `transport` and the API's `scheme` (`http` or
/// `https`), without the `WARNING: ` prefix.
pub fn warnings(config: &Config, transport: &Transport, scheme: &str) -> Vec<String> {
    let mut out = Vec::new();
    if scheme == "http" && !config.listen.ip().is_loopback() {
        out.push(format!(
            "the API serves plain HTTP on {} (not loopback): account secrets and documents cross the network \
             in clear text; set api.tls_cert_file and api.tls_key_file (or keep listen on loopback behind a \
             TLS proxy)",
            config.listen
        ));
    }
    out.extend(transport.warnings());
    out.extend(config.sandbox.warnings());
    if let Ok(Database::Sqlite(_)) = config.database()
        && config.storage_key.is_none()
    {
        out.push(format!(
            "storage_key is not set: the key that encrypts documents at rest is kept in {} beside the \
             database, so a copy of the data directory can be decrypted; set storage_key (e.g. \
             SEALMAIL_STORAGE_KEY from a secret store)",
            config.data_dir.join("storage.key").display()
        ));
    }
    if let Ok(Database::Postgres(url)) = config.database()
        && !is_local_database(&url)
    {
        out.push(
            "database_url is a PostgreSQL server on another host, reached without TLS: queued documents \
             (encrypted) and job data cross the network; use a private network or a local socket"
                .to_owned(),
        );
    }
    for account in &config.accounts {
        if account.secret.chars().count() < MIN_SECRET_CHARS {
            out.push(format!(
                "accounts.secret of account {:?} is shorter than {MIN_SECRET_CHARS} characters; use a random \
                 secret of 32 or more (`sealmail account add` makes one)",
                account.name
            ));
        }
        if let Some(callback) = &account.callback
            && callback.url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        {
            out.push(format!(
                "accounts.callback.url of account {:?} is http://: job events and the callback's credentials \
                 cross the network in clear text; use https://",
                account.name
            ));
        }
    }
    out
}

/// true for a PostgreSQL URL whose host is a Unix socket, `localhost` or a loopback address.
fn is_local_database(url: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else { return false };
    match parsed.host_str() {
        None | Some("") | Some("localhost") => true,
        Some(host) => {
            host.starts_with('/') || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sealmail_smtp::TransportConfig;

    fn config(toml: &str) -> Config {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("c.toml");
        std::fs::write(&file, toml).expect("write");
        Config::load(Some(&file), Vec::new()).expect("valid config")
    }

    fn transport(config: &Config) -> Transport {
        Transport::from_config(&config.transport()).expect("transport builds")
    }

    #[test]
    fn every_insecure_setting_is_named() {
        let c = config(
            r#"
listen = "0.0.0.0:8080"
[transport]
kind = "smtp"
host = "relay.example"
port = 25
tls = "none"
allow_insecure_smtp = true
[sandbox]
service_component = "/srv/trial/service.wasm"
[[accounts]]
name = "short"
secret = "tooshort"
callback = { url = "HTTP://hooks.example/cb" }
"#,
        );
        let w = warnings(&c, &transport(&c), "http");
        let all = w.join("\n");
        for needle in [
            "plain HTTP on 0.0.0.0:8080",
            "allow_insecure_smtp",
            "storage_key",
            "accounts.secret",
            "callback.url",
            "sandbox.service_component",
        ] {
            assert!(all.contains(needle), "{needle}: {all}");
        }
        assert!(!all.contains("tooshort"), "a secret is never printed: {all}");
        assert_eq!(w.len(), 6, "{all}");
    }

    #[test]
    fn a_secure_configuration_has_none() {
        let c = config(
            r#"
listen = "0.0.0.0:8443"
storage_key = "c2VhbG1haWwtdGVzdC1zdG9yYWdlLWtleS0zMmJ5dGU="
[transport]
kind = "mx"
require_tls = true
[[accounts]]
name = "long"
secret = "a-long-random-secret-0123456789abcdef"
callback = { url = "https://hooks.example/cb" }
"#,
        );
        let w = warnings(&c, &transport(&c), "https");
        assert!(w.is_empty(), "{w:?}");
        // The same on loopback over plain HTTP: a local proxy terminates TLS.
        let mut local = c.clone();
        local.listen = "127.0.0.1:8080".parse().expect("address");
        assert!(warnings(&local, &transport(&local), "http").is_empty());
    }

    #[test]
    fn mx_without_require_tls_and_remote_postgres_warn() {
        let c = config(
            r#"
database_url = "postgres://mail:pw@db.internal:5432/sealmail"
storage_key = "c2VhbG1haWwtdGVzdC1zdG9yYWdlLWtleS0zMmJ5dGU="
[transport]
kind = "mx"
"#,
        );
        let t = Transport::from_config(&TransportConfig::clone(&c.transport())).expect("builds");
        let all = warnings(&c, &t, "http").join("\n");
        assert!(all.contains("transport.require_tls") && all.contains("database_url"), "{all}");
        assert!(is_local_database("postgres://mail:pw@127.0.0.1/x") && is_local_database("postgres://localhost/x"));
    }
}
