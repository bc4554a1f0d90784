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
    ("GET", "/audit", Rule::Admin),
    ("GET", "/accounts/{account}/audit", Rule::Account),
    ("POST", "/tokens", Rule::Admin),
    ("DELETE", "/tokens/{id}", Rule::Admin),
    ("GET", "/plugins", Rule::Admin),
    ("POST", "/plugins", Rule::Admin),
    ("GET", "/plugins/{name}", Rule::Admin),
    ("GET", "/accounts", Rule::AccountList),
    ("POST", "/accounts", Rule::Admin),
    ("POST", "/accounts/{account}/inbound", Rule::OwnCheck),
    // One account's routes. Setting an account's media quota is the host's decision, not the
    // account's operators'.
    ("GET", "/accounts/{account}", Rule::Account),
    ("POST", "/accounts/{account}/api-credentials", Rule::Account),
    ("GET", "/accounts/{account}/broadcasts", Rule::Account),
    ("POST", "/accounts/{account}/broadcasts", Rule::Account),
    (
        "GET",
        "/accounts/{account}/broadcasts/preview",
        Rule::Account,
    ),
    ("GET", "/accounts/{account}/broadcasts/{id}", Rule::Account),
    (
        "GET",
        "/accounts/{account}/broadcasts/{id}/recipients",
        Rule::Account,
    ),
    ("GET", "/accounts/{account}/dead-letters", Rule::Account),
    (
        "POST",
        "/accounts/{account}/dead-letters/replay",
        Rule::Account,
    ),
    (
        "DELETE",
        "/accounts/{account}/dead-letters/{id}",
        Rule::Account,
    ),
    (
        "GET",
        "/accounts/{account}/dead-letters/{id}",
        Rule::Account,
    ),
    (
        "POST",
        "/accounts/{account}/dead-letters/{id}/replay",
        Rule::Account,
    ),
    (
        "DELETE",
        "/accounts/{account}/developer-server",
        Rule::Account,
    ),
    ("GET", "/accounts/{account}/developer-server", Rule::Account),
    ("PUT", "/accounts/{account}/developer-server", Rule::Account),
    ("GET", "/accounts/{account}/events", Rule::Account),
    ("GET", "/accounts/{account}/events/daily", Rule::Account),
    ("GET", "/accounts/{account}/events/retention", Rule::Account),
    ("PUT", "/accounts/{account}/events/retention", Rule::Account),
    ("GET", "/accounts/{account}/followers", Rule::Account),
    ("GET", "/accounts/{account}/followers/stats", Rule::Account),
    (
        "GET",
        "/accounts/{account}/followers/{openid}",
        Rule::Account,
    ),
    (
        "PATCH",
        "/accounts/{account}/followers/{openid}",
        Rule::Account,
    ),
    (
        "GET",
        "/accounts/{account}/followers/{openid}/menu",
        Rule::Account,
    ),
    (
        "GET",
        "/accounts/{account}/followers/{openid}/messages",
        Rule::Account,
    ),
    (
        "GET",
        "/accounts/{account}/followers/{openid}/messages/stream",
        Rule::Account,
    ),
    ("POST", "/accounts/{account}/ingress-key", Rule::Account),
    ("GET", "/accounts/{account}/installations", Rule::Account),
    ("POST", "/accounts/{account}/installations", Rule::Account),
    (
        "DELETE",
        "/accounts/{account}/installations/{plugin}",
        Rule::Account,
    ),
    (
        "GET",
        "/accounts/{account}/installations/{plugin}",
        Rule::Account,
    ),
    (
        "PATCH",
        "/accounts/{account}/installations/{plugin}",
        Rule::Account,
    ),
    (
        "GET",
        "/accounts/{account}/installations/{plugin}/errors",
        Rule::Account,
    ),
    ("POST", "/accounts/{account}/link-key/rotate", Rule::Account),
    ("GET", "/accounts/{account}/media", Rule::Account),
    ("POST", "/accounts/{account}/media", Rule::Account),
    ("GET", "/accounts/{account}/media/quota", Rule::Account),
    ("PUT", "/accounts/{account}/media/quota", Rule::Admin),
    (
        "DELETE",
        "/accounts/{account}/media/{media_id}",
        Rule::Account,
    ),
    ("GET", "/accounts/{account}/media/{media_id}", Rule::Account),
    ("DELETE", "/accounts/{account}/menu", Rule::Account),
    ("GET", "/accounts/{account}/menu", Rule::Account),
    ("PUT", "/accounts/{account}/menu", Rule::Account),
    (
        "POST",
        "/accounts/{account}/menu/conditional",
        Rule::Account,
    ),
    (
        "DELETE",
        "/accounts/{account}/menu/conditional/{menuid}",
        Rule::Account,
    ),
    ("GET", "/accounts/{account}/menu/stats", Rule::Account),
    ("GET", "/accounts/{account}/reviews", Rule::Account),
    ("GET", "/accounts/{account}/tags", Rule::Account),
    ("POST", "/accounts/{account}/tags", Rule::Account),
    ("DELETE", "/accounts/{account}/tags/{tag}", Rule::Account),
    ("PATCH", "/accounts/{account}/tags/{tag}", Rule::Account),
    ("POST", "/accounts/{account}/tags/{tag}/tag", Rule::Account),
    (
        "POST",
        "/accounts/{account}/tags/{tag}/untag",
        Rule::Account,
    ),
    ("GET", "/accounts/{account}/templates", Rule::Account),
    ("POST", "/accounts/{account}/templates", Rule::Account),
    (
        "DELETE",
        "/accounts/{account}/templates/{id}",
        Rule::Account,
    ),
    ("GET", "/accounts/{account}/templates/{id}", Rule::Account),
    ("PATCH", "/accounts/{account}/templates/{id}", Rule::Account),
    (
        "POST",
        "/accounts/{account}/templates/{id}/preview",
        Rule::Account,
    ),
    ("GET", "/accounts/{account}/topic-deliveries", Rule::Account),
    ("DELETE", "/accounts/{account}/wechat", Rule::Account),
    ("GET", "/accounts/{account}/wechat", Rule::Account),
    ("PUT", "/accounts/{account}/wechat", Rule::Account),
    ("GET", "/accounts/{account}/wechat/outbound", Rule::Account),
    ("POST", "/accounts/{account}/wechat/sync", Rule::Account),
    ("POST", "/accounts/{account}/menu/publish", Rule::Account),
    (
        "GET",
        "/accounts/{account}/service/conversations",
        Rule::Account,
    ),
    (
        "POST",
        "/accounts/{account}/service/conversations/{openid}/messages",
        Rule::Account,
    ),
    (
        "POST",
        "/accounts/{account}/service/conversations/{openid}/close",
        Rule::Account,
    ),
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
    pub fn may(
        &self,
        rule: Rule,
        method: &Method,
        account: Option<&str>,
    ) -> Result<(), PlazaError> {
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

/// Who the operator of [`is_operator_of`] is, as plugins are told in the `x-plaza-operator`
/// header of `on-http` (so that e.g. membership records who adjusted points): the token's name
/// (its id when unnamed), or `admin` for the bootstrap admin token. `None` without a token.
pub fn operator_name_of(state: &AppState, headers: &axum::http::HeaderMap) -> Option<String> {
    match principal_of(state, headers) {
        Ok(Some(Principal::Bootstrap)) => Some("admin".into()),
        Ok(Some(Principal::Token(t))) if t.name.trim().is_empty() => Some(t.id.clone()),
        Ok(Some(Principal::Token(t))) => Some(t.name.clone()),
        _ => None,
    }
}

/// Tells the operator of a security event with a customer-service message (`plaza serve
/// --security-alerts-to`). A refusal (the 48 h window has closed, the follower left) is logged:
/// the event itself is recorded either way.
async fn alert(
    platform: std::sync::Arc<crate::platform::Platform>,
    target: crate::platform::AlertTarget,
    event: SecurityEvent,
) {
    let what = match event.kind.as_str() {
        "new_address" => "sign-in from an address never seen for this token",
        "lockout" => "address locked out after repeated failed sign-ins",
        "ip_refused" => "request refused by the token's IP allow-list",
        other => other,
    };
    let mut text = format!("Plaza security: {what}");
    if let Some(a) = &event.address {
        text.push_str(&format!("; address {a}"));
    }
    if let Some(n) = event.token_name.as_ref().or(event.token.as_ref()) {
        text.push_str(&format!("; token {n}"));
    }
    let content = crate::messaging::content::MessageContent::Text { content: text };
    if let Err(e) = platform
        .send_customer_service(
            &target.account,
            &target.openid,
            Some(ALERT_SOURCE),
            content,
            None,
        )
        .await
    {
        tracing::warn!(account = %target.account, openid = %target.openid, error = %e, "could not send a security alert");
    }
}

/// The sender named on security alerts in the follower's outbox.
pub const ALERT_SOURCE: &str = "plaza-security";

/// Records a security event, and for account-scoped tokens puts it in each account's event log
/// as `security.<kind>`. Logging failures are reported, never turned into the request's answer.
async fn security_event(
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
    // Awaited, not spawned: the answer to the request that caused the event leaves once the
    // operator's alert is durable in the outbox, so a server stopped right after loses none.
    if let Some(target) = platform.security_alerts.clone() {
        alert(platform.clone(), target, event.clone()).await;
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
                )
                .await;
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
        security_event(&state, "ip_refused", peer, Some(&principal), None).await;
        let from = peer.map_or("an unknown address".to_string(), |p| p.to_string());
        return refuse(PlazaError::PermissionDenied(format!(
            "token {} may not be used from {from} (its ip_allow: {})",
            t.id,
            t.ip_allow.join(", ")
        )));
    }
    if let Some(ip) = peer {
        match tokens.note_address(principal.id(), ip, state.platform.clock.now_ms()) {
            Ok(true) => {
                security_event(&state, "new_address", peer, Some(&principal), None).await;
            }
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

#[cfg(test)]
mod tests {
    //! The authorization matrix over the real router: every `/api/v1` route (as registered, see
    //! `api::route_paths`; methods from the router's own `Allow` answers) must have a rule, and
    //! each role gets exactly what its rule says.

    use std::collections::BTreeSet;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::StatusCode;
    use tower::ServiceExt;

    use super::*;
    use crate::accounts::{AccountKind, NewAccount};
    use crate::api::auth::AdminToken;
    use crate::platform::{Clock, ManualClock, Platform, PlatformOptions};
    use crate::tokens::NewToken;
    use crate::tokens::protection::{MAX_FAILURES, WINDOW_MS};

    const ADMIN: &str = "plz_bootstrap_admin";

    struct Fixture {
        _tmp: tempfile::TempDir,
        platform: Arc<Platform>,
        clock: Arc<ManualClock>,
        router: axum::Router,
    }

    async fn fixture() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let mut opts = PlatformOptions::new(tmp.path().join("data"));
        opts.clock = clock.clone();
        let platform = Platform::open(opts).unwrap();
        for id in ["a1", "a2"] {
            platform
                .accounts
                .create(
                    NewAccount {
                        id: id.into(),
                        name: None,
                        kind: AccountKind::Service,
                        verified: true,
                        timezone: None,
                    },
                    clock.now_ms(),
                )
                .unwrap()
                .durable()
                .await
                .unwrap();
        }
        let router = crate::api::router(AppState {
            platform: platform.clone(),
            admin_token: Arc::new(AdminToken::new(ADMIN)),
        });
        Fixture {
            _tmp: tmp,
            platform,
            clock,
            router,
        }
    }

    async fn token(f: &Fixture, role: Role, accounts: &[&str], ip_allow: &[&str]) -> String {
        f.platform
            .tokens
            .create(
                NewToken {
                    name: format!("{role:?}"),
                    role,
                    accounts: accounts.iter().map(|s| s.to_string()).collect(),
                    ip_allow: ip_allow.iter().map(|s| s.to_string()).collect(),
                },
                0,
                |a| f.platform.accounts.get(a).map(drop),
            )
            .unwrap()
            .durable()
            .await
            .unwrap()
            .token
    }

    async fn call(
        f: &Fixture,
        method: &str,
        path: &str,
        bearer: Option<&str>,
        peer: Option<&str>,
    ) -> Response {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", "application/json");
        if let Some(t) = bearer {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let mut req = req.body(Body::from("{}")).unwrap();
        if let Some(p) = peer {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(
                format!("{p}:40000").parse().unwrap(),
            ));
        }
        f.router.clone().oneshot(req).await.unwrap()
    }

    /// A concrete path for a template: `{account}` is `a1`, every other parameter `x`.
    fn concrete(template: &str) -> String {
        let path: Vec<String> = template
            .split('/')
            .map(|seg| match seg {
                "{account}" => "a1".to_string(),
                s if s.starts_with('{') => "x".to_string(),
                s => s.to_string(),
            })
            .collect();
        format!("/api/v1{}", path.join("/"))
    }

    /// Every `(method, template)` the router serves under `/api/v1`.
    async fn registered(f: &Fixture) -> BTreeSet<(String, &'static str)> {
        let mut routes = BTreeSet::new();
        for template in crate::api::route_paths() {
            let r = call(f, "TRACE", &concrete(template), Some(ADMIN), None).await;
            assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED, "{template}");
            let allow = r.headers()[header::ALLOW].to_str().unwrap().to_string();
            for m in allow.split(',').map(str::trim).filter(|m| *m != "HEAD") {
                routes.insert((m.to_string(), template));
            }
        }
        routes
    }

    #[tokio::test]
    async fn every_route_has_a_rule_and_every_role_gets_what_its_rule_says() {
        let f = fixture().await;
        let routes = registered(&f).await;
        assert!(routes.len() > 40, "{routes:?}");
        let missing: Vec<_> = routes
            .iter()
            .filter(|(m, t)| rule_for(&m.parse().unwrap(), t).is_none())
            .collect();
        assert!(
            missing.is_empty(),
            "routes without a rule in authz::RULES: {missing:?}"
        );
        let stale: Vec<_> = RULES
            .iter()
            .filter(|(m, t, _)| !routes.contains(&(m.to_string(), *t)))
            .collect();
        assert!(
            stale.is_empty(),
            "rules for routes that do not exist: {stale:?}"
        );

        let admin_token = token(&f, Role::Admin, &[], &[]).await;
        let operator = token(&f, Role::Operator, &["a1"], &[]).await;
        let other_operator = token(&f, Role::Operator, &["a2"], &[]).await;
        let analyst = token(&f, Role::Analyst, &["a1"], &[]).await;
        let every_analyst = token(&f, Role::Analyst, &[], &[]).await;
        for (method, template) in &routes {
            let rule = rule_for(&method.parse().unwrap(), template).unwrap();
            let path = concrete(template);
            let get = method == "GET";
            // (who, token, allowed)
            let cases: Vec<(&str, Option<&str>, bool)> = match rule {
                Rule::OwnCheck => vec![("admin", Some(ADMIN), true), ("none", None, false)],
                _ => vec![
                    ("bootstrap admin", Some(ADMIN), true),
                    ("admin token", Some(&admin_token), true),
                    (
                        "operator of a1",
                        Some(&operator),
                        matches!(rule, Rule::Account | Rule::Anyone | Rule::AccountList),
                    ),
                    (
                        "operator of a2",
                        Some(&other_operator),
                        matches!(rule, Rule::Anyone | Rule::AccountList),
                    ),
                    (
                        "analyst of a1",
                        Some(&analyst),
                        matches!(rule, Rule::Anyone | Rule::AccountList)
                            || (rule == Rule::Account && get),
                    ),
                    (
                        "analyst of every account",
                        Some(&every_analyst),
                        matches!(rule, Rule::Anyone | Rule::AccountList)
                            || (rule == Rule::Account && get),
                    ),
                    ("no token", None, false),
                ],
            };
            for (who, bearer, allowed) in cases {
                let r = call(&f, method, &path, bearer, None).await;
                let status = r.status();
                let refused = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
                assert_eq!(
                    !refused, allowed,
                    "{method} {template} as {who}: {status} (rule {rule:?})"
                );
                if bearer.is_none() {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {template}");
                }
            }
        }
    }

    async fn json(r: Response) -> serde_json::Value {
        let body = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&body).unwrap()
    }

    #[tokio::test]
    async fn scoped_callers_list_only_their_accounts_and_refusals_name_the_role() {
        let f = fixture().await;
        let operator = token(&f, Role::Operator, &["a1"], &[]).await;
        let ids = |v: serde_json::Value| -> Vec<String> {
            v["accounts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_string())
                .collect()
        };
        let r = call(&f, "GET", "/api/v1/accounts", Some(&operator), None).await;
        assert_eq!(ids(json(r).await), vec!["a1"]);
        let r = call(&f, "GET", "/api/v1/accounts", Some(ADMIN), None).await;
        assert_eq!(ids(json(r).await), vec!["a1", "a2"]);
        let r = call(&f, "POST", "/api/v1/plugins", Some(&operator), None).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let body = json(r).await;
        assert_eq!(body["error"]["code"], "permission_denied");
        let msg = body["error"]["message"].as_str().unwrap();
        assert!(msg.contains("role operator") && msg.contains("a1"), "{msg}");
    }

    #[tokio::test]
    async fn repeated_invalid_tokens_lock_the_address_out_for_the_rest_of_the_window() {
        let f = fixture().await;
        let operator = token(&f, Role::Operator, &["a1"], &[]).await;
        let peer = Some("10.9.8.7");
        for _ in 0..MAX_FAILURES {
            let r = call(&f, "GET", "/api/v1/system", Some("plt_guess"), peer).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            f.clock.advance(1_000);
        }
        // Locked out, even with a valid token; other addresses are not.
        let r = call(&f, "GET", "/api/v1/accounts/a1", Some(&operator), peer).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = r.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(retry, (WINDOW_MS - 10_000) / 1000);
        let r = call(
            &f,
            "GET",
            "/api/v1/accounts/a1",
            Some(&operator),
            Some("10.9.8.6"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        // The lock-out is a security event.
        let r = call(&f, "GET", "/api/v1/security/events", Some(ADMIN), None).await;
        let events = json(r).await;
        assert!(
            events["events"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e["kind"] == "lockout" && e["address"] == "10.9.8.7"),
            "{events}"
        );
        // After the window, the address is let in again.
        f.clock.advance(WINDOW_MS);
        let r = call(&f, "GET", "/api/v1/accounts/a1", Some(&operator), peer).await;
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn allow_lists_and_new_addresses_are_enforced_and_reported() {
        let f = fixture().await;
        let restricted = token(&f, Role::Operator, &["a1"], &["10.0.0.0/8"]).await;
        let r = call(
            &f,
            "GET",
            "/api/v1/accounts/a1",
            Some(&restricted),
            Some("127.0.0.1"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
        let r = call(&f, "GET", "/api/v1/accounts/a1", Some(&restricted), None).await;
        assert_eq!(
            r.status(),
            StatusCode::FORBIDDEN,
            "an unknown address is outside the list"
        );
        let r = call(
            &f,
            "GET",
            "/api/v1/accounts/a1",
            Some(&restricted),
            Some("10.1.2.3"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        // A second request from the same address is not new.
        let r = call(
            &f,
            "GET",
            "/api/v1/accounts/a1",
            Some(&restricted),
            Some("10.1.2.3"),
        )
        .await;
        assert_eq!(r.status(), StatusCode::OK);
        let events = f.platform.tokens.security.list(100).unwrap();
        let kinds: Vec<&str> = events.iter().rev().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, vec!["ip_refused", "ip_refused", "new_address"]);
        // The account's event log hears about its token.
        f.platform.store.sync().await.unwrap();
        let r = call(&f, "GET", "/api/v1/accounts/a1/events", Some(ADMIN), None).await;
        let log = json(r).await.to_string();
        assert!(log.contains("security.new_address"), "{log}");
        assert!(log.contains("security.ip_refused"), "{log}");
    }

    #[tokio::test]
    async fn a_revoked_token_is_refused_at_once() {
        let f = fixture().await;
        let analyst = token(&f, Role::Analyst, &[], &[]).await;
        let r = call(&f, "GET", "/api/v1/system", Some(&analyst), None).await;
        assert_eq!(r.status(), StatusCode::OK);
        let id = f.platform.tokens.list().unwrap()[0].id.clone();
        let r = call(
            &f,
            "DELETE",
            &format!("/api/v1/tokens/{id}"),
            Some(ADMIN),
            None,
        )
        .await;
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = call(&f, "GET", "/api/v1/system", Some(&analyst), None).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
}
