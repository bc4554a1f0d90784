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
    assert!(reply.starts_with("error:outside-window:"), "{old:?}");
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
