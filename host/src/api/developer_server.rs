//! An account's developer server: `GET, PUT, DELETE /accounts/{a}/developer-server`. The token
//! and EncodingAESKey go in and never come out: answers say only whether they are set, with the
//! AppID and original id the bot must be configured with.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiResult};
use crate::channels::developer_server::DeveloperServerRequest;

/// Routes under `/api/v1`.
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new().route(
        "/accounts/{account}/developer-server",
        get(show).put(set).delete(remove),
    )
}

async fn show(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let server = s.platform.developer_servers.require(&account)?;
    Ok(Json(server.view(&account)))
}

/// Validates and replaces the setting (a token or key left out keeps the stored one).
async fn set(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(req): ApiJson<DeveloperServerRequest>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let server = s
        .platform
        .developer_servers
        .put(&account, req, s.platform.clock.now_ms())?
        .durable()
        .await?;
    Ok(Json(server.view(&account)))
}

async fn remove(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    // Not found when there is none, so that a typo'd account or a second delete is visible.
    s.platform.developer_servers.require(&account)?;
    s.platform
        .developer_servers
        .delete(&account)?
        .durable()
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
