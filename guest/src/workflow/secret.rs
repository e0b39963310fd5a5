//! What a secure message holds back until its recipients are resolved: the password and
//! what the password mail needs besides it (docs/secure-documents.md#the-password-mail). The host stores these bytes
//! encrypted at rest and erases them when `deliver` says every recipient is resolved; the
//! format is the guest's own business (JSON, versioned so a later guest can read it).

use serde::{Deserialize, Serialize};
use zeroize::Zeroize;

use crate::request::address::Mailbox;

/// The held secret of one original message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HeldSecret {
    /// Format version.
    pub v: u32,
    /// The archive password.
    pub password: String,
    /// The password mail's subject (prefix + original subject).
    pub subject: String,
    /// The password mail's `From` display name.
    pub from_name: Option<String>,
    /// The password mail's `From` address.
    pub from_address: String,
    /// The archive's file name, quoted in the password mail.
    pub archive_name: String,
    /// The original's envelope sender, used for the password mail too (so its bounces go
    /// where the original's go).
    pub reverse_path: String,
}

impl Drop for HeldSecret {
    fn drop(&mut self) {
        self.password.zeroize();
    }
}

/// Why held bytes could not be read.
#[derive(Debug, thiserror::Error)]
#[error("held secret unreadable: {0}")]
pub(crate) struct SecretError(String);

impl HeldSecret {
    /// The current format version.
    pub const VERSION: u32 = 1;

    /// The password mail's `From`.
    pub fn from(&self) -> Mailbox {
        Mailbox { name: self.from_name.clone(), address: self.from_address.clone() }
    }

    /// Serializes (the caller hands the bytes to the host, which encrypts them at rest).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a struct of strings always serializes")
    }

    /// Reads bytes written by [`HeldSecret::to_bytes`] of this or an earlier version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SecretError> {
        let secret: Self = serde_json::from_slice(bytes).map_err(|e| SecretError(e.to_string()))?;
        if secret.v > Self::VERSION {
            return Err(SecretError(format!("format version {} is newer than this guest's", secret.v)));
        }
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let s = HeldSecret {
            v: HeldSecret::VERSION,
            password: "Abc23defGH".into(),
            subject: "Password for: Grüße".into(),
            from_name: Some("Sender".into()),
            from_address: "s@example.com".into(),
            archive_name: "documents.zip".into(),
            reverse_path: "bounces@example.com".into(),
        };
        assert_eq!(HeldSecret::from_bytes(&s.to_bytes()).unwrap(), s);
        assert!(HeldSecret::from_bytes(b"{}").is_err());
        let newer = String::from_utf8(s.to_bytes()).unwrap().replace("\"v\":1", "\"v\":99");
        assert!(HeldSecret::from_bytes(newer.as_bytes()).is_err());
    }
}
