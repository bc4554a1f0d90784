//! HTTP helpers the harness's `Server` methods do not cover: any method with any headers (and the
//! answer's headers), and a request body streamed from pieces so a test can send tens of
//! megabytes without holding them in memory.
// Each test file uses the helpers it needs.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use plaza_tests::{Server, TOKEN};
use serde_json::Value;

/// An answer with its headers.
#[derive(Debug)]
pub struct Full {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Value,
}

impl Full {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
    /// The body is exactly the typed error shape: an object whose only member is `error`, with
    /// non-empty `code` and `message` strings.
    pub fn is_typed_error(&self) -> bool {
        let e = &self.body["error"];
        self.body.as_object().is_some_and(|o| o.len() == 1)
            && e["code"].as_str().is_some_and(|c| !c.is_empty())
            && e["message"].as_str().is_some_and(|m| !m.is_empty())
    }
    pub fn text(&self) -> &str {
        self.body.as_str().unwrap_or("")
    }
}

/// The admin token as a header.
pub const ADMIN: (&str, &str) = ("Authorization", "Bearer test-admin-token");

/// Sends `method path` with exactly these headers and body.
pub fn request(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Full {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(server.url(path));
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let mut resp = agent
        .run(req.body(body.to_vec()).expect("request"))
        .expect("request reached the server");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    Full {
        status,
        headers,
        body,
    }
}

/// An answer whose body is kept as bytes (media, files).
pub struct RawAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawAnswer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// The body as JSON (`Null` when it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }
}

/// `GET path` with these headers, the body as bytes.
pub fn get_bytes(server: &Server, path: &str, headers: &[(&str, &str)]) -> RawAnswer {
    raw(server, "GET", path, headers, &[])
}

/// `method path` with these headers and body, as the server answered it: redirects are not
/// followed, the body is bytes.
pub fn raw(
    server: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawAnswer {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(server.url(path));
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let mut resp = agent
        .run(req.body(body.to_vec()).expect("request"))
        .expect("request reached the server");
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    RawAnswer {
        status: resp.status().as_u16(),
        headers,
        body: resp.body_mut().read_to_vec().unwrap_or_default(),
    }
}

/// A piece of a streamed body.
pub enum Piece {
    Bytes(Vec<u8>),
    /// `n` copies of one byte, generated as they are sent.
    Repeat(u8, usize),
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Bytes(b) => b.len(),
            Piece::Repeat(_, n) => *n,
        }
    }
}

/// A `multipart/form-data` body: a `manifest` part made of `manifest`, then a `wasm` part made
/// of `wasm`.
pub fn multipart(manifest: Vec<Piece>, wasm: Vec<Piece>) -> (String, Vec<Piece>) {
    let boundary = "plaza-stream-boundary-41c7";
    let mut pieces = vec![Piece::Bytes(
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"manifest\"\r\n\r\n")
            .into_bytes(),
    )];
    pieces.extend(manifest);
    pieces.push(Piece::Bytes(
        format!("\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"wasm\"; filename=\"p.wasm\"\r\nContent-Type: application/wasm\r\n\r\n")
            .into_bytes(),
    ));
    pieces.extend(wasm);
    pieces.push(Piece::Bytes(format!("\r\n--{boundary}--\r\n").into_bytes()));
    (format!("multipart/form-data; boundary={boundary}"), pieces)
}

/// POSTs a body streamed from `pieces` with the admin token over a plain TCP connection, and
/// reads the answer while the body is still being sent: a server that refuses a body part-way
/// answers before it has read the rest (and may close the connection on the sender).
pub fn post_streamed(
    server: &Server,
    path: &str,
    content_type: &str,
    pieces: Vec<Piece>,
) -> (u16, Value) {
    let addr = server
        .base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_string();
    let length: usize = pieces.iter().map(Piece::len).sum();
    let mut stream = TcpStream::connect(&addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .expect("read timeout");
    let mut writer = stream.try_clone().expect("clone stream");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: {content_type}\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    );
    let sender = std::thread::spawn(move || {
        let send = || -> std::io::Result<()> {
            writer.write_all(head.as_bytes())?;
            for piece in pieces {
                match piece {
                    Piece::Bytes(b) => writer.write_all(&b)?,
                    Piece::Repeat(byte, mut n) => {
                        let chunk = vec![byte; 64 << 10];
                        while n > 0 {
                            let k = n.min(chunk.len());
                            writer.write_all(&chunk[..k])?;
                            n -= k;
                        }
                    }
                }
            }
            writer.flush()
        };
        // The server may stop reading and close: that ends the sending, not the test.
        let _ = send();
    });
    let mut answer = Vec::new();
    let mut buf = [0u8; 16 << 10];
    let (status, body) = loop {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break parse_answer(&answer, true),
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
        if let Some(done) = parse_answer(&answer, false) {
            break Some(done);
        }
    }
    .unwrap_or_else(|| panic!("no complete answer: {:?}", String::from_utf8_lossy(&answer)));
    let _ = stream.shutdown(Shutdown::Both);
    let _ = sender.join();
    (status, body)
}

/// Status and body of a complete HTTP/1.1 answer with a `Content-Length` (or of whatever arrived
/// once the connection ended, when `ended`).
fn parse_answer(raw: &[u8], ended: bool) -> Option<(u16, Value)> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let length = head.lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    let body = &raw[end + 4..];
    let body = match length {
        Some(n) if body.len() >= n => &body[..n],
        _ if ended => body,
        _ => return None,
    };
    let text = String::from_utf8_lossy(body);
    Some((
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text.into_owned())),
    ))
}

/// The database of a data directory whose server has stopped, opened to read or plant records the
/// way an older version (or a damaged disk) would have left them. Dropping it waits until sled has
/// let go of the database's lock (its background threads release it a moment after the handle
/// goes), so a server can start on the directory right after.
pub struct StoppedDb {
    db: Option<sled::Db>,
    lock_file: std::path::PathBuf,
}

impl std::ops::Deref for StoppedDb {
    type Target = sled::Db;
    fn deref(&self) -> &sled::Db {
        self.db.as_ref().expect("open")
    }
}

impl Drop for StoppedDb {
    fn drop(&mut self) {
        if let Some(db) = self.db.take() {
            let _ = db.flush();
        }
        // sled holds an exclusive flock on `db/db`: once we can take it, sled has let go.
        let deadline = std::time::Instant::now() + plaza_tests::PATIENCE;
        loop {
            let file = std::fs::File::open(&self.lock_file).expect("database lock file");
            match file.try_lock() {
                Ok(()) => return,
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("the database lock was not released: {e:?}"),
            }
        }
    }
}

/// Opens the database of `data_dir`, whose server has stopped (the lock goes with the server
/// process, so a short wait covers a process that is still exiting).
pub fn open_db(data_dir: &std::path::Path) -> StoppedDb {
    let deadline = std::time::Instant::now() + plaza_tests::PATIENCE;
    let path = data_dir.join("db");
    loop {
        match sled::Config::new().path(&path).open() {
            Ok(db) => {
                return StoppedDb {
                    db: Some(db),
                    lock_file: path.join("db"),
                };
            }
            Err(e) if std::time::Instant::now() < deadline => {
                assert!(
                    e.to_string().contains("lock"),
                    "cannot open the database: {e}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot open the database: {e}"),
        }
    }
}

/// Writes records into a stopped server's database, durably, and closes it.
pub fn plant(data_dir: &std::path::Path, records: &[(&str, &[u8], &[u8])]) {
    let db = open_db(data_dir);
    for (tree, key, value) in records {
        db.open_tree(tree)
            .expect("tree")
            .insert(key, *value)
            .expect("insert");
    }
}

/// A stored record of a stopped server's database.
pub fn stored(data_dir: &std::path::Path, tree: &str, key: &[u8]) -> Option<Vec<u8>> {
    open_db(data_dir)
        .open_tree(tree)
        .expect("tree")
        .get(key)
        .expect("read")
        .map(|v| v.to_vec())
}
