//! Admin routes of topic delivery: what is waiting, the dead-letter list, replay and discard.

use axum::Json;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiPath, ApiQuery, ApiResult};
use crate::error::{PlazaError, Result};
use crate::topics::TopicDelivery;

pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route("/accounts/{account}/topic-deliveries", get(list_pending))
        .route("/accounts/{account}/dead-letters", get(list_dead))
        .route("/accounts/{account}/dead-letters/replay", post(replay_all))
        .route(
            "/accounts/{account}/dead-letters/{id}",
            get(get_dead).delete(discard),
        )
        .route(
            "/accounts/{account}/dead-letters/{id}/replay",
            post(replay_one),
        )
}

#[derive(Deserialize)]
pub struct PageQuery {
    cursor: Option<String>,
    limit: Option<String>,
}

/// `limit` as a number in 1..=1000 (default 100), as a typed error otherwise.
pub fn page_limit(limit: Option<&str>) -> Result<usize> {
    match limit {
        None => Ok(100),
        Some(s) => s
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| PlazaError::invalid(format!("`limit` must be 1-1000, not {s:?}"))),
    }
}

/// A delivery as JSON: the payload base64-encoded, and as text when it is UTF-8.
fn view(d: &TopicDelivery) -> Result<Value> {
    let mut v = serde_json::to_value(d)?;
    if let Ok(text) = std::str::from_utf8(&d.payload) {
        v["payload_text"] = Value::String(text.to_string());
    }
    Ok(v)
}

fn views(ds: &[TopicDelivery]) -> Result<Vec<Value>> {
    ds.iter().map(view).collect()
}

/// `GET /api/v1/accounts/{account}/topic-deliveries`: deliveries waiting (with attempts so far).
pub async fn list_pending(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let (items, next) = s.platform.topics.list_pending(
        &account,
        q.cursor.as_deref(),
        page_limit(q.limit.as_deref())?,
    )?;
    Ok(Json(json!({
        "deliveries": views(&items)?,
        "next_cursor": next,
        "count": s.platform.topics.pending_count(&account),
    })))
}

/// `GET /api/v1/accounts/{account}/dead-letters`: deliveries given up on, oldest first.
pub async fn list_dead(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let (items, next) = s.platform.topics.list_dead(
        &account,
        q.cursor.as_deref(),
        page_limit(q.limit.as_deref())?,
    )?;
    Ok(Json(json!({
        "dead_letters": views(&items)?,
        "next_cursor": next,
        "count": s.platform.topics.dead_count(&account),
    })))
}

pub async fn get_dead(
    State(s): State<AppState>,
    ApiPath((account, id)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    Ok(Json(view(&s.platform.topics.get_dead(&account, &id)?)?))
}

/// `POST …/dead-letters/{id}/replay`: re-queued with its attempt count reset.
pub async fn replay_one(
    State(s): State<AppState>,
    ApiPath((account, id)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let d = s.platform.replay_dead_letter(&account, &id).await?;
    Ok(Json(json!({ "replayed": view(&d)? })))
}

/// `POST …/dead-letters/replay`: every dead letter whose subscriber is still installed.
pub async fn replay_all(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    let report = s.platform.replay_all_dead_letters(&account).await?;
    Ok(Json(json!({
        "replayed": views(&report.replayed)?,
        "skipped": report.skipped,
    })))
}

/// `DELETE …/dead-letters/{id}`: dropped for good.
pub async fn discard(
    State(s): State<AppState>,
    ApiPath((account, id)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    let d = s.platform.discard_dead_letter(&account, &id).await?;
    Ok(Json(json!({ "discarded": view(&d)? })))
}
