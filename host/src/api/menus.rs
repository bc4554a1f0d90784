//! Custom menu handlers: `/accounts/{a}/menu[/conditional[/{menuid}]|/stats]` and the menu a
//! follower sees, `/accounts/{a}/followers/{openid}/menu`.
//!
//! Bodies are WeChat's menu JSON. A menu that breaks one of WeChat's rules is a 400 `invalid`
//! whose message starts with WeChat's error code and names the button (`40016 invalid button
//! size: …`); nothing is stored then.
//!
//! For an account bridged to a real WeChat account, every change is then published to WeChat
//! (`channels::wechat::menu`) and the answer carries `"wechat":{"published":true}`. If WeChat
//! refuses, the change stays stored in Plaza and the route answers WeChat's mapped error, saying
//! so; `POST /accounts/{a}/menu/publish` tries again.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::channels::wechat::menu::stored_but_refused;
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
        .route("/accounts/{account}/menu/publish", post(publish))
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
    let mut answer = json!({ "menuid": menuid });
    if let Some(w) = publish_if_bridged(&s, &account).await? {
        answer["wechat"] = w;
    }
    Ok(Json(answer))
}

/// `DELETE /accounts/{a}/menu`: the default menu and every conditional menu.
async fn remove(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    s.platform.menus.delete_all(&account)?.durable().await?;
    Ok(deleted(publish_if_bridged(&s, &account).await?))
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
    let mut answer = json!({ "menuid": menuid });
    if let Some(w) = publish_if_bridged(&s, &account).await? {
        answer["wechat"] = w;
    }
    Ok((StatusCode::CREATED, Json(answer)))
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
    Ok(deleted(publish_if_bridged(&s, &account).await?))
}

/// A delete's answer: 204 as always, or 200 `{"wechat":{…}}` when it was published to WeChat.
fn deleted(wechat: Option<Value>) -> axum::response::Response {
    match wechat {
        Some(w) => Json(json!({ "wechat": w })).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

/// Publishes the account's menus to WeChat when it is bridged: `{"published":true}`, or `None`
/// when it is not bridged.
async fn publish_if_bridged(s: &AppState, account: &str) -> ApiResult<Option<Value>> {
    match s.platform.publish_wechat_menu(account).await {
        Ok(true) => Ok(Some(json!({ "published": true }))),
        Ok(false) => Ok(None),
        Err(e) => Err(stored_but_refused(account, e).into()),
    }
}

/// `POST /accounts/{a}/menu/publish`: publishes the stored menus to the bridged WeChat account
/// again (after WeChat refused them, or after the bridge was set up) → `{"wechat":{"published":
/// true}}`; 404 when the account is not bridged.
async fn publish(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    s.platform.wechat.require(&account)?;
    let wechat = publish_if_bridged(&s, &account).await?.ok_or_else(|| {
        crate::error::PlazaError::not_found(format!(
            "account {account:?} is not bridged to a WeChat account"
        ))
    })?;
    Ok(Json(json!({ "wechat": wechat })))
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
