//! The WeChat-compatible server API: `/cgi-bin/…` and `/datacube/…` (see `wechat_api` for the
//! mapping onto Plaza). Thin handlers: authenticate the `access_token`, parse WeChat JSON, call the
//! same platform functions as the admin API and plugins, answer WeChat's shapes. Every error is
//! HTTP 200 `{"errcode","errmsg"}`; no request path panics or stores anything on bad input.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{Duration, NaiveDate, TimeZone};
use serde_json::{Value, json};

use super::AppState;
use super::error::{ApiPath, ApiResult};
use crate::accounts::Account;
use crate::accounts::followers::Follower;
use crate::error::PlazaError;
use crate::events::kinds::KindSelector;
use crate::messaging::broadcast::{Audience, BroadcastStatus, NewBroadcast};
use crate::messaging::content::MessageContent;
use crate::messaging::send::TemplateTarget;
use crate::platform::Platform;
use crate::templates::TemplateUpdate;
use crate::wechat_api::errcode::{Api, WxError, wx_error};
use crate::wechat_api::{self, Industries, SentTemplate, content::content_of};

/// Largest request body of the WeChat API.
pub const MAX_BODY: usize = 256 << 10;
/// Most openids one `user/get` or `user/tag/get` page holds (WeChat's page size).
pub const USER_PAGE: usize = 10_000;
/// Most users one `user/info/batchget` may name.
pub const MAX_BATCHGET: usize = 100;
/// How long a mass `clientmsgid` is remembered.
const CLIENTMSGID_MS: u64 = 24 * 3600 * 1000;

/// Routes at the top level (not under `/api/v1`, not behind the admin token: the access token is
/// the credential).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/cgi-bin/token", get(token))
        .route("/cgi-bin/stable_token", post(stable_token))
        .route("/cgi-bin/message/custom/send", post(custom_send))
        .route("/cgi-bin/message/template/send", post(template_send))
        .route("/cgi-bin/template/api_add_template", post(add_template))
        .route(
            "/cgi-bin/template/get_all_private_template",
            get(list_templates),
        )
        .route("/cgi-bin/template/del_private_template", post(del_template))
        .route("/cgi-bin/template/api_set_industry", post(set_industry))
        .route("/cgi-bin/template/get_industry", get(get_industry))
        .route("/cgi-bin/message/mass/sendall", post(mass_sendall))
        .route("/cgi-bin/message/mass/send", post(mass_send))
        .route("/cgi-bin/message/mass/get", post(mass_get))
        .route("/cgi-bin/tags/create", post(tags_create))
        .route("/cgi-bin/tags/get", get(tags_get))
        .route("/cgi-bin/tags/update", post(tags_update))
        .route("/cgi-bin/tags/delete", post(tags_delete))
        .route("/cgi-bin/tags/members/batchtagging", post(tags_tag))
        .route("/cgi-bin/tags/members/batchuntagging", post(tags_untag))
        .route("/cgi-bin/tags/getidlist", post(tags_of_user))
        .route("/cgi-bin/user/tag/get", post(users_of_tag))
        .route("/cgi-bin/user/info", get(user_info))
        .route("/cgi-bin/user/info/batchget", post(user_batchget))
        .route("/cgi-bin/user/get", get(user_get))
        .route("/cgi-bin/menu/create", post(menu_create))
        .route("/cgi-bin/menu/get", get(menu_get))
        .route("/cgi-bin/menu/delete", get(menu_delete))
        .route("/cgi-bin/menu/addconditional", post(menu_add_conditional))
        .route("/cgi-bin/menu/delconditional", post(menu_del_conditional))
        .route("/datacube/getusersummary", post(user_summary))
        .route("/datacube/getusercumulate", post(user_cumulate))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
}

/// `POST /api/v1/accounts/{a}/api-credentials` (admin): new AppID/AppSecret, the secret shown
/// this once; the previous secret and every token issued under it stop working.
pub async fn issue_credentials(
    State(s): State<AppState>,
    ApiPath(account): ApiPath<String>,
) -> ApiResult<impl IntoResponse> {
    s.platform.accounts.get(&account)?;
    let issued = s
        .platform
        .wechat_api
        .tokens
        .issue_credentials(&account, s.platform.clock.now_ms())?
        .durable()
        .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

type WxResult = Result<Json<Value>, WxError>;

fn ok() -> WxResult {
    Ok(Json(json!({"errcode": 0, "errmsg": "ok"})))
}

/// Maps a platform refusal from `api` onto its WeChat error.
fn refused(api: Api) -> impl Fn(PlazaError) -> WxError {
    move |e| wx_error(&e, api)
}

fn query_of(parts: &Parts) -> HashMap<String, String> {
    Query::<HashMap<String, String>>::try_from_uri(&parts.uri)
        .map(|Query(q)| q)
        .unwrap_or_default()
}

/// The account an `?access_token=` acts for.
pub struct Caller {
    pub account: Account,
    query: HashMap<String, String>,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = WxError;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, WxError> {
        let query = query_of(parts);
        let token = match query.get("access_token") {
            Some(t) if !t.is_empty() => t,
            _ => return Err(WxError::missing_token()),
        };
        let now = s.platform.clock.now_ms();
        let account = s
            .platform
            .wechat_api
            .tokens
            .authenticate(token, now)
            .map_err(refused(Api::Users))??;
        let account = s.platform.accounts.get(&account).map_err(|e| match e {
            // The account is gone: its tokens are no longer valid.
            PlazaError::NotFound(_) => WxError::invalid_token(),
            e => wx_error(&e, Api::Users),
        })?;
        Ok(Caller { account, query })
    }
}

/// A WeChat JSON body: any content type (wechatpy sends none), raw UTF-8 or `\u` escapes; a
/// body that is not a JSON object is 47001, one over [`MAX_BODY`] 45002.
pub struct WxBody(pub Value);

impl<S: Send + Sync> FromRequest<S> for WxBody {
    type Rejection = WxError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WxError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                WxError::new(45002, format!("request body over {MAX_BODY} bytes"))
            } else {
                WxError::bad_json(e.body_text())
            }
        })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(WxError::new(44002, "empty post data"));
        }
        match serde_json::from_slice::<Value>(&bytes) {
            Ok(v @ Value::Object(_)) => Ok(WxBody(v)),
            Ok(_) => Err(WxError::bad_json("the body must be a JSON object")),
            Err(e) => Err(WxError::bad_json(e)),
        }
    }
}

fn str_field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str)
}

/// A numeric id as WeChat SDKs send it: a number or a string of digits.
fn id_field(v: Option<&Value>) -> Option<u64> {
    match v? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn openid_list(body: &Value, name: &str) -> Result<Vec<String>, WxError> {
    let list = body
        .get(name)
        .and_then(Value::as_array)
        .ok_or_else(|| WxError::invalid_args(format!("{name} must be a list of openids")))?;
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| WxError::new(40003, "invalid openid"))
        })
        .collect()
}

// ---- access tokens ----

/// `GET /cgi-bin/token?grant_type=client_credential&appid=&secret=`.
async fn token(State(s): State<AppState>, request: Request) -> WxResult {
    let (parts, _) = request.into_parts();
    let q = query_of(&parts);
    issue(
        &s.platform,
        q.get("grant_type").map(String::as_str),
        q.get("appid").map(String::as_str),
        q.get("secret").map(String::as_str),
        None,
    )
    .await
}

/// `POST /cgi-bin/stable_token {"grant_type","appid","secret","force_refresh"}`.
async fn stable_token(State(s): State<AppState>, WxBody(body): WxBody) -> WxResult {
    let force = body
        .get("force_refresh")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    issue(
        &s.platform,
        str_field(&body, "grant_type"),
        str_field(&body, "appid"),
        str_field(&body, "secret"),
        Some(force),
    )
    .await
}

async fn issue(
    platform: &Platform,
    grant_type: Option<&str>,
    appid: Option<&str>,
    secret: Option<&str>,
    stable: Option<bool>,
) -> WxResult {
    let appid = appid
        .filter(|a| !a.is_empty())
        .ok_or_else(|| WxError::new(41002, "appid missing"))?;
    let secret = secret
        .filter(|a| !a.is_empty())
        .ok_or_else(|| WxError::new(41004, "appsecret missing"))?;
    if grant_type != Some("client_credential") {
        return Err(WxError::new(40002, "invalid grant_type"));
    }
    let issued = platform
        .wechat_api
        .tokens
        .issue(appid, secret, stable, platform.clock.now_ms())
        .await
        .map_err(refused(Api::Users))?;
    let issued = match issued {
        Ok(t) => t,
        Err(e) => {
            // A wrong secret for a real appid is someone guessing (or a leaked appid): the
            // account's operators see it in its event log.
            if e.errcode == 40125
                && let Ok(Some(account)) = platform.wechat_api.tokens.account_of_appid(appid)
                && let Err(log) = platform.events.emit(
                    &account,
                    "wechat",
                    platform.clock.now_ms(),
                    "wechat.security.bad_secret",
                    None,
                    vec![("appid".to_string(), appid.to_string())],
                )
            {
                tracing::warn!(account, error = %log, "could not log a refused token request");
            }
            return Err(e);
        }
    };
    Ok(Json(json!({
        "access_token": issued.access_token,
        "expires_in": issued.expires_in,
    })))
}

// ---- customer-service messages ----

/// `POST /cgi-bin/message/custom/send`.
async fn custom_send(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let to = str_field(&body, "touser").ok_or_else(|| WxError::new(40003, "invalid openid"))?;
    let msgtype = str_field(&body, "msgtype").ok_or_else(|| WxError::invalid_msgtype(""))?;
    let content = content_of(msgtype, &body)?;
    s.platform
        .send_customer_service(&caller.account.id, to, None, content, None)
        .await
        .map_err(refused(Api::CustomSend))?;
    ok()
}

// ---- template messages ----

/// `POST /cgi-bin/message/template/send` → `{"errcode":0,"errmsg":"ok","msgid":N}`; a repeated
/// `client_msg_id` within 24 h answers the first send's `msgid` without sending again.
async fn template_send(
    State(s): State<AppState>,
    caller: Caller,
    WxBody(body): WxBody,
) -> WxResult {
    let account = &caller.account;
    crate::templates::check_template_rights(account).map_err(refused(Api::TemplateSend))?;
    let to = str_field(&body, "touser").ok_or_else(|| WxError::new(40003, "invalid openid"))?;
    let template_id = str_field(&body, "template_id")
        .ok_or_else(|| WxError::new(40037, "invalid template_id"))?;
    let mut values = Vec::new();
    if let Some(data) = body.get("data") {
        let data = data
            .as_object()
            .ok_or_else(|| WxError::new(47003, "argument invalid! data is not an object"))?;
        for (name, v) in data {
            let value = match v {
                Value::String(s) => s.clone(),
                v => v
                    .get("value")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        WxError::new(47003, format!("argument invalid! data.{name}.value"))
                    })?
                    .to_string(),
            };
            values.push((name.clone(), value));
        }
    }
    // A mini-program wins over a URL when both are given (as in WeChat).
    let target = match (body.get("miniprogram"), str_field(&body, "url")) {
        (Some(mp), _) if !mp.is_null() => Some(TemplateTarget::MiniProgram {
            appid: str_field(mp, "appid").unwrap_or("").to_string(),
            page_path: str_field(mp, "pagepath")
                .or_else(|| str_field(mp, "path"))
                .unwrap_or("")
                .to_string(),
        }),
        (_, Some(url)) if !url.is_empty() => Some(TemplateTarget::Url(url.to_string())),
        _ => None,
    };
    let client_msg_id = str_field(&body, "client_msg_id").filter(|c| !c.is_empty());
    let _serial = match client_msg_id {
        Some(c) => {
            if c.len() > 64 {
                return Err(WxError::new(45067, "client_msg_id exceeds 64 bytes"));
            }
            let guard = s.platform.wechat_api.template_send_lock.lock().await;
            let now = s.platform.clock.now_ms();
            if let Some(sent) = s
                .platform
                .wechat_api
                .template_sent(&account.id, c, now)
                .map_err(refused(Api::TemplateSend))?
            {
                return Ok(Json(
                    json!({"errcode": 0, "errmsg": "ok", "msgid": sent.msgid}),
                ));
            }
            Some(guard)
        }
        None => None,
    };
    let entry = s
        .platform
        .send_template_message(account, to, None, template_id, &values, target)
        .await
        .map_err(refused(Api::TemplateSend))?;
    let msgid = wechat_api::numeric_id(&entry.id).unwrap_or_default();
    if let Some(c) = client_msg_id {
        let sent = SentTemplate {
            msgid,
            at: entry.at,
        };
        s.platform
            .wechat_api
            .remember_template(&account.id, c, &sent)
            .map_err(refused(Api::TemplateSend))?
            .durable()
            .await
            .map_err(refused(Api::TemplateSend))?;
    }
    Ok(Json(json!({"errcode": 0, "errmsg": "ok", "msgid": msgid})))
}

/// `POST /cgi-bin/template/api_add_template {"template_id_short": ID}`: activates the account's
/// Plaza template `ID` (its "library" is the account's registry) → `{"template_id": ID}`.
async fn add_template(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account;
    crate::templates::check_template_rights(account).map_err(refused(Api::TemplateManage))?;
    let id = str_field(&body, "template_id_short")
        .ok_or_else(|| WxError::new(40037, "invalid template_id: template_id_short missing"))?;
    let upd = TemplateUpdate {
        active: Some(true),
        ..Default::default()
    };
    let t = s
        .platform
        .templates
        .update(&account.id, id, upd, s.platform.clock.now_ms())
        .map_err(refused(Api::TemplateManage))?
        .durable()
        .await
        .map_err(refused(Api::TemplateManage))?;
    Ok(Json(
        json!({"errcode": 0, "errmsg": "ok", "template_id": t.id}),
    ))
}

/// `GET /cgi-bin/template/get_all_private_template`: the account's active templates.
async fn list_templates(State(s): State<AppState>, caller: Caller) -> WxResult {
    let account = &caller.account;
    crate::templates::check_template_rights(account).map_err(refused(Api::TemplateManage))?;
    let industries = s
        .platform
        .wechat_api
        .industries(&account.id)
        .map_err(refused(Api::TemplateManage))?
        .unwrap_or_default();
    let names = |code: &str| {
        wechat_api::industry_names(code)
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .unwrap_or_default()
    };
    let (p1, _) = names(&industries.primary);
    let (d1, d2) = names(&industries.secondary);
    let list: Vec<Value> = s
        .platform
        .templates
        .list(&account.id)
        .map_err(refused(Api::TemplateManage))?
        .into_iter()
        .filter(|t| t.active)
        .map(|t| {
            json!({
                "template_id": t.id,
                "title": t.title,
                "primary_industry": p1,
                "deputy_industry": if d1.is_empty() { String::new() } else { format!("{d1}|{d2}") },
                "content": t.content,
                "example": "",
            })
        })
        .collect();
    Ok(Json(json!({ "template_list": list })))
}

/// `POST /cgi-bin/template/del_private_template {"template_id"}`: deactivates the Plaza template
/// (it stays in the registry, and `api_add_template` brings it back).
async fn del_template(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account;
    crate::templates::check_template_rights(account).map_err(refused(Api::TemplateManage))?;
    let id = str_field(&body, "template_id")
        .ok_or_else(|| WxError::new(40037, "invalid template_id"))?;
    let upd = TemplateUpdate {
        active: Some(false),
        ..Default::default()
    };
    s.platform
        .templates
        .update(&account.id, id, upd, s.platform.clock.now_ms())
        .map_err(refused(Api::TemplateManage))?
        .durable()
        .await
        .map_err(refused(Api::TemplateManage))?;
    ok()
}

/// `POST /cgi-bin/template/api_set_industry {"industry_id1","industry_id2"}`.
async fn set_industry(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account;
    crate::templates::check_template_rights(account).map_err(refused(Api::TemplateManage))?;
    let code = |name: &str| -> Result<String, WxError> {
        let c = match body.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(WxError::invalid_args(format!("{name} missing"))),
        };
        wechat_api::industry_names(&c)
            .map(|_| c.clone())
            .ok_or_else(|| WxError::invalid_args(format!("{name} {c:?} is not an industry code")))
    };
    let i = Industries {
        primary: code("industry_id1")?,
        secondary: code("industry_id2")?,
    };
    s.platform
        .wechat_api
        .set_industries(&account.id, &i)
        .map_err(refused(Api::TemplateManage))?
        .durable()
        .await
        .map_err(refused(Api::TemplateManage))?;
    ok()
}

/// `GET /cgi-bin/template/get_industry`.
async fn get_industry(State(s): State<AppState>, caller: Caller) -> WxResult {
    let account = &caller.account;
    crate::templates::check_template_rights(account).map_err(refused(Api::TemplateManage))?;
    let i = s
        .platform
        .wechat_api
        .industries(&account.id)
        .map_err(refused(Api::TemplateManage))?
        .unwrap_or_default();
    let show = |code: &str| {
        let (a, b) = wechat_api::industry_names(code).unwrap_or(("", ""));
        json!({"first_class": a, "second_class": b})
    };
    Ok(Json(json!({
        "primary_industry": show(&i.primary),
        "secondary_industry": show(&i.secondary),
    })))
}

// ---- mass sends ----

fn mass_content(body: &Value) -> Result<MessageContent, WxError> {
    let msgtype = str_field(body, "msgtype").ok_or_else(|| WxError::invalid_msgtype(""))?;
    match msgtype {
        "text" | "image" | "voice" | "mpvideo" | "video" | "news" => content_of(msgtype, body),
        other => Err(WxError::invalid_msgtype(other)),
    }
}

/// Creates the broadcast. A `clientmsgid` seen within 24 h answers 45065 with the first send's
/// `msg_id`; after 24 h the same id starts a new broadcast (its Plaza idempotency key is the
/// `clientmsgid` followed by the previous broadcast's id).
async fn submit_mass(
    platform: &Arc<Platform>,
    account: &str,
    audience: Audience,
    content: MessageContent,
    clientmsgid: Option<&str>,
) -> WxResult {
    let base = match clientmsgid.filter(|c| !c.is_empty()) {
        Some(c) if c.len() > 64 => return Err(WxError::new(45067, "clientmsgid exceeds 64 bytes")),
        Some(c) => format!("cgi-bin:{c}"),
        None => format!("cgi-bin:{}", platform.ids.next("auto")),
    };
    let mut key = base.clone();
    for _ in 0..64 {
        let before = platform.clock.now_ms();
        let req = NewBroadcast {
            idempotency_key: key.clone(),
            audience: audience.clone(),
            content: content.clone(),
            at: None,
        };
        let job = platform
            .create_broadcast(account, None, req)
            .await
            .map_err(refused(Api::Mass))?;
        let msg_id = wechat_api::numeric_id(&job.id).unwrap_or_default();
        let now = platform.clock.now_ms();
        if job.created_at >= before {
            return Ok(Json(json!({
                "errcode": 0,
                "errmsg": "send job submission success",
                "msg_id": msg_id,
            })));
        }
        if now.saturating_sub(job.created_at) < CLIENTMSGID_MS {
            return Ok(Json(json!({
                "errcode": 45065,
                "errmsg": "clientmsgid exist",
                "msg_id": msg_id,
            })));
        }
        key = format!("{base}:{}", job.id);
    }
    Err(WxError::new(-1, "system error: clientmsgid chain too long"))
}

/// `POST /cgi-bin/message/mass/sendall`: `filter.is_to_all`, or `filter.tag_id` (legacy
/// `group_id`, as wechatpy 1.8.18 sends) → a broadcast to everyone or to the tag.
async fn mass_sendall(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account.id;
    let filter = body
        .get("filter")
        .ok_or_else(|| WxError::invalid_args("filter missing"))?;
    let content = mass_content(&body)?;
    let audience = if filter
        .get("is_to_all")
        .and_then(Value::as_bool)
        .unwrap_or(false)
    {
        Audience::All
    } else {
        let id = id_field(filter.get("tag_id"))
            .or_else(|| id_field(filter.get("group_id")))
            .ok_or_else(|| WxError::invalid_args("filter.tag_id missing"))?;
        let tag = s
            .platform
            .followers
            .tag_by_id(account, id)
            .map_err(refused(Api::Mass))?;
        Audience::Tag(tag.name)
    };
    submit_mass(
        &s.platform,
        account,
        audience,
        content,
        str_field(&body, "clientmsgid"),
    )
    .await
}

/// `POST /cgi-bin/message/mass/send {"touser":[…]}`.
async fn mass_send(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let touser = openid_list(&body, "touser")?;
    if touser.is_empty() || touser.len() > crate::messaging::broadcast::MAX_OPENIDS {
        return Err(WxError::new(
            40032,
            format!(
                "invalid openid list size: 1-{}",
                crate::messaging::broadcast::MAX_OPENIDS
            ),
        ));
    }
    let content = mass_content(&body)?;
    submit_mass(
        &s.platform,
        &caller.account.id,
        Audience::Openids(touser),
        content,
        str_field(&body, "clientmsgid"),
    )
    .await
}

/// `POST /cgi-bin/message/mass/get {"msg_id"}` → `{"msg_id","msg_status"}`.
async fn mass_get(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let msg_id =
        id_field(body.get("msg_id")).ok_or_else(|| WxError::invalid_args("msg_id missing"))?;
    let job = s
        .platform
        .broadcasts
        .get(&caller.account.id, &wechat_api::broadcast_id(msg_id))
        .map_err(|_| WxError::invalid_args(format!("no mass send with msg_id {msg_id}")))?;
    let status = match job.status {
        BroadcastStatus::Done => "SEND_SUCCESS",
        BroadcastStatus::Scheduled | BroadcastStatus::Running => "SENDING",
    };
    Ok(Json(json!({ "msg_id": msg_id, "msg_status": status })))
}

// ---- menus ----

/// A menu refusal as WeChat answers it: the menus module's own WeChat code (40015-40027,
/// 40055, 46003, 65301-65311) when it has one, else the general mapping.
fn menu_refused(e: PlazaError) -> WxError {
    match crate::menus::wechat_errcode::of(&e) {
        -1 => wx_error(&e, Api::Tags),
        code => WxError::new(code, e.message()),
    }
}

fn menu_input(body: Value) -> Result<crate::menus::MenuInput, WxError> {
    serde_json::from_value(body)
        .map_err(|e| WxError::new(40035, format!("invalid args: not a menu: {e}")))
}

/// A bridged account's menus go to the real WeChat account after every change, as from the admin
/// API.
async fn publish(platform: &Platform, account: &str) -> Result<(), WxError> {
    platform
        .publish_wechat_menu(account)
        .await
        .map(drop)
        .map_err(menu_refused)
}

/// `POST /cgi-bin/menu/create {"button":[…]}`: the account's default menu, checked by WeChat's
/// rules (the same checks as `PUT /api/v1/accounts/{id}/menu`).
async fn menu_create(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let input = menu_input(body)?;
    s.platform
        .menus
        .set_default(&caller.account.id, input)
        .map_err(menu_refused)?
        .durable()
        .await
        .map_err(menu_refused)?;
    publish(&s.platform, &caller.account.id).await?;
    ok()
}

/// `GET /cgi-bin/menu/get` → `{"menu":{…},"conditionalmenu":[…]}`, or 46003 without a menu.
async fn menu_get(State(s): State<AppState>, caller: Caller) -> WxResult {
    let menus = s
        .platform
        .menus
        .get(&caller.account.id)
        .map_err(menu_refused)?;
    serde_json::to_value(menus)
        .map(Json)
        .map_err(|e| WxError::new(-1, format!("system error: {e}")))
}

/// `GET /cgi-bin/menu/delete`: the default and every conditional menu.
async fn menu_delete(State(s): State<AppState>, caller: Caller) -> WxResult {
    s.platform
        .menus
        .delete_all(&caller.account.id)
        .map_err(menu_refused)?
        .durable()
        .await
        .map_err(menu_refused)?;
    publish(&s.platform, &caller.account.id).await?;
    ok()
}

/// `POST /cgi-bin/menu/addconditional {"button":[…],"matchrule":{…}}` → `{"menuid"}`.
async fn menu_add_conditional(
    State(s): State<AppState>,
    caller: Caller,
    WxBody(body): WxBody,
) -> WxResult {
    let input = menu_input(body)?;
    let menuid = s
        .platform
        .add_conditional_menu(&caller.account.id, input)
        .map_err(menu_refused)?
        .durable()
        .await
        .map_err(menu_refused)?;
    publish(&s.platform, &caller.account.id).await?;
    Ok(Json(json!({ "menuid": menuid })))
}

/// `POST /cgi-bin/menu/delconditional {"menuid"}`.
async fn menu_del_conditional(
    State(s): State<AppState>,
    caller: Caller,
    WxBody(body): WxBody,
) -> WxResult {
    let menuid = match body.get("menuid") {
        Some(Value::String(m)) => m.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err(WxError::invalid_args("menuid missing")),
    };
    s.platform
        .menus
        .delete_conditional(&caller.account.id, &menuid)
        .map_err(menu_refused)?
        .durable()
        .await
        .map_err(menu_refused)?;
    publish(&s.platform, &caller.account.id).await?;
    ok()
}

// ---- tags ----

fn tag_section(body: &Value) -> Result<&Value, WxError> {
    body.get("tag")
        .filter(|t| t.is_object())
        .ok_or_else(|| WxError::invalid_args("tag missing"))
}

/// `POST /cgi-bin/tags/create {"tag":{"name"}}` → `{"tag":{"id","name"}}`.
async fn tags_create(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account.id;
    let name = str_field(tag_section(&body)?, "name")
        .ok_or_else(|| WxError::invalid_args("tag.name missing"))?;
    let tag = s
        .platform
        .followers
        .create_tag(account, name, s.platform.clock.now_ms())
        .map_err(refused(Api::TagCreate))?
        .durable()
        .await
        .map_err(refused(Api::TagCreate))?;
    let id = tag_ids(&s.platform, account)?
        .get(&tag.name)
        .copied()
        .unwrap_or(tag.id);
    Ok(Json(json!({ "tag": { "id": id, "name": tag.name } })))
}

fn tag_ids(platform: &Platform, account: &str) -> Result<BTreeMap<String, u64>, WxError> {
    platform
        .followers
        .tag_id_map(account)
        .map_err(refused(Api::Tags))
}

/// `GET /cgi-bin/tags/get` → `{"tags":[{"id","name","count"}]}`.
async fn tags_get(State(s): State<AppState>, caller: Caller) -> WxResult {
    let account = &caller.account.id;
    tag_ids(&s.platform, account)?;
    let tags: Vec<Value> = s
        .platform
        .followers
        .list_tags(account)
        .map_err(refused(Api::Tags))?
        .into_iter()
        .map(|t| json!({ "id": t.id, "name": t.name, "count": t.followers }))
        .collect();
    Ok(Json(json!({ "tags": tags })))
}

fn tag_name(platform: &Platform, account: &str, id: Option<u64>) -> Result<String, WxError> {
    let id = id.ok_or_else(|| WxError::invalid_args("tag id missing"))?;
    Ok(platform
        .followers
        .tag_by_id(account, id)
        .map_err(refused(Api::Tags))?
        .name)
}

/// `POST /cgi-bin/tags/update {"tag":{"id","name"}}`.
async fn tags_update(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account.id;
    let tag = tag_section(&body)?;
    let from = tag_name(&s.platform, account, id_field(tag.get("id")))?;
    let to = str_field(tag, "name").ok_or_else(|| WxError::invalid_args("tag.name missing"))?;
    s.platform
        .followers
        .rename_tag(account, &from, to)
        .await
        .map_err(refused(Api::TagCreate))?;
    ok()
}

/// `POST /cgi-bin/tags/delete {"tag":{"id"}}`.
async fn tags_delete(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account.id;
    let name = tag_name(
        &s.platform,
        account,
        id_field(tag_section(&body)?.get("id")),
    )?;
    s.platform
        .followers
        .delete_tag(account, &name)
        .await
        .map_err(refused(Api::Tags))?;
    ok()
}

/// `POST /cgi-bin/tags/members/batchtagging {"openid_list","tagid"}`.
async fn tags_tag(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account.id;
    let name = tag_name(&s.platform, account, id_field(body.get("tagid")))?;
    let ids = openid_list(&body, "openid_list")?;
    s.platform
        .followers
        .tag_many(account, &ids, &name)
        .map_err(refused(Api::TagMembers))?
        .durable()
        .await
        .map_err(refused(Api::TagMembers))?;
    ok()
}

/// `POST /cgi-bin/tags/members/batchuntagging {"openid_list","tagid"}`.
async fn tags_untag(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account.id;
    let name = tag_name(&s.platform, account, id_field(body.get("tagid")))?;
    let ids = openid_list(&body, "openid_list")?;
    s.platform
        .followers
        .untag_many(account, &ids, &name)
        .map_err(refused(Api::TagMembers))?
        .durable()
        .await
        .map_err(refused(Api::TagMembers))?;
    ok()
}

fn tag_id_list(ids: &BTreeMap<String, u64>, f: &Follower) -> Vec<u64> {
    f.tags.iter().filter_map(|t| ids.get(t).copied()).collect()
}

fn follower(platform: &Platform, account: &str, openid: &str) -> Result<Follower, WxError> {
    platform
        .followers
        .get(account, openid)
        .map_err(refused(Api::Users))
}

/// `POST /cgi-bin/tags/getidlist {"openid"}` → `{"tagid_list":[…]}`.
async fn tags_of_user(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account.id;
    let openid = str_field(&body, "openid").ok_or_else(|| WxError::new(40003, "invalid openid"))?;
    let f = follower(&s.platform, account, openid)?;
    let ids = tag_ids(&s.platform, account)?;
    Ok(Json(json!({ "tagid_list": tag_id_list(&ids, &f) })))
}

/// One page of subscribed followers matching `pred`, after `after`, in openid order, as WeChat
/// pages them: `next_openid` is always present (the page's last openid); a request after the last
/// page gets `count: 0`, `next_openid: ""` and no `data`, which is what ends SDK iterators.
fn user_page(
    platform: &Platform,
    account: &str,
    after: Option<&str>,
    pred: impl Fn(&Follower) -> bool,
) -> Result<Value, WxError> {
    const SCAN: usize = 1000;
    let mut out: Vec<String> = Vec::new();
    let mut cursor = after.filter(|a| !a.is_empty()).map(str::to_string);
    'scan: loop {
        let (page, next) = platform
            .followers
            .list(account, cursor.as_deref(), SCAN)
            .map_err(refused(Api::Users))?;
        for f in &page {
            if f.subscribed && pred(f) {
                out.push(f.openid.clone());
                if out.len() == USER_PAGE {
                    break 'scan;
                }
            }
        }
        match (next, page.last()) {
            (Some(_), Some(last)) => cursor = Some(last.openid.clone()),
            _ => break,
        }
    }
    let mut v = json!({ "count": out.len() });
    match out.last() {
        Some(last) => {
            v["next_openid"] = json!(last);
            v["data"] = json!({ "openid": out });
        }
        None => v["next_openid"] = json!(""),
    }
    Ok(v)
}

/// `POST /cgi-bin/user/tag/get {"tagid","next_openid"}`.
async fn users_of_tag(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let account = &caller.account.id;
    let name = tag_name(&s.platform, account, id_field(body.get("tagid")))?;
    let page = user_page(&s.platform, account, str_field(&body, "next_openid"), |f| {
        f.tags.contains(&name)
    })?;
    Ok(Json(page))
}

// ---- users ----

fn user_json(f: &Follower, tag_ids: &BTreeMap<String, u64>, lang: &str) -> Value {
    if !f.subscribed {
        return json!({ "subscribe": 0, "openid": f.openid });
    }
    let sex = match f.gender.as_str() {
        "male" => 1,
        "female" => 2,
        _ => 0,
    };
    let (scene, qr_scene_str) = match f.subscribe_scene.as_deref() {
        Some(s) if s.starts_with("ADD_SCENE_") => (s.to_string(), String::new()),
        Some(s) if !s.is_empty() => ("ADD_SCENE_QR_CODE".to_string(), s.to_string()),
        _ => ("ADD_SCENE_OTHERS".to_string(), String::new()),
    };
    json!({
        "subscribe": 1,
        "openid": f.openid,
        "nickname": f.nickname,
        "sex": sex,
        "language": if f.language.is_empty() { lang } else { f.language.as_str() },
        "city": "",
        "province": f.region,
        "country": "",
        "headimgurl": "",
        "subscribe_time": f.subscribed_at / 1000,
        "remark": "",
        "groupid": 0,
        "tagid_list": tag_id_list(tag_ids, f),
        "subscribe_scene": scene,
        "qr_scene": 0,
        "qr_scene_str": qr_scene_str,
    })
}

/// `GET /cgi-bin/user/info?openid=&lang=`.
async fn user_info(State(s): State<AppState>, caller: Caller) -> WxResult {
    let account = &caller.account.id;
    let openid = caller
        .query
        .get("openid")
        .filter(|o| !o.is_empty())
        .ok_or_else(|| WxError::new(40003, "invalid openid"))?;
    let lang = caller.query.get("lang").map_or("zh_CN", String::as_str);
    let f = follower(&s.platform, account, openid)?;
    let ids = tag_ids(&s.platform, account)?;
    Ok(Json(user_json(&f, &ids, lang)))
}

/// `POST /cgi-bin/user/info/batchget {"user_list":[{"openid","lang"}]}` (at most 100).
async fn user_batchget(
    State(s): State<AppState>,
    caller: Caller,
    WxBody(body): WxBody,
) -> WxResult {
    let account = &caller.account.id;
    let list = body
        .get("user_list")
        .and_then(Value::as_array)
        .ok_or_else(|| WxError::invalid_args("user_list missing"))?;
    if list.is_empty() || list.len() > MAX_BATCHGET {
        return Err(WxError::new(
            40032,
            format!("invalid openid list size: 1-{MAX_BATCHGET}"),
        ));
    }
    let ids = tag_ids(&s.platform, account)?;
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let (openid, lang) = match item {
            Value::String(o) => (o.as_str(), "zh_CN"),
            v => (
                str_field(v, "openid").ok_or_else(|| WxError::new(40003, "invalid openid"))?,
                str_field(v, "lang").unwrap_or("zh_CN"),
            ),
        };
        let f = follower(&s.platform, account, openid)?;
        out.push(user_json(&f, &ids, lang));
    }
    Ok(Json(json!({ "user_info_list": out })))
}

/// `GET /cgi-bin/user/get?next_openid=` → `{"total","count","data":{"openid":[…]},"next_openid"}`.
async fn user_get(State(s): State<AppState>, caller: Caller) -> WxResult {
    let account = &caller.account.id;
    let total = s
        .platform
        .subscribed_followers(account, |_| true)
        .map_err(refused(Api::Users))?
        .len();
    let mut page = user_page(
        &s.platform,
        account,
        caller.query.get("next_openid").map(String::as_str),
        |_| true,
    )?;
    page["total"] = json!(total);
    Ok(Json(page))
}

// ---- data cube ----

/// The days `begin_date..=end_date` of a datacube request: `YYYY-MM-DD` (61500 otherwise), at
/// most 7 days, ending yesterday at the latest in the account's timezone (61501 otherwise).
fn datacube_days(
    platform: &Platform,
    account: &Account,
    body: &Value,
) -> Result<(chrono_tz::Tz, NaiveDate, NaiveDate), WxError> {
    let date = |name: &str| {
        str_field(body, name)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
            .ok_or_else(|| WxError::new(61500, format!("date format error: {name}")))
    };
    let (begin, end) = (date("begin_date")?, date("end_date")?);
    let tz: chrono_tz::Tz = account
        .timezone
        .parse()
        .map_err(|_| WxError::new(-1, "system error: account timezone"))?;
    let today = tz
        .timestamp_millis_opt(platform.clock.now_ms() as i64)
        .single()
        .map(|t| t.date_naive())
        .ok_or_else(|| WxError::new(-1, "system error: clock"))?;
    let span = (end - begin).num_days();
    if !(0..7).contains(&span) || end >= today {
        return Err(WxError::new(
            61501,
            "date range error: at most 7 days, ending yesterday at the latest",
        ));
    }
    Ok((tz, begin, end))
}

fn days(begin: NaiveDate, end: NaiveDate) -> Vec<NaiveDate> {
    let mut out = Vec::new();
    let mut d = begin;
    while d <= end {
        out.push(d);
        d += Duration::days(1);
    }
    out
}

/// `POST /datacube/getusersummary` → `{"list":[{"ref_date","user_source","new_user","cancel_user"}]}`
/// from the event log's daily counts of subscribe and unsubscribe events.
async fn user_summary(State(s): State<AppState>, caller: Caller, WxBody(body): WxBody) -> WxResult {
    let (tz, begin, end) = datacube_days(&s.platform, &caller.account, &body)?;
    let platform = s.platform.clone();
    let account = caller.account.id.clone();
    let counts = tokio::task::spawn_blocking(move || {
        let kinds = KindSelector::parse_list(["follower_event"])?;
        platform.events.daily(&account, tz, begin, end, &kinds)
    })
    .await
    .map_err(|e| WxError::new(-1, format!("system error: {e}")))?
    .map_err(refused(Api::DataCube))?;
    let list: Vec<Value> = counts
        .iter()
        .map(|day| {
            let n = |event: &str| {
                day.detail
                    .get("follower_event")
                    .and_then(|d| d.get(event))
                    .copied()
                    .unwrap_or(0)
            };
            json!({
                "ref_date": day.date,
                "user_source": 0,
                "new_user": n("subscribe"),
                "cancel_user": n("unsubscribe"),
            })
        })
        .collect();
    Ok(Json(json!({ "list": list })))
}

/// `POST /datacube/getusercumulate` → `{"list":[{"ref_date","cumulate_user"}]}`: followers
/// subscribed at the end of each day, from the follower records.
async fn user_cumulate(
    State(s): State<AppState>,
    caller: Caller,
    WxBody(body): WxBody,
) -> WxResult {
    let (tz, begin, end) = datacube_days(&s.platform, &caller.account, &body)?;
    let dates = days(begin, end);
    let ends: Vec<u64> = dates
        .iter()
        .map(|d| {
            let next = *d + Duration::days(1);
            next.and_hms_opt(0, 0, 0)
                .and_then(|m| tz.from_local_datetime(&m).earliest())
                .map(|t| t.timestamp_millis().max(0) as u64)
                .unwrap_or(0)
        })
        .collect();
    let platform = s.platform.clone();
    let account = caller.account.id.clone();
    let ends2 = ends.clone();
    let counts = tokio::task::spawn_blocking(move || {
        let mut counts = vec![0u64; ends2.len()];
        platform.followers.for_each(&account, &mut |f| {
            for (i, eod) in ends2.iter().enumerate() {
                let joined = f.subscribed_at < *eod;
                let still = f.subscribed || f.unsubscribed_at.is_some_and(|u| u >= *eod);
                if joined && still {
                    counts[i] += 1;
                }
            }
            Ok(())
        })?;
        Ok::<_, PlazaError>(counts)
    })
    .await
    .map_err(|e| WxError::new(-1, format!("system error: {e}")))?
    .map_err(refused(Api::DataCube))?;
    let list: Vec<Value> = dates
        .iter()
        .zip(counts)
        .map(|(d, n)| json!({ "ref_date": d.format("%Y-%m-%d").to_string(), "cumulate_user": n }))
        .collect();
    Ok(Json(json!({ "list": list })))
}
