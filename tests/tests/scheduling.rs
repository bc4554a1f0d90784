//! Jobs are persisted, fire into the plugin's `on-event`, and survive a restart.

use std::time::{Duration, Instant};

use plaza_tests::*;

fn wait_for(server: &Server, account: &str, key: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        let a = server.text(
            account,
            "o-poll",
            &format!("poll-{key}-{n}-{}", Instant::now().elapsed().as_nanos()),
            &format!("get {key}"),
        );
        if let Some(t) = a.reply_text().filter(|t| *t != "<none>") {
            return Some(t.to_string());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
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
    let fired = wait_for(&server, "x", "last-fired", Duration::from_secs(20));
    assert_eq!(fired.as_deref(), Some(job.as_str()));
    assert_eq!(
        wait_for(
            &server,
            "x",
            &format!("fired:{job}"),
            Duration::from_secs(5)
        )
        .as_deref(),
        Some("probe")
    );
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
    let fired = wait_for(&server, "x", "last-fired", Duration::from_secs(30));
    assert_eq!(fired.as_deref(), Some(job.as_str()));
}
