//! Token and security handlers: `/tokens[/{id}]` and `/security/events` (admin only, see
//! `authz::RULES`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::tokens::NewToken;

/// Routes under `/api/v1`.
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route("/tokens", get(list).post(create))
        .route("/tokens/{id}", delete(revoke))
        .route("/security/events", get(security_events))
}

/// `POST /tokens` → 201 with the token, shown this once.
async fn create(
    State(s): State<AppState>,
    ApiJson(new): ApiJson<NewToken>,
) -> ApiResult<impl IntoResponse> {
    let accounts = &s.platform.accounts;
    let created = s
        .platform
        .tokens
        .create(new, s.platform.clock.now_ms(), |a| {
            accounts.get(a).map(drop)
        })?
        .durable()
        .await?;
    Ok((StatusCode::CREATED, Json(created)))
}

async fn list(State(s): State<AppState>) -> ApiResult<impl IntoResponse> {
    Ok(Json(json!({ "tokens": s.platform.tokens.list()? })))
}

/// `DELETE /tokens/{id}`: refused from the next request on.
async fn revoke(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.tokens.revoke(&id)?.durable().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    limit: Option<usize>,
}

/// `GET /security/events?limit=N`: newest first.
async fn security_events(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> ApiResult<impl IntoResponse> {
    let limit = q
        .limit
        .unwrap_or(100)
        .min(crate::tokens::security::MAX_EVENTS);
    Ok(Json(
        json!({ "events": s.platform.tokens.security.list(limit)? }),
    ))
}
