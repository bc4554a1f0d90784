//! The first feature end to end: follow reply, keyword reply, default reply, enable/disable,
//! de-duplication of retried messages, and the plugin's own rule-editing routes.

use plaza_tests::*;
use serde_json::json;

fn setup() -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    let config = json!({
        "rules": [
            { "keyword": "price", "match": "contains", "reply": "Prices are on the menu.", "priority": 1 },
            { "keyword": "hello", "match": "exact", "reply": "Hi there!" },
            { "keyword": "^order\\s+\\d+$", "match": "regex", "reply": "Looking up your order." }
        ],
        "follow_reply": "Welcome aboard!",
        "default_reply": "We got your message."
    });
    let inst = server.install(
        "shop",
        json!({ "plugin": "auto-reply", "config": config, "grants": ["storage", "http.routes"] }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    (tmp, server)
}

#[test]
fn follow_keyword_and_default_replies_land_in_the_outbox() {
    let (_tmp, server) = setup();
    assert_eq!(
        server.event("shop", "o-alice", "subscribe").reply_text(),
        Some("Welcome aboard!")
    );
    assert_eq!(
        server.text("shop", "o-alice", "1", "hello").reply_text(),
        Some("Hi there!")
    );
    assert_eq!(
        server
            .text("shop", "o-alice", "2", "what is the PRICE?")
            .reply_text(),
        Some("Prices are on the menu.")
    );
    assert_eq!(
        server.text("shop", "o-alice", "3", "order 42").reply_text(),
        Some("Looking up your order.")
    );
    assert_eq!(
        server
            .text("shop", "o-alice", "4", "something else")
            .reply_text(),
        Some("We got your message.")
    );
    let image = server.post(
        "/api/v1/accounts/shop/inbound",
        &json!({ "msg_id": "5", "from": "o-alice", "msg_type": "image", "media_id": "m1" }),
    );
    assert_eq!(image.reply_text(), Some("We got your message."));

    let outbox = server.outbox("shop", "o-alice");
    let texts: Vec<&str> = outbox
        .iter()
        .map(|m| m["content"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        texts,
        [
            "Welcome aboard!",
            "Hi there!",
            "Prices are on the menu.",
            "Looking up your order.",
            "We got your message.",
            "We got your message."
        ]
    );
    assert!(
        outbox
            .iter()
            .all(|m| m["delivery"] == "reply" && m["plugin"] == "auto-reply")
    );

    let follower = server.get("/api/v1/accounts/shop/followers/o-alice");
    assert_eq!(follower.body["subscribed"], true);
    assert_eq!(follower.body["counters"]["messages"], 5);
}

#[test]
fn a_disabled_plugin_does_not_answer_and_enabling_brings_it_back() {
    let (_tmp, server) = setup();
    let off = server.patch(
        "/api/v1/accounts/shop/installations/auto-reply",
        &json!({ "enabled": false }),
    );
    assert_eq!(off.status, 200, "{off:?}");
    let a = server.text("shop", "o-bob", "1", "hello");
    assert_eq!(a.status, 200);
    assert_eq!(a.body["reply"], serde_json::Value::Null);
    assert!(server.outbox("shop", "o-bob").is_empty());

    server.patch(
        "/api/v1/accounts/shop/installations/auto-reply",
        &json!({ "enabled": true }),
    );
    assert_eq!(
        server.text("shop", "o-bob", "2", "hello").reply_text(),
        Some("Hi there!")
    );
}

#[test]
fn a_retried_message_gets_the_same_answer_and_the_plugin_runs_once() {
    let (_tmp, server) = setup();
    // The probe counts its calls in storage, so a second run would show.
    install_probe(&server, "shop", "counter", &["storage"]);
    server.patch(
        "/api/v1/accounts/shop/installations/counter",
        &json!({ "priority": 10 }),
    );
    let first = server.text("shop", "o-carol", "777", "incr calls 1");
    assert_eq!(first.reply_text(), Some("1"));
    // The channel retries (e.g. WeChat's 5 s retry), twice, concurrently.
    let retries: Vec<Answer> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| server.text("shop", "o-carol", "777", "incr calls 1")))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in &retries {
        assert_eq!(r.reply_text(), Some("1"), "{r:?}");
    }
    assert_eq!(
        server
            .text("shop", "o-carol", "778", "get calls")
            .reply_text(),
        Some("1")
    );
    // One reply in the outbox for the retried message (not three), one for message 778.
    let replies = server.outbox("shop", "o-carol");
    assert_eq!(replies.len(), 2, "{replies:?}");
}

#[test]
fn rules_are_editable_through_the_plugins_routes_by_an_operator_only() {
    let (_tmp, server) = setup();
    let rules = server.get_as("/p/shop/auto-reply/rules", None);
    assert_eq!(rules.status, 200, "{rules:?}");
    assert_eq!(rules.body["source"], "config");
    assert_eq!(rules.body["rules"].as_array().map(|r| r.len()), Some(3));

    let new_rules = br#"[{"keyword":"hours","match":"exact","reply":"We open at 9."}]"#;
    let anon = server.put_raw("/p/shop/auto-reply/rules", None, new_rules);
    assert_eq!(anon.status, 403, "{anon:?}");
    assert_eq!(anon.error_code(), "forbidden");

    let bad = server.put_raw(
        "/p/shop/auto-reply/rules",
        Some(TOKEN),
        br#"[{"keyword":"x","match":"regex","reply":"y","priority":0,"oops":1"#,
    );
    assert_eq!(bad.status, 400, "{bad:?}");
    let bad_regex = server.put_raw(
        "/p/shop/auto-reply/rules",
        Some(TOKEN),
        br#"[{"keyword":"(unclosed","match":"regex","reply":"y"}]"#,
    );
    assert_eq!(bad_regex.status, 400, "{bad_regex:?}");

    let ok = server.put_raw("/p/shop/auto-reply/rules", Some(TOKEN), new_rules);
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        server.text("shop", "o-dan", "1", "hours").reply_text(),
        Some("We open at 9.")
    );
    // The config's rules are superseded, the default reply is not.
    assert_eq!(
        server.text("shop", "o-dan", "2", "hello").reply_text(),
        Some("We got your message.")
    );
    assert_eq!(
        server.get_as("/p/shop/auto-reply/rules", None).body["source"],
        "routes"
    );
}

#[test]
fn the_demo_account_answers_a_follow_and_hello() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, true);
    let welcome = server.event("demo", "o-visitor", "subscribe");
    assert!(
        welcome.reply_text().is_some_and(|t| t.contains("Welcome")),
        "{welcome:?}"
    );
    let hello = server.text("demo", "o-visitor", "1", "hello");
    assert!(
        hello.reply_text().is_some_and(|t| t.contains("Hello")),
        "{hello:?}"
    );
}
