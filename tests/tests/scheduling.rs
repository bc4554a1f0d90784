//! Jobs are persisted, fire into the plugin's `on-event`, and survive a restart.

use std::sync::atomic::{AtomicU64, Ordering};

use plaza_tests::*;

static POLLS: AtomicU64 = AtomicU64::new(0);

/// Polls the probe's storage key `key` until it holds a value, and returns it.
fn wait_for(server: &Server, account: &str, key: &str) -> String {
    eventually(&format!("storage key {key:?}"), || {
        let n = POLLS.fetch_add(1, Ordering::Relaxed);
        let a = server.text(
            account,
            "o-poll",
            &format!("poll-{n}"),
            &format!("get {key}"),
        );
        a.reply_text()
            .filter(|t| *t != "<none>")
            .map(str::to_string)
    })
}

#[test]
fn a_one_shot_job_fires_with_its_id() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    install_probe(&server, "x", "probe", &["storage", "scheduling"]);
    let a = server.text("x", "o-1", "1", "schedule 300");
    let job = a
        .reply_text()
        .and_then(|t| t.strip_prefix("job:"))
        .expect("job id")
        .to_string();
    assert_eq!(wait_for(&server, "x", "last-fired"), job);
    assert_eq!(wait_for(&server, "x", &format!("fired:{job}")), "probe");
}

#[test]
fn scheduling_without_the_grant_is_denied() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    install_probe(&server, "x", "probe", &["storage"]);
    let a = server.text("x", "o-1", "1", "schedule 300");
    assert!(
        a.reply_text()
            .is_some_and(|t| t.starts_with("error:permission_denied")),
        "{a:?}"
    );
}

#[test]
fn a_job_scheduled_before_a_restart_fires_after_it() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    install_probe(&server, "x", "probe", &["storage", "scheduling"]);
    let a = server.text("x", "o-1", "1", "schedule 3000");
    let job = a
        .reply_text()
        .and_then(|t| t.strip_prefix("job:"))
        .expect("job id")
        .to_string();
    // Killed hard right after the job was acknowledged.
    server.kill9();
    let server = Server::start(&dir, false);
    assert_eq!(wait_for(&server, "x", "last-fired"), job);
}
