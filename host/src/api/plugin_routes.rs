//! `/p/{account}/{plugin}/…`: a plugin's own HTTP routes (webhooks, pages, admin endpoints).
//!
//! Public by default: the plugin authenticates what it must. The host tells it whether the caller
//! presented the admin token or a scoped admin/operator token of the account (`operator` in the
//! call context), caps the body size, and maps plugin
//! failures to 502/504 without exposing anything about the host.
//!
//! Credentials meant for the host (the admin token, an account's ingress key, cookies, proxy
//! credentials) never reach the plugin: a plugin learns whether its caller is an operator from
//! `operator`, not by reading the token, so one plugin cannot collect secrets that open others.
//!
//! A request carrying a follower link token (query `plaza_token` or header
//! `x-plaza-follower-token`, see `crate::links`) is verified before the plugin runs: a valid one
//! sets `call-context.follower`; any other is refused (401/403) and the plugin is not called.
//! The token itself is stripped from the query and headers the plugin sees.
//!
//! An operator's request carries `x-plaza-operator` with the name of the token that made it
//! (`admin` for the bootstrap token), so that plugins can record who changed something; the host
//! drops any `x-plaza-operator` a client sends.

use std::net::SocketAddr;

use axum::Extension;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::authz::{is_operator_of, operator_name_of};
use super::error::{ApiBytes, ApiError, ApiPath, ApiResult};
use crate::error::PlazaError;
use crate::links::{self, RouteRequest};
use crate::plugin_api as api;
use crate::plugins::grants::Capability;
use crate::runtime::{CallFailure, Invocation, Outcome};

/// Request headers that carry credentials: stripped before the request reaches `on-http`.
const CREDENTIALS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "x-plaza-ingress-key",
    links::target::TOKEN_HEADER,
    // Set by the host alone (below): a client's own is dropped so that it cannot be forged.
    OPERATOR_HEADER,
];

/// The name of the operator token (see [`operator_name_of`]) that made the request, set only when
/// `call-context.operator` is true, so a plugin can record who changed something.
pub const OPERATOR_HEADER: &str = "x-plaza-operator";

/// Headers a plugin response may not set: hop-by-hop and framing are the host's business.
const RESERVED: &[&str] = &[
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
    "upgrade",
    "te",
    "trailer",
];

pub async fn handle_root(
    state: State<AppState>,
    ApiPath((account, plugin)): ApiPath<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Response> {
    let peer = peer.map(|p| p.0.0.ip());
    serve(
        state,
        account,
        plugin,
        String::new(),
        method,
        uri,
        headers,
        peer,
        body,
    )
    .await
}

pub async fn handle(
    state: State<AppState>,
    ApiPath((account, plugin, rest)): ApiPath<(String, String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    ApiBytes(body): ApiBytes,
) -> ApiResult<Response> {
    let peer = peer.map(|p| p.0.0.ip());
    serve(
        state, account, plugin, rest, method, uri, headers, peer, body,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn serve(
    State(s): State<AppState>,
    account: String,
    plugin: String,
    rest: String,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    peer: Option<std::net::IpAddr>,
    body: Bytes,
) -> ApiResult<Response> {
    let not_found = || {
        ApiError(PlazaError::not_found(format!(
            "no plugin {plugin:?} serving routes on account {account:?}"
        )))
    };
    let active = s
        .platform
        .plugins
        .find_active(&account, &plugin)
        .ok_or_else(not_found)?;
    if !active.installation.grants.allows(&Capability::HttpRoutes) {
        return Err(not_found());
    }
    // The admin token, or a scoped admin/operator token of this account used from an address
    // its allow-list admits.
    let operator = is_operator_of(&s, &headers, peer, &account);
    let path = format!("/{rest}");
    let (query, follower) = follower_of(&s, &account, &plugin, &path, &uri, &headers)?;
    let req = api::HttpRequest {
        method: method.to_string(),
        path,
        query,
        headers: headers
            .iter()
            .filter(|(name, _)| !CREDENTIALS.contains(&name.as_str()))
            .map(|(n, v)| api::Header {
                name: n.to_string(),
                value: String::from_utf8_lossy(v.as_bytes()).into_owned(),
            })
            .chain(
                operator
                    .then(|| operator_name_of(&s, &headers))
                    .flatten()
                    .map(|name| api::Header {
                        name: OPERATOR_HEADER.into(),
                        value: name,
                    }),
            )
            .collect(),
        body: body.to_vec(),
    };
    match s
        .platform
        .call_plugin(&active, follower, operator, |ctx| {
            Invocation::Http(ctx, req)
        })
        .await
    {
        Ok(Outcome::Http(resp)) => Ok(to_response(resp)),
        Ok(_) => Err(ApiError(PlazaError::internal(
            "plugin answered an HTTP call with the wrong outcome",
        ))),
        Err(failure) => Ok(failure_response(&failure)),
    }
}

/// The query the plugin sees (without a follower token) and the follower a token identifies:
/// `None` without a token, an error (the request is refused) for a token that does not verify
/// for this account, plugin and path at the host's time.
fn follower_of(
    s: &AppState,
    account: &str,
    plugin: &str,
    path: &str,
    uri: &Uri,
    headers: &HeaderMap,
) -> ApiResult<(String, Option<String>)> {
    let (query, in_query) = links::target::take_token(uri.query().unwrap_or_default())?;
    let in_header = match headers.get(links::target::TOKEN_HEADER) {
        None => None,
        Some(v) => Some(v.to_str().map_err(|_| {
            PlazaError::Unauthorized("the follower link token header is not text".into())
        })?),
    };
    let token = match (in_query.as_deref(), in_header) {
        (Some(q), Some(h)) if q != h => {
            return Err(ApiError(PlazaError::Unauthorized(
                "the request carries two different follower link tokens".into(),
            )));
        }
        (Some(t), _) | (None, Some(t)) => t,
        (None, None) => return Ok((query, None)),
    };
    let request = RouteRequest {
        account,
        plugin,
        path,
    };
    let now = s.platform.clock.now_ms();
    let verified = s.platform.links.verify(token, request, now)?;
    Ok((query, Some(verified.openid)))
}

fn to_response(resp: api::HttpResponse) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::BAD_GATEWAY);
    let mut out = Response::new(Body::from(resp.body));
    *out.status_mut() = status;
    for h in resp.headers {
        let name = h.name.to_ascii_lowercase();
        if RESERVED.contains(&name.as_str()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name), HeaderValue::try_from(h.value)) {
            out.headers_mut().append(n, v);
        }
    }
    out
}

fn failure_response(f: &CallFailure) -> Response {
    let status = match f {
        CallFailure::Timeout(_) => StatusCode::GATEWAY_TIMEOUT,
        CallFailure::Plugin(e) => super::error::status_of(e),
        CallFailure::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_GATEWAY,
    };
    // `plugin_timeout`, `plugin_trap`, …; a plugin's own error is `plugin_error`, not doubled.
    let code = match f {
        CallFailure::Plugin(_) => "plugin_error".to_string(),
        other => format!("plugin_{}", other.kind()),
    };
    let body = serde_json::json!({ "error": { "code": code, "message": f.to_string() } });
    (status, axum::Json(body)).into_response()
}
