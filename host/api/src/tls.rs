//! TLS for the REST API (`[api] tls_cert_file` and `tls_key_file`): the PEM files are read
//! and checked once at start-up, so a missing file, a file without a certificate or key, or a
//! key that does not belong to the certificate stops `sealmail serve` with an error naming
//! the file instead of failing every handshake later.
//!
//! rustls with the `ring` provider, like the SMTP transports (explicitly: with several
//! providers in the build rustls has no process default). TLS 1.2 and 1.3, no client
//! certificates; ALPN offers `http/1.1` only, since the server speaks HTTP/1.1.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the API's TLS configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ApiTlsError {
    /// Only one of the two files is configured.
    #[error("api.tls_cert_file and api.tls_key_file must be set together")]
    Incomplete,
    /// A file cannot be read.
    #[error("cannot read api.{key} {}: {reason}", .path.display())]
    Unreadable {
        /// `tls_cert_file` or `tls_key_file`.
        key: &'static str,
        /// The configured path.
        path: PathBuf,
        /// The I/O error (in the message, not a `source`: it would be printed twice).
        reason: std::io::Error,
    },
    /// A file holds no usable PEM item of the expected kind.
    #[error("api.{key} {} is not usable: {reason}", .path.display())]
    Invalid {
        /// `tls_cert_file` or `tls_key_file`.
        key: &'static str,
        /// The configured path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// rustls refused the pair, e.g. a key that does not belong to the certificate.
    #[error("api.tls_key_file {} does not fit api.tls_cert_file {}: {reason}", .key.display(), .cert.display())]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls' reason.
        reason: String,
    },
}

/// The server configuration for `cert_file` (PEM: the leaf certificate first, then any
/// intermediates) and `key_file` (PEM: PKCS#8, PKCS#1 or SEC1).
pub fn server_config(cert_file: &Path, key_file: &Path) -> Result<Arc<rustls::ServerConfig>, ApiTlsError> {
    let read = |key, path: &Path| {
        std::fs::read(path).map_err(|reason| ApiTlsError::Unreadable { key, path: path.to_owned(), reason })
    };
    let cert_pem = read("tls_cert_file", cert_file)?;
    let key_pem = read("tls_key_file", key_file)?;
    let invalid = |key, path: &Path, reason: String| ApiTlsError::Invalid { key, path: path.to_owned(), reason };
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| invalid("tls_cert_file", cert_file, format!("bad PEM: {e}")))?;
    if chain.is_empty() {
        return Err(invalid("tls_cert_file", cert_file, "no CERTIFICATE block".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| invalid("tls_key_file", key_file, format!("no private key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("tls_cert_file", cert_file, e.to_string()))?
        .with_no_client_auth()
        // Checks that the key's public half is the leaf certificate's (rustls `keys_match`).
        .with_single_cert(chain, key)
        .map_err(|e| ApiTlsError::Mismatch {
            cert: cert_file.to_owned(),
            key: key_file.to_owned(),
            reason: e.to_string(),
        })?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use sealmail_test_support::TestCa;

    use super::*;

    /// A key pair from a fresh test CA, written to `dir` as `server.pem` and `server.key`.
    fn server_files(dir: &tempfile::TempDir) -> (PathBuf, PathBuf) {
        TestCa::new().issue_server().write_files(dir.path(), "server")
    }

    #[test]
    fn a_matching_pair_loads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = server_files(&dir);
        let config = server_config(&cert, &key);
        assert!(config.is_ok(), "{:?}", config.err());
    }

    #[test]
    fn errors_name_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, key) = server_files(&dir);
        let missing = dir.path().join("missing.pem");
        let e = server_config(&missing, &key).unwrap_err().to_string();
        assert!(e.contains("api.tls_cert_file") && e.contains("missing.pem"), "{e}");

        // A certificate where the key should be: no private key in it.
        let e = server_config(&cert, &cert).unwrap_err().to_string();
        assert!(e.contains("api.tls_key_file") && e.contains("server.pem"), "{e}");

        // A key where the certificate should be.
        let e = server_config(&key, &key).unwrap_err().to_string();
        assert!(e.contains("api.tls_cert_file") && e.contains("no CERTIFICATE"), "{e}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (cert, _) = server_files(&dir);
        let (_, other_key) = TestCa::new().issue_server().write_files(dir.path(), "other");
        let e = server_config(&cert, &other_key).unwrap_err();
        assert!(matches!(e, ApiTlsError::Mismatch { .. }), "{e}");
        let text = e.to_string();
        assert!(text.contains("other.key") && text.contains("server.pem"), "{text}");
    }
}
