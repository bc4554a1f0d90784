//! Plugins built against `plaza:platform@0.1.0` before the host learnt 0.2.0 (the frozen
//! components in `tests/fixtures/v0.1/`) install and behave as before, next to 0.2 plugins on the
//! same account, through the real binary.

use std::path::Path;

use plaza_tests::*;
use serde_json::json;

/// A frozen 0.1 component and its manifest as shipped.
fn v0_1(manifest: &str, wasm: &str) -> (String, Vec<u8>) {
    let dir = Path::new(WORKSPACE_DIR).join("tests/fixtures/v0.1");
    (
        std::fs::read_to_string(dir.join(manifest)).expect("manifest"),
        std::fs::read(dir.join(wasm)).expect("component"),
    )
}

/// The frozen probe under `name` (its manifest, renamed), requesting `caps`.
fn old_probe_manifest(name: &str, caps: &[&str]) -> String {
    let caps: Vec<String> = caps.iter().map(|c| format!("{c:?}")).collect();
    format!(
        "name = {name:?}\nversion = \"0.1.0\"\napi = \"^0.1\"\ncapabilities = [{}]\n",
        caps.join(", ")
    )
}

fn setup() -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("mix", "service", true);
    (tmp, server)
}

#[test]
fn system_lists_both_api_versions() {
    let (_tmp, server) = setup();
    let system = server.get("/api/v1/system");
    assert_eq!(system.status, 200, "{system:?}");
    assert_eq!(system.body["api_versions"], json!(["0.2.0", "0.1.0"]));
}

#[test]
fn old_auto_reply_and_probe_run_unchanged_next_to_a_new_probe() {
    let (_tmp, server) = setup();
    // The frozen auto-reply 0.1.0 under another name, so the bundled (0.2) one does not clash.
    let (manifest, wasm) = v0_1("auto-reply.toml", "auto_reply.wasm");
    let manifest = manifest.replace("name = \"auto-reply\"", "name = \"old-auto-reply\"");
    let up = server.upload(&manifest, &wasm);
    assert_eq!(up.status, 201, "{up:?}");
    let inst = server.install(
        "mix",
        json!({
            "plugin": "old-auto-reply",
            "priority": -10,
            "config": { "rules": [{ "keyword": "hello", "match": "exact", "reply": "Hi from 0.1" }],
                        "follow_reply": "Welcome (0.1)" },
            "grants": ["storage", "http.routes"]
        }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");

    let (_, old_probe) = v0_1("probe.toml", "probe.wasm");
    let caps = ["storage", "followers.read", "http.routes"];
    let up = server.upload(&old_probe_manifest("probe-old", &caps), &old_probe);
    assert_eq!(up.status, 201, "{up:?}");
    let inst = server.install("mix", json!({ "plugin": "probe-old", "grants": caps }));
    assert_eq!(inst.status, 201, "{inst:?}");
    install_probe_with(
        &server,
        "mix",
        "probe-new",
        &["query:probe-old"],
        &["storage", "followers.read", "query:probe-old"],
    );

    // The old auto-reply answers its keyword and the follow event as it always did.
    assert_eq!(
        server.event("mix", "fan", "subscribe").reply_text(),
        Some("probe-welcome"),
        "the probes (priority 0) answer subscribe first"
    );
    assert_eq!(
        server.text("mix", "fan", "1", "hello").reply_text(),
        Some("probe:hello"),
        "a probe is asked before the lower-priority auto-reply"
    );
    let plugins = server.get("/api/v1/accounts/mix/installations");
    assert_eq!(plugins.status, 200, "{plugins:?}");

    // Each probe keeps its own storage; the old one reads and writes through the 0.1 imports.
    assert_eq!(
        server
            .text("mix", "fan", "2", "@probe-old set k old")
            .reply_text(),
        Some("ok")
    );
    assert_eq!(
        server
            .text("mix", "fan", "3", "@probe-new set k new")
            .reply_text(),
        Some("ok")
    );
    assert_eq!(
        server
            .text("mix", "fan", "4", "@probe-old get k")
            .reply_text(),
        Some("old")
    );
    assert_eq!(
        server
            .text("mix", "fan", "5", "@probe-new get k")
            .reply_text(),
        Some("new")
    );
    assert_eq!(
        server
            .text("mix", "fan", "6", "@probe-old whoami")
            .reply_text(),
        Some("mix/probe-old@0.1.0")
    );
    assert_eq!(
        server
            .text("mix", "fan", "7", "@probe-old follower")
            .reply_text(),
        Some("follower:fan tags= attributes=")
    );
    // Denied as before without the grant.
    let denied = server.text("mix", "fan", "8", "@probe-old send hi");
    assert!(
        denied
            .reply_text()
            .is_some_and(|t| t.starts_with("error:permission_denied:")),
        "{denied:?}"
    );
    // A 0.1 plugin answers no queries: the 0.2 probe hears a typed not-found.
    let asked = server.text("mix", "fan", "9", "@probe-new query probe-old echo hi");
    assert!(
        asked
            .reply_text()
            .is_some_and(|t| t.starts_with("error:not_found:") && t.contains("0.1.0")),
        "{asked:?}"
    );
    // Disable the probes: the old auto-reply answers.
    for p in ["probe-old", "probe-new"] {
        let off = server.patch(
            &format!("/api/v1/accounts/mix/installations/{p}"),
            &json!({ "enabled": false }),
        );
        assert_eq!(off.status, 200, "{off:?}");
    }
    assert_eq!(
        server.text("mix", "fan", "10", "hello").reply_text(),
        Some("Hi from 0.1")
    );
    // Its own routes (0.1 `on-http`) still serve.
    let rules = server.get("/p/mix/old-auto-reply/rules");
    assert_eq!(rules.status, 200, "{rules:?}");
}

#[test]
fn an_old_reviewer_reviews_new_content_and_a_manifest_must_match_its_component() {
    let (_tmp, server) = setup();
    let (_, old_probe) = v0_1("probe.toml", "probe.wasm");
    let caps = ["review.outbound"];
    let up = server.upload(&old_probe_manifest("censor", &caps), &old_probe);
    assert_eq!(up.status, 201, "{up:?}");
    let inst = server.install(
        "mix",
        json!({ "plugin": "censor", "priority": -5, "grants": caps,
                "config": { "mask_words": ["secret"] } }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    install_probe(&server, "mix", "talker", &[]);
    // A 0.2 plugin's reply is reviewed by the 0.1 reviewer (masked), through the conversion.
    assert_eq!(
        server
            .text("mix", "fan", "1", "@talker the secret")
            .reply_text(),
        Some("probe:the ***"),
    );

    // The manifest's api range must cover what the component was built against, both ways.
    let wrong = server.upload(
        &old_probe_manifest("x", &[]).replace("^0.1", "^0.2"),
        &old_probe,
    );
    assert_eq!(wrong.status, 400, "{wrong:?}");
    assert!(
        wrong.error_message().contains("plaza:platform@0.1.0"),
        "{wrong:?}"
    );
    let wrong = server.upload(&old_probe_manifest("y", &[]), &probe_wasm());
    assert_eq!(wrong.status, 400, "{wrong:?}");
    assert!(
        wrong.error_message().contains("plaza:platform@0.2.0"),
        "{wrong:?}"
    );
}
