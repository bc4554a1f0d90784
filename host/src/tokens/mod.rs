//! Scoped API tokens (roles, accounts, IP allow-lists), account protection (locking out an
//! address that keeps presenting invalid tokens) and the security events both produce.
//!
//! A token is shown once, when it is created, and stored only as its SHA-256 digest: a stolen
//! data directory does not hand out working credentials. A presented token is hashed once, found
//! by its digest and compared in constant time. The bootstrap admin token (`api::auth`) stays an
//! admin beside these; which routes each role may call is decided in one place,
//! `api::authz`.

pub mod protection;
pub mod security;

use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::{PlazaError, Result};
use crate::platform::Clock;
use crate::storage::backend::{key, prefix};
use crate::storage::{Json, Pending, Store, Table};

pub use protection::SignInGuard;
pub use security::{SecurityEvent, SecurityLog};

/// Longest token name, in characters.
pub const MAX_NAME: usize = 64;
/// Entries one token's IP allow-list may hold.
pub const MAX_IP_ALLOW: usize = 64;
/// Accounts one token may name.
pub const MAX_ACCOUNTS: usize = 1000;
/// Addresses remembered per token for "sign-in from a new address" (the oldest is forgotten
/// beyond it, so a token used from ever-changing addresses cannot grow storage without bound).
pub const MAX_ADDRESSES_PER_TOKEN: usize = 256;

/// What a token may do; see `api::authz` for the routes each role reaches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Everything, like the bootstrap admin token.
    Admin,
    /// Everything under its accounts (`/accounts/{account}/…`), plus the account list and system
    /// status.
    Operator,
    /// Reads (`GET`) of its accounts (all accounts when its list is empty) and system status.
    Analyst,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Analyst => "analyst",
        }
    }
}

/// A token as listed: everything but the secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenInfo {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub accounts: Vec<String>,
    /// IPs and CIDR ranges, in canonical form; empty: any address.
    pub ip_allow: Vec<String>,
    pub created_at: u64,
}

impl TokenInfo {
    /// Whether this token may act on `account` at all (the role decides how).
    pub fn covers(&self, account: &str) -> bool {
        match self.role {
            Role::Admin => true,
            Role::Operator => self.accounts.iter().any(|a| a == account),
            Role::Analyst => self.accounts.is_empty() || self.accounts.iter().any(|a| a == account),
        }
    }

    /// Whether a request from `peer` may use this token. An allow-list with an unknown peer
    /// refuses: the restriction must not vanish when the address is missing.
    pub fn allows_address(&self, peer: Option<IpAddr>) -> bool {
        if self.ip_allow.is_empty() {
            return true;
        }
        let Some(ip) = peer else { return false };
        let nets: Vec<IpNet> = self
            .ip_allow
            .iter()
            .filter_map(|e| parse_ip_entry(e).ok())
            .collect();
        address_allowed(&nets, ip)
    }
}

/// The stored record: the listed part and the token's digest (hex).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredToken {
    #[serde(flatten)]
    info: TokenInfo,
    sha256: String,
}

/// `POST /api/v1/tokens`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
    pub role: Role,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub ip_allow: Vec<String>,
}

/// A token just created: its record and the secret, shown this once.
#[derive(Debug, Clone, Serialize)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub info: TokenInfo,
    pub token: String,
}

/// One allow-list entry: an IP (`10.1.2.3`, `::1`) or a CIDR range (`10.0.0.0/8`), as a network
/// (an IP is its own /32 or /128). Host bits of a range are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
pub fn parse_ip_entry(entry: &str) -> Result<IpNet> {
    let entry = entry.trim();
    if let Ok(net) = entry.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(PlazaError::invalid(format!(
        "ip_allow entry {entry:?} is neither an IP address nor a CIDR range (e.g. 10.0.0.0/8)"
    )))
}

/// Whether `ip` is inside one of `nets`. An IPv4 peer seen as an IPv4-mapped IPv6 address
/// (`::ffff:10.1.2.3`, a dual-stack listener) matches IPv4 ranges.
pub fn address_allowed(nets: &[IpNet], ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    nets.iter().any(|n| n.contains(&ip))
}

/// A token's name: 1-64 characters, no control characters, no surrounding spaces.
pub fn validate_name(name: &str) -> Result<()> {
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME || name.trim() != name || name.chars().any(char::is_control) {
        return Err(PlazaError::invalid(format!(
            "token name {name:?} must be 1-{MAX_NAME} characters without control characters or \
             surrounding spaces"
        )));
    }
    Ok(())
}

fn digest_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Tokens by id, and the digest index that finds one from a presented secret; plus the
/// addresses each token was used from.
pub struct TokenStore {
    store: Arc<Store>,
    tokens: Table<Json<StoredToken>>,
    by_digest: Table<Json<String>>,
    /// `(token id, address) → first seen (ms)`.
    addresses: Table<Json<u64>>,
    pub guard: SignInGuard,
    pub security: SecurityLog,
}

impl TokenStore {
    pub fn new(store: Arc<Store>, clock: Arc<dyn Clock>) -> Result<Self> {
        Ok(TokenStore {
            tokens: store.table("tokens")?,
            by_digest: store.table("tokens_by_digest")?,
            addresses: store.table("token_addresses")?,
            guard: SignInGuard::new(clock),
            security: SecurityLog::new(store.clone())?,
            store,
        })
    }

    /// Creates a token. `account_exists` checks each named account (the caller owns accounts).
    pub fn create(
        &self,
        new: NewToken,
        now: u64,
        account_exists: impl Fn(&str) -> Result<()>,
    ) -> Result<Pending<CreatedToken>> {
        validate_name(&new.name)?;
        if new.accounts.len() > MAX_ACCOUNTS {
            return Err(PlazaError::invalid(format!(
                "a token may name at most {MAX_ACCOUNTS} accounts"
            )));
        }
        let mut accounts = new.accounts.clone();
        accounts.sort();
        accounts.dedup();
        for a in &accounts {
            account_exists(a)?;
        }
        match new.role {
            Role::Operator if accounts.is_empty() => {
                return Err(PlazaError::invalid(
                    "an operator token needs its accounts: \"accounts\": [\"<account id>\", …]",
                ));
            }
            Role::Admin if !accounts.is_empty() => {
                return Err(PlazaError::invalid(
                    "an admin token reaches every account; leave \"accounts\" out",
                ));
            }
            _ => {}
        }
        if new.ip_allow.len() > MAX_IP_ALLOW {
            return Err(PlazaError::invalid(format!(
                "ip_allow holds at most {MAX_IP_ALLOW} entries"
            )));
        }
        let mut ip_allow = Vec::new();
        for e in &new.ip_allow {
            let net = parse_ip_entry(e)?.to_string();
            if !ip_allow.contains(&net) {
                ip_allow.push(net);
            }
        }
        let secret = format!("plt_{}", crate::accounts::random_token(24)?);
        let digest = hex::encode(digest_of(&secret));
        let info = TokenInfo {
            id: format!("tok_{}", crate::accounts::random_token(8)?),
            name: new.name,
            role: new.role,
            accounts,
            ip_allow,
            created_at: now,
        };
        let stored = StoredToken {
            info: info.clone(),
            sha256: digest.clone(),
        };
        let pending = self.store.write(|tx| {
            if !tx.insert_new(&self.tokens, info.id.as_bytes(), &stored)? {
                return Err(PlazaError::Conflict(format!(
                    "token id {} is taken",
                    info.id
                )));
            }
            tx.put(&self.by_digest, digest.as_bytes(), &info.id)
        })?;
        Ok(pending.map(|()| CreatedToken {
            info,
            token: secret,
        }))
    }

    /// Every token, by id (never the secrets).
    pub fn list(&self) -> Result<Vec<TokenInfo>> {
        Ok(self
            .tokens
            .values(&[])?
            .into_iter()
            .map(|t| t.info)
            .collect())
    }

    pub fn get(&self, id: &str) -> Result<TokenInfo> {
        self.tokens
            .get(id.as_bytes())?
            .map(|t| t.info)
            .ok_or_else(|| {
                PlazaError::not_found(format!("no token {id:?} (see GET /api/v1/tokens)"))
            })
    }

    /// Revokes a token: from the next request on, it is refused (401).
    pub fn revoke(&self, id: &str) -> Result<Pending<()>> {
        let stored = self.tokens.get(id.as_bytes())?.ok_or_else(|| {
            PlazaError::not_found(format!("no token {id:?} (see GET /api/v1/tokens)"))
        })?;
        let stale = self.addresses.keys(&prefix(&[id]), None, usize::MAX)?;
        self.store.write(|tx| {
            tx.delete(&self.tokens, id.as_bytes())?;
            tx.delete(&self.by_digest, stored.sha256.as_bytes())?;
            for k in &stale {
                tx.delete(&self.addresses, k)?;
            }
            Ok(())
        })
    }

    /// The token `presented` is, if any: found by its digest, then the digests compared in
    /// constant time (the index lookup finds the candidate; the comparison decides).
    pub fn authenticate(&self, presented: &str) -> Result<Option<TokenInfo>> {
        let digest = digest_of(presented);
        let Some(id) = self.by_digest.get(hex::encode(digest).as_bytes())? else {
            return Ok(None);
        };
        let Some(stored) = self.tokens.get(id.as_bytes())? else {
            return Ok(None);
        };
        let mut stored_digest = [0u8; 32];
        if hex::decode_to_slice(&stored.sha256, &mut stored_digest).is_err() {
            return Ok(None);
        }
        Ok(bool::from(stored_digest.ct_eq(&digest)).then_some(stored.info))
    }

    /// Records that `token` (a token id, or `bootstrap`) was used from `ip`; true the first time.
    /// Not awaited for durability: at worst a crash repeats one "new address" event.
    pub fn note_address(&self, token: &str, ip: IpAddr, now: u64) -> Result<bool> {
        let ip = ip.to_canonical().to_string();
        let k = key(&[token, &ip]);
        if self.addresses.contains(&k)? {
            return Ok(false);
        }
        let known = self.addresses.scan(&prefix(&[token]), None, usize::MAX)?;
        let oldest = (known.len() >= MAX_ADDRESSES_PER_TOKEN)
            .then(|| {
                known
                    .iter()
                    .min_by_key(|(_, at)| *at)
                    .map(|(k, _)| k.clone())
            })
            .flatten();
        self.store
            .write(|tx| {
                if let Some(o) = &oldest {
                    tx.delete(&self.addresses, o)?;
                }
                tx.insert_new(&self.addresses, &k, &now)
            })?
            .detach();
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::ManualClock;
    use crate::storage::testing::done;

    fn store() -> (tempfile::TempDir, TokenStore) {
        let (tmp, _faulty, s) = crate::storage::testing::faulty_store();
        (
            tmp,
            TokenStore::new(s, Arc::new(ManualClock::new(1_000))).unwrap(),
        )
    }

    fn new(name: &str, role: Role, accounts: &[&str], ip: &[&str]) -> NewToken {
        NewToken {
            name: name.into(),
            role,
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            ip_allow: ip.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn exists(a: &str) -> Result<()> {
        if a == "news" || a == "shop" {
            Ok(())
        } else {
            Err(PlazaError::not_found(format!("no account {a}")))
        }
    }

    #[test]
    fn a_token_is_found_by_its_secret_until_revoked() {
        let (_tmp, s) = store();
        let created = done(s.create(new("ci", Role::Operator, &["news"], &[]), 5, exists)).unwrap();
        assert!(created.token.starts_with("plt_"));
        let found = s.authenticate(&created.token).unwrap().unwrap();
        assert_eq!(found, created.info);
        assert_eq!(found.accounts, vec!["news".to_string()]);
        assert!(s.authenticate("plt_other").unwrap().is_none());
        assert!(
            s.authenticate(&created.token[..created.token.len() - 1])
                .unwrap()
                .is_none()
        );
        // The secret is stored only as its digest.
        let dump = crate::storage::testing::dump(&s.store);
        let secret = created.token.as_bytes();
        assert!(
            !dump
                .iter()
                .any(|(_, k, v)| k.windows(secret.len()).any(|w| w == secret)
                    || v.windows(secret.len()).any(|w| w == secret))
        );
        assert_eq!(s.list().unwrap(), vec![created.info.clone()]);
        done(s.revoke(&created.info.id)).unwrap();
        assert!(s.authenticate(&created.token).unwrap().is_none());
        assert!(s.list().unwrap().is_empty());
        assert!(matches!(
            s.revoke(&created.info.id),
            Err(PlazaError::NotFound(_))
        ));
    }

    #[test]
    fn creation_is_validated() {
        let (_tmp, s) = store();
        let invalid = |n: NewToken| {
            let e = s.create(n, 0, exists).err().unwrap();
            assert!(
                matches!(e, PlazaError::Invalid(_) | PlazaError::NotFound(_)),
                "{e:?}"
            );
        };
        invalid(new("", Role::Admin, &[], &[]));
        invalid(new(&"x".repeat(65), Role::Admin, &[], &[]));
        invalid(new(" x", Role::Admin, &[], &[]));
        invalid(new("op", Role::Operator, &[], &[]));
        invalid(new("op", Role::Operator, &["nope"], &[]));
        invalid(new("an", Role::Analyst, &["news"], &["10.0.0.0/33"]));
        invalid(new("an", Role::Analyst, &[], &["example.com"]));
        invalid(new("ad", Role::Admin, &["news"], &[]));
        let ok = done(s.create(
            new(
                &"x".repeat(64),
                Role::Analyst,
                &[],
                &["10.1.2.3/8", "::1", "10.0.0.0/8"],
            ),
            0,
            exists,
        ))
        .unwrap();
        assert_eq!(ok.info.ip_allow, vec!["10.0.0.0/8", "::1/128"]);
    }

    #[test]
    fn ip_entries_and_ranges_match() {
        let nets: Vec<IpNet> = ["10.0.0.0/8", "192.168.1.7", "2001:db8::/32"]
            .iter()
            .map(|e| parse_ip_entry(e).unwrap())
            .collect();
        let ok = |s: &str| address_allowed(&nets, s.parse().unwrap());
        assert!(ok("10.255.0.1"));
        assert!(ok("192.168.1.7"));
        assert!(!ok("192.168.1.8"));
        assert!(!ok("11.0.0.1"));
        assert!(!ok("127.0.0.1"));
        assert!(ok("2001:db8::5"));
        assert!(!ok("2001:db9::5"));
        // A dual-stack listener reports IPv4 peers as mapped IPv6 addresses.
        assert!(ok("::ffff:10.0.0.1"));
        let info = TokenInfo {
            id: "t".into(),
            name: "t".into(),
            role: Role::Analyst,
            accounts: vec![],
            ip_allow: vec!["10.0.0.0/8".into()],
            created_at: 0,
        };
        assert!(info.allows_address(Some("10.1.1.1".parse().unwrap())));
        assert!(!info.allows_address(Some("127.0.0.1".parse().unwrap())));
        assert!(!info.allows_address(None), "an unknown peer is refused");
    }

    #[test]
    fn roles_cover_their_accounts() {
        let t = |role, accounts: &[&str]| TokenInfo {
            id: "t".into(),
            name: "t".into(),
            role,
            accounts: accounts.iter().map(|s| s.to_string()).collect(),
            ip_allow: vec![],
            created_at: 0,
        };
        assert!(t(Role::Operator, &["news"]).covers("news"));
        assert!(!t(Role::Operator, &["news"]).covers("shop"));
        assert!(
            t(Role::Analyst, &[]).covers("shop"),
            "empty list: every account"
        );
        assert!(!t(Role::Analyst, &["news"]).covers("shop"));
        assert!(t(Role::Admin, &[]).covers("shop"));
    }

    #[test]
    fn a_new_address_is_noticed_once() {
        let (_tmp, s) = store();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(s.note_address("tok_a", ip, 1).unwrap());
        assert!(!s.note_address("tok_a", ip, 2).unwrap());
        assert!(s.note_address("tok_b", ip, 2).unwrap());
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(!s.note_address("tok_a", mapped, 3).unwrap());
    }
}
