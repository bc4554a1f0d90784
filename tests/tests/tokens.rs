//! Tokens with roles through the real binary: an operator token works on its account only,
//! revocation is immediate, IP allow-lists hold, repeated invalid tokens lock the address out
//! (429 with Retry-After) and show up as security events; the CLI creates, lists and revokes.

mod common;

use common::{ADMIN, request};
use plaza_tests::*;
use serde_json::{Value, json};

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

#[test]
fn an_operator_token_reaches_its_account_only_until_revoked() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    assert_eq!(server.create_account("news", "service", true).status, 201);
    assert_eq!(server.create_account("shop", "service", true).status, 201);

    let created = server.post(
        "/api/v1/tokens",
        &json!({"name": "news desk", "role": "operator", "accounts": ["news"]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let token = created.body["token"].as_str().unwrap().to_string();
    let id = created.body["id"].as_str().unwrap().to_string();
    assert_eq!(created.body["role"], "operator");
    assert_eq!(created.body["accounts"], json!(["news"]));

    // Listed without the secret.
    let list = server.get("/api/v1/tokens");
    assert_eq!(list.status, 200);
    assert_eq!(list.body["tokens"][0]["id"], id.as_str());
    assert!(!list.body.to_string().contains(&token));

    // Its account: yes. Another account, plugin upload, token management: no.
    assert_eq!(
        server.get_as("/api/v1/accounts/news", Some(&token)).status,
        200
    );
    let accounts = server.get_as("/api/v1/accounts", Some(&token));
    assert_eq!(accounts.body["accounts"].as_array().unwrap().len(), 1);
    let other = server.get_as("/api/v1/accounts/shop", Some(&token));
    assert_eq!(other.status, 403);
    assert_eq!(other.error_code(), "permission_denied");
    assert!(other.error_message().contains("role operator"), "{other:?}");
    let auth = bearer(&token);
    let upload = request(
        &server,
        "POST",
        "/api/v1/plugins",
        &[("Authorization", &auth)],
        b"",
    );
    assert_eq!(upload.status, 403);
    assert_eq!(server.get_as("/api/v1/tokens", Some(&token)).status, 403);

    // Revoked: refused from the next request on.
    let revoke = request(
        &server,
        "DELETE",
        &format!("/api/v1/tokens/{id}"),
        &[ADMIN],
        b"",
    );
    assert_eq!(revoke.status, 204);
    assert_eq!(
        server.get_as("/api/v1/accounts/news", Some(&token)).status,
        401
    );

    // The first use from 127.0.0.1 was a security event, in the list and the account's log.
    let events = server.get("/api/v1/security/events");
    assert!(
        events.body["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "new_address" && e["token"] == id.as_str()),
        "{:?}",
        events.body
    );
    let log = server.get("/api/v1/accounts/news/events?kinds=security.*");
    assert!(
        log.body.to_string().contains("security.new_address"),
        "{:?}",
        log.body
    );
}

#[test]
fn a_token_outside_its_allow_list_is_refused() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("news", "service", true);
    let created = server.post(
        "/api/v1/tokens",
        &json!({"name": "vpn only", "role": "analyst", "ip_allow": ["10.0.0.0/8"]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let token = created.body["token"].as_str().unwrap();
    let refused = server.get_as("/api/v1/system", Some(token));
    assert_eq!(refused.status, 403);
    assert!(
        refused.error_message().contains("10.0.0.0/8"),
        "{refused:?}"
    );
    let bad = server.post(
        "/api/v1/tokens",
        &json!({"name": "x", "role": "analyst", "ip_allow": ["not-an-ip"]}),
    );
    assert_eq!(bad.status, 400);
    let bad = server.post(
        "/api/v1/tokens",
        &json!({"name": "x", "role": "operator", "accounts": []}),
    );
    assert_eq!(bad.status, 400);
}

#[test]
fn ten_invalid_tokens_lock_the_address_out() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    for i in 0..10 {
        let r = server.get_as("/api/v1/system", Some(&format!("plt_guess{i}")));
        assert_eq!(r.status, 401);
    }
    // Even the admin token is refused from this address now.
    let locked = request(&server, "GET", "/api/v1/system", &[ADMIN], b"");
    assert_eq!(locked.status, 429, "{:?}", locked.body);
    let retry: u64 = locked.header("retry-after").unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 600, "{retry}");
    // This address is locked out of the running server; the lock-out itself is kept in memory
    // (a restart forgets it) while its security event is stored, so read it after a restart.
    let mut server = server;
    server.stop();
    let server = Server::start(&dir, false);
    let events = server.get("/api/v1/security/events");
    assert_eq!(events.status, 200, "{:?}", events.body);
    let lockouts: Vec<&Value> = events.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "lockout")
        .collect();
    assert_eq!(lockouts.len(), 1, "{:?}", events.body);
    assert_eq!(lockouts[0]["address"], "127.0.0.1");
}

#[test]
fn the_cli_creates_lists_and_revokes_tokens() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("news", "service", true);
    let (code, out, err) = plaza(
        &server,
        &[
            "tokens",
            "create",
            "desk",
            "--role",
            "operator",
            "--account",
            "news",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let created: Value = serde_json::from_str(&out).unwrap();
    let token = created["token"].as_str().unwrap();
    let id = created["id"].as_str().unwrap();
    assert_eq!(
        server.get_as("/api/v1/accounts/news", Some(token)).status,
        200
    );
    let (code, out, _) = plaza(&server, &["tokens", "list"]);
    assert_eq!(code, 0);
    assert!(out.contains(id) && !out.contains(token), "{out}");
    let (code, out, err) = plaza(&server, &["tokens", "revoke", id]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        server.get_as("/api/v1/accounts/news", Some(token)).status,
        401
    );
    let (code, _, err) = plaza(&server, &["tokens", "create", "x", "--role", "operator"]);
    assert_ne!(code, 0);
    assert!(err.contains("accounts"), "{err}");
}

#[test]
fn security_events_are_sent_to_the_operator_as_messages_when_asked() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start_with(
        &dir,
        false,
        &[("PLAZA_SECURITY_ALERTS_TO", "news/o-operator")],
    );
    server.create_account("news", "service", true);
    // The operator follows the account from their own WeChat and wrote to it (the 48 h window).
    let hi = server.text("news", "o-operator", "m1", "hi");
    assert_eq!(hi.status, 200, "{hi:?}");

    // A new token's first use from this address is a security event, and a message.
    let created = server.post(
        "/api/v1/tokens",
        &json!({"name": "night desk", "role": "analyst", "accounts": ["news"]}),
    );
    assert_eq!(created.status, 201, "{:?}", created.body);
    let token = created.body["token"].as_str().unwrap().to_string();
    assert_eq!(
        server.get_as("/api/v1/accounts/news", Some(&token)).status,
        200
    );
    // Sent before the request that caused it was answered.
    let alert = server
        .outbox("news", "o-operator")
        .into_iter()
        .find(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("never seen"))
        })
        .expect("the new-address alert");
    let text = alert["content"].as_str().unwrap();
    assert!(
        text.contains("127.0.0.1") && text.contains("night desk"),
        "{text}"
    );
    assert_eq!(alert["delivery"], "customer_service");
    assert_eq!(alert["plugin"], "plaza-security");

    // A lock-out too (read after a restart: this address is locked out of the running server).
    for i in 0..10 {
        server.get_as("/api/v1/system", Some(&format!("plt_guess{i}")));
    }
    server.stop();
    let server = Server::start(&dir, false);
    let outbox = server.outbox("news", "o-operator");
    assert!(
        outbox.iter().any(|m| m["content"]
            .as_str()
            .is_some_and(|c| c.contains("locked out"))),
        "{outbox:?}"
    );
}
