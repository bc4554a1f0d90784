//! Bearer-token authentication for the admin API.
//!
//! The admin token comes from `PLAZA_ADMIN_TOKEN` or is generated on first start, stored in the data
//! directory (mode 0600) and printed once. Channels may instead present an account's ingress key,
//! which only opens that account's inbound endpoint.

use std::path::Path;

use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::accounts::{Account, random_token};
use crate::error::{PlazaError, Result};

pub const TOKEN_FILE: &str = "admin-token";

/// The one refusal of the inbound endpoint, whatever was wrong (no token, a wrong one, an unknown
/// account): a caller without a valid credential learns nothing about which accounts exist.
pub const INGRESS_REFUSED: &str = "missing or invalid admin token or ingress key";

/// The admin token, and whether it was generated just now (so the caller prints it once).
pub fn load_or_create_admin_token(
    data_dir: &Path,
    from_env: Option<String>,
) -> Result<(String, bool)> {
    if let Some(t) = from_env.filter(|t| !t.is_empty()) {
        return Ok((t, false));
    }
    let path = data_dir.join(TOKEN_FILE);
    if let Ok(t) = std::fs::read_to_string(&path) {
        let t = t.trim().to_string();
        if !t.is_empty() {
            return Ok((t, false));
        }
    }
    let token = format!("plz_{}", random_token(24)?);
    crate::storage::owner_only::create_dir(data_dir)
        .map_err(|e| PlazaError::Unavailable(e.to_string()))?;
    // Created owner-only from the first byte (see `write_durably`): never readable by others,
    // not even between creation and a later chmod.
    crate::plugins::registry::write_durably(&path, token.as_bytes())?;
    Ok((token, true))
}

/// The token of an `Authorization: Bearer <token>` header. The scheme is case-insensitive
/// (RFC 9110 §11.1), so `bearer abc` is accepted too.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once([' ', '\t'])?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// The admin token, kept as its SHA-256 digest: a presented token is hashed once and compared in
/// constant time (independent of contents and length), without hashing the token itself again
/// on every request.
pub struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    pub fn new(token: &str) -> Self {
        AdminToken {
            digest: Sha256::digest(token.as_bytes()).into(),
        }
    }

    pub fn matches(&self, presented: &str) -> bool {
        self.matches_digest(&Sha256::digest(presented.as_bytes()).into())
    }

    fn matches_digest(&self, presented: &[u8; 32]) -> bool {
        presented.ct_eq(&self.digest).into()
    }
}

/// Whether `presented` (as its SHA-256 digest) is this account's ingress key: the one place that
/// knows how ingress keys are stored (as hex SHA-256 digests, never in clear). The comparison runs
/// whether or not the account exists, so the answer takes as long either way.
fn ingress_key_matches(presented: &[u8; 32], account: Option<&Account>) -> bool {
    let mut stored = [0u8; 32];
    let known = account
        .and_then(|a| hex::decode_to_slice(&a.ingress_key_sha256, &mut stored).ok())
        .is_some();
    known & bool::from(presented.ct_eq(&stored))
}

pub fn is_admin(headers: &HeaderMap, admin_token: &AdminToken) -> bool {
    bearer(headers).is_some_and(|t| admin_token.matches(t))
}

/// The admin token, or the ingress key of `account` (as a bearer token or `X-Plaza-Ingress-Key`).
/// `account` is `None` when no such account exists: then only the admin token passes, and the
/// refusal reads exactly as it does for an existing account.
pub fn require_ingress(
    headers: &HeaderMap,
    admin_token: &AdminToken,
    account: Option<&Account>,
) -> Result<()> {
    let presented = bearer(headers).or_else(|| headers.get("x-plaza-ingress-key")?.to_str().ok());
    let allowed = presented.is_some_and(|t| {
        let digest: [u8; 32] = Sha256::digest(t.as_bytes()).into();
        // Both comparisons always run, so the answer takes as long for every account.
        let admin = admin_token.matches_digest(&digest);
        let ingress = ingress_key_matches(&digest, account);
        admin | ingress
    });
    if allowed {
        Ok(())
    } else {
        Err(PlazaError::Unauthorized(INGRESS_REFUSED.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            axum::http::header::AUTHORIZATION,
            HeaderValue::from_str(value).unwrap(),
        );
        h
    }

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in ["Bearer abc", "bearer abc", "BEARER  abc ", "bEaReR\tabc"] {
            assert_eq!(bearer(&with_auth(v)), Some("abc"), "{v:?}");
        }
        for v in ["Basic abc", "Bearer", "Bearer   ", "Bearerabc", "abc"] {
            assert_eq!(bearer(&with_auth(v)), None, "{v:?}");
        }
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        let admin = AdminToken::new("plz_abc");
        assert!(admin.matches("plz_abc"));
        assert!(!admin.matches("plz_abd"));
        assert!(!admin.matches("plz_ab"));
        assert!(!admin.matches(""));
        assert!(AdminToken::new("").matches(""));
        // Ingress keys compare as digests; no account, or an account without a key, never matches.
        let key = "ik_secret";
        let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
        let mut account = crate::accounts::Account {
            id: "a".into(),
            name: "a".into(),
            kind: crate::accounts::AccountKind::Service,
            verified: true,
            timezone: "UTC".into(),
            created_at: 0,
            ingress_key_sha256: crate::accounts::secret_digest(key),
            legacy_ingress_key: None,
        };
        assert!(ingress_key_matches(&digest, Some(&account)));
        assert!(!ingress_key_matches(
            &Sha256::digest(b"ik_other").into(),
            Some(&account)
        ));
        assert!(!ingress_key_matches(&digest, None));
        account.ingress_key_sha256.clear();
        assert!(!ingress_key_matches(&digest, Some(&account)));
    }

    #[cfg(unix)]
    #[test]
    fn a_generated_admin_token_file_is_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("data");
        let (token, created) = load_or_create_admin_token(&dir, None).unwrap();
        assert!(created);
        let path = dir.join(TOKEN_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), token);
        // The second start reads it back instead of making a new one.
        let (again, created) = load_or_create_admin_token(&dir, None).unwrap();
        assert_eq!((again, created), (token, false));
    }
}
