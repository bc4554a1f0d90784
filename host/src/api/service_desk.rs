//! Customer-service seat handlers (人工客服, see `crate::service_desk`):
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /accounts/{a}/service/conversations?status=open\|waiting\|answered\|closed\|all` | `{"conversations":[…]}`, waiting first, each with the follower's `tags` |
//! | `POST /accounts/{a}/service/conversations/{openid}/messages` `{"content":{"msg_type":"text","content":"…"}}` | `201 {"message":…,"conversation":…\|null}` |
//! | `POST /accounts/{a}/service/conversations/{openid}/close` | the closed conversation |
//!
//! An answer is a customer-service message: outside the follower's 48 h window it is refused
//! with `409 outside_window` and a message that says when the follower last interacted.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::error::PlazaError;
use crate::messaging::content::MessageContent;
use crate::service_desk::StatusFilter;

/// Routes under `/api/v1`.
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route("/accounts/{account}/service/conversations", get(list))
        .route(
            "/accounts/{account}/service/conversations/{openid}/messages",
            post(answer),
        )
        .route(
            "/accounts/{account}/service/conversations/{openid}/close",
            post(close),
        )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    #[serde(default)]
    status: StatusFilter,
}

async fn list(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let conversations = s.platform.service_desk.list(&account, q.status)?;
    // Each with the follower's tags, so that operators see who to serve first (membership tags
    // members with their level, e.g. `会员·金卡`, whose benefit is priority service).
    let mut listed = Vec::with_capacity(conversations.len());
    for c in conversations {
        let tags = match s.platform.followers.get(&account, &c.openid) {
            Ok(f) => f.tags,
            Err(PlazaError::NotFound(_)) => Vec::new(),
            Err(e) => return Err(e.into()),
        };
        let mut v = serde_json::to_value(&c).map_err(PlazaError::internal)?;
        v["tags"] = json!(tags);
        listed.push(v);
    }
    Ok(Json(json!({ "conversations": listed })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Answer {
    content: MessageContent,
}

async fn answer(
    State(s): State<AppState>,
    ApiPath((account, openid)): ApiPath<(String, String)>,
    ApiJson(req): ApiJson<Answer>,
) -> ApiResult<impl IntoResponse> {
    let message = s
        .platform
        .answer_follower(&account, &openid, req.content)
        .await?;
    let conversation = match s.platform.service_desk.get(&account, &openid) {
        Ok(c) => Some(c),
        Err(PlazaError::NotFound(_)) => None,
        Err(e) => return Err(e.into()),
    };
    Ok((
        StatusCode::CREATED,
        Json(json!({ "message": message, "conversation": conversation })),
    ))
}

async fn close(
    State(s): State<AppState>,
    ApiPath((account, openid)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    Ok(Json(
        s.platform.close_conversation(&account, &openid).await?,
    ))
}
