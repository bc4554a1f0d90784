//! De-duplication is per sender (issue 6 §7): a follower reusing another follower's `msg_id` is
//! handled as its own message and gets its own reply, while a retry from the first follower still
//! gets the first reply and runs nothing again. (Retention and pruning over time are shown with
//! an injected clock in `host/tests/dedup.rs`.)

use plaza_tests::*;
use serde_json::Value;

fn inbound_messages(server: &Server, account: &str, openid: &str) -> Vec<Value> {
    let a = server.get(&format!(
        "/api/v1/accounts/{account}/events?kind=inbound_message&openid={openid}"
    ));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["events"].as_array().cloned().unwrap_or_default()
}

fn replies(server: &Server, account: &str, openid: &str) -> Vec<String> {
    server
        .outbox(account, openid)
        .iter()
        .filter(|m| m["delivery"] == "reply")
        .filter_map(|m| m["content"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn another_followers_msg_id_is_its_own_message_and_a_retry_runs_nothing() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("d", "service", true);
    install_probe(&server, "d", "probe", &["storage"]);

    // A's message runs once: the counter goes to 1.
    assert_eq!(
        server.text("d", "o-a", "m-1", "incr n 1").reply_text(),
        Some("1")
    );
    // B sends a message with the same msg_id: it is handled (the counter moves) and B gets B's
    // own reply, not A's.
    assert_eq!(
        server.text("d", "o-b", "m-1", "incr n 10").reply_text(),
        Some("11")
    );
    // A retries: A's stored reply, and nothing runs again.
    assert_eq!(
        server.text("d", "o-a", "m-1", "incr n 1").reply_text(),
        Some("1")
    );
    // So does B.
    assert_eq!(
        server.text("d", "o-b", "m-1", "incr n 10").reply_text(),
        Some("11")
    );
    assert_eq!(
        server.text("d", "o-c", "m-2", "get n").reply_text(),
        Some("11")
    );

    // B's message was recorded and answered like any other; the retries recorded nothing.
    assert_eq!(replies(&server, "d", "o-a"), ["1"]);
    assert_eq!(replies(&server, "d", "o-b"), ["11"]);
    for openid in ["o-a", "o-b"] {
        let logged = inbound_messages(&server, "d", openid);
        assert_eq!(logged.len(), 1, "{openid}: {logged:?}");
        assert_eq!(logged[0]["message_id"], "m-1", "{openid}: {logged:?}");
    }
    let b = server.get("/api/v1/accounts/d/followers/o-b");
    assert_eq!(b.status, 200, "B is a follower now: {b:?}");
}
