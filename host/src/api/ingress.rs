//! The local channel over HTTP: inbound messages in, follower outboxes out.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::auth::{is_admin, require_ingress};
use super::error::{ApiJson, ApiResult};
use crate::channels::local::InboundJson;
use crate::error::PlazaError;

/// `POST /api/v1/accounts/{account}/inbound` → `{"reply": {...} | null}`.
pub async fn inbound(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(account): Path<String>,
    ApiJson(body): ApiJson<InboundJson>,
) -> ApiResult<impl IntoResponse> {
    // Authorize before revealing whether the account exists.
    if !is_admin(&headers, &s.admin_token) {
        match s.platform.accounts.get(&account) {
            Ok(acc) => require_ingress(&headers, &s.admin_token, &acc)?,
            Err(PlazaError::NotFound(_)) => {
                return Err(PlazaError::Unauthorized(
                    "missing or invalid admin token or ingress key".into(),
                )
                .into());
            }
            Err(e) => return Err(e.into()),
        }
    }
    let inbound = body.into_inbound(s.platform.clock.now_ms())?;
    let outcome = s.platform.handle_inbound(&account, inbound).await?;
    Ok(Json(json!({ "reply": outcome.reply })))
}

#[derive(Deserialize)]
pub struct MessagesQuery {
    /// Return messages after this message id (for polling).
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/accounts/{account}/followers/{openid}/messages`: the follower's outbox, oldest first.
pub async fn follower_messages(
    State(s): State<AppState>,
    Path((account, openid)): Path<(String, String)>,
    Query(q): Query<MessagesQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let messages = s.platform.outbox.list(
        &account,
        &openid,
        q.after.as_deref(),
        q.limit.unwrap_or(100).clamp(1, 1000),
    )?;
    Ok(Json(json!({ "messages": messages })))
}
