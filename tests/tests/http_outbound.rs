//! Outbound HTTP from a plugin (the real probe, `plaza_sdk::http` over `wasi:http`) through the
//! real binary, against loopback servers this test starts and that count every connection they
//! accept: a granted address is reached; an ungranted host or port, a granted *name* that resolves
//! to loopback, and a redirect to an ungranted address are each refused before a single byte
//! reaches the server. Every request lands in the account's event log without its query string.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use plaza_tests::*;
use serde_json::json;

/// A tiny HTTP/1.1 server on 127.0.0.1 that counts accepted connections and answers
/// `/redirect?to=URL` with a 302 to URL, anything else with 200 `pong <path>`.
struct Upstream {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Upstream {
    fn start() -> Upstream {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let seen = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                seen.fetch_add(1, Ordering::SeqCst);
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    continue;
                }
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                }
                let path = request_line.split(' ').nth(1).unwrap_or("/").to_string();
                let response = match path.strip_prefix("/redirect?to=") {
                    Some(to) => format!(
                        "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                    ),
                    None => {
                        let body = format!("pong {path}");
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                    }
                };
                let _ = stream.write_all(response.as_bytes());
            }
        });
        Upstream { port, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn ask(server: &Server, id: &str, text: &str) -> String {
    let answer = server.text("acct", "fan", id, text);
    answer
        .reply_text()
        .unwrap_or_else(|| panic!("no text reply to {text:?}: {answer:?}"))
        .to_string()
}

#[test]
fn granted_hosts_are_reached_and_everything_else_is_refused_before_connecting() {
    let granted = Upstream::start();
    let other = Upstream::start();
    let (_tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    server.create_account("acct", "service", true);
    let caps = [
        format!("http.outbound:127.0.0.1:{}", granted.port),
        format!("http.outbound:localhost:{}", other.port),
    ];
    let caps: Vec<&str> = caps.iter().map(String::as_str).collect();
    install_probe_with(&server, "acct", "probe", &caps, &caps);

    // The granted address literally: reached.
    let ok = ask(
        &server,
        "1",
        &format!("http GET http://127.0.0.1:{}/ping?secret=s3", granted.port),
    );
    assert_eq!(ok, "http:200:pong /ping?secret=s3");
    assert_eq!(granted.connections(), 1);

    // The same server on an ungranted host name (127.0.0.2 is loopback too, and not granted).
    let host = ask(
        &server,
        "2",
        &format!("http GET http://127.0.0.2:{}/ping", granted.port),
    );
    assert!(host.starts_with("error:permission_denied:"), "{host}");
    // An ungranted port of the granted address.
    let port = ask(
        &server,
        "3",
        &format!("http GET http://127.0.0.1:{}/ping", other.port),
    );
    assert!(port.starts_with("error:permission_denied:"), "{port}");
    // A granted name that resolves to loopback: refused after resolution.
    let name = ask(
        &server,
        "4",
        &format!("http GET http://localhost:{}/ping", other.port),
    );
    assert!(name.starts_with("error:permission_denied:"), "{name}");
    // A redirect from the granted server to an ungranted one: the second hop is refused.
    let redirect = ask(
        &server,
        "5",
        &format!(
            "http GET http://127.0.0.1:{}/redirect?to=http://127.0.0.1:{}/x",
            granted.port, other.port
        ),
    );
    assert!(
        redirect.starts_with("error:permission_denied:"),
        "{redirect}"
    );
    assert_eq!(
        granted.connections(),
        2,
        "the redirecting request reached it"
    );
    assert_eq!(
        other.connections(),
        0,
        "no byte reached the ungranted server"
    );

    // Each request is in the event log: method, host, status; never the query string.
    let log = server.get("/api/v1/accounts/acct/events?kinds=http_outbound");
    assert_eq!(log.status, 200, "{log:?}");
    let events = log.body["events"].as_array().expect("events").clone();
    assert!(events.len() >= 5, "{events:?}");
    let text = serde_json::to_string(&events).expect("json");
    assert!(
        !text.contains("secret=s3"),
        "query strings never logged: {text}"
    );
    assert!(
        events
            .iter()
            .any(|e| e["plugin"] == "probe" && text.contains("200")),
        "{text}"
    );

    // Without any http.outbound grant the plugin cannot reach anything.
    let off = server.patch(
        "/api/v1/accounts/acct/installations/probe",
        &json!({ "grants": [] }),
    );
    assert_eq!(off.status, 200, "{off:?}");
    let none = ask(
        &server,
        "6",
        &format!("http GET http://127.0.0.1:{}/ping", granted.port),
    );
    assert!(none.starts_with("error:permission_denied:"), "{none}");
    assert_eq!(granted.connections(), 2);
}
