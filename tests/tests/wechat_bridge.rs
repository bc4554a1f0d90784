//! The WeChat bridge channel end to end: the real binary as the developer server of a WeChat
//! account, and wechatpy 1.8.18 (from PyPI) playing WeChat's servers — signing and encrypting
//! pushes into `/wechat/{account}` and checking, decrypting and reading Plaza's replies in all
//! three modes. Hostile input is sent raw.

mod common;

use common::request;
use plaza_host::wechat::identity::original_id_for;
use plaza_host::wechat::signature::signature;
use plaza_tests::python::run_script;
use plaza_tests::{Server, data_dir};
use serde_json::{Value, json};

const APPID: &str = "wx1234567890abcdef";
const SECRET: &str = "0123456789abcdef0123456789abcdef";
const TOKEN: &str = "mytoken";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn bridge(server: &Server, mode: &str) {
    let r = server.put_raw(
        "/api/v1/accounts/demo/wechat",
        Some(plaza_tests::TOKEN),
        json!({"appid": APPID, "secret": SECRET, "token": TOKEN,
               "encoding_aes_key": KEY, "mode": mode, "api_base": "http://127.0.0.1:9"})
        .to_string()
        .as_bytes(),
    );
    assert_eq!(r.status, 200, "{r:?}");
}

/// Has wechatpy push `xml` (or do what `extra` says) and returns what it saw.
fn wechat(server: &Server, mode: &str, extra: Value) -> Value {
    let mut args = json!({
        "url": server.url("/wechat/demo"), "token": TOKEN, "appid": APPID,
        "encoding_aes_key": KEY, "mode": mode,
    });
    for (k, v) in extra.as_object().expect("object") {
        args[k] = v.clone();
    }
    let out = run_script("wechat_server.py", &[&args.to_string()], &[]);
    serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn text_push(openid: &str, msg_id: u64, text: &str) -> String {
    format!(
        "<xml><ToUserName><![CDATA[{}]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{text}]]></Content><MsgId>{msg_id}</MsgId></xml>",
        original_id_for("demo")
    )
}

fn event_push(openid: &str, event: &str, key: &str, at: u64) -> String {
    format!(
        "<xml><ToUserName><![CDATA[gh_x]]></ToUserName><FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{at}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )
}

#[test]
fn settings_show_no_secrets_and_refuse_bad_values() {
    let (_t, dir) = data_dir();
    let server = Server::start(&dir, true);
    assert_eq!(server.get("/api/v1/accounts/demo/wechat").status, 404);
    bridge(&server, "secure");
    let shown = server.get("/api/v1/accounts/demo/wechat");
    assert_eq!(shown.status, 200);
    let text = shown.body.to_string();
    assert!(
        !text.contains(SECRET) && !text.contains(KEY) && !text.contains(TOKEN),
        "{text}"
    );
    assert_eq!(shown.body["secret_set"], true);
    assert_eq!(shown.body["mode"], "secure");
    assert!(
        shown.body["callback_url"]
            .as_str()
            .unwrap()
            .ends_with("/wechat/demo")
    );
    // A bad value is named and nothing changes.
    let bad = server.put_raw(
        "/api/v1/accounts/demo/wechat",
        Some(plaza_tests::TOKEN),
        br#"{"mode":"plain","appid":"not-an-appid"}"#,
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    assert!(bad.error_message().contains("appid"), "{bad:?}");
    assert_eq!(
        server.get("/api/v1/accounts/demo/wechat").body["mode"],
        "secure"
    );
    // The CLI shows the same, and changes the mode keeping the secrets.
    let (code, out, err) =
        plaza_tests::plaza(&server, &["wechat", "set", "demo", "--mode", "compatible"]);
    assert_eq!(code, 0, "{out}{err}");
    let shown = server.get("/api/v1/accounts/demo/wechat");
    assert_eq!(shown.body["mode"], "compatible");
    assert_eq!(shown.body["secret_set"], true);
    let (code, out, _) = plaza_tests::plaza(&server, &["wechat", "show", "demo"]);
    assert_eq!(code, 0);
    assert!(out.contains("compatible") && !out.contains(SECRET), "{out}");
}

#[test]
fn wechatpy_handshakes_and_pushes_in_every_mode_and_reads_the_replies() {
    let (_t, dir) = data_dir();
    let server = Server::start(&dir, true);
    for (n, mode) in ["plain", "compatible", "secure"].into_iter().enumerate() {
        bridge(&server, mode);
        let hs = wechat(&server, mode, json!({"handshake": "5838479218127813673"}));
        assert_eq!(hs["status"], 200, "{hs}");
        assert_eq!(hs["body"], "5838479218127813673");

        let openid = format!("oUSER{n}");
        let msg_id = 1_234_567_890_123_456 + n as u64;
        let seen = wechat(
            &server,
            mode,
            json!({"xml": text_push(&openid, msg_id, "hello")}),
        );
        assert_eq!(seen["status"], 200, "{mode}: {seen}");
        assert_eq!(seen["encrypted"], mode != "plain", "{mode}: {seen}");
        if mode != "plain" {
            assert_eq!(seen["signature_ok"], true, "{mode}: {seen}");
        }
        let reply = &seen["reply"];
        assert_eq!(reply["MsgType"], "text", "{mode}: {seen}");
        assert!(
            reply["Content"]
                .as_str()
                .unwrap()
                .starts_with("Hello from Plaza"),
            "{seen}"
        );
        assert_eq!(reply["ToUserName"], openid.as_str());
        assert_eq!(reply["FromUserName"], original_id_for("demo"));

        // WeChat's retry of the same MsgId gets the same answer; the plugin ran once.
        let again = wechat(
            &server,
            mode,
            json!({"xml": text_push(&openid, msg_id, "hello")}),
        );
        assert_eq!(again["reply"]["Content"], reply["Content"]);
        let outbox = server.outbox("demo", &openid);
        assert_eq!(outbox.len(), 1, "{outbox:?}");
        assert_eq!(outbox[0]["plugin"], "auto-reply");

        // A subscribe event (through a parametric QR code) gets the follow reply.
        let sub = wechat(
            &server,
            mode,
            json!({"xml": event_push(&openid, "subscribe", "qrscene_42", 1_700_000_100)}),
        );
        assert!(
            sub["reply"]["Content"]
                .as_str()
                .unwrap()
                .starts_with("Welcome"),
            "{sub}"
        );
        let f = server.get(&format!("/api/v1/accounts/demo/followers/{openid}"));
        assert_eq!(f.body["subscribed"], true, "{f:?}");

        // Reports about the account's own sends are acknowledged, nothing runs.
        let report = format!(
            "<xml><ToUserName>gh_x</ToUserName><FromUserName>{openid}</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>TEMPLATESENDJOBFINISH</Event><MsgID>200163836</MsgID><Status>success</Status></xml>"
        );
        let r = wechat(&server, mode, json!({"xml": report}));
        assert_eq!(r["body"], "success", "{r}");
    }
}

#[test]
fn tampered_and_hostile_pushes_are_refused_logged_and_store_nothing() {
    let (_t, dir) = data_dir();
    let server = Server::start(&dir, true);
    bridge(&server, "secure");
    for (tamper, status) in [
        ("signature", 401),
        ("msg_signature", 401),
        ("appid", 400),
        ("base64", 400),
    ] {
        let seen = wechat(
            &server,
            "secure",
            json!({"xml": text_push("oBAD", 7, "hello"), "tamper": tamper}),
        );
        assert_eq!(seen["status"], status, "{tamper}: {seen}");
    }
    // A plain push to a secure-mode account.
    let plain = wechat(
        &server,
        "plain",
        json!({"xml": text_push("oBAD", 8, "hello")}),
    );
    assert_eq!(plain["status"], 400, "{plain}");
    let hs = wechat(
        &server,
        "secure",
        json!({"handshake": "1", "tamper": "signature"}),
    );
    assert_eq!(hs["status"], 401, "{hs}");

    // Raw: entity expansion, truncated XML, not UTF-8, oversized — correctly signed.
    bridge(&server, "plain");
    let ts = "1700000000";
    let nonce = "42";
    let path = format!(
        "/wechat/demo?signature={}&timestamp={ts}&nonce={nonce}&openid=oBAD",
        signature(TOKEN, ts, nonce)
    );
    let laughs = r#"<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><xml><FromUserName>oBAD</FromUserName><MsgType>text</MsgType><Content>&lol2;</Content><MsgId>9</MsgId></xml>"#;
    let bodies: Vec<(Vec<u8>, u16)> = vec![
        (laughs.as_bytes().to_vec(), 400),
        (
            b"<xml><FromUserName>oBAD</FromUserName><MsgType>te".to_vec(),
            400,
        ),
        (vec![0xff, 0xfe, 0x00], 400),
    ];
    for (body, status) in bodies {
        let r = request(
            &server,
            "POST",
            &path,
            &[("Content-Type", "text/xml")],
            &body,
        );
        assert_eq!(r.status, status, "{:?}", r.body);
    }
    // Oversized, streamed: refused before it is all read.
    let (status, _) = common::post_streamed(
        &server,
        &path,
        "text/xml",
        vec![common::Piece::Repeat(b'x', 300 << 10)],
    );
    assert_eq!(status, 413);
    // Nobody became a follower; each refusal is a security event.
    assert_eq!(
        server.get("/api/v1/accounts/demo/followers/oBAD").status,
        404
    );
    let events = server.get("/api/v1/accounts/demo/events?kinds=wechat.security.*&limit=100");
    assert_eq!(events.status, 200, "{events:?}");
    let listed = events.body["events"].as_array().expect("events");
    assert!(listed.len() >= 6, "{listed:?}");
    assert!(
        listed
            .iter()
            .any(|e| e["plugin_kind"] == "wechat.security.bad_signature"),
        "{listed:?}"
    );
}
