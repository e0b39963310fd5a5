//! Encryption at rest for what a stored job carries that must not sit in the database in
//! clear: request bodies (with their attachments), rendered messages and held passwords
//! (DESIGN §3.6, §7).
//!
//! XChaCha20-Poly1305 (an AEAD; 192-bit random nonces never repeat in practice), with the
//! row's identity as associated data, so a blob copied into another row does not decrypt.
//! Layout: `0x01 | nonce (24) | ciphertext+tag`.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;

/// Why a key could not be loaded or a blob not opened.
#[derive(Debug, thiserror::Error)]
pub enum AtRestError {
    /// The configured key is not 32 bytes of base64.
    #[error("storage_key must be 32 bytes, base64-encoded ({0})")]
    BadKey(String),
    /// The key file could not be read or created.
    #[error("key file {path}: {source}")]
    KeyFile {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// A blob failed authentication: a wrong key, or damaged or moved data.
    #[error("stored data for {0} cannot be decrypted (wrong storage key, or damaged data)")]
    Open(String),
}

/// The storage key.
#[derive(Clone)]
pub struct AtRestKey {
    cipher: XChaCha20Poly1305,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for AtRestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AtRestKey(…)")
    }
}

impl AtRestKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { cipher: XChaCha20Poly1305::new(&bytes.into()), key: Zeroizing::new(bytes) }
    }

    /// The configured base64 key, or the one in `file`, created (mode 0600) when missing
    /// ("generated on first start in local mode").
    pub fn load(configured: Option<&str>, file: &Path) -> Result<(Self, bool), AtRestError> {
        if let Some(text) = configured {
            return Ok((Self::parse(text)?, false));
        }
        let key_file = |source| AtRestError::KeyFile { path: file.display().to_string(), source };
        match std::fs::read_to_string(file) {
            Ok(text) => Ok((Self::parse(text.trim())?, false)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = [0u8; 32];
                rand::rngs::OsRng.try_fill_bytes(&mut bytes).map_err(|e| key_file(std::io::Error::other(e)))?;
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir).map_err(key_file)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut f = options.open(file).map_err(key_file)?;
                let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(bytes));
                f.write_all(text.as_bytes())
                    .and_then(|_| f.write_all(b"\n"))
                    .and_then(|_| f.sync_all())
                    .map_err(key_file)?;
                Ok((Self::from_bytes(bytes), true))
            }
            Err(e) => Err(key_file(e)),
        }
    }

    fn parse(text: &str) -> Result<Self, AtRestError> {
        let bytes = Zeroizing::new(
            base64::engine::general_purpose::STANDARD
                .decode(text.trim())
                .map_err(|e| AtRestError::BadKey(e.to_string()))?,
        );
        let array: [u8; 32] =
            bytes.as_slice().try_into().map_err(|_| AtRestError::BadKey(format!("{} bytes", bytes.len())))?;
        Ok(Self::from_bytes(array))
    }

    /// Encrypts `plain` for the row `context`.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.try_fill_bytes(&mut nonce).expect("the OS CSPRNG is available");
        let sealed = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory sizes");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a blob made by [`AtRestKey::seal`] for the same `context`.
    pub fn open(&self, context: &str, blob: &[u8]) -> Result<Vec<u8>, AtRestError> {
        if blob.len() < 1 + NONCE_LEN || blob[0] != VERSION {
            return Err(AtRestError::Open(context.to_owned()));
        }
        let (nonce, sealed) = blob[1..].split_at(NONCE_LEN);
        self.cipher
            .decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context.as_bytes() })
            .map_err(|_| AtRestError::Open(context.to_owned()))
    }

    /// A subkey for another purpose (e.g. hashing account secrets), so one configured
    /// secret serves both without the uses mixing.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_slice()).expect("HMAC takes any key length");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens_only_in_its_context() {
        let key = AtRestKey::from_bytes([7; 32]);
        let blob = key.seal("job:1", b"secret password");
        assert!(!blob.windows(6).any(|w| w == b"secret"));
        assert_eq!(key.open("job:1", &blob).unwrap(), b"secret password");
        assert!(key.open("job:2", &blob).is_err(), "moved to another row");
        assert!(AtRestKey::from_bytes([8; 32]).open("job:1", &blob).is_err(), "wrong key");
        let mut damaged = blob.clone();
        *damaged.last_mut().unwrap() ^= 1;
        assert!(key.open("job:1", &damaged).is_err());
    }

    #[test]
    fn a_key_file_is_created_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("storage.key");
        let (a, created) = AtRestKey::load(None, &file).unwrap();
        assert!(created);
        let (b, created) = AtRestKey::load(None, &file).unwrap();
        assert!(!created);
        assert_eq!(b.open("x", &a.seal("x", b"y")).unwrap(), b"y");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
        }
        assert!(AtRestKey::load(Some("c2hvcnQ="), &file).is_err());
    }
}
