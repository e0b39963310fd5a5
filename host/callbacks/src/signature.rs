//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>, "Signature scheme"):
//! a receiver recomputes `HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}.{body}")`
//! and compares it with one of the `v1,<base64>` entries of the `webhook-signature` header.
//!
//! Secrets are written `whsec_<base64 of the key bytes>`, as the specification and its
//! libraries do. During a rotation an account has several secrets: the header then carries
//! one signature per secret, separated by spaces, so receivers holding either secret accept.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The prefix of a secret in its text form.
pub const SECRET_PREFIX: &str = "whsec_";

/// The specification recommends keys of 24 to 64 bytes; sealmail enforces it, so a secret
/// truncated by a copy-and-paste mistake is caught when the configuration is read.
const MIN_KEY_LEN: usize = 24;
/// See [`MIN_KEY_LEN`].
const MAX_KEY_LEN: usize = 64;

/// Why a configured webhook secret cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// The text does not start with `whsec_`.
    #[error("a webhook secret starts with \"whsec_\" followed by base64")]
    MissingPrefix,
    /// What follows the prefix is not base64.
    #[error("the part after \"whsec_\" is not valid base64")]
    NotBase64,
    /// The key is shorter or longer than the specification allows.
    #[error("a webhook secret holds {MIN_KEY_LEN} to {MAX_KEY_LEN} bytes, this one {0}")]
    Length(usize),
}

/// A webhook signing key (zeroized on drop; never printed).
#[derive(Clone)]
pub struct Secret {
    key: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret { .. }")
    }
}

impl Secret {
    /// Parses `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(SECRET_PREFIX).ok_or(SecretError::MissingPrefix)?;
        let key = Zeroizing::new(STANDARD.decode(encoded).map_err(|_| SecretError::NotBase64)?);
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len()) {
            return Err(SecretError::Length(key.len()));
        }
        Ok(Self { key })
    }

    /// A fresh random secret of 32 bytes, in its text form (printed once to the operator).
    pub fn generate() -> Result<String, getrandom::Error> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut_slice())?;
        Ok(format!("{SECRET_PREFIX}{}", STANDARD.encode(key.as_slice())))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
    pub fn sign(&self, id: &str, timestamp: u64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header value: one signature per secret, space-separated.
pub fn header(secrets: &[Secret], id: &str, timestamp: u64, body: &[u8]) -> String {
    secrets.iter().map(|s| s.sign(id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the specification's reference libraries (svix / standard-webhooks).
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: u64 = 1_614_265_330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;
    const SPEC_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    #[test]
    fn signs_the_specification_example() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();
        assert_eq!(secret.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY), SPEC_SIGNATURE);
    }

    #[test]
    fn any_change_to_id_timestamp_or_body_changes_the_signature() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();
        assert_ne!(secret.sign("msg_other", SPEC_TIMESTAMP, SPEC_BODY), SPEC_SIGNATURE);
        assert_ne!(secret.sign(SPEC_ID, SPEC_TIMESTAMP + 1, SPEC_BODY), SPEC_SIGNATURE);
        assert_ne!(secret.sign(SPEC_ID, SPEC_TIMESTAMP, br#"{"test": 2432232315}"#), SPEC_SIGNATURE);
    }

    #[test]
    fn a_rotation_header_carries_one_signature_per_secret() {
        let old = Secret::parse(SPEC_SECRET).unwrap();
        let new = Secret::parse(&Secret::generate().unwrap()).unwrap();
        let value = header(&[new.clone(), old], SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY);
        let parts: Vec<&str> = value.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(parts[0], new.sign(SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY));
        assert_eq!(parts[1], SPEC_SIGNATURE);
    }

    #[test]
    fn malformed_secrets_are_refused_with_the_reason() {
        assert_eq!(Secret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(), SecretError::MissingPrefix);
        assert_eq!(Secret::parse("whsec_not base64!").unwrap_err(), SecretError::NotBase64);
        assert_eq!(Secret::parse("whsec_c2hvcnQ=").unwrap_err(), SecretError::Length(5));
        let generated = Secret::generate().unwrap();
        assert!(generated.starts_with(SECRET_PREFIX));
        assert!(Secret::parse(&generated).is_ok());
        assert_ne!(Secret::generate().unwrap(), generated, "two generated secrets must differ");
    }

    #[test]
    fn debug_output_does_not_reveal_the_key() {
        let secret = Secret::parse(SPEC_SECRET).unwrap();
        assert_eq!(format!("{secret:?}"), "Secret { .. }");
    }
}
