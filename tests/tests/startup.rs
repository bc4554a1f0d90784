//! Start-up tolerates stored records that no longer decode (issue 6 §7): an installation whose
//! config nests deeper than the JSON reader goes (what a ~146-level `[config.default]` once left
//! behind) and an account record of garbage bytes are set aside, not fatal. The server starts,
//! every other account and installation works, `GET /api/v1/system` lists both records with a
//! remedy, and the operator clears them with `plaza uninstall` and `plaza system drop-record`;
//! after a restart nothing is listed.

mod common;

use common::{plant, stored};
use plaza_tests::*;
use serde_json::{Value, json};

/// Config nesting the stored record carries: beyond serde_json's recursion limit of 128.
const DEPTH: usize = 150;

fn problems(server: &Server) -> Vec<Value> {
    let system = server.get("/api/v1/system");
    assert_eq!(system.status, 200, "{system:?}");
    system.body["problems"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The installation record `stored`, with its config replaced by one nested `DEPTH` levels.
fn too_deep(stored: &[u8]) -> Vec<u8> {
    let mut record: Value = serde_json::from_slice(stored).expect("installation record");
    record["config"] = json!("@config@");
    let nested = format!("{}1{}", r#"{"a":"#.repeat(DEPTH), "}".repeat(DEPTH));
    record
        .to_string()
        .replace(r#""@config@""#, &nested)
        .into_bytes()
}

#[test]
fn undecodable_records_are_set_aside_reported_and_removable() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    for account in ["good", "hurt", "broken"] {
        server.create_account(account, "service", true);
    }
    install_probe(&server, "good", "probe", &["storage"]);
    // `hurt` has two installations; only one of them will be damaged.
    let up = server.upload(
        &probe_manifest("probe-b", &["storage"], 32, 1000),
        &probe_wasm(),
    );
    assert_eq!(up.status, 201, "{up:?}");
    for plugin in ["probe", "probe-b"] {
        let inst = server.install("hurt", json!({ "plugin": plugin, "grants": ["storage"] }));
        assert_eq!(inst.status, 201, "{inst:?}");
    }
    assert_eq!(
        server
            .text("hurt", "o-1", "1", "@probe whoami")
            .reply_text(),
        Some("hurt/probe@0.1.0")
    );
    assert_eq!(
        server.text("good", "o-1", "1", "set kept yes").reply_text(),
        Some("ok")
    );
    server.stop();

    // Damage two records while the server is stopped.
    let installation = stored(&dir, "installations", b"hurt\0probe").expect("installation");
    plant(
        &dir,
        &[
            ("installations", b"hurt\0probe", &too_deep(&installation)),
            ("accounts", b"broken", b"\xff\xfe not a record \x00\x01"),
        ],
    );

    // The server starts anyway.
    let mut server = Server::start(&dir, false);
    assert_eq!(
        server.text("good", "o-1", "2", "get kept").reply_text(),
        Some("yes"),
        "other accounts work"
    );
    assert_eq!(
        server
            .text("hurt", "o-1", "2", "@probe-b whoami")
            .reply_text(),
        Some("hurt/probe-b@0.1.0"),
        "the account's other installation works"
    );
    assert_eq!(
        server
            .text("hurt", "o-1", "3", "@probe whoami")
            .reply_text(),
        None,
        "the damaged installation does not run"
    );
    let accounts = server.get("/api/v1/accounts");
    assert_eq!(accounts.status, 200, "{accounts:?}");
    let ids: Vec<&str> = accounts.body["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .filter_map(|a| a["id"].as_str())
        .collect();
    assert_eq!(
        ids,
        ["good", "hurt"],
        "the undecodable account is not listed"
    );
    let installed = |server: &Server| {
        let a = server.get("/api/v1/accounts/hurt/installations");
        assert_eq!(a.status, 200, "{a:?}");
        a.body["installations"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|i| i["plugin"].as_str().map(str::to_string))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        installed(&server),
        ["probe-b"],
        "the damaged one is set aside"
    );

    // Both are reported, each with what to do about it.
    let listed = problems(&server);
    assert_eq!(listed.len(), 2, "{listed:?}");
    let find = |table: &str| {
        listed
            .iter()
            .find(|p| p["table"] == table)
            .unwrap_or_else(|| panic!("no {table} problem in {listed:?}"))
            .clone()
    };
    let bad_installation = find("installations");
    assert_eq!(bad_installation["key"], "hurt/probe", "{bad_installation}");
    assert_eq!(
        bad_installation["remedy"], "plaza uninstall hurt probe",
        "{bad_installation}"
    );
    assert!(
        bad_installation["error"]
            .as_str()
            .is_some_and(|e| e.contains("recursion limit")),
        "{bad_installation}"
    );
    let bad_account = find("accounts");
    assert_eq!(bad_account["key"], "broken", "{bad_account}");
    assert!(
        bad_account["remedy"]
            .as_str()
            .is_some_and(|r| !r.is_empty()),
        "{bad_account}"
    );
    let (code, out, err) = plaza(&server, &["system", "show"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("plaza uninstall hurt probe"), "{out}");

    // Asking for the set-aside installation is a conflict that names the remedy, not a 500.
    let shown = server.get("/api/v1/accounts/hurt/installations/probe");
    assert_eq!(shown.status, 409, "{shown:?}");
    assert_eq!(shown.body["error"]["code"], "conflict", "{shown:?}");
    assert!(
        shown.body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("plaza uninstall hurt probe")),
        "{shown:?}"
    );

    // The remedy for the installation works, and its problem goes.
    let (code, _, err) = plaza(&server, &["uninstall", "hurt", "probe"]);
    assert_eq!(code, 0, "uninstall: {err}");
    let listed = problems(&server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["table"], "accounts", "{listed:?}");
    assert_eq!(installed(&server), ["probe-b"]);

    // The account record is removed by its id; an unknown id is not found.
    let id = bad_account["id"].as_str().expect("problem id");
    let (code, _, err) = plaza(&server, &["system", "drop-record", "accounts:00"]);
    assert_eq!(code, 2, "{err}");
    let (code, out, err) = plaza(&server, &["system", "drop-record", id]);
    assert_eq!(code, 0, "drop-record: {err}");
    assert!(out.contains("broken"), "{out}");
    assert_eq!(problems(&server), Vec::<Value>::new());
    // The installation can be made again, and works.
    let again = server.install("hurt", json!({ "plugin": "probe", "grants": ["storage"] }));
    assert_eq!(again.status, 201, "{again:?}");
    assert_eq!(installed(&server), ["probe", "probe-b"]);
    assert_eq!(
        server
            .text("hurt", "o-1", "4", "@probe whoami")
            .reply_text(),
        Some("hurt/probe@0.1.0")
    );
    server.stop();

    // A restart finds nothing to set aside.
    let server = Server::start(&dir, false);
    assert_eq!(problems(&server), Vec::<Value>::new());
    assert_eq!(
        server.text("good", "o-1", "5", "get kept").reply_text(),
        Some("yes")
    );
    assert_eq!(
        server.get("/api/v1/accounts/broken").status,
        404,
        "the dropped account is gone"
    );
}
