//! Misbehaving plugins are contained: an endless loop is stopped at its deadline, unbounded
//! allocation at its memory limit, a panic fails only its call; meanwhile and afterwards other
//! accounts keep being answered.

use std::time::Instant;

use plaza_tests::*;
use serde_json::json;

/// The hostile probe's deadline. Long enough that a loaded machine cannot reach it before the test
/// releases the waiting call (that takes a handful of requests); it still ends `loop`, so it is
/// also how long the endless-loop test runs.
const HOSTILE_TIMEOUT_MS: u64 = 5000;

/// Answers from the good account the test collects inside the hostile call's window.
const GOOD_ANSWERS: usize = 3;

fn setup() -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("evil", "service", true);
    server.create_account("good", "service", true);
    let up = server.upload(
        &probe_manifest("probe", &["storage"], 32, HOSTILE_TIMEOUT_MS),
        &probe_wasm(),
    );
    assert_eq!(up.status, 201, "{up:?}");
    let inst = server.install("evil", json!({ "plugin": "probe", "grants": ["storage"] }));
    assert_eq!(inst.status, 201, "{inst:?}");
    let inst = server.install("good", json!({ "plugin": "auto-reply", "config": { "default_reply": "still here" }, "grants": [] }));
    assert_eq!(inst.status, 201, "{inst:?}");
    (tmp, server)
}

/// Runs the probe command `get KEY` on the hostile account from a bystander follower.
fn evil_get(server: &Server, msg_id: &str, key: &str) -> String {
    let a = server.text("evil", "o-bystander", msg_id, &format!("get {key}"));
    assert_eq!(a.status, 200, "get {key}: {a:?}");
    a.reply_text().unwrap_or_default().to_string()
}

/// Sends each of `commands` to the hostile account, concurrently, and shows that the good account
/// is answered while they run. Each hostile call first busy-waits (on the CPU, in `await`) until
/// released; once the test sees every one of them waiting, it collects [`GOOD_ANSWERS`] correct
/// answers from the good account, then releases them to run their command. Returns the hostile
/// answers after asserting that every good request started and ended inside every hostile
/// request, and that each release reached its call before the deadline (so the good answers came
/// while the calls were running, not after they gave up).
fn while_other_accounts_talk(server: &Server, commands: &[&str], msg_id: &str) -> Vec<Answer> {
    let gate = |i: usize| format!("go-{msg_id}-{i}");
    std::thread::scope(|s| {
        let hostile: Vec<_> = commands
            .iter()
            .enumerate()
            .map(|(i, command)| {
                let text = format!("await {} {command}", gate(i));
                let id = format!("{msg_id}-hostile-{i}");
                s.spawn(move || {
                    let started = Instant::now();
                    let a = server.text("evil", "o-evil", &id, &text);
                    (started, a, Instant::now())
                })
            })
            .collect();

        let mut n = 0;
        let mut next_id = || {
            n += 1;
            format!("{msg_id}-{n}")
        };
        for i in 0..commands.len() {
            eventually(&format!("hostile call {i} to be running"), || {
                let waiting = evil_get(server, &next_id(), &format!("awaiting:{}", gate(i)));
                (waiting == "1").then_some(())
            });
        }
        let mut good = Vec::new();
        for _ in 0..GOOD_ANSWERS {
            let sent = Instant::now();
            let a = server.text("good", "o-good", &next_id(), "anyone?");
            let answered = Instant::now();
            assert_eq!(
                a.reply_text(),
                Some("still here"),
                "good account during {commands:?}: {a:?}"
            );
            good.push((sent, answered));
        }
        for i in 0..commands.len() {
            let release = server.text(
                "evil",
                "o-bystander",
                &next_id(),
                &format!("set {} 1", gate(i)),
            );
            assert_eq!(release.reply_text(), Some("ok"), "{release:?}");
        }

        let mut answers = Vec::new();
        for (i, call) in hostile.into_iter().enumerate() {
            let (started, evil, ended) = call.join().expect("hostile request thread");
            for (sent, answered) in &good {
                assert!(
                    started <= *sent && *answered <= ended,
                    "good answer outside the window of hostile call {i} ({commands:?})"
                );
            }
            assert_eq!(
                evil_get(server, &next_id(), &format!("awaited:{}", gate(i))),
                "1",
                "hostile call {i} hit its deadline before it was released: the good answers \
                 did not come while it was running ({commands:?})"
            );
            answers.push(evil);
        }
        answers
    })
}

/// The one hostile answer of [`while_other_accounts_talk`] with a single command.
fn while_one_call_runs(server: &Server, command: &str, msg_id: &str) -> Answer {
    let mut answers = while_other_accounts_talk(server, &[command], msg_id);
    answers.pop().expect("one hostile answer")
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
    let evil = while_one_call_runs(&server, "loop", "l1");
    assert_eq!(evil.status, 200, "{evil:?}");
    assert_eq!(evil.body["reply"], serde_json::Value::Null);
    assert_eq!(last_error_kind(&server), "timeout");
    // The plugin itself still works for the next message.
    assert_eq!(
        server
            .text("evil", "o-evil", "l2", "get nothing")
            .reply_text(),
        Some("<none>")
    );
}

/// One endless loop per CPU core of the machine: as many as the server has async worker threads,
/// so a plugin that held its thread until its deadline would leave none for anyone else.
#[test]
fn endless_loops_on_every_worker_thread_still_let_others_be_answered() {
    let (_tmp, server) = setup();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let loops = vec!["loop"; cores.max(2)];
    let answers = while_other_accounts_talk(&server, &loops, "ll");
    for evil in &answers {
        assert_eq!(evil.status, 200, "{evil:?}");
        assert_eq!(evil.body["reply"], serde_json::Value::Null, "{evil:?}");
    }
    let errors = server.errors("evil", "probe");
    let timeouts = errors.iter().filter(|e| e["kind"] == "timeout").count();
    assert_eq!(timeouts, loops.len(), "{errors:?}");
}

#[test]
fn unbounded_allocation_is_stopped_at_the_memory_limit() {
    let (_tmp, server) = setup();
    let evil = while_one_call_runs(&server, "alloc", "a1");
    assert_eq!(evil.body["reply"], serde_json::Value::Null, "{evil:?}");
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
    let evil = while_one_call_runs(&server, "panic", "p1");
    assert_eq!(evil.body["reply"], serde_json::Value::Null, "{evil:?}");
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
