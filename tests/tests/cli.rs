//! The `plaza` CLI drives the admin API: accounts, plugins, installations; errors are a message
//! and a non-zero exit.

use std::process::Command;

use plaza_tests::*;

#[test]
fn an_operator_sets_up_an_account_from_the_command_line() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let (code, out, err) = plaza(
        &server,
        &[
            "account",
            "create",
            "cafe",
            "--kind",
            "subscription",
            "--name",
            "Cafe",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"ingress_key\""), "{out}");

    let manifest = format!("{WORKSPACE_DIR}/tests/fixtures/probe/plugin.toml");
    let wasm = format!("{WASM_DIR}/probe.wasm");
    let (code, out, err) = plaza(&server, &["plugin", "upload", &manifest, "--wasm", &wasm]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"name\": \"probe\""), "{out}");

    let (code, out, err) = plaza(
        &server,
        &[
            "install",
            "cafe",
            "auto-reply",
            "--config",
            r#"{"default_reply":"cli says hi"}"#,
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = plaza(&server, &["send", "cafe", "o-cli", "anything"]);
    assert_eq!(code, 0);
    assert!(out.contains("cli says hi"), "{out}");

    let (code, _, _) = plaza(&server, &["disable", "cafe", "auto-reply"]);
    assert_eq!(code, 0);
    let (_, out, _) = plaza(&server, &["send", "cafe", "o-cli", "anything"]);
    assert!(out.contains("\"reply\": null"), "{out}");
    let (code, out, _) = plaza(&server, &["messages", "cafe", "o-cli"]);
    assert_eq!(code, 0);
    assert_eq!(out.matches("cli says hi").count(), 1, "{out}");

    // A broadcast from the command line, followed to completion.
    let (code, out, err) = plaza(
        &server,
        &[
            "broadcast",
            "send",
            "cafe",
            "--text",
            "Fresh croissants!",
            "--key",
            "morning",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let job: serde_json::Value = serde_json::from_str(&out).expect("json");
    let id = job["id"].as_str().expect("id").to_string();
    let job = eventually("the broadcast to finish", || {
        let (code, out, err) = plaza(&server, &["broadcast", "status", "cafe", &id]);
        assert_eq!(code, 0, "{out}{err}");
        let job: serde_json::Value = serde_json::from_str(&out).expect("json");
        (job["status"] == "done").then_some(job)
    });
    assert_eq!(job["delivered"], 1, "{job}");
    assert_eq!(job["percent"], 100.0);
    // Once a day for a subscription account: the CLI reports the refusal and exits non-zero.
    let (code, _, err) = plaza(&server, &["broadcast", "send", "cafe", "--text", "again"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("quota exceeded"), "{err}");
    let (_, out, _) = plaza(&server, &["messages", "cafe", "o-cli"]);
    assert_eq!(out.matches("Fresh croissants!").count(), 1, "{out}");
}

#[test]
fn cli_errors_are_messages_with_non_zero_exit() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let (code, _, err) = plaza(&server, &["account", "get", "missing"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not found"), "{err}");
    let (code, _, err) = plaza(
        &server,
        &["install", "missing", "auto-reply", "--config", "{not json"],
    );
    assert_eq!(code, 2);
    assert!(err.contains("not valid JSON"), "{err}");
    let out = Command::new(plaza_bin())
        .args([
            "account",
            "list",
            "--server",
            "http://127.0.0.1:9",
            "--token",
            "t",
        ])
        .output()
        .expect("run plaza");
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot reach"));
}
