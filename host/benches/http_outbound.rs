//! Outbound HTTP overhead: one GET through the plugin send path (`OutboundCall`, what every
//! `wasi:http` request of a plugin goes through: grant check, resolution and address vetting,
//! header clean-up, bounded bodies, the record) against a direct `ureq` call to the same loopback
//! server. Both open a new connection per request, as the plugin path always does; a pooled
//! `ureq` agent is shown for scale.
//!
//! Run: `cargo bench -p plaza-host --bench http_outbound`. Results are recorded in BENCHMARKS.md.

use std::convert::Infallible;
use std::io::Read;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http_body_util::{BodyExt, Empty, Full};
use plaza_host::http_outbound::{OutboundCall, OutboundLimits};
use plaza_host::plugins::grants::{CallGrants, Capability, InstallationGrant};
use plaza_host::{Platform, PlatformOptions};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{WasiBody, WasiHttpHooks};

const BODY: &str = "hello from loopback";

/// A loopback HTTP/1.1 server on its own runtime thread, answering every request with [`BODY`].
fn start_server() -> (tokio::runtime::Runtime, u16) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req| async {
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(BODY))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (rt, port)
}

fn empty() -> WasiBody {
    Empty::<Bytes>::new()
        .map_err(|e: Infallible| match e {})
        .boxed_unsync()
}

fn bench(c: &mut Criterion) {
    let (_server, port) = start_server();
    let url = format!("http://127.0.0.1:{port}/hello");
    let dir = tempfile::tempdir().expect("tempdir");
    let platform = Platform::open(PlatformOptions::new(dir.path().join("data"))).expect("platform");
    let grant = InstallationGrant(
        [format!("http.outbound:127.0.0.1:{port}")
            .parse::<Capability>()
            .expect("grant")]
        .into_iter()
        .collect(),
    );
    let grants = Arc::new(CallGrants::new("bench", "probe", "UTC", grant));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("client runtime");

    let mut group = c.benchmark_group("outbound_get");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    // A fresh call state per request, as a plugin call making one request has.
    group.bench_function("plaza_send_path", |b| {
        b.to_async(&rt).iter(|| async {
            let mut call = OutboundCall::new(
                platform.clone(),
                grants.clone(),
                OutboundLimits::default(),
                tokio::time::Instant::now() + Duration::from_secs(10),
            );
            let req = http::Request::get(&url).body(empty()).expect("request");
            let fut = call.send_request(req, None, Box::new(async { Ok(()) }));
            let (response, io) = Pin::from(fut).await.expect("send");
            tokio::spawn(Pin::from(io));
            let body = response.into_body().collect().await.expect("body");
            assert_eq!(body.to_bytes().len(), BODY.len());
        })
    });

    group.bench_function("plaza_send_path_refused", |b| {
        b.to_async(&rt).iter(|| async {
            let mut call = OutboundCall::new(
                platform.clone(),
                grants.clone(),
                OutboundLimits::default(),
                tokio::time::Instant::now() + Duration::from_secs(10),
            );
            let req = http::Request::get("http://api.example.com/")
                .body(empty())
                .expect("request");
            let fut = call.send_request(req, None, Box::new(async { Ok(()) }));
            assert!(Pin::from(fut).await.is_err());
        })
    });

    let fresh = ureq::Agent::new_with_config(
        ureq::Agent::config_builder()
            .max_idle_connections(0)
            .build(),
    );
    group.bench_function("ureq_direct_new_connection", |b| {
        b.iter(|| {
            let mut response = fresh.get(&url).call().expect("ureq");
            let mut body = String::new();
            response
                .body_mut()
                .as_reader()
                .read_to_string(&mut body)
                .expect("body");
            assert_eq!(body, BODY);
        })
    });

    let pooled = ureq::Agent::new_with_defaults();
    group.bench_function("ureq_direct_pooled", |b| {
        b.iter(|| {
            let body = pooled
                .get(&url)
                .call()
                .expect("ureq")
                .body_mut()
                .read_to_string()
                .expect("body");
            assert_eq!(body, BODY);
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
