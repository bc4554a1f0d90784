//! The competitor-analysis plugin end to end: the real binary and the bundled
//! `competitor_analysis.wasm` (and `analytics.wasm` for the own account's numbers), operator
//! calls with the admin token, a loopback server playing the data provider, and the probe
//! installed as `editor` emitting the editor's article events. Numbers are computed by hand from
//! each script.
//!
//! The host stamps log entries with its own clock, so the own account's events happen "today";
//! the account's timezone is the `Etc/GMT±N` zone where it is about noon when the test starts, so
//! "today" does not change under the test.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use plaza_tests::*;
use serde_json::{Value, json};

mod common;
use common::{ADMIN, request};

const ACCOUNT: &str = "acct";
const BASE: &str = "/p/acct/competitor-analysis";
const GRANTS: &[&str] = &[
    "storage",
    "http.routes",
    "scheduling",
    "messaging.send",
    "query:analytics",
];

/// Local `YYYY-MM-DD` `days_ago` days before now, and its weekday (0 = Monday).
fn day(offset_h: i64, days_ago: i64) -> (String, i64) {
    let local = now_ms() as i64 + offset_h * 3_600_000 - days_ago * 86_400_000;
    let days = local.div_euclid(86_400_000);
    let weekday = (days + 3).rem_euclid(7); // 1970-01-01 was a Thursday.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (format!("{y:04}-{m:02}-{d:02}"), weekday)
}

fn date(offset_h: i64, days_ago: i64) -> String {
    day(offset_h, days_ago).0
}

struct World {
    _tmp: tempfile::TempDir,
    server: Server,
    offset: i64,
}

/// A server with account `acct` (noon timezone) and competitor-analysis installed from
/// `manifest` (the bundled one unless given) with `grants` and `config`.
fn world(config: Value, manifest: Option<String>, extra_grants: &[&str]) -> World {
    let (zone, offset) = noon_zone();
    let (tmp, dir) = data_dir();
    let server = Server::start(&dir, false);
    let a = server.post(
        "/api/v1/accounts",
        &json!({ "id": ACCOUNT, "name": "本号 Acme", "kind": "service", "verified": true, "timezone": zone }),
    );
    assert_eq!(a.status, 201, "{a:?}");
    let patched = manifest.is_some();
    if let Some(manifest) = manifest {
        let (_, wasm) = plugin_files(
            "plugins/competitor-analysis/plugin.toml",
            "competitor_analysis",
        );
        let up = server.upload(&manifest, &wasm);
        assert!(up.status == 201 || up.status == 200, "{up:?}");
    }
    let mut grants: Vec<&str> = GRANTS.to_vec();
    grants.extend_from_slice(extra_grants);
    let mut body = json!({ "plugin": "competitor-analysis", "grants": grants, "config": config });
    if patched {
        body["version"] = json!("0.1.1");
    }
    let inst = server.install(ACCOUNT, body);
    assert_eq!(inst.status, 201, "{inst:?}");
    World {
        _tmp: tmp,
        server,
        offset,
    }
}

/// An operator call (admin token) with a JSON body or none.
fn op(w: &World, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut headers = vec![ADMIN];
    if !body.is_empty() {
        headers.push(("content-type", "application/json"));
    }
    let a = request(
        &w.server,
        method,
        &format!("{BASE}{path}"),
        &headers,
        body.as_bytes(),
    );
    (a.status, a.body)
}

/// An upload with a content type.
fn upload(w: &World, path: &str, content_type: &str, body: &str) -> (u16, Value) {
    let a = request(
        &w.server,
        "POST",
        &format!("{BASE}{path}"),
        &[ADMIN, ("content-type", content_type)],
        body.as_bytes(),
    );
    (a.status, a.body)
}

fn add_peer(w: &World, body: Value) {
    let (status, answer) = op(w, "POST", "/api/peers", Some(body));
    assert_eq!(status, 201, "{answer}");
}

fn peer_col<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["peers"]
        .as_array()
        .and_then(|a| a.iter().find(|c| c["id"] == id))
        .unwrap_or_else(|| panic!("no column {id} in {report}"))
}

fn keywords(col: &Value) -> Vec<String> {
    col["top_keywords"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|k| k["word"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn uploads_are_validated_idempotent_and_compared_with_the_own_account() {
    let w = world(json!({}), None, &[]);
    let server = &w.server;
    let inst = server.install(
        ACCOUNT,
        json!({ "plugin": "analytics", "grants": ["events.read", "followers.read", "storage", "http.routes"] }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    // The probe plays the editor (a version of its own: the bundled editor is registered too).
    let probe = probe_manifest("editor", &["events.emit"], 32, 500)
        .replace("version = \"0.1.0\"", "version = \"0.0.1\"");
    let up = server.upload(&probe, &probe_wasm());
    assert_eq!(up.status, 201, "{up:?}");
    let inst = server.install(
        ACCOUNT,
        json!({ "plugin": "editor", "version": "0.0.1", "grants": ["events.emit"] }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    // The own account today: 2 new followers, 1 article published, 3 reads, 1 share, 2 likes.
    for o in ["f1", "f2"] {
        assert_eq!(server.event(ACCOUNT, o, "subscribe").status, 200);
    }
    let emit = |from: &str, id: &str, kind: &str, props: &str| {
        let a = server.text(ACCOUNT, from, id, &format!("@editor emit {kind} {props}"));
        assert!(
            a.reply_text().unwrap_or_default().starts_with("emitted:"),
            "{a:?}"
        );
    };
    emit(
        "f1",
        "e1",
        "editor.article.published",
        "article=a1,title=春节年货采购指南",
    );
    emit(
        "f1",
        "e2",
        "editor.article.read",
        "article=a1,title=春节年货采购指南",
    );
    emit(
        "f2",
        "e3",
        "editor.article.read",
        "article=a1,title=春节年货采购指南",
    );
    emit(
        "f2",
        "e4",
        "editor.article.read",
        "article=a1,title=春节年货采购指南",
    );
    emit(
        "f2",
        "e5",
        "editor.article.share",
        "article=a1,title=春节年货采购指南",
    );
    emit(
        "f1",
        "e6",
        "editor.article.like",
        "article=a1,title=春节年货采购指南",
    );
    emit(
        "f2",
        "e7",
        "editor.article.like",
        "article=a1,title=春节年货采购指南",
    );

    add_peer(
        &w,
        json!({ "id": "rival", "name": "对手 <Rival>", "category": "美食", "wechat_id": "rival_wx" }),
    );
    add_peer(
        &w,
        json!({ "id": "other", "name": "Other", "category": "tea" }),
    );
    let (status, dup) = op(
        &w,
        "POST",
        "/api/peers",
        Some(json!({ "id": "rival", "name": "x" })),
    );
    assert_eq!(
        (status, dup["error"]["code"].as_str()),
        (409, Some("conflict")),
        "{dup}"
    );
    let (status, bad) = op(
        &w,
        "POST",
        "/api/peers",
        Some(json!({ "id": "Bad Id!", "name": "x" })),
    );
    assert_eq!(status, 400, "{bad}");

    let (t0, t1, t8, t20) = (
        date(w.offset, 0),
        date(w.offset, 1),
        date(w.offset, 8),
        date(w.offset, 20),
    );
    // A CSV with a BOM, a Chinese title with a comma (quoted), and one row outside the range.
    let csv = format!(
        "\u{feff}date,title,reads,likes,shares,url\n\
{t0},\"春节年货，零食推荐\",1000,50,20,https://mp.example/r1\n\
{t1},年货采购清单,500,10,5,\n\
{t8},咖啡拉花教程,300,30,3,\n\
{t20},旧文章,99999,0,0,\n"
    );
    let (status, stored) = upload(&w, "/api/peers/rival/metrics", "text/csv", &csv);
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        (stored["stored"].as_u64(), stored["replaced"].as_u64()),
        (Some(4), Some(0))
    );

    // A bad upload: every bad field of every row, 422, nothing stored.
    let bad_csv = format!(
        "date,title,reads,likes,shares\n{t0},好文章,10,1,1\n2026-02-30,坏日期,1,1,1\n{t0},,-5,x,1\n"
    );
    let (status, refused) = upload(&w, "/api/peers/rival/metrics", "text/csv", &bad_csv);
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "invalid");
    let rows: Vec<(u64, String)> = refused["error"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap_or(0),
                r["field"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (2, "date".to_string()),
            (3, "title".to_string()),
            (3, "reads".to_string()),
            (3, "likes".to_string())
        ]
    );
    // JSON to the account-wide route: unknown peer refused, nothing stored either.
    let (status, refused) = upload(
        &w,
        "/api/metrics",
        "application/json",
        &json!([
            { "peer": "other", "date": t0, "title": "Tea time 下午茶", "reads": 10, "likes": 1, "shares": 0 },
            { "peer": "ghost", "date": t0, "title": "x", "reads": 1, "likes": 1, "shares": 1 }
        ])
        .to_string(),
    );
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["rows"][0]["field"], "peer");
    let (_, other) = op(
        &w,
        "GET",
        &format!("/api/peers/other/metrics?from={t20}&to={t0}"),
        None,
    );
    assert_eq!(
        other["articles"].as_array().map(Vec::len),
        Some(0),
        "{other}"
    );
    let (status, ok) = upload(
        &w,
        "/api/metrics",
        "application/json",
        &json!([
            { "peer": "other", "date": t0, "title": "Tea time 下午茶", "reads": 10, "likes": "1", "shares": 0 }
        ])
        .to_string(),
    );
    assert_eq!((status, ok["stored"].as_u64()), (200, Some(1)), "{ok}");

    // Re-uploading the same articles (by url, and by date + title) replaces them.
    let again = format!(
        "date,title,reads,likes,shares,url\n\
{t0},春节年货零食推荐（改标题）,1200,50,20,https://mp.example/r1\n\
{t1},年货采购清单,600,10,5,\n"
    );
    let (status, replaced) = upload(&w, "/api/peers/rival/metrics", "text/csv", &again);
    assert_eq!(status, 200, "{replaced}");
    assert_eq!(replaced["replaced"].as_u64(), Some(2), "{replaced}");
    let (_, arts) = op(
        &w,
        "GET",
        &format!("/api/peers/rival/metrics?from={t20}&to={t0}"),
        None,
    );
    assert_eq!(arts["articles"].as_array().map(Vec::len), Some(4), "{arts}");

    // The report over the last 14 days: rival 3 posts (1200 + 600 + 300 reads), other 1, own 1.
    let t13 = date(w.offset, 13);
    let (status, report) = op(&w, "GET", &format!("/api/report?from={t13}&to={t0}"), None);
    assert_eq!(status, 200, "{report}");
    let rival = peer_col(&report, "rival");
    assert_eq!(rival["posts"], 3, "{rival}");
    assert_eq!(rival["reads"], 2100);
    assert_eq!(rival["likes"], 90);
    assert_eq!(rival["shares"], 28);
    assert_eq!(rival["reads_per_post"], 700.0);
    assert_eq!(rival["posts_per_week"], 1.5);
    assert_eq!(
        rival["weekly_posts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum::<u64>(),
        3
    );
    let words = keywords(rival);
    assert_eq!(words.first().map(String::as_str), Some("年货"), "{words:?}");
    assert!(words.iter().any(|w| w == "咖啡"), "{words:?}");
    assert!(
        !words.iter().any(|w| w == "，" || w == "旧文章"),
        "{words:?}"
    );
    assert_eq!(peer_col(&report, "other")["reads"], 10);
    let own = &report["own"];
    assert_eq!(own["available"], true, "{own}");
    let col = &own["column"];
    assert_eq!(
        (
            col["posts"].as_u64(),
            col["reads"].as_u64(),
            col["shares"].as_u64(),
            col["likes"].as_u64()
        ),
        (Some(1), Some(3), Some(1), Some(2)),
        "{col}"
    );
    assert_eq!(col["reads_per_post"], 3.0);
    assert!(keywords(col).iter().any(|w| w == "年货"), "{col}");

    // Charts and the operator page: every account drawn, names escaped.
    let svg = request(
        server,
        "GET",
        &format!("{BASE}/charts/reads.svg?from={t13}&to={t0}"),
        &[ADMIN],
        b"",
    );
    assert_eq!(svg.status, 200);
    assert_eq!(
        svg.header("content-type"),
        Some("image/svg+xml; charset=utf-8")
    );
    let svg = svg.text();
    assert!(
        svg.contains("对手 &lt;Rival&gt;") && !svg.contains("<Rival>"),
        "{svg}"
    );
    assert!(svg.contains(">700<"), "{svg}");
    let lines = request(
        server,
        "GET",
        &format!("{BASE}/charts/posts.svg?from={t13}&to={t0}"),
        &[ADMIN],
        b"",
    );
    assert_eq!(
        lines.text().matches("<polyline").count(),
        3,
        "{}",
        lines.text()
    );
    let page = request(
        server,
        "GET",
        &format!("{BASE}/?from={t13}&to={t0}"),
        &[ADMIN],
        b"",
    );
    assert_eq!(page.status, 200);
    assert!(
        page.text().contains("对手 &lt;Rival&gt;") && page.text().contains("<svg"),
        "{}",
        page.text()
    );

    // Operators only; bad ranges and unknown peers are typed errors.
    let anon = request(server, "GET", &format!("{BASE}/api/report"), &[], b"");
    assert_eq!(anon.status, 403);
    let (status, e) = op(&w, "GET", "/api/report?from=2026-13-01", None);
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid")),
        "{e}"
    );
    let (status, e) = op(&w, "POST", "/api/peers/ghost/metrics", Some(json!([])));
    assert_eq!(status, 404, "{e}");

    // Deleting a peer removes its articles from the report.
    let (status, _) = op(&w, "DELETE", "/api/peers/other", None);
    assert_eq!(status, 200);
    let (_, report) = op(&w, "GET", &format!("/api/report?from={t13}&to={t0}"), None);
    assert_eq!(
        report["peers"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
}

/// A loopback HTTP server playing the data provider: `/peers/<id>/articles?since=…` answers the
/// JSON set for `<id>` (404 otherwise); counts connections and keeps the request paths.
struct Provider {
    port: u16,
    connections: Arc<AtomicUsize>,
    paths: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Provider {
    fn start(answers: Vec<(String, String)>) -> Provider {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let connections = Arc::new(AtomicUsize::new(0));
        let paths = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (seen, kept) = (connections.clone(), paths.clone());
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
                kept.lock().expect("lock").push(path.clone());
                let found = answers
                    .iter()
                    .find(|(id, _)| path.starts_with(&format!("/peers/{id}/articles?since=")));
                let (status, body) = match found {
                    Some((_, body)) => ("200 OK", body.clone()),
                    None => ("404 Not Found", "{}".to_string()),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes());
                let mut rest = Vec::new();
                let _ = reader.read_to_end(&mut rest);
            }
        });
        Provider {
            port,
            connections,
            paths,
        }
    }
}

/// The bundled manifest with `http.outbound:<target>` added to its capabilities.
fn manifest_with_outbound(target: &str) -> String {
    let (manifest, _) = plugin_files(
        "plugins/competitor-analysis/plugin.toml",
        "competitor_analysis",
    );
    let patched = manifest
        .replace("version = \"0.1.0\"", "version = \"0.1.1\"")
        .replace(
            "\"query:analytics\"]",
            &format!("\"query:analytics\", \"http.outbound:{target}\"]"),
        );
    assert_ne!(
        patched, manifest,
        "the capabilities line changed; update this test"
    );
    patched
}

#[test]
fn the_provider_is_fetched_over_granted_http_only_and_validated_like_uploads() {
    let (_, offset) = noon_zone();
    let (t0, t2) = (date(offset, 0), date(offset, 2));
    let provider = Provider::start(vec![
        (
            "rival_wx".into(),
            json!({ "articles": [
                { "date": t0, "title": "新品咖啡上市", "reads": 800, "likes": 40, "shares": 8, "url": "https://mp.example/p1" },
                { "date": t2, "title": "咖啡豆选购", "reads": "200", "likes": 10, "shares": 2 }
            ]})
            .to_string(),
        ),
        (
            "bad_wx".into(),
            json!([
                { "date": t0, "title": "ok", "reads": 1, "likes": 1, "shares": 1 },
                { "date": "yesterday", "title": "bad", "reads": -1, "likes": 1, "shares": 1 }
            ])
            .to_string(),
        ),
    ]);
    let outbound = format!("127.0.0.1:{}", provider.port);
    let grant = format!("http.outbound:{outbound}");
    let config = json!({ "provider": {
        "url_template": format!("http://{outbound}/peers/{{wechat_id}}/articles?since={{date}}"),
        "cron": "30 6 * * *",
        "since_days": 3
    }});
    let w = world(config, Some(manifest_with_outbound(&outbound)), &[&grant]);
    add_peer(
        &w,
        json!({ "id": "rival", "name": "Rival", "wechat_id": "rival_wx" }),
    );
    add_peer(
        &w,
        json!({ "id": "broken", "name": "Broken", "wechat_id": "bad_wx" }),
    );
    add_peer(&w, json!({ "id": "manual", "name": "Manual only" }));

    let (status, sync) = op(&w, "POST", "/api/sync", None);
    assert_eq!(status, 200, "{sync}");
    let by_peer = |id: &str| {
        sync["peers"]
            .as_array()
            .and_then(|a| a.iter().find(|p| p["peer"] == id).cloned())
            .unwrap_or_else(|| panic!("no {id} in {sync}"))
    };
    assert_eq!(
        (
            by_peer("rival")["ok"].as_bool(),
            by_peer("rival")["stored"].as_u64()
        ),
        (Some(true), Some(2))
    );
    let broken = by_peer("broken");
    assert_eq!(broken["ok"], false);
    let fields: Vec<&str> = broken["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["date", "reads"], "{broken}");
    assert!(
        by_peer("manual")["error"]
            .as_str()
            .unwrap()
            .contains("wechat_id")
    );
    let since = date(offset, 3);
    assert!(
        provider
            .paths
            .lock()
            .unwrap()
            .contains(&format!("/peers/rival_wx/articles?since={since}")),
        "{:?}",
        provider.paths.lock().unwrap()
    );
    // What the sync stored, and nothing of the broken answer.
    let (_, arts) = op(
        &w,
        "GET",
        &format!("/api/peers/rival/metrics?from={t2}&to={t0}"),
        None,
    );
    assert_eq!(arts["articles"].as_array().map(Vec::len), Some(2), "{arts}");
    assert_eq!(arts["articles"][1]["keywords"][0], "新品", "{arts}");
    let (_, none) = op(
        &w,
        "GET",
        &format!("/api/peers/broken/metrics?from={t2}&to={t0}"),
        None,
    );
    assert_eq!(none["articles"].as_array().map(Vec::len), Some(0), "{none}");
    // Syncing again does not double count.
    let (_, _) = op(&w, "POST", "/api/sync", None);
    let (_, report) = op(&w, "GET", &format!("/api/report?from={t2}&to={t0}"), None);
    assert_eq!(peer_col(&report, "rival")["reads"], 1000, "{report}");
    // Without analytics the own column says so.
    assert_eq!(report["own"]["available"], false);
    assert!(
        report["own"]["note"]
            .as_str()
            .unwrap()
            .contains("analytics not installed"),
        "{report}"
    );
    // The last sync is visible to the operator.
    let (_, last) = op(&w, "GET", "/api/sync", None);
    assert_eq!(last["last"]["trigger"], "manual", "{last}");
    // The scheduled jobs follow the configuration.
    let (_, jobs) = op(&w, "GET", "/api/schedule", None);
    let mut crons: Vec<(String, String)> = jobs["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|j| {
            (
                j["payload"].as_str().unwrap().to_string(),
                j["cron"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    crons.sort();
    assert_eq!(
        crons,
        vec![
            ("competitor.report".to_string(), "0 9 * * 1".to_string()),
            ("competitor.sync".to_string(), "30 6 * * *".to_string())
        ]
    );
}

#[test]
fn an_ungranted_provider_host_is_refused_and_the_sync_says_why() {
    let provider = Provider::start(vec![(
        "rival_wx".into(),
        json!([{ "date": "2026-01-05", "title": "x", "reads": 1, "likes": 1, "shares": 1 }])
            .to_string(),
    )]);
    // The manifest requests the host, but the operator does not grant it.
    let outbound = format!("127.0.0.1:{}", provider.port);
    let config = json!({ "provider": {
        "url_template": format!("http://{outbound}/peers/{{wechat_id}}/articles?since={{date}}")
    }});
    let w = world(config, Some(manifest_with_outbound(&outbound)), &[]);
    add_peer(
        &w,
        json!({ "id": "rival", "name": "Rival", "wechat_id": "rival_wx" }),
    );
    let (status, sync) = op(&w, "POST", "/api/sync", None);
    assert_eq!(status, 200, "{sync}");
    let peer = &sync["peers"][0];
    assert_eq!(peer["ok"], false, "{sync}");
    assert!(
        peer["error"].as_str().unwrap().contains("not granted"),
        "{sync}"
    );
    assert_eq!(provider.connections.load(Ordering::SeqCst), 0);
    let (_, arts) = op(
        &w,
        "GET",
        "/api/peers/rival/metrics?from=2026-01-01&to=2026-01-31",
        None,
    );
    assert_eq!(arts["articles"].as_array().map(Vec::len), Some(0), "{arts}");
    let page = request(&w.server, "GET", &format!("{BASE}/"), &[ADMIN], b"");
    assert!(page.text().contains("not granted"), "{}", page.text());
}

#[test]
fn the_weekly_report_is_stored_and_sent_to_the_operators_who_follow() {
    let w = world(json!({ "report_to": ["op-lead", "op-away"] }), None, &[]);
    let server = &w.server;
    // op-lead wrote to the account (48 h window open); op-away does not follow it.
    assert_eq!(server.text(ACCOUNT, "op-lead", "m1", "hello").status, 200);
    add_peer(
        &w,
        json!({ "id": "rival", "name": "对手 Rival", "category": "美食" }),
    );
    // Last week (Monday to Sunday before today's week): two articles; this week: one.
    let (_, weekday) = day(w.offset, 0);
    let last_monday = weekday + 7;
    let (d1, d2, now) = (
        date(w.offset, last_monday),
        date(w.offset, last_monday - 6),
        date(w.offset, 0),
    );
    let csv = format!(
        "date,title,reads,likes,shares\n{d1},周一咖啡推荐,100,10,1\n{d2},周日早餐,300,30,3\n{now},本周新文,5000,1,1\n"
    );
    let (status, stored) = upload(&w, "/api/peers/rival/metrics", "text/csv", &csv);
    assert_eq!(status, 200, "{stored}");

    let (status, run) = op(
        &w,
        "POST",
        "/api/reports/run",
        Some(json!({ "week_of": now })),
    );
    assert_eq!(status, 200, "{run}");
    assert_eq!(run["week"], d1.as_str(), "{run}");
    let rival = peer_col(&run["report"], "rival");
    assert_eq!(
        (rival["posts"].as_u64(), rival["reads"].as_u64()),
        (Some(2), Some(400)),
        "{rival}"
    );
    assert!(
        run["text"]
            .as_str()
            .unwrap()
            .contains("对手 Rival: 2 篇 posts, 400 阅读 reads (200 /post)"),
        "{run}"
    );
    let deliveries = run["deliveries"].as_array().unwrap();
    assert_eq!(deliveries[0]["openid"], "op-lead");
    assert_eq!(deliveries[0]["ok"], true, "{run}");
    assert_eq!(deliveries[1]["ok"], false, "{run}");
    assert!(
        deliveries[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("not_found"),
        "{run}"
    );

    // op-lead got a link to the report page; it opens for them.
    let sent = eventually("the report message", || {
        server
            .outbox(ACCOUNT, "op-lead")
            .into_iter()
            .find(|m| m["msg_type"] == "article_link")
    });
    assert!(sent["title"].as_str().unwrap().contains(&d1), "{sent}");
    let url = sent["url"].as_str().expect("url").to_string();
    let path = url
        .strip_prefix(&server.base)
        .expect("a link to this server")
        .to_string();
    let page = request(server, "GET", &path, &[], b"");
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("对手 Rival") && page.text().contains("<svg"),
        "{}",
        page.text()
    );
    // Without the signature (and no operator token) it does not open.
    let bare = request(server, "GET", &format!("{BASE}/reports/{d1}"), &[], b"");
    assert_eq!(bare.status, 401);

    // Stored and listed; the job is scheduled at the default Monday 09:00.
    let (_, list) = op(&w, "GET", "/api/reports", None);
    assert_eq!(list["reports"].as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list["reports"][0]["week"], d1.as_str());
    let (_, jobs) = op(&w, "GET", "/api/schedule", None);
    assert_eq!(jobs["jobs"].as_array().map(Vec::len), Some(1), "{jobs}");
    assert_eq!(jobs["jobs"][0]["cron"], "0 9 * * 1");
    assert_eq!(jobs["jobs"][0]["payload"], "competitor.report");
    let (status, e) = op(
        &w,
        "POST",
        "/api/reports/run",
        Some(json!({ "week_of": "soon" })),
    );
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (400, Some("invalid")),
        "{e}"
    );
}

/// Benchmark (run by hand): 50 peers × 1 year of daily posts (18 250 articles) uploaded one CSV
/// per peer, then the year-long report (with analytics installed: 53 weekly questions) and the
/// operator page. Prints the times; asserts only the totals.
/// `cargo test --release -p plaza-tests --test competitor_analysis -- --ignored --nocapture`
#[test]
#[ignore]
fn bench_report_over_50_peers_and_a_year() {
    let w = world(json!({}), None, &[]);
    let inst = w.server.install(
        ACCOUNT,
        json!({ "plugin": "analytics", "grants": ["events.read", "followers.read", "storage", "http.routes"] }),
    );
    assert_eq!(inst.status, 201, "{inst:?}");
    let titles = [
        "春节年货采购指南",
        "咖啡拉花教程，新手必看",
        "早餐吃什么：十款营养搭配",
        "周末露营装备清单",
        "Coffee brewing at home",
    ];
    let days: Vec<String> = (0..365).map(|i| date(w.offset, i)).collect();
    let started = std::time::Instant::now();
    for p in 0..50 {
        let id = format!("peer{p:02}");
        add_peer(
            &w,
            json!({ "id": id, "name": format!("对手 {p}"), "category": "美食" }),
        );
        let mut csv = String::from("date,title,reads,likes,shares\n");
        for (i, d) in days.iter().enumerate() {
            csv.push_str(&format!(
                "{d},\"{} 第{i}期\",{},{},{}\n",
                titles[i % titles.len()],
                100 + i,
                i % 10,
                i % 5
            ));
        }
        let (status, stored) = upload(&w, &format!("/api/peers/{id}/metrics"), "text/csv", &csv);
        assert_eq!(
            (status, stored["stored"].as_u64()),
            (200, Some(365)),
            "{stored}"
        );
    }
    let upload_time = started.elapsed();
    let from = &days[364];
    let to = &days[0];
    let mut report_times = Vec::new();
    let mut report = Value::Null;
    for _ in 0..3 {
        let t = std::time::Instant::now();
        let (status, r) = op(&w, "GET", &format!("/api/report?from={from}&to={to}"), None);
        report_times.push(t.elapsed());
        assert_eq!(status, 200, "{r}");
        report = r;
    }
    assert_eq!(report["peers"].as_array().map(Vec::len), Some(50));
    assert_eq!(peer_col(&report, "peer07")["posts"], 365);
    assert_eq!(report["own"]["available"], true, "{}", report["own"]);
    let t = std::time::Instant::now();
    let page = request(
        &w.server,
        "GET",
        &format!("{BASE}/?from={from}&to={to}"),
        &[ADMIN],
        b"",
    );
    let page_time = t.elapsed();
    assert_eq!(page.status, 200);
    println!(
        "BENCH uploads: 50 × 365 rows in {upload_time:?} ({:?} per peer CSV); report over 366 days: {report_times:?}; page: {page_time:?}",
        upload_time / 50
    );
}
