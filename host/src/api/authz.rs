//! Who may call which `/api/v1` route: one middleware ([`authorize`]) in front of every admin
//! route, deciding from a table of rules ([`RULES`]) keyed by method and route template.
//!
//! - **admin** (the bootstrap token, or a token with role `admin`): everything.
//! - **operator**: every method on `/accounts/{account}/…` for the accounts in its list, plus
//!   `GET /accounts` (answered with its accounts only) and `GET /system`.
//! - **analyst**: `GET` on `/accounts/{account}/…` for its accounts (an empty list: every
//!   account), `GET /accounts` (filtered the same way) and `GET /system`.
//! - everything else (plugins, tokens, backups, system problems, security events, creating
//!   accounts): admin only.
//!
//! A route without a rule is admin only (fail closed), and the authorization-matrix test fails
//! until it gets one. Before any rule, the middleware applies account protection: an address
//! locked out after repeated invalid tokens gets 429 with `Retry-After`, whatever it presents.

use std::net::{IpAddr, SocketAddr};

use axum::RequestExt;
use axum::extract::{ConnectInfo, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::auth::bearer;
use super::error::ApiError;
use crate::error::PlazaError;
use crate::tokens::protection::{Failure, retry_after_secs};
use crate::tokens::{Role, SecurityEvent, TokenInfo};

/// What a route requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// Admins only.
    Admin,
    /// One account's route (`{account}` in the path): operators of it (any method), analysts
    /// of it (`GET` only), admins.
    Account,
    /// `GET /accounts`: every role; the handler lists only the accounts the caller covers.
    AccountList,
    /// Read-only system status: every role.
    Anyone,
    /// The route checks its own credentials (the inbound endpoint: admin token or the
    /// account's ingress key); the middleware does not run for it.
    OwnCheck,
}

/// The rule of every `/api/v1` route, by method and template (relative to `/api/v1`).
pub const RULES: &[(&str, &str, Rule)] = &[
    ("GET", "/system", Rule::Anyone),
    ("DELETE", "/system/problems/{id}", Rule::Admin),
    ("GET", "/system/backups", Rule::Admin),
    ("POST", "/system/backups", Rule::Admin),
    ("GET", "/security/events", Rule::Admin),
    ("GET", "/tokens", Rule::Admin),
    ("POST", "/tokens", Rule::Admin),
    ("DELETE", "/tokens/{id}", Rule::Admin),
    ("GET", "/plugins", Rule::Admin),
    ("POST", "/plugins", Rule::Admin),
    ("GET", "/plugins/{name}", Rule::Admin),
    ("GET", "/accounts", Rule::AccountList),
    ("POST", "/accounts", Rule::Admin),
    ("POST", "/accounts/{account}/inbound", Rule::OwnCheck),
];

/// The rule for `method` on `template`, if the table has one.
pub fn rule_for(method: &Method, template: &str) -> Option<Rule> {
    RULES
        .iter()
        .find(|(m, t, _)| *m == method.as_str() && *t == template)
        .map(|(_, _, r)| *r)
}

/// Who is calling, once authenticated. Handlers that filter by it (`GET /accounts`) read it from
/// the request's extensions.
#[derive(Debug, Clone)]
pub enum Principal {
    /// The bootstrap admin token.
    Bootstrap,
    Token(TokenInfo),
}

impl Principal {
    pub fn role(&self) -> Role {
        match self {
            Principal::Bootstrap => Role::Admin,
            Principal::Token(t) => t.role,
        }
    }

    /// Whether the caller may see `account` at all.
    pub fn covers(&self, account: &str) -> bool {
        match self {
            Principal::Bootstrap => true,
            Principal::Token(t) => t.covers(account),
        }
    }

    fn id(&self) -> &str {
        match self {
            Principal::Bootstrap => "bootstrap",
            Principal::Token(t) => &t.id,
        }
    }

    fn name(&self) -> Option<String> {
        match self {
            Principal::Bootstrap => None,
            Principal::Token(t) => Some(t.name.clone()),
        }
    }

    /// The accounts whose event logs hear about this caller's security events.
    fn accounts(&self) -> &[String] {
        match self {
            Principal::Bootstrap => &[],
            Principal::Token(t) => &t.accounts,
        }
    }

    /// Whether this caller may call a route with `rule` by `method` (on `account`, for account
    /// routes); the refusal names the role and what it may do.
    pub fn may(&self, rule: Rule, method: &Method, account: Option<&str>) -> Result<(), PlazaError> {
        let role = self.role();
        let allowed = match (role, rule) {
            (Role::Admin, _) | (_, Rule::Anyone | Rule::AccountList | Rule::OwnCheck) => true,
            (_, Rule::Admin) => false,
            (Role::Operator, Rule::Account) => account.is_some_and(|a| self.covers(a)),
            (Role::Analyst, Rule::Account) => {
                *method == Method::GET && account.is_some_and(|a| self.covers(a))
            }
        };
        if allowed {
            return Ok(());
        }
        let scope = match self {
            Principal::Token(t) if t.accounts.is_empty() => "every account".to_string(),
            Principal::Token(t) => format!("accounts {}", t.accounts.join(", ")),
            Principal::Bootstrap => "every account".to_string(),
        };
        let may = match role {
            Role::Admin => "everything".to_string(),
            Role::Operator => format!(
                "every /api/v1/accounts/{{account}}/… route of {scope}, GET /api/v1/accounts \
                 and GET /api/v1/system"
            ),
            Role::Analyst => format!(
                "GET on /api/v1/accounts/{{account}}/… routes of {scope}, GET /api/v1/accounts \
                 and GET /api/v1/system"
            ),
        };
        Err(PlazaError::PermissionDenied(format!(
            "a token with role {} may only call {may}",
            role.as_str()
        )))
    }
}

/// The peer's address, when the server was started with connect info (router tests are not).
fn peer_of(request: &Request) -> Option<IpAddr> {
    request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_canonical())
}

/// Authenticates `headers`' bearer token: the bootstrap admin token or a stored token. `None`
/// when absent or invalid. Used by plugin routes to decide whether the caller is an operator.
pub fn principal_of(
    state: &AppState,
    headers: &axum::http::HeaderMap,
) -> Result<Option<Principal>, PlazaError> {
    let Some(presented) = bearer(headers) else {
        return Ok(None);
    };
    if state.admin_token.matches(presented) {
        return Ok(Some(Principal::Bootstrap));
    }
    Ok(state
        .platform
        .tokens
        .authenticate(presented)?
        .map(Principal::Token))
}

/// Whether the caller is an operator of `account` (admin, or an operator token covering it, used
/// from an allowed address): plugin routes tell the plugin so.
pub fn is_operator_of(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    peer: Option<IpAddr>,
    account: &str,
) -> bool {
    match principal_of(state, headers) {
        Ok(Some(Principal::Bootstrap)) => true,
        Ok(Some(Principal::Token(t))) => {
            matches!(t.role, Role::Admin | Role::Operator)
                && t.covers(account)
                && t.allows_address(peer)
        }
        _ => false,
    }
}

/// Records a security event, and for account-scoped tokens puts it in each account's event log
/// as `security.<kind>`. Logging failures are reported, never turned into the request's answer.
fn security_event(
    state: &AppState,
    kind: &str,
    peer: Option<IpAddr>,
    who: Option<&Principal>,
    retry_after: Option<u64>,
) {
    let platform = &state.platform;
    let now = platform.clock.now_ms();
    let event = SecurityEvent {
        id: platform.ids.next(""),
        at: now,
        kind: kind.to_string(),
        address: peer.map(|p| p.to_string()),
        token: who.map(|w| w.id().to_string()),
        token_name: who.and_then(Principal::name),
        retry_after,
    };
    tracing::warn!(kind, address = ?event.address, token = ?event.token, "security event");
    if let Err(e) = platform.tokens.security.record(&event) {
        tracing::warn!(error = %e, "could not record a security event");
    }
    let mut props = Vec::new();
    if let Some(a) = &event.address {
        props.push(("address".to_string(), a.clone()));
    }
    if let Some(t) = &event.token {
        props.push(("token".to_string(), t.clone()));
    }
    if let Some(n) = &event.token_name {
        props.push(("token_name".to_string(), n.clone()));
    }
    for account in who.map(Principal::accounts).unwrap_or_default() {
        match platform.events.emit(
            account,
            "security",
            now,
            &format!("security.{kind}"),
            None,
            props.clone(),
        ) {
            Ok(p) => {
                p.detach();
            }
            Err(e) => tracing::warn!(account, error = %e, "could not log a security event"),
        }
    }
}

fn refuse(e: PlazaError) -> Response {
    ApiError(e).into_response()
}

/// The middleware in front of every `/api/v1` route (except those whose rule is
/// [`Rule::OwnCheck`], registered outside it): lock-out, authentication, IP allow-list, new
/// address, then the route's rule.
pub async fn authorize(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = peer_of(&request);
    let tokens = &state.platform.tokens;
    if let Some(ip) = peer
        && let Some(ms) = tokens.guard.locked_for(ip)
    {
        let secs = retry_after_secs(ms);
        let mut response = refuse(PlazaError::QuotaExceeded {
            message: format!(
                "too many invalid tokens from {ip}; try again in {secs} s (account protection)"
            ),
            resets_at: Some(state.platform.clock.now_ms() + ms),
        });
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        return response;
    }
    let principal = match principal_of(&state, request.headers()) {
        Err(e) => return refuse(e),
        Ok(Some(p)) => p,
        Ok(None) => {
            let missing = bearer(request.headers()).is_none();
            if !missing
                && let Some(ip) = peer
                && let Failure::LockedOut { retry_after_ms } = tokens.guard.fail(ip)
            {
                security_event(
                    &state,
                    "lockout",
                    peer,
                    None,
                    Some(retry_after_secs(retry_after_ms)),
                );
            }
            return refuse(PlazaError::Unauthorized(if missing {
                "missing bearer token (Authorization: Bearer <token>)".into()
            } else {
                "invalid bearer token".into()
            }));
        }
    };
    if let Principal::Token(t) = &principal
        && !t.allows_address(peer)
    {
        security_event(&state, "ip_refused", peer, Some(&principal), None);
        let from = peer.map_or("an unknown address".to_string(), |p| p.to_string());
        return refuse(PlazaError::PermissionDenied(format!(
            "token {} may not be used from {from} (its ip_allow: {})",
            t.id,
            t.ip_allow.join(", ")
        )));
    }
    if let Some(ip) = peer {
        match tokens.note_address(principal.id(), ip, state.platform.clock.now_ms()) {
            Ok(true) => security_event(&state, "new_address", peer, Some(&principal), None),
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "could not record a token's address"),
        }
    }
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let template = template.strip_prefix("/api/v1").unwrap_or(&template);
    let rule = rule_for(request.method(), template).unwrap_or(Rule::Admin);
    let account = match request.extract_parts::<RawPathParams>().await {
        Ok(params) => params
            .iter()
            .find(|(name, _)| *name == "account")
            .map(|(_, v)| v.to_string()),
        Err(_) => None,
    };
    if let Err(e) = principal.may(rule, request.method(), account.as_deref()) {
        return refuse(e);
    }
    request.extensions_mut().insert(principal);
    next.run(request).await
}
