//! The developer-server channel end to end: a bot written with wechatpy 1.8.18
//! (`tests/python/dev_server.py`) attached to a Plaza account, in plain, compatible and secure
//! mode; its place among the account's plugins by priority; WeChat's retries with the identical
//! body; and a bot that fails, hangs or answers garbage costing the follower nothing but its turn.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use plaza_tests::python::python;
use plaza_tests::*;
use serde_json::{Value, json};

const BOT_TOKEN: &str = "botToken42";
const BOT_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

/// `tests/python/dev_server.py` running on a free loopback port. Killed on drop.
struct Bot {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Bot {
    /// Starts the bot with the token, and in encrypted modes the key and the account's AppID.
    fn start(dir: &Path, name: &str, appid: Option<&str>, extra: &[&str]) -> Bot {
        let log = dir.join(format!("{name}.jsonl"));
        let mut cmd = Command::new(python());
        // This crate's own copy (not `WORKSPACE_DIR`, which names the tree plaza-host was built in).
        cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("python/dev_server.py"))
            .args(["--token", BOT_TOKEN, "--log"])
            .arg(&log)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join(format!("{name}.stderr"))).expect("bot stderr"),
            ));
        if let Some(appid) = appid {
            cmd.args(["--key", BOT_KEY, "--appid", appid]);
        }
        let mut child = cmd.spawn().expect("spawn dev_server.py");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("bot stdout"))
            .read_line(&mut first)
            .expect("bot port line");
        let port = first.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            let err =
                std::fs::read_to_string(dir.join(format!("{name}.stderr"))).unwrap_or_default();
            panic!("dev_server.py did not print its port ({first:?}):\n{err}")
        });
        Bot { child, port, log }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/wechat", self.port)
    }

    /// Every request the bot saw, in order.
    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("bot log line"))
            .collect()
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn path(account: &str) -> String {
    format!("/api/v1/accounts/{account}/developer-server")
}

fn put(server: &Server, account: &str, body: &Value) -> Answer {
    server.put_raw(&path(account), Some(TOKEN), body.to_string().as_bytes())
}

/// Sets the account's developer server and returns the answer's view.
fn attach(server: &Server, account: &str, body: Value) -> Value {
    let a = put(server, account, &body);
    assert_eq!(a.status, 200, "{a:?}");
    a.body
}

/// The follower's newest outbox entry.
fn last_delivered(server: &Server, account: &str, openid: &str) -> Value {
    server
        .outbox(account, openid)
        .last()
        .cloned()
        .expect("an outbox entry")
}

#[test]
fn a_wechatpy_bot_answers_in_plain_compatible_and_secure_mode() {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "service", true);

    for (n, mode) in ["plain", "compatible", "secure"].into_iter().enumerate() {
        // The AppID the bot must be configured with comes from the setting itself; set it with a
        // placeholder URL first, then point it at the bot without repeating the secrets.
        let view = attach(
            &server,
            "shop",
            json!({ "url": "http://127.0.0.1:9/", "token": BOT_TOKEN,
                    "encoding_aes_key": BOT_KEY, "mode": mode, "priority": 5 }),
        );
        let appid = view["appid"].as_str().expect("appid").to_string();
        assert!(appid.starts_with("wx") && appid.len() == 18, "{view}");
        let original_id = view["original_id"]
            .as_str()
            .expect("original id")
            .to_string();
        let encrypted = mode != "plain";
        let bot = Bot::start(tmp.path(), mode, encrypted.then_some(appid.as_str()), &[]);
        let view = attach(
            &server,
            "shop",
            json!({ "url": bot.url(), "mode": mode, "priority": 5 }),
        );
        assert_eq!(view["token_set"], true, "{view}");
        assert_eq!(view["encoding_aes_key_set"], true, "{view}");
        assert_eq!(view["mode"], mode);
        assert_eq!(view["priority"], 5);

        let shown = server.get(&path("shop"));
        assert_eq!(shown.status, 200, "{shown:?}");
        let text = shown.body.to_string();
        assert!(
            !text.contains(BOT_TOKEN) && !text.contains(BOT_KEY),
            "secrets never come back: {text}"
        );
        assert_eq!(shown.body["url"], bot.url());

        let msg_id = format!("{}", 7_000_000 + n);
        let said = format!("hello in {mode} mode");
        let a = server.text("shop", "o-alice", &msg_id, &said);
        assert_eq!(a.status, 200, "{a:?}");
        assert_eq!(
            a.reply_text(),
            Some(format!("echo: {said}").as_str()),
            "{a:?}"
        );
        let entry = last_delivered(&server, "shop", "o-alice");
        assert_eq!(entry["plugin"], "developer-server", "{entry}");
        assert_eq!(entry["content"], format!("echo: {said}"), "{entry}");

        let seen = bot.requests();
        assert_eq!(seen.len(), 1, "{seen:?}");
        let push = &seen[0];
        assert_eq!(push["status"], 200, "{push}");
        assert_eq!(push["content_type"], "text/xml; charset=utf-8");
        let q = &push["query"];
        assert!(q["signature"].is_string(), "signature always: {q}");
        assert_eq!(q["openid"], "o-alice");
        assert_eq!(
            push["msg_id"].as_u64(),
            msg_id.parse::<u64>().ok(),
            "{push}"
        );
        let plain = push["plain"].as_str().expect("decrypted push");
        assert!(
            plain.contains(&said) && plain.contains(&original_id),
            "{plain}"
        );
        let body = push["body"].as_str().expect("body");
        if encrypted {
            assert_eq!(q["encrypt_type"], "aes", "{q}");
            assert!(q["msg_signature"].is_string(), "{q}");
            assert!(body.contains("<Encrypt>"), "{body}");
            assert_eq!(
                body.contains(&said),
                mode == "compatible",
                "compatible carries clear fields too, secure only ciphertext: {body}"
            );
        } else {
            assert!(q.get("encrypt_type").is_none() && q.get("msg_signature").is_none());
            assert!(!body.contains("<Encrypt>"), "{body}");
        }

        if mode == "secure" {
            // A subscribe: the bot answers an empty body, so there is no reply.
            let a = server.event("shop", "o-bob", "subscribe");
            assert_eq!(a.status, 200, "{a:?}");
            assert!(a.body["reply"].is_null(), "{a:?}");
            let seen = bot.requests();
            assert_eq!(seen.len(), 2, "{seen:?}");
            assert_eq!(seen[1]["type"], "event", "{seen:?}");
            assert!(server.outbox("shop", "o-bob").is_empty());
        }
    }
}

#[test]
fn settings_are_validated_shown_without_secrets_and_removed() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("shop", "subscription", false);

    let none = server.get(&path("shop"));
    assert_eq!(
        (none.status, none.error_code()),
        (404, "not_found"),
        "{none:?}"
    );
    let nobody = server.get(&path("ghost"));
    assert_eq!(nobody.status, 404, "{nobody:?}");

    for (body, needle) in [
        (json!({ "url": "ftp://x/", "token": "abc" }), "url"),
        (json!({ "url": "/relative", "token": "abc" }), "url"),
        (json!({ "url": "http://h/" }), "token is required"),
        (json!({ "url": "http://h/", "token": "ab" }), "token"),
        (json!({ "url": "http://h/", "token": "has-dash" }), "token"),
        (
            json!({ "url": "http://h/", "token": "abc", "mode": "secure" }),
            "encoding_aes_key",
        ),
        (
            json!({ "url": "http://h/", "token": "abc", "mode": "compatible", "encoding_aes_key": "short" }),
            "43",
        ),
        (
            json!({ "url": "http://h/", "token": "abc", "mode": "loud" }),
            "",
        ),
        (
            json!({ "url": "http://h/", "token": "abc", "priority": "high" }),
            "",
        ),
        (
            json!({ "url": "http://h/", "token": "abc", "token_set": true }),
            "",
        ),
    ] {
        let a = put(&server, "shop", &body);
        assert_eq!(
            (a.status, a.error_code()),
            (400, "invalid"),
            "{body}: {a:?}"
        );
        assert!(a.error_message().contains(needle), "{body}: {a:?}");
    }
    assert_eq!(server.get(&path("shop")).status, 404, "nothing stored");

    // The CLI: set, show, delete.
    let (code, out, err) = plaza(
        &server,
        &[
            "developer-server",
            "set",
            "shop",
            "--url",
            "http://127.0.0.1:9/wx",
            "--bot-token",
            BOT_TOKEN,
            "--encoding-aes-key",
            BOT_KEY,
            "--mode",
            "secure",
            "--priority",
            "-3",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let set: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(set["mode"], "secure");
    assert_eq!(set["priority"], -3);
    assert!(!out.contains(BOT_TOKEN) && !out.contains(BOT_KEY), "{out}");
    let (code, out, err) = plaza(&server, &["developer-server", "show", "shop"]);
    assert_eq!(code, 0, "{out}{err}");
    let shown: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(shown["appid"], set["appid"]);
    assert_eq!(shown["original_id"], set["original_id"]);
    assert_eq!(shown["token_set"], true);
    // Changing the mode keeps the stored token and key.
    let (code, out, err) = plaza(
        &server,
        &[
            "developer-server",
            "set",
            "shop",
            "--url",
            "https://bot.example.com/wx",
            "--mode",
            "compatible",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let changed: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(changed["mode"], "compatible");
    assert_eq!(changed["encoding_aes_key_set"], true);
    assert_eq!(changed["priority"], 0);

    let (code, out, err) = plaza(&server, &["developer-server", "delete", "shop"]);
    assert_eq!(code, 0, "{out}{err}");
    let (code, _, err) = plaza(&server, &["developer-server", "show", "shop"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("no developer server"), "{err}");
    let again = server.delete(&path("shop"));
    assert_eq!(again.status, 404, "{again:?}");

    // No plugin may take the developer server's name.
    let up = server.upload(
        &probe_manifest("developer-server", &["storage"], 32, 500),
        &probe_wasm(),
    );
    assert_eq!((up.status, up.error_code()), (400, "invalid"), "{up:?}");
}

#[test]
fn priority_places_the_developer_server_among_the_plugins() {
    let (tmp, dir) = data_dir();
    // `demo` has auto-reply (priority 0), which answers every text.
    let server = Server::start(&dir, true);
    let bot = Bot::start(tmp.path(), "bot", None, &[]);

    attach(
        &server,
        "demo",
        json!({ "url": bot.url(), "token": BOT_TOKEN, "priority": -1 }),
    );
    let a = server.text("demo", "o-carol", "1", "who answers?");
    assert_eq!(
        a.reply_text(),
        Some("Thanks for your message. Send hello or help."),
        "{a:?}"
    );
    assert_eq!(
        last_delivered(&server, "demo", "o-carol")["plugin"],
        "auto-reply"
    );
    assert!(bot.requests().is_empty(), "auto-reply answered first");

    attach(&server, "demo", json!({ "url": bot.url(), "priority": 1 }));
    let a = server.text("demo", "o-carol", "2", "who answers now?");
    assert_eq!(a.reply_text(), Some("echo: who answers now?"), "{a:?}");
    assert_eq!(
        last_delivered(&server, "demo", "o-carol")["plugin"],
        "developer-server"
    );
    assert_eq!(bot.requests().len(), 1);

    // Detached, the plugins answer again.
    assert_eq!(server.delete(&path("demo")).status, 204);
    let a = server.text("demo", "o-carol", "3", "and now?");
    assert_eq!(
        a.reply_text(),
        Some("Thanks for your message. Send hello or help.")
    );
    assert_eq!(bot.requests().len(), 1);
}

#[test]
fn failed_attempts_are_retried_with_the_identical_body() {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, true);
    server.create_account("shop", "service", true);
    let appid = attach(
        &server,
        "shop",
        json!({ "url": "http://127.0.0.1:9/", "token": BOT_TOKEN, "encoding_aes_key": BOT_KEY,
                "mode": "secure", "priority": 10 }),
    )["appid"]
        .as_str()
        .expect("appid")
        .to_string();
    let bot = Bot::start(tmp.path(), "flaky", Some(&appid), &["--fail-first", "2"]);
    attach(
        &server,
        "shop",
        json!({ "url": bot.url(), "mode": "secure", "priority": 10 }),
    );

    let a = server.text("shop", "o-dave", "424242", "third time lucky");
    assert_eq!(a.reply_text(), Some("echo: third time lucky"), "{a:?}");
    assert_eq!(
        last_delivered(&server, "shop", "o-dave")["plugin"],
        "developer-server"
    );
    let seen = bot.requests();
    let statuses: Vec<&Value> = seen.iter().map(|r| &r["status"]).collect();
    assert_eq!(
        statuses,
        [&json!(500), &json!(500), &json!(200)],
        "{seen:?}"
    );
    assert!(
        seen.iter().all(|r| r["body"] == seen[0]["body"]),
        "the identical body every attempt: {seen:?}"
    );
    assert_eq!(seen[2]["msg_id"], 424242, "{seen:?}");

    // Each attempt is in the account's event log.
    let log = server.get("/api/v1/accounts/shop/events?kinds=http_outbound");
    assert_eq!(log.status, 200, "{log:?}");
    let attempts: Vec<Value> = log.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["plugin"] == "developer-server")
        .cloned()
        .collect();
    assert_eq!(attempts.len(), 3, "{attempts:?}");
    let text = serde_json::to_string(&attempts).expect("json");
    assert!(
        !text.contains("signature="),
        "no query strings logged: {text}"
    );

    // A retry of the same message from the channel gets the same answer without a new push.
    let again = server.text("shop", "o-dave", "424242", "third time lucky");
    assert_eq!(again.reply_text(), Some("echo: third time lucky"));
    assert_eq!(bot.requests().len(), 3);
}

const DEFAULT_REPLY: &str = "Thanks for your message. Send hello or help.";

#[test]
fn a_bot_that_fails_or_answers_garbage_only_loses_its_turn() {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, true);

    // Every attempt answered with HTTP 500: three attempts, then auto-reply answers.
    let failing = Bot::start(tmp.path(), "failing", None, &["--always-fail"]);
    attach(
        &server,
        "demo",
        json!({ "url": failing.url(), "token": BOT_TOKEN, "priority": 10 }),
    );
    let a = server.text("demo", "o-erin", "1", "anyone there?");
    assert_eq!(a.reply_text(), Some(DEFAULT_REPLY), "{a:?}");
    assert_eq!(
        last_delivered(&server, "demo", "o-erin")["plugin"],
        "auto-reply"
    );
    assert_eq!(failing.requests().len(), 3);

    // A malformed reply is not retried (WeChat does not either) and gives the follower nothing.
    let garbage = Bot::start(tmp.path(), "garbage", None, &["--garbage"]);
    attach(
        &server,
        "demo",
        json!({ "url": garbage.url(), "priority": 10 }),
    );
    let a = server.text("demo", "o-erin", "2", "say something");
    assert_eq!(a.reply_text(), Some(DEFAULT_REPLY), "{a:?}");
    assert_eq!(garbage.requests().len(), 1);
    let log = server.get("/api/v1/accounts/demo/events?kinds=http_outbound");
    let text = log.body.to_string();
    assert!(text.contains("malformed passive reply"), "{text}");

    // Nobody listening at all.
    attach(
        &server,
        "demo",
        json!({ "url": "http://127.0.0.1:9/", "priority": 10 }),
    );
    let a = server.text("demo", "o-erin", "3", "still up?");
    assert_eq!(a.reply_text(), Some(DEFAULT_REPLY), "{a:?}");
    assert_eq!(
        server.get("/api/v1/system").status,
        200,
        "the host stays up"
    );
}

#[test]
fn a_bot_that_never_answers_costs_only_its_attempts() {
    let (tmp, dir) = data_dir();
    // Attempts shortened from WeChat's 5 s so the test does not wait 15 s.
    let server = Server::start_with(&dir, true, &[("PLAZA_DEVELOPER_SERVER_TIMEOUT", "300ms")]);
    let hanging = Bot::start(tmp.path(), "hanging", None, &["--hang"]);
    attach(
        &server,
        "demo",
        json!({ "url": hanging.url(), "token": BOT_TOKEN, "priority": 10 }),
    );
    let a = server.text("demo", "o-erin", "1", "hello?");
    assert_eq!(
        a.reply_text(),
        Some("Hello from Plaza! This reply came from the auto-reply plugin."),
        "{a:?}"
    );
    eventually("the hanging bot saw the push", || {
        (!hanging.requests().is_empty()).then_some(())
    });
    // The host answers others meanwhile, and the next message the same way.
    assert_eq!(server.get("/api/v1/system").status, 200);
    let a = server.text("demo", "o-erin", "2", "anyone?");
    assert_eq!(a.reply_text(), Some(DEFAULT_REPLY), "{a:?}");
}
