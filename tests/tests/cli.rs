//! The `plaza` CLI drives the admin API: accounts, plugins, installations; errors are a message
//! and a non-zero exit.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use plaza_tests::*;
use serde_json::json;

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
    // Once a day for a subscription account: a platform rule refused it, exit status 5.
    let (code, _, err) = plaza(&server, &["broadcast", "send", "cafe", "--text", "again"]);
    assert_eq!(code, 5, "{err}");
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

/// Runs `plaza` against any base URL with the test token.
fn plaza_at(base: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(plaza_bin())
        .args(args)
        .env("PLAZA_SERVER", base)
        .env("PLAZA_ADMIN_TOKEN", TOKEN)
        .output()
        .expect("run plaza");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn each_kind_of_failure_has_its_documented_exit_status() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let (code, out, err) = plaza(&server, &["account", "list"]);
    assert_eq!(code, 0, "{out}{err}");

    // 2: bad input or an unknown thing.
    let (code, _, err) = plaza(&server, &["account", "get", "missing"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = plaza(
        &server,
        &["account", "create", "Bad Id", "--kind", "service"],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("invalid"), "{err}");

    // 3: not allowed.
    let (code, _, err) = plaza(&server, &["account", "list", "--token", "wrong"]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("unauthorized"), "{err}");

    // 5: refused by a platform rule (a subscription account broadcasts once a day).
    server.create_account("news", "subscription", false);
    let send = ["broadcast", "send", "news", "--text", "hello"];
    let (code, _, err) = plaza(&server, &send);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = plaza(&server, &send);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("quota exceeded"), "{err}");

    // The help documents the table.
    let (code, out, _) = plaza(&server, &["--help"]);
    assert_eq!(code, 0);
    for line in [
        "0  success",
        "1  internal error",
        "2  bad input or unknown thing",
        "3  not allowed",
        "4  server unreachable or temporarily unavailable",
        "5  refused by a platform rule (quota_exceeded, outside_window)",
    ] {
        assert!(out.contains(line), "--help lacks {line:?}:\n{out}");
    }
}

/// A server that answers every request with `status` and `{"error":{"code": code}}`.
///
/// The real server cannot be made to fail with `internal` or `unavailable` on demand (that would be
/// a bug); this stand-in lets the real CLI binary show how it maps those answers.
fn answering(status: u16, code: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0; length];
            let _ = reader.read_exact(&mut body);
            let answer =
                json!({ "error": { "code": code, "message": format!("stand-in {code}") } })
                    .to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                answer.len()
            );
        }
    });
    format!("http://{addr}")
}

#[test]
fn server_errors_map_to_their_exit_status_not_to_unreachable() {
    for (status, code, exit, words) in [
        (500, "internal", 1, "internal error: stand-in internal"),
        (503, "unavailable", 4, "unavailable: stand-in unavailable"),
        (409, "outside_window", 5, "outside the 48 h"),
        (429, "quota_exceeded", 5, "quota exceeded"),
        (409, "conflict", 2, "conflict"),
        (403, "permission_denied", 3, "permission denied"),
    ] {
        let base = answering(status, code);
        let (got, _, err) = plaza_at(&base, &["account", "list"]);
        assert_eq!(got, exit, "{code}: {err}");
        assert!(err.contains(words), "{code}: {err}");
        assert!(!err.contains("cannot reach"), "{code}: {err}");
    }
    // Nothing listening at all: 4, server unreachable.
    let (got, _, err) = plaza_at("http://127.0.0.1:9", &["account", "list"]);
    assert_eq!(got, 4, "{err}");
    assert!(err.contains("cannot reach"), "{err}");
}

#[test]
fn output_into_a_closed_pipe_ends_quietly() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    // More output than a pipe buffers (64 KiB), so the CLI is still writing when the reader has
    // gone, whatever the timing: 250 accounts with 120-byte names print about 90 KB.
    for i in 0..250 {
        let a = server.post(
            "/api/v1/accounts",
            &json!({ "id": format!("a{i:03}"), "kind": "service", "name": "n".repeat(120) }),
        );
        assert_eq!(a.status, 201, "{a:?}");
    }
    let (code, out, _) = plaza(&server, &["account", "list"]);
    assert_eq!(code, 0);
    assert!(out.len() > 80_000, "{}", out.len());

    let mut child = Command::new(plaza_bin())
        .args(["account", "list"])
        .env("PLAZA_SERVER", &server.base)
        .env("PLAZA_ADMIN_TOKEN", TOKEN)
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn plaza");
    // Like `| head -c 10`: read a little, then close the pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 10];
    stdout.read_exact(&mut first).expect("some output");
    drop(stdout);
    let mut err = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut err)
        .expect("stderr");
    let status = child.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "nothing on stderr: {err}");
}

#[test]
fn install_warns_about_capabilities_it_did_not_grant() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("cafe", "service", true);
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

    let (code, out, err) = plaza(&server, &["install", "cafe", "p1", "--grant", "storage"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("\"ungranted\""), "{out}");
    assert!(err.contains("warning"), "{err}");
    let command = "plaza grant cafe p1 http.routes storage 'topics.subscribe:shop.*'";
    assert!(err.contains(command), "{err}");

    // The command it names, run as printed (through a shell), grants everything: no warning then.
    let shell_command = command.replacen("plaza", &plaza_bin().display().to_string(), 1);
    let ran = Command::new("sh")
        .args(["-c", &shell_command])
        .env("PLAZA_SERVER", &server.base)
        .env("PLAZA_ADMIN_TOKEN", TOKEN)
        .output()
        .expect("sh");
    assert!(ran.status.success(), "{ran:?}");
    let inst = server.get("/api/v1/accounts/cafe/installations/p1");
    let mut grants: Vec<&str> = inst.body["grants"]
        .as_array()
        .map(|a| a.iter().filter_map(|g| g.as_str()).collect())
        .unwrap_or_default();
    grants.sort();
    assert_eq!(
        grants,
        ["http.routes", "storage", "topics.subscribe:shop.*"],
        "{inst:?}"
    );
    let (code, _, err) = plaza(&server, &["uninstall", "cafe", "p1"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = plaza(
        &server,
        &[
            "install",
            "cafe",
            "p1",
            "--grant",
            "storage",
            "--grant",
            "http.routes",
            "--grant",
            "topics.subscribe:shop.*",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn people_get_tables_and_scripts_get_json() {
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    for (id, name) in [("cafe", "Cafe"), ("teahouse", "老茶馆")] {
        let (code, out, err) = plaza(
            &server,
            &["account", "create", id, "--kind", "service", "--name", name],
        );
        assert_eq!(code, 0, "{out}{err}");
    }

    // By default a list is a table: a header line, then one aligned row per account.
    let (code, out, err) = plaza_human(&server, &["account", "list"]);
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        ["ID", "NAME", "KIND", "VERIFIED", "TIMEZONE"],
        "{out}"
    );
    let cafe = lines
        .iter()
        .find(|l| l.starts_with("cafe "))
        .expect("a cafe row");
    assert!(cafe.contains("Cafe") && cafe.contains("service"), "{out}");
    assert!(lines.iter().any(|l| l.contains("老茶馆")), "{out}");
    assert!(
        serde_json::from_str::<serde_json::Value>(&out).is_err(),
        "{out}"
    );
    // A single record reads as `key: value` lines.
    let (code, out, err) = plaza_human(&server, &["account", "get", "cafe"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("id:") && l.ends_with(" cafe")),
        "{out}"
    );

    // `--json`, anywhere on the line, prints the server's answer as JSON.
    for args in [["account", "list", "--json"], ["--json", "account", "list"]] {
        let (code, out, err) = plaza_human(&server, &args);
        assert_eq!(code, 0, "{out}{err}");
        let answer: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert!(answer.to_string().contains("\"teahouse\""), "{answer}");
    }

    // A media upload (read from the file as it is sent) answers with the blob, as a record.
    let png = tmp.path().join("dot.png");
    std::fs::write(&png, hex_bytes(PNG)).expect("write png");
    let png = png.display().to_string();
    let (code, out, err) = plaza_human(&server, &["media", "upload", "cafe", &png]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.lines().any(|l| l.starts_with("media_id:")), "{out}");
    let (code, out, err) = plaza_human(&server, &["media", "list", "cafe"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("MEDIA_ID"), "{out}");
    assert!(out.contains("image/png"), "{out}");
}

#[test]
fn following_a_broadcast_ends_with_its_final_status() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("cafe", "service", true);
    for openid in ["o-1", "o-2"] {
        let (code, out, err) = plaza(&server, &["send", "cafe", openid, "hello"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, err) = plaza(
        &server,
        &[
            "broadcast",
            "send",
            "cafe",
            "--text",
            "Fresh bread",
            "--key",
            "k1",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    let job: serde_json::Value = serde_json::from_str(&out).expect("json");
    let id = job["id"].as_str().expect("id");

    // Not on a terminal: no bar, only the final status, once.
    let (code, out, err) = plaza_human(&server, &["broadcast", "status", "cafe", id, "--follow"]);
    assert_eq!(code, 0, "{out}{err}");
    let status: Vec<&str> = out.lines().filter(|l| l.starts_with("status:")).collect();
    assert_eq!(status.len(), 1, "{out}");
    assert!(status[0].ends_with(" done"), "{out}");
    assert!(!err.contains('█'), "no progress bar off a terminal: {err}");

    let (code, out, err) = plaza_human(
        &server,
        &["broadcast", "status", "cafe", id, "--follow", "--json"],
    );
    assert_eq!(code, 0, "{out}{err}");
    let job: serde_json::Value = serde_json::from_str(&out).expect("one JSON document");
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["delivered"], 2, "{job}");
}

/// A 1×1 PNG.
const PNG: &str = "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7356d8d0000000049454e44ae426082";

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
