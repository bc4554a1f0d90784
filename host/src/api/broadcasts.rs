//! Broadcast and review-queue handlers.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::error::PlazaError;
use crate::messaging::broadcast::{Audience, BroadcastJob, NewBroadcast, RecipientStatus};

/// Routes under `/api/v1`.
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route("/accounts/{account}/broadcasts", post(create).get(list))
        .route("/accounts/{account}/broadcasts/preview", get(preview))
        .route("/accounts/{account}/broadcasts/{id}", get(status))
        .route(
            "/accounts/{account}/broadcasts/{id}/recipients",
            get(recipients),
        )
        .route("/accounts/{account}/reviews", get(reviews))
}

fn view(job: &BroadcastJob) -> Value {
    let mut v = serde_json::to_value(job).unwrap_or(Value::Null);
    v["percent"] = json!(job.percent());
    v
}

/// `POST /accounts/{a}/broadcasts` → 201 with the job; a known idempotency key returns 200 with the
/// original job.
async fn create(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(req): ApiJson<NewBroadcast>,
) -> ApiResult<impl IntoResponse> {
    let key = req.idempotency_key.clone();
    let before = s.platform.clock.now_ms();
    let job = s.platform.create_broadcast(&account, None, req).await?;
    let status = if job.created_at >= before && job.idempotency_key == key {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(view(&job))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PreviewQuery {
    tag: Option<String>,
    segment: Option<String>,
    /// Comma-separated.
    openids: Option<String>,
    at: Option<u64>,
}

/// `GET /accounts/{a}/broadcasts/preview[?tag=|segment=|openids=a,b][&at=ms]` (no audience
/// parameter = every follower): recipients, how many the quota lets it reach, and the quota.
async fn preview(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<PreviewQuery>,
) -> ApiResult<impl IntoResponse> {
    let audience = match (q.tag, q.segment, q.openids) {
        (None, None, None) => Audience::All,
        (Some(tag), None, None) => Audience::Tag(tag),
        (None, Some(segment), None) => Audience::Segment(segment),
        (None, None, Some(ids)) => Audience::Openids(
            ids.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        ),
        _ => {
            return Err(PlazaError::invalid(
                "name at most one audience: tag, segment or openids (none = every follower)",
            )
            .into());
        }
    };
    let platform = s.platform.clone();
    // Resolving the audience scans the account's followers: keep it off the async workers.
    let preview =
        tokio::task::spawn_blocking(move || platform.preview_broadcast(&account, &audience, q.at))
            .await
            .map_err(|e| PlazaError::internal(format!("preview task failed: {e}")))??;
    Ok(Json(preview))
}

#[derive(Deserialize)]
struct ListQuery {
    limit: Option<usize>,
}

async fn list(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let jobs = s
        .platform
        .broadcasts
        .list(&account, q.limit.unwrap_or(50).clamp(1, 1000))?;
    Ok(Json(
        json!({ "broadcasts": jobs.iter().map(view).collect::<Vec<_>>() }),
    ))
}

async fn status(
    State(s): State<AppState>,
    ApiPath((account, id)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(view(&s.platform.broadcasts.get(&account, &id)?)))
}

#[derive(Deserialize)]
struct RecipientQuery {
    status: Option<RecipientStatus>,
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /accounts/{a}/broadcasts/{id}/recipients?status=&after=&limit=`: per-recipient status.
async fn recipients(
    State(s): State<AppState>,
    ApiPath((account, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<RecipientQuery>,
) -> ApiResult<impl IntoResponse> {
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let page =
        s.platform
            .broadcasts
            .recipients(&account, &id, q.status, q.after.as_deref(), limit)?;
    let next = page.next_cursor;
    let rows: Vec<Value> = page
        .items
        .into_iter()
        .map(|(openid, status)| json!({ "openid": openid, "status": status }))
        .collect();
    Ok(Json(json!({ "recipients": rows, "next_cursor": next })))
}

#[derive(Deserialize)]
struct ReviewQuery {
    after: Option<String>,
    limit: Option<usize>,
}

/// `GET /accounts/{a}/reviews`: outbound messages the review chain blocked, oldest first.
async fn reviews(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<ReviewQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let blocked = s.platform.reviews.list(
        &account,
        q.after.as_deref(),
        q.limit.unwrap_or(100).clamp(1, 1000),
    )?;
    Ok(Json(json!({ "blocked": blocked })))
}
