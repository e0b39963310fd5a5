//! DKIM signing (RFC 6376) of every outgoing message whose `From:` domain has a configured
//! key, whatever the transport: the signature is added where the service hands the stored
//! bytes to the transport (`service/transport.rs`), so originals and password mails alike
//! are signed.
//!
//! Keys come from `[[dkim]]` entries (`domain`, `selector`, `private_key_file`: PEM, RSA in
//! PKCS #1 or PKCS #8 → `rsa-sha256`, Ed25519 in PKCS #8 → `ed25519-sha256`, RFC 8463) and are
//! loaded and checked at start-up. Several entries for one domain sign with each key (an RSA
//! and an Ed25519 signature side by side, as RFC 8463 §5 suggests). Signatures use
//! relaxed/relaxed canonicalization (RFC 6376 §3.4.2, §3.4.4: survives the header refolding
//! and whitespace changes of relays) over the identity and content headers present.
//!
//! Never logs or returns message content or key material; errors name the key file only.

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use mail_auth::common::crypto::{Algorithm, Ed25519Key, RsaKey, Sha256, SigningKey};
use mail_auth::common::headers::{HeaderWriter as _, Writable};
use mail_auth::dkim::{Canonicalization, DkimSigner};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject as _;
use serde::Deserialize;

/// The headers signed when present (RFC 6376 §5.4.1: those a recipient sees and relies
/// on; `From` is required). Absent ones are left out of `h=`.
const SIGNED_HEADERS: [&str; 11] = [
    "From",
    "Subject",
    "Date",
    "Message-ID",
    "To",
    "Cc",
    "Reply-To",
    "MIME-Version",
    "Content-Type",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
];

/// One `[[dkim]]` entry of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimConfig {
    /// The signing domain (`d=`); messages whose `From:` address is in exactly this domain
    /// are signed.
    pub domain: String,
    /// The selector (`s=`): the public key is published as TXT `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// PEM file with the private key: RSA of 2048 to 4096 bits (ring refuses others; RFC 8301
    /// §3.2 asks for at least 1024, 2048 is the common size), or Ed25519.
    pub private_key_file: PathBuf,
}

/// Why the `[[dkim]]` configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DkimConfigError {
    /// `domain` or `selector` is not a DNS name.
    #[error("dkim entry for domain {domain:?}: {field} {value:?} is not a DNS name (letters, digits, '-', '.')")]
    InvalidName {
        /// The entry's domain.
        domain: String,
        /// `"domain"` or `"selector"`.
        field: &'static str,
        /// The value given.
        value: String,
    },
    /// The key file cannot be read.
    #[error("cannot read DKIM private_key_file {path}: {source}")]
    Unreadable {
        /// The configured path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The key file holds no usable key.
    #[error("DKIM private_key_file {path} holds no usable private key: {reason}")]
    InvalidKey {
        /// The configured path.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// A loaded private key.
enum PrivateKey {
    Rsa(RsaKey<Sha256>),
    Ed25519(Ed25519Key),
}

/// A borrowed key for mail-auth's signer, which takes its key by value.
struct KeyRef<'a>(&'a PrivateKey);

impl SigningKey for KeyRef<'_> {
    type Hasher = Sha256;

    fn sign(&self, input: impl Writable) -> mail_auth::Result<Vec<u8>> {
        match self.0 {
            PrivateKey::Rsa(key) => key.sign(input),
            PrivateKey::Ed25519(key) => key.sign(input),
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self.0 {
            PrivateKey::Rsa(_) => Algorithm::RsaSha256,
            PrivateKey::Ed25519(_) => Algorithm::Ed25519Sha256,
        }
    }
}

/// One configured signing key.
struct DomainKey {
    /// Lower-cased.
    domain: String,
    selector: String,
    key: PrivateKey,
}

/// Every configured key; signs messages (see the module documentation).
#[derive(Default)]
pub struct DkimSigners {
    keys: Vec<DomainKey>,
}

impl std::fmt::Debug for DkimSigners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.iter().map(|k| format!("{}/{}", k.domain, k.selector))).finish()
    }
}

impl DkimSigners {
    /// Loads and checks every key of `entries`.
    pub fn from_config(entries: &[DkimConfig]) -> Result<Self, DkimConfigError> {
        let mut keys = Vec::with_capacity(entries.len());
        for entry in entries {
            for (field, value) in [("domain", &entry.domain), ("selector", &entry.selector)] {
                if !is_dns_name(value) {
                    return Err(DkimConfigError::InvalidName {
                        domain: entry.domain.clone(),
                        field,
                        value: value.clone(),
                    });
                }
            }
            keys.push(DomainKey {
                domain: entry.domain.to_ascii_lowercase(),
                selector: entry.selector.clone(),
                key: load_key(&entry.private_key_file)?,
            });
        }
        Ok(Self { keys })
    }

    /// One line for the start-up banner, `None` without keys.
    pub fn describe(&self) -> Option<String> {
        if self.keys.is_empty() {
            return None;
        }
        let keys: Vec<String> = self
            .keys
            .iter()
            .map(|k| {
                let algorithm = match k.key {
                    PrivateKey::Rsa(_) => "rsa-sha256",
                    PrivateKey::Ed25519(_) => "ed25519-sha256",
                };
                format!("{} (selector {}, {algorithm})", k.domain, k.selector)
            })
            .collect();
        Some(format!("signing mail from {}", keys.join(", ")))
    }

    /// `message` with one `DKIM-Signature` header per key of its `From:` domain prepended
    /// (RFC 6376 §5.6), or unchanged when there is none or signing fails (the failure is
    /// logged without content: an unsigned message is still better than none).
    pub fn sign<'m>(&self, message: &'m [u8]) -> Cow<'m, [u8]> {
        if self.keys.is_empty() {
            return Cow::Borrowed(message);
        }
        let header = header_section(message);
        let Some(domain) = from_domain(header) else { return Cow::Borrowed(message) };
        let present: Vec<&str> = SIGNED_HEADERS.iter().copied().filter(|name| has_header(header, name)).collect();
        let mut signatures = Vec::new();
        for key in self.keys.iter().filter(|k| k.domain == domain) {
            let signed = DkimSigner::from_key(KeyRef(&key.key))
                .domain(key.domain.clone())
                .selector(key.selector.clone())
                .headers(present.iter().copied())
                .header_canonicalization(Canonicalization::Relaxed)
                .body_canonicalization(Canonicalization::Relaxed)
                .sign(message);
            match signed {
                Ok(signature) => signatures.extend_from_slice(signature.to_header().as_bytes()),
                Err(e) => {
                    tracing::error!(domain = %key.domain, selector = %key.selector, error = %e, "DKIM signing failed; sending unsigned")
                }
            }
        }
        if signatures.is_empty() {
            return Cow::Borrowed(message);
        }
        signatures.extend_from_slice(message);
        Cow::Owned(signatures)
    }
}

/// Reads a PEM private key: RSA (PKCS #1 or #8) or Ed25519 (PKCS #8).
fn load_key(path: &Path) -> Result<PrivateKey, DkimConfigError> {
    let pem = std::fs::read(path).map_err(|source| DkimConfigError::Unreadable { path: path.to_owned(), source })?;
    let invalid = |reason: String| DkimConfigError::InvalidKey { path: path.to_owned(), reason };
    let der = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| invalid(format!("no PEM private key ({e})")))?;
    match der {
        PrivateKeyDer::Pkcs1(_) => {
            RsaKey::<Sha256>::from_key_der(der).map(PrivateKey::Rsa).map_err(|e| invalid(e.to_string()))
        }
        PrivateKeyDer::Pkcs8(pkcs8) => {
            // ring tells the algorithm from the PKCS #8 structure: try RSA, then Ed25519
            // (v1 documents as OpenSSL writes them, without the public key).
            let bytes = pkcs8.secret_pkcs8_der().to_vec();
            match RsaKey::<Sha256>::from_key_der(PrivateKeyDer::Pkcs8(pkcs8)) {
                Ok(key) => Ok(PrivateKey::Rsa(key)),
                Err(rsa) => Ed25519Key::from_pkcs8_maybe_unchecked_der(&bytes)
                    .map(PrivateKey::Ed25519)
                    .map_err(|ed| invalid(format!("neither RSA ({rsa}) nor Ed25519 ({ed})"))),
            }
        }
        _ => Err(invalid("an EC (SEC1) key; DKIM signs with RSA or Ed25519".into())),
    }
}

/// The header section: up to the first empty line (RFC 5322 §2.1), or everything.
fn header_section(message: &[u8]) -> &[u8] {
    message.windows(4).position(|w| w == b"\r\n\r\n").map_or(message, |end| &message[..end + 2])
}

/// Whether a header field `name` is in `header` (field names are case-insensitive).
fn has_header(header: &[u8], name: &str) -> bool {
    fields(header).any(|(field, _)| field.eq_ignore_ascii_case(name.as_bytes()))
}

/// The header fields of a header section as (name, unfolded value).
fn fields(header: &[u8]) -> impl Iterator<Item = (&[u8], String)> {
    let mut lines = header.split(|&b| b == b'\n').peekable();
    std::iter::from_fn(move || {
        loop {
            let line = lines.next()?;
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            // The empty line ends the header section (RFC 5322 §2.1): the body is no header.
            if line.is_empty() {
                return None;
            }
            // Continuation lines (RFC 5322 §2.2.3) of a field already returned are skipped.
            if line[0] == b' ' || line[0] == b'\t' {
                continue;
            }
            let colon = line.iter().position(|&b| b == b':')?;
            let mut value = String::from_utf8_lossy(&line[colon + 1..]).into_owned();
            while let Some(next) = lines.peek() {
                if next.first().is_some_and(|&b| b == b' ' || b == b'\t') {
                    let next = lines.next().unwrap_or_default();
                    value.push_str(&String::from_utf8_lossy(next.strip_suffix(b"\r").unwrap_or(next)));
                } else {
                    break;
                }
            }
            return Some((&line[..colon], value));
        }
    })
}

/// The lower-cased domain of the first `From:` address: inside the last `<…>` when there is
/// one (`Name <user@domain>`), else the whole value (`user@domain`).
fn from_domain(header: &[u8]) -> Option<String> {
    let (_, value) = fields(header).find(|(name, _)| name.eq_ignore_ascii_case(b"From"))?;
    let address = match value.rfind('<') {
        Some(open) => value[open + 1..].split('>').next()?,
        None => value.split(',').next()?.trim(),
    };
    let domain = address.rsplit_once('@')?.1.trim();
    (!domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

/// Letters, digits, `-`, `_` (selectors often carry one) and dots, no empty label.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MESSAGE: &[u8] = b"From: =?utf-8?q?M=C3=BCller?= <Billing@Sender.Example>\r\nTo: max@rcpt.example\r\n\
        Subject: statement\r\n\tfolded\r\nMessage-ID: <1@sealmail.test>\r\nMIME-Version: 1.0\r\n\
        Content-Type: text/plain\r\n\r\nbody\r\n";

    /// A throwaway Ed25519 key in PKCS #8 v1, as `openssl genpkey -algorithm ed25519` writes it.
    const ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----\n\
        MC4CAQAwBQYDK2VwBCIEIJksy+P2Lnwse0Cy516+j+ZenX2sFeZktUYD/zHj+E/l\n\
        -----END PRIVATE KEY-----\n";

    fn signers(domain: &str) -> (tempfile::TempDir, DkimSigners) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ed.pem");
        std::fs::write(&path, ED25519_PEM).expect("write");
        let entry = DkimConfig { domain: domain.into(), selector: "s1".into(), private_key_file: path };
        let signers = DkimSigners::from_config(&[entry]).expect("loads");
        (dir, signers)
    }

    #[test]
    fn from_domain_and_headers() {
        let header = header_section(MESSAGE);
        assert_eq!(from_domain(header).as_deref(), Some("sender.example"));
        assert_eq!(from_domain(b"From: a@B.example\r\n").as_deref(), Some("b.example"));
        assert!(has_header(header, "subject") && has_header(header, "Message-ID"));
        assert!(!has_header(header, "Cc") && !has_header(b"X: y\r\n\r\nCc: not a header\r\n", "Cc"));
        let subject = fields(header).find(|(n, _)| *n == b"Subject").map(|(_, v)| v);
        assert_eq!(subject.as_deref(), Some(" statement\tfolded"));
    }

    #[test]
    fn signs_only_its_domain_with_the_present_headers() {
        let (_dir, signers) = signers("sender.example");
        assert_eq!(
            signers.describe().as_deref(),
            Some("signing mail from sender.example (selector s1, ed25519-sha256)")
        );
        let signed = signers.sign(MESSAGE);
        let text = String::from_utf8_lossy(&signed);
        assert!(
            text.starts_with("DKIM-Signature: v=1; a=ed25519-sha256; s=s1; d=sender.example; c=relaxed/relaxed"),
            "{text}"
        );
        assert!(signed.ends_with(MESSAGE), "the message follows unchanged");
        let h = text
            .split("h=")
            .nth(1)
            .and_then(|t| t.split(';').next())
            .unwrap_or_default()
            .replace(['\r', '\n', '\t', ' '], "");
        let mut signed_names: Vec<&str> = h.split(':').collect();
        signed_names.sort_unstable();
        assert_eq!(signed_names, ["Content-Type", "From", "MIME-Version", "Message-ID", "Subject", "To"], "{text}");

        let other = b"From: a@other.example\r\n\r\nbody\r\n";
        assert!(matches!(signers.sign(other), Cow::Borrowed(_)));
    }

    #[test]
    fn rsa_pkcs1_keys_and_several_keys_per_domain() {
        let (dir, _) = signers("sender.example");
        let rsa = DkimConfig {
            domain: "Sender.Example".into(),
            selector: "rsa1".into(),
            private_key_file: sealmail_test_support::DKIM_RSA_PKCS1_PEM.into(),
        };
        let ed = DkimConfig {
            domain: "sender.example".into(),
            selector: "ed1".into(),
            private_key_file: dir.path().join("ed.pem"),
        };
        let signers = DkimSigners::from_config(&[rsa, ed]).expect("loads");
        assert_eq!(
            signers.describe().as_deref(),
            Some(
                "signing mail from sender.example (selector rsa1, rsa-sha256), sender.example (selector ed1, ed25519-sha256)"
            )
        );
        let signed = signers.sign(MESSAGE);
        let text = String::from_utf8_lossy(&signed);
        assert_eq!(text.matches("DKIM-Signature: ").count(), 2, "{text}");
        assert!(
            text.contains("a=rsa-sha256; s=rsa1; d=sender.example") && text.contains("a=ed25519-sha256; s=ed1;"),
            "{text}"
        );
    }

    #[test]
    fn bad_key_files_are_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.pem");
        std::fs::write(&path, "not a key").expect("write");
        let entry = DkimConfig { domain: "a.example".into(), selector: "s".into(), private_key_file: path.clone() };
        let error = DkimSigners::from_config(std::slice::from_ref(&entry)).expect_err("invalid").to_string();
        assert!(error.contains(&path.display().to_string()), "{error}");
        let missing = DkimConfig { private_key_file: dir.path().join("missing.pem"), ..entry.clone() };
        assert!(matches!(DkimSigners::from_config(&[missing]), Err(DkimConfigError::Unreadable { .. })));
        let bad_selector = DkimConfig { selector: "s 1".into(), ..entry };
        assert!(matches!(DkimSigners::from_config(&[bad_selector]), Err(DkimConfigError::InvalidName { .. })));
    }
}
