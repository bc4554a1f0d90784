//! Misbehaving plugins are contained: an endless loop is stopped at its deadline, unbounded
//! allocation at its memory limit, a panic fails only its call; meanwhile and afterwards other
//! accounts keep being answered.

use std::sync::atomic::{AtomicBool, Ordering};

use plaza_tests::*;
use serde_json::json;

fn setup() -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("evil", "service", true);
    server.create_account("good", "service", true);
    install_probe(&server, "evil", "probe", &["storage"]);
    let inst = server.install("good", json!({ "plugin": "auto-reply", "config": { "default_reply": "still here" }, "grants": [] }));
    assert_eq!(inst.status, 201, "{inst:?}");
    (tmp, server)
}

/// Sends `command` to the hostile account while the good account is queried in a loop; returns
/// the hostile answer and how many good answers came back correct while it ran.
fn while_other_accounts_talk(server: &Server, command: &str, msg_id: &str) -> (Answer, usize) {
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let good = s.spawn(|| {
            let mut answered = 0;
            let mut i = 0;
            while !done.load(Ordering::SeqCst) || answered == 0 {
                i += 1;
                let a = server.text("good", "o-good", &format!("{msg_id}-{i}"), "anyone?");
                assert_eq!(
                    a.reply_text(),
                    Some("still here"),
                    "good account during {command}: {a:?}"
                );
                answered += 1;
            }
            answered
        });
        let evil = server.text("evil", "o-evil", msg_id, command);
        done.store(true, Ordering::SeqCst);
        (evil, good.join().unwrap())
    })
}

fn last_error_kind(server: &Server) -> String {
    let errors = server.errors("evil", "probe");
    errors
        .last()
        .map(|e| e["kind"].as_str().unwrap_or("").to_string())
        .unwrap_or_default()
}

#[test]
fn an_endless_loop_is_stopped_at_its_deadline() {
    let (_tmp, server) = setup();
    let (evil, good) = while_other_accounts_talk(&server, "loop", "l1");
    assert_eq!(evil.status, 200, "{evil:?}");
    assert_eq!(evil.body["reply"], serde_json::Value::Null);
    assert!(good >= 1);
    assert_eq!(last_error_kind(&server), "timeout");
    // The plugin itself still works for the next message.
    assert_eq!(
        server
            .text("evil", "o-evil", "l2", "get nothing")
            .reply_text(),
        Some("<none>")
    );
}

#[test]
fn unbounded_allocation_is_stopped_at_the_memory_limit() {
    let (_tmp, server) = setup();
    let (evil, good) = while_other_accounts_talk(&server, "alloc", "a1");
    assert_eq!(evil.body["reply"], serde_json::Value::Null, "{evil:?}");
    assert!(good >= 1);
    let errors = server.errors("evil", "probe");
    let last = errors.last().expect("an error was recorded");
    assert_eq!(last["kind"], "out_of_memory", "{last}");
    assert_eq!(last["call"], "on-message");
    assert_eq!(last["version"], "0.1.0");
    assert_eq!(
        server.text("evil", "o-evil", "a2", "whoami").reply_text(),
        Some("evil/probe@0.1.0")
    );
}

#[test]
fn a_panic_fails_only_its_call() {
    let (_tmp, server) = setup();
    let (evil, good) = while_other_accounts_talk(&server, "panic", "p1");
    assert_eq!(evil.body["reply"], serde_json::Value::Null, "{evil:?}");
    assert!(good >= 1);
    let errors = server.errors("evil", "probe");
    let last = errors.last().expect("an error was recorded");
    assert_eq!(last["kind"], "trap");
    assert!(
        last["message"]
            .as_str()
            .unwrap_or("")
            .contains("probe panic"),
        "{last}"
    );
    assert_eq!(
        server.text("evil", "o-evil", "p2", "whoami").reply_text(),
        Some("evil/probe@0.1.0")
    );
}

#[test]
fn a_failing_plugin_lets_the_next_one_answer() {
    let (_tmp, server) = setup();
    let inst = server.install("evil", json!({ "plugin": "auto-reply", "config": { "default_reply": "fallback" }, "priority": -1 }));
    assert_eq!(inst.status, 201, "{inst:?}");
    assert_eq!(
        server.text("evil", "o-evil", "f1", "panic").reply_text(),
        Some("fallback")
    );
    assert_eq!(
        server.text("evil", "o-evil", "f2", "whoami").reply_text(),
        Some("evil/probe@0.1.0")
    );
}

#[test]
fn an_oversized_reply_is_refused_not_delivered() {
    let (_tmp, server) = setup();
    let a = server.text("evil", "o-evil", "b1", "bigreply 200000");
    assert_eq!(a.body["reply"], serde_json::Value::Null, "{a:?}");
    assert_eq!(last_error_kind(&server), "too_large");
    assert!(server.outbox("evil", "o-evil").is_empty());
}
