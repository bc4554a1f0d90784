//! Follower web identity: signed, expiring links that tell a plugin's page which follower opened
//! it, without a login.
//!
//! A plugin asks for a link to one of its own routes for one follower
//! ([`Platform::follower_url`], the `links.follower-url` import). The link carries a token (see
//! [`token`]) naming the account, the plugin, the follower's openid, the path it was issued for
//! and its expiry, MACed with HMAC-SHA256 under a key of the account. When a request to
//! `/p/{account}/{plugin}/…` carries a token (query `plaza_token`, or header
//! `x-plaza-follower-token`), the host checks it before the plugin runs
//! ([`FollowerLinks::verify`]); a valid one reaches `on-http` with `call-context.follower` set, any
//! other is refused.
//!
//! **Keys.** Each account has its own 32 random bytes, created on first use and stored through
//! the host's [`Store`] (table `link_keys`). Tokens name their key by id. Rotating
//! ([`FollowerLinks::rotate`]) makes a new key current and *retires* the old one, which stays
//! valid for [`KEY_GRACE_MS`] after its retirement — the longest a token may live — so every link
//! already sent keeps working until it would have expired anyway; then the key is dropped.
//! Rotation is for routine hygiene; it does not revoke links already sent (a leaked key is dealt
//! with by rotating twice: the first retired key is then dropped at the next rotation after its
//! grace, and never accepted past it).

pub mod content;
mod host;
pub mod target;
pub mod token;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use self::target::LinkPath;
use self::token::{Claims, Unverified};
use crate::accounts::followers::validate_openid;
use crate::accounts::validate_id;
use crate::error::{PlazaError, Result};
use crate::platform::Platform;
use crate::storage::{Json, Pending, Store, Table};

/// Longest a follower link may live: 30 days.
pub const MAX_TTL_SECONDS: u32 = 30 * 24 * 60 * 60;
/// How long a retired key still verifies tokens: the longest token lifetime, so that no link
/// signed before a rotation stops working before it expires.
pub const KEY_GRACE_MS: u64 = MAX_TTL_SECONDS as u64 * 1000;
const SECRET_BYTES: usize = 32;

/// One signing key of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct LinkKey {
    id: u32,
    /// The secret, hex. It never leaves the host (the admin API shows ids only).
    secret: String,
    created_at: u64,
    /// When a newer key replaced it; it verifies until `retired_at + KEY_GRACE_MS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_at: Option<u64>,
}

impl LinkKey {
    fn new(id: u32, now: u64) -> Result<LinkKey> {
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut secret)
            .map_err(|e| PlazaError::internal(format!("no randomness for a link key: {e}")))?;
        Ok(LinkKey {
            id,
            secret: hex::encode(secret),
            created_at: now,
            retired_at: None,
        })
    }

    fn secret(&self) -> Result<Vec<u8>> {
        hex::decode(&self.secret)
            .map_err(|_| PlazaError::internal(format!("link key {} is not hex", self.id)))
    }

    fn live_at(&self, now: u64) -> bool {
        self.retired_at
            .is_none_or(|r| now < r.saturating_add(KEY_GRACE_MS))
    }
}

/// An account's keys, oldest first; the current one is the last, and the only one not retired.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct AccountKeys {
    keys: Vec<LinkKey>,
}

impl AccountKeys {
    fn current(&self) -> Option<&LinkKey> {
        self.keys.last().filter(|k| k.retired_at.is_none())
    }
}

/// A follower whose token checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedFollower {
    pub openid: String,
    /// The id of the key that signed the token.
    pub key_id: u32,
    pub expires_at_ms: u64,
}

/// What a request asks for, to verify a token against.
#[derive(Debug, Clone, Copy)]
pub struct RouteRequest<'a> {
    pub account: &'a str,
    pub plugin: &'a str,
    /// The decoded request path under the plugin, `/…`, as the plugin sees it.
    pub path: &'a str,
}

/// The accounts' link keys, and signing and verifying with them.
pub struct FollowerLinks {
    store: Arc<Store>,
    keys: Table<Json<AccountKeys>>,
}

impl FollowerLinks {
    pub fn new(store: Arc<Store>) -> Result<Self> {
        Ok(FollowerLinks {
            keys: store.table("link_keys")?,
            store,
        })
    }

    /// The account's current key, created (and made durable) if it has none yet.
    async fn current_key(&self, account: &str, now: u64) -> Result<LinkKey> {
        if let Some(k) = self
            .keys
            .get(account.as_bytes())?
            .and_then(|a| a.current().cloned())
        {
            return Ok(k);
        }
        // Made before the unit of work, which may run more than once; used only if no other
        // request created the account's key first.
        let fresh = LinkKey::new(1, now)?;
        self.store
            .write(|tx| {
                let mut keys = tx.get(&self.keys, account.as_bytes())?.unwrap_or_default();
                if let Some(k) = keys.current() {
                    return Ok(k.clone());
                }
                let mut key = fresh.clone();
                key.id = keys.keys.last().map_or(1, |k| k.id.wrapping_add(1).max(1));
                keys.keys.push(key.clone());
                tx.put(&self.keys, account.as_bytes(), &keys)?;
                Ok(key)
            })?
            .durable()
            .await
    }

    /// A token for `openid` to the plugin's routes under `path`, valid until `expires_at_ms`.
    /// Arguments are checked by [`Platform::follower_url`].
    async fn issue(
        &self,
        account: &str,
        plugin: &str,
        openid: &str,
        prefix: &str,
        expires_at_ms: u64,
        now: u64,
    ) -> Result<String> {
        let key = self.current_key(account, now).await?;
        Claims {
            key_id: key.id,
            expires_at_ms,
            account: account.into(),
            plugin: plugin.into(),
            openid: openid.into(),
            path: prefix.into(),
        }
        .sign(&key.secret()?)
    }

    /// Checks `token` for a request: issued for this account and plugin (else
    /// `permission_denied`), signed by a live key of the account with a MAC that matches (else
    /// `unauthorized`), not expired at `now` (valid while `now < expiry`; else `unauthorized`),
    /// and the request path within the path it was issued for (else `permission_denied`).
    pub fn verify(
        &self,
        token: &str,
        request: RouteRequest<'_>,
        now: u64,
    ) -> Result<VerifiedFollower> {
        let unverified = Unverified::decode(token)?;
        let c = &unverified.claims;
        if c.account != request.account || c.plugin != request.plugin {
            let other = if c.account != request.account {
                "account"
            } else {
                "plugin"
            };
            return Err(PlazaError::PermissionDenied(format!(
                "this follower link was issued for another {other}"
            )));
        }
        let keys = self
            .keys
            .get(request.account.as_bytes())?
            .unwrap_or_default();
        let key = keys
            .keys
            .iter()
            .find(|k| k.id == c.key_id && k.live_at(now))
            .ok_or_else(|| {
                PlazaError::Unauthorized(
                    "the follower link was signed with a key that is no longer valid".into(),
                )
            })?;
        if !unverified.mac_matches(&key.secret()?)? {
            return Err(PlazaError::Unauthorized(
                "the follower link's signature does not match".into(),
            ));
        }
        if now >= c.expires_at_ms {
            return Err(PlazaError::Unauthorized(
                "the follower link has expired; ask for a new one".into(),
            ));
        }
        if !target::within(&c.path, request.path) {
            return Err(PlazaError::PermissionDenied(format!(
                "this follower link is for {:?}, not {:?}",
                c.path, request.path
            )));
        }
        Ok(VerifiedFollower {
            openid: c.openid.clone(),
            key_id: c.key_id,
            expires_at_ms: c.expires_at_ms,
        })
    }

    /// Makes a new key current for `account` and retires the previous one (it keeps verifying
    /// for [`KEY_GRACE_MS`]); keys retired longer ago than that are dropped. Returns the new key's
    /// id. The caller checks that the account exists.
    pub fn rotate(&self, account: &str, now: u64) -> Result<Pending<u32>> {
        let fresh = LinkKey::new(0, now)?;
        self.store.write(|tx| {
            let mut keys = tx.get(&self.keys, account.as_bytes())?.unwrap_or_default();
            let next = keys.keys.last().map_or(1, |k| k.id.wrapping_add(1).max(1));
            for k in &mut keys.keys {
                k.retired_at.get_or_insert(now);
            }
            keys.keys.retain(|k| k.live_at(now));
            let mut key = fresh.clone();
            key.id = next;
            keys.keys.push(key);
            tx.put(&self.keys, account.as_bytes(), &keys)?;
            Ok(next)
        })
    }

    /// The ids of the account's keys that verify tokens at `now`, oldest first, the current one
    /// last (for the admin API; never the secrets).
    pub fn live_key_ids(&self, account: &str, now: u64) -> Result<Vec<u32>> {
        Ok(self
            .keys
            .get(account.as_bytes())?
            .unwrap_or_default()
            .keys
            .iter()
            .filter(|k| k.live_at(now))
            .map(|k| k.id)
            .collect())
    }
}

impl Platform {
    /// An absolute URL to `path` under plugin `plugin`'s routes on `account`
    /// (`{public_url}/p/{account}/{plugin}{path}`), carrying a token that identifies `openid` to
    /// that plugin until `ttl_seconds` from `now`. An existing query in `path` is kept (the token
    /// is added to it) and so is a fragment. The link is good for `path` and below it.
    ///
    /// `invalid` when `ttl_seconds` is not 1 s..=30 days, `path` does not start with `/`, is
    /// longer than 1 KiB, holds control or bidi characters, `.`/`..` segments or a `plaza_token`
    /// of its own, or `openid` is not a valid openid; `not_found` for an unknown account. The
    /// first link of an account creates its key (a durable write).
    pub async fn follower_url(
        &self,
        account: &str,
        plugin: &str,
        openid: &str,
        path: &str,
        ttl_seconds: u32,
        now: u64,
    ) -> Result<String> {
        if !(1..=MAX_TTL_SECONDS).contains(&ttl_seconds) {
            return Err(PlazaError::invalid(format!(
                "a follower link lives 1 to {MAX_TTL_SECONDS} seconds (30 days), not {ttl_seconds}"
            )));
        }
        validate_id("plugin", plugin)?;
        validate_openid(openid)?;
        let target = LinkPath::parse(path)?;
        self.accounts.get(account)?;
        let expires_at = now.saturating_add(u64::from(ttl_seconds) * 1000);
        let token = self
            .links
            .issue(account, plugin, openid, &target.prefix, expires_at, now)
            .await?;
        let base = format!("{}/p/{account}/{plugin}", self.public_url());
        Ok(target.url(&base, &token))
    }

    /// Rotates `account`'s link signing key (see [`FollowerLinks::rotate`]), durably; returns the
    /// new key's id. `not_found` for an unknown account.
    pub async fn rotate_link_key(&self, account: &str) -> Result<u32> {
        self.accounts.get(account)?;
        self.links
            .rotate(account, self.clock.now_ms())?
            .durable()
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::testing::{faulty_store, ok};

    const NOW: u64 = 1_700_000_000_000;

    fn links() -> (
        tempfile::TempDir,
        Arc<crate::storage::testing::FaultyBackend>,
        FollowerLinks,
    ) {
        let (dir, faulty, store) = faulty_store();
        (dir, faulty, FollowerLinks::new(store).unwrap())
    }

    fn req<'a>(account: &'a str, plugin: &'a str, path: &'a str) -> RouteRequest<'a> {
        RouteRequest {
            account,
            plugin,
            path,
        }
    }

    async fn token(l: &FollowerLinks, account: &str, path: &str, expires: u64) -> String {
        l.issue(account, "shop", "o-1", path, expires, NOW)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_token_verifies_for_its_account_plugin_and_path_until_its_expiry() {
        let (_d, _f, l) = links();
        let t = token(&l, "acme", "/member", NOW + 1000).await;
        let ok = l.verify(&t, req("acme", "shop", "/member"), NOW).unwrap();
        assert_eq!(
            ok,
            VerifiedFollower {
                openid: "o-1".into(),
                key_id: 1,
                expires_at_ms: NOW + 1000
            }
        );
        assert!(
            l.verify(&t, req("acme", "shop", "/member/card"), NOW)
                .is_ok()
        );
        // The exact boundary: valid at expiry - 1 ms, refused at expiry.
        assert!(
            l.verify(&t, req("acme", "shop", "/member"), NOW + 999)
                .is_ok()
        );
        let e = l
            .verify(&t, req("acme", "shop", "/member"), NOW + 1000)
            .unwrap_err();
        assert_eq!(e.code(), "unauthorized", "{e}");
        assert!(e.message().contains("expired"), "{e}");
        // Another path, plugin or account.
        let e = l
            .verify(&t, req("acme", "shop", "/admin"), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "permission_denied", "{e}");
        let e = l
            .verify(&t, req("acme", "poll", "/member"), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "permission_denied", "{e}");
        assert!(e.message().contains("plugin"), "{e}");
        let e = l
            .verify(&t, req("other", "shop", "/member"), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "permission_denied", "{e}");
        assert!(e.message().contains("account"), "{e}");
    }

    #[tokio::test]
    async fn accounts_have_their_own_keys() {
        let (_d, _f, l) = links();
        let a = token(&l, "acme", "/", NOW + 1000).await;
        token(&l, "other", "/", NOW + 1000).await;
        // Both accounts' first keys have id 1, but not the same secret: a token naming "other"
        // signed with acme's key does not verify on "other".
        let mut claims = Unverified::decode(&a).unwrap().claims;
        claims.account = "other".into();
        let acme_secret = l.keys.get(b"acme").unwrap().unwrap().keys[0]
            .secret()
            .unwrap();
        let forged = claims.sign(&acme_secret).unwrap();
        let e = l
            .verify(&forged, req("other", "shop", "/"), NOW)
            .unwrap_err();
        assert_eq!(e.code(), "unauthorized", "{e}");
        assert!(e.message().contains("signature"), "{e}");
    }

    /// `token` with its claims edited and its MAC kept.
    fn with_claims(token: &str, edit: fn(&mut Claims)) -> (String, Claims) {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims = Unverified::decode(token).unwrap().claims;
        edit(&mut claims);
        let mut raw = URL_SAFE_NO_PAD
            .decode(claims.sign(&[0; 32]).unwrap())
            .unwrap();
        let original = URL_SAFE_NO_PAD.decode(token).unwrap();
        let n = raw.len();
        raw[n - 32..].copy_from_slice(&original[original.len() - 32..]);
        (URL_SAFE_NO_PAD.encode(raw), claims)
    }

    #[tokio::test]
    async fn tampering_with_any_field_is_refused() {
        let (_d, _f, l) = links();
        let t = token(&l, "acme", "/member", NOW + 1000).await;
        token(&l, "acmf", "/member", NOW + 1000).await;
        type Edit = (&'static str, fn(&mut Claims));
        let edits: [Edit; 6] = [
            ("key id", |c| c.key_id += 1),
            ("expiry", |c| c.expires_at_ms += 1_000_000),
            ("account", |c| c.account = "acmf".into()),
            ("plugin", |c| c.plugin = "shoq".into()),
            ("openid", |c| c.openid = "o-2".into()),
            ("path", |c| c.path = "/".into()),
        ];
        for (what, edit) in edits {
            let (forged, c) = with_claims(&t, edit);
            let e = l
                .verify(&forged, req(&c.account, &c.plugin, "/member"), NOW)
                .unwrap_err();
            assert_eq!(e.code(), "unauthorized", "{what}: {e}");
        }
        // The unedited token still passes, so each refusal above is the edit's doing.
        assert!(l.verify(&t, req("acme", "shop", "/member"), NOW).is_ok());
    }

    #[tokio::test]
    async fn a_rotated_key_verifies_for_the_grace_period_then_not() {
        let (_d, _f, l) = links();
        let old = token(&l, "acme", "/", NOW + KEY_GRACE_MS).await;
        let new_id = ok(l.rotate("acme", NOW)).await.unwrap();
        assert_eq!(new_id, 2);
        assert_eq!(l.live_key_ids("acme", NOW).unwrap(), [1, 2]);
        // New links are signed with the new key.
        let new = token(&l, "acme", "/", NOW + 2 * KEY_GRACE_MS).await;
        assert_eq!(Unverified::decode(&new).unwrap().claims.key_id, 2);
        // The old key still verifies until the end of its grace (here also its token's expiry).
        let last = NOW + KEY_GRACE_MS - 1;
        assert!(l.verify(&old, req("acme", "shop", "/"), last).is_ok());
        let e = l
            .verify(&old, req("acme", "shop", "/"), NOW + KEY_GRACE_MS)
            .unwrap_err();
        assert_eq!(e.code(), "unauthorized", "{e}");
        assert!(e.message().contains("no longer valid"), "{e}");
        assert!(
            l.verify(&new, req("acme", "shop", "/"), NOW + KEY_GRACE_MS)
                .is_ok()
        );
        assert_eq!(l.live_key_ids("acme", NOW + KEY_GRACE_MS).unwrap(), [2]);
        // The next rotation drops the key past its grace.
        ok(l.rotate("acme", NOW + KEY_GRACE_MS)).await.unwrap();
        let ids: Vec<u32> = l
            .keys
            .get(b"acme")
            .unwrap()
            .unwrap()
            .keys
            .iter()
            .map(|k| k.id)
            .collect();
        assert_eq!(ids, [2, 3]);
    }

    #[tokio::test]
    async fn rotating_an_account_without_a_key_creates_its_first() {
        let (_d, _f, l) = links();
        assert_eq!(ok(l.rotate("acme", NOW)).await.unwrap(), 1);
        let t = token(&l, "acme", "/", NOW + 1).await;
        assert_eq!(Unverified::decode(&t).unwrap().claims.key_id, 1);
    }
}
