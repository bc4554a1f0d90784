//! Restart on the same data directory: everything is still there and nothing is recompiled; and an
//! acknowledged write survives `kill -9`.

use plaza_tests::*;
use serde_json::json;

#[test]
fn restart_keeps_accounts_installations_and_data_without_recompiling() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    server.create_account("x", "subscription", false);
    install_probe(&server, "x", "probe", &["storage"]);
    assert_eq!(
        server.text("x", "o-1", "1", "set color blue").reply_text(),
        Some("ok")
    );
    let first = server.get("/api/v1/system");
    assert!(
        first.body["components_compiled"].as_u64().unwrap_or(0) >= 1,
        "{first:?}"
    );
    server.stop();

    let server = Server::start(&dir, false);
    let system = server.get("/api/v1/system");
    assert_eq!(
        system.body["components_compiled"], 0,
        "second start loads from the compiled cache: {system:?}"
    );
    assert!(
        system.body["components_from_cache"].as_u64().unwrap_or(0) >= 3,
        "{system:?}"
    );
    assert_eq!(
        server.get("/api/v1/accounts/x").body["kind"],
        "subscription"
    );
    let inst = server.get("/api/v1/accounts/x/installations/probe");
    assert_eq!(inst.body["grants"], json!(["storage"]));
    assert_eq!(
        server.text("x", "o-1", "2", "get color").reply_text(),
        Some("blue")
    );
    // The de-duplication record survived too: a retry of message 1 is not re-run.
    assert_eq!(
        server.text("x", "o-1", "1", "set color red").reply_text(),
        Some("ok")
    );
    assert_eq!(
        server.text("x", "o-1", "3", "get color").reply_text(),
        Some("blue")
    );
}

#[test]
fn acknowledged_writes_survive_kill_9_under_load() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    install_probe(&server, "x", "probe", &["storage"]);
    // Four writers; every acknowledged write is remembered; then SIGKILL with writes in flight.
    let acknowledged = std::sync::Mutex::new(Vec::new());
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        for w in 0..4 {
            let (server, acknowledged, stop) = (&server, &acknowledged, &stop);
            s.spawn(move || {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    i += 1;
                    let key = format!("w{w}-{i}");
                    match server.try_text("x", "o-1", &key, &format!("set {key} v{i}")) {
                        Ok(a) if a.reply_text() == Some("ok") => {
                            acknowledged.lock().unwrap().push(key)
                        }
                        _ => break,
                    }
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(1500));
        // Killed while the writers are still writing.
        server.sigkill();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    server.kill9();
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(
        acknowledged.len() > 20,
        "the load ran: {}",
        acknowledged.len()
    );

    let server = Server::start(&dir, false);
    for (n, key) in acknowledged.iter().enumerate() {
        let a = server.text("x", "o-2", &format!("check-{n}"), &format!("get {key}"));
        assert!(
            a.reply_text().is_some_and(|t| t.starts_with('v')),
            "acknowledged {key} lost after kill -9: {a:?}"
        );
    }
}
