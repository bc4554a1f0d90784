//! The developer-server channel: Plaza speaks the WeChat push protocol outward, so bot code
//! written for WeChat (wechatpy, WeRoBot, node `wechat`, WxJava, …) attaches to a Plaza account
//! unchanged. See `reference/wechat-protocol.md` §1.
//!
//! An account has at most one developer server: a URL, the token and EncodingAESKey the bot
//! was configured with, the envelope mode and a priority. In the inbound pipeline it is one more
//! participant, ordered by priority among the account's plugins (ties: by name, as plugins are;
//! its name is [`PARTICIPANT`]). Its turn: the message is written as the push WeChat would send
//! (`ToUserName` = the account's original id), sealed in the server's mode (the encryption appid
//! is the account's AppID), and POSTed; the passive reply in the answer is the participant's
//! reply. Like WeChat, Plaza gives each attempt [`PushOptions::attempt_timeout`] (5 s) and makes
//! [`PushOptions::attempts`] (3) attempts with the identical body, each re-signed with a fresh
//! timestamp and nonce; a timeout, connection error or non-2xx answer is retried. `success` or an
//! empty body means "no reply": the next participant gets its turn. A malformed reply or every
//! attempt failing is logged (every attempt is an `http_outbound` event of the account, plugin
//! `developer-server`) and the pipeline goes on as after a plugin that failed.
//!
//! The token and key are stored as given (the host needs them to sign and encrypt) and never
//! leave it again: the admin API shows only whether they are set.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;

use super::Inbound;
use crate::accounts::refuse_control_chars;
use crate::error::{PlazaError, Result};
use crate::http_outbound::policy::{Host, Scheme};
use crate::http_outbound::{OutboundRecord, Target};
use crate::messaging::content::MessageContent;
use crate::platform::Platform;
use crate::storage::backend::key;
use crate::storage::{Json, Pending, Store, Table};
use crate::wechat::crypto::{SecureKey, validate_encoding_aes_key};
use crate::wechat::envelope::{Mode, open_reply, seal_push};
use crate::wechat::identity::{appid_for, original_id_for};
use crate::wechat::message::{read_reply, write_push};
use crate::wechat::signature::{msg_signature, signature};
use crate::wechat::xml::parse;

/// The developer server's name as a participant: in outbox entries (`plugin`), in the event log
/// and in priority ties. No plugin may take this name.
pub const PARTICIPANT: &str = "developer-server";
/// Longest developer-server URL.
pub const MAX_URL_LEN: usize = 512;
/// WeChat's token bounds (3–32 letters and digits).
pub const TOKEN_LEN: std::ops::RangeInclusive<usize> = 3..=32;
/// WeChat's timeout per push attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// WeChat's deliveries of one push ("总共重试三次", read as three in total).
pub const ATTEMPTS: u32 = 3;
/// Largest reply read from a developer server; a passive reply is a few kilobytes.
pub const MAX_REPLY_BYTES: usize = 1 << 20;

/// How pushes are retried. [`Default`] is WeChat's: 3 attempts of 5 s each. `plaza serve`
/// takes both from its options, so tests can shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushOptions {
    pub attempt_timeout: Duration,
    pub attempts: u32,
}

impl Default for PushOptions {
    fn default() -> Self {
        PushOptions {
            attempt_timeout: ATTEMPT_TIMEOUT,
            attempts: ATTEMPTS,
        }
    }
}

/// An account's developer server, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeveloperServer {
    pub url: String,
    pub token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_aes_key: Option<String>,
    pub mode: Mode,
    /// Higher runs first, as an installation's priority.
    pub priority: i32,
    pub updated_at: u64,
}

/// `PUT /accounts/{a}/developer-server`: the whole setting. A token or key left out keeps the
/// stored one (so the secrets need not be typed again to change the URL or priority).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeveloperServerRequest {
    pub url: String,
    pub token: Option<String>,
    pub encoding_aes_key: Option<String>,
    /// Default `plain`.
    #[serde(default)]
    pub mode: Mode,
    /// Default 0, as an installation's.
    #[serde(default)]
    pub priority: i32,
}

/// What the admin API shows: never the token or key, only whether they are set; and the
/// identity the bot must be configured with.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeveloperServerView {
    pub account: String,
    pub url: String,
    pub mode: Mode,
    pub priority: i32,
    pub token_set: bool,
    pub encoding_aes_key_set: bool,
    /// The AppID the bot decrypts and encrypts with (`WeChatCrypto(token, key, appid)`).
    pub appid: String,
    /// The `ToUserName` of every push.
    pub original_id: String,
    pub updated_at: u64,
}

impl DeveloperServer {
    pub fn view(&self, account: &str) -> DeveloperServerView {
        DeveloperServerView {
            account: account.to_string(),
            url: self.url.clone(),
            mode: self.mode,
            priority: self.priority,
            token_set: !self.token.is_empty(),
            encoding_aes_key_set: self.encoding_aes_key.is_some(),
            appid: appid_for(account),
            original_id: original_id_for(account),
            updated_at: self.updated_at,
        }
    }
}

/// An absolute `http://` or `https://` URL with a host, no fragment, no spaces or controls.
/// Any port is accepted (WeChat allows only 80 and 443; an operator's bot may sit elsewhere,
/// loopback included: the operator chose it, so it is not vetted like a plugin's request).
pub fn validate_url(url: &str) -> Result<()> {
    let bad = |why: &str| {
        PlazaError::invalid(format!(
            "developer-server url {url:?} {why}; give an absolute http:// or https:// URL such as https://bot.example.com/wechat"
        ))
    };
    if url.len() > MAX_URL_LEN {
        return Err(bad(&format!("is longer than {MAX_URL_LEN} bytes")));
    }
    refuse_control_chars("developer-server url", url, &[])?;
    if url.contains([' ', '#']) {
        return Err(bad("contains a space or a fragment"));
    }
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(bad("is not http or https"));
    }
    let uri: http::Uri = url.parse().map_err(|_| bad("does not parse"))?;
    Target::from_uri(&uri).map_err(|e| bad(&format!("is not usable ({e})")))?;
    Ok(())
}

/// 3–32 letters and digits, as WeChat's configuration page requires.
pub fn validate_token(token: &str) -> Result<()> {
    if !TOKEN_LEN.contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(PlazaError::invalid(format!(
            "developer-server token must be {}-{} letters and digits",
            TOKEN_LEN.start(),
            TOKEN_LEN.end()
        )));
    }
    Ok(())
}

impl DeveloperServerRequest {
    /// The setting this request makes, over what is stored (`stored`): validated as a whole.
    pub fn resolve(self, stored: Option<&DeveloperServer>, now: u64) -> Result<DeveloperServer> {
        validate_url(&self.url)?;
        let token = match (self.token, stored) {
            (Some(t), _) => t,
            (None, Some(s)) => s.token.clone(),
            (None, None) => {
                return Err(PlazaError::invalid(
                    "developer-server token is required (3-32 letters and digits, as configured in the bot)",
                ));
            }
        };
        validate_token(&token)?;
        let encoding_aes_key = match self.encoding_aes_key {
            Some(k) => Some(k),
            None => stored.and_then(|s| s.encoding_aes_key.clone()),
        };
        if let Some(k) = &encoding_aes_key {
            validate_encoding_aes_key(k).map_err(|e| {
                PlazaError::invalid(format!("developer-server encoding_aes_key: {e}"))
            })?;
        } else if self.mode.encrypts() {
            return Err(PlazaError::invalid(format!(
                "developer-server mode {:?} encrypts: an encoding_aes_key (43 letters and digits) is required",
                mode_name(self.mode)
            )));
        }
        Ok(DeveloperServer {
            url: self.url,
            token,
            encoding_aes_key,
            mode: self.mode,
            priority: self.priority,
            updated_at: now,
        })
    }
}

fn mode_name(mode: Mode) -> &'static str {
    match mode {
        Mode::Plain => "plain",
        Mode::Compatible => "compatible",
        Mode::Secure => "secure",
    }
}

/// `account` → its developer server.
pub struct DeveloperServers {
    store: Arc<Store>,
    table: Table<Json<DeveloperServer>>,
    pub options: PushOptions,
}

impl DeveloperServers {
    pub fn new(store: Arc<Store>, options: PushOptions) -> Result<Self> {
        Ok(DeveloperServers {
            table: store.table("developer_servers")?,
            store,
            options,
        })
    }

    pub fn get(&self, account: &str) -> Result<Option<DeveloperServer>> {
        self.table.get(&key(&[account]))
    }

    /// The account's developer server, or a typed not-found.
    pub fn require(&self, account: &str) -> Result<DeveloperServer> {
        self.get(account)?.ok_or_else(|| {
            PlazaError::not_found(format!(
                "account {account:?} has no developer server; set one with PUT /api/v1/accounts/{account}/developer-server"
            ))
        })
    }

    /// Validates `req` over the stored setting and replaces it, in one unit of work.
    pub fn put(
        &self,
        account: &str,
        req: DeveloperServerRequest,
        now: u64,
    ) -> Result<Pending<DeveloperServer>> {
        self.store.write(|tx| {
            let k = key(&[account]);
            let stored = tx.get(&self.table, &k)?;
            let server = req.clone().resolve(stored.as_ref(), now)?;
            tx.put(&self.table, &k, &server)?;
            Ok(server)
        })
    }

    /// Removes the setting; `false` when there was none.
    pub fn delete(&self, account: &str) -> Result<Pending<bool>> {
        self.store
            .write(|tx| tx.delete(&self.table, &key(&[account])))
    }
}

/// Whether a plugin with this priority and name runs before the developer server.
pub fn plugin_runs_first(priority: i32, plugin: &str, server: &DeveloperServer) -> bool {
    priority > server.priority || (priority == server.priority && plugin < PARTICIPANT)
}

/// The push's URL parameters re-signed for another attempt: a fresh timestamp and nonce, the
/// same body (`encrypt` is its `<Encrypt>`, when it has one).
fn resign(
    query: &[(&'static str, String)],
    token: &str,
    encrypt: Option<&str>,
    timestamp: &str,
    nonce: &str,
) -> Vec<(&'static str, String)> {
    query
        .iter()
        .map(|(name, value)| {
            let value = match *name {
                "signature" => signature(token, timestamp, nonce),
                "timestamp" => timestamp.to_string(),
                "nonce" => nonce.to_string(),
                "msg_signature" => msg_signature(token, timestamp, nonce, encrypt.unwrap_or("")),
                _ => value.clone(),
            };
            (*name, value)
        })
        .collect()
}

/// `url` with the push's parameters appended (after any query the operator's URL has).
fn with_query(url: &str, query: &[(&'static str, String)]) -> String {
    let mut out = url.to_string();
    let mut sep = if url.contains('?') { '&' } else { '?' };
    for (name, value) in query {
        out.push(sep);
        out.push_str(name);
        out.push('=');
        out.extend(utf8_percent_encode(value, NON_ALPHANUMERIC));
        sep = '&';
    }
    out
}

/// A random numeric nonce, as WeChat sends.
fn nonce() -> String {
    let mut b = [0u8; 4];
    // Without entropy the nonce is still unique enough per second for signatures (it is not a
    // secret); the timestamp differs between attempts anyway.
    let _ = getrandom::fill(&mut b);
    (u32::from_be_bytes(b) % 1_000_000_000).to_string()
}

/// How one attempt ended.
enum Attempt {
    /// A 2xx answer with this body.
    Answered(u16, Bytes),
    /// A non-2xx answer: retried.
    Status(u16),
    /// No answer (connect, protocol, timeout): retried.
    Failed(String),
}

/// POSTs `body` to `url` within `timeout` (connect, send and reading the answer together).
async fn post_xml(uri: &http::Uri, target: &Target, body: &str, timeout: Duration) -> Attempt {
    match tokio::time::timeout(timeout, exchange(uri, target, body)).await {
        Err(_) => Attempt::Failed(format!(
            "no answer within {} ms",
            u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX)
        )),
        Ok(Err(e)) => Attempt::Failed(e),
        Ok(Ok((status, bytes))) if (200..300).contains(&status) => Attempt::Answered(status, bytes),
        Ok(Ok((status, _))) => Attempt::Status(status),
    }
}

async fn exchange(
    uri: &http::Uri,
    target: &Target,
    body: &str,
) -> std::result::Result<(u16, Bytes), String> {
    let tcp = match &target.host {
        Host::Ip(ip) => TcpStream::connect((*ip, target.port)).await,
        Host::Name(name) => TcpStream::connect((name.as_str(), target.port)).await,
    }
    .map_err(|e| format!("cannot connect to {target}: {e}"))?;
    let _ = tcp.set_nodelay(true);
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let request = http::Request::post(path)
        .header(http::header::HOST, target.host_header())
        .header(http::header::CONTENT_TYPE, "text/xml; charset=utf-8")
        .header(http::header::USER_AGENT, crate::http_outbound::USER_AGENT)
        .header(http::header::CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|e| format!("cannot build the request: {e}"))?;
    match target.scheme {
        Scheme::Http => send_over(tcp, request).await,
        Scheme::Https => {
            let tls = crate::http_outbound::tls_connect(target, tcp)
                .await
                .map_err(|e| e.to_string())?;
            send_over(tls, request).await
        }
    }
}

/// One HTTP/1.1 exchange over an open connection; the connection is driven alongside.
async fn send_over<IO>(
    io: IO,
    request: http::Request<Full<Bytes>>,
) -> std::result::Result<(u16, Bytes), String>
where
    IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
        .await
        .map_err(|e| format!("HTTP handshake: {e}"))?;
    let exchange = async move {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), MAX_REPLY_BYTES)
            .collect()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, bytes))
    };
    let mut exchange = std::pin::pin!(exchange);
    let mut conn = std::pin::pin!(conn);
    let mut conn_done = false;
    loop {
        tokio::select! {
            r = &mut exchange => return r,
            _ = &mut conn, if !conn_done => conn_done = true,
        }
    }
}

/// Reads a 2xx answer's body as a passive reply: `None` for no reply.
fn read_answer(
    body: &[u8],
    token: &str,
    key: Option<&SecureKey>,
) -> std::result::Result<Option<MessageContent>, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the reply is not UTF-8".to_string())?;
    let Some(doc) = open_reply(text, token, key).map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    read_reply(&doc).map_err(|e| e.message())
}

impl Platform {
    /// The developer server's turn for one inbound: push, retry as WeChat does, read the reply.
    /// `None` when it has nothing to say, answered badly or could not be reached (logged, and
    /// each attempt recorded as an `http_outbound` event).
    pub(crate) async fn push_to_developer_server(
        &self,
        account: &str,
        server: &DeveloperServer,
        inbound: &Inbound,
    ) -> Option<MessageContent> {
        let appid = appid_for(account);
        let key = match server
            .encoding_aes_key
            .as_deref()
            .map(|k| SecureKey::new(k, &appid))
        {
            None => None,
            Some(Ok(k)) => Some(k),
            Some(Err(e)) => {
                tracing::error!(account, error = %e, "developer server: stored key is unusable");
                return None;
            }
        };
        let uri: http::Uri = match server.url.parse() {
            Ok(u) => u,
            Err(e) => {
                tracing::error!(account, error = %e, "developer server: stored url is unusable");
                return None;
            }
        };
        let target = match Target::from_uri(&uri) {
            Ok(t) => t,
            Err(e) => {
                tracing::error!(account, error = %e, "developer server: stored url is unusable");
                return None;
            }
        };
        let original_id = original_id_for(account);
        let xml = write_push(&original_id, inbound);
        let stamp = || ((self.clock.now_ms() / 1000).to_string(), nonce());
        let (timestamp, first_nonce) = stamp();
        let sealed = seal_push(
            &xml,
            &original_id,
            &inbound.from,
            server.mode,
            &server.token,
            key.as_ref(),
            &timestamp,
            &first_nonce,
        );
        let encrypt = parse(&sealed.body)
            .ok()
            .and_then(|d| d.non_empty("Encrypt").map(str::to_string));
        let options = self.developer_servers.options;
        let attempts = options.attempts.max(1);
        for attempt in 1..=attempts {
            let query = if attempt == 1 {
                sealed.query.clone()
            } else {
                let (ts, n) = stamp();
                resign(&sealed.query, &server.token, encrypt.as_deref(), &ts, &n)
            };
            let url: http::Uri = match with_query(&server.url, &query).parse() {
                Ok(u) => u,
                Err(e) => {
                    tracing::error!(account, error = %e, "developer server: push url is unusable");
                    return None;
                }
            };
            let started = Instant::now();
            let outcome = post_xml(&url, &target, &sealed.body, options.attempt_timeout).await;
            let record = |status: Option<u16>, error: Option<String>| OutboundRecord {
                plugin: PARTICIPANT.to_string(),
                method: "POST".to_string(),
                scheme: target.scheme.as_str().to_string(),
                host: target.host.to_string(),
                port: target.port,
                status,
                refused: None,
                error,
                duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            };
            match outcome {
                Attempt::Answered(status, body) => {
                    return match read_answer(&body, &server.token, key.as_ref()) {
                        Ok(reply) => {
                            crate::http_outbound::record(
                                self,
                                account,
                                &record(Some(status), None),
                            );
                            reply
                        }
                        Err(why) => {
                            let why = format!("malformed passive reply: {why}");
                            crate::http_outbound::record(
                                self,
                                account,
                                &record(Some(status), Some(why)),
                            );
                            None
                        }
                    };
                }
                Attempt::Status(status) => {
                    crate::http_outbound::record(
                        self,
                        account,
                        &record(
                            Some(status),
                            Some(format!("attempt {attempt} of {attempts}: HTTP {status}")),
                        ),
                    );
                }
                Attempt::Failed(why) => {
                    crate::http_outbound::record(
                        self,
                        account,
                        &record(
                            None,
                            Some(format!("attempt {attempt} of {attempts}: {why}")),
                        ),
                    );
                }
            }
        }
        tracing::warn!(
            account,
            attempts,
            "developer server: every push attempt failed; the next participant answers"
        );
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn req(
        url: &str,
        token: Option<&str>,
        key: Option<&str>,
        mode: Mode,
    ) -> DeveloperServerRequest {
        DeveloperServerRequest {
            url: url.into(),
            token: token.map(str::to_string),
            encoding_aes_key: key.map(str::to_string),
            mode,
            priority: 0,
        }
    }

    fn invalid(r: Result<DeveloperServer>) -> String {
        match r {
            Err(PlazaError::Invalid(m)) => m,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn urls_must_be_absolute_http_or_https() {
        for ok in [
            "http://127.0.0.1:8765/",
            "https://bot.example.com/wechat",
            "http://localhost:9000/wx?account=1",
            "HTTPS://Bot.Example.com",
        ] {
            validate_url(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "",
            "/wechat",
            "bot.example.com/wechat",
            "ftp://bot.example.com/",
            "http://",
            "http://bot example.com/",
            "http://bot.example.com/#x",
            "http://bot.example.com/\n",
            "http://bot.example.com:0/",
        ] {
            assert!(
                matches!(validate_url(bad), Err(PlazaError::Invalid(_))),
                "{bad:?} accepted"
            );
        }
        assert!(validate_url(&format!("http://a.example/{}", "x".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn tokens_are_3_to_32_letters_and_digits() {
        for ok in ["abc", "mytoken", "A1b2C3", &"x".repeat(32)] {
            validate_token(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in ["", "ab", &"x".repeat(33), "my-token", "my token", "tökén"] {
            assert!(validate_token(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn encrypted_modes_need_a_valid_key_and_plain_does_not() {
        let plain = req("http://h/", Some("tok"), None, Mode::Plain)
            .resolve(None, 1)
            .unwrap();
        assert_eq!(plain.encoding_aes_key, None);
        for mode in [Mode::Compatible, Mode::Secure] {
            let m = invalid(req("http://h/", Some("tok"), None, mode).resolve(None, 1));
            assert!(m.contains("encoding_aes_key"), "{m}");
            let m = invalid(req("http://h/", Some("tok"), Some("short"), mode).resolve(None, 1));
            assert!(m.contains("43"), "{m}");
            let s = req("http://h/", Some("tok"), Some(KEY), mode)
                .resolve(None, 1)
                .unwrap();
            assert_eq!(s.mode, mode);
        }
        // A key may be kept in plain mode, for switching modes later; it must still be valid.
        invalid(req("http://h/", Some("tok"), Some(&KEY[1..]), Mode::Plain).resolve(None, 1));
    }

    #[test]
    fn a_put_without_token_or_key_keeps_the_stored_ones() {
        let m = invalid(req("http://h/", None, None, Mode::Plain).resolve(None, 1));
        assert!(m.contains("token is required"), "{m}");
        let stored = req("http://old/", Some("tok123"), Some(KEY), Mode::Secure)
            .resolve(None, 1)
            .unwrap();
        let mut next = req("http://new/", None, None, Mode::Compatible);
        next.priority = -5;
        let s = next.resolve(Some(&stored), 2).unwrap();
        assert_eq!(s.token, "tok123");
        assert_eq!(s.encoding_aes_key.as_deref(), Some(KEY));
        assert_eq!(
            (s.url.as_str(), s.mode, s.priority),
            ("http://new/", Mode::Compatible, -5)
        );
        assert_eq!(s.updated_at, 2);
        // Given ones replace them, validated.
        assert!(
            req("http://new/", Some("x"), None, Mode::Plain)
                .resolve(Some(&stored), 3)
                .is_err()
        );
    }

    #[test]
    fn the_view_hides_the_secrets_and_names_the_identity() {
        let s = req("http://h/", Some("tok123"), Some(KEY), Mode::Secure)
            .resolve(None, 1)
            .unwrap();
        let v = serde_json::to_value(s.view("demo")).unwrap();
        let text = v.to_string();
        assert!(!text.contains("tok123") && !text.contains(KEY), "{text}");
        assert_eq!(v["token_set"], true);
        assert_eq!(v["encoding_aes_key_set"], true);
        assert_eq!(v["mode"], "secure");
        assert_eq!(v["appid"], appid_for("demo"));
        assert_eq!(v["original_id"], original_id_for("demo"));
    }

    #[test]
    fn requests_refuse_unknown_fields_and_modes() {
        let bad: std::result::Result<DeveloperServerRequest, _> =
            serde_json::from_str(r#"{"url":"http://h/","mode":"loud"}"#);
        assert!(bad.is_err());
        let bad: std::result::Result<DeveloperServerRequest, _> =
            serde_json::from_str(r#"{"url":"http://h/","token_set":true}"#);
        assert!(bad.is_err());
        let ok: DeveloperServerRequest =
            serde_json::from_str(r#"{"url":"http://h/","token":"abc","priority":7}"#).unwrap();
        assert_eq!((ok.mode, ok.priority), (Mode::Plain, 7));
    }

    #[test]
    fn priority_ties_are_broken_by_name_like_plugins() {
        let s = req("http://h/", Some("tok"), None, Mode::Plain)
            .resolve(None, 1)
            .unwrap();
        assert!(plugin_runs_first(1, "zzz", &s));
        assert!(!plugin_runs_first(-1, "aaa", &s));
        assert!(plugin_runs_first(0, "auto-reply", &s));
        assert!(!plugin_runs_first(0, "moderation", &s));
    }

    #[test]
    fn a_retry_is_re_signed_over_the_same_body() {
        let key = SecureKey::new(KEY, "wx1234567890abcdef").unwrap();
        let xml = "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><FromUserName><![CDATA[o1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hi]]></Content><MsgId>7</MsgId></xml>";
        let sealed = seal_push(
            xml,
            "gh_1",
            "o1",
            Mode::Secure,
            "tok",
            Some(&key),
            "100",
            "1",
        );
        let encrypt = parse(&sealed.body)
            .unwrap()
            .non_empty("Encrypt")
            .unwrap()
            .to_string();
        let q = resign(&sealed.query, "tok", Some(&encrypt), "200", "2");
        let get = |n: &str| {
            q.iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        assert_eq!(get("timestamp"), "200");
        assert_eq!(get("nonce"), "2");
        assert_eq!(get("signature"), signature("tok", "200", "2"));
        assert_eq!(
            get("msg_signature"),
            msg_signature("tok", "200", "2", &encrypt)
        );
        assert_eq!(get("openid"), "o1");
        assert_eq!(get("encrypt_type"), "aes");
        let query = crate::wechat::envelope::PushQuery {
            signature: Some(get("signature")),
            timestamp: Some(get("timestamp")),
            nonce: Some(get("nonce")),
            openid: Some(get("openid")),
            encrypt_type: Some(get("encrypt_type")),
            msg_signature: Some(get("msg_signature")),
            echostr: None,
        };
        let opened = crate::wechat::envelope::open_push(
            &query,
            &sealed.body,
            "tok",
            Some(&key),
            Mode::Secure,
        )
        .unwrap();
        assert_eq!(opened.doc.text_of("MsgId"), Some("7"));
    }

    #[test]
    fn query_parameters_are_appended_and_encoded() {
        let q = vec![
            ("signature", "ab".to_string()),
            ("openid", "o 1&x".to_string()),
        ];
        assert_eq!(
            with_query("http://h/wx", &q),
            "http://h/wx?signature=ab&openid=o%201%26x"
        );
        assert_eq!(
            with_query("http://h/wx?a=1", &q),
            "http://h/wx?a=1&signature=ab&openid=o%201%26x"
        );
        assert!(nonce().bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn answers_read_as_replies_no_reply_or_malformed() {
        assert_eq!(read_answer(b"", "tok", None), Ok(None));
        assert_eq!(read_answer(b"success", "tok", None), Ok(None));
        let reply = b"<xml><ToUserName><![CDATA[o1]]></ToUserName><FromUserName><![CDATA[gh_1]]></FromUserName><CreateTime>1</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[echo: hi]]></Content></xml>";
        assert_eq!(
            read_answer(reply, "tok", None),
            Ok(Some(MessageContent::Text {
                content: "echo: hi".into()
            }))
        );
        assert!(read_answer(b"{\"json\":1}", "tok", None).is_err());
        assert!(read_answer(&[0xff, 0xfe], "tok", None).is_err());
        assert!(read_answer(b"<xml><MsgType>dance</MsgType></xml>", "tok", None).is_err());
    }
}
