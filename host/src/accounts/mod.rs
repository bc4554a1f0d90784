//! Accounts (official accounts) and their followers, and the `accounts`/`followers` WIT imports.

pub mod followers;
pub mod host;
pub mod segments;
pub mod tags;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::error::{PlazaError, Result};
use crate::storage::backend::Tree;

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

/// An official account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub kind: AccountKind,
    pub verified: bool,
    /// IANA zone name; quotas and cron are evaluated in it.
    pub timezone: String,
    pub created_at: u64,
    /// Secret a channel presents to post inbound messages for this account only.
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

pub struct AccountStore {
    tree: Arc<dyn Tree>,
}

impl AccountStore {
    pub fn new(tree: Arc<dyn Tree>) -> Self {
        AccountStore { tree }
    }

    pub fn create(&self, new: NewAccount, now: u64) -> Result<Account> {
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
        let account = Account {
            id: new.id,
            name,
            kind: new.kind,
            verified: new.verified,
            timezone,
            created_at: now,
            ingress_key: random_token(16)?,
        };
        let bytes = serde_json::to_vec(&account)?;
        if !self
            .tree
            .compare_and_swap(account.id.as_bytes(), None, Some(&bytes))?
        {
            return Err(PlazaError::Conflict(format!(
                "account {:?} already exists",
                account.id
            )));
        }
        Ok(account)
    }

    pub fn get(&self, id: &str) -> Result<Account> {
        match self.tree.get(id.as_bytes())? {
            Some(b) => Ok(serde_json::from_slice(&b)?),
            None => Err(PlazaError::not_found(format!("account {id:?}"))),
        }
    }

    pub fn list(&self) -> Result<Vec<Account>> {
        self.tree
            .scan_prefix(b"", None, usize::MAX)?
            .into_iter()
            .map(|(_, v)| Ok(serde_json::from_slice(&v)?))
            .collect()
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
