//! API 0.2 through the real binary and the real probe component: plugin-to-plugin queries
//! (granted per target, inside the caller's deadline, depth-limited, no cycles), atomic storage
//! batches, the tag registry and profile writes, and mini-program / article-link content.

use plaza_tests::*;
use serde_json::json;

fn setup() -> (tempfile::TempDir, Server) {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("acct", "service", true);
    (tmp, server)
}

/// The probe's reply to `text` sent to `plugin` by follower `fan`.
fn ask(server: &Server, plugin: &str, id: &str, text: &str) -> String {
    let answer = server.text("acct", "fan", id, &format!("@{plugin} {text}"));
    answer
        .reply_text()
        .unwrap_or_else(|| panic!("no text reply to {text:?}: {answer:?}"))
        .to_string()
}

#[test]
fn a_query_is_answered_refused_without_its_grant_and_cycles_and_deep_chains_are_refused() {
    let (_tmp, server) = setup();
    // a may ask b; b may ask c and a; c may ask d; d may ask e; e asks nobody. Each answer gets
    // at most half of the asker's time left, so the first asker gets a long deadline: the last in
    // the chain still has a second, however slow the machine.
    let chain: [(&str, &[&str]); 5] = [
        ("a", &["query:b"]),
        ("b", &["query:c", "query:a"]),
        ("c", &["query:d"]),
        ("d", &["query:e"]),
        ("e", &[]),
    ];
    for (name, caps) in chain {
        let up = server.upload(&probe_manifest(name, caps, 32, 16_000), &probe_wasm());
        assert_eq!(up.status, 201, "{up:?}");
        let inst = server.install("acct", json!({ "plugin": name, "grants": caps }));
        assert_eq!(inst.status, 201, "{inst:?}");
    }

    // Answered, and the answering plugin learns who asked.
    assert_eq!(ask(&server, "a", "1", "query b echo hello"), "answer:hello");
    assert_eq!(ask(&server, "a", "2", "query b caller"), "answer:a");
    // Not granted: a may not ask c.
    let denied = ask(&server, "a", "3", "query c echo hi");
    assert!(
        denied.starts_with("error:permission_denied:") && denied.contains("query:c"),
        "{denied}"
    );
    // Unknown question: the target's own typed error comes back.
    let unknown = ask(&server, "a", "4", "query b nonsense x");
    assert!(unknown.starts_with("error:not_found:"), "{unknown}");
    // A chain within the depth: a → b → c → d.
    assert_eq!(
        ask(&server, "a", "5", "query b ask c ask d echo deep"),
        "answer:deep"
    );
    // One more is too deep: a → b → c → d → e.
    let deep = ask(&server, "a", "6", "query b ask c ask d ask e echo x");
    assert!(
        deep.starts_with("error:invalid:") && deep.contains("too deep"),
        "{deep}"
    );
    // A cycle: a → b → a.
    let cycle = ask(&server, "a", "7", "query b ask a echo x");
    assert!(
        cycle.starts_with("error:invalid:") && cycle.contains("cycle"),
        "{cycle}"
    );
    // A disabled target is not found.
    let off = server.patch(
        "/api/v1/accounts/acct/installations/b",
        &json!({ "enabled": false }),
    );
    assert_eq!(off.status, 200, "{off:?}");
    let gone = ask(&server, "a", "8", "query b echo hi");
    assert!(gone.starts_with("error:not_found:"), "{gone}");
}

#[test]
fn a_question_that_never_returns_is_cut_with_time_left_for_the_asker() {
    let (_tmp, server) = setup();
    let asker = probe_manifest("asker", &["query:spinner"], 32, 2000);
    assert_eq!(server.upload(&asker, &probe_wasm()).status, 201);
    let inst = server.install(
        "acct",
        json!({ "plugin": "asker", "grants": ["query:spinner"] }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    install_probe(&server, "acct", "spinner", &[]);
    // The spinner's `on-query` spins forever; it gets at most half of the asker's time left, so
    // the asker hears a typed error and still answers the follower.
    let reply = ask(&server, "asker", "1", "query spinner spin");
    assert!(
        reply.starts_with("error:unavailable:") && reply.contains("did not answer"),
        "{reply}"
    );
    let errors = server.errors("acct", "spinner");
    assert!(
        errors
            .iter()
            .any(|e| e["kind"] == "timeout" && e["call"] == "on-query"),
        "{errors:?}"
    );
}

#[test]
fn batches_apply_all_or_nothing() {
    let (_tmp, server) = setup();
    install_probe(&server, "acct", "shop", &["storage"]);
    assert_eq!(ask(&server, "shop", "1", "incr stock 2"), "2");
    let redeem = "batch atleast:stock=1 absent:redeemed:fan | incr:stock=-1 set:redeemed:fan=1";
    assert_eq!(ask(&server, "shop", "2", redeem), "batch:applied");
    // The same follower again: check 1 (absent) fails, nothing is written.
    assert_eq!(ask(&server, "shop", "3", redeem), "batch:failed:1");
    assert_eq!(ask(&server, "shop", "4", "get stock"), "1");
    let other = "batch atleast:stock=1 absent:redeemed:x | incr:stock=-1 set:redeemed:x=1";
    assert_eq!(ask(&server, "shop", "5", other), "batch:applied");
    let empty = "batch atleast:stock=1 absent:redeemed:y | incr:stock=-1 set:redeemed:y=1";
    assert_eq!(ask(&server, "shop", "6", empty), "batch:failed:0");
    assert_eq!(ask(&server, "shop", "7", "get stock"), "0");
    assert_eq!(ask(&server, "shop", "8", "get redeemed:y"), "<none>");
}

#[test]
fn tags_profiles_and_rich_content() {
    let (_tmp, server) = setup();
    install_probe_with(
        &server,
        "acct",
        "crm",
        &["followers.write", "tags.manage"],
        &["followers.read", "followers.write", "tags.manage"],
    );
    assert_eq!(ask(&server, "crm", "1", "mktag gold"), "tag:gold");
    let again = ask(&server, "crm", "2", "mktag gold");
    assert!(again.starts_with("error:conflict:"), "{again}");
    assert_eq!(ask(&server, "crm", "3", "tag gold"), "tagged");
    assert_eq!(ask(&server, "crm", "4", "tags"), "tags:gold=1");
    assert_eq!(
        ask(&server, "crm", "5", "profile region Shanghai"),
        "profile:/Shanghai//"
    );
    assert_eq!(ask(&server, "crm", "6", "attr level 2"), "ok");
    assert_eq!(ask(&server, "crm", "7", "rmattr level"), "removed:true");
    assert_eq!(ask(&server, "crm", "8", "rmattr level"), "removed:false");
    assert!(ask(&server, "crm", "9", "counters").contains("messages="));
    let follower = server.get("/api/v1/accounts/acct/followers/fan");
    assert_eq!(follower.body["region"], "Shanghai", "{follower:?}");
    assert_eq!(follower.body["tags"], json!(["gold"]));

    // Rich replies reach the follower's outbox in their own shape.
    let mini = server.text(
        "acct",
        "fan",
        "10",
        "mini wx0123456789abcdef /pages/card Card thumb1",
    );
    assert_eq!(mini.body["reply"]["msg_type"], "mini_program", "{mini:?}");
    assert_eq!(mini.body["reply"]["appid"], "wx0123456789abcdef");
    let link = server.text("acct", "fan", "11", "article Hello https://example.com/a");
    assert_eq!(link.body["reply"]["msg_type"], "article_link", "{link:?}");
    assert_eq!(link.body["reply"]["url"], "https://example.com/a");
    // The follower's outbox shows the article link as a link to open.
    let outbox = server.outbox("acct", "fan");
    assert!(
        outbox
            .iter()
            .any(|m| m["links"][0]["url"] == "https://example.com/a"
                && m["links"][0]["title"] == "Hello"),
        "{outbox:?}"
    );
}
