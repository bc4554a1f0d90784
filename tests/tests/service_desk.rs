//! The customer-service seat (人工客服) through the real binary: a plugin hands a follower to a
//! person, the conversation waits in the queue with what the follower wrote, an operator answers
//! (API and CLI) inside the 48 h window and is refused plainly outside it, and closes it.

use plaza_tests::*;
use serde_json::{Value, json};

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn say(server: &Server, from: &str, msg_id: &str, at_secs: u64, text: &str) -> Answer {
    server.post(
        "/api/v1/accounts/acme/inbound",
        &json!({ "msg_id": msg_id, "from": from, "msg_type": "text", "content": text, "create_time": at_secs }),
    )
}

fn queue(server: &Server, status: &str) -> Vec<Value> {
    let a = server.get(&format!(
        "/api/v1/accounts/acme/service/conversations?status={status}"
    ));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["conversations"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn answer(server: &Server, openid: &str, text: &str) -> Answer {
    server.post(
        &format!("/api/v1/accounts/acme/service/conversations/{openid}/messages"),
        &json!({ "content": { "msg_type": "text", "content": text } }),
    )
}

#[test]
fn a_handed_over_follower_waits_until_a_person_answers() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("acme", "service", true);
    install_probe(&server, "acme", "probe", &["messaging.send"]);

    // Nothing handed over yet.
    assert!(queue(&server, "open").is_empty());

    // Two followers are handed over, the older one first in the queue.
    let now = now_secs();
    let a = say(&server, "o-late", "m1", now - 60, "transfer");
    assert_eq!(
        a.body["reply"]["msg_type"], "transfer_customer_service",
        "{a:?}"
    );
    let a = say(&server, "o-early", "m2", now - 120, "transfer");
    assert_eq!(
        a.body["reply"]["msg_type"], "transfer_customer_service",
        "{a:?}"
    );
    // A VIP (membership tags members with their level): the queue shows each follower's tags.
    assert_eq!(
        server
            .post("/api/v1/accounts/acme/tags", &json!({ "name": "vip" }))
            .status,
        201
    );
    let tagged = server.post(
        "/api/v1/accounts/acme/tags/vip/tag",
        &json!({ "openids": ["o-late"] }),
    );
    assert_eq!(tagged.status, 200, "{tagged:?}");
    let open = queue(&server, "open");
    let order: Vec<&str> = open.iter().filter_map(|c| c["openid"].as_str()).collect();
    // Ordered by when the transfer was delivered (the server's clock), so by arrival here.
    assert_eq!(order, ["o-late", "o-early"], "{open:?}");
    assert_eq!(open[0]["status"], "waiting");
    assert_eq!(open[0]["transferred_by"], "probe");
    assert_eq!(open[0]["message"], "transfer");
    assert_eq!(open[0]["tags"], json!(["vip"]));
    assert_eq!(open[1]["tags"], json!([]));

    // An operator answers o-late: a customer-service message from no plugin, the conversation
    // answered; o-early still waits.
    let a = answer(
        &server,
        "o-late",
        "Hello, this is Mia from customer service.",
    );
    assert_eq!(a.status, 201, "{a:?}");
    assert_eq!(a.body["conversation"]["status"], "answered");
    assert_eq!(a.body["conversation"]["replies"], 1);
    let sent: Vec<Value> = server
        .outbox("acme", "o-late")
        .into_iter()
        .filter(|m| m["delivery"] == "customer_service")
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(
        sent[0]["content"],
        "Hello, this is Mia from customer service."
    );
    assert!(sent[0].get("plugin").is_none(), "{sent:?}");
    let waiting = queue(&server, "waiting");
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0]["openid"], "o-early");

    // A plugin's own customer-service message does not count as a person's answer.
    let a = say(&server, "o-early", "m3", now - 30, "send from the bot");
    assert!(
        a.reply_text().is_some_and(|t| t.starts_with("sent:")),
        "{a:?}"
    );
    assert_eq!(queue(&server, "waiting").len(), 1);

    // The CLI shows the queue and answers too.
    let (code, out, err) = plaza(
        &server,
        &["service", "queue", "acme", "--status", "waiting"],
    );
    assert_eq!(code, 0, "{err}");
    let listed: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(listed["conversations"][0]["openid"], "o-early");
    let (code, _, err) = plaza(&server, &["service", "reply", "acme", "o-early", "On it!"]);
    assert_eq!(code, 0, "{err}");
    assert!(queue(&server, "waiting").is_empty());
    let (code, human, err) = plaza_human(&server, &["service", "queue", "acme"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        human.contains("o-early") && human.contains("answered"),
        "{human}"
    );

    // Closing takes a conversation out of the open queue; a new transfer reopens it.
    let (code, _, err) = plaza(&server, &["service", "close", "acme", "o-late"]);
    assert_eq!(code, 0, "{err}");
    let open: Vec<Value> = queue(&server, "open");
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!(queue(&server, "closed")[0]["openid"], "o-late");
    say(&server, "o-late", "m4", now, "transfer");
    assert_eq!(queue(&server, "waiting")[0]["openid"], "o-late");

    // Who answered is in the audit log.
    let audit = server.get("/api/v1/accounts/acme/audit");
    let text = audit.body.to_string();
    assert!(
        text.contains("/service/conversations/o-late/messages"),
        "{text}"
    );
}

#[test]
fn outside_the_48_hour_window_the_answer_is_refused_and_nothing_is_sent() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("acme", "service", true);
    install_probe(&server, "acme", "probe", &[]);

    // Handed over three days ago and silent since.
    let a = say(&server, "o-old", "m1", now_secs() - 3 * 86_400, "transfer");
    assert_eq!(
        a.body["reply"]["msg_type"], "transfer_customer_service",
        "{a:?}"
    );
    assert_eq!(queue(&server, "waiting").len(), 1);

    let a = answer(&server, "o-old", "Sorry for the wait!");
    assert_eq!((a.status, a.error_code()), (409, "outside_window"), "{a:?}");
    assert!(a.error_message().contains("more than 48 h ago"), "{a:?}");
    assert!(
        server
            .outbox("acme", "o-old")
            .iter()
            .all(|m| m["delivery"] != "customer_service")
    );
    assert_eq!(queue(&server, "waiting")[0]["status"], "waiting");

    // The CLI says so and exits with the "refused by a platform rule" status.
    let (code, _, err) = plaza(&server, &["service", "reply", "acme", "o-old", "hello?"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("48 h"), "{err}");

    // Bad input: an unknown status filter, an unknown account, closing what never opened.
    let a = server.get("/api/v1/accounts/acme/service/conversations?status=lost");
    assert_eq!((a.status, a.error_code()), (400, "invalid"), "{a:?}");
    let a = server.get("/api/v1/accounts/nope/service/conversations");
    assert_eq!(a.status, 404, "{a:?}");
    let a = server.post(
        "/api/v1/accounts/acme/service/conversations/o-none/close",
        &json!({}),
    );
    assert_eq!((a.status, a.error_code()), (404, "not_found"), "{a:?}");
    let a = server.post(
        "/api/v1/accounts/acme/service/conversations/o-old/messages",
        &json!({ "text": "wrong shape" }),
    );
    assert_eq!((a.status, a.error_code()), (400, "invalid"), "{a:?}");
}
