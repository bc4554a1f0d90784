//! A bridged account's channel settings: the real WeChat account's AppID and AppSecret (for the
//! server API), the Token and EncodingAESKey of its 服务器配置 (for pushes), the message mode, and
//! the API base (WeChat's, or a stand-in). Secrets are stored because the bridge must use them;
//! they are never shown again, only whether they are set.

use serde::{Deserialize, Serialize};

use crate::error::{PlazaError, Result};
use crate::storage::{Json, Store, Table};
use crate::wechat::crypto::{SecureKey, validate_encoding_aes_key};
use crate::wechat::envelope::Mode;

/// WeChat's server API.
pub const DEFAULT_API_BASE: &str = "https://api.weixin.qq.com";

#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct WechatSettings {
    pub appid: String,
    pub secret: String,
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_aes_key: Option<String>,
    pub mode: Mode,
    pub api_base: String,
}

impl std::fmt::Debug for WechatSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatSettings")
            .field("appid", &self.appid)
            .field("mode", &self.mode)
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl WechatSettings {
    /// The secure-mode key, when one is configured.
    pub fn key(&self) -> Result<Option<SecureKey>> {
        self.encoding_aes_key
            .as_deref()
            .map(|k| SecureKey::new(k, &self.appid))
            .transpose()
            .map_err(|e| PlazaError::invalid(format!("encoding_aes_key: {e}")))
    }
}

/// `PUT /api/v1/accounts/{id}/wechat`: every field optional; an omitted secret keeps the stored
/// one, so an operator can change the mode without typing the secrets again.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WechatSettingsUpdate {
    pub appid: Option<String>,
    pub secret: Option<String>,
    pub token: Option<String>,
    pub encoding_aes_key: Option<String>,
    pub mode: Option<Mode>,
    pub api_base: Option<String>,
}

/// What the API shows: everything but the secrets, and where WeChat must push.
#[derive(Debug, Clone, Serialize)]
pub struct WechatSettingsView {
    pub appid: String,
    pub mode: Mode,
    pub api_base: String,
    pub secret_set: bool,
    pub token_set: bool,
    pub encoding_aes_key_set: bool,
    /// The URL to enter as the account's 服务器地址(URL).
    pub callback_url: String,
}

impl WechatSettings {
    pub fn view(&self, public_url: &str, account: &str) -> WechatSettingsView {
        WechatSettingsView {
            appid: self.appid.clone(),
            mode: self.mode,
            api_base: self.api_base.clone(),
            secret_set: !self.secret.is_empty(),
            token_set: !self.token.is_empty(),
            encoding_aes_key_set: self.encoding_aes_key.is_some(),
            callback_url: format!("{public_url}/wechat/{account}"),
        }
    }
}

fn invalid(field: &str, why: &str) -> PlazaError {
    PlazaError::invalid(format!("{field}: {why}"))
}

/// Checks one complete set of settings.
pub fn validate(s: &WechatSettings) -> Result<()> {
    let a = s.appid.as_bytes();
    if a.len() != 18 || !s.appid.starts_with("wx") || !a[2..].iter().all(u8::is_ascii_alphanumeric)
    {
        return Err(invalid(
            "appid",
            "must be \"wx\" followed by 16 letters or digits, as shown in the account's 基本配置",
        ));
    }
    if s.secret.is_empty()
        || s.secret.len() > 128
        || !s.secret.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(invalid(
            "secret",
            "must be the AppSecret: 1-128 printable characters without spaces",
        ));
    }
    if !(3..=32).contains(&s.token.len()) || !s.token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(invalid("token", "must be 3-32 letters or digits"));
    }
    match &s.encoding_aes_key {
        Some(k) => {
            validate_encoding_aes_key(k).map_err(|e| invalid("encoding_aes_key", &e.to_string()))?
        }
        None if s.mode.encrypts() => {
            return Err(invalid(
                "encoding_aes_key",
                "is required in compatible and secure mode",
            ));
        }
        None => {}
    }
    let base = s.api_base.trim_end_matches('/');
    let parsed = http::Uri::try_from(base).map_err(|_| invalid("api_base", "is not a URL"))?;
    if !matches!(parsed.scheme_str(), Some("http" | "https"))
        || parsed.host().is_none()
        || parsed.query().is_some()
    {
        return Err(invalid(
            "api_base",
            "must be an http(s) URL without a query, e.g. https://api.weixin.qq.com",
        ));
    }
    Ok(())
}

impl WechatSettingsUpdate {
    /// The stored settings with this update applied, validated.
    pub fn apply(self, stored: Option<WechatSettings>) -> Result<WechatSettings> {
        let need = |v: Option<String>, kept: Option<&String>, field: &str| {
            v.or_else(|| kept.cloned())
                .ok_or_else(|| invalid(field, "is required"))
        };
        let s = WechatSettings {
            appid: need(self.appid, stored.as_ref().map(|s| &s.appid), "appid")?,
            secret: need(self.secret, stored.as_ref().map(|s| &s.secret), "secret")?,
            token: need(self.token, stored.as_ref().map(|s| &s.token), "token")?,
            encoding_aes_key: match self.encoding_aes_key {
                // An empty key removes it (back to plain mode).
                Some(k) if k.is_empty() => None,
                Some(k) => Some(k),
                None => stored.as_ref().and_then(|s| s.encoding_aes_key.clone()),
            },
            mode: self
                .mode
                .or(stored.as_ref().map(|s| s.mode))
                .unwrap_or_default(),
            api_base: self
                .api_base
                .or_else(|| stored.as_ref().map(|s| s.api_base.clone()))
                .unwrap_or_else(|| DEFAULT_API_BASE.to_string())
                .trim_end_matches('/')
                .to_string(),
        };
        validate(&s)?;
        Ok(s)
    }
}

/// Security events a bridged account logs per minute for refused pushes: anyone can post to
/// its public callback URL, and a flood of forged pushes must not flood its event log. Past the
/// budget, refusals are still answered and traced, just not logged.
pub const SECURITY_EVENTS_PER_MINUTE: u32 = 60;

/// `account → settings`.
pub struct WechatChannels {
    table: Table<Json<WechatSettings>>,
    store: std::sync::Arc<Store>,
    /// Per account: the minute and how many security events were logged in it.
    security_budget: std::sync::Mutex<std::collections::HashMap<String, (u64, u32)>>,
}

impl WechatChannels {
    pub fn new(store: std::sync::Arc<Store>) -> Result<Self> {
        Ok(WechatChannels {
            table: store.table("wechat_channels")?,
            store,
            security_budget: Default::default(),
        })
    }

    /// Whether a security event of `account` may be logged at `now_ms` (and counts it).
    pub fn take_security_event(&self, account: &str, now_ms: u64) -> bool {
        let minute = now_ms / 60_000;
        let Ok(mut budget) = self.security_budget.lock() else {
            return false;
        };
        // Old minutes go, so the map holds only the accounts refused this minute.
        budget.retain(|_, (m, _)| *m == minute);
        let (_, used) = budget.entry(account.to_string()).or_insert((minute, 0));
        if *used >= SECURITY_EVENTS_PER_MINUTE {
            return false;
        }
        *used += 1;
        true
    }

    pub fn get(&self, account: &str) -> Result<Option<WechatSettings>> {
        self.table.get(account.as_bytes())
    }

    /// [`WechatChannels::get`] inside a unit of work.
    pub fn get_in(
        &self,
        tx: &mut crate::storage::Tx<'_>,
        account: &str,
    ) -> Result<Option<WechatSettings>> {
        tx.get(&self.table, account.as_bytes())
    }

    /// The settings, or `NotFound` saying how to make the account a bridge.
    pub fn require(&self, account: &str) -> Result<WechatSettings> {
        self.get(account)?.ok_or_else(|| {
            PlazaError::not_found(format!(
                "account {account:?} is not bridged to a WeChat account; set it up with PUT /api/v1/accounts/{account}/wechat"
            ))
        })
    }

    pub async fn update(
        &self,
        account: &str,
        update: WechatSettingsUpdate,
    ) -> Result<WechatSettings> {
        let settings = update.apply(self.get(account)?)?;
        self.store
            .write(|tx| tx.put(&self.table, account.as_bytes(), &settings))?
            .durable()
            .await?;
        Ok(settings)
    }

    /// Removes the bridge; returns whether there was one.
    pub async fn remove(&self, account: &str) -> Result<bool> {
        self.store
            .write(|tx| tx.delete(&self.table, account.as_bytes()))?
            .durable()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full() -> WechatSettingsUpdate {
        WechatSettingsUpdate {
            appid: Some("wx1234567890abcdef".into()),
            secret: Some("0123456789abcdef0123456789abcdef".into()),
            token: Some("mytoken".into()),
            encoding_aes_key: Some("abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG".into()),
            mode: Some(Mode::Secure),
            api_base: None,
        }
    }

    #[test]
    fn a_complete_update_validates_and_keeps_secrets_when_omitted() {
        let s = full().apply(None).unwrap();
        assert_eq!(s.api_base, DEFAULT_API_BASE);
        let changed = WechatSettingsUpdate {
            mode: Some(Mode::Compatible),
            api_base: Some("http://127.0.0.1:9/".into()),
            ..Default::default()
        }
        .apply(Some(s.clone()))
        .unwrap();
        assert_eq!(changed.secret, s.secret);
        assert_eq!(changed.token, s.token);
        assert_eq!(changed.api_base, "http://127.0.0.1:9");
        let view = changed.view("http://h", "acc");
        assert!(view.secret_set && view.token_set && view.encoding_aes_key_set);
        assert_eq!(view.callback_url, "http://h/wechat/acc");
        let shown = serde_json::to_string(&view).unwrap();
        assert!(!shown.contains(&s.secret) && !shown.contains("abcdefghijklmnop"));
    }

    #[test]
    fn security_events_are_budgeted_per_account_and_minute() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(std::sync::Arc::new(
            crate::storage::backend::SledBackend::open(&dir.path().join("db")).unwrap(),
        ));
        let channels = WechatChannels::new(store).unwrap();
        let logged = (0..100)
            .filter(|_| channels.take_security_event("a", 60_000))
            .count();
        assert_eq!(logged, SECURITY_EVENTS_PER_MINUTE as usize);
        assert!(channels.take_security_event("b", 60_000), "per account");
        assert!(channels.take_security_event("a", 120_000), "a new minute");
    }

    #[test]
    fn each_bad_field_is_named() {
        for (field, update) in [
            (
                "appid",
                WechatSettingsUpdate {
                    appid: Some("gh_123".into()),
                    ..full()
                },
            ),
            (
                "secret",
                WechatSettingsUpdate {
                    secret: Some("a b".into()),
                    ..full()
                },
            ),
            (
                "token",
                WechatSettingsUpdate {
                    token: Some("t!".into()),
                    ..full()
                },
            ),
            (
                "encoding_aes_key",
                WechatSettingsUpdate {
                    encoding_aes_key: Some("short".into()),
                    ..full()
                },
            ),
            (
                "encoding_aes_key",
                WechatSettingsUpdate {
                    encoding_aes_key: Some(String::new()),
                    ..full()
                },
            ),
            (
                "api_base",
                WechatSettingsUpdate {
                    api_base: Some("ftp://x".into()),
                    ..full()
                },
            ),
            (
                "secret",
                WechatSettingsUpdate {
                    secret: None,
                    ..full()
                },
            ),
        ] {
            let e = update.apply(None).unwrap_err();
            assert!(e.message().starts_with(field), "{field}: {e}");
        }
        // Plain mode needs no key.
        let plain = WechatSettingsUpdate {
            mode: Some(Mode::Plain),
            encoding_aes_key: None,
            ..full()
        };
        assert!(plain.apply(None).is_ok());
    }
}
