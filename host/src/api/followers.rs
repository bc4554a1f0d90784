//! Follower profiles, tags and dashboard distributions (the listing itself is `admin::list_followers`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, patch, post};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::accounts::followers::ProfileUpdate;
use crate::accounts::segments::Segment;

/// Routes under `/api/v1`.
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route("/accounts/{account}/followers/stats", get(stats))
        .route(
            "/accounts/{account}/followers/{openid}",
            patch(update_follower),
        )
        .route("/accounts/{account}/tags", get(list_tags).post(create_tag))
        .route(
            "/accounts/{account}/tags/{tag}",
            patch(rename_tag).delete(delete_tag),
        )
        .route("/accounts/{account}/tags/{tag}/tag", post(tag_followers))
        .route(
            "/accounts/{account}/tags/{tag}/untag",
            post(untag_followers),
        )
}

/// `PATCH /accounts/{a}/followers/{openid}`: any of `nickname`, `region`, `gender`, `language`,
/// and `attributes` (`{"level": "gold", "old": null}`; null removes).
async fn update_follower(
    State(s): State<AppState>,
    ApiPath((account, openid)): ApiPath<(String, String)>,
    ApiJson(update): ApiJson<ProfileUpdate>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let f = s
        .platform
        .followers
        .update_profile(&account, &openid, &update)?
        .durable()
        .await?;
    Ok(Json(f))
}

#[derive(Deserialize)]
struct StatsQuery {
    segment: Option<String>,
}

/// `GET /accounts/{a}/followers/stats[?segment=…]`: totals and distributions by region, gender,
/// language and hour of last interaction (in the account's timezone).
async fn stats(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<impl IntoResponse> {
    let acc = s.platform.accounts.get(&account)?;
    let segment = q
        .segment
        .as_deref()
        .map(|e| Segment::parse(e, &acc.timezone))
        .transpose()?;
    let platform = s.platform.clone();
    let now = platform.clock.now_ms();
    // A scan over every follower of the account: keep it off the async workers.
    let stats = tokio::task::spawn_blocking(move || {
        platform
            .followers
            .stats(&acc.id, &acc.timezone, segment.as_ref(), now)
    })
    .await
    .map_err(|e| crate::error::PlazaError::internal(format!("stats task failed: {e}")))??;
    Ok(Json(stats))
}

async fn list_tags(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let platform = s.platform.clone();
    let tags = tokio::task::spawn_blocking(move || platform.followers.list_tags(&account))
        .await
        .map_err(|e| crate::error::PlazaError::internal(format!("tag count failed: {e}")))??;
    Ok(Json(json!({ "tags": tags })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TagName {
    name: String,
}

async fn create_tag(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<TagName>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let tag = s
        .platform
        .followers
        .create_tag(&account, &body.name, s.platform.clock.now_ms())?
        .durable()
        .await?;
    Ok((StatusCode::CREATED, Json(tag)))
}

/// `PATCH /accounts/{a}/tags/{tag}` `{"name": "new name"}`: renames it everywhere.
async fn rename_tag(
    State(s): State<AppState>,
    ApiPath((account, tag)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<TagName>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let renamed = s
        .platform
        .followers
        .rename_tag(&account, &tag, &body.name)
        .await?;
    Ok(Json(renamed))
}

/// `DELETE /accounts/{a}/tags/{tag}`: untags everyone, then deletes the tag.
async fn delete_tag(
    State(s): State<AppState>,
    ApiPath((account, tag)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let untagged = s.platform.followers.delete_tag(&account, &tag).await?;
    Ok(Json(json!({ "deleted": tag, "untagged": untagged })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Openids {
    openids: Vec<String>,
}

/// `POST /accounts/{a}/tags/{tag}/tag` `{"openids": [...]}` (at most 50).
async fn tag_followers(
    State(s): State<AppState>,
    ApiPath((account, tag)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<Openids>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let done = s
        .platform
        .followers
        .tag_many(&account, &body.openids, &tag)?
        .durable()
        .await?;
    Ok(Json(json!({ "tag": tag, "followers": done.len() })))
}

/// `POST /accounts/{a}/tags/{tag}/untag` `{"openids": [...]}` (at most 50).
async fn untag_followers(
    State(s): State<AppState>,
    ApiPath((account, tag)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<Openids>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let done = s
        .platform
        .followers
        .untag_many(&account, &body.openids, &tag)?
        .durable()
        .await?;
    Ok(Json(json!({ "tag": tag, "followers": done.len() })))
}
