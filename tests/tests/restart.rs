//! Restart on the same data directory: everything is still there and nothing is recompiled; and an
//! acknowledged write survives `kill -9`.

use std::sync::Mutex;

use plaza_tests::*;
use serde_json::json;

#[test]
fn restart_keeps_accounts_installations_and_data_without_recompiling() {
    let (_tmp, dir) = data_dir();
    // A cache of its own (the tests share one): the first start must compile.
    let cache = dir.join("compiled");
    let cache = cache.to_str().expect("utf-8 path");
    let own_cache = [("PLAZA_COMPILED_CACHE", cache)];
    let mut server = Server::start_with(&dir, false, &own_cache);
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

    let server = Server::start_with(&dir, false, &own_cache);
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

/// Acknowledged writes to wait for before the kill: enough that the writers are in full swing.
const WRITES_BEFORE_KILL: usize = 200;

/// Kills the server when dropped, so the writers stop however the waiting ends (a panic included:
/// the scope below cannot return while they still write).
struct KillOnDrop<'a>(&'a Server);

impl Drop for KillOnDrop<'_> {
    fn drop(&mut self) {
        self.0.sigkill();
    }
}

#[test]
fn acknowledged_writes_survive_kill_9_under_load() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    install_probe(&server, "x", "probe", &["storage"]);
    // Four writers write until the server is gone; every acknowledged write is remembered. The
    // kill comes once WRITES_BEFORE_KILL were acknowledged, with the writers still writing.
    let acknowledged = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        let kill = KillOnDrop(&server);
        for w in 0..4 {
            let (server, acknowledged) = (&server, &acknowledged);
            s.spawn(move || {
                for i in 1.. {
                    let key = format!("w{w}-{i}");
                    match server.try_text("x", "o-1", &key, &format!("set {key} v{i}")) {
                        Ok(a) if a.reply_text() == Some("ok") => {
                            acknowledged.lock().unwrap().push(key)
                        }
                        // The server is gone (or refused): this writer is done.
                        _ => break,
                    }
                }
            });
        }
        eventually(&format!("{WRITES_BEFORE_KILL} acknowledged writes"), || {
            (acknowledged.lock().unwrap().len() >= WRITES_BEFORE_KILL).then_some(())
        });
        drop(kill);
    });
    server.kill9();
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(acknowledged.len() >= WRITES_BEFORE_KILL);

    let server = Server::start(&dir, false);
    for (n, key) in acknowledged.iter().enumerate() {
        let a = server.text("x", "o-2", &format!("check-{n}"), &format!("get {key}"));
        assert!(
            a.reply_text().is_some_and(|t| t.starts_with('v')),
            "acknowledged {key} lost after kill -9: {a:?}"
        );
    }
}
