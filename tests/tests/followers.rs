//! Followers end to end: profiles, the tag registry and its limits (admin API and plugins alike),
//! segment listing with a stable cursor, dashboard distributions, and the template registry.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use plaza_tests::*;
use serde_json::{Value, json};

const DAY_S: u64 = 86_400;

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// A follower subscribes at `at_s` (seconds since the epoch, as WeChat's `create_time`).
fn subscribe_at(server: &Server, account: &str, openid: &str, at_s: u64) {
    let a = server.post(
        &format!("/api/v1/accounts/{account}/inbound"),
        &json!({ "msg_type": "event", "event": "subscribe", "from": openid, "create_time": at_s }),
    );
    assert_eq!(a.status, 200, "subscribe {openid}: {a:?}");
}

fn subscribe(server: &Server, account: &str, openid: &str) {
    let a = server.event(account, openid, "subscribe");
    assert_eq!(a.status, 200, "subscribe {openid}: {a:?}");
}

fn create_tag(server: &Server, account: &str, name: &str) -> Answer {
    server.post(
        &format!("/api/v1/accounts/{account}/tags"),
        &json!({ "name": name }),
    )
}

fn tag(server: &Server, account: &str, tag: &str, openids: &[&str]) -> Answer {
    server.post(
        &format!("/api/v1/accounts/{account}/tags/{}/tag", enc(tag)),
        &json!({ "openids": openids }),
    )
}

fn follower(server: &Server, account: &str, openid: &str) -> Value {
    let a = server.get(&format!("/api/v1/accounts/{account}/followers/{openid}"));
    assert_eq!(a.status, 200, "{a:?}");
    a.body
}

fn tags_of(server: &Server, account: &str, openid: &str) -> Vec<String> {
    follower(server, account, openid)["tags"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Percent-encodes a path segment or query value.
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every openid matching `segment`, following `next_cursor` page by page (`limit` per page).
fn list_all(server: &Server, account: &str, segment: Option<&str>, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut q = format!("limit={limit}");
        if let Some(s) = segment {
            q.push_str(&format!("&segment={}", enc(s)));
        }
        if let Some(c) = &cursor {
            q.push_str(&format!("&cursor={}", enc(c)));
        }
        let a = server.get(&format!("/api/v1/accounts/{account}/followers?{q}"));
        assert_eq!(a.status, 200, "{a:?}");
        let page = a.body["followers"].as_array().cloned().unwrap_or_default();
        assert!(
            page.len() <= limit,
            "page of {} > limit {limit}",
            page.len()
        );
        out.extend(
            page.iter()
                .filter_map(|f| f["openid"].as_str().map(str::to_string)),
        );
        match a.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
    panic!("the cursor never reached the end");
}

/// Uploads the probe as `name` with the follower capabilities and installs it with them granted.
fn install_follower_probe(server: &Server, account: &str, name: &str) {
    let caps = ["storage", "followers.read", "followers.write"];
    let up = server.upload(&probe_manifest(name, &caps, 32, 2000), &probe_wasm());
    assert_eq!(up.status, 201, "{up:?}");
    let inst = server.install(account, json!({ "plugin": name, "grants": caps }));
    assert_eq!(inst.status, 201, "{inst:?}");
}

#[test]
fn tag_registry_and_its_limits_hold_for_operators_and_plugins() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("t", "service", true);
    for id in ["o-1", "o-2", "o-3"] {
        subscribe(&server, "t", id);
    }

    // A tag that is not in the registry cannot be used.
    let a = tag(&server, "t", "vip", &["o-1"]);
    assert_eq!((a.status, a.error_code()), (404, "not_found"), "{a:?}");
    assert!(a.error_message().contains("create it first"), "{a:?}");

    // 100 tags per account, then a typed refusal.
    for i in 0..100 {
        let a = create_tag(&server, "t", &format!("t{i:03}"));
        assert_eq!(a.status, 201, "tag {i}: {a:?}");
    }
    let a = create_tag(&server, "t", "one-too-many");
    assert_eq!((a.status, a.error_code()), (429, "quota_exceeded"), "{a:?}");
    assert!(a.error_message().contains("100"), "{a:?}");
    let a = create_tag(&server, "t", "t000");
    assert_eq!((a.status, a.error_code()), (409, "conflict"), "{a:?}");
    let a = create_tag(&server, "t", " padded");
    assert_eq!((a.status, a.error_code()), (400, "invalid"), "{a:?}");
    let list = server.get("/api/v1/accounts/t/tags");
    assert_eq!(list.status, 200, "{list:?}");
    assert_eq!(list.body["tags"].as_array().map(Vec::len), Some(100));

    // 20 tags per follower, then a typed refusal; nobody in the batch is tagged.
    for i in 0..20 {
        let a = tag(&server, "t", &format!("t{i:03}"), &["o-1"]);
        assert_eq!(a.status, 200, "tag {i}: {a:?}");
    }
    let a = tag(&server, "t", "t020", &["o-2", "o-1"]);
    assert_eq!((a.status, a.error_code()), (429, "quota_exceeded"), "{a:?}");
    assert!(
        a.error_message().contains("\"o-1\"") && a.error_message().contains("20"),
        "{a:?}"
    );
    assert_eq!(tags_of(&server, "t", "o-1").len(), 20);
    assert!(tags_of(&server, "t", "o-2").is_empty(), "all or nothing");
    // Tagging again with a tag already carried is no change and allowed at the limit.
    assert_eq!(tag(&server, "t", "t000", &["o-1"]).status, 200);

    // Batch rules: at most 50 openids; every openid must be a follower.
    let many: Vec<String> = (0..51).map(|i| format!("o-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    let a = tag(&server, "t", "t000", &many);
    assert_eq!((a.status, a.error_code()), (413, "too_large"), "{a:?}");
    let a = tag(&server, "t", "t000", &["o-2", "o-nobody"]);
    assert_eq!((a.status, a.error_code()), (404, "not_found"), "{a:?}");
    assert!(a.error_message().contains("o-nobody"), "{a:?}");
    assert!(tags_of(&server, "t", "o-2").is_empty());
    let a = tag(&server, "t", "t000", &["o-2", "o-3"]);
    assert_eq!(
        (a.status, a.body["followers"].as_u64()),
        (200, Some(2)),
        "{a:?}"
    );

    // Counts per tag are of subscribed followers.
    server.event("t", "o-3", "unsubscribe");
    let list = server.get("/api/v1/accounts/t/tags");
    let t000 = list.body["tags"]
        .as_array()
        .and_then(|t| t.iter().find(|t| t["name"] == "t000"))
        .cloned()
        .expect("t000 listed");
    assert_eq!(t000["followers"], 2, "{list:?}");

    // Untag.
    let a = server.post(
        "/api/v1/accounts/t/tags/t000/untag",
        &json!({ "openids": ["o-2"] }),
    );
    assert_eq!(a.status, 200, "{a:?}");
    assert!(tags_of(&server, "t", "o-2").is_empty());

    // Rename reaches every follower; the old name is gone.
    let a = server.patch("/api/v1/accounts/t/tags/t001", &json!({ "name": "会员" }));
    assert_eq!(
        (a.status, a.body["name"].as_str()),
        (200, Some("会员")),
        "{a:?}"
    );
    assert!(tags_of(&server, "t", "o-1").contains(&"会员".to_string()));
    assert!(!tags_of(&server, "t", "o-1").contains(&"t001".to_string()));
    let a = server.patch("/api/v1/accounts/t/tags/t001", &json!({ "name": "x" }));
    assert_eq!(a.status, 404, "{a:?}");
    let a = server.patch(
        &format!("/api/v1/accounts/t/tags/{}", enc("会员")),
        &json!({ "name": "t002" }),
    );
    assert_eq!((a.status, a.error_code()), (409, "conflict"), "{a:?}");

    // Delete untags everyone and frees a place in the registry.
    let a = server.delete("/api/v1/accounts/t/tags/t000");
    assert_eq!(
        (a.status, a.body["untagged"].as_u64()),
        (200, Some(2)),
        "{a:?}"
    );
    assert!(!tags_of(&server, "t", "o-1").contains(&"t000".to_string()));
    assert!(!tags_of(&server, "t", "o-3").contains(&"t000".to_string()));
    assert_eq!(server.delete("/api/v1/accounts/t/tags/t000").status, 404);
    assert_eq!(create_tag(&server, "t", "fresh").status, 201);

    // A plugin's `followers.tag` obeys the same rules.
    install_follower_probe(&server, "t", "probe");
    let reply = |from: &str, n: u32, text: &str| {
        server
            .text("t", from, &format!("m-{from}-{n}"), text)
            .reply_text()
            .unwrap_or_default()
            .to_string()
    };
    let r = reply("o-2", 1, "tag no-such-tag");
    assert!(r.starts_with("error:not_found:"), "{r}");
    assert_eq!(reply("o-2", 2, "tag fresh"), "tagged");
    assert!(tags_of(&server, "t", "o-2").contains(&"fresh".to_string()));
    // o-1 carries 20 tags (t000 was deleted, so 19 now: add one back first).
    assert_eq!(tag(&server, "t", "t099", &["o-1"]).status, 200);
    assert_eq!(tags_of(&server, "t", "o-1").len(), 20);
    let r = reply("o-1", 3, "tag fresh");
    assert!(r.starts_with("error:quota_exceeded:"), "{r}");
    assert_eq!(reply("o-2", 4, "untag fresh"), "untagged");
    assert!(tags_of(&server, "t", "o-2").is_empty());
}

#[test]
fn segments_list_followers_page_by_page_with_a_stable_cursor() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("s", "service", true);
    let now = now_s();
    let n = 260;
    let id = |i: usize| format!("o-{i:03}");
    for i in 0..n {
        // Every other follower subscribed (and last interacted) 10 days ago, the rest an hour ago.
        let at = if i % 2 == 0 {
            now - 10 * DAY_S
        } else {
            now - 3600
        };
        subscribe_at(&server, "s", &id(i), at);
    }
    assert_eq!(create_tag(&server, "s", "vip").status, 201);
    let vips: Vec<String> = (0..n).filter(|i| i % 4 == 0).map(id).collect();
    for chunk in vips.chunks(50) {
        let chunk: Vec<&str> = chunk.iter().map(String::as_str).collect();
        assert_eq!(tag(&server, "s", "vip", &chunk).status, 200);
    }
    for i in (0..n).filter(|i| i % 3 == 0) {
        let a = server.patch(
            &format!("/api/v1/accounts/s/followers/{}", id(i)),
            &json!({ "attributes": { "level": "gold", "spend": (i * 2).to_string() } }),
        );
        assert_eq!(a.status, 200, "{a:?}");
    }
    for i in (0..n).filter(|i| i % 10 == 5) {
        server.text("s", &id(i), &format!("msg-{i}"), "hello");
    }
    for i in (0..n).filter(|i| i % 13 == 0) {
        server.event("s", &id(i), "unsubscribe");
    }

    let expect = |pred: &dyn Fn(usize) -> bool| -> Vec<String> {
        (0..n).filter(|&i| pred(i)).map(id).collect()
    };
    let subscribed = |i: usize| !i.is_multiple_of(13);

    // No segment: everyone, unsubscribed included, over many pages.
    assert_eq!(list_all(&server, "s", None, 40), expect(&|_| true));

    // A segment over 250+ followers, 25 per page: every match exactly once, in openid order.
    let seg = "tag:vip or attr.level = gold";
    let got = list_all(&server, "s", Some(seg), 25);
    let want = expect(&|i| subscribed(i) && (i % 4 == 0 || i % 3 == 0));
    assert!(want.len() > 100, "{}", want.len());
    assert_eq!(got, want);
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>().len(),
        got.len(),
        "no duplicates"
    );
    // The same with other page sizes.
    assert_eq!(list_all(&server, "s", Some(seg), 1).len(), want.len());
    assert_eq!(list_all(&server, "s", Some(seg), 1000), want);

    // Unsubscribed followers only when the expression says so.
    assert_eq!(
        list_all(
            &server,
            "s",
            Some("tag:vip and (subscribed or unsubscribed)"),
            30
        ),
        expect(&|i| i % 4 == 0)
    );
    assert_eq!(
        list_all(&server, "s", Some("unsubscribed"), 30),
        expect(&|i| i % 13 == 0)
    );

    // Time, attributes, counters, negation.
    assert_eq!(
        list_all(&server, "s", Some("active_within 1d"), 50),
        expect(&|i| subscribed(i) && i % 2 == 1)
    );
    assert_eq!(
        list_all(
            &server,
            "s",
            Some("not active_within 1d and tags.none(vip)"),
            50
        ),
        expect(&|i| subscribed(i) && i % 2 == 0 && i % 4 != 0)
    );
    let lo_ms = (now - 2 * 3600) * 1000;
    assert_eq!(
        list_all(
            &server,
            "s",
            Some(&format!("subscribed_between {lo_ms}..")),
            50
        ),
        expect(&|i| subscribed(i) && i % 2 == 1)
    );
    assert_eq!(
        list_all(&server, "s", Some("attr.spend in 100..=200"), 50),
        expect(&|i| subscribed(i) && i % 3 == 0 && (100..=200).contains(&(i * 2)))
    );
    assert_eq!(
        list_all(&server, "s", Some("counter.messages >= 1"), 50),
        expect(&|i| subscribed(i) && i % 10 == 5)
    );

    // A plugin lists with the same segments.
    install_follower_probe(&server, "s", "probe");
    let a = server.text("s", "o-001", "p-1", &format!("segment {seg}"));
    assert_eq!(
        a.reply_text(),
        Some(format!("count:{}", want.len()).as_str()),
        "{a:?}"
    );
    let a = server.text("s", "o-001", "p-2", "segment tags.any(vip");
    let r = a.reply_text().unwrap_or_default();
    assert!(
        r.starts_with("error:invalid:") && r.contains("position"),
        "{r}"
    );

    // Bad syntax is a 400 naming the position.
    let a = server.get(&format!(
        "/api/v1/accounts/s/followers?segment={}",
        enc("tag:vip and and")
    ));
    assert_eq!((a.status, a.error_code()), (400, "invalid"), "{a:?}");
    assert!(a.error_message().contains("position 13"), "{a:?}");
}

#[test]
fn profiles_and_distributions_for_dashboards() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("d", "subscription", false);
    // Yesterday 01:30 UTC = 09:30 in Asia/Shanghai (the default timezone); 14:10 UTC = 22:10.
    let midnight = (now_s() / DAY_S - 1) * DAY_S;
    let morning = midnight + 5400;
    let evening = midnight + 14 * 3600 + 600;
    for (openid, at, region, gender, language) in [
        ("o-a", morning, "Shanghai", "female", "zh_CN"),
        ("o-b", morning, "Shanghai", "male", "zh_CN"),
        ("o-c", evening, "Beijing", "female", "en"),
        ("o-d", evening, "", "", ""),
        ("o-e", morning, "Beijing", "male", "zh_CN"),
    ] {
        subscribe_at(&server, "d", openid, at);
        let a = server.patch(
            &format!("/api/v1/accounts/d/followers/{openid}"),
            &json!({ "region": region, "gender": gender, "language": language, "nickname": format!("N {openid}") }),
        );
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(a.body["region"], region);
    }
    server.event("d", "o-e", "unsubscribe");

    let a = server.get("/api/v1/accounts/d/followers/stats");
    assert_eq!(a.status, 200, "{a:?}");
    let s = &a.body;
    assert_eq!(
        (&s["total"], &s["subscribed"], &s["unsubscribed"]),
        (&json!(5), &json!(4), &json!(1)),
        "{s}"
    );
    assert_eq!(
        s["by_region"],
        json!({ "Shanghai": 2, "Beijing": 1, "unknown": 1 })
    );
    assert_eq!(
        s["by_gender"],
        json!({ "female": 2, "male": 1, "unknown": 1 })
    );
    assert_eq!(
        s["by_language"],
        json!({ "zh_CN": 2, "en": 1, "unknown": 1 })
    );
    let hours = s["by_active_hour"].as_array().expect("24 hours");
    assert_eq!(hours.len(), 24);
    assert_eq!((&hours[9], &hours[22]), (&json!(2), &json!(2)), "{s}");
    assert_eq!(s["timezone"], "Asia/Shanghai");

    // Restricted to a segment.
    let a = server.get(&format!(
        "/api/v1/accounts/d/followers/stats?segment={}",
        enc("region = Shanghai")
    ));
    assert_eq!(a.body["subscribed"], 2, "{a:?}");
    assert_eq!(a.body["by_gender"], json!({ "female": 1, "male": 1 }));

    // Attributes set and removed; profile fields validated; unknown followers are 404.
    let a = server.patch(
        "/api/v1/accounts/d/followers/o-a",
        &json!({ "attributes": { "level": "gold", "spend": "120" } }),
    );
    assert_eq!(
        a.body["attributes"],
        json!({ "level": "gold", "spend": "120" })
    );
    assert_eq!(a.body["nickname"], "N o-a", "untouched fields stay");
    let a = server.patch(
        "/api/v1/accounts/d/followers/o-a",
        &json!({ "attributes": { "spend": null } }),
    );
    assert_eq!(a.body["attributes"], json!({ "level": "gold" }));
    for bad in [
        json!({ "gender": "robot" }),
        json!({ "language": "zh CN" }),
        json!({ "nickname": "x".repeat(65) }),
        json!({ "favourite": "tea" }),
    ] {
        let a = server.patch("/api/v1/accounts/d/followers/o-a", &bad);
        assert_eq!((a.status, a.error_code()), (400, "invalid"), "{bad}: {a:?}");
    }
    let a = server.patch(
        "/api/v1/accounts/d/followers/o-nobody",
        &json!({ "region": "x" }),
    );
    assert_eq!((a.status, a.error_code()), (404, "not_found"), "{a:?}");
    let a = server.get("/api/v1/accounts/nope/followers/stats");
    assert_eq!(a.status, 404, "{a:?}");
}

#[test]
fn templates_crud_render_validation_and_the_active_limit() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("m", "service", true);
    let content = "{{first.DATA}}\nOrder: {{order.DATA}}\nTotal: {{amount.DATA}}\n{{remark.DATA}}";
    let a = server.post(
        "/api/v1/accounts/m/templates",
        &json!({ "id": "order_paid", "title": "Order paid", "content": content }),
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(
        a.body["fields"],
        json!(["first", "order", "amount", "remark"])
    );
    assert_eq!(a.body["active"], true);
    let a = server.post(
        "/api/v1/accounts/m/templates",
        &json!({ "id": "order_paid", "title": "Again", "content": "{{x.DATA}}" }),
    );
    assert_eq!((a.status, a.error_code()), (409, "conflict"), "{a:?}");
    let a = server.post(
        "/api/v1/accounts/m/templates",
        &json!({ "title": "Broken", "content": "Hi {{name}}" }),
    );
    assert_eq!((a.status, a.error_code()), (400, "invalid"), "{a:?}");
    assert!(a.error_message().contains("position 4"), "{a:?}");

    let a = server.get("/api/v1/accounts/m/templates/order_paid");
    assert_eq!(
        (a.status, a.body["title"].as_str()),
        (200, Some("Order paid"))
    );

    // Rendering: every field, nothing unknown, values at most 200 characters.
    let preview = |fields: Value| {
        server.post(
            "/api/v1/accounts/m/templates/order_paid/preview",
            &json!({ "fields": fields }),
        )
    };
    let a = preview(json!({ "first": "Thanks!", "order": "A-1", "amount": "¥9.90", "remark": "" }));
    assert_eq!(a.status, 200, "{a:?}");
    assert_eq!(a.body["text"], "Thanks!\nOrder: A-1\nTotal: ¥9.90\n");
    let a = preview(json!({ "first": "x", "colour": "red" }));
    assert_eq!((a.status, a.error_code()), (400, "invalid"), "{a:?}");
    let m = a.error_message();
    assert!(
        m.contains("\"order\"") && m.contains("\"amount\"") && m.contains("\"remark\""),
        "{m}"
    );
    assert!(m.contains("unknown field(s) \"colour\""), "{m}");
    let a =
        preview(json!({ "first": "x", "order": "长".repeat(201), "amount": "1", "remark": "" }));
    assert_eq!((a.status, a.error_code()), (400, "invalid"), "{a:?}");
    assert!(a.error_message().contains("200"), "{a:?}");
    let a = server.post(
        "/api/v1/accounts/m/templates/nope/preview",
        &json!({ "fields": {} }),
    );
    assert_eq!((a.status, a.error_code()), (404, "not_found"), "{a:?}");

    // Update: new content, new fields.
    let a = server.patch(
        "/api/v1/accounts/m/templates/order_paid",
        &json!({ "content": "Paid: {{amount.DATA}}" }),
    );
    assert_eq!(
        (a.status, &a.body["fields"]),
        (200, &json!(["amount"])),
        "{a:?}"
    );
    let a = preview(json!({ "amount": "5" }));
    assert_eq!(a.body["text"], "Paid: 5", "{a:?}");

    // At most 25 active.
    for i in 1..25 {
        let a = server.post(
            "/api/v1/accounts/m/templates",
            &json!({ "id": format!("t{i}"), "title": format!("T{i}"), "content": "{{x.DATA}}" }),
        );
        assert_eq!(a.status, 201, "template {i}: {a:?}");
    }
    let a = server.post(
        "/api/v1/accounts/m/templates",
        &json!({ "id": "t25", "title": "T25", "content": "{{x.DATA}}" }),
    );
    assert_eq!((a.status, a.error_code()), (429, "quota_exceeded"), "{a:?}");
    assert!(a.error_message().contains("25"), "{a:?}");
    let a = server.post(
        "/api/v1/accounts/m/templates",
        &json!({ "id": "t25", "title": "T25", "content": "{{x.DATA}}", "active": false }),
    );
    assert_eq!((a.status, &a.body["active"]), (201, &json!(false)), "{a:?}");
    let a = server.patch(
        "/api/v1/accounts/m/templates/t25",
        &json!({ "active": true }),
    );
    assert_eq!((a.status, a.error_code()), (429, "quota_exceeded"), "{a:?}");
    // An inactive template cannot be rendered for sending.
    let a = server.post(
        "/api/v1/accounts/m/templates/t25/preview",
        &json!({ "fields": { "x": "1" } }),
    );
    assert_eq!((a.status, a.error_code()), (409, "conflict"), "{a:?}");
    let list = server.get("/api/v1/accounts/m/templates");
    assert_eq!(list.body["templates"].as_array().map(Vec::len), Some(26));
    assert_eq!(list.body["active"], 25);

    // Delete frees a place.
    let a = server.delete("/api/v1/accounts/m/templates/t1");
    assert_eq!(a.status, 204, "{a:?}");
    assert_eq!(server.get("/api/v1/accounts/m/templates/t1").status, 404);
    assert_eq!(server.delete("/api/v1/accounts/m/templates/t1").status, 404);
    let a = server.patch(
        "/api/v1/accounts/m/templates/t25",
        &json!({ "active": true }),
    );
    assert_eq!((a.status, &a.body["active"]), (200, &json!(true)), "{a:?}");

    // Templates survive a restart.
    let mut server = server;
    server.stop();
    let server = Server::start(&dir, false);
    let list = server.get("/api/v1/accounts/m/templates");
    assert_eq!(list.body["active"], 25, "{list:?}");
}

#[test]
fn the_cli_manages_tags_segments_and_templates() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("c", "service", true);
    for id in ["o-1", "o-2", "o-3"] {
        subscribe(&server, "c", id);
    }
    let ok = |args: &[&str]| {
        let (code, out, err) = plaza(&server, args);
        assert_eq!(code, 0, "plaza {args:?}: {out}{err}");
        out
    };
    ok(&["tags", "create", "c", "big spender"]);
    ok(&["tags", "tag", "c", "big spender", "o-1", "o-2"]);
    let out = ok(&["tags", "list", "c"]);
    assert!(
        out.contains("\"big spender\"") && out.contains("\"followers\": 2"),
        "{out}"
    );
    let out = ok(&[
        "followers",
        "list",
        "c",
        "--segment",
        "tag:\"big spender\"",
        "--all",
    ]);
    assert!(
        out.contains("o-1") && out.contains("o-2") && !out.contains("o-3"),
        "{out}"
    );
    ok(&[
        "followers",
        "set",
        "c",
        "o-3",
        "--region",
        "Hangzhou",
        "--attr",
        "level=gold",
    ]);
    let out = ok(&[
        "followers",
        "list",
        "c",
        "--segment",
        "attr.level = gold",
        "--limit",
        "1",
    ]);
    assert!(out.contains("o-3") && out.contains("Hangzhou"), "{out}");
    let out = ok(&["followers", "stats", "c"]);
    assert!(out.contains("\"Hangzhou\": 1"), "{out}");
    ok(&["tags", "rename", "c", "big spender", "vip"]);
    ok(&["tags", "untag", "c", "vip", "o-2"]);
    let out = ok(&["followers", "list", "c", "--segment", "tag:vip"]);
    assert!(out.contains("o-1") && !out.contains("o-2"), "{out}");
    ok(&["tags", "delete", "c", "vip"]);
    let (code, _, err) = plaza(&server, &["tags", "tag", "c", "vip", "o-1"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("create it first"), "{err}");
    let (code, _, err) = plaza(&server, &["followers", "list", "c", "--segment", "tag:"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("position"), "{err}");

    ok(&[
        "templates",
        "add",
        "c",
        "--id",
        "welcome",
        "--title",
        "Welcome",
        "--content",
        "Hello {{name.DATA}}",
    ]);
    let out = ok(&["templates", "list", "c"]);
    assert!(out.contains("\"welcome\""), "{out}");
    let out = ok(&[
        "templates",
        "preview",
        "c",
        "welcome",
        "--field",
        "name=Ann",
    ]);
    assert!(out.contains("Hello Ann"), "{out}");
    let (code, _, err) = plaza(&server, &["templates", "preview", "c", "welcome"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing field(s) \"name\""), "{err}");
    ok(&["templates", "deactivate", "c", "welcome"]);
    ok(&["templates", "delete", "c", "welcome"]);
    let (code, _, _) = plaza(&server, &["templates", "show", "c", "welcome"]);
    assert_eq!(code, 2);
}
