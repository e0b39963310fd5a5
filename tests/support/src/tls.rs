//! A throwaway certificate authority for TLS tests: a fresh CA per test (nothing is cached or
//! written anywhere but where the test asks), server certificates for `127.0.0.1` and
//! `localhost`, and the rustls server config the SMTP test server offers (STARTTLS or implicit TLS).
//!
//! Configs are always built with an explicit crypto provider (`ring`): when several crates in
//! the build enable different rustls providers, rustls has no process default and
//! `ServerConfig::builder()` would panic. Never use these keys outside tests.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// A self-signed CA that issues server certificates.
pub struct TestCa {
    /// The CA certificate, PEM: what a client must trust.
    pub ca_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// A server certificate chain and its private key, PEM.
#[derive(Clone, Debug)]
pub struct TlsIdentity {
    /// The leaf certificate followed by the CA certificate.
    pub cert_chain_pem: String,
    /// The leaf's private key (PKCS#8).
    pub key_pem: String,
}

impl TestCa {
    /// A new CA with a fresh key ("sealmail test CA").
    pub fn new() -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("no SANs to parse");
        params.distinguished_name.push(DnType::CommonName, "sealmail test CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages =
            vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().expect("key generation");
        let cert = params.self_signed(&key).expect("self-signing the CA");
        TestCa { ca_pem: cert.pem(), issuer: Issuer::new(params, key) }
    }

    /// A server certificate for `127.0.0.1` and `localhost` (IP and DNS SANs), signed by this CA.
    pub fn issue_server(&self) -> TlsIdentity {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).expect("valid SANs");
        params.distinguished_name.push(DnType::CommonName, "127.0.0.1");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        params.use_authority_key_identifier_extension = true;
        let key = KeyPair::generate().expect("key generation");
        let cert = params.signed_by(&key, &self.issuer).expect("signing the server certificate");
        TlsIdentity { cert_chain_pem: format!("{}{}", cert.pem(), self.ca_pem), key_pem: key.serialize_pem() }
    }

    /// Writes the CA certificate to `dir/test-ca.pem` and returns the path.
    pub fn write_ca_file(&self, dir: &Path) -> PathBuf {
        let path = dir.join("test-ca.pem");
        std::fs::write(&path, &self.ca_pem).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        path
    }
}

impl Default for TestCa {
    fn default() -> Self {
        TestCa::new()
    }
}

impl TlsIdentity {
    /// Writes the chain to `dir/NAME.pem` and the key to `dir/NAME.key` (what a server's
    /// `tls_cert_file` and `tls_key_file` name) and returns both paths.
    pub fn write_files(&self, dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        for (path, pem) in [(&cert, &self.cert_chain_pem), (&key, &self.key_pem)] {
            std::fs::write(path, pem).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        }
        (cert, key)
    }

    /// A rustls server config presenting this identity (TLS 1.2 and 1.3, `ring` provider).
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(self.cert_chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("the chain is PEM");
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).expect("the key is PEM");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .expect("the key matches the certificate");
        Arc::new(config)
    }
}
