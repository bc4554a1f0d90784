//! Secrets on disk (issue 6 §7): the data directory is private, the admin token file is
//! owner-only, ingress keys are stored hashed (shown once, at creation and rotation), rotating a
//! key retires the old one, and a data directory written by an older version with a key in clear
//! keeps working with that key while the clear copy leaves the account record.

mod common;

use std::path::Path;

use common::{plant, request, stored};
use plaza_tests::*;
use serde_json::{Value, json};

const INBOUND: &[u8] = br#"{"msg_id":"1","from":"o-1","msg_type":"text","content":"hi"}"#;

/// Posts an inbound message to `account` with `key` as the bearer token; returns the status.
fn inbound_with(server: &Server, account: &str, key: &str, msg_id: &str) -> u16 {
    let body = format!(r#"{{"msg_id":"{msg_id}","from":"o-1","msg_type":"text","content":"hi"}}"#);
    server
        .post_raw(
            &format!("/api/v1/accounts/{account}/inbound"),
            Some(key),
            "application/json",
            body.as_bytes(),
        )
        .status
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// Whether any file under `dir` contains `needle`.
fn any_file_contains(dir: &Path, needle: &[u8]) -> Option<std::path::PathBuf> {
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read dir") {
            let p = e.expect("entry").path();
            if p.is_dir() {
                todo.push(p);
            } else if std::fs::read(&p)
                .expect("read file")
                .windows(needle.len())
                .any(|w| w == needle)
            {
                return Some(p);
            }
        }
    }
    None
}

#[cfg(unix)]
#[test]
fn a_fresh_data_directory_and_its_admin_token_are_private() {
    let (_tmp, dir) = data_dir();
    // No token given: the server makes one and keeps it in the data directory.
    let mut server = Server::start_with(&dir, false, &[("PLAZA_ADMIN_TOKEN", "")]);
    let token_file = dir.join("admin-token");
    assert_eq!(mode(&dir), 0o700, "data directory");
    assert_eq!(mode(&token_file), 0o600, "admin token file");
    let token = std::fs::read_to_string(&token_file).expect("token");
    assert_eq!(
        server.get_as("/api/v1/accounts", Some(token.trim())).status,
        200,
        "the saved token is the server's"
    );
    server.stop();
}

#[test]
fn ingress_keys_are_shown_once_stored_hashed_and_rotated() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    let created = server.create_account("s", "service", true);
    let first = created.body["ingress_key"]
        .as_str()
        .expect("the key, once")
        .to_string();
    assert_eq!(created.body["ingress_key_set"], true, "{created:?}");
    assert_eq!(inbound_with(&server, "s", &first, "1"), 200);

    // Reading the account shows that a key is set, never the key.
    let shown = server.get("/api/v1/accounts/s");
    assert_eq!(shown.body["ingress_key_set"], true, "{shown:?}");
    assert!(shown.body.get("ingress_key").is_none(), "{shown:?}");
    assert!(!shown.body.to_string().contains(&first));
    let listed = server.get("/api/v1/accounts");
    assert!(!listed.body.to_string().contains(&first), "{listed:?}");

    // Rotation prints a new key; the old one stops working, the new one works (as a bearer
    // token or in X-Plaza-Ingress-Key).
    let (code, out, err) = plaza(&server, &["account", "rotate-key", "s"]);
    assert_eq!(code, 0, "{err}");
    let rotated: Value = serde_json::from_str(&out).expect("JSON answer");
    let second = rotated["ingress_key"]
        .as_str()
        .expect("the new key")
        .to_string();
    assert_ne!(second, first);
    assert_eq!(inbound_with(&server, "s", &first, "2"), 401);
    assert_eq!(inbound_with(&server, "s", &second, "3"), 200);
    let by_header = request(
        &server,
        "POST",
        "/api/v1/accounts/s/inbound",
        &[
            ("X-Plaza-Ingress-Key", second.as_str()),
            ("Content-Type", "application/json"),
        ],
        INBOUND,
    );
    assert_eq!(by_header.status, 200, "{:?}", by_header.body);
    let (code, _, err) = plaza(&server, &["account", "rotate-key", "nobody"]);
    assert_eq!(code, 2, "{err}");
    // Still never shown afterwards.
    let shown = server.get("/api/v1/accounts/s");
    assert!(!shown.body.to_string().contains(&second), "{shown:?}");
    server.stop();

    // On disk: the record holds a digest, and no file of the data directory holds either key.
    let record = stored(&dir, "accounts", b"s").expect("account record");
    let record: Value = serde_json::from_slice(&record).expect("JSON record");
    assert!(record.get("ingress_key").is_none(), "{record}");
    let digest = record["ingress_key_sha256"].as_str().expect("digest");
    assert_eq!(digest.len(), 64, "{record}");
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{record}");
    for key in [&first, &second] {
        assert_eq!(
            any_file_contains(&dir, key.as_bytes()),
            None,
            "an ingress key is on disk in clear"
        );
    }

    // The hash is what the restarted server checks against.
    let server = Server::start(&dir, false);
    assert_eq!(inbound_with(&server, "s", &second, "4"), 200);
    assert_eq!(inbound_with(&server, "s", &first, "5"), 401);
}

#[test]
fn a_clear_ingress_key_from_an_older_version_keeps_working_and_is_hashed_at_start() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    server.create_account("current", "subscription", false);
    server.stop();

    // An account as an older version stored it: the ingress key in clear, no digest.
    let clear = "0123456789abcdef0123456789abcdef";
    let legacy = json!({
        "id": "legacy", "name": "Legacy", "kind": "service", "verified": true,
        "timezone": "Asia/Shanghai", "created_at": 1_700_000_000_000u64, "ingress_key": clear,
    });
    plant(
        &dir,
        &[("accounts", b"legacy", legacy.to_string().as_bytes())],
    );

    let mut server = Server::start(&dir, false);
    assert_eq!(inbound_with(&server, "legacy", clear, "1"), 200);
    assert_eq!(inbound_with(&server, "legacy", "not-the-key", "2"), 401);
    let shown = server.get("/api/v1/accounts/legacy");
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.body["ingress_key_set"], true, "{shown:?}");
    assert!(!shown.body.to_string().contains(clear), "{shown:?}");
    let problems = server.get("/api/v1/system").body["problems"].clone();
    assert_eq!(problems, json!([]), "the old record decodes");
    server.stop();
    // The operator is told which account's key sat on disk in clear, and how to replace it.
    let log = std::fs::read_to_string(dir.with_extension("log")).expect("server log");
    let warning = log
        .lines()
        .find(|l| l.contains("ingress keys stored in clear were hashed"))
        .unwrap_or_else(|| panic!("no warning about the clear key in:\n{log}"));
    assert!(warning.contains("legacy"), "{warning}");
    assert!(!warning.contains("current"), "{warning}");
    assert!(warning.contains("plaza account rotate-key"), "{warning}");

    // The record no longer holds the key in clear, and everything else in it is unchanged.
    let record = stored(&dir, "accounts", b"legacy").expect("account record");
    let text = String::from_utf8(record).expect("UTF-8 record");
    assert!(!text.contains(clear), "{text}");
    let record: Value = serde_json::from_str(&text).expect("JSON record");
    assert!(record.get("ingress_key").is_none(), "{record}");
    assert_eq!(
        record["ingress_key_sha256"].as_str().map(str::len),
        Some(64)
    );
    for field in ["id", "name", "kind", "verified", "timezone", "created_at"] {
        assert_eq!(record[field], legacy[field], "{field}");
    }

    // And the key keeps working from the digest alone.
    let server = Server::start(&dir, false);
    assert_eq!(inbound_with(&server, "legacy", clear, "3"), 200);
}
