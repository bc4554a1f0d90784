//! One error shape everywhere: every rejection the HTTP surface gives — bad query strings, bad
//! path segments, unknown methods, oversized bodies, plugin-route failures — is
//! `{"error":{"code","message"}}` with a matching status, never axum's plain text.

mod common;

use common::{ADMIN, request};
use plaza_tests::*;
use serde_json::json;

#[test]
fn query_path_and_method_rejections_are_typed_json() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);

    // A query parameter of the wrong type, on each kind of listing that takes one.
    for path in [
        "/api/v1/accounts/x/broadcasts?limit=abc",
        "/api/v1/accounts/x/followers?limit=-1",
        "/api/v1/accounts/x/reviews?limit=many",
        "/api/v1/accounts/x/followers/o-1/messages?limit=1e3",
        "/api/v1/accounts/x/installations/p?purge=perhaps",
        "/api/v1/accounts/x/broadcasts/b/recipients?status=lost",
    ] {
        let method = if path.contains("purge") {
            "DELETE"
        } else {
            "GET"
        };
        let a = request(&server, method, path, &[ADMIN], b"");
        assert_eq!(
            (a.status, a.code()),
            (400, "invalid"),
            "{path}: {:?}",
            a.body
        );
        assert!(a.is_typed_error(), "{path}: {:?}", a.body);
        assert!(
            a.message().starts_with("query string"),
            "{path}: {:?}",
            a.body
        );
    }
    // …and one the handler checks itself, the same shape.
    let a = request(
        &server,
        "GET",
        "/api/v1/accounts/x/events?limit=abc",
        &[ADMIN],
        b"",
    );
    assert_eq!((a.status, a.code()), (400, "invalid"), "{:?}", a.body);

    // A path segment that is not UTF-8 once percent-decoded.
    for path in [
        "/api/v1/accounts/%FF",
        "/api/v1/accounts/x/installations/%C3%28",
        "/p/%FF/probe/whoami",
    ] {
        let a = request(&server, "GET", path, &[ADMIN], b"");
        assert_eq!(
            (a.status, a.code()),
            (400, "invalid"),
            "{path}: {:?}",
            a.body
        );
        assert!(a.message().starts_with("path"), "{path}: {:?}", a.body);
        assert!(a.is_typed_error(), "{path}: {:?}", a.body);
    }

    // A known route asked with a method it does not serve: 405, the typed body, and `Allow`.
    for (method, path, allowed) in [
        ("DELETE", "/api/v1/accounts", "GET,POST"),
        ("PUT", "/api/v1/system", "GET"),
        ("GET", "/api/v1/accounts/x/inbound", "POST"),
        ("POST", "/api/v1/accounts/x/installations/p/errors", "GET"),
    ] {
        let a = request(&server, method, path, &[ADMIN], b"");
        assert_eq!(
            (a.status, a.code()),
            (405, "method_not_allowed"),
            "{method} {path}: {:?}",
            a.body
        );
        assert!(a.is_typed_error(), "{:?}", a.body);
        let allow: Vec<String> = a
            .header("allow")
            .unwrap_or_default()
            .split(',')
            .map(|m| m.trim().to_string())
            .collect();
        for m in allowed.split(',') {
            assert!(
                allow.iter().any(|a| a == m),
                "{method} {path}: Allow {allow:?}"
            );
        }
    }

    // Unknown routes were already typed; they still are.
    let a = request(&server, "GET", "/api/v1/nothing/here", &[ADMIN], b"");
    assert_eq!((a.status, a.code()), (404, "not_found"));
    let a = request(&server, "GET", "/nothing", &[], b"");
    assert_eq!((a.status, a.code()), (404, "not_found"));

    // Multipart without a boundary, and JSON without its content type.
    let a = request(
        &server,
        "POST",
        "/api/v1/plugins",
        &[ADMIN, ("Content-Type", "application/json")],
        b"{}",
    );
    assert_eq!((a.status, a.code()), (400, "invalid"), "{:?}", a.body);
    assert!(a.is_typed_error());
    let a = request(
        &server,
        "POST",
        "/api/v1/accounts",
        &[ADMIN, ("Content-Type", "text/plain")],
        br#"{"id":"y","kind":"service"}"#,
    );
    assert_eq!((a.status, a.code()), (400, "invalid"), "{:?}", a.body);
}

#[test]
fn plugin_route_failures_are_typed_json_in_snake_case() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("x", "service", true);
    install_probe(&server, "x", "probe", &["http.routes"]);

    // A body past the host's cap never reaches the plugin: 413, typed.
    let big = vec![b'a'; (1 << 20) + 1];
    let a = request(&server, "POST", "/p/x/probe/whoami", &[], &big);
    assert_eq!((a.status, a.code()), (413, "too_large"), "{:?}", a.body);
    assert!(a.is_typed_error());

    // No such plugin on the account.
    let a = request(&server, "GET", "/p/x/nobody/whoami", &[], b"");
    assert_eq!((a.status, a.code()), (404, "not_found"));
    assert!(a.is_typed_error());

    // The plugin's own answer passes through untouched (its 405 is its own business).
    let a = request(&server, "POST", "/p/x/probe/whoami", &[], b"");
    assert_eq!(a.status, 405);
    assert_eq!(a.body, json!("method not allowed"));

    // A plugin that fails on its route: 502 with `plugin_trap`, snake_case like every code.
    let a = request(&server, "GET", "/p/x/probe/panic", &[], b"");
    assert_eq!((a.status, a.code()), (502, "plugin_trap"), "{:?}", a.body);
    assert!(a.is_typed_error());

    // The codes a plugin sees from the host are snake_case too (the probe replies
    // `error:<code>:<message>` with the SDK's code): installed without grants, every call fails.
    install_probe(&server, "x", "bare", &[]);
    for (i, cmd) in ["@bare get k", "@bare send hi"].into_iter().enumerate() {
        let a = server.text("x", "o-1", &format!("m{i}"), cmd);
        let reply = a.reply_text().unwrap_or_default();
        assert!(
            reply.starts_with("error:permission_denied:"),
            "{cmd}: {a:?}"
        );
    }
}
