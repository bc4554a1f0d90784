//! API credentials (AppID + AppSecret) and access tokens.
//!
//! - The AppID is derived from the account id ([`appid_for`]); the AppSecret is random, shown once
//!   and stored only as its SHA-256, compared in constant time. Issuing credentials again rotates
//!   the secret and removes every token issued so far (they stop working at once).
//! - Tokens are random (96 hex characters), stored only as their SHA-256, and durable: they survive
//!   a restart. They live [`TOKEN_TTL_MS`]. A new `token` call keeps the previous token of that
//!   kind valid for [`OVERLAP_MS`] more (WeChat's overlap, so that several workers refreshing at
//!   once do not knock each other out). `stable_token` hands out the same token until fewer than
//!   [`STABLE_RENEW_MS`] remain, unless asked to `force_refresh`; the clear token needed for that
//!   is kept in memory only, so after a restart the first `stable_token` call issues a new one
//!   (the old one keeps working until it expires).
//! - An expired token is remembered for [`EXPIRED_KEPT_MS`] so that it is answered 42001 (expired)
//!   rather than 40001 (unknown); SDKs refresh and retry on both.
//!
//! Every time here is an argument (the caller reads `platform.clock`), so tests drive expiry.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::errcode::WxError;
use crate::accounts::{random_token, secret_digest};
use crate::error::{PlazaError, Result};
use crate::storage::backend::key;
use crate::storage::{Json, Pending, Store, Table};
use crate::wechat::identity::appid_for;

/// Life of an access token (WeChat's `expires_in`).
pub const TOKEN_TTL_MS: u64 = 7200 * 1000;
/// How long the previous token keeps working after a new one is issued.
pub const OVERLAP_MS: u64 = 5 * 60 * 1000;
/// `stable_token` issues a new token once fewer than this remain of the current one.
pub const STABLE_RENEW_MS: u64 = 5 * 60 * 1000;
/// How long an expired token is still recognised (and answered 42001).
pub const EXPIRED_KEPT_MS: u64 = 24 * 3600 * 1000;
/// Most token records one account keeps (the oldest expired ones go first).
const MAX_TOKENS_PER_ACCOUNT: usize = 200;

/// The API credentials of one account, keyed by AppID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub account: String,
    pub secret_sha256: String,
    pub created_at: u64,
}

/// Credentials as issued: the secret is in clear here and nowhere else.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedCredentials {
    pub appid: String,
    pub secret: String,
}

/// Which endpoint issued a token: each kind has its own "latest" token and overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKind {
    Token,
    Stable,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TokenRecord {
    sha256: String,
    kind: TokenKind,
    issued_at: u64,
    expires_at: u64,
}

/// The account's tokens, all in one record so that issuing one (and retiring the previous, and
/// forgetting long-expired ones) is one small unit of work.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct TokenSet {
    tokens: Vec<TokenRecord>,
}

/// A token as handed out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IssuedToken {
    pub access_token: String,
    /// Seconds left.
    pub expires_in: u64,
}

/// The clear stable token of an account, for handing out the same one again.
#[derive(Debug, Clone)]
struct StableToken {
    token: String,
    expires_at: u64,
}

pub struct Tokens {
    store: Arc<Store>,
    /// AppID → credential.
    credentials: Table<Json<Credential>>,
    /// Account → its token records.
    sets: Table<Json<TokenSet>>,
    /// SHA-256 of a token → account.
    index: Table<Json<String>>,
    stable: Mutex<HashMap<String, StableToken>>,
}

fn ct_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Tokens {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(Tokens {
            credentials: store.table("wechat_api_credentials")?,
            sets: store.table("wechat_api_tokens")?,
            index: store.table("wechat_api_token_index")?,
            stable: Mutex::new(HashMap::new()),
            store,
        })
    }

    fn forget_stable(&self, account: &str) {
        if let Ok(mut s) = self.stable.lock() {
            s.remove(account);
        }
    }

    /// Makes (or replaces) the account's credentials; every token issued before stops working.
    pub fn issue_credentials(&self, account: &str, now: u64) -> Result<Pending<IssuedCredentials>> {
        let appid = appid_for(account);
        let secret = random_token(16)?;
        let cred = Credential {
            account: account.to_string(),
            secret_sha256: secret_digest(&secret),
            created_at: now,
        };
        let set_key = key(&[account]);
        let pending = self.store.write(|tx| {
            if let Some(set) = tx.take(&self.sets, &set_key)? {
                for t in set.tokens {
                    tx.delete(&self.index, t.sha256.as_bytes())?;
                }
            }
            tx.put(&self.credentials, appid.as_bytes(), &cred)
        })?;
        self.forget_stable(account);
        Ok(pending.map(|()| IssuedCredentials { appid, secret }))
    }

    /// The account an appid was issued to, if any.
    pub fn account_of_appid(&self, appid: &str) -> Result<Option<String>> {
        Ok(self.credentials.get(appid.as_bytes())?.map(|c| c.account))
    }

    /// The account whose credentials `appid`/`secret` are, or the WeChat error for them.
    fn check_secret(
        &self,
        appid: &str,
        secret: &str,
    ) -> Result<std::result::Result<String, WxError>> {
        let Some(cred) = self.credentials.get(appid.as_bytes())? else {
            return Ok(Err(WxError::new(40013, "invalid appid")));
        };
        if !ct_equal(&secret_digest(secret), &cred.secret_sha256) {
            return Ok(Err(WxError::new(40125, "invalid appsecret")));
        }
        Ok(Ok(cred.account))
    }

    /// `cgi-bin/token` (`stable = None`) or `cgi-bin/stable_token` (`stable = Some(force_refresh)`)
    /// for checked-present `appid` and `secret`.
    pub async fn issue(
        &self,
        appid: &str,
        secret: &str,
        stable: Option<bool>,
        now: u64,
    ) -> Result<std::result::Result<IssuedToken, WxError>> {
        let account = match self.check_secret(appid, secret)? {
            Ok(a) => a,
            Err(e) => return Ok(Err(e)),
        };
        let kind = match stable {
            None => TokenKind::Token,
            Some(force_refresh) => {
                if !force_refresh && let Some(t) = self.current_stable(&account, now)? {
                    return Ok(Ok(t));
                }
                TokenKind::Stable
            }
        };
        let token = random_token(48)?;
        let record = TokenRecord {
            sha256: secret_digest(&token),
            kind,
            issued_at: now,
            expires_at: now + TOKEN_TTL_MS,
        };
        let set_key = key(&[&account]);
        let appid_key = appid.as_bytes().to_vec();
        let secret_sha = secret_digest(secret);
        let issued = self
            .store
            .write(|tx| {
                // The secret may have been rotated since it was checked.
                match tx.get(&self.credentials, &appid_key)? {
                    Some(c) if ct_equal(&c.secret_sha256, &secret_sha) => {}
                    _ => return Ok(false),
                }
                let mut set = tx.get(&self.sets, &set_key)?.unwrap_or_default();
                for t in set.tokens.iter_mut().filter(|t| t.kind == kind) {
                    t.expires_at = t.expires_at.min(now + OVERLAP_MS);
                }
                let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut set.tokens)
                    .into_iter()
                    .partition(|t| t.expires_at.saturating_add(EXPIRED_KEPT_MS) > now);
                set.tokens = keep;
                for t in gone {
                    tx.delete(&self.index, t.sha256.as_bytes())?;
                }
                if set.tokens.len() >= MAX_TOKENS_PER_ACCOUNT {
                    set.tokens.sort_by_key(|t| t.expires_at);
                    let excess = set.tokens.len() + 1 - MAX_TOKENS_PER_ACCOUNT;
                    for t in set.tokens.drain(..excess) {
                        tx.delete(&self.index, t.sha256.as_bytes())?;
                    }
                }
                set.tokens.push(record.clone());
                tx.put(&self.sets, &set_key, &set)?;
                tx.put(&self.index, record.sha256.as_bytes(), &account)?;
                Ok(true)
            })?
            .durable()
            .await?;
        if !issued {
            return Ok(Err(WxError::new(40125, "invalid appsecret")));
        }
        if kind == TokenKind::Stable
            && let Ok(mut s) = self.stable.lock()
        {
            s.insert(
                account.clone(),
                StableToken {
                    token: token.clone(),
                    expires_at: record.expires_at,
                },
            );
        }
        Ok(Ok(IssuedToken {
            access_token: token,
            expires_in: TOKEN_TTL_MS / 1000,
        }))
    }

    /// The stable token handed out before, while it is still valid for long enough.
    fn current_stable(&self, account: &str, now: u64) -> Result<Option<IssuedToken>> {
        let cached = self
            .stable
            .lock()
            .map_err(|_| PlazaError::internal("stable token lock poisoned"))?
            .get(account)
            .cloned();
        let Some(t) = cached else { return Ok(None) };
        if t.expires_at.saturating_sub(now) < STABLE_RENEW_MS {
            return Ok(None);
        }
        // Still on record (not removed by a credential rotation meanwhile)?
        if self.authenticate(&t.token, now)?.as_deref() != Ok(account) {
            return Ok(None);
        }
        Ok(Some(IssuedToken {
            access_token: t.token,
            expires_in: (t.expires_at - now) / 1000,
        }))
    }

    /// The account a presented access token acts for, or 40001 (unknown, or replaced by a
    /// credential rotation) / 42001 (expired).
    pub fn authenticate(
        &self,
        token: &str,
        now: u64,
    ) -> Result<std::result::Result<String, WxError>> {
        if token.is_empty() || token.len() > 512 {
            return Ok(Err(WxError::invalid_token()));
        }
        let digest = secret_digest(token);
        let Some(account) = self.index.get(digest.as_bytes())? else {
            return Ok(Err(WxError::invalid_token()));
        };
        let set = self.sets.get(&key(&[&account]))?.unwrap_or_default();
        let Some(record) = set.tokens.iter().find(|t| ct_equal(&t.sha256, &digest)) else {
            return Ok(Err(WxError::invalid_token()));
        };
        if now >= record.expires_at {
            return Ok(Err(WxError::expired_token()));
        }
        Ok(Ok(account))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::faulty_store;

    const T0: u64 = 1_800_000_000_000;

    async fn token(
        tokens: &Tokens,
        c: &IssuedCredentials,
        stable: Option<bool>,
        now: u64,
    ) -> String {
        tokens
            .issue(&c.appid, &c.secret, stable, now)
            .await
            .unwrap()
            .unwrap()
            .access_token
    }

    fn auth(tokens: &Tokens, t: &str, now: u64) -> std::result::Result<String, i64> {
        tokens.authenticate(t, now).unwrap().map_err(|e| e.errcode)
    }

    #[tokio::test]
    async fn a_token_lives_two_hours_and_its_predecessor_five_minutes_more() {
        let (_dir, _faulty, store) = faulty_store();
        let tokens = Tokens::new(store).unwrap();
        let c = tokens
            .issue_credentials("demo", T0)
            .unwrap()
            .durable()
            .await
            .unwrap();
        assert_eq!(c.appid, appid_for("demo"));
        assert_eq!(c.secret.len(), 32);
        let first = token(&tokens, &c, None, T0).await;
        assert!(first.len() >= 64);
        assert_eq!(auth(&tokens, &first, T0), Ok("demo".into()));
        assert_eq!(
            auth(&tokens, &first, T0 + TOKEN_TTL_MS - 1),
            Ok("demo".into())
        );
        assert_eq!(auth(&tokens, &first, T0 + TOKEN_TTL_MS), Err(42001));
        assert_eq!(auth(&tokens, "no-such-token", T0), Err(40001));

        // A new token an hour later: the first one works five more minutes, then is expired.
        let hour = 3600 * 1000;
        let second = token(&tokens, &c, None, T0 + hour).await;
        assert_ne!(first, second);
        assert_eq!(
            auth(&tokens, &first, T0 + hour + OVERLAP_MS - 1),
            Ok("demo".into())
        );
        assert_eq!(auth(&tokens, &first, T0 + hour + OVERLAP_MS), Err(42001));
        assert_eq!(
            auth(&tokens, &second, T0 + hour + OVERLAP_MS),
            Ok("demo".into())
        );
        // Long after expiry the token is forgotten (once another is issued) and reads as unknown.
        let later = T0 + hour + TOKEN_TTL_MS + EXPIRED_KEPT_MS + 1;
        token(&tokens, &c, None, later).await;
        assert_eq!(auth(&tokens, &first, later), Err(40001));
        assert_eq!(auth(&tokens, &second, later), Err(40001));
    }

    #[tokio::test]
    async fn wrong_secrets_and_appids_are_refused_and_rotation_ends_old_tokens() {
        let (_dir, _faulty, store) = faulty_store();
        let tokens = Tokens::new(store).unwrap();
        let c = tokens
            .issue_credentials("demo", T0)
            .unwrap()
            .durable()
            .await
            .unwrap();
        let code = |appid: &str, secret: &str| {
            let tokens = &tokens;
            let (appid, secret) = (appid.to_string(), secret.to_string());
            async move {
                tokens
                    .issue(&appid, &secret, None, T0)
                    .await
                    .unwrap()
                    .unwrap_err()
                    .errcode
            }
        };
        assert_eq!(
            code(&c.appid, "0123456789abcdef0123456789abcdef").await,
            40125
        );
        assert_eq!(code(&appid_for("other"), &c.secret).await, 40013);
        let old = token(&tokens, &c, None, T0).await;
        let stable = token(&tokens, &c, Some(false), T0).await;
        let rotated = tokens
            .issue_credentials("demo", T0 + 1)
            .unwrap()
            .durable()
            .await
            .unwrap();
        assert_ne!(rotated.secret, c.secret);
        assert_eq!(auth(&tokens, &old, T0 + 2), Err(40001));
        assert_eq!(auth(&tokens, &stable, T0 + 2), Err(40001));
        assert_eq!(code(&c.appid, &c.secret).await, 40125);
        let new = token(&tokens, &rotated, None, T0 + 2).await;
        assert_eq!(auth(&tokens, &new, T0 + 2), Ok("demo".into()));
        let new_stable = token(&tokens, &rotated, Some(false), T0 + 2).await;
        assert_ne!(new_stable, stable);
    }

    #[tokio::test]
    async fn stable_tokens_repeat_until_near_expiry_unless_forced() {
        let (_dir, _faulty, store) = faulty_store();
        let tokens = Tokens::new(store).unwrap();
        let c = tokens
            .issue_credentials("demo", T0)
            .unwrap()
            .durable()
            .await
            .unwrap();
        let a = token(&tokens, &c, Some(false), T0).await;
        assert_eq!(token(&tokens, &c, Some(false), T0 + 1000).await, a);
        let left = tokens
            .issue(&c.appid, &c.secret, Some(false), T0 + 60_000)
            .await
            .unwrap()
            .unwrap()
            .expires_in;
        assert_eq!(left, 7200 - 60);
        // A plain `token` call does not replace the stable token.
        let plain = token(&tokens, &c, None, T0 + 2000).await;
        assert_ne!(plain, a);
        assert_eq!(token(&tokens, &c, Some(false), T0 + 3000).await, a);
        // Near expiry: a new one, the old one still works its last minutes.
        let near = T0 + TOKEN_TTL_MS - STABLE_RENEW_MS + 1;
        let b = token(&tokens, &c, Some(false), near).await;
        assert_ne!(a, b);
        assert_eq!(auth(&tokens, &a, near), Ok("demo".into()));
        // Forced: a new one at once.
        let forced = token(&tokens, &c, Some(true), near + 1).await;
        assert_ne!(forced, b);
        assert_eq!(auth(&tokens, &b, near + 1), Ok("demo".into()));
        assert_eq!(auth(&tokens, &b, near + 1 + OVERLAP_MS), Err(42001));
    }

    #[tokio::test]
    async fn tokens_survive_a_restart() {
        let (_dir, _faulty, store) = faulty_store();
        let tokens = Tokens::new(store.clone()).unwrap();
        let c = tokens
            .issue_credentials("demo", T0)
            .unwrap()
            .durable()
            .await
            .unwrap();
        let t = token(&tokens, &c, None, T0).await;
        drop(tokens);
        let reopened = Tokens::new(store).unwrap();
        assert_eq!(auth(&reopened, &t, T0 + 1), Ok("demo".into()));
    }
}
