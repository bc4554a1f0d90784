//! The moderation plugin (内容安全) through the real binary: word lists with mask / block / hold
//! on every kind of outbound message, evasions (full-width, case, inserted spaces and
//! punctuation), the review queue (approve delivers exactly once, even when two operators
//! approve at the same moment; reject delivers nothing), broadcasts that a hold list blocks,
//! lists stored by operators, inbound flagging with an operator alert, and outbound images
//! reviewed by a loopback stand-in for an external service — granted, refused, and not granted.

use std::sync::Arc;

use plaza_tests::stand_in::{Reply, StandIn};
use plaza_tests::*;
use serde_json::{Value, json};

/// Every capability the manifest requests.
const GRANTS: [&str; 6] = [
    "review.outbound",
    "storage",
    "http.routes",
    "messaging.send",
    "events.emit",
    "media",
];

fn install_moderation(server: &Server, account: &str, config: Value) {
    let inst = server.install(
        account,
        json!({ "plugin": "moderation", "config": config, "grants": GRANTS }),
    );
    assert_eq!(inst.status, 201, "install moderation: {inst:?}");
}

fn lists_config() -> Value {
    json!({ "lists": [
        { "name": "ads", "action": "mask", "words": ["spam"] },
        { "name": "review", "action": "hold", "words": ["refund"] },
        { "name": "weapons", "action": "block", "words": ["gun"] }
    ] })
}

/// Account `shop` with moderation (the lists above) and the probe answering messages.
fn setup() -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    install_moderation(&server, "shop", lists_config());
    install_probe(&server, "shop", "probe", &["storage", "messaging.send"]);
    (tmp, server)
}

fn texts(server: &Server, account: &str, openid: &str) -> Vec<String> {
    server
        .outbox(account, openid)
        .iter()
        .map(|m| m["content"].as_str().unwrap_or("").to_string())
        .collect()
}

fn reply(answer: &Answer) -> String {
    answer.reply_text().unwrap_or("").to_string()
}

fn held(server: &Server, state: &str) -> Vec<Value> {
    let a = server.get(&format!("/p/shop/moderation/held?state={state}"));
    assert_eq!(a.status, 200, "{a:?}");
    a.body["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn outbound_text_is_masked_blocked_or_held_however_it_is_written() {
    let (_tmp, server) = setup();
    // Mask: full-width, mixed case and inserted punctuation are caught; what was typed is masked.
    let sent = server.text("shop", "o-fan", "1", "send buy Ｓ p-A m now");
    assert!(reply(&sent).starts_with("sent:"), "{sent:?}");
    // Block: the send fails with the reason, and nothing reaches the follower.
    let blocked = server.text("shop", "o-fan", "2", "send ＧＵＮ for sale");
    let blocked = reply(&blocked);
    assert!(
        blocked.starts_with("error:permission_denied:") && !blocked.contains("ＧＵＮ"),
        "{blocked}"
    );
    assert!(blocked.contains("list weapons"), "{blocked}");
    // The platform list applies too (Chinese with spaces and full-width punctuation).
    let platform = reply(&server.text("shop", "o-fan", "3", "send 可以 代，开 发票"));
    assert!(
        platform.starts_with("error:permission_denied:") && platform.contains("list platform"),
        "{platform}"
    );
    // Hold: a customer-service message is stopped and queued for review.
    let hold = reply(&server.text("shop", "o-fan", "4", "send please RE-FUND me"));
    assert!(
        hold.starts_with("error:permission_denied:") && hold.contains("review item h0000000001"),
        "{hold}"
    );
    // A passive reply (the probe echoes unknown text) is held the same way: no reply now.
    let passive = server.text("shop", "o-fan", "5", "refund?");
    assert_eq!(passive.body["reply"], Value::Null, "{passive:?}");

    let outbox = texts(&server, "shop", "o-fan");
    assert!(outbox.contains(&"buy *** now".to_string()), "{outbox:?}");
    assert!(
        !outbox
            .iter()
            .any(|t| t.contains("ＧＵＮ") || t.contains("发票") || t.contains("FUND")),
        "{outbox:?}"
    );
    let pending = held(&server, "pending");
    assert_eq!(pending.len(), 2, "{pending:?}");
    assert_eq!(pending[0]["id"], "h0000000001");
    assert_eq!(pending[0]["to"], "o-fan");
    assert_eq!(pending[0]["content"]["content"], "please RE-FUND me");
    assert_eq!(pending[0]["words"], json!(["refund"]));
    assert_eq!(pending[1]["content"]["content"], "probe:refund?");
    // The host's queue of stopped messages names the reviewer and the item.
    let queue = server.get("/api/v1/accounts/shop/reviews").body;
    let stopped = queue["blocked"].as_array().cloned().unwrap_or_default();
    assert_eq!(stopped.len(), 4, "{queue}");
    assert!(stopped.iter().all(|b| b["reviewer"] == "moderation"));
    assert_eq!(stopped[3]["delivery"], "reply");
}

#[test]
fn approval_delivers_a_held_message_exactly_once_and_rejection_never() {
    let (_tmp, server) = setup();
    server.text("shop", "o-fan", "1", "send your refund is ready");
    server.text("shop", "o-fan", "2", "send refund denied");
    let pending = held(&server, "pending");
    assert_eq!(pending.len(), 2, "{pending:?}");
    let (first, second) = (
        pending[0]["id"].as_str().unwrap_or("").to_string(),
        pending[1]["id"].as_str().unwrap_or("").to_string(),
    );

    // Two operators approve the first at the same moment: one delivers, the other is told no.
    let server = Arc::new(server);
    let barrier = Arc::new(std::sync::Barrier::new(2));
    let answers: Vec<Answer> = (0..2)
        .map(|_| {
            let (server, barrier, id) = (server.clone(), barrier.clone(), first.clone());
            std::thread::spawn(move || {
                barrier.wait();
                server.post(&format!("/p/shop/moderation/held/{id}/approve"), &json!({}))
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("approver"))
        .collect();
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{answers:?}");
    let ok = answers.iter().find(|a| a.status == 200).expect("winner");
    assert_eq!(ok.body["state"], "delivered", "{ok:?}");
    assert!(ok.body["message_id"].is_string(), "{ok:?}");
    let lost = answers.iter().find(|a| a.status == 409).expect("loser");
    assert_eq!(lost.error_code(), "conflict", "{lost:?}");

    // Delivered once, as a customer-service message sent by moderation (its own message is not
    // reviewed by itself, so the approved text goes out as held).
    let outbox = server.outbox("shop", "o-fan");
    let delivered: Vec<&Value> = outbox
        .iter()
        .filter(|m| m["content"] == "your refund is ready")
        .collect();
    assert_eq!(delivered.len(), 1, "{outbox:?}");
    assert_eq!(delivered[0]["delivery"], "customer_service");
    assert_eq!(delivered[0]["plugin"], "moderation");
    // Approving again changes nothing.
    let again = server.post(
        &format!("/p/shop/moderation/held/{first}/approve"),
        &json!({}),
    );
    assert_eq!(
        (again.status, again.error_code()),
        (409, "conflict"),
        "{again:?}"
    );

    // Rejected: never delivered, and cannot be approved afterwards.
    let rejected = server.post(
        &format!("/p/shop/moderation/held/{second}/reject"),
        &json!({}),
    );
    assert_eq!(rejected.status, 200, "{rejected:?}");
    assert_eq!(rejected.body["state"], "rejected");
    let late = server.post(
        &format!("/p/shop/moderation/held/{second}/approve"),
        &json!({}),
    );
    assert_eq!(late.status, 409, "{late:?}");
    assert!(!texts(&server, "shop", "o-fan").contains(&"refund denied".to_string()));
    assert_eq!(held(&server, "delivered").len(), 1);
    assert_eq!(held(&server, "rejected").len(), 1);
    assert!(held(&server, "pending").is_empty());

    // Bad ids, bad states and callers without an operator token.
    let unknown = server.post("/p/shop/moderation/held/h0000000099/approve", &json!({}));
    assert_eq!((unknown.status, unknown.error_code()), (404, "not_found"));
    let junk = server.post("/p/shop/moderation/held/..%2Fx/approve", &json!({}));
    assert_eq!(junk.status, 404, "{junk:?}");
    let state = server.get("/p/shop/moderation/held?state=maybe");
    assert_eq!((state.status, state.error_code()), (400, "invalid"));
    let anon = server.get_as("/p/shop/moderation/held", None);
    assert_eq!(anon.status, 403, "{anon:?}");
}

#[test]
fn stored_lists_apply_and_a_hold_list_blocks_broadcasts() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    install_moderation(&server, "shop", json!({}));
    server.event("shop", "o-fan", "subscribe");

    let put = |name: &str, body: &[u8], token: Option<&str>| {
        server.put_raw(&format!("/p/shop/moderation/lists/{name}"), token, body)
    };
    let stored = put(
        "promo",
        br#"{"action":"hold","words":["flash sale"]}"#,
        Some(TOKEN),
    );
    assert_eq!(stored.status, 200, "{stored:?}");
    // Bad input is refused with a typed error and stores nothing.
    for (name, body) in [
        ("promo", &br#"{"action":"nuke","words":["x"]}"#[..]),
        ("promo", br#"{"action":"mask","words":[" - "]}"#),
        ("promo", br#"not json"#),
        ("platform", br#"{"action":"mask","words":["x"]}"#),
        ("a%20b", br#"{"action":"mask","words":["x"]}"#),
    ] {
        let a = put(name, body, Some(TOKEN));
        assert_eq!(
            (a.status, a.error_code()),
            (400, "invalid"),
            "{name}: {a:?}"
        );
    }
    assert_eq!(
        put("x", br#"{"action":"mask","words":["x"]}"#, None).status,
        403
    );
    let lists = server.get("/p/shop/moderation/lists").body;
    let names: Vec<(&str, &str)> = lists["lists"]
        .as_array()
        .map(|l| {
            l.iter()
                .map(|l| {
                    (
                        l["name"].as_str().unwrap_or(""),
                        l["source"].as_str().unwrap_or(""),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(
        names,
        [("platform", "platform"), ("promo", "stored")],
        "{lists}"
    );

    let check = server.post(
        "/p/shop/moderation/check",
        &json!({ "text": "Ｆlash-Sale today" }),
    );
    assert_eq!(check.body["action"], "hold", "{check:?}");
    assert_eq!(check.body["masked"], "*** today");

    // A broadcast has no single recipient to deliver to after approval: blocked, saying why.
    let b = server.post(
        "/api/v1/accounts/shop/broadcasts",
        &json!({ "idempotency_key": "b1", "audience": "all",
                 "content": { "msg_type": "text", "content": "FLASH  sale!" } }),
    );
    assert_eq!(
        (b.status, b.error_code()),
        (403, "permission_denied"),
        "{b:?}"
    );
    assert!(
        b.error_message().contains("broadcast cannot be held"),
        "{b:?}"
    );
    assert!(
        server.get("/p/shop/moderation/held").body["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // Deleting the list lets the same broadcast through.
    let del = server.delete("/p/shop/moderation/lists/promo");
    assert_eq!(del.body["deleted"], true, "{del:?}");
    let b = server.post(
        "/api/v1/accounts/shop/broadcasts",
        &json!({ "idempotency_key": "b2", "audience": "all",
                 "content": { "msg_type": "text", "content": "FLASH  sale!" } }),
    );
    assert_eq!(b.status, 201, "{b:?}");
}

#[test]
fn flagged_inbound_messages_are_recorded_and_reported_to_the_operator() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);
    install_moderation(
        &server,
        "shop",
        json!({ "alert_openid": "o-op", "lists": [{ "name": "rude", "action": "mask", "words": ["idiot"] }] }),
    );
    // The operator wrote recently (customer-service window), then a follower writes twice.
    server.text("shop", "o-op", "op-1", "hi");
    let clean = server.text("shop", "o-fan", "1", "hello there");
    assert_eq!(clean.body["reply"], Value::Null, "{clean:?}");
    let rude = server.text("shop", "o-fan", "2", "you I-D-I-O-T, 代 开 发 票");
    assert_eq!(
        rude.body["reply"],
        Value::Null,
        "moderation never answers: {rude:?}"
    );

    let events = server
        .get("/api/v1/accounts/shop/events?kinds=moderation.inbound.flagged")
        .body;
    let events = events["events"].as_array().cloned().unwrap_or_default();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["openid"], "o-fan");
    let text = events[0].to_string();
    assert!(
        text.contains("idiot") && text.contains("代开发票"),
        "{text}"
    );
    assert!(
        text.contains("rude,platform") || text.contains("platform,rude"),
        "{text}"
    );

    let alerts = texts(&server, "shop", "o-op");
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert!(alerts[0].starts_with("【内容安全】"), "{alerts:?}");
    assert!(
        alerts[0].contains("o-fan") && alerts[0].contains("idiot"),
        "{alerts:?}"
    );
    assert!(texts(&server, "shop", "o-fan").is_empty());
}

/// A stand-in for an external image review service on 127.0.0.1: rejects a body containing
/// `REJECT`, approves anything else.
fn review_service() -> StandIn {
    StandIn::start(|r| {
        if r.body.windows(6).any(|w| w == b"REJECT") {
            Reply::json(r#"{"verdict":"reject","reason":"contains a forbidden picture"}"#)
        } else {
            Reply::json(r#"{"verdict":"approve"}"#)
        }
    })
}

const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7356d8d0000000049454e44ae426082";

/// Stores an image in the account's media through the probe; returns its media id.
fn put_image(server: &Server, account: &str, hex: &str, msg_id: &str) -> String {
    let a = server.text(
        account,
        "o-fan",
        msg_id,
        &format!("@probe mediaput image/png {hex}"),
    );
    let text = reply(&a);
    let id = text
        .strip_prefix("media:")
        .and_then(|t| t.split(' ').next())
        .unwrap_or_else(|| panic!("no media id: {a:?}"));
    id.to_string()
}

fn broadcast_image(server: &Server, account: &str, key: &str, media_id: &str) -> Answer {
    server.post(
        &format!("/api/v1/accounts/{account}/broadcasts"),
        &json!({ "idempotency_key": key, "audience": "all",
                 "content": { "msg_type": "image", "media_id": media_id } }),
    )
}

#[test]
fn outbound_images_are_reviewed_by_the_granted_service_only() {
    let service = review_service();
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let url = service.url("/review");
    let outbound = service.grant();

    // The operator adds the review service's host to the manifest (a new version) and grants it.
    let (manifest, wasm) = plugin_files("plugins/moderation/plugin.toml", "moderation");
    let manifest = manifest
        .replace("version = \"0.1.0\"", "version = \"0.1.1\"")
        .replace("\"media\"]", &format!("\"media\", \"{outbound}\"]"));
    let up = server.upload(&manifest, &wasm);
    assert_eq!(up.status, 201, "{up:?}");
    server.create_account("shop", "service", true);
    let mut grants: Vec<&str> = GRANTS.to_vec();
    grants.push(&outbound);
    let inst = server.install(
        "shop",
        json!({ "plugin": "moderation", "version": "0.1.1", "grants": grants,
                "config": { "image_review_url": url } }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    install_probe_with(&server, "shop", "probe", &["media"], &["storage", "media"]);

    let fine = put_image(&server, "shop", PNG, "1");
    let bad = put_image(&server, "shop", &format!("{PNG}{}", hex(b"REJECT")), "2");
    let ok = broadcast_image(&server, "shop", "i1", &fine);
    assert_eq!(ok.status, 201, "{ok:?}");
    let no = broadcast_image(&server, "shop", "i2", &bad);
    assert_eq!(
        (no.status, no.error_code()),
        (403, "permission_denied"),
        "{no:?}"
    );
    assert!(
        no.error_message()
            .contains("rejected by the review service: contains a forbidden picture"),
        "{no:?}"
    );
    let requests = service.received();
    assert_eq!(requests.len(), 2, "{requests:?}");
    assert_eq!(requests[0].header("content-type"), Some("image/png"));
    assert_eq!(requests[0].header("x-plaza-media-id"), Some(fine.as_str()));
    assert_eq!(requests[0].header("x-plaza-account"), Some("shop"));
    assert_eq!(requests[0].body.len(), PNG.len() / 2);

    // Configured but not granted (the bundled manifest, no outbound host): the host refuses the
    // request, and the image is blocked (fail closed) without the service hearing of it …
    server.create_account("closed", "service", true);
    install_moderation(&server, "closed", json!({ "image_review_url": url }));
    install_probe_with(
        &server,
        "closed",
        "probe",
        &["media"],
        &["storage", "media"],
    );
    let image = put_image(&server, "closed", PNG, "3");
    let refused = broadcast_image(&server, "closed", "c1", &image);
    assert_eq!(refused.status, 403, "{refused:?}");
    let why = refused.error_message();
    assert!(
        why.contains("image review failed")
            && why.contains("closed")
            && why.contains("permission_denied"),
        "{refused:?}"
    );
    // … unless the operator chose to fail open.
    server.create_account("open", "service", true);
    install_moderation(
        &server,
        "open",
        json!({ "image_review_url": url, "image_review_failure": "open" }),
    );
    install_probe_with(&server, "open", "probe", &["media"], &["storage", "media"]);
    let image = put_image(&server, "open", PNG, "4");
    assert_eq!(broadcast_image(&server, "open", "o1", &image).status, 201);
    assert_eq!(
        service.received().len(),
        2,
        "the service heard only the granted account"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
