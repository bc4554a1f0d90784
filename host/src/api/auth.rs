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
    std::fs::create_dir_all(data_dir).map_err(|e| PlazaError::Unavailable(e.to_string()))?;
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

/// Compares secrets in time independent of their contents and of their lengths: both sides are
/// hashed to fixed-size digests first, and the digests are compared in constant time.
pub fn same_secret(presented: &str, expected: &str) -> bool {
    let presented = Sha256::digest(presented.as_bytes());
    let expected = Sha256::digest(expected.as_bytes());
    presented.as_slice().ct_eq(expected.as_slice()).into()
}

/// Whether `presented` is this account's ingress key: the one place that knows how ingress keys
/// are stored (as SHA-256 digests, never in clear).
pub fn ingress_key_matches(presented: &str, account: Option<&Account>) -> bool {
    // Keys are stored as SHA-256 digests; the digest is computed (and compared) whether or not
    // the account exists, so the answer takes as long either way.
    let digest = crate::accounts::secret_digest(presented);
    let stored = account.map(|a| a.ingress_key_sha256.as_str()).unwrap_or("");
    !stored.is_empty() & same_secret(&digest, stored)
}

pub fn is_admin(headers: &HeaderMap, admin_token: &str) -> bool {
    bearer(headers).is_some_and(|t| same_secret(t, admin_token))
}

pub fn require_admin(headers: &HeaderMap, admin_token: &str) -> Result<()> {
    match bearer(headers) {
        None => Err(PlazaError::Unauthorized(
            "missing bearer token (Authorization: Bearer <token>)".into(),
        )),
        Some(t) if same_secret(t, admin_token) => Ok(()),
        Some(_) => Err(PlazaError::Unauthorized("invalid bearer token".into())),
    }
}

/// The admin token, or the ingress key of `account` (as a bearer token or `X-Plaza-Ingress-Key`).
/// `account` is `None` when no such account exists: then only the admin token passes, and the
/// refusal reads exactly as it does for an existing account.
pub fn require_ingress(
    headers: &HeaderMap,
    admin_token: &str,
    account: Option<&Account>,
) -> Result<()> {
    let presented = bearer(headers).or_else(|| headers.get("x-plaza-ingress-key")?.to_str().ok());
    let allowed = presented.is_some_and(|t| {
        // Both comparisons always run, so the answer takes as long for every account.
        let admin = same_secret(t, admin_token);
        let ingress = ingress_key_matches(t, account);
        admin | ingress
    });
    if allowed {
        Ok(())
    } else {
        Err(PlazaError::Unauthorized(INGRESS_REFUSED.into()))
    }
}

/// Middleware for every admin route: the admin token or a typed 401, before any handler runs, so
/// no handler can forget the check.
pub async fn admin_only(
    axum::extract::State(state): axum::extract::State<super::AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match require_admin(request.headers(), &state.admin_token) {
        Ok(()) => next.run(request).await,
        Err(e) => super::error::ApiError(e).into_response(),
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
        assert!(same_secret("plz_abc", "plz_abc"));
        assert!(!same_secret("plz_abc", "plz_abd"));
        assert!(!same_secret("plz_ab", "plz_abc"));
        assert!(!same_secret("", "plz_abc"));
        assert!(same_secret("", ""));
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
