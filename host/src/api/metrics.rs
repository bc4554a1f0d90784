//! `GET /metrics` (Prometheus text format, admin token) and the layer that counts and times
//! every HTTP request.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::AppState;
use super::error::ApiResult;
use crate::metrics::{CONTENT_TYPE, UNMATCHED_ROUTE, method_label};

/// The top-level `/metrics` route, behind the admin token: queue depths and per-plugin numbers
/// are operators' data.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/metrics", get(scrape))
        .route_layer(axum::middleware::from_fn_with_state(state, admins_only))
}

/// Admins only (the bootstrap token or an admin-role token): `/metrics` is outside `/api/v1`,
/// so the route table of `authz` does not cover it.
async fn admins_only(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let refusal = match super::authz::principal_of(&s, request.headers()) {
        Ok(Some(p)) if p.role() == crate::tokens::Role::Admin => return next.run(request).await,
        Ok(Some(p)) => crate::error::PlazaError::PermissionDenied(format!(
            "/metrics is for admins; this token's role is {:?}",
            p.role()
        )),
        Ok(None) => crate::error::PlazaError::Unauthorized(
            "missing or invalid bearer token (Authorization: Bearer <admin token>)".into(),
        ),
        Err(e) => e,
    };
    super::error::ApiError(refusal).into_response()
}

/// `GET /metrics`.
async fn scrape(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    let text = s.platform.metrics_text()?;
    Ok(([(header::CONTENT_TYPE, CONTENT_TYPE)], text))
}

/// Middleware on the whole router: one count and one duration per request, labelled with the
/// route's path template (set by the router before this layer runs; requests no route matched
/// share [`UNMATCHED_ROUTE`]). Per request it reads the clock twice and looks up two series by
/// hashing borrowed strings: no allocation once a series exists. The duration ends when the
/// response head is ready (a streamed body is not waited for).
pub async fn track(State(s): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let route = request.extensions().get::<MatchedPath>().cloned();
    let response = next.run(request).await;
    let route = route.as_ref().map_or(UNMATCHED_ROUTE, |r| r.as_str());
    s.platform
        .metrics
        .observe_http(route, method, response.status().as_str(), started.elapsed());
    response
}
