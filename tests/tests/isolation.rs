//! Plugins and accounts cannot reach each other's data, and a call outside the grant is refused.

use plaza_tests::*;
use serde_json::json;

#[test]
fn plugin_a_cannot_read_plugin_b_and_account_x_cannot_read_account_y() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    server.create_account("y", "subscription", false);
    install_probe(&server, "x", "probe-a", &["storage"]);
    install_probe(&server, "x", "probe-b", &["storage"]);
    // probe-a answers first on x; disable it to talk to probe-b.
    server.patch(
        "/api/v1/accounts/x/installations/probe-a",
        &json!({ "priority": 5 }),
    );
    assert_eq!(
        server
            .text("x", "o-1", "1", "set secret from-a")
            .reply_text(),
        Some("ok")
    );
    assert_eq!(
        server.text("x", "o-1", "2", "get secret").reply_text(),
        Some("from-a")
    );

    server.patch(
        "/api/v1/accounts/x/installations/probe-a",
        &json!({ "enabled": false }),
    );
    assert_eq!(
        server.text("x", "o-1", "3", "get secret").reply_text(),
        Some("<none>")
    );
    assert_eq!(
        server.text("x", "o-1", "4", "whoami").reply_text(),
        Some("x/probe-b@0.1.0")
    );

    // The same plugin on another account has its own namespace.
    let inst = server.install("y", json!({ "plugin": "probe-a", "grants": ["storage"] }));
    assert_eq!(inst.status, 201, "{inst:?}");
    assert_eq!(
        server.text("y", "o-1", "1", "get secret").reply_text(),
        Some("<none>")
    );
    assert_eq!(
        server
            .text("y", "o-1", "2", "set secret from-y")
            .reply_text(),
        Some("ok")
    );

    server.patch(
        "/api/v1/accounts/x/installations/probe-a",
        &json!({ "enabled": true }),
    );
    assert_eq!(
        server.text("x", "o-1", "5", "get secret").reply_text(),
        Some("from-a")
    );
}

#[test]
fn calls_outside_the_grant_get_permission_denied() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    // Requested everything, granted nothing.
    install_probe(&server, "x", "probe", &[]);
    let set = server.text("x", "o-1", "1", "set k v");
    assert!(
        set.reply_text()
            .is_some_and(|t| t.starts_with("error:permission_denied:")),
        "{set:?}"
    );
    let send = server.text("x", "o-1", "2", "send hi");
    assert!(
        send.reply_text()
            .is_some_and(|t| t.starts_with("error:permission_denied:")),
        "{send:?}"
    );
    assert_eq!(
        server
            .outbox("x", "o-1")
            .iter()
            .filter(|m| m["delivery"] == "customer_service")
            .count(),
        0
    );

    // Granting messaging.send lets the same call through, into the follower's outbox.
    let g = server.patch(
        "/api/v1/accounts/x/installations/probe",
        &json!({ "grants": ["messaging.send"] }),
    );
    assert_eq!(g.status, 200, "{g:?}");
    let sent = server.text("x", "o-1", "3", "send hi there");
    assert!(
        sent.reply_text().is_some_and(|t| t.starts_with("sent:")),
        "{sent:?}"
    );
    let cs: Vec<_> = server
        .outbox("x", "o-1")
        .into_iter()
        .filter(|m| m["delivery"] == "customer_service")
        .collect();
    assert_eq!(cs.len(), 1);
    assert_eq!(cs[0]["content"], "hi there");

    // The first gate: a capability the manifest does not request cannot be granted.
    let up = server.upload(
        &probe_manifest("narrow", &["storage"], 32, 500),
        &probe_wasm(),
    );
    assert_eq!(up.status, 201, "{up:?}");
    let over = server.install(
        "x",
        json!({ "plugin": "narrow", "grants": ["storage", "messaging.send"] }),
    );
    assert_eq!(over.status, 400, "{over:?}");
    assert!(over.error_message().contains("messaging.send"), "{over:?}");
}
