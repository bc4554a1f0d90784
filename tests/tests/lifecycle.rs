//! Installation lifecycle: upgrade and roll back per account, uninstall with and without purge, the
//! hello example, and every inbound message and event type reaching the pipeline.

use plaza_tests::*;
use serde_json::json;

#[test]
fn upgrade_and_rollback_switch_versions_per_account() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    server.create_account("y", "service", true);
    let caps = ["storage"];
    assert_eq!(
        server
            .upload(&probe_manifest("probe", &caps, 32, 500), &probe_wasm())
            .status,
        201
    );
    let v2 = probe_manifest("probe", &caps, 32, 500)
        .replace("version = \"0.1.0\"", "version = \"0.2.0\"");
    assert_eq!(server.upload(&v2, &probe_wasm()).status, 201);
    // Versions are immutable: different contents under an existing version are refused.
    let changed = server.upload(&v2.replace("probe fixture", "changed"), &probe_wasm());
    assert_eq!(
        (changed.status, changed.error_code()),
        (409, "conflict"),
        "{changed:?}"
    );

    // Without a version, the newest is installed.
    assert_eq!(
        server
            .install("x", json!({ "plugin": "probe", "grants": ["storage"] }))
            .status,
        201
    );
    assert_eq!(
        server
            .install(
                "y",
                json!({ "plugin": "probe", "version": "0.1.0", "grants": ["storage"] })
            )
            .status,
        201
    );
    assert_eq!(
        server.text("x", "o-1", "1", "whoami").reply_text(),
        Some("x/probe@0.2.0")
    );
    assert_eq!(
        server.text("y", "o-1", "1", "whoami").reply_text(),
        Some("y/probe@0.1.0")
    );
    assert_eq!(
        server.text("x", "o-1", "2", "set kept yes").reply_text(),
        Some("ok")
    );

    let back = server.patch(
        "/api/v1/accounts/x/installations/probe",
        &json!({ "version": "0.1.0" }),
    );
    assert_eq!(back.status, 200, "{back:?}");
    assert_eq!(
        server.text("x", "o-1", "3", "whoami").reply_text(),
        Some("x/probe@0.1.0")
    );
    // Data belongs to the installation, not the version.
    assert_eq!(
        server.text("x", "o-1", "4", "get kept").reply_text(),
        Some("yes")
    );
    let missing = server.patch(
        "/api/v1/accounts/x/installations/probe",
        &json!({ "version": "9.9.9" }),
    );
    assert_eq!(missing.status, 404, "{missing:?}");
    assert_eq!(
        server.text("x", "o-1", "5", "whoami").reply_text(),
        Some("x/probe@0.1.0")
    );
    // y was never touched.
    assert_eq!(
        server.text("y", "o-1", "2", "whoami").reply_text(),
        Some("y/probe@0.1.0")
    );
}

#[test]
fn uninstall_keeps_data_unless_purged() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    install_probe(&server, "x", "probe", &["storage"]);
    assert_eq!(
        server.text("x", "o-1", "1", "set k v").reply_text(),
        Some("ok")
    );
    assert_eq!(
        server
            .delete("/api/v1/accounts/x/installations/probe")
            .status,
        204
    );
    assert_eq!(
        server.text("x", "o-1", "2", "get k").body["reply"],
        serde_json::Value::Null
    );
    assert_eq!(
        server
            .install("x", json!({ "plugin": "probe", "grants": ["storage"] }))
            .status,
        201
    );
    assert_eq!(
        server.text("x", "o-1", "3", "get k").reply_text(),
        Some("v")
    );
    assert_eq!(
        server
            .delete("/api/v1/accounts/x/installations/probe?purge=true")
            .status,
        204
    );
    assert_eq!(
        server
            .install("x", json!({ "plugin": "probe", "grants": ["storage"] }))
            .status,
        201
    );
    assert_eq!(
        server.text("x", "o-1", "4", "get k").reply_text(),
        Some("<none>")
    );
    let again = server.install("x", json!({ "plugin": "probe" }));
    assert_eq!(
        (again.status, again.error_code()),
        (409, "conflict"),
        "{again:?}"
    );
}

#[test]
fn the_hello_example_answers_once_installed() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "subscription", false);
    assert_eq!(
        server.install("x", json!({ "plugin": "hello" })).status,
        201
    );
    assert_eq!(
        server.text("x", "o-alice", "1", "it works").reply_text(),
        Some("Hello, o-alice! You said: it works")
    );
}

#[test]
fn every_inbound_type_reaches_the_pipeline_and_the_follower_record() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    let inst = server.install(
        "x",
        json!({ "plugin": "auto-reply", "config": { "default_reply": "noted" } }),
    );
    assert_eq!(inst.status, 201);
    let inbound = |body: serde_json::Value| server.post("/api/v1/accounts/x/inbound", &body);

    let sub = inbound(
        json!({ "msg_type": "event", "event": "subscribe", "from": "o-1", "event_key": "qrscene_42", "create_time": 1_700_000_000 }),
    );
    assert_eq!(sub.status, 200, "{sub:?}");
    for (i, body) in [
        json!({ "msg_type": "image", "media_id": "m1", "pic_url": "http://img/1.jpg" }),
        json!({ "msg_type": "voice", "media_id": "m2" }),
        json!({ "msg_type": "video", "media_id": "m3" }),
        json!({ "msg_type": "location", "latitude": 31.23, "longitude": 121.47, "scale": 15, "label": "Shanghai" }),
        json!({ "msg_type": "link", "title": "Plaza", "description": "docs", "url": "http://example.com" }),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = body;
        body["msg_id"] = json!(format!("t{i}"));
        body["from"] = json!("o-1");
        let a = inbound(body.clone());
        assert_eq!(a.reply_text(), Some("noted"), "{body}: {a:?}");
    }
    let click = inbound(
        json!({ "msg_type": "event", "event": "click", "event_key": "MENU_1", "from": "o-1" }),
    );
    assert_eq!(click.status, 200, "{click:?}");
    let no_key = inbound(json!({ "msg_type": "event", "event": "click", "from": "o-1" }));
    assert_eq!(no_key.status, 400, "{no_key:?}");
    let bad_location = inbound(
        json!({ "msg_id": "bl", "msg_type": "location", "latitude": 123.0, "longitude": 0.0, "from": "o-1" }),
    );
    assert_eq!(bad_location.status, 400, "{bad_location:?}");

    let f = server.get("/api/v1/accounts/x/followers/o-1").body;
    assert_eq!(f["subscribed"], true);
    assert_eq!(f["subscribe_scene"], "qrscene_42");
    assert_eq!(f["counters"]["messages"], 5);
    assert_eq!(f["counters"]["clicks"], 1);

    // A retried event (same sender and create_time) is not handled twice.
    let resub = inbound(
        json!({ "msg_type": "event", "event": "subscribe", "from": "o-1", "event_key": "qrscene_42", "create_time": 1_700_000_000 }),
    );
    assert_eq!(resub.status, 200);
    let unsub = inbound(json!({ "msg_type": "event", "event": "unsubscribe", "from": "o-1" }));
    assert_eq!(
        unsub.body["reply"],
        serde_json::Value::Null,
        "no reply to someone who left: {unsub:?}"
    );
    let f = server.get("/api/v1/accounts/x/followers/o-1").body;
    assert_eq!(f["subscribed"], false);
    assert!(f["unsubscribed_at"].as_u64().is_some());
}
