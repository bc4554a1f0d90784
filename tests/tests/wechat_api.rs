//! The WeChat-compatible API (`/cgi-bin`, `/datacube`) through the real binary: wechatpy 1.8.18 as
//! the peer, and raw HTTP for the token and body errors an SDK never shows.

mod common;

use plaza_tests::python::run_script;
use plaza_tests::*;
use serde_json::{Value, json};

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A follower who subscribed `ago` seconds ago (and did nothing since).
fn subscribe(server: &Server, account: &str, openid: &str, ago: u64) {
    let a = server.post(
        &format!("/api/v1/accounts/{account}/inbound"),
        &json!({ "msg_type": "event", "event": "subscribe", "from": openid, "create_time": now_secs() - ago }),
    );
    assert_eq!(a.status, 200, "{a:?}");
}

fn credentials(server: &Server, account: &str) -> (String, String) {
    let c = server.post(
        &format!("/api/v1/accounts/{account}/api-credentials"),
        &json!({}),
    );
    assert_eq!(c.status, 201, "{c:?}");
    (
        c.body["appid"].as_str().unwrap().to_string(),
        c.body["secret"].as_str().unwrap().to_string(),
    )
}

fn token(server: &Server, appid: &str, secret: &str) -> Value {
    server
        .get_as(
            &format!("/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}"),
            None,
        )
        .body
}

fn wx_post(server: &Server, path: &str, body: &[u8]) -> Value {
    let a = server.post_raw(path, None, "", body);
    assert_eq!(a.status, 200, "WeChat errors are HTTP 200: {a:?}");
    a.body
}

#[test]
fn wechatpy_drives_a_plaza_account() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    let t = server.post(
        "/api/v1/accounts/shop/templates",
        &json!({"id": "order_shipped", "title": "Order shipped", "content": "Order {{order.DATA}} shipped"}),
    );
    assert_eq!(t.status, 201, "{t:?}");
    // Followers: one active now, one whose last interaction was three days ago, one gone.
    subscribe(&server, "shop", "o-inside", 60);
    subscribe(&server, "shop", "o-outside", 3 * 86_400);
    subscribe(&server, "shop", "o-gone", 60);
    server.event("shop", "o-gone", "unsubscribe");
    let (appid, secret) = credentials(&server, "shop");

    let out = run_script(
        "wechat_client.py",
        &[
            &server.base,
            &appid,
            &secret,
            "all",
            "o-inside",
            "o-outside",
            "order_shipped",
        ],
        &[],
    );
    let r: Value = serde_json::from_str(out.trim()).expect("script prints JSON");

    assert!(
        r["token"]["access_token"].as_str().unwrap().len() >= 64,
        "{r}"
    );
    assert_eq!(r["token"]["expires_in"], 7200);
    // iter_followers reached the end (the follow-up page has no data) and lists subscribers only.
    assert_eq!(r["followers"], json!(["o-inside", "o-outside"]));
    let batch = r["batch"].as_array().expect("user_info_list");
    assert_eq!(batch.len(), 2);
    assert_eq!(batch[0]["openid"], "o-inside");
    assert_eq!(batch[0]["subscribe"], 1);

    // Customer-service messages: inside the window delivered, outside refused with 45015.
    assert_eq!(r["send_inside"]["ok"]["errcode"], 0, "{r}");
    assert_eq!(r["send_outside"]["errcode"], 45015, "{r}");
    let inbox = server.outbox("shop", "o-inside");
    assert!(
        inbox
            .iter()
            .any(|m| m["delivery"] == "customer_service"
                && m["content"] == "hello from wechatpy 你好"),
        "{inbox:?}"
    );
    assert!(
        !server
            .outbox("shop", "o-outside")
            .iter()
            .any(|m| m["delivery"] == "customer_service")
    );

    // Tags with numeric ids.
    let tag_id = r["tag"]["id"].as_u64().expect("numeric tag id");
    assert_eq!(r["tag"]["name"], "vip");
    assert_eq!(r["tag_users"], json!(["o-inside"]));
    assert_eq!(r["tags_of_inside"], json!([tag_id]));
    let f = server.get("/api/v1/accounts/shop/followers/o-inside");
    assert_eq!(f.body["tags"], json!(["vip"]), "{f:?}");

    // Mass sends: by legacy group_id (the tag) and to everyone, each a Plaza broadcast.
    assert_eq!(r["mass_group"]["errcode"], 0, "{r}");
    assert_eq!(r["mass_group"]["errmsg"], "send job submission success");
    assert!(r["mass_group"]["msg_id"].as_u64().is_some());
    assert_eq!(r["mass_all"]["errcode"], 0, "{r}");
    let jobs = server.get("/api/v1/accounts/shop/broadcasts").body["broadcasts"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert!(jobs.iter().any(|j| j["audience"] == json!({"tag": "vip"})));
    assert!(jobs.iter().any(|j| j["audience"] == json!("all")));
    eventually("the broadcasts reach o-outside", || {
        let got: Vec<_> = server
            .outbox("shop", "o-outside")
            .into_iter()
            .filter(|m| m["delivery"] == "broadcast")
            .collect();
        (got.len() == 1 && got[0]["content"] == "to everyone").then_some(())
    });

    // Template messages.
    assert_eq!(r["template"]["ok"]["errcode"], 0, "{r}");
    assert!(r["template"]["ok"]["msgid"].as_u64().is_some(), "{r}");
    assert_eq!(r["template_unknown"]["errcode"], 40037, "{r}");
    let inbox = server.outbox("shop", "o-inside");
    assert!(
        inbox.iter().any(|m| m["delivery"] == "template"
            && m["content"] == "Order A-1 shipped\nhttps://example.com/o/1"),
        "{inbox:?}"
    );

    // Data cube: three days, each a row (the followers subscribed today, so nothing yet).
    assert_eq!(r["summary"].as_array().map(Vec::len), Some(3), "{r}");
    assert_eq!(r["cumulate"].as_array().map(Vec::len), Some(3), "{r}");
}

#[test]
fn tokens_bodies_and_account_rules_answer_wechat_errcodes() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("news", "subscription", false);
    subscribe(&server, "news", "o-1", 60);
    let (appid, secret) = credentials(&server, "news");

    // Token endpoint errors.
    let code = |path: &str| server.get_as(path, None).body["errcode"].clone();
    assert_eq!(
        code(&format!(
            "/cgi-bin/token?grant_type=client_credential&secret={secret}"
        )),
        41002
    );
    assert_eq!(
        code(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}"
        )),
        41004
    );
    assert_eq!(
        code(&format!(
            "/cgi-bin/token?grant_type=password&appid={appid}&secret={secret}"
        )),
        40002
    );
    assert_eq!(
        code(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid=wx0000000000000000&secret={secret}"
        )),
        40013
    );
    assert_eq!(
        code(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret=wrong"
        )),
        40125
    );
    // The wrong secret for a real appid is a security event of that account.
    let events = server.get("/api/v1/accounts/news/events?kinds=wechat.security.*");
    assert!(
        events.body["events"].as_array().is_some_and(|e| e
            .iter()
            .any(|e| e["plugin_kind"] == "wechat.security.bad_secret")),
        "{events:?}"
    );

    // Access token errors.
    assert_eq!(code("/cgi-bin/user/get"), 41001);
    let unknown = server
        .get_as("/cgi-bin/user/get?access_token=nope", None)
        .body;
    assert_eq!(unknown["errcode"], 40001);
    assert_eq!(
        unknown["errmsg"],
        "invalid credential, access_token is invalid or not latest"
    );

    let t = token(&server, &appid, &secret);
    let at = t["access_token"].as_str().unwrap().to_string();
    let users = server
        .get_as(&format!("/cgi-bin/user/get?access_token={at}"), None)
        .body;
    assert_eq!(
        users,
        json!({"total": 1, "count": 1, "data": {"openid": ["o-1"]}, "next_openid": "o-1"})
    );
    let after = server
        .get_as(
            &format!("/cgi-bin/user/get?access_token={at}&next_openid=o-1"),
            None,
        )
        .body;
    assert_eq!(after, json!({"total": 1, "count": 0, "next_openid": ""}));

    // A second token: the first keeps working (overlap).
    let t2 = token(&server, &appid, &secret)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(t2, at);
    assert_eq!(
        code(&format!("/cgi-bin/tags/get?access_token={at}")),
        Value::Null
    );

    // Stable token: the same until near expiry, a new one when forced.
    let stable = |force: bool| {
        wx_post(
            &server,
            "/cgi-bin/stable_token",
            json!({"grant_type": "client_credential", "appid": appid, "secret": secret, "force_refresh": force})
                .to_string()
                .as_bytes(),
        )["access_token"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let s1 = stable(false);
    assert_eq!(stable(false), s1);
    assert_ne!(stable(true), s1);

    // Bodies: bad JSON, no content type, \u escapes, empty, too large.
    let send = format!("/cgi-bin/message/custom/send?access_token={t2}");
    assert_eq!(wx_post(&server, &send, b"{not json")["errcode"], 47001);
    assert_eq!(wx_post(&server, &send, b"[1]")["errcode"], 47001);
    assert_eq!(wx_post(&server, &send, b"")["errcode"], 44002);
    let escaped = br#"{"touser":"o-1","msgtype":"text","text":{"content":"\u4f60\u597d"}}"#;
    assert_eq!(wx_post(&server, &send, escaped)["errcode"], 0);
    let raw = r#"{"touser":"o-1","msgtype":"text","text":{"content":"再见"}}"#;
    assert_eq!(wx_post(&server, &send, raw.as_bytes())["errcode"], 0);
    let texts: Vec<_> = server
        .outbox("news", "o-1")
        .into_iter()
        .filter_map(|m| m["content"].as_str().map(str::to_string))
        .collect();
    assert_eq!(texts, ["你好", "再见"]);
    let big = format!(
        r#"{{"touser":"o-1","msgtype":"text","text":{{"content":"{}"}}}}"#,
        "x".repeat(300_000)
    );
    // Streamed: the server answers before it has read the rest, as it should.
    let (status, answer) = common::post_streamed(
        &server,
        &send,
        "application/json",
        vec![common::Piece::Bytes(big.into_bytes())],
    );
    assert_eq!(
        (status, answer["errcode"].as_i64()),
        (200, Some(45002)),
        "{answer}"
    );
    assert_eq!(
        wx_post(
            &server,
            &send,
            br#"{"touser":"o-nobody","msgtype":"text","text":{"content":"hi"}}"#
        )["errcode"],
        40003
    );
    assert_eq!(
        wx_post(
            &server,
            &send,
            br#"{"touser":"o-1","msgtype":"wxcard","wxcard":{"card_id":"c"}}"#
        )["errcode"],
        40008
    );

    // Template messages need a verified service account: 48001.
    let tpl = wx_post(
        &server,
        &format!("/cgi-bin/message/template/send?access_token={t2}"),
        br#"{"touser":"o-1","template_id":"t","data":{}}"#,
    );
    assert_eq!(tpl["errcode"], 48001, "{tpl}");
    assert!(
        tpl["errmsg"]
            .as_str()
            .unwrap()
            .starts_with("api unauthorized")
    );

    // A subscription account broadcasts once a day: the second is 45028; a clientmsgid repeats.
    let mass = format!("/cgi-bin/message/mass/sendall?access_token={t2}");
    let body = br#"{"filter":{"is_to_all":true},"msgtype":"text","text":{"content":"daily"},"clientmsgid":"d1"}"#;
    let first = wx_post(&server, &mass, body);
    assert_eq!(first["errcode"], 0, "{first}");
    let again = wx_post(&server, &mass, body);
    assert_eq!(again["errcode"], 45065, "{again}");
    assert_eq!(again["msg_id"], first["msg_id"]);
    let second = wx_post(
        &server,
        &mass,
        br#"{"filter":{"is_to_all":true},"msgtype":"text","text":{"content":"more"}}"#,
    );
    assert_eq!(second["errcode"], 45028, "{second}");
    let status = wx_post(
        &server,
        &format!("/cgi-bin/message/mass/get?access_token={t2}"),
        json!({"msg_id": first["msg_id"]}).to_string().as_bytes(),
    );
    assert_eq!(status["msg_id"], first["msg_id"]);
    assert!(["SENDING", "SEND_SUCCESS"].contains(&status["msg_status"].as_str().unwrap()));

    // Datacube dates.
    let cube = format!("/datacube/getusersummary?access_token={t2}");
    assert_eq!(
        wx_post(
            &server,
            &cube,
            br#"{"begin_date":"x","end_date":"2024-01-01"}"#
        )["errcode"],
        61500
    );
    assert_eq!(
        wx_post(
            &server,
            &cube,
            br#"{"begin_date":"2024-01-01","end_date":"2024-01-09"}"#
        )["errcode"],
        61501
    );

    // Rotation: the old secret and every token issued under it stop working.
    let (_, new_secret) = credentials(&server, "news");
    assert_ne!(new_secret, secret);
    assert_eq!(code(&format!("/cgi-bin/user/get?access_token={t2}")), 40001);
    assert_eq!(
        code(&format!(
            "/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}"
        )),
        40125
    );
    let fresh = token(&server, &appid, &new_secret);
    assert!(fresh["access_token"].is_string(), "{fresh}");
}

#[test]
fn access_tokens_survive_a_restart() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    let (appid, secret) = credentials(&server, "x");
    let at = token(&server, &appid, &secret)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    server.stop();
    let server = Server::start(&dir, false);
    let tags = server
        .get_as(&format!("/cgi-bin/tags/get?access_token={at}"), None)
        .body;
    assert_eq!(tags, json!({"tags": []}));
}

#[test]
fn the_cli_prints_api_credentials() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    let (code, out, err) = plaza(&server, &["account", "api-credentials", "x"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    assert!(v["appid"].as_str().unwrap().starts_with("wx"));
    assert_eq!(v["secret"].as_str().unwrap().len(), 32);
}

#[test]
fn wechatpy_manages_the_custom_menu() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    let tag = server.post("/api/v1/accounts/shop/tags", &json!({"name": "vip"}));
    assert_eq!(tag.status, 201, "{tag:?}");
    let tag_id = tag.body["id"].as_u64().expect("tag id").to_string();
    let (appid, secret) = credentials(&server, "shop");
    let out = run_script(
        "wechat_client.py",
        &[&server.base, &appid, &secret, "menu", &tag_id],
        &[],
    );
    let out: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    // wechatpy turns WeChat's 46003 "menu no exist" (and only that) into None.
    assert_eq!(out["get_none"], json!({"ok": null}), "{out}");
    assert_eq!(out["create"]["ok"]["errcode"], 0, "{out}");
    let got = &out["get"]["ok"]["menu"]["button"];
    assert_eq!(got[0]["key"], "V1001_TODAY_MUSIC", "{out}");
    assert_eq!(
        got[1]["sub_button"][0]["url"], "http://www.soso.com/",
        "{out}"
    );
    assert_eq!(out["too_many"]["errcode"], 40016, "{out}");
    assert_eq!(out["bad_type"]["errcode"], 40015, "{out}");
    assert!(out["conditional"]["ok"]["menuid"].is_string(), "{out}");
    assert_eq!(
        out["get_with_conditional"]["ok"]["conditionalmenu"][0]["button"][0]["key"], "VIP_ONLY",
        "{out}"
    );
    assert_eq!(out["del_conditional"]["ok"]["errcode"], 0, "{out}");
    assert_eq!(out["delete"]["ok"]["errcode"], 0, "{out}");
    assert_eq!(out["get_after_delete"], json!({"ok": null}), "{out}");
    // The admin API sees what the WeChat API did.
    assert_eq!(server.get("/api/v1/accounts/shop/menu").status, 404);
}
