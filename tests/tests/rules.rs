//! The platform's rules, each reached and refused with its typed error.

use plaza_tests::*;
use serde_json::json;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[test]
fn customer_service_messages_only_within_48_hours_of_the_last_interaction() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    install_probe(&server, "x", "probe", &["messaging.send"]);
    let say = |msg_id: &str, at_secs: u64, text: &str| {
        server.post(
            "/api/v1/accounts/x/inbound",
            &json!({ "msg_id": msg_id, "from": "o-1", "msg_type": "text", "content": text, "create_time": at_secs }),
        )
    };
    // The follower's last word was three days ago: outside the window.
    let old = say("m1", now_secs() - 3 * 86_400, "send are you there?");
    let reply = old.reply_text().unwrap_or_default();
    assert!(reply.starts_with("error:outside_window:"), "{old:?}");
    // 47 hours ago is still inside.
    let recent = say("m2", now_secs() - 47 * 3600, "send still here");
    assert!(
        recent.reply_text().is_some_and(|t| t.starts_with("sent:")),
        "{recent:?}"
    );
    let sent: Vec<_> = server
        .outbox("x", "o-1")
        .into_iter()
        .filter(|m| m["delivery"] == "customer_service")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["content"], "still here");
}

#[test]
fn template_messages_need_a_verified_service_account_and_valid_fields() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    for (id, kind, verified) in [
        ("sub", "subscription", true),
        ("unv", "service", false),
        ("svc", "service", true),
    ] {
        server.create_account(id, kind, verified);
        let up = server.upload(
            &probe_manifest(&format!("p-{id}"), &["messaging.template"], 32, 500),
            &probe_wasm(),
        );
        assert_eq!(up.status, 201, "{up:?}");
        let inst = server.install(
            id,
            json!({ "plugin": format!("p-{id}"), "grants": ["messaging.template"] }),
        );
        assert_eq!(inst.status, 201, "{inst:?}");
        let t = server.post(
            &format!("/api/v1/accounts/{id}/templates"),
            &json!({ "id": "order", "title": "Order shipped", "content": "Order {{order.DATA}} ships {{date.DATA}}" }),
        );
        assert_eq!(t.status, 201, "{t:?}");
    }
    let sub = server.text("sub", "o-1", "1", "template order order=42,date=today");
    assert!(
        sub.reply_text()
            .is_some_and(|t| t.starts_with("error:permission_denied:")),
        "{sub:?}"
    );
    let unv = server.text("unv", "o-1", "1", "template order order=42,date=today");
    assert!(
        unv.reply_text()
            .is_some_and(|t| t.starts_with("error:permission_denied:")),
        "{unv:?}"
    );

    let missing = server.text("svc", "o-1", "1", "template order order=42");
    assert!(
        missing
            .reply_text()
            .is_some_and(|t| t.starts_with("error:invalid:") && t.contains("date")),
        "{missing:?}"
    );
    let unknown = server.text("svc", "o-1", "2", "template nope order=42");
    assert!(
        unknown
            .reply_text()
            .is_some_and(|t| t.starts_with("error:not_found:")),
        "{unknown:?}"
    );
    let ok = server.text("svc", "o-1", "3", "template order order=42,date=today");
    assert!(
        ok.reply_text().is_some_and(|t| t.starts_with("sent:")),
        "{ok:?}"
    );
    let sent: Vec<_> = server
        .outbox("svc", "o-1")
        .into_iter()
        .filter(|m| m["delivery"] == "template")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["content"], "Order 42 ships today");
}

#[test]
fn a_plugin_broadcast_is_idempotent_by_key_and_counts_against_the_quota() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("sub", "subscription", false);
    let up = server.upload(
        &probe_manifest("caster", &["messaging.broadcast"], 32, 500),
        &probe_wasm(),
    );
    assert_eq!(up.status, 201, "{up:?}");
    assert_eq!(
        server
            .install(
                "sub",
                json!({ "plugin": "caster", "grants": ["messaging.broadcast"] })
            )
            .status,
        201
    );
    let first = server.text("sub", "o-1", "1", "broadcast k1 hello all");
    let id = first
        .reply_text()
        .and_then(|t| t.strip_prefix("broadcast:"))
        .expect("broadcast id")
        .to_string();
    // The same key again: the same broadcast, nothing new.
    assert_eq!(
        server
            .text("sub", "o-1", "2", "broadcast k1 hello all")
            .reply_text(),
        Some(format!("broadcast:{id}").as_str())
    );
    // A second broadcast the same day: over the subscription account's quota.
    let second = server.text("sub", "o-1", "3", "broadcast k2 hello again");
    assert!(
        second
            .reply_text()
            .is_some_and(|t| t.starts_with("error:quota_exceeded:")),
        "{second:?}"
    );
    let jobs = server.get("/api/v1/accounts/sub/broadcasts").body;
    assert_eq!(
        jobs["broadcasts"].as_array().map(|a| a.len()),
        Some(1),
        "{jobs}"
    );
    assert_eq!(jobs["broadcasts"][0]["source"], "caster");
}
