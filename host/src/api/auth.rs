//! Bearer-token authentication for the admin API.
//!
//! The admin token comes from `PLAZA_ADMIN_TOKEN` or is generated on first start, stored in the data
//! directory (mode 0600) and printed once. Channels may instead present an account's ingress key,
//! which only opens that account's inbound endpoint.

use std::path::Path;

use axum::http::HeaderMap;

use crate::accounts::{Account, random_token};
use crate::error::{PlazaError, Result};

pub const TOKEN_FILE: &str = "admin-token";

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
    crate::plugins::registry::write_durably(&path, token.as_bytes())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok((token, true))
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// Compares secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
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

/// The admin token, or this account's ingress key (as a bearer token or `X-Plaza-Ingress-Key`).
pub fn require_ingress(headers: &HeaderMap, admin_token: &str, account: &Account) -> Result<()> {
    let presented = bearer(headers).or_else(|| headers.get("x-plaza-ingress-key")?.to_str().ok());
    match presented {
        None => Err(PlazaError::Unauthorized(
            "missing admin token or account ingress key".into(),
        )),
        Some(t)
            if same_secret(t, admin_token)
                || (!account.ingress_key_sha256.is_empty()
                    && same_secret(
                        &crate::accounts::secret_digest(t),
                        &account.ingress_key_sha256,
                    )) =>
        {
            Ok(())
        }
        Some(_) => Err(PlazaError::Unauthorized(
            "token is neither the admin token nor this account's ingress key".into(),
        )),
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
