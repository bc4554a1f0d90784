//! The web console: the page and its assets served by the real binary, and the server-sent-events
//! stream of a follower's outbox it shows live in the follower simulator.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{get_bytes, request};
use plaza_tests::{Server, TOKEN, data_dir};

#[test]
fn the_console_page_and_its_assets_are_served_without_a_token() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, true);
    let page = get_bytes(&server, "/", &[]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let html = String::from_utf8(page.body).expect("utf-8 page");
    assert!(html.contains("<meta name=\"viewport\""), "{html}");
    assert!(
        page.headers
            .iter()
            .any(|(n, v)| n == "content-security-policy" && v.contains("script-src 'self'")),
        "the page carries its content security policy"
    );
    // Every asset the page and its modules load is served, with its content type.
    let mut pending: Vec<String> = assets_named(&html);
    let mut seen = Vec::new();
    while let Some(path) = pending.pop() {
        if seen.contains(&path) {
            continue;
        }
        let asset = get_bytes(&server, &path, &[]);
        assert_eq!(asset.status, 200, "{path}");
        let ct = asset.header("content-type").unwrap_or("").to_string();
        let expected = match path.rsplit('.').next() {
            Some("js") => "text/javascript; charset=utf-8",
            Some("css") => "text/css; charset=utf-8",
            Some("svg") => "image/svg+xml",
            other => panic!("unexpected asset type {other:?} for {path}"),
        };
        assert_eq!(ct, expected, "{path}");
        if path.ends_with(".js") {
            let text = String::from_utf8(asset.body).expect("utf-8 module");
            for (at, _) in text.match_indices("from \"./") {
                let name: String = text[at + 8..].chars().take_while(|c| *c != '"').collect();
                pending.push(format!("/console/{name}"));
            }
        }
        seen.push(path);
    }
    assert!(seen.len() >= 8, "{seen:?}");
    // An unknown asset is the API's typed 404.
    let missing = request(&server, "GET", "/console/nope.js", &[], b"");
    assert_eq!((missing.status, missing.code()), (404, "not_found"));
    // The page is public; the data is not.
    let data = request(&server, "GET", "/api/v1/accounts", &[], b"");
    assert_eq!(data.status, 401);
}

/// `/console/…` paths named in `src="…"` and `href="…"` attributes.
fn assets_named(html: &str) -> Vec<String> {
    html.match_indices("\"/console/")
        .map(|(at, _)| {
            html[at + 1..]
                .chars()
                .take_while(|c| *c != '"')
                .collect::<String>()
        })
        .collect()
}

/// An open server-sent-events response, read line by line.
struct Events {
    reader: BufReader<TcpStream>,
}

impl Events {
    /// Opens the stream and reads the answer's head: once the head has arrived the server has
    /// subscribed, so anything delivered afterwards is streamed.
    fn open(server: &Server, path: &str, token: Option<&str>) -> (u16, Events) {
        let addr = server.base.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).expect("connect");
        // A guard against a broken build hanging the test, not a timing assumption.
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .expect("timeout");
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{auth}\r\n"
        )
        .expect("send request");
        let mut reader = BufReader::new(stream);
        let mut status_line = String::new();
        reader.read_line(&mut status_line).expect("status line");
        let status: u16 = status_line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status code");
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).expect("header line");
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        (status, Events { reader })
    }

    /// The next `message` event's data (chunk-size lines of the chunked body and comments are
    /// skipped).
    fn next_message(&mut self) -> serde_json::Value {
        let mut is_message = false;
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read event");
            assert!(n > 0, "the stream ended");
            let line = line.trim_end();
            if line == "event: message" {
                is_message = true;
            } else if let Some(data) = line.strip_prefix("data: ") {
                if is_message {
                    return serde_json::from_str(data).expect("event data is JSON");
                }
            } else if line.is_empty() {
                is_message = false;
            }
        }
    }
}

#[test]
fn a_followers_messages_stream_live_with_the_plugin_that_sent_them() {
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, true);
    // Delivered before the stream opens: not streamed (without `after`, only new messages are).
    let before = server.text("demo", "fan", "m1", "hello");
    assert!(before.reply_text().is_some(), "{before:?}");

    let path = "/api/v1/accounts/demo/followers/fan/messages/stream";
    let (status, _) = Events::open(&server, path, None);
    assert_eq!(status, 401, "the stream is behind the admin token");

    let (status, mut live) = Events::open(&server, path, Some(TOKEN));
    assert_eq!(status, 200);
    let answer = server.text("demo", "fan", "m2", "help");
    let reply = answer.reply_text().expect("help has a reply").to_string();
    let event = live.next_message();
    assert_eq!(event["content"], reply.as_str(), "{event}");
    assert_eq!(event["delivery"], "reply");
    assert_eq!(event["plugin"], "auto-reply");
    assert!(event["links"].is_array());

    // A broadcast reaches the open stream too.
    let job = server.post(
        "/api/v1/accounts/demo/broadcasts",
        &serde_json::json!({
            "idempotency_key": "console-test",
            "audience": {"openids": ["fan"]},
            "content": {"msg_type": "text", "content": "to everyone"},
        }),
    );
    assert_eq!(job.status, 201, "{job:?}");
    let event = live.next_message();
    assert_eq!(
        (event["delivery"].as_str(), event["content"].as_str()),
        (Some("broadcast"), Some("to everyone")),
        "{event}"
    );

    // `?after=` (empty: from the start) replays the outbox, in order, then goes on live.
    let (status, mut replay) = Events::open(&server, &format!("{path}?after="), Some(TOKEN));
    assert_eq!(status, 200);
    let all = server.outbox("demo", "fan");
    for expected in &all {
        let event = replay.next_message();
        assert_eq!(event["id"], expected["id"], "{event}");
    }
    let last = all.last().expect("messages")["id"]
        .as_str()
        .unwrap_or_default();
    // A reconnecting client names the last entry it saw and gets only what came after.
    let (_, mut resumed) = Events::open(&server, &format!("{path}?after={last}"), Some(TOKEN));
    server.text("demo", "fan", "m3", "hello");
    let event = resumed.next_message();
    assert!(
        event["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("Hello from Plaza")),
        "{event}"
    );
}
