//! Custom menu handlers: `/accounts/{a}/menu[/conditional[/{menuid}]|/stats]` and the menu a
//! follower sees, `/accounts/{a}/followers/{openid}/menu`.
//!
//! Bodies are WeChat's menu JSON. A menu that breaks one of WeChat's rules is a 400 `invalid`
//! whose message starts with WeChat's error code and names the button (`40016 invalid button
//! size: …`); nothing is stored then.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::menus::MenuInput;

/// Routes under `/api/v1` (admin token, like the follower outbox).
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route(
            "/accounts/{account}/menu",
            get(show).put(replace).delete(remove),
        )
        .route(
            "/accounts/{account}/menu/conditional",
            post(add_conditional),
        )
        .route(
            "/accounts/{account}/menu/conditional/{menuid}",
            delete(remove_conditional),
        )
        .route("/accounts/{account}/menu/stats", get(stats))
        .route(
            "/accounts/{account}/followers/{openid}/menu",
            get(follower_menu),
        )
}

/// `GET /accounts/{a}/menu` → `{"menu":{"button","menuid"},"conditionalmenu":[…]}`, as WeChat's
/// `menu/get`; 404 when the account has no menu.
async fn show(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    Ok(Json(s.platform.menus.get(&account)?))
}

/// `PUT /accounts/{a}/menu` `{"button":[…]}`: replaces the default menu → `{"menuid"}`.
async fn replace(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(menu): ApiJson<MenuInput>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let menuid = s
        .platform
        .menus
        .set_default(&account, menu)?
        .durable()
        .await?;
    Ok(Json(json!({ "menuid": menuid })))
}

/// `DELETE /accounts/{a}/menu`: the default menu and every conditional menu.
async fn remove(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    s.platform.menus.delete_all(&account)?.durable().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /accounts/{a}/menu/conditional` `{"button":[…],"matchrule":{…}}` → 201 `{"menuid"}`.
async fn add_conditional(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(menu): ApiJson<MenuInput>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let menuid = s
        .platform
        .add_conditional_menu(&account, menu)?
        .durable()
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "menuid": menuid }))))
}

async fn remove_conditional(
    State(s): State<AppState>,
    ApiPath((account, menuid)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    s.platform
        .menus
        .delete_conditional(&account, &menuid)?
        .durable()
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatsQuery {
    days: Option<u32>,
}

/// Days of clicks `menu/stats` counts when none are asked for.
const DEFAULT_STATS_DAYS: u32 = 7;

/// `GET /accounts/{a}/menu/stats?days=N` → `{"days","clicks":[{"key","type","count"}]}`, most
/// clicked first, from the event log.
async fn stats(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<StatsQuery>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let days = q.days.unwrap_or(DEFAULT_STATS_DAYS);
    let platform = s.platform.clone();
    let acc = account.clone();
    // A long period scans many log entries: off the async workers.
    let clicks = tokio::task::spawn_blocking(move || platform.menu_stats(&acc, days))
        .await
        .map_err(|e| crate::error::PlazaError::internal(format!("menu stats task: {e}")))??;
    Ok(Json(json!({ "days": days, "clicks": clicks })))
}

/// `GET /accounts/{a}/followers/{openid}/menu` → `{"menu":{"button"},"menuid","conditional"}`:
/// what the follower's menu bar shows on the local channel.
async fn follower_menu(
    State(s): State<AppState>,
    ApiPath((account, openid)): ApiPath<(String, String)>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    Ok(Json(s.platform.follower_menu(&account, &openid)?))
}
