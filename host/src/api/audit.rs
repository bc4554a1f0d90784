//! The audit log's recording middleware ([`record`], behind `authz::authorize` on every `/api/v1`
//! route) and its listings: `GET /audit` (admins, every record) and
//! `GET /accounts/{account}/audit` (that account's records, for its operators and analysts).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath, RawPathParams, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, RequestExt, Router};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::AppState;
use super::authz::{Principal, rule_for};
use super::error::{ApiError, ApiPath, ApiQuery, ApiResult};
use crate::audit::{Actor, AuditFilter, AuditRecord, MAX_SIDE_BYTES, bound};
use crate::error::PlazaError;

/// The header a client names itself with (`cli`, `console`); anything else is recorded as `api`.
pub const CLIENT_HEADER: &str = "x-plaza-client";

/// Routes under `/api/v1`.
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route("/audit", get(list))
        .route("/accounts/{account}/audit", get(list_account))
}

/// `GET /audit?account=&actor=&route=&from=&to=&cursor=&limit=`: oldest first.
async fn list(
    State(s): State<AppState>,
    ApiQuery(filter): ApiQuery<AuditFilter>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(s.platform.audit.list(&filter)?))
}

/// `GET /accounts/{account}/audit?…`: the same, narrowed to the account.
async fn list_account(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(mut filter): ApiQuery<AuditFilter>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    filter.account = Some(account);
    Ok(Json(s.platform.audit.list(&filter)?))
}

/// What the middleware needs besides the app state: the finished router, to read a route's
/// state (its `GET` on the same path) before and after a change. Set once the router is built
/// (`api::router`); the router then holds itself through this, which is fine for a value that
/// lives as long as the server.
#[derive(Clone)]
pub struct Recorder {
    pub state: AppState,
    pub router: Arc<OnceLock<Router>>,
}

fn actor(p: &Principal) -> Actor {
    match p {
        Principal::Bootstrap => Actor {
            kind: "bootstrap".into(),
            id: None,
            name: None,
            role: p.role().as_str().into(),
        },
        Principal::Token(t) => Actor {
            kind: "token".into(),
            id: Some(t.id.clone()),
            name: Some(t.name.clone()),
            role: t.role.as_str().into(),
        },
    }
}

fn via(headers: &HeaderMap) -> &'static str {
    match headers.get(CLIENT_HEADER).and_then(|v| v.to_str().ok()) {
        Some("cli") => "cli",
        Some("console") => "console",
        _ => "api",
    }
}

/// The `GET` answer on `path` (relative to `/api/v1`) as the caller would see it, when it is a
/// JSON success; redacted and bounded.
async fn read_state(
    router: &Arc<OnceLock<Router>>,
    path: &str,
    headers: &HeaderMap,
    peer: Option<ConnectInfo<SocketAddr>>,
) -> Option<Value> {
    let router = router.get()?.clone();
    let mut builder = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/v1{path}"));
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    let mut request = builder.body(Body::empty()).ok()?;
    if let Some(peer) = peer {
        request.extensions_mut().insert(peer);
    }
    let response = router.oneshot(request).await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let bytes = axum::body::to_bytes(response.into_body(), super::MAX_JSON_BODY)
        .await
        .ok()?;
    let value: Value = serde_json::from_slice(&bytes).ok()?;
    Some(bound(value, MAX_SIDE_BYTES))
}

/// Records every non-`GET` request that reached its handler, once the handler has answered.
/// A failure to record is logged, never turned into the request's answer.
pub async fn record(State(rec): State<Recorder>, mut request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let Some(principal) = request.extensions().get::<Principal>().cloned() else {
        return next.run(request).await;
    };
    let state = &rec.state;
    let at = state.platform.clock.now_ms();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let template = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_default();
    let route = template
        .strip_prefix("/api/v1")
        .unwrap_or(&template)
        .to_string();
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .cloned();
    let headers = request.headers().clone();
    let account = match request.extract_parts::<RawPathParams>().await {
        Ok(params) => params
            .iter()
            .find(|(name, _)| *name == "account")
            .map(|(_, v)| v.to_string()),
        Err(_) => None,
    };
    // A change to something readable on the same path: its state before and after. Anything
    // else: what was sent.
    let reads_back = method != Method::POST && rule_for(&Method::GET, &route).is_some();
    let before = if reads_back {
        read_state(&rec.router, &path, &headers, peer).await
    } else {
        None
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let mut sent = None;
    if content_type.starts_with("application/json") {
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, super::MAX_JSON_BODY).await {
            Ok(b) => b,
            Err(_) => {
                return ApiError(PlazaError::TooLarge(format!(
                    "a JSON body may be at most {} bytes",
                    super::MAX_JSON_BODY
                )))
                .into_response();
            }
        };
        sent = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .map(|v| bound(v, MAX_SIDE_BYTES));
        request = Request::from_parts(parts, Body::from(bytes));
    } else if !content_type.is_empty() {
        // Uploads (plugin components, media) are described, never kept.
        let size = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        sent = Some(json!({"content_type": content_type, "bytes": size}));
    }
    let response = next.run(request).await;
    let after = if reads_back {
        read_state(&rec.router, &path, &headers, peer).await
    } else {
        sent
    };
    let record = AuditRecord {
        id: state.platform.audit.next_id(at),
        at,
        actor: actor(&principal),
        via: via(&headers).into(),
        peer: peer.map(|p| p.0.ip().to_canonical().to_string()),
        method: method.to_string(),
        route,
        path,
        account,
        status: response.status().as_u16(),
        before,
        after,
    };
    if let Err(e) = state.platform.audit.append(&record).await {
        tracing::warn!(error = %e, route = %record.route, "could not record an audit entry");
    }
    response
}
