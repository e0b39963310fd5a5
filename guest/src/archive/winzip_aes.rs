//! The WinZip AES-256 encryption of one entry's data (the "AE-x" scheme,
//! <https://www.winzip.com/en/support/aes-encryption/>), public so a benchmark can time key
//! derivation and encryption separately from compression.
//!
//! An encrypted entry's data is `salt ‖ password verifier ‖ ciphertext ‖ authentication code`:
//! keys come from PBKDF2-HMAC-SHA1 over the password and a per-entry salt, the (already
//! compressed) data is encrypted with AES in CTR mode, and HMAC-SHA1 over the *ciphertext*
//! authenticates it. This module must never reuse a salt (the sealer draws a fresh one per
//! entry: a repeated salt repeats the CTR keystream), never keep derived keys after use
//! (they are zeroized on drop), and never implement ZipCrypto.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::{Zeroize, Zeroizing};

/// AES-256 key length in bytes (WinZip spec, "Key generation").
pub const KEY_LEN: usize = 32;
/// Salt length for AES-256: half the key length (WinZip spec, "Salt value").
pub const SALT_LEN: usize = 16;
/// The password verification value stored after the salt (WinZip spec, "Password
/// verification value"): lets a reader reject most wrong passwords before decrypting.
pub const PASSWORD_VERIFIER_LEN: usize = 2;
/// The stored authentication code: HMAC-SHA1 truncated to 10 bytes (WinZip spec,
/// "Authentication code").
pub const AUTH_CODE_LEN: usize = 10;
/// PBKDF2 iteration count fixed by the WinZip spec ("Key generation").
pub const PBKDF2_ITERATIONS: u32 = 1000;
/// Bytes an encrypted entry's data carries besides the ciphertext: salt, verifier, code.
pub const ENTRY_OVERHEAD: usize = SALT_LEN + PASSWORD_VERIFIER_LEN + AUTH_CODE_LEN;

/// PBKDF2 output: encryption key, then authentication key, then the password verifier, in
/// that order (WinZip spec, "Key generation").
const DERIVED_LEN: usize = 2 * KEY_LEN + PASSWORD_VERIFIER_LEN;

/// HMAC-SHA1's block size: keys shorter than this are zero-padded to it (RFC 2104 §2).
const SHA1_BLOCK_LEN: usize = 64;

/// AES-256-CTR with the counter as a 128-bit little-endian integer, as WinZip does (unlike
/// the big-endian counter of NIST SP 800-38A).
type Aes256CtrLe = ctr::Ctr128LE<Aes256>;

/// The keys PBKDF2 derives from a password and one entry's salt. Zeroized on drop.
pub struct DerivedKeys {
    aes_key: [u8; KEY_LEN],
    hmac_key: [u8; KEY_LEN],
    verifier: [u8; PASSWORD_VERIFIER_LEN],
}

impl DerivedKeys {
    /// Runs PBKDF2-HMAC-SHA1 with [`PBKDF2_ITERATIONS`] over `password` and `salt` and splits
    /// the 66-byte result into AES key, HMAC key and password verifier.
    ///
    /// The password's bytes are used as they are (the sealer passes UTF-8); the WinZip spec
    /// leaves the encoding of non-ASCII passwords open, so sealmail generates ASCII ones.
    pub fn derive(password: &[u8], salt: &[u8; SALT_LEN]) -> DerivedKeys {
        let mut derived = Zeroizing::new([0u8; DERIVED_LEN]);
        pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, PBKDF2_ITERATIONS, derived.as_mut_slice());
        let mut keys =
            DerivedKeys { aes_key: [0; KEY_LEN], hmac_key: [0; KEY_LEN], verifier: [0; PASSWORD_VERIFIER_LEN] };
        let (aes_key, rest) = derived.split_at(KEY_LEN);
        let (hmac_key, verifier) = rest.split_at(KEY_LEN);
        keys.aes_key.copy_from_slice(aes_key);
        keys.hmac_key.copy_from_slice(hmac_key);
        keys.verifier.copy_from_slice(verifier);
        keys
    }

    /// The two bytes written after the salt so a reader can check the password.
    pub fn password_verifier(&self) -> [u8; PASSWORD_VERIFIER_LEN] {
        self.verifier
    }

    /// A fresh encryptor for one entry's data: the CTR counter starts at 1 and the HMAC is
    /// empty, so each `DerivedKeys` (that is, each salt) must encrypt exactly one entry.
    pub fn encryptor(&self) -> Encryptor {
        // WinZip uses Brian Gladman's CTR mode (WinZip spec, "Encryption services"), whose
        // counter is a little-endian block number starting at 1: the IV is 1 as LE bytes.
        let iv = 1u128.to_le_bytes();
        let cipher = Aes256CtrLe::new(&self.aes_key.into(), &iv.into());
        // A 32-byte key zero-padded to the 64-byte block is the same HMAC key (RFC 2104 §2:
        // "append zeros to the end of K to create a B byte string"); the padded form lets us
        // use the infallible fixed-size constructor.
        let mut padded = Zeroizing::new([0u8; SHA1_BLOCK_LEN]);
        padded[..KEY_LEN].copy_from_slice(&self.hmac_key);
        let mac = <Hmac<Sha1> as hmac::digest::KeyInit>::new(&(*padded).into());
        Encryptor { cipher, mac }
    }
}

impl Drop for DerivedKeys {
    fn drop(&mut self) {
        self.aes_key.zeroize();
        self.hmac_key.zeroize();
        self.verifier.zeroize();
    }
}

impl std::fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DerivedKeys { .. }")
    }
}

/// Encrypts one entry's data as a stream and computes its authentication code.
pub struct Encryptor {
    cipher: Aes256CtrLe,
    mac: Hmac<Sha1>,
}

impl Encryptor {
    /// Encrypts the next part of the entry's data in place and adds the ciphertext to the
    /// authentication code. Parts may have any length: the keystream continues across calls.
    pub fn encrypt_in_place(&mut self, data: &mut [u8]) {
        self.cipher.apply_keystream(data);
        // AE-x authenticates the ciphertext, not the plaintext (WinZip spec, "Authentication
        // code"): encrypt-then-MAC.
        self.mac.update(data);
    }

    /// The authentication code stored after the ciphertext: the first 10 bytes of the
    /// HMAC-SHA1.
    pub fn finish(self) -> [u8; AUTH_CODE_LEN] {
        let tag = self.mac.finalize().into_bytes();
        let mut code = [0u8; AUTH_CODE_LEN];
        for (out, byte) in code.iter_mut().zip(tag.iter()) {
            *out = *byte;
        }
        code
    }
}

impl std::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Encryptor { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aes::cipher::{BlockCipherEncrypt, KeyInit as _};

    const SALT: [u8; SALT_LEN] = *b"0123456789abcdef";

    #[test]
    fn derivation_splits_pbkdf2_output_in_spec_order() {
        let keys = DerivedKeys::derive(b"secret", &SALT);
        let mut expected = [0u8; DERIVED_LEN];
        pbkdf2::pbkdf2_hmac::<Sha1>(b"secret", &SALT, 1000, &mut expected);
        assert_eq!(keys.aes_key, expected[..32]);
        assert_eq!(keys.hmac_key, expected[32..64]);
        assert_eq!(keys.password_verifier(), expected[64..]);
    }

    #[test]
    fn pbkdf2_hmac_sha1_matches_rfc_6070() {
        // RFC 6070 test vector 2 (P = "password", S = "salt", c = 2, dkLen = 20): guards the
        // primitive the derivation is built on.
        let mut out = [0u8; 20];
        pbkdf2::pbkdf2_hmac::<Sha1>(b"password", b"salt", 2, &mut out);
        let expected = [
            0xea, 0x6c, 0x01, 0x4d, 0xc7, 0x2d, 0x6f, 0x8c, 0xcd, 0x1e, 0xd9, 0x2a, 0xce, 0x1d, 0x41, 0xf0, 0xd8, 0xde,
            0x89, 0x57,
        ];
        assert_eq!(out, expected);
    }

    #[test]
    fn different_salts_give_different_keys() {
        let a = DerivedKeys::derive(b"secret", &SALT);
        let b = DerivedKeys::derive(b"secret", &[7; SALT_LEN]);
        assert_ne!(a.aes_key, b.aes_key);
        assert_ne!(a.hmac_key, b.hmac_key);
    }

    #[test]
    fn keystream_is_aes_of_little_endian_counter_from_one() {
        let keys = DerivedKeys::derive(b"secret", &SALT);
        let mut encryptor = keys.encryptor();
        let mut data = [0u8; 48];
        // Uneven parts: the keystream must continue across calls.
        let (a, rest) = data.split_at_mut(5);
        let (b, c) = rest.split_at_mut(20);
        encryptor.encrypt_in_place(a);
        encryptor.encrypt_in_place(b);
        encryptor.encrypt_in_place(c);

        let block_cipher = Aes256::new(&keys.aes_key.into());
        for (index, chunk) in data.chunks(16).enumerate() {
            let counter = (index as u128 + 1).to_le_bytes();
            let mut block = counter.into();
            block_cipher.encrypt_block(&mut block);
            assert_eq!(chunk, block.as_slice(), "block {index}");
        }
    }

    #[test]
    fn auth_code_is_truncated_hmac_sha1_of_ciphertext() {
        let keys = DerivedKeys::derive(b"secret", &SALT);
        let mut encryptor = keys.encryptor();
        let mut data = *b"attack at dawn, bring snacks";
        encryptor.encrypt_in_place(&mut data);
        let code = encryptor.finish();

        let mut mac = <Hmac<Sha1> as hmac::KeyInit>::new_from_slice(&keys.hmac_key).unwrap();
        mac.update(&data);
        let full = mac.finalize().into_bytes();
        assert_eq!(code, full[..AUTH_CODE_LEN]);
        assert_ne!(&data, b"attack at dawn, bring snacks");
    }
}
