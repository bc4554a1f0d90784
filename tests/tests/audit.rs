//! The audit log through the real binary: changes through the API and the CLI are recorded with
//! who, how, where and what changed (before/after), secrets never reach it, reads are not
//! recorded, and listings filter by account — an operator sees only its account's records.

use plaza_tests::*;
use serde_json::{Value, json};

const SECRET: &str = "0123456789abcdef0123456789abcdef";
const WECHAT_TOKEN: &str = "auditWechatToken77";
const KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

fn records(answer: &Answer) -> Vec<Value> {
    assert_eq!(answer.status, 200, "{answer:?}");
    answer.body["records"].as_array().expect("records").clone()
}

#[test]
fn changes_are_recorded_with_who_how_and_what_changed_and_no_secret() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, true);
    assert_eq!(server.create_account("shop", "service", true).status, 201);
    let config = json!({"rules": [], "default_reply": "before"});
    let inst = server.install(
        "shop",
        json!({ "plugin": "auto-reply", "config": config, "grants": ["storage", "http.routes"] }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");

    // A config change: the installation before and after.
    let patched = server.patch(
        "/api/v1/accounts/shop/installations/auto-reply",
        &json!({"config": {"rules": [], "default_reply": "after"}}),
    );
    assert_eq!(patched.status, 200, "{patched:?}");
    let found = records(&server.get(
        "/api/v1/audit?route=/accounts/%7Baccount%7D/installations/%7Bplugin%7D&account=shop",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    let r = &found[0];
    assert_eq!(r["method"], "PATCH");
    assert_eq!(r["path"], "/accounts/shop/installations/auto-reply");
    assert_eq!(r["status"], 200);
    assert_eq!(r["via"], "api");
    assert_eq!(r["actor"]["kind"], "bootstrap");
    assert_eq!(r["actor"]["role"], "admin");
    assert_eq!(r["peer"], "127.0.0.1");
    assert!(r["at"].as_u64().is_some());
    assert_eq!(r["before"]["config"]["default_reply"], "before", "{r}");
    assert_eq!(r["after"]["config"]["default_reply"], "after", "{r}");

    // WeChat settings with secrets: nothing secret anywhere in the stored records.
    let put = server.put_raw(
        "/api/v1/accounts/demo/wechat",
        Some(TOKEN),
        json!({"appid": "wx1234567890abcdef", "secret": SECRET, "token": WECHAT_TOKEN,
               "encoding_aes_key": KEY, "mode": "secure", "api_base": "http://127.0.0.1:9"})
        .to_string()
        .as_bytes(),
    );
    assert_eq!(put.status, 200, "{put:?}");
    let all = server.get("/api/v1/audit?limit=1000");
    let text = all.body.to_string();
    for secret in [SECRET, WECHAT_TOKEN, KEY] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    let wechat: Vec<Value> = records(&all)
        .into_iter()
        .filter(|r| r["route"] == "/accounts/{account}/wechat")
        .collect();
    assert_eq!(wechat.len(), 1, "{wechat:?}");
    assert_eq!(wechat[0]["account"], "demo");
    assert_eq!(wechat[0]["after"]["mode"], "secure", "{}", wechat[0]);

    // The CLI names itself.
    let (code, out, err) = plaza(&server, &["events", "retention", "shop", "30"]);
    assert_eq!(code, 0, "{out}{err}");
    let retention =
        records(&server.get("/api/v1/audit?route=/accounts/%7Baccount%7D/events/retention"));
    assert_eq!(retention.len(), 1, "{retention:?}");
    assert_eq!(retention[0]["via"], "cli");
    assert_eq!(retention[0]["method"], "PUT");

    // Reads are not recorded.
    let before = records(&server.get("/api/v1/audit?limit=1000")).len();
    for path in [
        "/api/v1/accounts/shop",
        "/api/v1/accounts/demo/wechat",
        "/api/v1/system",
    ] {
        assert_eq!(server.get(path).status, 200);
    }
    let after = records(&server.get("/api/v1/audit?limit=1000"));
    assert_eq!(after.len(), before);
    assert!(after.iter().all(|r| r["method"] != "GET"), "{after:?}");

    // Filtering by account.
    let shop = records(&server.get("/api/v1/audit?account=shop&limit=1000"));
    assert!(shop.len() >= 3, "{shop:?}"); // install, patch, retention
    assert!(shop.iter().all(|r| r["account"] == "shop"), "{shop:?}");

    // The CLI lists with the same filter.
    let (code, out, err) = plaza(&server, &["audit", "--account", "demo"]);
    assert_eq!(code, 0, "{out}{err}");
    let listed: Value = serde_json::from_str(&out).expect("json");
    let listed = listed["records"].as_array().expect("records");
    assert!(!listed.is_empty());
    assert!(listed.iter().all(|r| r["account"] == "demo"), "{out}");
}

#[test]
fn an_operator_sees_only_its_accounts_records_and_is_recorded_by_name() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    assert_eq!(server.create_account("news", "service", true).status, 201);
    assert_eq!(server.create_account("shop", "service", true).status, 201);
    let created = server.post(
        "/api/v1/tokens",
        &json!({"name": "news desk", "role": "operator", "accounts": ["news"]}),
    );
    assert_eq!(created.status, 201, "{created:?}");
    let token = created.body["token"].as_str().expect("token").to_string();
    let id = created.body["id"].as_str().expect("id").to_string();
    // The token's secret is not in the record of its creation.
    let all = server.get("/api/v1/audit");
    assert!(!all.body.to_string().contains(&token), "{:?}", all.body);

    let tag = server.post_raw(
        "/api/v1/accounts/news/tags",
        Some(&token),
        "application/json",
        json!({"name": "vip"}).to_string().as_bytes(),
    );
    assert!(tag.status < 300, "{tag:?}");
    let other = server.post("/api/v1/accounts/shop/tags", &json!({"name": "buyers"}));
    assert!(other.status < 300, "{other:?}");

    let mine = records(&server.get_as("/api/v1/accounts/news/audit", Some(&token)));
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["account"], "news");
    assert_eq!(mine[0]["actor"]["kind"], "token");
    assert_eq!(mine[0]["actor"]["id"], id.as_str());
    assert_eq!(mine[0]["actor"]["name"], "news desk");
    assert_eq!(mine[0]["actor"]["role"], "operator");
    assert_eq!(mine[0]["after"]["name"], "vip");
    assert_eq!(
        server
            .get_as("/api/v1/accounts/shop/audit", Some(&token))
            .status,
        403
    );
    assert_eq!(server.get_as("/api/v1/audit", Some(&token)).status, 403);
    // By actor, for the admin.
    let by_actor = records(&server.get(&format!("/api/v1/audit?actor={id}")));
    assert_eq!(by_actor.len(), 1, "{by_actor:?}");
}
