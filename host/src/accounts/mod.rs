//! Accounts (official accounts) and their followers, and the `accounts`/`followers` WIT imports.

pub mod followers;
pub mod host;
pub mod segments;
pub mod tags;

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use crate::error::{PlazaError, Result};
use crate::storage::table::Undecodable;
use crate::storage::{Json, Pending, Store, Table};

/// 订阅号 (subscription) or 服务号 (service): the kind decides broadcast quotas and template rights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountKind {
    Subscription,
    Service,
}

impl std::str::FromStr for AccountKind {
    type Err = PlazaError;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "subscription" => Ok(AccountKind::Subscription),
            "service" => Ok(AccountKind::Service),
            _ => Err(PlazaError::invalid(format!(
                "account kind must be subscription or service, not {s:?}"
            ))),
        }
    }
}

/// An official account, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub kind: AccountKind,
    pub verified: bool,
    /// IANA zone name; quotas and cron are evaluated in it.
    pub timezone: String,
    pub created_at: u64,
    /// SHA-256 (hex) of the secret a channel presents to post inbound messages for this account
    /// only. The secret itself is shown once, when it is made, and never stored.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ingress_key_sha256: String,
    /// A secret stored in clear by an older version; hashed into `ingress_key_sha256` on start.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        rename = "ingress_key"
    )]
    pub legacy_ingress_key: Option<String>,
}

/// An account as the admin API shows it: everything but secrets.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccountInfo {
    pub id: String,
    pub name: String,
    pub kind: AccountKind,
    pub verified: bool,
    pub timezone: String,
    pub created_at: u64,
    /// Whether an ingress key is set (it is shown only when made: at creation and rotation).
    pub ingress_key_set: bool,
}

impl From<&Account> for AccountInfo {
    fn from(a: &Account) -> Self {
        AccountInfo {
            id: a.id.clone(),
            name: a.name.clone(),
            kind: a.kind,
            verified: a.verified,
            timezone: a.timezone.clone(),
            created_at: a.created_at,
            ingress_key_set: !a.ingress_key_sha256.is_empty(),
        }
    }
}

/// A freshly made account with its ingress key, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedAccount {
    #[serde(flatten)]
    pub account: AccountInfo,
    pub ingress_key: String,
}

/// What an operator supplies to create an account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub id: String,
    pub name: Option<String>,
    pub kind: AccountKind,
    #[serde(default)]
    pub verified: bool,
    pub timezone: Option<String>,
}

pub const DEFAULT_TIMEZONE: &str = "Asia/Shanghai";

/// Validates an identifier used in keys and URLs (account ids, plugin names): it must never contain
/// a separator byte or a path character.
pub fn validate_id(what: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && id.as_bytes()[0].is_ascii_alphanumeric();
    if ok {
        Ok(())
    } else {
        Err(PlazaError::invalid(format!(
            "{what} {id:?} must be 1-64 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"
        )))
    }
}

/// Whether `c` can rewrite how text around it is shown: a C0 or C1 control (newline, CR, ESC,
/// NUL, …), DEL, a line or paragraph separator, or a Unicode bidi override, embedding or isolate
/// (which reorder what a reader sees, e.g. to disguise one openid or name as another). Such
/// characters forge log lines and terminal output, and have no place in names.
pub fn is_forbidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Refuses `value` when it holds a character for which [`is_forbidden_char`] is true, other
/// than those in `allowed` (e.g. newline and tab in a template's content). Names the first one
/// by code point and position, since the character itself would not print usefully.
pub fn refuse_control_chars(what: &str, value: &str, allowed: &[char]) -> Result<()> {
    match value
        .char_indices()
        .find(|&(_, c)| is_forbidden_char(c) && !allowed.contains(&c))
    {
        None => Ok(()),
        Some((at, c)) => Err(PlazaError::invalid(format!(
            "{what} contains the control or bidi character U+{:04X} at byte {at}; such characters are not allowed",
            c as u32
        ))),
    }
}

pub fn random_token(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).map_err(|e| PlazaError::internal(format!("no randomness: {e}")))?;
    Ok(hex::encode(buf))
}

/// SHA-256 (hex) of a secret, as stored in place of the secret.
pub fn secret_digest(secret: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(secret.as_bytes()))
}

/// A new ingress key and its digest.
fn new_ingress_key() -> Result<(String, String)> {
    let key = format!("ik_{}", random_token(16)?);
    let digest = secret_digest(&key);
    Ok((key, digest))
}

pub struct AccountStore {
    store: Arc<Store>,
    table: Table<Json<Account>>,
    /// Accounts read or written so far: every inbound message reads its account, and accounts
    /// change rarely and only through this store (one process owns the data directory).
    cache: RwLock<HashMap<String, Account>>,
}

impl AccountStore {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(AccountStore {
            table: store.table("accounts")?,
            store,
            cache: RwLock::new(HashMap::new()),
        })
    }

    fn remember(&self, account: &Account) {
        if let Ok(mut c) = self.cache.write() {
            c.insert(account.id.clone(), account.clone());
        }
    }

    /// Drops a cached account (its record was removed or replaced outside this store).
    pub fn forget(&self, id: &str) {
        if let Ok(mut c) = self.cache.write() {
            c.remove(id);
        }
    }

    pub fn create(&self, new: NewAccount, now: u64) -> Result<Pending<CreatedAccount>> {
        validate_id("account id", &new.id)?;
        let timezone = new.timezone.unwrap_or_else(|| DEFAULT_TIMEZONE.to_string());
        if timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(PlazaError::invalid(format!(
                "unknown timezone {timezone:?} (use an IANA name such as Asia/Shanghai)"
            )));
        }
        let name = new.name.unwrap_or_else(|| new.id.clone());
        if name.trim().is_empty() || name.len() > 128 {
            return Err(PlazaError::invalid("account name must be 1-128 bytes"));
        }
        refuse_control_chars("account name", &name, &[])?;
        let (ingress_key, digest) = new_ingress_key()?;
        let account = Account {
            id: new.id,
            name,
            kind: new.kind,
            verified: new.verified,
            timezone,
            created_at: now,
            ingress_key_sha256: digest,
            legacy_ingress_key: None,
        };
        let written = self.store.write(|tx| {
            if !tx.insert_new(&self.table, account.id.as_bytes(), &account)? {
                return Err(PlazaError::Conflict(format!(
                    "account {:?} already exists",
                    account.id
                )));
            }
            Ok(())
        })?;
        self.remember(&account);
        Ok(written.map(|()| CreatedAccount {
            account: AccountInfo::from(&account),
            ingress_key,
        }))
    }

    /// Replaces the account's ingress key; the new key is returned this once.
    pub fn rotate_ingress_key(&self, id: &str) -> Result<Pending<String>> {
        let (ingress_key, digest) = new_ingress_key()?;
        let written = self.store.write(|tx| {
            tx.update(&self.table, id.as_bytes(), |old| {
                let mut a = old.ok_or_else(|| PlazaError::not_found(format!("account {id:?}")))?;
                a.ingress_key_sha256 = digest.clone();
                a.legacy_ingress_key = None;
                Ok(Some(a))
            })
        })?;
        let updated = written.map(|a| {
            if let Some(a) = &a {
                self.remember(a);
            }
        });
        Ok(updated.map(|()| ingress_key))
    }

    /// Hashes ingress keys an older version stored in clear. Returns the accounts it changed.
    pub fn hash_legacy_ingress_keys(&self) -> Result<Pending<Vec<String>>> {
        let legacy: Vec<Account> = self
            .list_lenient()?
            .0
            .into_iter()
            .filter(|a| a.legacy_ingress_key.is_some())
            .collect();
        let written = self.store.write(|tx| {
            for a in &legacy {
                let mut a = a.clone();
                if let Some(key) = a.legacy_ingress_key.take() {
                    a.ingress_key_sha256 = secret_digest(&key);
                }
                tx.put(&self.table, a.id.as_bytes(), &a)?;
            }
            Ok(legacy.iter().map(|a| a.id.clone()).collect())
        })?;
        for a in &legacy {
            self.forget(&a.id);
        }
        Ok(written)
    }

    pub fn get(&self, id: &str) -> Result<Account> {
        if let Some(a) = self.cache.read().ok().and_then(|c| c.get(id).cloned()) {
            return Ok(a);
        }
        let account = self
            .table
            .get(id.as_bytes())?
            .ok_or_else(|| PlazaError::not_found(format!("account {id:?}")))?;
        self.remember(&account);
        Ok(account)
    }

    /// Every account whose record decodes. One that does not was set aside at start (and is
    /// listed with its remedy in `GET /system`): it must not take the listing, or the hourly
    /// passes over every account, down with it.
    pub fn list(&self) -> Result<Vec<Account>> {
        Ok(self.list_lenient()?.0)
    }

    /// Like [`AccountStore::list`], setting aside records that no longer decode.
    pub fn list_lenient(&self) -> Result<(Vec<Account>, Undecodable)> {
        self.table.values_lenient(b"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_refused_and_ordinary_text_is_not() {
        for ok in ["Corner Café", "街角咖啡", "a-b_c.d", "emoji 🙂", "tab-free"] {
            assert!(refuse_control_chars("name", ok, &[]).is_ok(), "{ok:?}");
        }
        for bad in [
            "a\nb",
            "a\rb",
            "a\u{1b}[31mb",
            "a\0b",
            "a\u{7f}b",
            "a\u{85}b",
            "a\u{9b}b",
            "a\u{202e}b",
            "a\u{202a}b",
            "a\u{2066}b",
            "a\u{2069}b",
            "a\u{2028}b",
            "a\tb",
        ] {
            let err = refuse_control_chars("name", bad, &[]).unwrap_err();
            assert_eq!(err.code(), "invalid", "{bad:?}");
            assert!(err.message().contains("at byte 1"), "{err}");
        }
        assert!(refuse_control_chars("content", "line\n\tindented", &['\n', '\t']).is_ok());
        assert!(refuse_control_chars("content", "line\r\n", &['\n', '\t']).is_err());
    }
}
