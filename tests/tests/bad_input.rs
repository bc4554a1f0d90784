//! Bad input gets a clear 4xx with a typed error body, and nothing is stored.

mod common;

use common::{ADMIN, Piece, multipart, post_streamed, request};
use plaza_tests::*;
use serde_json::{Value, json};

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
        &probe_manifest("p", &[], 32, 500).replace("^0.2", "^0.3"),
        &wasm,
    );
    assert_eq!(future_api.status, 400, "{future_api:?}");
    let msg = future_api.error_message();
    assert!(
        msg.contains("^0.3") && msg.contains("0.2.0") && msg.contains("0.1.0"),
        "must name the range asked for and every version served: {msg}"
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
    assert_eq!(
        wasm_files,
        plaza_host::bundled::BUNDLED.len(),
        "only the bundled components are stored"
    );
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

/// A manifest whose `[config.default]` nests `1 + tables + inline` levels: a table path of
/// `tables` keys holding an inline table `inline` levels deep (TOML bounds each form, not both).
fn deep_manifest(name: &str, tables: usize, inline: usize) -> String {
    let path: Vec<String> = (0..tables).map(|i| format!("k{i}")).collect();
    format!(
        "name = {name:?}\nversion = \"0.1.0\"\napi = \"^0.2\"\n\n[config.default.{}]\nv = {}1{}\n",
        path.join("."),
        "{ a = ".repeat(inline),
        " }".repeat(inline)
    )
}

/// `{"a": {"a": … 1 … }}`, `levels` objects deep.
fn nested(levels: usize) -> Value {
    (0..levels).fold(json!(1), |v, _| json!({ "a": v }))
}

fn plugin_count(server: &Server) -> usize {
    server.get("/api/v1/plugins").body["plugins"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn deeply_nested_configs_are_refused_and_accepted_ones_survive_a_restart() {
    let (_tmp, dir) = data_dir();
    let mut server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    let before = plugin_count(&server);

    // 146 levels in `config.default`: once accepted, it broke the account and the next start.
    let deep = server.upload(&deep_manifest("deep", 72, 73), &probe_wasm());
    assert_eq!(
        (deep.status, deep.error_code()),
        (400, "invalid"),
        "{deep:?}"
    );
    assert!(
        deep.error_message().contains("config.default")
            && deep.error_message().contains("32 levels"),
        "{deep:?}"
    );
    assert_eq!(plugin_count(&server), before, "nothing was registered");
    assert_eq!(server.get("/api/v1/plugins/deep").status, 404);

    // An installation config given through the API gets the same bound, at install and PATCH.
    install_probe(&server, "x", "probe", &[]);
    let path = "/api/v1/accounts/x/installations/probe";
    let patched = server.patch(path, &json!({ "config": nested(40) }));
    assert_eq!(
        (patched.status, patched.error_code()),
        (400, "invalid"),
        "{patched:?}"
    );
    assert_eq!(server.get(path).body["config"], json!({}), "unchanged");
    let up = server.upload(&probe_manifest("other", &[], 32, 500), &probe_wasm());
    assert_eq!(up.status, 201, "{up:?}");
    let inst = server.install("x", json!({ "plugin": "other", "config": nested(40) }));
    assert_eq!(
        (inst.status, inst.error_code()),
        (400, "invalid"),
        "{inst:?}"
    );
    assert_eq!(
        server.get("/api/v1/accounts/x/installations/other").status,
        404
    );

    // A config at the bound is accepted, stored, and decodes again after a restart.
    let at_bound = json!({ "deep": nested(31) });
    let ok = server.patch(path, &json!({ "config": at_bound }));
    assert_eq!(ok.status, 200, "{ok:?}");
    server.stop();
    let server = Server::start(&dir, false);
    let inst = server.get(path);
    assert_eq!(inst.status, 200, "{inst:?}");
    assert_eq!(inst.body["config"], at_bound);
    let reply = server.text("x", "o-1", "1", "config");
    assert!(
        reply.reply_text().is_some_and(|t| t.contains("deep")),
        "{reply:?}"
    );
}

#[test]
fn oversized_uploads_and_manifests_are_413_and_nothing_is_registered() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let before = plugin_count(&server);
    let manifest = probe_manifest("big", &[], 32, 500);

    // A component just past the 64 MiB upload limit proves what a 200 MB one would: 413.
    let (ctype, body) = multipart(
        vec![Piece::Bytes(manifest.clone().into_bytes())],
        vec![Piece::Repeat(0, (64 << 20) + 1)],
    );
    let (status, answer) = post_streamed(&server, "/api/v1/plugins", &ctype, body);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (413, Some("too_large")),
        "{answer}"
    );

    // A 60 MB description: refused as soon as the manifest part passes its bound.
    let head = "name = \"big\"\nversion = \"0.1.0\"\napi = \"^0.2\"\ndescription = \"";
    let (ctype, body) = multipart(
        vec![
            Piece::Bytes(head.as_bytes().to_vec()),
            Piece::Repeat(b'd', 60_000_000),
            Piece::Bytes(b"\"\n".to_vec()),
        ],
        vec![Piece::Bytes(probe_wasm())],
    );
    let (status, answer) = post_streamed(&server, "/api/v1/plugins", &ctype, body);
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (413, Some("too_large")),
        "{answer}"
    );
    assert!(
        answer["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("manifest")),
        "{answer}"
    );

    // A description past its own bound in a small manifest is named.
    let long = manifest.replace("probe fixture", &"d".repeat(3000));
    let a = server.upload(&long, &probe_wasm());
    assert_eq!((a.status, a.error_code()), (413, "too_large"), "{a:?}");
    assert!(a.error_message().contains("description"), "{a:?}");

    assert_eq!(plugin_count(&server), before, "nothing was registered");
    assert_eq!(server.get("/api/v1/plugins/big").status, 404);
    // The server is still answering normally.
    assert_eq!(
        server
            .upload(&probe_manifest("small", &[], 32, 500), &probe_wasm())
            .status,
        201
    );
}

#[test]
fn inbound_fields_are_bounded_and_a_huge_scene_is_not_stored() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    let inbound = "/api/v1/accounts/x/inbound";

    let scene = "s".repeat(1_000_000);
    let a = server.post(
        inbound,
        &json!({ "msg_type": "event", "event": "subscribe", "from": "o-1", "event_key": scene }),
    );
    assert_eq!(
        (a.status, a.error_code()),
        (413, "too_large"),
        "{:?}",
        a.status
    );
    assert!(a.error_message().contains("event_key"), "{a:?}");
    assert_eq!(server.get("/api/v1/accounts/x/followers/o-1").status, 404);

    for (field, msg) in [
        (
            "media_id",
            json!({ "msg_id": "1", "from": "o-2", "msg_type": "image", "media_id": "m".repeat(257) }),
        ),
        (
            "url",
            json!({ "msg_id": "2", "from": "o-2", "msg_type": "link", "title": "t", "url": "u".repeat(2049) }),
        ),
        (
            "title",
            json!({ "msg_id": "3", "from": "o-2", "msg_type": "link", "title": "t".repeat(257), "url": "u" }),
        ),
        (
            "description",
            json!({ "msg_id": "4", "from": "o-2", "msg_type": "link", "title": "t", "url": "u", "description": "d".repeat(1025) }),
        ),
        (
            "label",
            json!({ "msg_id": "5", "from": "o-2", "msg_type": "location", "latitude": 1.0, "longitude": 2.0, "label": "l".repeat(257) }),
        ),
        (
            "event_key",
            json!({ "from": "o-2", "msg_type": "event", "event": "click", "event_key": "k".repeat(257) }),
        ),
    ] {
        let a = server.post(inbound, &msg);
        assert_eq!(
            (a.status, a.error_code()),
            (413, "too_large"),
            "{field}: {a:?}"
        );
        assert!(a.error_message().contains(field), "{field}: {a:?}");
    }
    assert_eq!(server.get("/api/v1/accounts/x/followers/o-2").status, 404);
    // At the bounds, accepted.
    let ok = server.post(
        inbound,
        &json!({ "msg_type": "event", "event": "subscribe", "from": "o-3", "event_key": "s".repeat(256) }),
    );
    assert_eq!(ok.status, 200, "{ok:?}");
}

#[test]
fn inbound_refusals_are_identical_whether_or_not_the_account_exists() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let x = server.create_account("x", "service", true);
    let x_key = x.body["ingress_key"].as_str().expect("key").to_string();
    server.create_account("y", "service", true);
    let good = br#"{"msg_id":"1","from":"o-1","msg_type":"text","content":"hi"}"#;
    let json_type = ("Content-Type", "application/json");

    let refusals = [
        // unknown account, bad token
        request(
            &server,
            "POST",
            "/api/v1/accounts/nope/inbound",
            &[("Authorization", "Bearer wrong"), json_type],
            good,
        ),
        // known account, bad token
        request(
            &server,
            "POST",
            "/api/v1/accounts/x/inbound",
            &[("Authorization", "Bearer wrong"), json_type],
            good,
        ),
        // known account, no token, malformed body: authentication comes before parsing
        request(
            &server,
            "POST",
            "/api/v1/accounts/x/inbound",
            &[json_type],
            b"{\"from\":",
        ),
        // unknown account, no token, malformed body
        request(
            &server,
            "POST",
            "/api/v1/accounts/nope/inbound",
            &[json_type],
            b"{\"from\":",
        ),
        // known account, no token, no content type
        request(&server, "POST", "/api/v1/accounts/x/inbound", &[], good),
        // another account's ingress key, on an existing and on an unknown account
        request(
            &server,
            "POST",
            "/api/v1/accounts/y/inbound",
            &[("X-Plaza-Ingress-Key", &x_key), json_type],
            good,
        ),
        request(
            &server,
            "POST",
            "/api/v1/accounts/nope/inbound",
            &[("X-Plaza-Ingress-Key", &x_key), json_type],
            good,
        ),
    ];
    let first = &refusals[0];
    assert_eq!(
        (first.status, first.code()),
        (401, "unauthorized"),
        "{:?}",
        first.body
    );
    for (i, r) in refusals.iter().enumerate() {
        assert_eq!(r.status, 401, "case {i}: {:?}", r.body);
        assert_eq!(r.body, first.body, "case {i} differs");
    }
    // Nothing was recorded by any of them.
    for account in ["x", "y"] {
        let f = server.get(&format!("/api/v1/accounts/{account}/followers"));
        assert_eq!(
            f.body["followers"].as_array().map(Vec::len),
            Some(0),
            "{f:?}"
        );
    }
    // The right key still works, and the admin learns that an account does not exist.
    let ok = request(
        &server,
        "POST",
        "/api/v1/accounts/x/inbound",
        &[("X-Plaza-Ingress-Key", &x_key), json_type],
        good,
    );
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let admin = request(
        &server,
        "POST",
        "/api/v1/accounts/nope/inbound",
        &[ADMIN, json_type],
        good,
    );
    assert_eq!((admin.status, admin.code()), (404, "not_found"));
}

#[test]
fn control_characters_are_refused_in_identifiers_and_escaped_in_plugin_logs() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);

    // Openids: newline, ESC, NUL, a bidi override.
    for (i, openid) in [
        "o-1\nfake",
        "o-\u{1b}[2J",
        "o-\0",
        "o-\u{202e}1",
        "o-\u{2066}",
    ]
    .into_iter()
    .enumerate()
    {
        let a = server.text("x", openid, &format!("c{i}"), "hi");
        assert_eq!(
            (a.status, a.error_code()),
            (400, "invalid"),
            "{openid:?}: {a:?}"
        );
        assert!(a.error_message().contains("openid"), "{a:?}");
    }
    let followers = server.get("/api/v1/accounts/x/followers");
    assert_eq!(
        followers.body["followers"].as_array().map(Vec::len),
        Some(0)
    );

    // Account names.
    for name in ["Cafe\u{202e}efaC", "Cafe\n[admin]", "Cafe\u{7f}"] {
        let a = server.post(
            "/api/v1/accounts",
            &json!({ "id": "cafe", "kind": "service", "name": name }),
        );
        assert_eq!(
            (a.status, a.error_code()),
            (400, "invalid"),
            "{name:?}: {a:?}"
        );
    }
    assert_eq!(server.get("/api/v1/accounts/cafe").status, 404);
    assert_eq!(
        server
            .post(
                "/api/v1/accounts",
                &json!({ "id": "cafe", "kind": "service", "name": "Café 街角" })
            )
            .status,
        201
    );

    // Template content keeps newlines and tabs; other controls are refused, as in titles.
    let templates = "/api/v1/accounts/x/templates";
    for (title, content) in [
        ("Paid", "Order {{o.DATA}}\u{1b}[31m"),
        ("Paid", "Order {{o.DATA}}\r\n"),
        ("Paid", "Order \u{202e}{{o.DATA}}"),
        ("Paid\n", "Order {{o.DATA}}"),
    ] {
        let a = server.post(templates, &json!({ "title": title, "content": content }));
        assert_eq!(
            (a.status, a.error_code()),
            (400, "invalid"),
            "{content:?}: {a:?}"
        );
    }
    assert_eq!(
        server.get(templates).body["templates"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let ok = server.post(
        templates,
        &json!({ "title": "Paid", "content": "Order {{o.DATA}}\n\tThanks" }),
    );
    assert_eq!(ok.status, 201, "{ok:?}");

    // A plugin's log line cannot forge another line or reach the terminal as an escape.
    install_probe(&server, "x", "probe", &[]);
    let forged = "log \u{1b}[31mred\u{1b}[0m\n2099-01-01T00:00:00Z ERROR plaza: forged";
    let a = server.text("x", "o-log", "l1", forged);
    assert_eq!(a.reply_text(), Some("logged"), "{a:?}");
    let log = std::fs::read_to_string(dir.with_extension("log")).expect("server log");
    // (The host's own log may be coloured; the plugin's escape sequences must not get through.)
    assert!(
        !log.contains("\u{1b}[31mred"),
        "the plugin's raw ESC in the log"
    );
    assert!(
        !log.lines()
            .any(|l| l.starts_with("2099-01-01T00:00:00Z ERROR")),
        "a forged line: {log}"
    );
    let line = log
        .lines()
        .find(|l| l.contains("forged"))
        .unwrap_or_else(|| panic!("the plugin's line is logged: {log}"));
    assert!(
        line.contains(r"\u{1b}[31mred\u{1b}[0m\n2099-01-01T00:00:00Z ERROR plaza: forged"),
        "{line}"
    );
}

#[test]
fn credential_headers_never_reach_a_plugin_and_the_bearer_scheme_is_case_insensitive() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let x = server.create_account("x", "service", true);
    let key = x.body["ingress_key"].as_str().expect("key").to_string();
    install_probe(&server, "x", "probe", &["http.routes"]);

    let seen = request(
        &server,
        "GET",
        "/p/x/probe/headers",
        &[
            ("Authorization", "Bearer test-admin-token"),
            ("Proxy-Authorization", "Basic dXNlcjpwYXNz"),
            ("Cookie", "session=secret"),
            ("X-Plaza-Ingress-Key", &key),
            ("X-Shop-Signature", "sha256=abc"),
        ],
        b"",
    );
    assert_eq!(seen.status, 200, "{:?}", seen.body);
    let names: Vec<&str> = seen.text().lines().collect();
    assert!(names.contains(&"x-shop-signature"), "{names:?}");
    for secret in [
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-plaza-ingress-key",
    ] {
        assert!(
            !names.contains(&secret),
            "{secret} reached the plugin: {names:?}"
        );
    }

    // `bearer` in any case is the admin token, for the admin API and for plugin routes.
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let auth = format!("{scheme} {TOKEN}");
        let a = request(
            &server,
            "GET",
            "/api/v1/accounts",
            &[("Authorization", &auth)],
            b"",
        );
        assert_eq!(a.status, 200, "{scheme}: {:?}", a.body);
        let who = request(
            &server,
            "GET",
            "/p/x/probe/whoami",
            &[("Authorization", &auth)],
            b"",
        );
        assert!(
            who.text().contains("operator=true"),
            "{scheme}: {:?}",
            who.body
        );
    }
    let who = request(
        &server,
        "GET",
        "/p/x/probe/whoami",
        &[("Authorization", "bearer wrong")],
        b"",
    );
    assert!(who.text().contains("operator=false"), "{:?}", who.body);
    let a = request(
        &server,
        "GET",
        "/api/v1/accounts",
        &[("Authorization", "Basic abc")],
        b"",
    );
    assert_eq!(a.status, 401);
}

#[test]
fn an_install_names_the_capabilities_it_did_not_grant() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    let up = server.upload(
        &probe_manifest(
            "p1",
            &["storage", "http.routes", "topics.subscribe:shop.*"],
            32,
            500,
        ),
        &probe_wasm(),
    );
    assert_eq!(up.status, 201, "{up:?}");
    let partial = server.install("x", json!({ "plugin": "p1", "grants": ["storage"] }));
    assert_eq!(partial.status, 201, "{partial:?}");
    assert_eq!(
        partial.body["ungranted"],
        json!(["http.routes", "topics.subscribe:shop.*"]),
        "{partial:?}"
    );
    // Granting everything leaves nothing to warn about.
    let full = server.patch(
        "/api/v1/accounts/x/installations/p1",
        &json!({ "grants": ["storage", "http.routes", "topics.subscribe:shop.*"] }),
    );
    assert_eq!(full.status, 200, "{full:?}");
    let up = server.upload(&probe_manifest("p2", &["storage"], 32, 500), &probe_wasm());
    assert_eq!(up.status, 201);
    let all = server.install("x", json!({ "plugin": "p2", "grants": ["storage"] }));
    assert_eq!(all.body["ungranted"], json!([]), "{all:?}");
}
