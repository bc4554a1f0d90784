//! A loopback HTTP/1.1 stand-in for a third party the platform talks to (an external shop, a
//! review service, a data provider): binds 127.0.0.1 on a free port, records every request, and
//! answers each with what the test's function says. One request per connection
//! (`connection: close`), bodies by length or chunked (what a plugin's `wasi:http` sends).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// One request as the stand-in received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    /// The request target: path and query.
    pub path: String,
    /// Header lines, lower-cased, `name: value\r\n` each.
    pub head: String,
    pub body: Vec<u8>,
}

impl Received {
    /// The first header `name` (lower case), trimmed.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            (n.trim() == name).then(|| v.trim())
        })
    }
}

/// What the stand-in answers: a status and a body of `content_type`.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    /// `200` with a JSON body.
    pub fn json(body: impl Into<String>) -> Reply {
        Reply::with_status(200, body)
    }

    /// `status` with a JSON body.
    pub fn with_status(status: u16, body: impl Into<String>) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body: body.into(),
        }
    }
}

/// The running stand-in (it runs until the test process ends).
pub struct StandIn {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    connections: Arc<AtomicUsize>,
}

impl StandIn {
    /// Starts a stand-in that answers every request with `answer(request)`.
    pub fn start(answer: impl Fn(&Received) -> Reply + Send + 'static) -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let connections = Arc::new(AtomicUsize::new(0));
        let (log, count) = (received.clone(), connections.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                count.fetch_add(1, Ordering::SeqCst);
                let Some(request) = read_request(&mut BufReader::new(&stream)) else {
                    continue;
                };
                let reply = answer(&request);
                log.lock().expect("log").push(request);
                let _ = stream.write_all(
                    format!(
                        "HTTP/1.1 {} {}\r\ncontent-type: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{}",
                        reply.status,
                        if reply.status < 400 { "OK" } else { "Error" },
                        reply.content_type,
                        reply.body.len(),
                        reply.body
                    )
                    .as_bytes(),
                );
            }
        });
        StandIn {
            port,
            received,
            connections,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The outbound grant that lets a plugin reach this stand-in.
    pub fn grant(&self) -> String {
        format!("http.outbound:127.0.0.1:{}", self.port)
    }

    /// Every request received so far, in order.
    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("log").clone()
    }

    /// Connections accepted so far (a refused request never connects).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn read_request(reader: &mut impl BufRead) -> Option<Received> {
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).ok()? == 0 {
        return None;
    }
    let mut parts = request_line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut head = String::new();
    let mut length = 0usize;
    let mut chunked = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        chunked |= lower.starts_with("transfer-encoding:") && lower.contains("chunked");
        head.push_str(&lower);
    }
    let body = crate::read_http_body(reader, length, chunked)?;
    Some(Received {
        method,
        path,
        head,
        body,
    })
}
