//! A client of WeChat's server API (`https://api.weixin.qq.com`, or a bridge's `api_base`) for
//! bridged accounts: the access token per account, cached in memory and refreshed before it
//! expires, one refresh at a time; every call with `access_token` in the query; JSON bodies in
//! UTF-8 as WeChat wants them (serde_json never `\u`-escapes non-ASCII, which WeChat's 40033
//! refuses); and WeChat's errors (HTTP 200 `{"errcode":N,"errmsg":…}`) as [`WechatError`].
//!
//! A token error (40001/40014/42001) drops the token, fetches a new one and retries the call
//! once; a second failure is the caller's error. Never more: WeChat counts token fetches
//! (2 000 a day) and an SDK that loops on 40001 exhausts them.

use common_multipart_rfc7578::client::multipart::{Body as MultipartBody, Form};
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use wasmtime_wasi_http::io::TokioIo;

use super::errors::WechatError;
use super::settings::WechatSettings;
use crate::messaging::content::MessageContent;

/// A token is fetched again when less than this remains of its `expires_in`.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// Connect, send and read the whole answer within this.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Most openids one `user/info/batchget` may name (WeChat's limit).
pub const USER_INFO_BATCH: usize = 100;
/// Largest answer read (WeChat's JSON answers are small; user lists are the largest).
pub const MAX_ANSWER: usize = 4 << 20;

type Result<T, E = WechatError> = std::result::Result<T, E>;

/// A cached token and what it was fetched with (a changed AppID, secret or API base makes it
/// useless).
struct Token {
    value: String,
    refresh_at: Instant,
    fetched_with: (String, String, String),
}

/// One account's token. The async mutex is held while fetching, so concurrent callers without a
/// token wait for the one fetch instead of each making their own.
#[derive(Default)]
struct Slot {
    token: tokio::sync::Mutex<Option<Token>>,
}

/// The server-API client of every bridged account.
#[derive(Default)]
pub struct WechatClient {
    slots: Mutex<HashMap<String, Arc<Slot>>>,
}

/// What a template message carries to WeChat (`message/template/send`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TemplateSend {
    /// The template id, as WeChat issued it (a bridged account registers its WeChat templates
    /// under their WeChat ids).
    pub template_id: String,
    /// Field name → value, in the template's order.
    pub data: Vec<(String, String)>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `(appid, pagepath)` of a mini-program page to open instead of `url`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub miniprogram: Option<(String, String)>,
}

impl TemplateSend {
    fn body(&self, openid: &str) -> Value {
        let data: serde_json::Map<String, Value> = self
            .data
            .iter()
            .map(|(k, v)| (k.clone(), json!({ "value": v })))
            .collect();
        let mut body = json!({ "touser": openid, "template_id": self.template_id, "data": data });
        if let Some(url) = &self.url {
            body["url"] = json!(url);
        }
        if let Some((appid, pagepath)) = &self.miniprogram {
            body["miniprogram"] = json!({ "appid": appid, "pagepath": pagepath });
        }
        body
    }
}

/// The `message/custom/send` body for one message (§2.3 of the protocol notes). A link to one
/// article is a `news` message with that article; a transfer to customer service is only a
/// passive reply and has no customer-service form.
pub fn custom_message(openid: &str, content: &MessageContent) -> Result<Value> {
    let (msgtype, payload) = match content {
        MessageContent::Text { content } => ("text", json!({ "content": content })),
        MessageContent::Image { media_id, .. } => ("image", json!({ "media_id": media_id })),
        MessageContent::Voice { media_id, .. } => ("voice", json!({ "media_id": media_id })),
        MessageContent::Video { media_id, .. } => ("video", json!({ "media_id": media_id })),
        MessageContent::News { articles } => (
            "news",
            json!({ "articles": articles.iter().map(|a| {
                let mut o = json!({ "title": a.title, "description": a.description, "url": a.url });
                if let Some(p) = &a.picture_url {
                    o["picurl"] = json!(p);
                }
                o
            }).collect::<Vec<_>>() }),
        ),
        MessageContent::ArticleLink {
            title,
            description,
            url,
        } => (
            "news",
            json!({ "articles": [{ "title": title, "description": description, "url": url }] }),
        ),
        MessageContent::Music {
            title,
            description,
            music_url,
            hq_music_url,
            thumb_media_id,
        } => {
            let mut m = json!({ "title": title, "description": description, "musicurl": music_url,
                "hqmusicurl": hq_music_url.as_deref().unwrap_or(music_url) });
            if let Some(t) = thumb_media_id {
                m["thumb_media_id"] = json!(t);
            }
            ("music", m)
        }
        MessageContent::MiniProgram {
            appid,
            page_path,
            title,
            thumb_media_id,
        } => (
            "miniprogrampage",
            json!({ "title": title, "appid": appid, "pagepath": page_path,
                "thumb_media_id": thumb_media_id }),
        ),
        MessageContent::TransferCustomerService => {
            return Err(WechatError::Unsupported(
                "a transfer to customer service is a passive reply only; it cannot be sent as a customer-service message".into(),
            ));
        }
    };
    Ok(json!({ "touser": openid, "msgtype": msgtype, msgtype: payload }))
}

/// The content part of a mass message (`message/mass/sendall` and `message/mass/send`): text,
/// image, voice and video (`mpvideo`) — the kinds Plaza content can express.
fn mass_content(content: &MessageContent) -> Result<(&'static str, Value)> {
    Ok(match content {
        MessageContent::Text { content } => ("text", json!({ "content": content })),
        MessageContent::Image { media_id, .. } => ("image", json!({ "media_id": media_id })),
        MessageContent::Voice { media_id, .. } => ("voice", json!({ "media_id": media_id })),
        MessageContent::Video { media_id, .. } => ("mpvideo", json!({ "media_id": media_id })),
        other => {
            return Err(WechatError::Unsupported(format!(
                "a {} message cannot be broadcast through WeChat's mass API",
                other.type_name()
            )));
        }
    })
}

impl WechatClient {
    pub fn new() -> Self {
        Self::default()
    }

    fn slot(&self, account: &str) -> Arc<Slot> {
        let mut slots = match self.slots.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        slots.entry(account.to_string()).or_default().clone()
    }

    /// The account's access token: the cached one while more than [`REFRESH_MARGIN`] of it
    /// remains, otherwise a new one from `/cgi-bin/token` (one fetch however many callers ask).
    pub async fn token(&self, account: &str, s: &WechatSettings) -> Result<String> {
        let slot = self.slot(account);
        let mut cached = slot.token.lock().await;
        let with = (s.api_base.clone(), s.appid.clone(), s.secret.clone());
        if let Some(t) = cached.as_ref()
            && t.fetched_with == with
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        let url = format!(
            "{}/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            s.api_base.trim_end_matches('/'),
            enc(&s.appid),
            enc(&s.secret)
        );
        let answer = checked(request(&url, None).await?)?;
        let value = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                WechatError::Transport("the token answer carries no access_token".into())
            })?
            .to_string();
        let expires_in = answer
            .get("expires_in")
            .and_then(Value::as_u64)
            .unwrap_or(7200);
        let lifetime = Duration::from_secs(expires_in).saturating_sub(REFRESH_MARGIN);
        tracing::debug!(account, expires_in, "fetched a WeChat access token");
        *cached = Some(Token {
            value: value.clone(),
            refresh_at: Instant::now() + lifetime,
            fetched_with: with,
        });
        Ok(value)
    }

    /// Drops the cached token if it is still `stale` (a concurrent caller may already have
    /// replaced it; then the new one is kept).
    async fn invalidate(&self, account: &str, stale: &str) {
        let slot = self.slot(account);
        let mut cached = slot.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == stale) {
            *cached = None;
        }
    }

    /// Calls `path` (e.g. `/cgi-bin/message/custom/send`) with the account's token: POST with
    /// `body` as JSON, GET without. `query` is added after the token. Retries once, with a new
    /// token, on a token error.
    pub async fn call(
        &self,
        account: &str,
        s: &WechatSettings,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let body = body
            .map(|b| serde_json::to_vec(b).map(Bytes::from))
            .transpose()
            .map_err(|e| WechatError::Unsupported(format!("request does not encode: {e}")))?;
        let mut retried = false;
        loop {
            let token = self.token(account, s).await?;
            let mut url = format!(
                "{}{path}?access_token={}",
                s.api_base.trim_end_matches('/'),
                enc(&token)
            );
            for (k, v) in query {
                url.push_str(&format!("&{k}={}", enc(v)));
            }
            match checked(request(&url, body.clone()).await?) {
                Err(e) if e.is_token_error() && !retried => {
                    tracing::info!(account, error = %e, "WeChat refused the access token; fetching a new one");
                    self.invalidate(account, &token).await;
                    retried = true;
                }
                Err(e) => {
                    if e.is_token_error() {
                        self.invalidate(account, &token).await;
                    }
                    return Err(e);
                }
                Ok(v) => return Ok(v),
            }
        }
    }

    /// `media/upload?type=…`: uploads one file as WeChat temporary media (kept 3 days by WeChat)
    /// and returns WeChat's `media_id`. `kind` is `image`, `voice`, `video` or `thumb`.
    pub async fn upload_media(
        &self,
        account: &str,
        s: &WechatSettings,
        kind: &str,
        filename: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<String> {
        let mime: mime::Mime = content_type
            .parse()
            .map_err(|e| WechatError::Unsupported(format!("content type {content_type:?}: {e}")))?;
        let mut retried = false;
        loop {
            // The form is built per attempt: its body is consumed by sending it.
            let mut form = Form::default();
            form.add_reader_file_with_mime(
                "media",
                std::io::Cursor::new(bytes.clone()),
                filename.to_string(),
                mime.clone(),
            );
            let form_type = form.content_type();
            let mut body = Vec::with_capacity(bytes.len() + 512);
            let mut parts = MultipartBody::from(form);
            while let Some(chunk) = parts.next().await {
                let chunk =
                    chunk.map_err(|e| WechatError::Unsupported(format!("multipart body: {e}")))?;
                body.extend_from_slice(&chunk);
            }
            let token = self.token(account, s).await?;
            let url = format!(
                "{}/cgi-bin/media/upload?access_token={}&type={}",
                s.api_base.trim_end_matches('/'),
                enc(&token),
                enc(kind)
            );
            match checked(request_as(&url, Some(Bytes::from(body)), &form_type).await?) {
                Err(e) if e.is_token_error() && !retried => {
                    self.invalidate(account, &token).await;
                    retried = true;
                }
                Err(e) => return Err(e),
                Ok(answer) => {
                    return answer
                        .get("media_id")
                        .and_then(Value::as_str)
                        .filter(|m| !m.is_empty())
                        .map(str::to_string)
                        .ok_or_else(|| {
                            WechatError::Transport("media/upload answered without media_id".into())
                        });
                }
            }
        }
    }

    /// `message/custom/send`.
    pub async fn send_custom(
        &self,
        account: &str,
        s: &WechatSettings,
        openid: &str,
        content: &MessageContent,
    ) -> Result<()> {
        let body = custom_message(openid, content)?;
        self.call(account, s, "/cgi-bin/message/custom/send", &[], Some(&body))
            .await
            .map(drop)
    }

    /// `message/template/send`; WeChat's `msgid` when it gives one.
    pub async fn send_template(
        &self,
        account: &str,
        s: &WechatSettings,
        openid: &str,
        template: &TemplateSend,
    ) -> Result<Option<i64>> {
        let body = template.body(openid);
        let answer = self
            .call(
                account,
                s,
                "/cgi-bin/message/template/send",
                &[],
                Some(&body),
            )
            .await?;
        Ok(answer.get("msgid").and_then(Value::as_i64))
    }

    /// `message/mass/sendall` to the followers with a tag; WeChat's `msg_id`.
    pub async fn mass_send_to_tag(
        &self,
        account: &str,
        s: &WechatSettings,
        tag_id: i64,
        content: &MessageContent,
    ) -> Result<Option<i64>> {
        let (msgtype, payload) = mass_content(content)?;
        let body = json!({ "filter": { "is_to_all": false, "tag_id": tag_id },
            "msgtype": msgtype, msgtype: payload });
        let answer = self
            .call(
                account,
                s,
                "/cgi-bin/message/mass/sendall",
                &[],
                Some(&body),
            )
            .await?;
        Ok(answer.get("msg_id").and_then(Value::as_i64))
    }

    /// `message/mass/send` to a list of openids; WeChat's `msg_id`.
    pub async fn mass_send_to_openids(
        &self,
        account: &str,
        s: &WechatSettings,
        openids: &[String],
        content: &MessageContent,
    ) -> Result<Option<i64>> {
        let (msgtype, payload) = mass_content(content)?;
        let body = json!({ "touser": openids, "msgtype": msgtype, msgtype: payload });
        let answer = self
            .call(account, s, "/cgi-bin/message/mass/send", &[], Some(&body))
            .await?;
        Ok(answer.get("msg_id").and_then(Value::as_i64))
    }

    /// `tags/create`: the new tag's id.
    pub async fn create_tag(&self, account: &str, s: &WechatSettings, name: &str) -> Result<i64> {
        let body = json!({ "tag": { "name": name } });
        let answer = self
            .call(account, s, "/cgi-bin/tags/create", &[], Some(&body))
            .await?;
        answer
            .pointer("/tag/id")
            .and_then(Value::as_i64)
            .ok_or_else(|| WechatError::Transport("tags/create answered without tag.id".into()))
    }

    /// `tags/get`: `(id, name, count)` of every tag.
    pub async fn tags(&self, account: &str, s: &WechatSettings) -> Result<Vec<(i64, String, u64)>> {
        let answer = self
            .call(account, s, "/cgi-bin/tags/get", &[], None)
            .await?;
        Ok(answer
            .get("tags")
            .and_then(Value::as_array)
            .map(|tags| {
                tags.iter()
                    .filter_map(|t| {
                        Some((
                            t.get("id")?.as_i64()?,
                            t.get("name")?.as_str()?.to_string(),
                            t.get("count").and_then(Value::as_u64).unwrap_or(0),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `tags/members/batchtagging` (WeChat takes at most 50 openids per call).
    pub async fn tag_followers(
        &self,
        account: &str,
        s: &WechatSettings,
        tag_id: i64,
        openids: &[String],
    ) -> Result<()> {
        let body = json!({ "openid_list": openids, "tagid": tag_id });
        self.call(
            account,
            s,
            "/cgi-bin/tags/members/batchtagging",
            &[],
            Some(&body),
        )
        .await
        .map(drop)
    }

    /// `user/info` as WeChat answers it (profile fields vary by account and era).
    pub async fn user_info(
        &self,
        account: &str,
        s: &WechatSettings,
        openid: &str,
    ) -> Result<Value> {
        self.call(
            account,
            s,
            "/cgi-bin/user/info",
            &[("openid", openid), ("lang", "zh_CN")],
            None,
        )
        .await
    }

    /// `user/get` from `next_openid` (empty for the first page): the page's openids and the
    /// `next_openid` WeChat gives. WeChat gives the page's last openid even when no page follows,
    /// so only an empty page (no `data`) or an empty `next_openid` ends a listing.
    pub async fn followers_page(
        &self,
        account: &str,
        s: &WechatSettings,
        next_openid: &str,
    ) -> Result<(Vec<String>, String)> {
        let answer = self
            .call(
                account,
                s,
                "/cgi-bin/user/get",
                &[("next_openid", next_openid)],
                None,
            )
            .await?;
        let openids = answer
            .pointer("/data/openid")
            .and_then(Value::as_array)
            .map(|ids| {
                ids.iter()
                    .filter_map(|o| o.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let next = answer
            .get("next_openid")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        Ok((openids, next))
    }

    /// `user/info/batchget` for at most [`USER_INFO_BATCH`] openids: WeChat's `user_info_list`,
    /// one object per user, as WeChat writes it.
    pub async fn user_infos(
        &self,
        account: &str,
        s: &WechatSettings,
        openids: &[String],
    ) -> Result<Vec<Value>> {
        let list: Vec<Value> = openids
            .iter()
            .map(|o| json!({ "openid": o, "lang": "zh_CN" }))
            .collect();
        let answer = self
            .call(
                account,
                s,
                "/cgi-bin/user/info/batchget",
                &[],
                Some(&json!({ "user_list": list })),
            )
            .await?;
        Ok(answer
            .get("user_info_list")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default())
    }

    /// `menu/delete`: the default menu and every conditional menu. An account without a menu
    /// (46003) is already in the state asked for.
    pub async fn delete_menu(&self, account: &str, s: &WechatSettings) -> Result<()> {
        match self
            .call(account, s, "/cgi-bin/menu/delete", &[], None)
            .await
        {
            Err(WechatError::Api { code: 46003, .. }) | Ok(_) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// `menu/addconditional` with `{"button":[…],"matchrule":{…}}`; WeChat's `menuid`.
    pub async fn add_conditional_menu(
        &self,
        account: &str,
        s: &WechatSettings,
        menu: &Value,
    ) -> Result<Option<String>> {
        let answer = self
            .call(account, s, "/cgi-bin/menu/addconditional", &[], Some(menu))
            .await?;
        Ok(answer.get("menuid").map(|m| match m {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }))
    }

    /// `menu/create` with a menu in WeChat's shape (`{"button":[…]}`).
    pub async fn create_menu(&self, account: &str, s: &WechatSettings, menu: &Value) -> Result<()> {
        self.call(account, s, "/cgi-bin/menu/create", &[], Some(menu))
            .await
            .map(drop)
    }
}

/// Everything but RFC 3986's unreserved characters is escaped in a query value.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, QUERY_VALUE).to_string()
}

/// WeChat's answer as data, or its error.
fn checked(answer: Value) -> Result<Value> {
    match answer.get("errcode").and_then(Value::as_i64) {
        Some(code) if code != 0 => Err(WechatError::Api {
            code,
            errmsg: answer
                .get("errmsg")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
        }),
        _ => Ok(answer),
    }
}

/// One HTTP/1.1 exchange (GET without a body, POST with one) and the answer as JSON.
async fn request(url: &str, body: Option<Bytes>) -> Result<Value> {
    request_as(url, body, "application/json; charset=utf-8").await
}

/// Like [`request`], with the body's content type.
async fn request_as(url: &str, body: Option<Bytes>, content_type: &str) -> Result<Value> {
    match tokio::time::timeout(CALL_TIMEOUT, exchange(url, body, content_type)).await {
        Ok(r) => r,
        Err(_) => Err(WechatError::Transport(format!(
            "no answer within {CALL_TIMEOUT:?}"
        ))),
    }
}

async fn exchange(url: &str, body: Option<Bytes>, content_type: &str) -> Result<Value> {
    let transport =
        |what: &str, e: &dyn std::fmt::Display| WechatError::Transport(format!("{what}: {e}"));
    let uri: http::Uri = url.parse().map_err(|e| transport("bad URL", &e))?;
    let host = uri
        .host()
        .ok_or_else(|| WechatError::Transport("URL without a host".into()))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let https = uri.scheme_str() == Some("https");
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| transport(&format!("cannot connect to {host}:{port}"), &e))?;
    let method = if body.is_some() {
        http::Method::POST
    } else {
        http::Method::GET
    };
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_else(|| host.clone());
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let mut req = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, authority)
        .header(http::header::USER_AGENT, "plaza-wechat-bridge");
    if body.is_some() {
        req = req.header(http::header::CONTENT_TYPE, content_type);
    }
    let req = req
        .body(Full::new(body.unwrap_or_default()))
        .map_err(|e| transport("bad request", &e))?;
    let response = if https {
        let roots = rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        // An explicit provider: the process-wide default panics if more than one is compiled in.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| transport("TLS", &e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|e| transport("TLS name", &e))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| transport("TLS", &e))?;
        send(TokioIo::new(tls), req).await?
    } else {
        send(TokioIo::new(tcp), req).await?
    };
    let status = response.status();
    let bytes = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| transport("reading the answer", &e))?
        .to_bytes();
    if !status.is_success() {
        return Err(WechatError::Transport(format!("HTTP status {status}")));
    }
    serde_json::from_slice(&bytes).map_err(|e| transport("the answer is not JSON", &e))
}

async fn send<IO>(
    io: IO,
    req: http::Request<Full<Bytes>>,
) -> Result<http::Response<hyper::body::Incoming>>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| WechatError::Transport(format!("HTTP: {e}")))?;
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "WeChat API connection ended");
        }
    });
    sender
        .send_request(req)
        .await
        .map_err(|e| WechatError::Transport(format!("HTTP: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messaging::content::Article;

    #[test]
    fn custom_messages_in_wechat_shape() {
        let text = custom_message(
            "o1",
            &MessageContent::Text {
                content: "你好".into(),
            },
        )
        .unwrap();
        assert_eq!(
            text,
            json!({"touser":"o1","msgtype":"text","text":{"content":"你好"}})
        );
        // UTF-8, not \u escapes.
        assert!(serde_json::to_string(&text).unwrap().contains("你好"));
        let link = custom_message(
            "o1",
            &MessageContent::ArticleLink {
                title: "T".into(),
                description: "D".into(),
                url: "https://x".into(),
            },
        )
        .unwrap();
        assert_eq!(
            link,
            json!({"touser":"o1","msgtype":"news","news":{"articles":[{"title":"T","description":"D","url":"https://x"}]}})
        );
        let news = custom_message(
            "o1",
            &MessageContent::News {
                articles: vec![Article {
                    title: "T".into(),
                    description: String::new(),
                    url: "u".into(),
                    picture_url: Some("p".into()),
                }],
            },
        )
        .unwrap();
        assert_eq!(news["news"]["articles"][0]["picurl"], "p");
        let mp = custom_message(
            "o1",
            &MessageContent::MiniProgram {
                appid: "wx0123456789abcdef".into(),
                page_path: "pages/i".into(),
                title: "T".into(),
                thumb_media_id: "m".into(),
            },
        )
        .unwrap();
        assert_eq!(mp["msgtype"], "miniprogrampage");
        assert_eq!(mp["miniprogrampage"]["pagepath"], "pages/i");
        assert!(custom_message("o1", &MessageContent::TransferCustomerService).is_err());
    }

    #[test]
    fn template_body() {
        let t = TemplateSend {
            template_id: "T1".into(),
            data: vec![("first".into(), "a".into())],
            url: Some("https://x".into()),
            miniprogram: None,
        };
        assert_eq!(
            t.body("o1"),
            json!({"touser":"o1","template_id":"T1","url":"https://x","data":{"first":{"value":"a"}}})
        );
    }
}
