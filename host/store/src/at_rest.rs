//! Encryption at rest for what a stored job carries that must not sit in the database in
//! clear: request bodies (with their attachments), rendered messages, held passwords and
//! callback credentials (docs/service.md#secrets-at-rest).
//!
//! XChaCha20-Poly1305 (an AEAD; 192-bit random nonces never repeat in practice), with the
//! row's identity as associated data, so a blob copied into another row does not decrypt.
//! Layout (version 2): `0x02 | key id (4) | nonce (24) | ciphertext+tag`. The key id is the
//! first 4 bytes of HMAC-SHA256(key, [`KEY_ID_PURPOSE`]): it names the key without revealing
//! it, so a store can hold blobs of several keys while a rotation re-seals them
//! (`sealmail rotate-key`). Version 1 (`0x01 | nonce | ciphertext+tag`, before rotation
//! existed) is still read, with each known key in turn.
//!
//! A key ring is the current key (which seals) and the previous ones (which only open):
//! `storage_key` and `previous_storage_keys` in the configuration.

use std::io::Write;
use std::path::Path;

use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// The layout written by [`AtRestKey::seal`].
const VERSION: u8 = 2;
/// The layout before key ids: read only.
const VERSION_1: u8 = 1;
const NONCE_LEN: usize = 24;
const KEY_ID_LEN: usize = 4;
/// What the key id is derived for (see the module documentation).
const KEY_ID_PURPOSE: &str = "sealmail storage key id v1";

/// Why a key could not be loaded or a blob not opened.
#[derive(Debug, thiserror::Error)]
pub enum AtRestError {
    /// The configured key is not 32 bytes of base64.
    #[error("storage_key must be 32 bytes, base64-encoded ({0})")]
    BadKey(String),
    /// A previous key is not 32 bytes of base64.
    #[error("previous_storage_keys[{0}] must be 32 bytes, base64-encoded ({1})")]
    BadPreviousKey(usize, String),
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

/// One key with its cipher and id.
#[derive(Clone)]
struct Key {
    cipher: XChaCha20Poly1305,
    key: Zeroizing<[u8; 32]>,
    id: [u8; KEY_ID_LEN],
}

impl Key {
    fn new(bytes: Zeroizing<[u8; 32]>) -> Self {
        let id = derive(&bytes, KEY_ID_PURPOSE);
        Self {
            cipher: XChaCha20Poly1305::new(bytes.as_ref().into()),
            id: id[..KEY_ID_LEN].try_into().expect("4 of 32 bytes"),
            key: bytes,
        }
    }

    fn decrypt(&self, nonce: &[u8], sealed: &[u8], context: &str) -> Option<Vec<u8>> {
        self.cipher.decrypt(XNonce::from_slice(nonce), Payload { msg: sealed, aad: context.as_bytes() }).ok()
    }
}

fn derive(key: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The storage key ring: the current key, which seals, and any previous keys, which only
/// open (during a rotation).
#[derive(Clone)]
pub struct AtRestKey {
    current: Key,
    previous: Vec<Key>,
}

impl std::fmt::Debug for AtRestKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AtRestKey(…)")
    }
}

impl AtRestKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self { current: Key::new(Zeroizing::new(bytes)), previous: Vec::new() }
    }

    /// The configured base64 key, or the one in `file`, created (mode 0600) when missing
    /// ("generated on first start in local mode").
    pub fn load(configured: Option<&str>, file: &Path) -> Result<(Self, bool), AtRestError> {
        if let Some(text) = configured {
            return Ok((Self::parse(text).map_err(AtRestError::BadKey)?, false));
        }
        let key_file = |source| AtRestError::KeyFile { path: file.display().to_string(), source };
        match std::fs::read_to_string(file) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                Ok((Self::parse(text.trim()).map_err(AtRestError::BadKey)?, false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut bytes = Zeroizing::new([0u8; 32]);
                rand::rngs::OsRng.try_fill_bytes(bytes.as_mut()).map_err(|e| key_file(std::io::Error::other(e)))?;
                if let Some(dir) = file.parent() {
                    std::fs::create_dir_all(dir).map_err(key_file)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut f = options.open(file).map_err(key_file)?;
                let text = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(bytes.as_ref()));
                f.write_all(text.as_bytes())
                    .and_then(|_| f.write_all(b"\n"))
                    .and_then(|_| f.sync_all())
                    .map_err(key_file)?;
                Ok((Self { current: Key::new(bytes), previous: Vec::new() }, true))
            }
            Err(e) => Err(key_file(e)),
        }
    }

    /// Adds `previous` (base64 keys, `previous_storage_keys`) for opening only. A previous
    /// key equal to the current one is skipped.
    pub fn with_previous<S: AsRef<str>>(mut self, previous: &[S]) -> Result<Self, AtRestError> {
        for (i, text) in previous.iter().enumerate() {
            let key = Self::parse(text.as_ref()).map_err(|why| AtRestError::BadPreviousKey(i, why))?.current;
            if *key.key != *self.current.key {
                self.previous.push(key);
            }
        }
        Ok(self)
    }

    fn parse(text: &str) -> Result<Self, String> {
        let bytes =
            Zeroizing::new(base64::engine::general_purpose::STANDARD.decode(text.trim()).map_err(|e| e.to_string())?);
        let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| format!("{} bytes", bytes.len()))?;
        Ok(Self::from_bytes(array))
    }

    /// Encrypts `plain` for the row `context`, under the current key.
    pub fn seal(&self, context: &str, plain: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.try_fill_bytes(&mut nonce).expect("the OS CSPRNG is available");
        let sealed = self
            .current
            .cipher
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: context.as_bytes() })
            .expect("XChaCha20-Poly1305 encryption cannot fail for in-memory sizes");
        let mut out = Vec::with_capacity(1 + KEY_ID_LEN + NONCE_LEN + sealed.len());
        out.push(VERSION);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    /// Decrypts a blob made by [`AtRestKey::seal`] for the same `context`, under whichever
    /// key of the ring sealed it.
    pub fn open(&self, context: &str, blob: &[u8]) -> Result<Vec<u8>, AtRestError> {
        let fail = || AtRestError::Open(context.to_owned());
        let keys = || std::iter::once(&self.current).chain(&self.previous);
        let plain = match blob.first() {
            Some(&VERSION) if blob.len() >= 1 + KEY_ID_LEN + NONCE_LEN => {
                let (id, rest) = blob[1..].split_at(KEY_ID_LEN);
                let (nonce, sealed) = rest.split_at(NONCE_LEN);
                // Ids could collide (2^-32 per pair): try every key that has the id.
                keys().filter(|k| k.id == id).find_map(|k| k.decrypt(nonce, sealed, context))
            }
            Some(&VERSION_1) if blob.len() > NONCE_LEN => {
                let (nonce, sealed) = blob[1..].split_at(NONCE_LEN);
                keys().find_map(|k| k.decrypt(nonce, sealed, context))
            }
            _ => None,
        };
        plain.ok_or_else(fail)
    }

    /// Whether `blob` should be sealed again by a rotation: it is not (version 2 and sealed
    /// under the current key).
    pub fn needs_reseal(&self, blob: &[u8]) -> bool {
        !(blob.len() > KEY_ID_LEN && blob[0] == VERSION && blob[1..=KEY_ID_LEN] == self.current.id)
    }

    /// Opens `blob` and seals it under the current key: a rotation's step. `None` when the
    /// blob is current already.
    pub fn reseal(&self, context: &str, blob: &[u8]) -> Result<Option<Vec<u8>>, AtRestError> {
        if !self.needs_reseal(blob) {
            return Ok(None);
        }
        let plain = Zeroizing::new(self.open(context, blob)?);
        Ok(Some(self.seal(context, &plain)))
    }

    /// The key ring holds previous keys (a rotation may be under way).
    pub fn has_previous(&self) -> bool {
        !self.previous.is_empty()
    }

    /// A subkey of the current key for another purpose (e.g. hashing account secrets), so
    /// one configured secret serves both without the uses mixing.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        derive(&self.current.key, purpose)
    }

    /// [`AtRestKey::derive`] of each previous key, newest configured first.
    pub fn derive_previous(&self, purpose: &str) -> Vec<[u8; 32]> {
        self.previous.iter().map(|k| derive(&k.key, purpose)).collect()
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

    /// A version-1 blob as the release before key ids wrote it.
    fn seal_v1(key: [u8; 32], context: &str, plain: &[u8]) -> Vec<u8> {
        let nonce = [9u8; NONCE_LEN];
        let sealed = XChaCha20Poly1305::new(&key.into())
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plain, aad: context.as_bytes() })
            .unwrap();
        [&[VERSION_1][..], &nonce, &sealed].concat()
    }

    fn b64(key: [u8; 32]) -> String {
        base64::engine::general_purpose::STANDARD.encode(key)
    }

    #[test]
    fn blobs_carry_the_key_id_and_old_keys_open_during_a_rotation() {
        let old = AtRestKey::from_bytes([1; 32]);
        let blob = old.seal("secret:m1", b"held password");
        assert_eq!(blob[0], VERSION);
        assert_eq!(blob[1..=KEY_ID_LEN], old.current.id);

        let rotated = AtRestKey::from_bytes([2; 32]).with_previous(&[b64([1; 32])]).unwrap();
        assert_eq!(rotated.open("secret:m1", &blob).unwrap(), b"held password", "previous key opens");
        assert!(rotated.needs_reseal(&blob));
        let resealed = rotated.reseal("secret:m1", &blob).unwrap().expect("re-sealed");
        assert!(!rotated.needs_reseal(&resealed));
        assert_eq!(rotated.reseal("secret:m1", &resealed).unwrap(), None, "current already");
        assert_eq!(resealed[1..=KEY_ID_LEN], rotated.current.id);

        let only_new = AtRestKey::from_bytes([2; 32]);
        assert_eq!(only_new.open("secret:m1", &resealed).unwrap(), b"held password", "old key removed");
        assert!(only_new.open("secret:m1", &blob).is_err(), "an un-rotated blob needs the old key");
        assert!(old.open("secret:m1", &resealed).is_err(), "the old key alone cannot open new blobs");
        assert!(
            AtRestKey::from_bytes([3; 32]).with_previous(&[b64([4; 32])]).unwrap().open("secret:m1", &blob).is_err()
        );
    }

    #[test]
    fn version_1_blobs_still_open_with_the_current_or_a_previous_key() {
        let v1 = seal_v1([5; 32], "request:j1", b"body");
        assert_eq!(AtRestKey::from_bytes([5; 32]).open("request:j1", &v1).unwrap(), b"body");
        let ring = AtRestKey::from_bytes([6; 32]).with_previous(&[b64([5; 32])]).unwrap();
        assert_eq!(ring.open("request:j1", &v1).unwrap(), b"body");
        assert!(ring.needs_reseal(&v1));
        let v2 = ring.reseal("request:j1", &v1).unwrap().unwrap();
        assert_eq!(AtRestKey::from_bytes([6; 32]).open("request:j1", &v2).unwrap(), b"body");
        assert!(AtRestKey::from_bytes([6; 32]).open("request:j1", &v1).is_err(), "wrong key");
        assert!(ring.open("request:j2", &v1).is_err(), "another row");
    }

    #[test]
    fn bad_previous_keys_are_named_and_the_current_key_is_not_repeated() {
        let err = AtRestKey::from_bytes([1; 32]).with_previous(&["c2hvcnQ="]).unwrap_err();
        assert!(err.to_string().contains("previous_storage_keys[0]"), "{err}");
        let ring = AtRestKey::from_bytes([1; 32]).with_previous(&[b64([1; 32])]).unwrap();
        assert!(!ring.has_previous());
        assert_eq!(ring.derive("x"), AtRestKey::from_bytes([1; 32]).derive("x"));
        let ring = AtRestKey::from_bytes([1; 32]).with_previous(&[b64([2; 32])]).unwrap();
        assert_eq!(ring.derive_previous("x"), vec![AtRestKey::from_bytes([2; 32]).derive("x")]);
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
