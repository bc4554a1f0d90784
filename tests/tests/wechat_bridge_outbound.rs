//! A bridged account's outbound messages reach WeChat's server API through the durable queue:
//! against a stand-in of WeChat's API on loopback that records every call, through the real
//! binary — sent in WeChat's JSON, removed from the queue once WeChat accepts them, refused ones
//! in the failed list, and a message pending at a crash sent after restart.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use plaza_tests::*;
use serde_json::{Value, json};

/// One call the stand-in received.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    body: Value,
}

/// WeChat's API: tokens `tok-1`, `tok-2`, …; `message/custom/send` answers `-1` (busy) while
/// `down`, 45015 for the follower `gone`, ok otherwise.
#[derive(Clone, Default)]
struct StandIn {
    calls: Arc<Mutex<Vec<Call>>>,
    tokens: Arc<AtomicU32>,
    down: Arc<AtomicBool>,
    base: String,
}

impl StandIn {
    fn start() -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let s = StandIn {
            base: format!("http://{}", listener.local_addr().expect("addr")),
            ..StandIn::default()
        };
        let st = s.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let st = st.clone();
                std::thread::spawn(move || st.serve(stream));
            }
        });
        s
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut line = String::new();
        if reader.read_line(&mut line).is_err() {
            return;
        }
        let target = line.split_whitespace().nth(1).unwrap_or("/").to_string();
        let mut length = 0usize;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = h.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let mut raw = vec![0; length];
        if reader.read_exact(&mut raw).is_err() {
            return;
        }
        let path = target.split('?').next().unwrap_or_default().to_string();
        let upload = path == "/cgi-bin/media/upload";
        let body: Value = if raw.is_empty() {
            Value::Null
        } else if upload {
            // multipart/form-data: kept as text for the test to look into.
            Value::String(String::from_utf8_lossy(&raw).into_owned())
        } else {
            serde_json::from_slice(&raw).expect("a UTF-8 JSON body")
        };
        let answer = if path == "/cgi-bin/token" {
            let n = self.tokens.fetch_add(1, Ordering::SeqCst) + 1;
            json!({"access_token": format!("tok-{n}"), "expires_in": 7200})
        } else if !target.contains("access_token=tok-") {
            json!({"errcode": 41001, "errmsg": "access_token missing"})
        } else if upload {
            json!({"type": "image", "media_id": "wx-media-1", "created_at": 1_700_000_000})
        } else if self.down.load(Ordering::SeqCst) {
            json!({"errcode": -1, "errmsg": "system error"})
        } else if body["touser"] == "gone" {
            json!({"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"})
        } else {
            json!({"errcode": 0, "errmsg": "ok"})
        };
        // Recorded before answering: once the queue has drained, every call is recorded.
        self.calls.lock().expect("calls").push(Call { path, body });
        let text = answer.to_string();
        let mut out = stream;
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }

    /// Every openid a broadcast reached WeChat for: the `touser` lists of `message/mass/send`
    /// and the `touser` of `message/custom/send` (a broadcast record alone in a pass).
    fn recipients(&self) -> Vec<String> {
        let mut out = Vec::new();
        for c in self.calls.lock().expect("calls").iter() {
            match c.path.as_str() {
                "/cgi-bin/message/mass/send" => out.extend(
                    c.body["touser"]
                        .as_array()
                        .expect("touser list")
                        .iter()
                        .map(|o| o.as_str().expect("openid").to_string()),
                ),
                "/cgi-bin/message/custom/send" => {
                    out.push(c.body["touser"].as_str().expect("openid").to_string())
                }
                _ => {}
            }
        }
        out.sort();
        out
    }

    /// Bodies of `message/custom/send` calls WeChat accepted or refused, in order.
    fn custom_sends(&self) -> Vec<Value> {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|c| c.path == "/cgi-bin/message/custom/send")
            .map(|c| c.body.clone())
            .collect()
    }
}

fn bridge(server: &Server, account: &str, api_base: &str) {
    let a = server.put_raw(
        &format!("/api/v1/accounts/{account}/wechat"),
        Some(TOKEN),
        json!({ "appid": "wx0123456789abcdef", "secret": "s3cret", "token": "tok3n",
                "api_base": api_base })
        .to_string()
        .as_bytes(),
    );
    assert_eq!(a.status, 200, "{a:?}");
}

/// Creates a broadcast and waits until Plaza has delivered it to every recipient (so every
/// message is in the WeChat queue).
fn broadcast(server: &Server, account: &str, key: &str, openids: &[&str], text: &str) {
    let a = server.post(
        &format!("/api/v1/accounts/{account}/broadcasts"),
        &json!({ "idempotency_key": key, "audience": { "openids": openids },
                 "content": { "msg_type": "text", "content": text } }),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let id = a.body["id"].as_str().expect("id").to_string();
    eventually("the broadcast to be delivered", || {
        let job = server.get(&format!("/api/v1/accounts/{account}/broadcasts/{id}"));
        (job.body["status"] == "done").then_some(())
    });
}

fn outbound(server: &Server, account: &str) -> Value {
    let a = server.get(&format!("/api/v1/accounts/{account}/wechat/outbound"));
    assert_eq!(a.status, 200, "{a:?}");
    a.body
}

fn text_to(openid: &str, text: &str) -> Value {
    json!({"touser": openid, "msgtype": "text", "text": {"content": text}})
}

#[test]
fn broadcasts_of_a_bridged_account_reach_wechat_and_refusals_are_dead_lettered() {
    let wx = StandIn::start();
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    bridge(&server, "shop", &wx.base);
    for f in ["alice", "bob", "carol", "gone"] {
        assert_eq!(server.event("shop", f, "subscribe").status, 200);
    }
    broadcast(
        &server,
        "shop",
        "k1",
        &["alice", "bob", "carol"],
        "你好, everyone",
    );
    eventually("the broadcast to leave the queue", || {
        let v = outbound(&server, "shop");
        v["pending"]
            .as_array()
            .is_some_and(Vec::is_empty)
            .then_some(())
    });
    // Through WeChat's mass API (records of one broadcast due together go in one call), each
    // recipient exactly once; nothing failed.
    assert_eq!(wx.recipients(), ["alice", "bob", "carol"]);
    let mass: Vec<Value> = wx
        .calls
        .lock()
        .expect("calls")
        .iter()
        .filter(|c| c.path == "/cgi-bin/message/mass/send")
        .map(|c| c.body.clone())
        .collect();
    for m in &mass {
        assert_eq!(m["msgtype"], "text", "{m}");
        assert_eq!(m["text"]["content"], "你好, everyone", "{m}");
    }
    assert!(
        outbound(&server, "shop")["failed"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // A customer-service message WeChat refuses (45015: out of its window), sent through the
    // WeChat-compatible API of the bridged account, lands in the failed list.
    let creds = server.post("/api/v1/accounts/shop/api-credentials", &json!({}));
    assert_eq!(creds.status, 201, "{creds:?}");
    let token = server.get_as(
        &format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            creds.body["appid"].as_str().expect("appid"),
            creds.body["secret"].as_str().expect("secret")
        ),
        None,
    );
    let token = token.body["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    let sent = server.post_raw(
        &format!("/cgi-bin/message/custom/send?access_token={token}"),
        None,
        "",
        text_to("gone", "are you there?").to_string().as_bytes(),
    );
    assert_eq!(sent.body["errcode"], 0, "{sent:?}");
    let view = eventually("the refusal to be dead-lettered", || {
        let v = outbound(&server, "shop");
        (v["pending"].as_array().is_some_and(Vec::is_empty)
            && v["failed"].as_array().is_some_and(|f| !f.is_empty()))
        .then_some(v)
    });
    assert!(
        wx.custom_sends()
            .contains(&text_to("gone", "are you there?")),
        "{:?}",
        wx.custom_sends()
    );
    let failed = view["failed"].as_array().expect("failed");
    assert_eq!(failed.len(), 1, "{view}");
    assert_eq!(failed[0]["openid"], "gone");
    assert_eq!(failed[0]["errcode"], 45015);
    assert_eq!(failed[0]["code"], "outside_window");
    assert_eq!(failed[0]["entry"]["delivery"], "customer_service");
    assert!(
        failed[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("48 h")),
        "{view}"
    );
    // The local outbox has the messages too (the queue is in addition to it).
    assert_eq!(server.outbox("shop", "alice").len(), 1);
    // One token for all of it.
    assert_eq!(wx.tokens.load(Ordering::SeqCst), 1);
}

#[test]
fn a_message_pending_at_a_crash_is_sent_after_restart() {
    let wx = StandIn::start();
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    bridge(&server, "shop", &wx.base);
    assert_eq!(server.event("shop", "alice", "subscribe").status, 200);

    wx.down.store(true, Ordering::SeqCst);
    broadcast(&server, "shop", "k2", &["alice"], "after the storm");
    let pending = eventually("a failed attempt to be recorded", || {
        let v = outbound(&server, "shop");
        v["pending"]
            .as_array()
            .and_then(|p| p.first().cloned())
            .filter(|p| p["attempts"].as_u64() >= Some(1))
    });
    assert!(
        pending["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("-1")),
        "{pending}"
    );
    assert!(
        outbound(&server, "shop")["failed"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    server.kill9();

    wx.down.store(false, Ordering::SeqCst);
    let server = Server::start(&dir, false);
    eventually("the pending message to be sent after restart", || {
        outbound(&server, "shop")["pending"]
            .as_array()
            .is_some_and(Vec::is_empty)
            .then_some(())
    });
    let sends = wx.custom_sends();
    assert_eq!(
        sends.last(),
        Some(&text_to("alice", "after the storm")),
        "{sends:?}"
    );
    assert!(
        outbound(&server, "shop")["failed"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
}

/// A loopback server that holds every request until the test opens the gate: a plugin calling it
/// cannot answer before the test says so, so "the plugins did not answer in time" needs no clock.
struct Gate {
    port: u16,
    open: std::sync::mpsc::Sender<()>,
}

impl Gate {
    fn start() -> Gate {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind gate");
        let port = listener.local_addr().expect("addr").port();
        let (open, opened) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            if let Ok((stream, _)) = listener.accept() {
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut line = String::new();
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let _ = opened.recv();
                let mut out = stream;
                let _ = write!(
                    out,
                    "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nreleased"
                );
            }
        });
        Gate { port, open }
    }
}

#[test]
fn a_reply_later_than_the_deadline_goes_out_as_a_customer_service_message() {
    let wx = StandIn::start();
    let gate = Gate::start();
    let (_tmp, dir) = data_dir();
    let server = Server::start_with(&dir, false, &[("PLAZA_WECHAT_REPLY_DEADLINE_MS", "200")]);
    server.create_account("shop", "service", true);
    let grant = format!("http.outbound:127.0.0.1:{}", gate.port);
    install_probe_with(&server, "shop", "probe", &[&grant], &[&grant]);
    bridge(&server, "shop", &wx.base);

    // A push whose plugin waits on the gate: WeChat gets `success` at the deadline.
    let (ts, nonce) = ("1700000000", "7");
    let path = format!(
        "/wechat/shop?signature={}&timestamp={ts}&nonce={nonce}&openid=oLATE",
        plaza_host::wechat::signature::signature("tok3n", ts, nonce)
    );
    let push = format!(
        "<xml><ToUserName>gh_x</ToUserName><FromUserName>oLATE</FromUserName><CreateTime>1700000000</CreateTime><MsgType>text</MsgType><Content>http GET http://127.0.0.1:{}/</Content><MsgId>4242</MsgId></xml>",
        gate.port
    );
    let answer = server.post_raw(&path, None, "text/xml", push.as_bytes());
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.body.as_str(), Some("success"), "{answer:?}");
    assert!(
        wx.custom_sends().is_empty(),
        "nothing sent before the plugin answers"
    );

    // The plugin answers once the gate opens; the reply reaches WeChat as a customer-service
    // message, and the follower's outbox has it.
    gate.open.send(()).expect("open the gate");
    let sends = eventually("the late reply to reach WeChat", || {
        let s = wx.custom_sends();
        (!s.is_empty()).then_some(s)
    });
    assert_eq!(sends, [text_to("oLATE", "http:200:released")], "{sends:?}");
    let outbox = server.outbox("shop", "oLATE");
    assert!(
        outbox.iter().any(|m| m["content"] == "http:200:released"),
        "{outbox:?}"
    );
}

#[test]
fn stored_media_is_uploaded_to_wechat_once_and_sent_by_wechats_id() {
    let wx = StandIn::start();
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    bridge(&server, "shop", &wx.base);
    assert_eq!(server.event("shop", "alice", "subscribe").status, 200);
    // A PNG in the account's media store.
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend_from_slice(&[0, 0, 0, 13]);
    png.extend_from_slice(b"IHDR");
    png.extend_from_slice(&[0u8; 64]);
    let up = server.post_raw(
        "/api/v1/accounts/shop/media",
        Some(TOKEN),
        "image/png",
        &png,
    );
    assert_eq!(up.status, 201, "{up:?}");
    let media_id = up.body["media_id"].as_str().expect("media id").to_string();

    // Two image messages to the follower, through the WeChat-compatible API.
    let creds = server.post("/api/v1/accounts/shop/api-credentials", &json!({}));
    let token = server.get_as(
        &format!(
            "/cgi-bin/token?grant_type=client_credential&appid={}&secret={}",
            creds.body["appid"].as_str().expect("appid"),
            creds.body["secret"].as_str().expect("secret")
        ),
        None,
    );
    let token = token.body["access_token"]
        .as_str()
        .expect("token")
        .to_string();
    for _ in 0..2 {
        let sent = server.post_raw(
            &format!("/cgi-bin/message/custom/send?access_token={token}"),
            None,
            "",
            json!({"touser": "alice", "msgtype": "image", "image": {"media_id": media_id}})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(sent.body["errcode"], 0, "{sent:?}");
    }
    let sends = eventually("both images to reach WeChat", || {
        let s = wx.custom_sends();
        (s.len() == 2).then_some(s)
    });
    let want = json!({"touser": "alice", "msgtype": "image", "image": {"media_id": "wx-media-1"}});
    assert_eq!(sends, [want.clone(), want], "WeChat's id, not Plaza's");
    // Uploaded once, as multipart field `media` with the PNG and a .png name.
    let uploads: Vec<Value> = wx
        .calls
        .lock()
        .expect("calls")
        .iter()
        .filter(|c| c.path == "/cgi-bin/media/upload")
        .map(|c| c.body.clone())
        .collect();
    assert_eq!(uploads.len(), 1, "reused for the second message");
    let form = uploads[0].as_str().expect("form text");
    assert!(form.contains("name=\"media\""), "{form}");
    assert!(
        form.contains(&format!("filename=\"{media_id}.png\"")),
        "{form}"
    );
    assert!(
        form.to_ascii_lowercase()
            .contains("content-type: image/png"),
        "{form}"
    );
    assert!(form.contains("IHDR"), "the bytes themselves");
}
