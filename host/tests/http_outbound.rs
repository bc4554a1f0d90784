//! Outbound HTTP for plugins, driven through the `wasi:http` send hook (`OutboundCall`, what
//! wasmtime-wasi-http calls for every guest request) against a real HTTP server on a loopback
//! port that counts the connections it accepts, so "refused before connecting" is checked by the
//! server itself.

mod common;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body::Frame;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Empty, Full, StreamBody};
use hyper::service::service_fn;
use plaza_host::Platform;
use plaza_host::http_outbound::{
    MAX_RESPONSE_BODY, OutboundCall, OutboundLimits, OutboundRecord, USER_AGENT,
};
use plaza_host::platform::ManualClock;
use plaza_host::plugins::grants::{CallGrants, Capability, InstallationGrant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::Instant;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error as WasiHttpError, WasiBody, WasiHttpHooks};

/// What the loopback server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    headers: Vec<(String, String)>,
}

/// A loopback HTTP/1.1 server that counts accepted connections and keeps every request's head.
struct Server {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Seen>>>,
    /// Signalled as each request arrives.
    arrived: Arc<tokio::sync::Notify>,
}

type ServerBody = BoxBody<Bytes, Infallible>;

fn full(bytes: impl Into<Bytes>) -> ServerBody {
    Full::new(bytes.into()).boxed()
}

async fn respond(req: hyper::Request<hyper::body::Incoming>) -> hyper::Response<ServerBody> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/hello" => hyper::Response::new(full("hello from loopback")),
        "/big" => hyper::Response::new(full(vec![b'x'; MAX_RESPONSE_BODY as usize + 1])),
        "/big-stream" => {
            // No content-length: chunked, so only counting while reading can stop it.
            let chunk = Bytes::from(vec![b'y'; 64 << 10]);
            let chunks = (MAX_RESPONSE_BODY as usize / chunk.len()) + 2;
            let stream = futures_util::stream::iter(
                (0..chunks).map(move |_| Ok::<_, Infallible>(Frame::data(chunk.clone()))),
            );
            hyper::Response::new(StreamBody::new(stream).boxed())
        }
        "/redirect" => hyper::Response::builder()
            .status(302)
            .header("location", "http://elsewhere.example/")
            .body(full(""))
            .unwrap(),
        "/never" => std::future::pending::<hyper::Response<ServerBody>>().await,
        _ => {
            // Drain the body (requests with one) and say how much arrived.
            let n = req
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().len())
                .unwrap_or(0);
            hyper::Response::new(full(format!("{n}")))
        }
    }
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(tokio::sync::Notify::new());
        let (c, r, a) = (connections.clone(), requests.clone(), arrived.clone());
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                c.fetch_add(1, Ordering::SeqCst);
                let (r, a) = (r.clone(), a.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        r.lock().unwrap().push(Seen {
                            path: req.uri().path().to_string(),
                            headers: req
                                .headers()
                                .iter()
                                .map(|(k, v)| {
                                    (k.to_string(), v.to_str().unwrap_or("?").to_string())
                                })
                                .collect(),
                        });
                        a.notify_one();
                        async move { Ok::<_, Infallible>(respond(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Server {
            addr,
            connections,
            requests,
            arrived,
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn requests(&self) -> Vec<Seen> {
        self.requests.lock().unwrap().clone()
    }

    /// The number of connections the server accepted before this one, shown by connecting
    /// directly: connections are accepted in the order they were made, so once this one has
    /// been answered, any connection the host made earlier has been counted.
    async fn connections_before_probe(&self) -> usize {
        let mut s = TcpStream::connect(self.addr).await.unwrap();
        s.write_all(b"GET /probe HTTP/1.1\r\nhost: probe\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        s.read_to_end(&mut answer).await.unwrap();
        assert!(answer.starts_with(b"HTTP/1.1 200"));
        self.connections.load(Ordering::SeqCst) - 1
    }
}

async fn platform() -> (tempfile::TempDir, Arc<Platform>) {
    common::platform(Arc::new(ManualClock::new(1_700_000_000_000)), |_| {})
}

/// The outbound state of a call of plugin `probe` on account `acme`, granted `patterns`.
fn call(p: &Arc<Platform>, patterns: &[String], limits: OutboundLimits) -> OutboundCall {
    call_until(
        p,
        patterns,
        limits,
        Instant::now() + Duration::from_secs(30),
    )
}

fn call_until(
    p: &Arc<Platform>,
    patterns: &[String],
    limits: OutboundLimits,
    deadline: Instant,
) -> OutboundCall {
    let grant = InstallationGrant(
        patterns
            .iter()
            .map(|s| format!("http.outbound:{s}").parse::<Capability>().unwrap())
            .collect(),
    );
    let grants = CallGrants::new("acme", "probe", "UTC", grant);
    OutboundCall::new(p.clone(), Arc::new(grants), limits, deadline)
}

fn empty() -> WasiBody {
    Empty::<Bytes>::new()
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

fn get(url: &str) -> http::Request<WasiBody> {
    http::Request::get(url).body(empty()).unwrap()
}

/// Sends as wasmtime-wasi-http does: through the hook, with the connection driven on its own task.
async fn send(
    call: &mut OutboundCall,
    req: http::Request<WasiBody>,
) -> Result<http::Response<WasiBody>, WasiHttpError> {
    let fut = call.send_request(req, None, Box::new(async { Ok(()) }));
    let (response, io) = Pin::from(fut).await?;
    tokio::spawn(Pin::from(io));
    Ok(response)
}

async fn body(response: http::Response<WasiBody>) -> Result<Bytes, WasiHttpError> {
    Ok(response.into_body().collect().await?.to_bytes())
}

fn only(records: &[OutboundRecord]) -> &OutboundRecord {
    assert_eq!(records.len(), 1, "{records:?}");
    &records[0]
}

#[tokio::test]
async fn a_granted_literal_address_is_reached_and_recorded_without_secrets() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let mut call = call(
        &p,
        &[format!("127.0.0.1:{}", server.port())],
        OutboundLimits::default(),
    );
    let url = format!("http://127.0.0.1:{}/hello?token=s3cret", server.port());
    let response = send(&mut call, get(&url)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(body(response).await.unwrap(), "hello from loopback");
    assert_eq!(server.connections_before_probe().await, 1);

    let rec = only(&call.records()).clone();
    assert_eq!(
        (
            rec.plugin.as_str(),
            rec.method.as_str(),
            rec.scheme.as_str()
        ),
        ("probe", "GET", "http")
    );
    assert_eq!((rec.host.as_str(), rec.port), ("127.0.0.1", server.port()));
    assert_eq!(
        (rec.status, &rec.refused, &rec.error),
        (Some(200), &None, &None)
    );
    let json = serde_json::to_string(&rec).unwrap();
    assert!(
        !json.contains("s3cret") && !json.contains("/hello"),
        "{json}"
    );
}

#[tokio::test]
async fn ungranted_host_port_or_scheme_is_refused_before_any_connection() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let port = server.port();
    let other_port = port.checked_add(1).unwrap_or(port - 1);
    let url = format!("http://127.0.0.1:{port}/hello");
    for (what, granted) in [
        (
            "host",
            vec![
                format!("api.example.com:{port}"),
                format!("127.0.0.2:{port}"),
            ],
        ),
        ("port", vec![format!("127.0.0.1:{other_port}")]),
        ("scheme", vec![format!("https://127.0.0.1:{port}")]),
    ] {
        let mut call = call(&p, &granted, OutboundLimits::default());
        let err = send(&mut call, get(&url)).await.unwrap_err();
        assert!(
            matches!(err, WasiHttpError::HttpRequestDenied),
            "{what}: {err}"
        );
        let rec = only(&call.records()).clone();
        assert_eq!(rec.status, None);
        let why = rec.refused.unwrap();
        assert!(why.contains(&format!("http://127.0.0.1:{port}")), "{why}");
        for g in &granted {
            assert!(why.contains(&format!("http.outbound:{g}")), "{why}");
        }
    }
    assert_eq!(server.connections_before_probe().await, 0);
    assert_eq!(server.requests().len(), 1, "only the probe arrived");
}

#[tokio::test]
async fn a_granted_name_resolving_to_loopback_is_refused_unless_the_address_is_granted() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let port = server.port();
    let url = format!("http://localhost:{port}/hello");

    let mut named_only = call(
        &p,
        &[format!("localhost:{port}")],
        OutboundLimits::default(),
    );
    let err = send(&mut named_only, get(&url)).await.unwrap_err();
    assert!(
        matches!(err, WasiHttpError::DestinationIpProhibited),
        "{err}"
    );
    assert_eq!(server.connections_before_probe().await, 0);
    let why = only(&named_only.records()).refused.clone().unwrap();
    assert!(why.contains("loopback"), "{why}");

    // Granting the addresses themselves (whichever family the resolver lists) lets it through.
    let mut literal = call(
        &p,
        &[
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ],
        OutboundLimits::default(),
    );
    let response = send(&mut literal, get(&url)).await.unwrap();
    assert_eq!(body(response).await.unwrap(), "hello from loopback");
    let seen = server.requests();
    let host = seen
        .iter()
        .find(|s| s.path == "/hello")
        .and_then(|s| s.headers.iter().find(|(k, _)| k == "host"))
        .map(|(_, v)| v.clone());
    assert_eq!(host, Some(format!("localhost:{port}")));
}

#[tokio::test]
async fn a_redirect_reaches_the_plugin_unfollowed_and_its_target_is_checked_again() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let mut call = call(
        &p,
        &[format!("127.0.0.1:{}", server.port())],
        OutboundLimits::default(),
    );
    let url = format!("http://127.0.0.1:{}/redirect", server.port());
    let response = send(&mut call, get(&url)).await.unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    drop(response);
    assert_eq!(server.requests().len(), 1);

    let err = send(&mut call, get(&location)).await.unwrap_err();
    assert!(matches!(err, WasiHttpError::HttpRequestDenied), "{err}");
    let records = call.records();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].status, Some(302));
    assert_eq!(records[1].host, "elsewhere.example");
    assert!(records[1].refused.is_some());
}

#[tokio::test]
async fn an_oversize_response_is_refused_when_declared_and_cut_when_streamed() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let mut call = call(
        &p,
        &[format!("127.0.0.1:{}", server.port())],
        OutboundLimits::default(),
    );
    let base = format!("http://127.0.0.1:{}", server.port());

    let err = send(&mut call, get(&format!("{base}/big")))
        .await
        .unwrap_err();
    assert!(
        matches!(err, WasiHttpError::HttpResponseBodySize(Some(n)) if n == MAX_RESPONSE_BODY),
        "{err}"
    );

    let response = send(&mut call, get(&format!("{base}/big-stream")))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut read = 0u64;
    let err = loop {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.into_data().map_or(0, |d| d.len() as u64),
            Some(Err(e)) => break e,
            None => panic!("the whole oversize body was delivered"),
        }
    };
    assert!(
        matches!(err, WasiHttpError::HttpResponseBodySize(_)),
        "{err}"
    );
    assert!(read <= MAX_RESPONSE_BODY, "{read} bytes reached the plugin");
    assert!(body.frame().await.is_none(), "reading stops at the limit");

    let records = call.records();
    assert_eq!(records.len(), 2);
    for rec in &records {
        assert_eq!(rec.status, Some(200));
        assert!(
            rec.error.as_deref().unwrap().contains("over the limit"),
            "{rec:?}"
        );
    }
}

#[tokio::test]
async fn a_call_may_make_only_so_many_requests() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let limits = OutboundLimits::default();
    let mut call = call(&p, &[format!("127.0.0.1:{}", server.port())], limits);
    let url = format!("http://127.0.0.1:{}/hello", server.port());
    for _ in 0..limits.max_requests {
        let response = send(&mut call, get(&url)).await.unwrap();
        body(response).await.unwrap();
    }
    for _ in 0..3 {
        let err = send(&mut call, get(&url)).await.unwrap_err();
        assert!(
            matches!(err, WasiHttpError::ConnectionLimitReached),
            "{err}"
        );
    }
    assert_eq!(server.requests().len(), limits.max_requests as usize);
    // One record per request made, and one for the first refusal only.
    let records = call.records();
    assert_eq!(records.len(), limits.max_requests as usize + 1);
    assert!(records.last().unwrap().refused.is_some());

    // A new call (a warm instance's next invocation) starts with a fresh allowance.
    call.start_call(Instant::now() + Duration::from_secs(30));
    let response = send(&mut call, get(&url)).await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn hop_by_hop_and_host_controlled_headers_are_not_forwarded() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let port = server.port();
    let mut call = call(
        &p,
        &[format!("127.0.0.1:{port}")],
        OutboundLimits::default(),
    );
    let req = http::Request::get(format!("http://127.0.0.1:{port}/headers"))
        .header("connection", "x-conn-named")
        .header("x-conn-named", "1")
        .header("keep-alive", "timeout=5")
        .header("te", "trailers")
        .header("trailer", "x-t")
        .header("upgrade", "websocket")
        .header("proxy-authorization", "Basic Zm9vOmJhcg==")
        .header("host", "evil.example")
        .header("forwarded", "for=10.0.0.1")
        .header("x-forwarded-for", "10.0.0.1")
        .header("x-forwarded-host", "admin.internal")
        .header("x-real-ip", "10.0.0.1")
        .header("x-plugin", "kept")
        .body(empty())
        .unwrap();
    let response = send(&mut call, req).await.unwrap();
    assert_eq!(response.status(), 200);
    body(response).await.unwrap();

    let seen = server.requests();
    let names: Vec<&str> = seen[0].headers.iter().map(|(k, _)| k.as_str()).collect();
    for gone in [
        "connection",
        "x-conn-named",
        "keep-alive",
        "te",
        "trailer",
        "upgrade",
        "proxy-authorization",
        "forwarded",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-real-ip",
    ] {
        assert!(!names.contains(&gone), "{gone} was forwarded: {names:?}");
    }
    let header = |name: &str| {
        seen[0]
            .headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-plugin"), Some("kept"));
    assert_eq!(header("host"), Some(format!("127.0.0.1:{port}").as_str()));
    assert_eq!(header("user-agent"), Some(USER_AGENT));
    assert!(USER_AGENT.starts_with("plaza/"));

    // A plugin's own user-agent is kept.
    let req = http::Request::get(format!("http://127.0.0.1:{port}/headers"))
        .header("user-agent", "shop-sync/2")
        .body(empty())
        .unwrap();
    body(send(&mut call, req).await.unwrap()).await.unwrap();
    let seen = server.requests();
    assert!(
        seen[1]
            .headers
            .contains(&("user-agent".into(), "shop-sync/2".into()))
    );
}

#[tokio::test]
async fn request_bodies_are_bounded_declared_or_streamed() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let port = server.port();
    let limits = OutboundLimits {
        max_request_body: 1024,
        ..OutboundLimits::default()
    };
    let mut call = call(&p, &[format!("127.0.0.1:{port}")], limits);
    let url = format!("http://127.0.0.1:{port}/upload");

    // Within the limit: delivered.
    let ok = http::Request::post(&url)
        .body(
            Full::new(Bytes::from(vec![1u8; 1024]))
                .map_err(|e| match e {})
                .boxed_unsync(),
        )
        .unwrap();
    assert_eq!(
        body(send(&mut call, ok).await.unwrap()).await.unwrap(),
        "1024"
    );

    // Declared over it: refused before connecting.
    let declared = http::Request::post(&url)
        .header("content-length", "1025")
        .body(
            Full::new(Bytes::from(vec![1u8; 1025]))
                .map_err(|e| match e {})
                .boxed_unsync(),
        )
        .unwrap();
    let err = send(&mut call, declared).await.unwrap_err();
    assert!(
        matches!(err, WasiHttpError::HttpRequestBodySize(Some(1024))),
        "{err}"
    );
    assert_eq!(server.connections_before_probe().await, 1);

    // Streamed without a length: cut off at the limit.
    let chunks = futures_util::stream::iter(
        (0..4).map(|_| Ok::<_, WasiHttpError>(Frame::data(Bytes::from(vec![2u8; 512])))),
    );
    let streamed = http::Request::post(&url)
        .body(StreamBody::new(chunks).boxed_unsync())
        .unwrap();
    let err = send(&mut call, streamed).await.unwrap_err();
    assert!(
        matches!(err, WasiHttpError::HttpRequestBodySize(Some(1024))),
        "{err}"
    );

    let records = call.records();
    assert_eq!(records.len(), 3);
    assert!(
        records[1]
            .refused
            .as_deref()
            .unwrap()
            .contains("1024 bytes")
    );
    assert!(records[2].error.as_deref().unwrap().contains("1024 bytes"));
}

#[tokio::test]
async fn nothing_outlives_the_plugin_calls_deadline() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let port = server.port();
    let granted = [format!("127.0.0.1:{port}")];

    // Past the deadline, a request is refused before connecting.
    let mut late = call_until(&p, &granted, OutboundLimits::default(), Instant::now());
    let err = send(&mut late, get(&format!("http://127.0.0.1:{port}/hello")))
        .await
        .unwrap_err();
    assert!(matches!(err, WasiHttpError::ConnectionTimeout), "{err}");
    assert_eq!(server.connections_before_probe().await, 0);

    // A server that never answers: the request ends at the deadline, well before the 10 s
    // first-byte timeout.
    let deadline = Instant::now() + Duration::from_millis(300);
    let mut call = call_until(&p, &granted, OutboundLimits::default(), deadline);
    let err = send(&mut call, get(&format!("http://127.0.0.1:{port}/never")))
        .await
        .unwrap_err();
    assert!(matches!(err, WasiHttpError::HttpResponseTimeout), "{err}");
    assert!(Instant::now() >= deadline);
    let rec = only(&call.records()).clone();
    assert!(rec.error.unwrap().contains("deadline"));
}

#[tokio::test]
async fn a_request_dropped_in_flight_is_still_recorded() {
    let (_dir, p) = platform().await;
    let server = Server::start().await;
    let port = server.port();
    let mut call = call(
        &p,
        &[format!("127.0.0.1:{port}")],
        OutboundLimits::default(),
    );
    let url = format!("http://127.0.0.1:{port}/never");
    // As wasmtime-wasi-http does: the send runs on its own task, which is aborted when the
    // plugin drops the pending response or its store goes away.
    let pending = Pin::from(call.send_request(get(&url), None, Box::new(async { Ok(()) })));
    let task = tokio::spawn(pending);
    server.arrived.notified().await;
    assert!(call.records().is_empty());
    task.abort();
    match task.await {
        Err(e) => assert!(e.is_cancelled(), "{e}"),
        Ok(_) => panic!("a server that never answers answered"),
    }
    let rec = only(&call.records()).clone();
    assert_eq!(rec.status, None);
    assert!(
        rec.error.as_deref().unwrap().contains("abandoned"),
        "{rec:?}"
    );
}

#[tokio::test]
async fn connect_is_refused_as_connection_refused_not_as_a_policy_error() {
    let (_dir, p) = platform().await;
    // A port bound but not listening: reserved for this test, and every connection is refused.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    let mut call = call(
        &p,
        &[format!("127.0.0.1:{port}")],
        OutboundLimits::default(),
    );
    let err = send(&mut call, get(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, WasiHttpError::ConnectionRefused), "{err}");
    let rec = only(&call.records()).clone();
    assert!(rec.refused.is_none() && rec.error.is_some(), "{rec:?}");
}

#[tokio::test]
async fn connect_requests_and_non_http_urls_are_refused() {
    let (_dir, p) = platform().await;
    let mut call = call(&p, &["api.example.com".into()], OutboundLimits::default());
    let connect = http::Request::builder()
        .method("CONNECT")
        .uri("http://api.example.com/")
        .body(empty())
        .unwrap();
    let err = send(&mut call, connect).await.unwrap_err();
    assert!(
        matches!(err, WasiHttpError::HttpRequestMethodInvalid),
        "{err}"
    );
    let err = send(&mut call, get("/relative")).await.unwrap_err();
    assert!(matches!(err, WasiHttpError::HttpRequestUriInvalid), "{err}");
    assert_eq!(call.records().len(), 2);
}

/// A self-signed certificate for `localhost` and `127.0.0.1`: no public CA vouches for it.
const SELF_SIGNED_CERT: &str = "-----BEGIN CERTIFICATE-----
MIIBmjCCAUGgAwIBAgIUGx0Vmay50agIgrWmkYBFh9nn7+IwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEyNzE5MDgxN1oYDzIxMjYxMTAz
MTkwODE3WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAARiuXpq/JH8cc0tcwO3B9SRNEgiaWWWl2U5P9PeeWN0T5KbwOI99zB4
13dQhrreZnl1pbO/ckAQIcSAnIkH3Bmyo28wbTAdBgNVHQ4EFgQUvon3sWe49hy4
1J72Bdhr9jowUxUwHwYDVR0jBBgwFoAUvon3sWe49hy41J72Bdhr9jowUxUwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDRwAwRAIgJ+dLNXCaJwFy9oD/PIfMoit/pgNG21uowqrSWaRo1U0CIESR
H0JChSFCD3tbdQhBDU7JiAYclufD3N0UYoUJWxF3
-----END CERTIFICATE-----
";
const SELF_SIGNED_KEY: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgOVDFzJgPJdP0aX/T
1LIRJQksM6obpr4Zg18OKxW9zFuhRANCAARiuXpq/JH8cc0tcwO3B9SRNEgiaWWW
l2U5P9PeeWN0T5KbwOI99zB413dQhrreZnl1pbO/ckAQIcSAnIkH3Bmy
-----END PRIVATE KEY-----
";

#[tokio::test]
async fn https_verifies_the_server_certificate_against_the_public_roots() {
    use tokio_rustls::rustls;
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let (_dir, p) = platform().await;
    let cert = CertificateDer::from_pem_slice(SELF_SIGNED_CERT.as_bytes()).unwrap();
    let key = PrivateKeyDer::from_pem_slice(SELF_SIGNED_KEY.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        acceptor.accept(tcp).await.map(|_| ())
    });

    let mut call = call(
        &p,
        &[format!("https://127.0.0.1:{port}")],
        OutboundLimits::default(),
    );
    let err = send(&mut call, get(&format!("https://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert!(matches!(err, WasiHttpError::TlsCertificateError), "{err}");
    // The server got as far as the handshake, which the host then aborted.
    assert!(server.await.unwrap().is_err());
    let rec = only(&call.records()).clone();
    assert!(rec.error.as_deref().unwrap().contains("TLS"), "{rec:?}");
}
