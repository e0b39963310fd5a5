//! The start-up warnings: one line per insecure setting in force, each naming the setting,
//! so that an operator who copied a test configuration (clear-text relay, plain HTTP on a
//! public address, a short secret) sees it at every start. `sealmail serve` prints them
//! with the banner; nothing here refuses to start (that is the settings' own job, e.g.
//! `transport.allow_insecure_smtp`).
//!
//! Each warning is raised by the crate that owns its setting (`Database::warnings`, the
//! transport's, the sandbox's, the API's); this module only puts them together.
//!
//! Two warnings are printed by the banner's own lines and are not repeated here:
//! `antivirus.allow_insecure_no_antivirus` and `callbacks.allow_private_callback_ips`.

use sealmail_api::{accounts, connections};
use sealmail_smtp::Transport;

use crate::config::Config;

/// The warnings for `config` with its built `transport` and the API's `scheme` (`http` or
/// `https`), without the `WARNING: ` prefix: each crate's own, in the banner's order.
pub fn warnings(config: &Config, transport: &Transport, scheme: &str) -> Vec<String> {
    let mut out: Vec<String> = connections::plain_http_warning(scheme, config.listen).into_iter().collect();
    out.extend(transport.warnings());
    out.extend(config.sandbox.warnings());
    if let Ok(database) = config.database() {
        out.extend(database.warnings(config.storage_key.is_some(), &config.data_dir));
    }
    out.extend(accounts::warnings(&config.accounts));
    out
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
    }
}
