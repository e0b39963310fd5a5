//! Mail transports: how a finished message (RFC 5322 bytes rendered by the component) leaves
//! sealmail, and what happened to **each recipient** (docs/service.md#delivery: the password mail is released
//! per recipient, so one rejected address must not hide the fate of the others).
//!
//! - [`SmtpRelay`] hands the message to a relay over SMTP (RFC 5321), STARTTLS (RFC 3207) or
//!   implicit TLS (RFC 8314), optionally with AUTH (RFC 4954).
//! - [`MxDelivery`] delivers directly to each recipient domain's MX hosts (RFC 5321 §5.1),
//!   with opportunistic STARTTLS (RFC 7435).
//! - [`Outbox`] writes `.eml` files to a folder (the local default; counted as delivered).
//!
//! [`dkim`] signs every message on its way out, whatever the transport.
//!
//! A transport never logs, prints or returns message bodies: they carry the archive and, in
//! password mails, the password. Outcomes carry only server replies and local error texts.

mod config;
pub mod dkim;
mod envelope;
mod mx;
mod outbox;
mod relay;
pub mod reply;
mod session;
mod transport;

pub use config::{TlsMode, TransportConfig, TransportConfigError};
pub use dkim::{DkimConfig, DkimSigners};
pub use envelope::{Envelope, RecipientOutcome, RecipientResult};
pub use mx::MxDelivery;
pub use outbox::Outbox;
pub use relay::SmtpRelay;
pub use transport::Transport;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smtp_config_defaults_and_redacted_debug() {
        let cfg: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "127.0.0.1", "port": 2525,
            "username": "user", "password": "hunter2"
        }))
        .expect("valid config");
        let TransportConfig::Smtp { tls, timeout_secs, .. } = &cfg else { panic!("smtp") };
        assert_eq!(*tls, TlsMode::Starttls);
        assert_eq!(*timeout_secs, 60);
        let debug = format!("{cfg:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");

        let transport = Transport::from_config(&cfg).expect("builds");
        assert_eq!(transport.describe(), "smtp relay 127.0.0.1:2525 (STARTTLS required, AUTH as user)");
        assert!(!transport.is_insecure());
        assert!(!format!("{transport:?}").contains("hunter2"));
    }

    #[test]
    fn config_rejects_typos_and_half_credentials() {
        let typo = serde_json::from_value::<TransportConfig>(serde_json::json!({
            "kind": "smtp", "host": "h", "port": 25, "passwrod": "x"
        }));
        assert!(typo.is_err(), "unknown field must be refused");

        let half: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "h", "port": 25, "username": "u"
        }))
        .expect("parses");
        assert!(matches!(Transport::from_config(&half), Err(TransportConfigError::IncompleteCredentials)));
    }

    #[test]
    fn clear_text_relay_is_refused_unless_allowed_and_then_insecure() {
        let refused: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "relay.example", "port": 25, "tls": "none"
        }))
        .expect("parses");
        let e = Transport::from_config(&refused).expect_err("clear text needs the opt-in");
        assert!(matches!(e, TransportConfigError::InsecureSmtp));
        assert!(e.to_string().contains("transport.allow_insecure_smtp = true"), "{e}");

        let cfg: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "relay.example", "port": 25, "tls": "none", "allow_insecure_smtp": true
        }))
        .expect("parses");
        let transport = Transport::from_config(&cfg).expect("builds");
        assert!(transport.is_insecure());
        assert!(transport.describe().contains("NO TLS"), "{}", transport.describe());
        let warnings = transport.warnings();
        assert!(
            warnings.len() == 1
                && warnings[0].contains("allow_insecure_smtp")
                && warnings[0].contains("relay.example:25"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_tls_relay_has_no_warnings() {
        let cfg: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "relay.example", "port": 587, "allow_insecure_smtp": true
        }))
        .expect("parses");
        assert!(Transport::from_config(&cfg).expect("builds").warnings().is_empty());
    }

    #[test]
    fn ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not a certificate\n").expect("write");
        let cfg: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "h", "port": 465, "tls": "tls", "ca_file": path
        }))
        .expect("parses");
        assert!(matches!(Transport::from_config(&cfg), Err(TransportConfigError::CaFileInvalid { .. })));
        let missing: TransportConfig = serde_json::from_value(serde_json::json!({
            "kind": "smtp", "host": "h", "port": 465, "tls": "tls",
            "ca_file": dir.path().join("missing.pem")
        }))
        .expect("parses");
        assert!(matches!(Transport::from_config(&missing), Err(TransportConfigError::CaFileUnreadable { .. })));
    }

    #[test]
    fn outbox_config() {
        let cfg: TransportConfig =
            serde_json::from_value(serde_json::json!({"kind": "outbox", "dir": "/var/mail/out"})).expect("parses");
        let transport = Transport::from_config(&cfg).expect("builds");
        assert_eq!(transport.describe(), "outbox /var/mail/out (files, counted as delivered)");
        assert!(!transport.is_insecure());
    }
}
