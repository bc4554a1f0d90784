//! The WeChat bridge over HTTP: channel settings under `/api/v1/accounts/{a}/wechat` (admin), and
//! the callback URL `/wechat/{account}` that WeChat's servers call (GET handshake, POST pushes).

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};

use super::AppState;
use super::error::{ApiJson, ApiPath, ApiQuery, ApiResult};
use crate::channels::wechat::MAX_PUSH_BODY;
use crate::channels::wechat::settings::WechatSettingsUpdate;
use crate::error::PlazaError;
use crate::wechat::envelope::PushQuery;

/// Admin routes, under `/api/v1`.
pub fn routes() -> super::ApiRoutes {
    super::ApiRoutes::new()
        .route(
            "/accounts/{account}/wechat",
            get(show).put(update).delete(remove),
        )
        .route("/accounts/{account}/wechat/outbound", get(outbound))
        .route("/accounts/{account}/wechat/sync", post(sync))
}

/// The callback WeChat calls; authenticated by the account's token signature, not a bearer token.
pub fn callback_routes() -> Router<AppState> {
    Router::new()
        .route("/wechat/{account}", get(handshake).post(push))
        .layer(DefaultBodyLimit::max(MAX_PUSH_BODY))
}

async fn show(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let settings = s.platform.wechat.require(&account)?;
    Ok(Json(settings.view(&s.platform.public_url(), &account)))
}

async fn update(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiJson(body): ApiJson<WechatSettingsUpdate>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let settings = s.platform.wechat.update(&account, body).await?;
    Ok(Json(settings.view(&s.platform.public_url(), &account)))
}

async fn remove(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    if !s.platform.wechat.remove(&account).await? {
        return Err(PlazaError::not_found(format!(
            "account {account:?} is not bridged to a WeChat account"
        ))
        .into());
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Messages on their way to WeChat (`pending`, with their attempts and last error) and those
/// WeChat refused for good (`failed`).
async fn outbound(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    Ok(Json(s.platform.wechat_outbound.view(&account)?))
}

/// `POST /accounts/{a}/wechat/sync`: tags both ways and followers from WeChat (see
/// `channels::wechat::sync`) → the report; 404 when the account is not bridged.
async fn sync(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    Ok(Json(s.platform.wechat_sync(&account).await?))
}

async fn handshake(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<PushQuery>,
) -> ApiResult<impl IntoResponse> {
    let echo = s.platform.wechat_handshake(&account, &q, None)?;
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], echo))
}

async fn push(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
    ApiQuery(q): ApiQuery<PushQuery>,
    body: axum::body::Bytes,
) -> ApiResult<impl IntoResponse> {
    let body = std::str::from_utf8(&body)
        .map_err(|_| PlazaError::invalid("the push body is not UTF-8"))?;
    let answer = s.platform.wechat_push(&account, &q, body, None).await?;
    let content_type = match answer {
        crate::channels::wechat::PushAnswer::Success => "text/plain; charset=utf-8",
        crate::channels::wechat::PushAnswer::Xml(_) => "application/xml; charset=utf-8",
    };
    Ok((
        [(header::CONTENT_TYPE, content_type)],
        answer.body().to_string(),
    ))
}
