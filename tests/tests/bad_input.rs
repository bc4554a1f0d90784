//! Bad input gets a clear 4xx with a typed error body, and nothing is stored.

use plaza_tests::*;
use serde_json::json;

#[test]
fn bad_manifests_and_corrupt_components_are_refused_and_not_stored() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let before = server.get("/api/v1/plugins").body["plugins"]
        .as_array()
        .map(|a| a.len());
    let wasm = probe_wasm();

    let not_toml = server.upload("name = ", &wasm);
    assert_eq!(
        (not_toml.status, not_toml.error_code()),
        (400, "invalid"),
        "{not_toml:?}"
    );
    assert!(
        not_toml.error_message().contains("plugin.toml"),
        "{not_toml:?}"
    );

    let bad_version = server.upload(
        &probe_manifest("p", &[], 32, 500).replace("0.1.0", "first"),
        &wasm,
    );
    assert_eq!(bad_version.status, 400);
    assert!(
        bad_version.error_message().contains("version"),
        "{bad_version:?}"
    );

    let unknown_cap = server.upload(&probe_manifest("p", &["filesystem"], 32, 500), &wasm);
    assert_eq!(unknown_cap.status, 400);
    assert!(
        unknown_cap.error_message().contains("unknown capability"),
        "{unknown_cap:?}"
    );

    let future_api = server.upload(
        &probe_manifest("p", &[], 32, 500).replace("^0.1", "^0.2"),
        &wasm,
    );
    assert_eq!(future_api.status, 400, "{future_api:?}");
    let msg = future_api.error_message();
    assert!(
        msg.contains("^0.2") && msg.contains("0.1.0"),
        "must name both versions: {msg}"
    );

    let corrupt = server.upload(
        &probe_manifest("p", &[], 32, 500),
        b"\0asm\x0d\0\x01\0garbage",
    );
    assert_eq!(
        (corrupt.status, corrupt.error_code()),
        (400, "invalid"),
        "{corrupt:?}"
    );
    let core_module = server.upload(&probe_manifest("p", &[], 32, 500), b"\0asm\x01\0\0\0");
    assert_eq!(core_module.status, 400, "{core_module:?}");

    let missing_part = server.post_raw(
        "/api/v1/plugins",
        Some(TOKEN),
        "multipart/form-data; boundary=b",
        b"--b\r\nContent-Disposition: form-data; name=\"manifest\"\r\n\r\nname=\"x\"\r\n--b--\r\n",
    );
    assert_eq!(missing_part.status, 400, "{missing_part:?}");

    let after = server.get("/api/v1/plugins").body["plugins"]
        .as_array()
        .map(|a| a.len());
    assert_eq!(before, after, "nothing was registered");
    let wasm_files = std::fs::read_dir(dir.join("wasm"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(wasm_files, 2, "only the two bundled components are stored");
}

#[test]
fn malformed_ingress_and_unknown_accounts_are_typed_errors() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);

    let not_json = server.post_raw(
        "/api/v1/accounts/x/inbound",
        Some(TOKEN),
        "application/json",
        b"{\"from\":",
    );
    assert_eq!(
        (not_json.status, not_json.error_code()),
        (400, "invalid"),
        "{not_json:?}"
    );
    let no_msg_id = server.post(
        "/api/v1/accounts/x/inbound",
        &json!({ "from": "o-1", "msg_type": "text", "content": "hi" }),
    );
    assert_eq!(no_msg_id.status, 400);
    assert!(
        no_msg_id.error_message().contains("msg_id"),
        "{no_msg_id:?}"
    );
    let unknown_type = server.post(
        "/api/v1/accounts/x/inbound",
        &json!({ "msg_id": "1", "from": "o-1", "msg_type": "hologram" }),
    );
    assert_eq!(unknown_type.status, 400);
    assert!(
        unknown_type.error_message().contains("hologram"),
        "{unknown_type:?}"
    );
    let unknown_field = server.post(
        "/api/v1/accounts/x/inbound",
        &json!({ "msg_id": "1", "from": "o-1", "msg_type": "text", "content": "a", "colour": 1 }),
    );
    assert_eq!(unknown_field.status, 400, "{unknown_field:?}");

    // Nothing was recorded for any of those.
    let followers = server.get("/api/v1/accounts/x/followers");
    assert_eq!(
        followers.body["followers"].as_array().map(|a| a.len()),
        Some(0),
        "{followers:?}"
    );

    let unknown = server.text("nope", "o-1", "1", "hi");
    assert_eq!(
        (unknown.status, unknown.error_code()),
        (404, "not_found"),
        "{unknown:?}"
    );
    let unknown_get = server.get("/api/v1/accounts/nope");
    assert_eq!(
        (unknown_get.status, unknown_get.error_code()),
        (404, "not_found")
    );
    let unknown_install = server.install("x", json!({ "plugin": "no-such-plugin" }));
    assert_eq!(
        (unknown_install.status, unknown_install.error_code()),
        (404, "not_found")
    );

    let bad_account = server.post(
        "/api/v1/accounts",
        &json!({ "id": "Bad Id!", "kind": "service" }),
    );
    assert_eq!(bad_account.status, 400, "{bad_account:?}");
    let bad_kind = server.post(
        "/api/v1/accounts",
        &json!({ "id": "ok", "kind": "personal" }),
    );
    assert_eq!(bad_kind.status, 400, "{bad_kind:?}");
    let bad_tz = server.post(
        "/api/v1/accounts",
        &json!({ "id": "ok", "kind": "service", "timezone": "Mars/Olympus" }),
    );
    assert_eq!(bad_tz.status, 400, "{bad_tz:?}");
    let dup = server.post("/api/v1/accounts", &json!({ "id": "x", "kind": "service" }));
    assert_eq!((dup.status, dup.error_code()), (409, "conflict"));
    let accounts = server.get("/api/v1/accounts");
    assert_eq!(
        accounts.body["accounts"].as_array().map(|a| a.len()),
        Some(1)
    );

    let bad_config = server.install(
        "x",
        json!({ "plugin": "auto-reply", "config": { "rules": "not a list" } }),
    );
    assert_eq!(bad_config.status, 400, "{bad_config:?}");
    assert!(
        bad_config.error_message().contains("/rules"),
        "{bad_config:?}"
    );
    let installs = server.get("/api/v1/accounts/x/installations");
    assert_eq!(
        installs.body["installations"].as_array().map(|a| a.len()),
        Some(0)
    );
}

#[test]
fn the_admin_api_needs_the_token_and_ingress_accepts_the_account_key() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let acc = server.create_account("x", "service", true);
    let key = acc.body["ingress_key"]
        .as_str()
        .expect("ingress key")
        .to_string();

    let anon = server.get_as("/api/v1/accounts", None);
    assert_eq!((anon.status, anon.error_code()), (401, "unauthorized"));
    let wrong = server.get_as("/api/v1/accounts", Some("nope"));
    assert_eq!(wrong.status, 401);
    // The ingress key opens the inbound endpoint of its own account only…
    let body = br#"{"msg_id":"1","from":"o-1","msg_type":"text","content":"hi"}"#;
    let ok = server.post_raw(
        "/api/v1/accounts/x/inbound",
        Some(&key),
        "application/json",
        body,
    );
    assert_eq!(ok.status, 200, "{ok:?}");
    // …and nothing else.
    assert_eq!(server.get_as("/api/v1/accounts", Some(&key)).status, 401);
    let unknown = server.post_raw(
        "/api/v1/accounts/other/inbound",
        Some(&key),
        "application/json",
        body,
    );
    assert_eq!(
        unknown.status, 401,
        "no account existence leak without a valid token: {unknown:?}"
    );
    assert_eq!(
        server.get_as("/api/v1/no/such/route", Some(TOKEN)).status,
        404
    );
}
