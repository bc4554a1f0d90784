//! Custom menus end to end: set and read a menu, invalid menus refused with WeChat's code and
//! nothing changed, a conditional menu by tag shown to a tagged follower and the default to
//! another, clicks reaching a plugin and counted in the stats, and the `plaza menu` CLI.

use plaza_tests::*;
use serde_json::{Value, json};

fn menu_json(key: &str) -> Value {
    json!({"button": [
        {"type": "click", "name": "今日歌曲", "key": key},
        {"name": "菜单", "sub_button": [
            {"type": "view", "name": "搜索", "url": "http://www.soso.com/"},
            {"type": "miniprogram", "name": "wxa", "url": "http://mp.weixin.qq.com",
             "appid": "wx286b93c14bbf93aa", "pagepath": "pages/lunar/index"},
            {"type": "click", "name": "赞一下我们", "key": "V1001_GOOD"}]}]})
}

fn put_menu(server: &Server, account: &str, menu: &Value) -> Answer {
    server.put_raw(
        &format!("/api/v1/accounts/{account}/menu"),
        Some(TOKEN),
        menu.to_string().as_bytes(),
    )
}

fn setup() -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    (tmp, server)
}

fn click(server: &Server, from: &str, event: &str, key: &str) -> Answer {
    let a = server.post(
        "/api/v1/accounts/shop/inbound",
        &json!({"msg_type": "event", "event": event, "from": from, "event_key": key}),
    );
    assert_eq!(a.status, 200, "{a:?}");
    a
}

#[test]
fn menus_are_set_read_validated_and_deleted() {
    let (_tmp, server) = setup();
    let none = server.get("/api/v1/accounts/shop/menu");
    assert_eq!(
        (none.status, none.error_code()),
        (404, "not_found"),
        "{none:?}"
    );
    assert!(none.error_message().starts_with("46003 "), "{none:?}");

    let set = put_menu(&server, "shop", &menu_json("V1001_TODAY_MUSIC"));
    assert_eq!(set.status, 200, "{set:?}");
    let menuid = set.body["menuid"].as_str().expect("menuid").to_string();
    assert!(menuid.parse::<u64>().is_ok(), "{menuid}");
    let got = server.get("/api/v1/accounts/shop/menu");
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(
        got.body["menu"]["button"],
        menu_json("V1001_TODAY_MUSIC")["button"]
    );
    assert_eq!(got.body["menu"]["menuid"], menuid.as_str());

    // Each broken rule: 400, WeChat's code first, the button named, nothing changed.
    let four = json!({"button": [
        {"type": "click", "name": "a", "key": "a"}, {"type": "click", "name": "b", "key": "b"},
        {"type": "click", "name": "c", "key": "c"}, {"type": "click", "name": "d", "key": "d"}]});
    let long_name = json!({"button": [{"type": "click", "name": "六个中文字符", "key": "k"}]});
    let bad_url = json!({"button": [{"name": "m", "sub_button": [
        {"type": "view", "name": "bad", "url": "javascript:alert(1)"}]}]});
    let unknown = json!({"button": [{"type": "teleport", "name": "t", "key": "k"}]});
    let no_key = json!({"button": [{"name": "m", "sub_button": [{"type": "click", "name": "k"}]}]});
    for (menu, code, names) in [
        (four, "40016 invalid button size", "4 top-level buttons"),
        (
            long_name,
            "40018 invalid button name size",
            "button[0] \"六个中文字符\"",
        ),
        (
            bad_url,
            "40055 invalid url domain",
            "button[0].sub_button[0] \"bad\"",
        ),
        (
            unknown,
            "40015 invalid button type",
            "unknown type \"teleport\"",
        ),
        (
            no_key,
            "40026 invalid sub button key size",
            "button[0].sub_button[0] \"k\"",
        ),
    ] {
        let a = put_menu(&server, "shop", &menu);
        assert_eq!(
            (a.status, a.error_code()),
            (400, "invalid"),
            "{menu}: {a:?}"
        );
        assert!(a.error_message().starts_with(code), "{code}: {a:?}");
        assert!(a.error_message().contains(names), "{names}: {a:?}");
    }
    let syntax = server.put_raw("/api/v1/accounts/shop/menu", Some(TOKEN), b"{\"button\":[");
    assert_eq!(
        (syntax.status, syntax.error_code()),
        (400, "invalid"),
        "{syntax:?}"
    );
    let unknown_field = put_menu(&server, "shop", &json!({"buttons": []}));
    assert_eq!(unknown_field.status, 400, "{unknown_field:?}");
    assert_eq!(server.get("/api/v1/accounts/shop/menu").body, got.body);

    // Written back as read, it is accepted.
    let back = put_menu(&server, "shop", &got.body["menu"]);
    assert_eq!(back.status, 200, "{back:?}");

    let del = server.delete("/api/v1/accounts/shop/menu");
    assert_eq!(del.status, 204, "{del:?}");
    assert_eq!(server.get("/api/v1/accounts/shop/menu").status, 404);
    assert_eq!(server.delete("/api/v1/accounts/shop/menu").status, 404);
    let other = server.get("/api/v1/accounts/nope/menu");
    assert_eq!(other.status, 404, "{other:?}");
}

#[test]
fn conditional_menus_by_tag_and_clicks_counted() {
    let (_tmp, server) = setup();
    install_probe(&server, "shop", "probe", &["storage"]);
    for who in ["o-vip", "o-plain"] {
        server.event("shop", who, "subscribe");
    }
    let tag = server.post("/api/v1/accounts/shop/tags", &json!({"name": "vip"}));
    assert_eq!(tag.status, 201, "{tag:?}");
    let tagged = server.post(
        "/api/v1/accounts/shop/tags/vip/tag",
        &json!({"openids": ["o-vip"]}),
    );
    assert!(tagged.status < 300, "{tagged:?}");
    let tags = server.get("/api/v1/accounts/shop/tags");
    let tag_id = tags.body["tags"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "vip"))
        .and_then(|t| t["id"].as_u64())
        .unwrap_or_else(|| panic!("vip tag id: {tags:?}"));

    let mut vip_menu = json!({"button": [{"type": "click", "name": "VIP", "key": "ECHO_VIP"}]});
    vip_menu["matchrule"] = json!({"tag_id": tag_id.to_string()});
    // No default menu yet: refused.
    let early = server.post("/api/v1/accounts/shop/menu/conditional", &vip_menu);
    assert_eq!(early.status, 409, "{early:?}");
    assert!(early.error_message().starts_with("65303 "), "{early:?}");

    assert_eq!(
        put_menu(&server, "shop", &menu_json("V1001_TODAY_MUSIC")).status,
        200
    );
    let added = server.post("/api/v1/accounts/shop/menu/conditional", &vip_menu);
    assert_eq!(added.status, 201, "{added:?}");
    let vip_menuid = added.body["menuid"].as_str().expect("menuid").to_string();

    let mut unknown_tag = vip_menu.clone();
    unknown_tag["matchrule"] = json!({"tag_id": (tag_id + 1000).to_string()});
    let a = server.post("/api/v1/accounts/shop/menu/conditional", &unknown_tag);
    assert_eq!(a.status, 400, "{a:?}");
    assert!(a.error_message().starts_with("40035 "), "{a:?}");
    let mut no_rule = vip_menu.clone();
    no_rule["matchrule"] = json!({"tag_id": "", "sex": ""});
    let a = server.post("/api/v1/accounts/shop/menu/conditional", &no_rule);
    assert!(a.error_message().starts_with("65304 "), "{a:?}");

    let all = server.get("/api/v1/accounts/shop/menu");
    let conditional = all.body["conditionalmenu"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(conditional.len(), 1, "{all:?}");
    assert_eq!(conditional[0]["menuid"], vip_menuid.as_str());
    assert_eq!(conditional[0]["matchrule"]["tag_id"], tag_id.to_string());

    let vip = server.get("/api/v1/accounts/shop/followers/o-vip/menu");
    assert_eq!(vip.status, 200, "{vip:?}");
    assert_eq!(vip.body["conditional"], true);
    assert_eq!(vip.body["menuid"], vip_menuid.as_str());
    assert_eq!(vip.body["menu"]["button"][0]["key"], "ECHO_VIP");
    let plain = server.get("/api/v1/accounts/shop/followers/o-plain/menu");
    assert_eq!(plain.body["conditional"], false, "{plain:?}");
    assert_eq!(
        plain.body["menu"]["button"],
        menu_json("V1001_TODAY_MUSIC")["button"]
    );
    let unauthenticated = server.get_as("/api/v1/accounts/shop/followers/o-vip/menu", None);
    assert_eq!(unauthenticated.status, 401, "{unauthenticated:?}");

    // Clicks reach the plugin and are counted per key.
    let a = click(&server, "o-vip", "click", "ECHO_VIP");
    assert_eq!(a.reply_text(), Some("probe-click:ECHO_VIP"), "{a:?}");
    click(&server, "o-plain", "click", "V1001_GOOD");
    click(&server, "o-vip", "click", "ECHO_VIP");
    let a = click(&server, "o-plain", "scancode_push", "ECHO_SCAN");
    assert_eq!(a.reply_text(), Some("probe-click:ECHO_SCAN"), "{a:?}");
    click(&server, "o-plain", "view", "http://www.soso.com/");
    let stats = eventually("three keys clicked", || {
        let s = server.get("/api/v1/accounts/shop/menu/stats?days=1");
        assert_eq!(s.status, 200, "{s:?}");
        (s.body["clicks"].as_array().map_or(0, Vec::len) == 4).then_some(s)
    });
    assert_eq!(
        stats.body["clicks"],
        json!([
            {"key": "ECHO_VIP", "type": "click", "count": 2},
            {"key": "ECHO_SCAN", "type": "click", "count": 1},
            {"key": "V1001_GOOD", "type": "click", "count": 1},
            {"key": "http://www.soso.com/", "type": "view", "count": 1},
        ]),
        "{stats:?}"
    );
    let bad = server.get("/api/v1/accounts/shop/menu/stats?days=0");
    assert_eq!((bad.status, bad.error_code()), (400, "invalid"), "{bad:?}");

    // Deleting the conditional menu: the tagged follower sees the default again.
    let del = server.delete(&format!(
        "/api/v1/accounts/shop/menu/conditional/{vip_menuid}"
    ));
    assert_eq!(del.status, 204, "{del:?}");
    let again = server.delete(&format!(
        "/api/v1/accounts/shop/menu/conditional/{vip_menuid}"
    ));
    assert_eq!(again.status, 404, "{again:?}");
    assert!(again.error_message().starts_with("65301 "), "{again:?}");
    let vip = server.get("/api/v1/accounts/shop/followers/o-vip/menu");
    assert_eq!(vip.body["conditional"], false, "{vip:?}");
}

#[test]
fn the_cli_sets_shows_and_deletes_menus() {
    let (tmp, server) = setup();
    let inline = menu_json("INLINE").to_string();
    let (code, out, err) = plaza(&server, &["menu", "set", "shop", &inline]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, err) = plaza(&server, &["menu", "show", "shop"]);
    assert_eq!(code, 0, "{err}");
    let shown: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(shown["menu"]["button"][0]["key"], "INLINE");

    let file = tmp.path().join("menu.json");
    std::fs::write(&file, menu_json("FROM_FILE").to_string()).expect("write");
    let path = file.to_str().expect("utf-8 path");
    let (code, out, err) = plaza(&server, &["menu", "set", "shop", path]);
    assert_eq!(code, 0, "{out}{err}");
    let (_, out, _) = plaza(&server, &["menu", "show", "shop", "--follower", "o-anyone"]);
    let seen: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(seen["menu"]["button"][0]["key"], "FROM_FILE", "{out}");

    let bad = json!({"button": []}).to_string();
    let (code, _, err) = plaza(&server, &["menu", "set", "shop", &bad]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("40016 invalid button size"), "{err}");
    let (code, _, err) = plaza(&server, &["menu", "set", "shop", "{not json"]);
    assert_eq!(code, 2, "{err}");

    let (code, out, err) = plaza(&server, &["menu", "stats", "shop", "--days", "3"]);
    assert_eq!(code, 0, "{err}");
    let stats: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(stats["clicks"], json!([]), "{out}");

    let (code, _, err) = plaza(&server, &["menu", "delete", "shop"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = plaza(&server, &["menu", "show", "shop"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("46003"), "{err}");
}
