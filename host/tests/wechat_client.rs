//! The WeChat server-API client against a stand-in of WeChat's API on a loopback port that
//! records every call: one token fetch under concurrency, one refresh and one retry on a token
//! error (never a loop), and WeChat's errcodes as Plaza's typed errors.

mod common;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use plaza_host::channels::wechat::client::WechatClient;
use plaza_host::channels::wechat::settings::WechatSettings;
use plaza_host::error::PlazaError;
use plaza_host::messaging::content::MessageContent;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use wasmtime_wasi_http::io::TokioIo;

/// One call the stand-in received.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    query: String,
    body: Value,
}

/// WeChat's API, scripted: `/cgi-bin/token` answers `tok-1`, `tok-2`, …; every other path
/// answers the next scripted answer, or `{"errcode":0,"errmsg":"ok"}` when none is left.
#[derive(Clone, Default)]
struct StandIn {
    calls: Arc<Mutex<Vec<Call>>>,
    plan: Arc<Mutex<VecDeque<Value>>>,
    tokens: Arc<Mutex<u32>>,
}

impl StandIn {
    async fn start() -> (StandIn, SocketAddr) {
        let s = StandIn::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let st = s.clone();
        tokio::spawn(async move {
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let st = st.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(st.answer(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        (s, addr)
    }

    async fn answer(
        &self,
        req: hyper::Request<hyper::body::Incoming>,
    ) -> hyper::Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        let query = req.uri().query().unwrap_or_default().to_string();
        let raw = req.into_body().collect().await.unwrap().to_bytes();
        let body = if raw.is_empty() {
            Value::Null
        } else {
            // Rejects anything but UTF-8 JSON, as WeChat does.
            serde_json::from_slice(&raw).unwrap()
        };
        self.calls.lock().unwrap().push(Call {
            path: path.clone(),
            query,
            body,
        });
        let answer = if path == "/cgi-bin/token" {
            let mut n = self.tokens.lock().unwrap();
            *n += 1;
            json!({"access_token": format!("tok-{n}"), "expires_in": 7200})
        } else {
            self.plan
                .lock()
                .unwrap()
                .pop_front()
                .unwrap_or_else(|| json!({"errcode":0,"errmsg":"ok"}))
        };
        hyper::Response::new(Full::new(Bytes::from(answer.to_string())))
    }

    fn script(&self, answers: &[Value]) {
        self.plan.lock().unwrap().extend(answers.iter().cloned());
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    fn token_fetches(&self) -> usize {
        self.calls()
            .iter()
            .filter(|c| c.path == "/cgi-bin/token")
            .count()
    }
}

fn settings(addr: SocketAddr) -> WechatSettings {
    WechatSettings {
        appid: "wx0123456789abcdef".into(),
        secret: "s3cret".into(),
        token: "tok".into(),
        encoding_aes_key: None,
        mode: Default::default(),
        api_base: format!("http://{addr}"),
    }
}

fn text(s: &str) -> MessageContent {
    MessageContent::Text { content: s.into() }
}

fn err(code: i64, msg: &str) -> Value {
    json!({"errcode": code, "errmsg": msg})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_concurrent_sends_share_one_token_fetch() {
    let (wx, addr) = StandIn::start().await;
    let client = Arc::new(WechatClient::new());
    let s = settings(addr);
    let sends = (0..50).map(|i| {
        let (client, s) = (client.clone(), s.clone());
        tokio::spawn(async move {
            client
                .send_custom("acct", &s, &format!("o{i}"), &text("hi"))
                .await
        })
    });
    for r in futures_util::future::join_all(sends).await {
        r.unwrap().unwrap();
    }
    assert_eq!(wx.token_fetches(), 1);
    let token_call = wx
        .calls()
        .into_iter()
        .find(|c| c.path == "/cgi-bin/token")
        .unwrap();
    assert_eq!(
        token_call.query,
        "grant_type=client_credential&appid=wx0123456789abcdef&secret=s3cret"
    );
    let sends: Vec<Call> = wx
        .calls()
        .into_iter()
        .filter(|c| c.path == "/cgi-bin/message/custom/send")
        .collect();
    assert_eq!(sends.len(), 50);
    assert!(sends.iter().all(|c| c.query == "access_token=tok-1"));
    assert!(
        sends
            .iter()
            .any(|c| c.body == json!({"touser":"o7","msgtype":"text","text":{"content":"hi"}}))
    );
    // A later call reuses the cached token.
    client
        .send_custom("acct", &s, "o1", &text("again"))
        .await
        .unwrap();
    assert_eq!(wx.token_fetches(), 1);
}

#[tokio::test]
async fn a_token_error_refreshes_once_and_retries_once() {
    let (wx, addr) = StandIn::start().await;
    let client = WechatClient::new();
    let s = settings(addr);
    wx.script(&[err(
        40001,
        "invalid credential, access_token is invalid or not latest",
    )]);
    client
        .send_custom("acct", &s, "o1", &text("你好"))
        .await
        .unwrap();
    let calls = wx.calls();
    let paths: Vec<(&str, &str)> = calls
        .iter()
        .map(|c| (c.path.as_str(), c.query.as_str()))
        .collect();
    assert_eq!(
        paths,
        [
            ("/cgi-bin/token", paths[0].1),
            ("/cgi-bin/message/custom/send", "access_token=tok-1"),
            ("/cgi-bin/token", paths[2].1),
            ("/cgi-bin/message/custom/send", "access_token=tok-2"),
        ]
    );
    assert_eq!(calls[3].body["text"]["content"], "你好");
}

#[tokio::test]
async fn a_second_token_error_is_the_callers_error_without_a_loop() {
    let (wx, addr) = StandIn::start().await;
    let client = WechatClient::new();
    let s = settings(addr);
    wx.script(&[
        err(40001, "invalid credential"),
        err(42001, "access_token expired rid: 1"),
    ]);
    let e = client
        .send_custom("acct", &s, "o1", &text("hi"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(42001));
    assert!(matches!(PlazaError::from(e), PlazaError::Unauthorized(_)));
    assert_eq!(wx.token_fetches(), 2);
    assert_eq!(wx.calls().len(), 4);
    // The refused token is dropped: the next call fetches a new one.
    client
        .send_custom("acct", &s, "o1", &text("hi"))
        .await
        .unwrap();
    assert_eq!(wx.token_fetches(), 3);
}

#[tokio::test]
async fn errcodes_surface_as_plaza_errors() {
    let (wx, addr) = StandIn::start().await;
    let client = WechatClient::new();
    let s = settings(addr);
    wx.script(&[
        err(
            45015,
            "response out of time limit or subscription is canceled",
        ),
        err(45047, "out of response count limit"),
        err(45009, "reach max api daily quota limit"),
        err(48001, "api unauthorized"),
        err(43004, "require subscribe"),
    ]);
    let mut got = Vec::new();
    for _ in 0..5 {
        let e = client
            .send_custom("acct", &s, "o1", &text("hi"))
            .await
            .unwrap_err();
        got.push(PlazaError::from(e));
    }
    assert!(matches!(&got[0], PlazaError::OutsideWindow(m) if m.contains("45015")));
    assert!(
        matches!(&got[1], PlazaError::QuotaExceeded { message, .. } if message.contains("45047"))
    );
    assert!(
        matches!(&got[2], PlazaError::QuotaExceeded { message, .. } if message.contains("45009"))
    );
    assert!(matches!(&got[3], PlazaError::PermissionDenied(m) if m.contains("48001")));
    assert!(matches!(&got[4], PlazaError::Invalid(m) if m.contains("43004")));
    // None of them is a token error: one token for all.
    assert_eq!(wx.token_fetches(), 1);
}

#[tokio::test]
async fn the_other_calls_in_wechat_shape() {
    let (wx, addr) = StandIn::start().await;
    let client = WechatClient::new();
    let s = settings(addr);
    wx.script(&[
        json!({"tag":{"id":134,"name":"广东"}}),
        json!({"tags":[{"id":134,"name":"广东","count":5}]}),
        json!({"errcode":0,"errmsg":"ok"}),
        json!({"subscribe":1,"openid":"o1"}),
        json!({"errcode":0,"errmsg":"ok","msgid":200228332}),
        json!({"errcode":0,"errmsg":"send job submission success","msg_id":34182}),
        json!({"errcode":0,"errmsg":"send job submission success","msg_id":34183}),
    ]);
    assert_eq!(client.create_tag("a", &s, "广东").await.unwrap(), 134);
    assert_eq!(
        client.tags("a", &s).await.unwrap(),
        [(134, "广东".to_string(), 5)]
    );
    client
        .tag_followers("a", &s, 134, &["o1".into(), "o2".into()])
        .await
        .unwrap();
    assert_eq!(
        client.user_info("a", &s, "o1").await.unwrap()["subscribe"],
        1
    );
    let t = plaza_host::channels::wechat::client::TemplateSend {
        template_id: "T1".into(),
        data: vec![("first".into(), "hello".into())],
        url: None,
        miniprogram: Some(("wx0123456789abcdef".into(), "pages/a".into())),
    };
    assert_eq!(
        client.send_template("a", &s, "o1", &t).await.unwrap(),
        Some(200228332)
    );
    assert_eq!(
        client
            .mass_send_to_tag("a", &s, 134, &text("all"))
            .await
            .unwrap(),
        Some(34182)
    );
    assert_eq!(
        client
            .mass_send_to_openids("a", &s, &["o1".into(), "o2".into()], &text("two"))
            .await
            .unwrap(),
        Some(34183)
    );
    client
        .create_menu(
            "a",
            &s,
            &json!({"button":[{"type":"click","name":"今日","key":"K"}]}),
        )
        .await
        .unwrap();
    let calls: Vec<Call> = wx
        .calls()
        .into_iter()
        .filter(|c| c.path != "/cgi-bin/token")
        .collect();
    let seen: Vec<(&str, &Value)> = calls.iter().map(|c| (c.path.as_str(), &c.body)).collect();
    assert_eq!(
        seen[0],
        ("/cgi-bin/tags/create", &json!({"tag":{"name":"广东"}}))
    );
    assert_eq!(seen[1].0, "/cgi-bin/tags/get");
    assert_eq!(
        seen[2],
        (
            "/cgi-bin/tags/members/batchtagging",
            &json!({"openid_list":["o1","o2"],"tagid":134})
        )
    );
    assert_eq!(calls[3].path, "/cgi-bin/user/info");
    assert_eq!(calls[3].query, "access_token=tok-1&openid=o1&lang=zh_CN");
    assert_eq!(
        seen[4],
        (
            "/cgi-bin/message/template/send",
            &json!({"touser":"o1","template_id":"T1","data":{"first":{"value":"hello"}},
                "miniprogram":{"appid":"wx0123456789abcdef","pagepath":"pages/a"}})
        )
    );
    assert_eq!(
        seen[5],
        (
            "/cgi-bin/message/mass/sendall",
            &json!({"filter":{"is_to_all":false,"tag_id":134},"msgtype":"text","text":{"content":"all"}})
        )
    );
    assert_eq!(
        seen[6],
        (
            "/cgi-bin/message/mass/send",
            &json!({"touser":["o1","o2"],"msgtype":"text","text":{"content":"two"}})
        )
    );
    assert_eq!(seen[7].0, "/cgi-bin/menu/create");
    assert_eq!(seen[7].1["button"][0]["name"], "今日");
}

#[tokio::test]
async fn a_late_reply_goes_out_as_a_customer_service_message_through_the_queue() {
    use plaza_host::channels::wechat::settings::WechatSettingsUpdate;
    use plaza_host::platform::ManualClock;

    let (wx, addr) = StandIn::start().await;
    let clock = Arc::new(ManualClock::new(1_700_000_000_000));
    let (_dir, p) = common::platform(clock, |_| {});
    common::service_account(&p, "shop", None, 1_700_000_000_000).await;
    p.wechat
        .update(
            "shop",
            WechatSettingsUpdate {
                appid: Some("wx0123456789abcdef".into()),
                secret: Some("s3cret".into()),
                token: Some("tok3n".into()),
                api_base: Some(format!("http://{addr}")),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    wx.script(&[err(45015, "response out of time limit")]);
    p.wechat_send_late_reply("shop", "o1", text("late but here"))
        .await
        .unwrap();
    p.wechat_send_late_reply("shop", "o2", text("too late"))
        .await
        .unwrap();
    assert_eq!(p.wechat_outbound.view("shop").unwrap().pending.len(), 2);
    p.wechat_outbound_pass().await.unwrap();
    let view = p.wechat_outbound.view("shop").unwrap();
    assert!(view.pending.is_empty(), "{view:?}");
    assert_eq!(view.failed.len(), 1);
    assert_eq!(view.failed[0].openid, "o1");
    assert_eq!(view.failed[0].errcode, Some(45015));
    let sends: Vec<Value> = wx
        .calls()
        .into_iter()
        .filter(|c| c.path == "/cgi-bin/message/custom/send")
        .map(|c| c.body)
        .collect();
    assert_eq!(
        sends,
        [
            json!({"touser":"o1","msgtype":"text","text":{"content":"late but here"}}),
            json!({"touser":"o2","msgtype":"text","text":{"content":"too late"}}),
        ]
    );
}
