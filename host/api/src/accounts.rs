//! Accounts and their authentication (HTTP Basic: account name and secret).
//!
//! Secrets are generated (256 random bits), so they cannot be guessed and need no slow
//! password hash: the store keeps HMAC-SHA256(server key, secret), and a request's secret
//! is checked by recomputing the MAC and comparing in constant time. The server key is
//! derived from the storage key, so a stolen database alone does not allow offline checks.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use rand::TryRngCore;
use sha2::Sha256;

use serde::Deserialize;

use sealmail_callbacks::signature::{Secret, SecretError};
use sealmail_callbacks::{Endpoint, EndpointConfig};
use sealmail_store::{Store, StoreError, StoredAccount};

/// An account from the file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The HTTP Basic user name.
    pub name: String,
    /// The HTTP Basic password (random, ≥ 32 characters recommended).
    pub secret: String,
    /// Retarus' `customerNo`, echoed in callbacks.
    pub customer_no: Option<String>,
    /// Standard Webhooks secrets (`whsec_` + base64 of 24–64 random bytes) that sign this
    /// account's callbacks; with several (during a rotation) every one signs.
    #[serde(default)]
    pub webhook_secrets: Vec<String>,
    /// Where this account's callbacks go when a request names no `notification.endPoint`.
    pub callback: Option<EndpointConfig>,
    /// This account's limit of recipients per hour (default: `[limits] recipients_per_hour`;
    /// 0: no limit).
    pub recipients_per_hour: Option<u64>,
}

/// Account secrets shorter than this are guessable by a patient client (the failed-auth
/// throttle slows guessing, it does not stop it); `sealmail account add` makes 43 characters.
pub const MIN_SECRET_CHARS: usize = 16;

/// The start-up warnings of the accounts of the configuration file: a short secret, a
/// callback over clear-text `http://`. They never quote a secret. Without the `WARNING: `
/// prefix.
pub fn warnings(accounts: &[AccountConfig]) -> Vec<String> {
    let mut out = Vec::new();
    for account in accounts {
        if account.secret.chars().count() < MIN_SECRET_CHARS {
            out.push(format!(
                "accounts.secret of account {:?} is shorter than {MIN_SECRET_CHARS} characters; use a random \
                 secret of 32 or more (`sealmail account add` makes one)",
                account.name
            ));
        }
        if let Some(callback) = &account.callback
            && callback.url.get(..7).is_some_and(|s| s.eq_ignore_ascii_case("http://"))
        {
            out.push(format!(
                "accounts.callback.url of account {:?} is http://: job events and the callback's credentials \
                 cross the network in clear text; use https://",
                account.name
            ));
        }
    }
    out
}

/// The purpose string of the account-secret subkey of the storage key.
pub const KEY_PURPOSE: &str = "sealmail/account-secrets/v1";

/// An authenticated account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its name (the Basic user name).
    pub name: String,
    /// Retarus' `customerNo`.
    pub customer_no: Option<String>,
}

/// The account directory: the config file's accounts, then the store's.
#[derive(Clone)]
pub struct Accounts {
    key: [u8; 32],
    /// The subkeys of `previous_storage_keys`: accounts stored before a storage-key rotation
    /// were hashed with one of them (docs/service.md, "Storage key and rotation").
    previous: Arc<Vec<[u8; 32]>>,
    configured: Arc<HashMap<String, StoredAccount>>,
    store: Arc<dyn Store>,
}

impl Accounts {
    /// Accounts from `configured` (secrets hashed now) and from `store`.
    pub fn new(key: [u8; 32], configured: &[AccountConfig], store: Arc<dyn Store>) -> Self {
        let mut map = HashMap::new();
        for a in configured {
            map.insert(
                a.name.clone(),
                StoredAccount { secret_hash: mac(&key, &a.secret), customer_no: a.customer_no.clone() },
            );
        }
        Self { key, previous: Arc::new(Vec::new()), configured: Arc::new(map), store }
    }

    /// Also accepts stored accounts hashed under `previous` keys (during a rotation).
    pub fn with_previous_keys(mut self, previous: Vec<[u8; 32]>) -> Self {
        self.previous = Arc::new(previous);
        self
    }

    /// How many accounts the configuration file defines.
    pub fn configured_count(&self) -> usize {
        self.configured.len()
    }

    /// The stored form of `secret`.
    pub fn hash(&self, secret: &str) -> [u8; 32] {
        mac(&self.key, secret)
    }

    /// The account if `name` exists and `secret` is its secret.
    pub async fn authenticate(&self, name: &str, secret: &str) -> Result<Option<Account>, StoreError> {
        let stored = match self.configured.get(name) {
            Some(a) => Some(a.clone()),
            None => self.store.account(name).await?,
        };
        let mut check = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key length");
        check.update(secret.as_bytes());
        // Unknown names are checked against a dummy MAC, so both paths cost the same.
        let expected = stored.as_ref().map_or([0u8; 32], |a| a.secret_hash);
        let mut ok = check.verify_slice(&expected).is_ok();
        if !ok && stored.is_some() && !self.configured.contains_key(name) {
            ok = self.previous.iter().any(|key| {
                let mut check = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
                check.update(secret.as_bytes());
                check.verify_slice(&expected).is_ok()
            });
            if ok {
                // Hashed under a previous storage key: re-hash under the current one now that
                // the secret is at hand, so this account no longer needs the old key. A
                // failure only means the next login tries again.
                match self.store.rehash_account(name, expected, mac(&self.key, secret)).await {
                    Ok(_) => tracing::info!(account = name, "account secret re-hashed under the current storage key"),
                    Err(e) => tracing::warn!(account = name, error = %e, "re-hashing the account secret failed"),
                }
            }
        }
        Ok(match stored {
            Some(a) if ok => Some(Account { name: name.to_owned(), customer_no: a.customer_no }),
            _ => None,
        })
    }
}

/// An account's callback settings from the configuration file.
#[derive(Debug, Clone, Default)]
pub struct AccountCallbacks {
    /// Webhook secrets: every one signs (several during a rotation).
    pub secrets: Vec<Secret>,
    /// Where callbacks go when a request names no endpoint.
    pub default_endpoint: Option<Endpoint>,
}

/// Why an account's callback settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CallbackSettingsError {
    /// A webhook secret is malformed.
    #[error("account {account:?}: webhook_secrets[{index}]: {source}")]
    Secret {
        /// The name of the account whose settings are wrong.
        account: String,
        /// Which secret (from 0).
        index: usize,
        /// What is wrong.
        source: SecretError,
    },
    /// The default endpoint is unusable.
    #[error("account {account:?}: callback: {why}")]
    Endpoint {
        /// The name of the account whose settings are wrong.
        account: String,
        /// What is wrong.
        why: String,
    },
}

/// The callback settings of the configured accounts (accounts added with `sealmail account
/// add` have none: their jobs push only to the endpoints their requests name, unsigned).
pub fn callback_settings(
    configured: &[AccountConfig],
) -> Result<HashMap<String, AccountCallbacks>, CallbackSettingsError> {
    let mut out = HashMap::new();
    for a in configured {
        let secrets = a
            .webhook_secrets
            .iter()
            .enumerate()
            .map(|(index, s)| {
                Secret::parse(s).map_err(|source| CallbackSettingsError::Secret {
                    account: a.name.clone(),
                    index,
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let default_endpoint = a
            .callback
            .as_ref()
            .map(Endpoint::from_config)
            .transpose()
            .map_err(|why| CallbackSettingsError::Endpoint { account: a.name.clone(), why })?;
        out.insert(a.name.clone(), AccountCallbacks { secrets, default_endpoint });
    }
    Ok(out)
}

fn mac(key: &[u8; 32], secret: &str) -> [u8; 32] {
    let mut m = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(secret.as_bytes());
    m.finalize().into_bytes().into()
}

/// A new account secret: 256 bits from the OS CSPRNG, base64url without padding (43
/// characters, safe in a Basic header and a shell).
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).expect("the OS CSPRNG is available");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `name` is usable as an account name (and Basic user name: no `:`).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'@'))
}

/// Each account's limit of recipients per hour ([`sealmail_store::rate`]): its own
/// `recipients_per_hour`, else `[limits] recipients_per_hour`; 0 means none.
#[derive(Debug, Clone, Default)]
pub struct RateLimits {
    default: u64,
    accounts: HashMap<String, u64>,
}

impl RateLimits {
    /// The limits of the configured `accounts`, with `default` (`[limits]
    /// recipients_per_hour`) for every other account.
    pub fn new(default: u64, accounts: &[AccountConfig]) -> Self {
        Self {
            default,
            accounts: accounts.iter().filter_map(|a| Some((a.name.clone(), a.recipients_per_hour?))).collect(),
        }
    }

    /// The limit of `account`, if it has one.
    pub fn of(&self, account: &str) -> Option<u64> {
        let n = self.accounts.get(account).copied().unwrap_or(self.default);
        (n > 0).then_some(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_256_bit_and_url_safe() {
        let s = generate_secret();
        assert_eq!(s.len(), 43);
        assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_ne!(s, generate_secret());
        assert!(valid_name("acme-prod") && !valid_name("a:b") && !valid_name(""));
    }

    #[tokio::test]
    async fn a_stored_account_hashed_under_a_previous_key_logs_in_and_is_rehashed_under_the_new_one() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = ([1u8; 32], [2u8; 32]);
        let store: Arc<dyn Store> = Arc::new(
            sealmail_store::sqlite::SqliteStore::open(
                &dir.path().join("t.db"),
                sealmail_store::at_rest::AtRestKey::from_bytes([0; 32]),
            )
            .unwrap(),
        );
        let before = Accounts::new(old, &[], store.clone());
        store.add_account("added", before.hash("the-secret"), None).await.unwrap();
        let after = Accounts::new(new, &[], store.clone());
        assert_eq!(after.authenticate("added", "the-secret").await.unwrap(), None, "the old key is gone");
        let rotating = after.with_previous_keys(vec![old]);
        assert_eq!(rotating.authenticate("added", "wrong").await.unwrap(), None);
        assert!(rotating.authenticate("added", "the-secret").await.unwrap().is_some());
        // That login re-hashed the account under the new key: the old one can go.
        let retired = Accounts::new(new, &[], store.clone());
        assert!(retired.authenticate("added", "the-secret").await.unwrap().is_some());
        assert_eq!(retired.authenticate("added", "wrong").await.unwrap(), None);
    }

    fn account(secrets: &[&str], callback: Option<EndpointConfig>) -> AccountConfig {
        AccountConfig {
            name: "acme".into(),
            secret: "s".into(),
            customer_no: None,
            webhook_secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
            callback,
            recipients_per_hour: None,
        }
    }

    fn endpoint(url: &str, user: Option<&str>, password: Option<&str>) -> EndpointConfig {
        EndpointConfig {
            url: url.into(),
            headers: [("X-Api-Key".to_owned(), "k".to_owned())].into(),
            user: user.map(str::to_owned),
            password: password.map(str::to_owned),
        }
    }

    #[test]
    fn callback_settings_name_the_account_and_what_is_wrong() {
        let good = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let ok = callback_settings(&[account(&[good], Some(endpoint("https://h.example/cb", Some("u"), Some("p"))))])
            .unwrap();
        let acme = &ok["acme"];
        assert_eq!(acme.secrets.len(), 1);
        let default = acme.default_endpoint.as_ref().unwrap();
        assert_eq!(default.basic_auth, Some(("u".into(), "p".into())));
        assert_eq!(default.headers, [("X-Api-Key".to_owned(), "k".to_owned())]);

        let e = callback_settings(&[account(&[good, "whsec_dG9vIHNob3J0"], None)]).unwrap_err().to_string();
        assert!(e.contains("\"acme\"") && e.contains("webhook_secrets[1]") && e.contains("24 to 64"), "{e}");
        let e = callback_settings(&[account(&[], Some(endpoint("ftp://h.example/", None, None)))]).unwrap_err();
        assert!(e.to_string().contains("http"), "{e}");
        let e = callback_settings(&[account(&[], Some(endpoint("https://h.example/", Some("u"), None)))]).unwrap_err();
        assert!(e.to_string().contains("together"), "{e}");
    }
}
