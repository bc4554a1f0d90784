//! A bridged account synced with its WeChat account, and its menus published there: against a
//! stand-in of WeChat's API on loopback that keeps tags and followers and records every call,
//! through the real binary. Sync brings WeChat's followers, tags and taggings into Plaza and
//! Plaza's extra tags to WeChat; a second sync changes nothing; a conditional menu on a Plaza tag
//! reaches WeChat with WeChat's id for that tag; a menu WeChat refuses stays stored in Plaza and
//! the route says so with the mapped typed error.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use plaza_tests::*;
use serde_json::{Value, json};

/// One call the stand-in received.
#[derive(Debug, Clone)]
struct Call {
    path: String,
    query: BTreeMap<String, String>,
    body: Value,
}

/// WeChat's API for one account: tags 2 `星标组` and 127 `广东`; followers `w1` (tag 127), `w2`
/// (tags 2 and 127), listed by `user/get` in two pages (then the empty page WeChat answers after
/// the last one), and `w3`, listed but reported `subscribe: 0` by `user/info/batchget` (it
/// unsubscribed in between). Tags created get ids from 200. `menu/create` answers 48001 while
/// `refuse_menu`, `user/get` while `refuse_users`.
#[derive(Clone)]
struct StandIn {
    calls: Arc<Mutex<Vec<Call>>>,
    tags: Arc<Mutex<Vec<(i64, String)>>>,
    refuse_menu: Arc<AtomicBool>,
    refuse_users: Arc<AtomicBool>,
    base: String,
}

impl StandIn {
    fn start() -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let s = StandIn {
            calls: Arc::default(),
            tags: Arc::new(Mutex::new(vec![
                (2, "星标组".to_string()),
                (127, "广东".to_string()),
            ])),
            refuse_menu: Arc::default(),
            refuse_users: Arc::default(),
            base: format!("http://{}", listener.local_addr().expect("addr")),
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

    fn answer(&self, path: &str, query: &BTreeMap<String, String>, body: &Value) -> Value {
        let ok = json!({"errcode": 0, "errmsg": "ok"});
        match path {
            "/cgi-bin/token" => json!({"access_token": "tok-1", "expires_in": 7200}),
            _ if query.get("access_token").map(String::as_str) != Some("tok-1") => {
                json!({"errcode": 41001, "errmsg": "access_token missing"})
            }
            "/cgi-bin/tags/get" => {
                let tags = self.tags.lock().expect("tags");
                json!({"tags": tags.iter().map(|(id, name)| json!({"id": id, "name": name, "count": 0})).collect::<Vec<_>>()})
            }
            "/cgi-bin/tags/create" => {
                let name = body["tag"]["name"].as_str().expect("tag name").to_string();
                let mut tags = self.tags.lock().expect("tags");
                if tags.iter().any(|(_, n)| *n == name) {
                    return json!({"errcode": 45157, "errmsg": "invalid tag name"});
                }
                let id = 200 + tags.iter().filter(|(id, _)| *id >= 200).count() as i64;
                tags.push((id, name.clone()));
                json!({"tag": {"id": id, "name": name}})
            }
            "/cgi-bin/user/get" if self.refuse_users.load(Ordering::SeqCst) => {
                json!({"errcode": 48001, "errmsg": "api unauthorized rid: 2"})
            }
            "/cgi-bin/user/get" => match query.get("next_openid").map(String::as_str) {
                None | Some("") => {
                    json!({"total": 3, "count": 2, "data": {"openid": ["w1", "w2"]}, "next_openid": "w2"})
                }
                Some("w2") => {
                    json!({"total": 3, "count": 1, "data": {"openid": ["w3"]}, "next_openid": "w3"})
                }
                // WeChat names the last openid even after the last page: this empty page ends it.
                _ => json!({"total": 3, "count": 0, "next_openid": ""}),
            },
            "/cgi-bin/user/info/batchget" => {
                let users: Vec<Value> = body["user_list"]
                    .as_array()
                    .expect("user_list")
                    .iter()
                    .map(|u| match u["openid"].as_str().expect("openid") {
                        "w1" => json!({"subscribe": 1, "openid": "w1", "language": "zh_CN",
                            "subscribe_time": 1_700_000_000, "unionid": "u1", "remark": "",
                            "groupid": 0, "tagid_list": [127], "subscribe_scene": "ADD_SCENE_QR_CODE",
                            "qr_scene": 98765, "qr_scene_str": ""}),
                        "w2" => json!({"subscribe": 1, "openid": "w2", "nickname": "Band",
                            "sex": 2, "subscribe_time": 1_700_000_100, "tagid_list": [2, 127]}),
                        other => json!({"subscribe": 0, "openid": other}),
                    })
                    .collect();
                json!({"user_info_list": users})
            }
            "/cgi-bin/menu/create" if self.refuse_menu.load(Ordering::SeqCst) => {
                json!({"errcode": 48001, "errmsg": "api unauthorized rid: 1"})
            }
            "/cgi-bin/menu/addconditional" => json!({"menuid": "208379533"}),
            _ => ok,
        }
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
        let (path, q) = target.split_once('?').unwrap_or((&target, ""));
        let query: BTreeMap<String, String> = q
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let body: Value = if raw.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&raw).expect("a UTF-8 JSON body")
        };
        let answer = self.answer(path, &query, &body);
        self.calls.lock().expect("calls").push(Call {
            path: path.to_string(),
            query,
            body,
        });
        let text = answer.to_string();
        let mut out = stream;
        let _ = write!(
            out,
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    }

    fn calls_to(&self, path: &str) -> Vec<Call> {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    fn forget_calls(&self) {
        self.calls.lock().expect("calls").clear();
    }

    /// The menu calls since the last `forget_calls`, in order (token fetches left out).
    fn menu_calls(&self) -> Vec<(String, Value)> {
        self.calls
            .lock()
            .expect("calls")
            .iter()
            .filter(|c| c.path.starts_with("/cgi-bin/menu/") || c.path == "/cgi-bin/tags/create")
            .map(|c| (c.path.clone(), c.body.clone()))
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

/// The account's tags by name → Plaza number.
fn plaza_tags(server: &Server, account: &str) -> BTreeMap<String, u64> {
    let a = server.get(&format!("/api/v1/accounts/{account}/tags"));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("name").to_string(),
                t["id"].as_u64().expect("id"),
            )
        })
        .collect()
}

fn follower(server: &Server, account: &str, openid: &str) -> Value {
    let a = server.get(&format!("/api/v1/accounts/{account}/followers/{openid}"));
    assert_eq!(a.status, 200, "{a:?}");
    a.body
}

fn tags_of(f: &Value) -> Vec<String> {
    let mut t: Vec<String> = f["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .map(|t| t.as_str().expect("tag").to_string())
        .collect();
    t.sort();
    t
}

fn button(name: &str) -> Value {
    json!({"button": [{"type": "click", "name": name, "key": name}]})
}

#[test]
fn sync_brings_wechat_followers_and_tags_and_sends_plaza_tags_to_wechat() {
    let wx = StandIn::start();
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    server.create_account("plain", "service", true);

    // Not bridged: no sync.
    let a = server.post("/api/v1/accounts/plain/wechat/sync", &json!({}));
    assert_eq!(a.status, 404, "{a:?}");
    assert_eq!(a.error_code(), "not_found");

    bridge(&server, "shop", &wx.base);
    // Plaza knows a tag WeChat lacks, and w3, who has since unsubscribed on WeChat.
    let a = server.post("/api/v1/accounts/shop/tags", &json!({"name": "vip"}));
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(server.event("shop", "w3", "subscribe").status, 200);

    let a = server.post("/api/v1/accounts/shop/wechat/sync", &json!({}));
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(
        a.body,
        json!({"tags_created_in_plaza": 2, "tags_created_on_wechat": 1, "followers_seen": 3,
               "followers_added": 2, "followers_unsubscribed": 1, "followers_tagged": 2})
    );
    // Paged until the empty page, each page asked from the previous one's next_openid.
    let pages: Vec<String> = wx
        .calls_to("/cgi-bin/user/get")
        .iter()
        .map(|c| c.query.get("next_openid").cloned().unwrap_or_default())
        .collect();
    assert_eq!(pages, ["", "w2", "w3"]);
    // WeChat got Plaza's extra tag.
    let created = wx.calls_to("/cgi-bin/tags/create");
    assert_eq!(created.len(), 1);
    assert_eq!(created[0].body, json!({"tag": {"name": "vip"}}));
    // Plaza has WeChat's tags, followers and taggings.
    let tags = plaza_tags(&server, "shop");
    assert_eq!(
        tags.keys().map(String::as_str).collect::<Vec<_>>(),
        ["vip", "广东", "星标组"]
    );
    let w1 = follower(&server, "shop", "w1");
    assert_eq!(w1["subscribed"], true, "{w1}");
    assert_eq!(w1["subscribe_scene"], "ADD_SCENE_QR_CODE", "{w1}");
    assert_eq!(w1["subscribed_at"], 1_700_000_000_000u64, "{w1}");
    assert_eq!(tags_of(&w1), ["广东"]);
    let w2 = follower(&server, "shop", "w2");
    assert_eq!(w2["subscribed"], true, "{w2}");
    assert_eq!(w2["nickname"], "Band", "{w2}");
    assert_eq!(w2["gender"], "female", "{w2}");
    assert_eq!(tags_of(&w2), ["广东", "星标组"]);
    assert_eq!(follower(&server, "shop", "w3")["subscribed"], false);

    // A second sync (through the CLI) changes nothing.
    wx.forget_calls();
    let (code, out, err) = plaza(&server, &["wechat", "sync", "shop"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let report: Value = serde_json::from_str(&out).expect("the report as JSON");
    assert_eq!(
        report,
        json!({"tags_created_in_plaza": 0, "tags_created_on_wechat": 0, "followers_seen": 3,
               "followers_added": 0, "followers_unsubscribed": 0, "followers_tagged": 0})
    );
    assert!(wx.calls_to("/cgi-bin/tags/create").is_empty());
    assert_eq!(plaza_tags(&server, "shop"), tags);
    assert_eq!(follower(&server, "shop", "w1"), w1);
    assert_eq!(follower(&server, "shop", "w2"), w2);

    // WeChat's refusal surfaces as its mapped typed error.
    wx.refuse_users.store(true, Ordering::SeqCst);
    let a = server.post("/api/v1/accounts/shop/wechat/sync", &json!({}));
    assert_eq!(a.status, 403, "{a:?}");
    assert_eq!(a.error_code(), "permission_denied");
    assert!(a.error_message().contains("48001"), "{a:?}");
}

#[test]
fn menus_of_a_bridged_account_are_published_with_wechat_tag_ids() {
    let wx = StandIn::start();
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    server.create_account("plain", "service", true);

    // An account that is not bridged answers as always.
    let a = server.put_raw(
        "/api/v1/accounts/plain/menu",
        Some(TOKEN),
        button("local").to_string().as_bytes(),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert!(a.body.get("wechat").is_none(), "{a:?}");
    let a = server.post("/api/v1/accounts/plain/menu/publish", &json!({}));
    assert_eq!(a.status, 404, "{a:?}");

    bridge(&server, "shop", &wx.base);
    let a = server.post("/api/v1/accounts/shop/wechat/sync", &json!({}));
    assert_eq!(a.status, 200, "{a:?}");
    wx.forget_calls();

    let a = server.put_raw(
        "/api/v1/accounts/shop/menu",
        Some(TOKEN),
        button("home").to_string().as_bytes(),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["wechat"], json!({"published": true}), "{a:?}");
    assert!(a.body["menuid"].is_string(), "{a:?}");
    assert_eq!(
        wx.menu_calls(),
        [
            ("/cgi-bin/menu/delete".to_string(), Value::Null),
            ("/cgi-bin/menu/create".to_string(), button("home")),
        ]
    );

    // A conditional menu on Plaza's 广东 (WeChat's 127), then one on a tag WeChat does not have
    // yet: it is created there first, and the rule carries WeChat's new id.
    let tags = plaza_tags(&server, "shop");
    let guangdong = tags["广东"];
    assert_ne!(guangdong, 127, "Plaza numbers its tags itself");
    let mut menu = button("gd");
    menu["matchrule"] = json!({"tag_id": guangdong.to_string()});
    let a = server.post("/api/v1/accounts/shop/menu/conditional", &menu);
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["wechat"], json!({"published": true}), "{a:?}");
    let a = server.post("/api/v1/accounts/shop/tags", &json!({"name": "新客"}));
    assert_eq!(a.status, 201, "{a:?}");
    let fresh = a.body["id"].as_u64().expect("id");
    wx.forget_calls();
    let mut menu = button("new");
    menu["matchrule"] = json!({"tag_id": fresh.to_string()});
    let a = server.post("/api/v1/accounts/shop/menu/conditional", &menu);
    assert_eq!(a.status, 201, "{a:?}");
    let calls = wx.menu_calls();
    assert_eq!(
        calls[0],
        (
            "/cgi-bin/tags/create".to_string(),
            json!({"tag": {"name": "新客"}})
        ),
        "{calls:?}"
    );
    let new_id = wx
        .tags
        .lock()
        .expect("tags")
        .iter()
        .find(|(_, n)| n == "新客")
        .map(|(id, _)| *id)
        .expect("created on WeChat");
    let mut gd = button("gd");
    gd["matchrule"] = json!({"tag_id": "127"});
    let mut new = button("new");
    new["matchrule"] = json!({"tag_id": new_id.to_string()});
    assert_eq!(
        calls[1..],
        [
            ("/cgi-bin/menu/delete".to_string(), Value::Null),
            ("/cgi-bin/menu/create".to_string(), button("home")),
            ("/cgi-bin/menu/addconditional".to_string(), gd),
            ("/cgi-bin/menu/addconditional".to_string(), new),
        ],
        "{calls:?}"
    );

    // WeChat refuses the menu (48001): the mapped typed error, saying the menu is stored in
    // Plaza — and it is.
    wx.refuse_menu.store(true, Ordering::SeqCst);
    let a = server.put_raw(
        "/api/v1/accounts/shop/menu",
        Some(TOKEN),
        button("refused").to_string().as_bytes(),
    );
    assert_eq!(a.status, 403, "{a:?}");
    assert_eq!(a.error_code(), "permission_denied");
    assert!(
        a.error_message().contains("stored in Plaza") && a.error_message().contains("48001"),
        "{a:?}"
    );
    let stored = server.get("/api/v1/accounts/shop/menu");
    assert_eq!(stored.status, 200, "{stored:?}");
    assert_eq!(stored.body["menu"]["button"], button("refused")["button"]);
    assert_eq!(
        server
            .post("/api/v1/accounts/shop/menu/publish", &json!({}))
            .status,
        403
    );
    // Once WeChat accepts, a retry publishes what is stored.
    wx.refuse_menu.store(false, Ordering::SeqCst);
    wx.forget_calls();
    let a = server.post("/api/v1/accounts/shop/menu/publish", &json!({}));
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, json!({"wechat": {"published": true}}));
    assert_eq!(
        wx.menu_calls()[1],
        ("/cgi-bin/menu/create".to_string(), button("refused"))
    );

    // Deleting the menus deletes them on WeChat too.
    wx.forget_calls();
    let a = server.delete("/api/v1/accounts/shop/menu");
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body, json!({"wechat": {"published": true}}));
    assert_eq!(
        wx.menu_calls(),
        [("/cgi-bin/menu/delete".to_string(), Value::Null)]
    );
}
