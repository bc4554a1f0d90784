//! The local channel over HTTP: inbound messages in, follower outboxes out.

use axum::Json;
use axum::extract::{FromRequest, Request, State};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;
use super::auth::{is_admin, require_ingress};
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::channels::local::InboundJson;
use crate::error::PlazaError;
use crate::links::content::{ContentLink, content_links};
use crate::messaging::outbox::OutboxEntry;

/// `POST /api/v1/accounts/{account}/inbound` → `{"reply": {...} | null}`.
///
/// Authenticates before anything else, the body included: a caller without a valid credential
/// gets one and the same 401 whether the account exists or not and whatever it sent, so it can
/// neither probe for accounts nor learn how bodies are parsed.
pub async fn inbound(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    request: Request,
) -> ApiResult<impl IntoResponse> {
    // The admin token needs no account lookup (the hot path of a channel bridge using it).
    if !is_admin(request.headers(), &s.admin_token) {
        let known = match s.platform.accounts.get(&account) {
            Ok(acc) => Some(acc),
            Err(PlazaError::NotFound(_)) => None,
            Err(e) => return Err(e.into()),
        };
        require_ingress(request.headers(), &s.admin_token, known.as_ref())?;
    }
    let ApiJson(body) = ApiJson::<InboundJson>::from_request(request, &s).await?;
    let inbound = body.into_inbound(s.platform.clock.now_ms())?;
    s.platform.metrics.count_inbound("local");
    let outcome = s.platform.handle_inbound(&account, inbound).await?;
    Ok(Json(json!({ "reply": outcome.reply })))
}

#[derive(Deserialize)]
pub struct MessagesQuery {
    /// Return messages after this message id (for polling).
    after: Option<String>,
    limit: Option<usize>,
}

/// An outbox entry as the follower's outbox shows it: the entry as stored, and the links in its
/// content (`[{"url", "title"?}]`, http(s) only) so that a page can render them clickable.
#[derive(Serialize)]
struct OutboxView<'a> {
    #[serde(flatten)]
    entry: &'a OutboxEntry,
    links: Vec<ContentLink>,
}

/// `GET /api/v1/accounts/{account}/followers/{openid}/messages`: the follower's outbox, oldest
/// first, each message with its `links`.
pub async fn follower_messages(
    State(s): State<AppState>,
    ApiPath((account, openid)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<MessagesQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let mut messages = s.platform.outbox.list(
        &account,
        &openid,
        q.after.as_deref(),
        q.limit.unwrap_or(100).clamp(1, 1000),
    )?;
    // A media message that names a blob of the account's store shows where it is served.
    let public_url = s.platform.public_url();
    for m in &mut messages {
        s.platform
            .media
            .resolve_url(&public_url, &account, &mut m.content)?;
    }
    let messages: Vec<OutboxView<'_>> = messages
        .iter()
        .map(|entry| OutboxView {
            entry,
            links: content_links(&entry.content),
        })
        .collect();
    Ok(Json(json!({ "messages": messages })))
}
